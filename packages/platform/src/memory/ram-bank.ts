/** A bank of RAM at a physical base address (a `memblock` memory region). */
export interface RamBank {
  readonly name: string;
  /** Physical base address, page aligned. */
  readonly base: number;
  /** Size in bytes, a multiple of the page size. */
  readonly size: number;
}
