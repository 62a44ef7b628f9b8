/**
 * Plain-text report helpers: aligned columns and human sizes, so a reader can scan a table of
 * devices, domains and addresses without counting digits.
 */

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** A byte count as the kernel log would print it: `4 KiB`, `2 MiB`, `1.5 GiB`. */
export const size = (bytes: number): string => {
  if (bytes >= GiB) return `${+(bytes / GiB).toFixed(2)} GiB`;
  if (bytes >= MiB) return `${+(bytes / MiB).toFixed(2)} MiB`;
  if (bytes >= KiB) return `${+(bytes / KiB).toFixed(2)} KiB`;
  return `${bytes} B`;
};

/** A section heading, underlined, preceded by a blank line. */
export const section = (title: string): string[] => ['', title, '-'.repeat(title.length)];

/** Rows under a header, each column padded to its widest cell and indented by two spaces. */
export const table = (header: readonly string[], rows: readonly (readonly string[])[]): string[] => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `  ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}`.trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
};
