import { Carveout } from '../alloc/carveout.js';
import { ContiguousAllocator } from '../alloc/contiguous-allocator.js';
import type { MemoryEvents } from '../alloc/memory-events.js';
import { PageAllocator } from '../alloc/page-allocator.js';
import type { CacheEvents } from '../cache/cache-events.js';
import { Cpu } from '../cache/cpu.js';
import { CpuCache } from '../cache/cpu-cache.js';
import { SimClock } from '../core/clock.js';
import { EventBus } from '../core/event-bus.js';
import { unwrap } from '../core/kernel-error.js';
import { Rng } from '../core/rng.js';
import { TraceRecorder } from '../core/trace-recorder.js';
import type { DeviceEvents } from '../device/device-events.js';
import { DeviceRegistry } from '../device/device-registry.js';
import { PhysicalMemory } from '../memory/physical-memory.js';
import type { MmEvents } from '../mm/mm-events.js';
import type { MmPageSource } from '../mm/page-source.js';
import { ProcessTable } from '../mm/process.js';
import { DEFAULT_MACHINE, type DmaSyncArch, type MachineConfig } from './machine-config.js';

/** The event buses of a machine, one per component. */
export interface PlatformBuses {
  readonly memory: EventBus<MemoryEvents>;
  readonly cache: EventBus<CacheEvents>;
  readonly device: EventBus<DeviceEvents>;
  readonly mm: EventBus<MmEvents>;
}

/**
 * The simulated machine every layer stands on: physical memory and its allocators, the CPU cache
 * and load/store path, devices, processes, the simulated clock and the seeded generator — wired
 * together from a {@link MachineConfig}.
 */
export class Platform {
  readonly config: MachineConfig;
  readonly clock = new SimClock();
  readonly rng: Rng;
  readonly buses: PlatformBuses;
  readonly memory: PhysicalMemory;
  /** The buddy allocator over all RAM except CMA regions and carveouts. */
  readonly pages: PageAllocator;
  /** CMA regions by name. */
  readonly cma: ReadonlyMap<string, ContiguousAllocator>;
  /** Carveouts by name. */
  readonly carveouts: ReadonlyMap<string, Carveout>;
  readonly cache: CpuCache;
  readonly cpu: Cpu;
  readonly devices: DeviceRegistry;
  readonly processes: ProcessTable;

  /** @throws RangeError for an inconsistent machine description (overlapping banks, regions off RAM). */
  constructor(config: Partial<MachineConfig> = {}) {
    this.config = { ...DEFAULT_MACHINE, ...config };
    const c = this.config;
    this.rng = new Rng(c.seed);
    this.buses = {
      memory: new EventBus<MemoryEvents>('memory'),
      cache: new EventBus<CacheEvents>('cache'),
      device: new EventBus<DeviceEvents>('device'),
      mm: new EventBus<MmEvents>('mm'),
    };
    this.memory = new PhysicalMemory(c.banks);
    this.cache = new CpuCache(this.memory, this.buses.cache, this.rng, c.cache);
    this.cpu = new Cpu(this.cache);
    this.pages = new PageAllocator(this.memory, this.buses.memory, {
      exclude: [...c.cma, ...c.carveouts],
      clear: (addr, length) => this.clearPages(addr, length),
    });
    const pages = this.pages.pages;
    this.cma = new Map(c.cma.map((r) => [r.name, new ContiguousAllocator(r, this.buses.memory, { pages })]));
    this.carveouts = new Map(c.carveouts.map((r) => [r.name, new Carveout(r, this.buses.memory)]));
    this.devices = new DeviceRegistry(this.memory, this.cache, this.buses.device);
    this.processes = new ProcessTable({
      pages: this.userPageSource(),
      cpu: this.cpu,
      bus: this.buses.mm,
      layout: c.mmLayout,
    });
  }

  /** The streaming-DMA cache policy of the CPU. */
  get arch(): DmaSyncArch {
    return this.config.arch;
  }

  /** The default CMA region (the first one configured), if any. */
  get defaultCma(): ContiguousAllocator | undefined {
    return this.cma.values().next().value;
  }

  /** A recorder already listening to every bus of the machine; add higher layers' buses to it. */
  recorder(): TraceRecorder {
    const r = new TraceRecorder(this.clock);
    r.record(this.buses.memory).record(this.buses.cache).record(this.buses.device).record(this.buses.mm);
    return r;
  }

  /**
   * `clear_page` through the cache: zeroes `[addr, addr + length)` and drops the cached lines the
   * memory's last user left, which must neither be read back nor written back over the zeros. Every
   * path that hands out zeroed memory (the page allocator's `zeroed`, heaps, DMA allocations) uses it.
   * @throws on a range that is not RAM (callers only clear memory they just allocated).
   */
  clearPages(addr: number, length: number): void {
    unwrap(this.memory.fill(addr, 0, length));
    unwrap(this.cache.discard(addr, length));
  }

  /** Pages for user memory: zeroed order-0 pages, with their references and pins. */
  private userPageSource(): MmPageSource {
    return {
      allocPage: () => this.pages.allocPages(0, { zeroed: true }),
      putPage: (pfn) => this.pages.pages.putPage(pfn),
      pin: (pfn) => this.pages.pages.pin(pfn),
      unpin: (pfn) => this.pages.pages.unpin(pfn),
    };
  }
}
