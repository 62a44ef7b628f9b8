import type { DmaDebugDevice } from './device.js';
import type { EntryRef, PhysPiece, TrackedEntry } from './entry.js';
import { IntervalIndex } from './interval-index.js';

/** `HASH_FN_SHIFT`: the kernel hashes entries by device address in 8 KiB windows. */
const HASH_WINDOW = 2 ** 13;
/** `HASH_SIZE`: number of hash buckets; windows 2^27 bytes apart share a bucket. */
const HASH_SIZE = 16384;

/** `hash_fn()`: the bucket of a device address. */
const hashBucket = (devAddr: number): number => Math.floor(devAddr / HASH_WINDOW) % HASH_SIZE;

/** How a hook matches its reference against entries. */
const enum Match {
  /** `exact_match()`: same device address (unmap, mapping_error). */
  Exact,
  /** `containing_match()`: the entry covers the whole reference range (sync). */
  Containing,
  /** The model's own: the entry covers the reference's first byte (a sync running past the end). */
  FirstByte,
}

const matches = (mode: Match, e: TrackedEntry, ref: EntryRef): boolean => {
  if (mode === Match.Exact) return e.start === ref.devAddr;
  if (e.start > ref.devAddr) return false;
  return mode === Match.Containing ? e.end >= ref.devAddr + ref.size : ref.devAddr < e.end;
};

/** How well an entry fits a reference, 0..4, as the `match_lvl` of `__hash_bucket_find()`. */
const matchLevel = (e: TrackedEntry, ref: EntryRef): number =>
  (e.size === ref.size ? 1 : 0) +
  (e.type === ref.type ? 1 : 0) +
  (e.direction === ref.direction ? 1 : 0) +
  (e.sgCallEnts === ref.sgCallEnts ? 1 : 0);

/** How many buckets `bucket_find_contain()` walks back from the reference's bucket to the entry's. */
const bucketDistance = (e: TrackedEntry, ref: EntryRef): number =>
  (((hashBucket(ref.devAddr) - hashBucket(e.devAddr)) % HASH_SIZE) + HASH_SIZE) % HASH_SIZE;

/**
 * The live mappings (`dma_entry_hash`), indexed per device by device address for the hooks, and
 * globally by physical address for CPU-access checks. Lookups follow the kernel's best-fit rule.
 */
export class EntryTable {
  private readonly byDevice = new Map<DmaDebugDevice, IntervalIndex<TrackedEntry>>();
  /** Every ownership-tracked mapping's physical pieces, all devices together. */
  readonly byPhys = new IntervalIndex<PhysPiece>();
  private live = 0;
  private nextSeq = 0;

  /** Number of live entries. */
  get count(): number {
    return this.live;
  }

  /** The sequence number for the next entry. */
  takeSeq(): number {
    return this.nextSeq++;
  }

  /** The device's index, or undefined when it never mapped anything. */
  deviceIndex(dev: DmaDebugDevice): IntervalIndex<TrackedEntry> | undefined {
    return this.byDevice.get(dev);
  }

  /** Adds an entry (`hash_bucket_add()`). */
  add(e: TrackedEntry): void {
    let index = this.byDevice.get(e.dev);
    if (index === undefined) {
      index = new IntervalIndex<TrackedEntry>();
      this.byDevice.set(e.dev, index);
    }
    index.insert(e);
    for (const p of e.pieces) this.byPhys.insert(p);
    this.live += 1;
  }

  /** Removes an entry (`hash_bucket_del()`). */
  remove(e: TrackedEntry): void {
    this.byDevice.get(e.dev)?.remove(e);
    for (const p of e.pieces) this.byPhys.remove(p);
    this.live -= 1;
  }

  /** `bucket_find_exact()`: the entry at the reference's device address that fits it best. */
  findExact(ref: EntryRef): TrackedEntry | undefined {
    return this.find(Match.Exact, ref);
  }

  /**
   * `bucket_find_contain()`: the best-fitting entry covering the reference range. Like the kernel,
   * candidates are taken bucket by bucket walking back from the reference's bucket, and the first
   * bucket yielding a perfect fit or a single candidate wins.
   */
  findContaining(ref: EntryRef): TrackedEntry | undefined {
    return this.find(Match.Containing, ref);
  }

  /** The best-fitting entry covering the reference's first byte, by the same rule. */
  findCoveringStart(ref: EntryRef): TrackedEntry | undefined {
    return this.find(Match.FirstByte, ref);
  }

  /**
   * The entry `debug_dma_mapping_error()` marks: the first one mapped at that address (bucket list
   * order) whose error check is still pending.
   */
  firstUnchecked(dev: DmaDebugDevice, devAddr: number): TrackedEntry | undefined {
    const index = this.byDevice.get(dev);
    if (index === undefined) return undefined;
    for (let i = index.lowerBound(devAddr); i < index.size; i++) {
      const e = index.at(i);
      if (e.start !== devAddr) break;
      if (e.mapErrType === 'MAP_ERR_NOT_CHECKED') return e;
    }
    return undefined;
  }

  /** Every live entry of one device, or of all devices, in the kernel's hash-walk order. */
  entries(dev?: DmaDebugDevice): TrackedEntry[] {
    const out: TrackedEntry[] = [];
    for (const [d, index] of this.byDevice) {
      if (dev !== undefined && d !== dev) continue;
      for (let i = 0; i < index.size; i++) out.push(index.at(i));
    }
    return out.sort((a, b) => hashBucket(a.devAddr) - hashBucket(b.devAddr) || a.seq - b.seq);
  }

  /**
   * `__hash_bucket_find()` over the candidates of one bucket at a time: a perfect fit (size, type,
   * direction and sg count all equal) wins at once; otherwise a bucket with exactly one candidate
   * yields it, and one with several yields nothing.
   */
  private find(mode: Match, ref: EntryRef): TrackedEntry | undefined {
    const index = this.byDevice.get(ref.dev);
    if (index === undefined) return undefined;
    const from = mode === Match.Exact ? index.lowerBound(ref.devAddr) : index.scanFrom(ref.devAddr);
    let done = -1;
    for (;;) {
      let bucket = HASH_SIZE;
      for (let i = from; i < index.size && index.at(i).start <= ref.devAddr; i++) {
        const e = index.at(i);
        if (!matches(mode, e, ref)) continue;
        const k = bucketDistance(e, ref);
        if (k > done && k < bucket) bucket = k;
      }
      if (bucket === HASH_SIZE) return undefined;
      const found = this.bestFit(mode, ref, index, from, bucket);
      if (found !== undefined) return found;
      done = bucket;
    }
  }

  private bestFit(
    mode: Match,
    ref: EntryRef,
    index: IntervalIndex<TrackedEntry>,
    from: number,
    bucket: number,
  ): TrackedEntry | undefined {
    let found: TrackedEntry | undefined;
    let count = 0;
    let best = -1;
    for (let i = from; i < index.size && index.at(i).start <= ref.devAddr; i++) {
      const e = index.at(i);
      if (!matches(mode, e, ref) || bucketDistance(e, ref) !== bucket) continue;
      count += 1;
      const level = matchLevel(e, ref);
      if (level === 4) return e;
      if (level > best) {
        best = level;
        found = e;
      }
    }
    return count === 1 ? found : undefined;
  }
}
