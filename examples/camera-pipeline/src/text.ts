import { GiB, KiB, MiB } from '@sharedbuf/dma-buf';
import { hex } from '@sharedbuf/platform';

/**
 * Rows as aligned columns, two spaces apart, each line indented by `indent`. The last column is not
 * padded, so long sentences there do not widen the table.
 */
export const table = (
  header: readonly string[],
  rows: readonly (readonly string[])[],
  indent = '  ',
): string[] => {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]) =>
    indent +
    r
      .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return all.map(line);
};

/** Breaks `text` into lines of at most `width` characters (words kept whole), each prefixed by `indent`. */
export const wrap = (text: string, indent: string, width = 104): string[] => {
  const lines: string[] = [];
  let cur = '';
  for (const word of text.split(' ')) {
    if (cur.length > 0 && indent.length + cur.length + 1 + word.length > width) {
      lines.push(indent + cur);
      cur = word;
    } else cur = cur.length > 0 ? `${cur} ${word}` : word;
  }
  if (cur.length > 0) lines.push(indent + cur);
  return lines;
};

/** A heading and its underline. */
export const heading = (title: string, rule = '='): string[] => [title, rule.repeat(title.length)];

const UNITS: readonly [number, string][] = [
  [GiB, 'GiB'],
  [MiB, 'MiB'],
  [KiB, 'KiB'],
];

/** A size in the largest binary unit it reaches: exact when it divides (`300 KiB`), else one decimal (`11.9 MiB`). */
export const size = (n: number): string => {
  const [unit, name] = UNITS.find(([u]) => n >= u) ?? [1, 'bytes'];
  return n % unit === 0 ? `${n / unit} ${name}` : `${(n / unit).toFixed(1)} ${name}`;
};

/** A hardware limit: a round size (`64 KiB`) when it is one, else the register value in hex. */
export const limitSize = (n: number): string => {
  const round = UNITS.find(([u]) => n >= u && n % u === 0 && n / u < 1024);
  return round ? `${n / round[0]} ${round[1]}` : hex(n);
};

/** An address range by its first and last byte. */
export const range = (first: number, last: number): string => `${hex(first)}–${hex(last)}`;

/** Simulated nanoseconds as milliseconds with three decimals. */
export const msec = (ns: number): string => (ns / 1_000_000).toFixed(3);

/** A list of names as prose: `a`, `a and b`, `a, b and c`. */
export const names = (list: readonly string[]): string =>
  list.length <= 1 ? (list[0] ?? '') : `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}`;
