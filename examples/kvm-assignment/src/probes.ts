import type { SharedBufSystem } from '@sharedbuf/dma-buf';
import { type Device, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { type GuestRam, gpaToHpa } from './guest.js';

/** A DMA the guest's driver programs: a device reads or writes text at a guest-physical address. */
export interface ProbeSpec {
  readonly device: Device;
  readonly gpa: number;
  readonly access: 'read' | 'write';
  readonly text: string;
}

/** What one DMA did. */
export interface ProbeResult {
  readonly device: string;
  readonly gpa: number;
  readonly access: 'read' | 'write';
  /** The host page the GPA lies in, null outside guest RAM. */
  readonly hpa: number | null;
  /** The device's DMA: `ok` or `fault: <errno>` with the IOMMU's reason. */
  readonly dma: string;
  /** True when the bytes went between the device and the right host page. */
  readonly reachedHostPage: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Runs the guest's DMAs in three phases, so a caller can hand the memory to the devices in between
 * (the DMA API's ownership rule): `prepare` — the guest CPU stores what devices will read;
 * `access` — the devices do their DMA at guest-physical addresses; `verify` — the guest CPU checks
 * what devices wrote and what they read.
 */
export class GuestDma {
  private readonly seen = new Map<ProbeSpec, { dma: string; readBack: string }>();

  constructor(
    private readonly system: SharedBufSystem,
    private readonly guest: GuestRam,
    private readonly specs: readonly ProbeSpec[],
  ) {}

  /** The guest CPU stores the text of every read probe (guest memory is host memory). */
  prepare(): void {
    for (const s of this.specs) {
      const hpa = gpaToHpa(this.guest, s.gpa);
      if (s.access === 'read' && hpa !== undefined) this.cpuWrite(hpa, s.text);
    }
  }

  /** Every device does its DMA at the guest-physical address. */
  access(): void {
    for (const s of this.specs) {
      const bytes = encoder.encode(s.text);
      const buf = new Uint8Array(bytes.length);
      const faults = this.system.iommu.faults.length;
      const r =
        s.access === 'write'
          ? s.device.dmaWrite(s.gpa, bytes, 0, bytes.length)
          : s.device.dmaRead(s.gpa, buf, 0, buf.length);
      const reason = this.system.iommu.faults[faults]?.reason;
      const dma = E.isRight(r) ? 'ok' : `fault: ${r.left.code}${reason ? ` (${reason})` : ''}`;
      this.seen.set(s, { dma, readBack: decoder.decode(buf) });
    }
  }

  /** The guest CPU checks every probe against its host page. */
  verify(): ProbeResult[] {
    return this.specs.map((s) => {
      const hpa = gpaToHpa(this.guest, s.gpa);
      const { dma, readBack } = this.seen.get(s) ?? { dma: 'not run', readBack: '' };
      const landed =
        s.access === 'write' ? (hpa === undefined ? '' : this.cpuRead(hpa, s.text.length)) : readBack;
      return {
        device: s.device.name,
        gpa: s.gpa,
        access: s.access,
        hpa: hpa ?? null,
        dma,
        reachedHostPage: dma === 'ok' && landed === s.text,
      };
    });
  }

  private cpuWrite(phys: number, text: string): void {
    const bytes = encoder.encode(text);
    unwrap(this.system.platform.cpu.write(phys, bytes, 0, bytes.length));
  }

  private cpuRead(phys: number, length: number): string {
    const buf = new Uint8Array(length);
    unwrap(this.system.platform.cpu.read(phys, buf, 0, length));
    return decoder.decode(buf);
  }
}
