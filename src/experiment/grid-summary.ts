/**
 * From the cells of a grid to findings: per group of seeds (same dataset,
 * model, budget and strategy) the mean and 95% Student-t interval of the
 * final pooled Dice and IoU over seeds; and paired comparisons on the same
 * seeds (hence, without `resplit`, the same splits): every pair of strategies
 * for one dataset / model / budget, and every pair of models for one
 * strategy. A comparison reports the mean difference, its 95% t interval, the
 * paired t-test p-value and a verdict; an interval that contains 0 is "no
 * difference shown". Failed cells are left out and counted, never averaged.
 */
import { formatInterval, pairedComparison, tInterval, type PairedComparisonResult, type TIntervalResult } from '../metrics/statistics';
import { formatTable } from '../util/table';
import type { ExperimentRow } from './runner';

/** One group of seeds. */
export interface GroupSummary {
  data: string;
  model: string;
  budget: string;
  strategy: string;
  /** Seeds with a valid result, in order (with k-fold, one entry per (seed, fold) run). */
  seeds: number[];
  /** Folds of those runs (all 0 without k-fold). */
  folds: number[];
  /** Seeds of the group's runs that failed (left out). */
  failedSeeds: number[];
  dice: TIntervalResult;
  iou: TIntervalResult;
  /** Mean bytes per round and seconds over the seeds. */
  bytesPerRound: number;
  seconds: number;
}

/** One paired comparison (a - b over the seeds both have). */
export interface ComparisonSummary {
  /** What is compared: 'strategy' (same data / model / budget) or 'model' (same data / budget / strategy). */
  axis: 'strategy' | 'model';
  /** The fixed coordinates, e.g. 'kvasir / unet'. */
  within: string;
  a: string;
  b: string;
  metric: 'dice';
  /** The paired runs' seeds (and folds: pairs are on the same seed and fold). */
  seeds: number[];
  folds: number[];
  result: PairedComparisonResult;
}

/** What {@link summarizeGrid} returns. */
export interface GridSummary {
  /** Which dimensions vary (tables show only those). */
  dims: { data: boolean; model: boolean; budget: boolean; seed: boolean; fold: boolean };
  groups: GroupSummary[];
  comparisons: ComparisonSummary[];
}

const interval = (xs: number[]): TIntervalResult =>
  xs.length ? tInterval(xs) : { n: 0, mean: NaN, sd: NaN, halfWidth: NaN, lower: NaN, upper: NaN, level: 0.95 };

