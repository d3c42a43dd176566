/**
 * Plain-JSON plotly figure specs. The builders in this folder return these
 * objects and never import plotly: the browser-side plotly.js bundle is only
 * needed when a figure is rendered ({@link show}, {@link figureHtml}).
 */

/** One plotly trace, e.g. `{ type: 'scatter', x, y, name }` (plain JSON). */
export type PlotlyTrace = Record<string, unknown>;

/** A plotly layout object (plain JSON). */
export type PlotlyLayout = Record<string, unknown>;

/** A plotly figure: what `Plotly.newPlot(div, data, layout)` takes. */
export interface PlotlyFigure {
  data: PlotlyTrace[];
  layout: PlotlyLayout;
  /** Optional plotly config (e.g. `{ responsive: true }`). */
  config?: Record<string, unknown>;
}

/**
 * Something table-shaped that the display helpers and bar charts accept: a
 * danfojs DataFrame (anything with `columns` and a 2-D `values`; `index`
 * optional) or an array of row objects.
 */
export type TableInput = DataFrameLike | readonly Record<string, unknown>[];

/** The part of a danfojs(-node) DataFrame the viz helpers read. */
export interface DataFrameLike {
  columns: readonly string[];
  values: readonly unknown[];
  index?: readonly (string | number)[];
}

/** Common title options of the figure builders. */
export interface AxisTitles {
  /** Figure title. Default none. */
  title?: string;
  /** x-axis title. */
  xTitle?: string;
  /** y-axis title. */
  yTitle?: string;
  /** Figure height in pixels (default: plotly's, 450). */
  height?: number;
}

/** Plotly's `{ text }` title object (plotly.js >= 3 accepts only this form). */
export function titleObject(text: string | undefined): { text: string } | undefined {
  return text === undefined ? undefined : { text };
}

/** Drop `undefined` values so specs stay clean JSON (and test-comparable). */
export function compact<T extends Record<string, unknown>>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

/** True for a danfojs-like DataFrame. */
export function isDataFrameLike(t: unknown): t is DataFrameLike {
  return (
    typeof t === 'object' &&
    t !== null &&
    !Array.isArray(t) &&
    Array.isArray((t as DataFrameLike).columns) &&
    Array.isArray((t as DataFrameLike).values)
  );
}

/**
 * Rows of a {@link TableInput} as plain objects keyed by column, plus the
 * column order (first-seen order of keys for row arrays). A DataFrame's
 * `index` is not included (use a column for anything you want to plot).
 */
export function tableRows(table: TableInput): { columns: string[]; rows: Record<string, unknown>[] } {
  if (isDataFrameLike(table)) {
    const columns = [...table.columns];
    const values = table.values as unknown[];
    // A one-column frame may come back as a flat array from some danfo builds.
    const rows = values.map((v) => {
      const cells = Array.isArray(v) ? v : [v];
      const r: Record<string, unknown> = {};
      columns.forEach((c, j) => (r[c] = cells[j]));
      return r;
    });
    return { columns, rows };
  }
  if (!Array.isArray(table)) throw new TypeError('expected a danfojs DataFrame or an array of row objects');
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const r of table) {
    if (typeof r !== 'object' || r === null) throw new TypeError(`expected row objects, got ${r === null ? 'null' : typeof r}`);
    for (const k of Object.keys(r)) if (!seen.has(k)) (seen.add(k), columns.push(k));
  }
  return { columns, rows: table.map((r) => ({ ...r })) };
}

/** A number for plotting: finite numbers pass, NaN/±Infinity/null/undefined become null (a gap). */
export function plotNumber(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'bigint') return Number(v);
  return null;
}
