/** Text helpers for the report: sizes, times and aligned tables. */

/** `4 KiB`, `1.5 MiB`, `64 B`. */
export const size = (bytes: number): string => {
  if (bytes >= 1024 * 1024) return `${trim(bytes / (1024 * 1024))} MiB`;
  if (bytes >= 1024) return `${trim(bytes / 1024)} KiB`;
  return `${bytes} B`;
};

/** Simulated nanoseconds as `850 ns`, `23.3 µs`, `1.20 ms`. */
export const time = (ns: number): string => {
  if (ns >= 1_000_000) return `${(ns / 1_000_000).toFixed(2)} ms`;
  if (ns >= 1_000) return `${(ns / 1_000).toFixed(1)} µs`;
  return `${ns} ns`;
};

/** A 32-bit value as 8 hex digits. */
export const word = (x: number): string => `0x${x.toString(16).padStart(8, '0')}`;

const trim = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(1));

/**
 * Rows under a header, each column as wide as its widest cell; columns listed in `right` are
 * right-aligned (numbers). Every line starts with `indent`.
 */
export const table = (
  header: readonly string[],
  rows: readonly (readonly string[])[],
  right: readonly number[] = [],
  indent = '  ',
): string[] => {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    indent +
    cells
      .map((cell, c) => (right.includes(c) ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
};