/** Group the rows by everything but the seed, then compare on shared seeds (see the module doc). Pure. */
export function summarizeGrid(rows: readonly ExperimentRow[], options: { seeds?: readonly number[] } = {}): GridSummary {
  const key = (r: Pick<ExperimentRow, 'data' | 'model' | 'budget' | 'strategy'>) => JSON.stringify([r.data, r.model, r.budget, r.strategy]);
  const byGroup = new Map<string, ExperimentRow[]>();
  for (const r of rows) {
    if (!byGroup.has(key(r))) byGroup.set(key(r), []);
    byGroup.get(key(r))!.push(r);
  }
  const valid = (r: ExperimentRow) => !r.failed && Number.isFinite(r.pooledDice);
  const groups: GroupSummary[] = [...byGroup.values()].map((rs) => {
    const ok = rs.filter(valid);
    return {
      data: rs[0].data,
      model: rs[0].model,
      budget: rs[0].budget,
      strategy: rs[0].strategy,
      seeds: ok.map((r) => r.seed),
      folds: ok.map((r) => r.fold ?? 0),
      failedSeeds: rs.filter((r) => !valid(r)).map((r) => r.seed),
      dice: interval(ok.map((r) => r.pooledDice)),
      iou: interval(ok.filter((r) => Number.isFinite(r.pooledIou)).map((r) => r.pooledIou)),
      bytesPerRound: ok.length ? ok.reduce((a, r) => a + r.bytesPerRound, 0) / ok.length : NaN,
      seconds: ok.length ? ok.reduce((a, r) => a + r.seconds, 0) / ok.length : NaN,
    };
  });
  const distinct = (f: (r: ExperimentRow) => unknown) => new Set(rows.map(f)).size > 1;
  const dims = { data: distinct((r) => r.data), model: distinct((r) => r.model), budget: distinct((r) => r.budget), seed: (options.seeds?.length ?? 0) > 1 || distinct((r) => r.seed), fold: distinct((r) => r.fold ?? 0) };
  const comparisons: ComparisonSummary[] = [];
  const compare = (axis: 'strategy' | 'model', within: string, a: { name: string; rows: ExperimentRow[] }, b: { name: string; rows: ExperimentRow[] }) => {
    const run = (r: ExperimentRow) => `${r.seed}|${r.fold ?? 0}`;
    const bySeed = new Map(b.rows.filter(valid).map((r) => [run(r), r]));
    const pairs = a.rows.filter(valid).filter((r) => bySeed.has(run(r)));
    if (pairs.length < 2) return;
    comparisons.push({
      axis,
      within,
      a: a.name,
      b: b.name,
      metric: 'dice',
      seeds: pairs.map((r) => r.seed),
      folds: pairs.map((r) => r.fold ?? 0),
      result: pairedComparison(pairs.map((r) => r.pooledDice), pairs.map((r) => (bySeed.get(run(r)) as ExperimentRow).pooledDice)),
    });
  };
  const label = (parts: [boolean, string][]) => parts.filter(([show]) => show).map(([, v]) => v).join(' / ') || 'all';
  const bucket = (f: (r: ExperimentRow) => unknown[]) => {
    const m = new Map<string, ExperimentRow[][]>();
    for (const rs of byGroup.values()) {
      const k = JSON.stringify(f(rs[0]));
      if (!m.has(k)) m.set(k, []);
      m.get(k)!.push(rs);
    }
    return m;
  };
  for (const list of bucket((r) => [r.data, r.model, r.budget]).values()) {
    const r0 = list[0][0];
    const within = label([[dims.data, r0.data], [dims.model, r0.model], [dims.budget, r0.budget]]);
    for (let i = 0; i < list.length; i++) for (let j = i + 1; j < list.length; j++) compare('strategy', within, { name: list[i][0].strategy, rows: list[i] }, { name: list[j][0].strategy, rows: list[j] });
  }
  if (dims.model) {
    for (const list of bucket((r) => [r.data, r.budget, r.strategy]).values()) {
      const r0 = list[0][0];
      const within = label([[dims.data, r0.data], [dims.budget, r0.budget], [true, r0.strategy]]);
      for (let i = 0; i < list.length; i++) for (let j = i + 1; j < list.length; j++) compare('model', within, { name: list[i][0].model, rows: list[i] }, { name: list[j][0].model, rows: list[j] });
    }
  }
  return { dims, groups, comparisons };
}

/** The groups as a text table: Dice and IoU as `mean [lower, upper]` over seeds. */
export function formatGroups(s: GridSummary): string {
  const cols = (['data', 'model', 'budget'] as const).filter((d) => s.dims[d]);
  return formatTable(
    [...cols, 'strategy', s.dims.fold ? 'runs (seed x fold)' : 'seeds', 'Dice mean [95% CI]', 'IoU mean [95% CI]', 'failed'],
    s.groups.map((g) => [...cols.map((c) => g[c]), g.strategy, String(g.seeds.length), g.seeds.length ? formatInterval(g.dice) : '-', g.seeds.length ? formatInterval(g.iou) : '-', g.failedSeeds.length ? g.failedSeeds.join(', ') : '']),
  );
}

/** The paired comparisons as a text table (empty note when there is none, e.g. one seed). */
export function formatComparisons(s: GridSummary): string {
  if (s.comparisons.length === 0) return 'paired comparisons: none (they need at least 2 seeds in common)';
  return formatTable(
    ['compare', 'within', 'a', 'b', s.dims.fold ? 'pairs (seed x fold)' : 'seeds', 'Dice a - b [95% CI]', 'p (paired t)', 'verdict'],
    s.comparisons.map((c) => [c.axis, c.within, c.a, c.b, String(c.seeds.length), `${c.result.meanDifference >= 0 ? '+' : ''}${c.result.meanDifference.toFixed(3)} [${c.result.lower.toFixed(3)}, ${c.result.upper.toFixed(3)}]`, Number.isFinite(c.result.pValue) ? c.result.pValue.toPrecision(2) : '-', c.result.verdict]),
  );
}
