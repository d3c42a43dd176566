/**
 * Plain-text tables for the CLI and notebooks (fixed-width columns).
 */

/** A cell: numbers are formatted with `digits` decimals, NaN as 'n/a'. */
export type Cell = string | number | null | undefined;

/** Options of {@link formatTable}. */
export interface TableOptions {
  /** Decimals for numbers that are not integers (default 3). */
  digits?: number;
  /** Right-align numeric columns (default true). */
  alignNumbers?: boolean;
}

function fmt(c: Cell, digits: number, integerColumn: boolean): string {
  if (c === null || c === undefined) return '';
  if (typeof c === 'number') {
    if (Number.isNaN(c)) return 'n/a';
    if (integerColumn) return String(c);
    return c.toFixed(digits);
  }
  return c;
}

/** Render `rows` (first row = header) as an aligned text table. */
export function formatTable(header: readonly string[], rows: readonly (readonly Cell[])[], options: TableOptions = {}): string {
  const digits = options.digits ?? 3;
  // A column whose numbers are all integers prints them plainly; otherwise every number gets `digits` decimals.
  const integerColumn = header.map(
    (_, j) =>
      rows.every((r) => typeof r[j] !== 'number' || Number.isInteger(r[j]) || Number.isNaN(r[j] as number)) &&
      rows.some((r) => typeof r[j] === 'number' && Math.abs(r[j] as number) > 1),
  );
  const body = rows.map((r) => r.map((c, j) => fmt(c, digits, integerColumn[j])));
  const numeric = header.map((_, j) => rows.length > 0 && rows.every((r) => typeof r[j] === 'number' || r[j] == null));
  const widths = header.map((h, j) => Math.max(h.length, ...body.map((r) => (r[j] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, j) => (numeric[j] && options.alignNumbers !== false ? c.padStart(widths[j]) : c.padEnd(widths[j])))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** Format a byte count as B / KiB / MiB / GiB. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** Format seconds as e.g. '1m05s' or '12.3s'. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
}
