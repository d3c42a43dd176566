/**
 * Line charts of training curves: generic {@link lineChart}, per-epoch loss
 * ({@link trainingCurves}, from `trainSegmentation`'s EpochLog) and per-round
 * federated curves ({@link roundCurves}, from `rounds.jsonl` RoundRecords).
 */
import type { EpochLog } from '../train';
import type { RoundRecord } from '../fl/types';
import { compact, plotNumber, titleObject, type AxisTitles, type PlotlyFigure, type PlotlyTrace } from './types';

/** One line. */
export interface LineSeries {
  name: string;
  /** x values; default 1, 2, ..., y.length. */
  x?: readonly (number | string)[];
  /** y values; NaN / null / undefined leave a gap. */
  y: readonly (number | null | undefined)[];
  /** Line dash (default 'solid'). */
  dash?: 'solid' | 'dash' | 'dot' | 'dashdot';
  /** Legend group (lines of one group toggle together). */
  group?: string;
}

/** Options of {@link lineChart}. */
export interface LineChartOptions extends AxisTitles {
  /** Fixed y range, e.g. `[0, 1]` for Dice. Default autorange. */
  yRange?: readonly [number, number];
  /** Log-scaled y axis (losses). Default false. */
  logY?: boolean;
  /** Draw point markers as well as lines. Default true. */
  markers?: boolean;
}

/**
 * A line chart, one scatter trace per series (`mode: 'lines+markers'`).
 * Throws when a series' x and y lengths differ.
 */
export function lineChart(series: readonly LineSeries[], options: LineChartOptions = {}): PlotlyFigure {
  const data: PlotlyTrace[] = series.map((s) => {
    if (s.x !== undefined && s.x.length !== s.y.length) {
      throw new RangeError(`lineChart: series '${s.name}' has ${s.x.length} x values but ${s.y.length} y values`);
    }
    return compact({
      type: 'scatter',
      mode: options.markers === false ? 'lines' : 'lines+markers',
      name: s.name,
      x: s.x ? [...s.x] : s.y.map((_, i) => i + 1),
      y: s.y.map(plotNumber),
      line: s.dash && s.dash !== 'solid' ? { dash: s.dash } : undefined,
      legendgroup: s.group,
    });
  });
  return {
    data,
    layout: compact({
      title: titleObject(options.title),
      height: options.height,
      xaxis: compact({ title: titleObject(options.xTitle) }),
      yaxis: compact({
        title: titleObject(options.yTitle),
        range: options.yRange ? [...options.yRange] : undefined,
        type: options.logY ? 'log' : undefined,
      }),
      legend: { orientation: 'h' },
    }),
  };
}

/**
 * Training loss per epoch (x = epoch + 1) from `trainSegmentation` logs: one
 * line, or one per entry of a record (e.g. per site or per model).
 */
export function trainingCurves(
  logs: readonly EpochLog[] | Readonly<Record<string, readonly EpochLog[]>>,
  options: LineChartOptions = {},
): PlotlyFigure {
  const named: [string, readonly EpochLog[]][] = Array.isArray(logs)
    ? [['loss', logs as readonly EpochLog[]]]
    : Object.entries(logs as Record<string, readonly EpochLog[]>);
  return lineChart(
    named.map(([name, l]) => ({ name, x: l.map((e) => e.epoch + 1), y: l.map((e) => e.loss) })),
    { title: 'Training loss', xTitle: 'epoch', yTitle: 'loss', ...options },
  );
}

/** Score keys of a test summary that {@link roundCurves} can plot. */
export type RoundMetric = 'dice' | 'iou' | 'precision' | 'recall' | 'loss';

/** Options of {@link roundCurves}. */
export interface RoundCurvesOptions extends LineChartOptions {
  /** What to plot (default 'dice'). 'loss' = per-site mean training loss of the round. */
  metric?: RoundMetric;
  /** One line per site (default true for one run, false for several). */
  perSite?: boolean;
  /** The image-weighted mean over sites (`pooled`), dashed. Default true (not for 'loss': the mean over sites instead). */
  pooled?: boolean;
  /** The global test set score when recorded. Default true. */
  global?: boolean;
}

/**
 * Per-round curves of a federated run (x = round + 1, i.e. "after round k"):
 * per-site held-out scores, the pooled mean and the global test score, or the
 * per-site training loss. Rounds that were not evaluated leave gaps. Several
 * runs (a record of name -> records, e.g. per strategy) are drawn together
 * with the run name prefixed to each line.
 */
export function roundCurves(
  runs: readonly RoundRecord[] | Readonly<Record<string, readonly RoundRecord[]>>,
  options: RoundCurvesOptions = {},
): PlotlyFigure {
  const named: [string, readonly RoundRecord[]][] = Array.isArray(runs)
    ? [['', runs as readonly RoundRecord[]]]
    : Object.entries(runs as Record<string, readonly RoundRecord[]>);
  const metric = options.metric ?? 'dice';
  const perSite = options.perSite ?? named.length === 1;
  const series: LineSeries[] = [];
  for (const [run, records] of named) {
    const prefix = run === '' ? '' : `${run}: `;
    const x = records.map((r) => r.round + 1);
    const sites = [
      ...new Set(records.flatMap((r) => Object.keys(metric === 'loss' ? r.trainLoss : r.test ?? {}))),
    ].sort();
    if (perSite) {
      for (const s of sites) {
        series.push({
          name: `${prefix}${s}`,
          group: run || undefined,
          x,
          y: records.map((r) => (metric === 'loss' ? r.trainLoss[s] : r.test?.[s]?.[metric])),
        });
      }
    }
    if (options.pooled !== false) {
      if (metric === 'loss') {
        series.push({
          name: `${prefix}mean over sites`,
          group: run || undefined,
          dash: 'dash',
          x,
          y: records.map((r) => {
            const v = Object.values(r.trainLoss);
            return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
          }),
        });
      } else if (records.some((r) => r.pooled)) {
        series.push({ name: `${prefix}pooled`, group: run || undefined, dash: 'dash', x, y: records.map((r) => r.pooled?.[metric]) });
      }
    }
    if (metric !== 'loss' && options.global !== false && records.some((r) => r.global)) {
      series.push({ name: `${prefix}global test`, group: run || undefined, dash: 'dot', x, y: records.map((r) => r.global?.[metric]) });
    }
  }
  const label = metric === 'loss' ? 'training loss' : metric === 'iou' ? 'IoU' : metric === 'dice' ? 'Dice' : metric;
  return lineChart(series, {
    title: `${label} per round`,
    xTitle: 'round',
    yTitle: label,
    yRange: metric === 'loss' ? undefined : [0, 1],
    ...options,
  });
}
