/** A physical address range `[base, base + size)`, in bytes. */
export interface PhysRange {
  readonly base: number;
  readonly size: number;
}

/**
 * A named range of RAM set aside at boot (a child of the device tree's `/reserved-memory` node): a CMA
 * region or a carveout. The page allocator never hands out its pages.
 */
export interface ReservedRegion extends PhysRange {
  readonly name: string;
}
