/** Entries per leaf table, as a PTE page holds 512 entries. */
const PTES_PER_TABLE = 512;
/** The slot after the entries that counts the leaf's present entries. */
const COUNT_SLOT = PTES_PER_TABLE;

/**
 * A process page table: virtual page number → page frame number. Leaf tables of 512 entries (one
 * PTE page, 2 MiB of VA) are created on first use and dropped when emptied, so the cost follows the
 * touched memory, not the 47-bit space. Entries hold pfn + 1 in a Float64Array (0 = not present;
 * frames may lie above 2^32), and lookups allocate nothing.
 */
export class UserPageTable {
  private readonly tables = new Map<number, Float64Array>();
  private present = 0;

  /** Number of present entries (the mm's RSS in pages). */
  get presentCount(): number {
    return this.present;
  }

  /** The pfn mapped at `vpn`, or -1 when no entry is present. */
  get(vpn: number): number {
    const table = this.tables.get(Math.floor(vpn / PTES_PER_TABLE));
    return table === undefined ? -1 : (table[vpn % PTES_PER_TABLE] as number) - 1;
  }

  /** Installs `pfn` at `vpn` (`set_pte_at`); the entry must not be present. */
  set(vpn: number, pfn: number): void {
    const key = Math.floor(vpn / PTES_PER_TABLE);
    let table = this.tables.get(key);
    if (table === undefined) {
      table = new Float64Array(PTES_PER_TABLE + 1);
      this.tables.set(key, table);
    }
    const i = vpn % PTES_PER_TABLE;
    if (table[i] !== 0) throw new Error(`page table: vpn ${vpn} is already mapped`);
    table[i] = pfn + 1;
    table[COUNT_SLOT] = (table[COUNT_SLOT] as number) + 1;
    this.present += 1;
  }

  /**
   * Clears every present entry in `[startVpn, endVpn)` (`zap_pte_range`), calling `onClear` with each
   * page's vpn and pfn after its entry is gone. Walks only the leaf tables that exist.
   */
  clearRange(startVpn: number, endVpn: number, onClear: (vpn: number, pfn: number) => void): void {
    const firstKey = Math.floor(startVpn / PTES_PER_TABLE);
    const lastKey = Math.floor((endVpn - 1) / PTES_PER_TABLE);
    if (lastKey - firstKey + 1 <= this.tables.size) {
      for (let key = firstKey; key <= lastKey; key++) this.clearInTable(key, startVpn, endVpn, onClear);
    } else {
      for (const key of [...this.tables.keys()]) {
        if (key >= firstKey && key <= lastKey) this.clearInTable(key, startVpn, endVpn, onClear);
      }
    }
  }

  private clearInTable(
    key: number,
    startVpn: number,
    endVpn: number,
    onClear: (vpn: number, pfn: number) => void,
  ): void {
    const table = this.tables.get(key);
    if (table === undefined) return;
    const base = key * PTES_PER_TABLE;
    const from = Math.max(startVpn, base) - base;
    const to = Math.min(endVpn, base + PTES_PER_TABLE) - base;
    for (let i = from; i < to; i++) {
      const entry = table[i] as number;
      if (entry === 0) continue;
      table[i] = 0;
      table[COUNT_SLOT] = (table[COUNT_SLOT] as number) - 1;
      this.present -= 1;
      onClear(base + i, entry - 1);
    }
    if (table[COUNT_SLOT] === 0) this.tables.delete(key);
  }
}
