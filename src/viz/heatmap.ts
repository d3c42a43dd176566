/**
 * Annotated heatmaps (e.g. Dice of each model on each site's test set,
 * class share per site, pairwise site divergences).
 */
import { compact, plotNumber, titleObject, type AxisTitles, type PlotlyFigure } from './types';

/** Options of {@link heatmap}. */
export interface HeatmapOptions extends AxisTitles {
  /** Column labels (x), one per column of z. Default 0, 1, ... */
  x?: readonly (string | number)[];
  /** Row labels (y), one per row of z. Default 0, 1, ... */
  y?: readonly (string | number)[];
  /** Colour range. Default: the data's range. */
  zmin?: number;
  zmax?: number;
  /** Plotly colorscale name or `[[0, colour], ..., [1, colour]]`. Default 'Viridis'. */
  colorscale?: string | readonly (readonly [number, string])[];
  /** Print each cell's value. Default true when there are at most 400 cells. */
  showValues?: boolean;
  /** Decimals of the printed values. Default 2. */
  digits?: number;
  /** Colour bar title. */
  colorbarTitle?: string;
  /** Draw row 0 at the top (matrix order). Default true. */
  rowsTopDown?: boolean;
}

/**
 * A heatmap of `z[row][column]`. Non-finite cells are gaps. Throws on ragged
 * rows or label counts that do not match the matrix.
 */
export function heatmap(z: readonly (readonly (number | null | undefined)[])[], options: HeatmapOptions = {}): PlotlyFigure {
  const nCols = z.length ? z[0].length : 0;
  z.forEach((r, i) => {
    if (r.length !== nCols) throw new RangeError(`heatmap: row ${i} has ${r.length} values, row 0 has ${nCols}`);
  });
  if (options.x && options.x.length !== nCols) throw new RangeError(`heatmap: ${options.x.length} x labels for ${nCols} columns`);
  if (options.y && options.y.length !== z.length) throw new RangeError(`heatmap: ${options.y.length} y labels for ${z.length} rows`);
  const values = z.map((r) => r.map(plotNumber));
  const digits = options.digits ?? 2;
  const showValues = options.showValues ?? z.length * nCols <= 400;
  // Labels are shown as categories (strings) so numeric labels do not become a continuous axis.
  const xs = (options.x ?? Array.from({ length: nCols }, (_, j) => j)).map(String);
  const ys = (options.y ?? z.map((_, i) => i)).map(String);
  return {
    data: [
      compact({
        type: 'heatmap',
        x: xs,
        y: ys,
        z: values,
        zmin: options.zmin,
        zmax: options.zmax,
        colorscale: options.colorscale ?? 'Viridis',
        colorbar: options.colorbarTitle === undefined ? undefined : { title: { text: options.colorbarTitle } },
        text: showValues ? values.map((r) => r.map((v) => (v === null ? '' : v.toFixed(digits)))) : undefined,
        texttemplate: showValues ? '%{text}' : undefined,
        hovertemplate: '%{y} / %{x}: %{z}<extra></extra>',
      }),
    ],
    layout: compact({
      title: titleObject(options.title),
      height: options.height,
      xaxis: compact({ title: titleObject(options.xTitle), type: 'category' }),
      yaxis: compact({ title: titleObject(options.yTitle), type: 'category', autorange: options.rowsTopDown === false ? undefined : 'reversed' }),
    }),
  };
}
