/**
 * Bar charts of metric tables in long ("tidy") format: one row per
 * (category, group) with a value column, e.g. `{ site, strategy, dice }`.
 * {@link groupedBarChart} puts groups side by side (Dice per site per
 * strategy), {@link stackedBarChart} stacks them (class counts per site).
 */
import { compact, plotNumber, tableRows, titleObject, type AxisTitles, type PlotlyFigure, type PlotlyTrace, type TableInput } from './types';

/** Options of {@link barChart}. */
export interface BarChartOptions extends AxisTitles {
  /** Column of the categories along the axis (e.g. 'site'). */
  x: string;
  /** Column of the bar heights (e.g. 'dice'). */
  y: string;
  /** Column whose values make one trace each (e.g. 'strategy'). Default: a single trace named after `y`. */
  group?: string;
  /** Column of symmetric error bars (e.g. a standard deviation). Default none. */
  error?: string;
  /** 'group' (side by side, default) or 'stack'. */
  mode?: 'group' | 'stack';
  /** Stack mode only: divide each category's values by their sum (shares in [0, 1]). Default false. */
  normalize?: boolean;
  /** Fixed value-axis range. */
  yRange?: readonly [number, number];
  /** Print each bar's value on it with this many decimals. Default: no labels. */
  labelDigits?: number;
  /** 'v' (vertical bars, default) or 'h' (horizontal: categories on the y axis). */
  orientation?: 'v' | 'h';
}

function label(v: unknown): string {
  return v === undefined || v === null ? '' : String(v);
}

/**
 * A bar chart from long-format rows. Category and group orders are the
 * first-seen orders in the table. A missing (category, group) cell is a
 * gap (null); a repeated one is an error naming both values (aggregate first).
 */
export function barChart(table: TableInput, options: BarChartOptions): PlotlyFigure {
  const { columns, rows } = tableRows(table);
  for (const key of [options.x, options.y, options.group, options.error]) {
    if (key !== undefined && !columns.includes(key)) {
      throw new Error(`barChart: no column '${key}' (columns: ${columns.join(', ')})`);
    }
  }
  const cats: string[] = [];
  const groups: string[] = [];
  const cell = new Map<string, { y: number | null; e: number | null }>();
  for (const r of rows) {
    const c = label(r[options.x]);
    const g = options.group === undefined ? options.y : label(r[options.group]);
    if (!cats.includes(c)) cats.push(c);
    if (!groups.includes(g)) groups.push(g);
    const key = JSON.stringify([c, g]);
    if (cell.has(key)) {
      throw new Error(`barChart: more than one row for ${options.x} '${c}'${options.group ? ` and ${options.group} '${g}'` : ''}; aggregate the table first`);
    }
    cell.set(key, { y: plotNumber(r[options.y]), e: options.error === undefined ? null : plotNumber(r[options.error]) });
  }
  const mode = options.mode ?? 'group';
  const totals = cats.map((c) => groups.reduce((s, g) => s + (cell.get(JSON.stringify([c, g]))?.y ?? 0), 0));
  const horizontal = options.orientation === 'h';
  const data: PlotlyTrace[] = groups.map((g) => {
    let values = cats.map((c) => cell.get(JSON.stringify([c, g]))?.y ?? null);
    let errors = cats.map((c) => cell.get(JSON.stringify([c, g]))?.e ?? null);
    if (mode === 'stack' && options.normalize) {
      values = values.map((v, i) => (v === null ? null : totals[i] > 0 ? v / totals[i] : 0));
      errors = errors.map((e, i) => (e === null ? null : totals[i] > 0 ? e / totals[i] : 0));
    }
    const err = options.error === undefined ? undefined : { type: 'data', array: errors, visible: true };
    return compact({
      type: 'bar',
      name: g,
      orientation: horizontal ? 'h' : undefined,
      x: horizontal ? values : cats,
      y: horizontal ? cats : values,
      error_y: horizontal ? undefined : err,
      error_x: horizontal ? err : undefined,
      text: options.labelDigits === undefined ? undefined : values.map((v) => (v === null ? '' : v.toFixed(options.labelDigits))),
      textposition: options.labelDigits === undefined ? undefined : mode === 'stack' ? 'inside' : 'outside',
    });
  });
  const valueAxis = compact({
    title: titleObject(options.yTitle ?? (mode === 'stack' && options.normalize ? `share of ${options.y}` : options.y)),
    range: options.yRange ? [...options.yRange] : mode === 'stack' && options.normalize ? [0, 1] : undefined,
  });
  const catAxis = compact({ title: titleObject(options.xTitle ?? options.x), type: 'category' });
  return {
    data,
    layout: compact({
      title: titleObject(options.title),
      height: options.height,
      barmode: mode,
      xaxis: horizontal ? valueAxis : catAxis,
      yaxis: horizontal ? catAxis : valueAxis,
      legend: options.group === undefined ? undefined : { title: { text: options.group } },
      showlegend: options.group !== undefined,
    }),
  };
}

/** Side-by-side bars per category, one colour per group (e.g. Dice per site per strategy). */
export function groupedBarChart(table: TableInput, options: Omit<BarChartOptions, 'mode' | 'normalize'>): PlotlyFigure {
  return barChart(table, { ...options, mode: 'group' });
}

/** Stacked bars per category; `normalize: true` stacks shares (e.g. class mix per site). */
export function stackedBarChart(table: TableInput, options: Omit<BarChartOptions, 'mode'>): PlotlyFigure {
  return barChart(table, { ...options, mode: 'stack' });
}

/**
 * A matrix as long-format rows for the bar charts: `matrix[i][j]` becomes
 * `{ [keys.row]: rowLabels[i], [keys.column]: columnLabels[j], [keys.value]: matrix[i][j] }`.
 * Defaults: keys `row`, `column`, `value`.
 */
export function matrixRows(
  matrix: readonly (readonly (number | null)[])[],
  rowLabels: readonly (string | number)[],
  columnLabels: readonly (string | number)[],
  keys: { row?: string; column?: string; value?: string } = {},
): Record<string, string | number | null>[] {
  if (matrix.length !== rowLabels.length) throw new RangeError(`matrixRows: ${matrix.length} rows but ${rowLabels.length} row labels`);
  const rk = keys.row ?? 'row';
  const ck = keys.column ?? 'column';
  const vk = keys.value ?? 'value';
  const out: Record<string, string | number | null>[] = [];
  matrix.forEach((r, i) => {
    if (r.length !== columnLabels.length) throw new RangeError(`matrixRows: row ${i} has ${r.length} values but there are ${columnLabels.length} column labels`);
    r.forEach((v, j) => out.push({ [rk]: rowLabels[i], [ck]: columnLabels[j], [vk]: v }));
  });
  return out;
}
