/**
 * Claims of a paper as data, judged on result rows: every verdict is
 * "reproduced", "contradicted" or "inconclusive". Statistical claims use
 * paired comparisons on the same seeds (and folds), never point estimates
 * alone; structural claims (parameter counts, FLOPs, bytes) are facts of the
 * built models and are checked directly.
 *
 * - `greater`: a > b. Reproduced when the 95% t interval of the paired
 *   difference a - b lies above 0, contradicted when it lies below 0,
 *   inconclusive when it contains 0 (or with fewer than 2 pairs).
 * - `order`: chain[0] > chain[1] > ...: every consecutive pair as `greater`;
 *   reproduced when all are, contradicted when any is contradicted, else
 *   inconclusive.
 * - `gap`: a - b is about `expected` (e.g. "centralized beats SplitFed by
 *   about 2 IoU points"): reproduced when the difference's interval lies
 *   inside [expected - tolerance, expected + tolerance], contradicted when it
 *   lies entirely outside that band, inconclusive otherwise (a wide interval).
 * - `notWorse`: a >= b up to a margin (non-inferiority): reproduced when the
 *   paired difference's interval lies above -margin, contradicted when it lies
 *   below -margin, inconclusive otherwise.
 * - `above`: the mean of a is above a constant (e.g. chance): reproduced when
 *   its 95% t interval lies above `value`, contradicted when below.
 * - `extreme`: among the groups of rows matching `among`, told apart by the
 *   coordinate `by`, the group `expect` has the smallest / largest mean of
 *   the metric (a fact: deterministic quantities such as parameters).
 * - `ratio`: mean(a) / mean(b) is at most `max` (a fact, e.g. bytes sent).
 *
 * A row is one result (one seed of one arm); its `arm` holds its coordinates
 * (e.g. strategy, model, data). A selector names the rows of one side by some
 * coordinates; pairs are rows of the two sides with the same seed, fold and
 * every coordinate the selectors leave open.
 */
import { pairedComparison, tInterval, type PairedComparisonResult } from './statistics';
import { formatTable } from '../util/table';

/** One result: one seed (and fold) of one arm, with its measured metrics. */
export interface ClaimRow {
  seed: number;
  /** k-fold: the test fold. Default 0. */
  fold?: number;
  /** Coordinates, e.g. `{ strategy: 'fedavg', model: 'unet', data: 'kvasir' }`. */
  arm: Record<string, string>;
  /** Metric values by name (NaN: not measured). */
  metrics: Record<string, number>;
  /** Set when the row is not a valid result (left out of every claim). */
  failed?: string;
}

/** Which rows one side of a claim means: coordinates that must match. */
export type ClaimSelector = Record<string, string>;

interface ClaimBase {
  /** Short id, e.g. 'central>splitfed'. */
  id: string;
  /** The claim in words, as the paper states it. */
  text: string;
  /** The paper's figure, e.g. '+2.0 IoU points'. */
  paper: string;
  /** Name of the metric in the rows (e.g. 'iou', 'dice', 'f1', 'params'). */
  metric: string;
}

/** a > b. */
export interface GreaterClaim extends ClaimBase {
  kind: 'greater';
  a: ClaimSelector;
  b: ClaimSelector;
}

/** chain[0] > chain[1] > ... */
export interface OrderClaim extends ClaimBase {
  kind: 'order';
  chain: ClaimSelector[];
}

/** a - b ≈ expected, within ± tolerance (metric units, e.g. 0.02 for 2 IoU points). */
export interface GapClaim extends ClaimBase {
  kind: 'gap';
  a: ClaimSelector;
  b: ClaimSelector;
  expected: number;
  tolerance: number;
}

/** a >= b - margin (non-inferiority, metric units). */
export interface NotWorseClaim extends ClaimBase {
  kind: 'notWorse';
  a: ClaimSelector;
  b: ClaimSelector;
  margin: number;
}

/** mean(a) > value. */
export interface AboveClaim extends ClaimBase {
  kind: 'above';
  a: ClaimSelector;
  value: number;
}

/** Among the groups of `among` told apart by coordinate `by`, group `expect` has the min / max mean. */
export interface ExtremeClaim extends ClaimBase {
  kind: 'extreme';
  among: ClaimSelector;
  by: string;
  which: 'min' | 'max';
  expect: string;
}

/** mean(a) / mean(b) <= max. */
export interface RatioClaim extends ClaimBase {
  kind: 'ratio';
  a: ClaimSelector;
  b: ClaimSelector;
  max: number;
}

/** A paper's claim (see the module doc for each verdict rule). */
export type Claim = GreaterClaim | OrderClaim | GapClaim | NotWorseClaim | AboveClaim | ExtremeClaim | RatioClaim;

/** The verdict words. */
export type Verdict = 'reproduced' | 'contradicted' | 'inconclusive';

/** The judgement of one claim. */
export interface ClaimVerdict {
  claim: Claim;
  verdict: Verdict;
  /** What was measured, e.g. '+0.015 [-0.125, 0.155] (3 pairs)'. */
  measured: string;
  /** The paired comparisons behind it (statistical kinds; one per pair of sides). */
  comparisons: { a: ClaimSelector; b: ClaimSelector; result: PairedComparisonResult | null; pairs: number }[];
}

const matches = (r: ClaimRow, s: ClaimSelector) => Object.entries(s).every(([k, v]) => r.arm[k] === v);
const valid = (r: ClaimRow, metric: string) => !r.failed && Number.isFinite(r.metrics[metric]);

/** Pair the rows of side a with those of side b (same seed, fold and open coordinates) and compare them. */
export function pairSides(rows: readonly ClaimRow[], a: ClaimSelector, b: ClaimSelector, metric: string): { result: PairedComparisonResult | null; pairs: number } {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.arm)))].sort();
  const open = keys.filter((k) => !(k in a) && !(k in b));
  const key = (r: ClaimRow) => JSON.stringify([r.seed, r.fold ?? 0, ...open.map((k) => r.arm[k] ?? null)]);
  const bs = new Map(rows.filter((r) => matches(r, b) && valid(r, metric)).map((r) => [key(r), r]));
  const pairs = rows.filter((r) => matches(r, a) && valid(r, metric) && bs.has(key(r)));
  if (pairs.length < 2) return { result: null, pairs: pairs.length };
  return { result: pairedComparison(pairs.map((r) => r.metrics[metric]), pairs.map((r) => (bs.get(key(r)) as ClaimRow).metrics[metric])), pairs: pairs.length };
}

const fmt = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;
const describe = (c: { result: PairedComparisonResult | null; pairs: number }) =>
  c.result ? `${fmt(c.result.meanDifference)} [${c.result.lower.toFixed(3)}, ${c.result.upper.toFixed(3)}] (${c.pairs} pairs)` : `too few pairs (${c.pairs})`;
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
/** Compact number: 3 decimals below 10, else engineering-style (1.2e6). */
const num = (x: number) => (Math.abs(x) < 10 ? x.toFixed(3) : Math.abs(x) < 1e4 ? x.toFixed(0) : x.toExponential(2));

function values(rows: readonly ClaimRow[], s: ClaimSelector, metric: string): number[] {
  return rows.filter((r) => matches(r, s) && valid(r, metric)).map((r) => r.metrics[metric]);
}

/** Judge one claim on result rows (see the module doc). Pure. */
export function judgeClaim(claim: Claim, rows: readonly ClaimRow[]): ClaimVerdict {
  switch (claim.kind) {
    case 'gap': {
      const c = { a: claim.a, b: claim.b, ...pairSides(rows, claim.a, claim.b, claim.metric) };
      const lo = claim.expected - claim.tolerance;
      const hi = claim.expected + claim.tolerance;
      const r = c.result;
      const verdict: Verdict = !r ? 'inconclusive' : r.lower >= lo && r.upper <= hi ? 'reproduced' : r.upper < lo || r.lower > hi ? 'contradicted' : 'inconclusive';
      return { claim, verdict, measured: describe(c), comparisons: [c] };
    }
    case 'notWorse': {
      const c = { a: claim.a, b: claim.b, ...pairSides(rows, claim.a, claim.b, claim.metric) };
      const r = c.result;
      const verdict: Verdict = !r ? 'inconclusive' : r.lower > -claim.margin ? 'reproduced' : r.upper < -claim.margin ? 'contradicted' : 'inconclusive';
      return { claim, verdict, measured: describe(c), comparisons: [c] };
    }
    case 'above': {
      const xs = values(rows, claim.a, claim.metric);
      if (xs.length < 2) return { claim, verdict: 'inconclusive', measured: `too few rows (${xs.length})`, comparisons: [] };
      const t = tInterval(xs);
      const verdict: Verdict = t.lower > claim.value ? 'reproduced' : t.upper < claim.value ? 'contradicted' : 'inconclusive';
      return { claim, verdict, measured: `${t.mean.toFixed(3)} [${t.lower.toFixed(3)}, ${t.upper.toFixed(3)}] vs ${num(claim.value)} (${xs.length} rows)`, comparisons: [] };
    }
    case 'extreme': {
      const groups = new Map<string, number[]>();
      for (const r of rows) {
        if (!matches(r, claim.among) || !valid(r, claim.metric) || r.arm[claim.by] === undefined) continue;
        groups.set(r.arm[claim.by], [...(groups.get(r.arm[claim.by]) ?? []), r.metrics[claim.metric]]);
      }
      const means = [...groups].map(([g, xs]) => [g, mean(xs)] as const).sort((x, y) => (claim.which === 'min' ? x[1] - y[1] : y[1] - x[1]));
      if (!groups.has(claim.expect) || means.length < 2) return { claim, verdict: 'inconclusive', measured: `'${claim.expect}' or its rivals not measured`, comparisons: [] };
      const [top, second] = means;
      const verdict: Verdict = top[0] === claim.expect ? 'reproduced' : 'contradicted';
      return { claim, verdict, measured: `${claim.which} ${top[0]} ${num(top[1])}, next ${second[0]} ${num(second[1])}${top[0] === claim.expect ? '' : `; ${claim.expect} ${num(groups.has(claim.expect) ? mean(groups.get(claim.expect) as number[]) : NaN)}`}`, comparisons: [] };
    }
    case 'ratio': {
      const a = values(rows, claim.a, claim.metric);
      const b = values(rows, claim.b, claim.metric);
      if (!a.length || !b.length) return { claim, verdict: 'inconclusive', measured: 'not measured', comparisons: [] };
      const q = mean(a) / mean(b);
      return { claim, verdict: q <= claim.max ? 'reproduced' : 'contradicted', measured: `${num(mean(a))} / ${num(mean(b))} = ${q.toFixed(3)} (at most ${claim.max})`, comparisons: [] };
    }
    default: {
      const sides = claim.kind === 'greater' ? [[claim.a, claim.b]] : claim.chain.slice(1).map((b, i) => [claim.chain[i], b]);
      const comparisons = sides.map(([a, b]) => ({ a, b, ...pairSides(rows, a, b, claim.metric) }));
      const each = comparisons.map((c): Verdict => (!c.result ? 'inconclusive' : c.result.lower > 0 ? 'reproduced' : c.result.upper < 0 ? 'contradicted' : 'inconclusive'));
      const verdict: Verdict = each.includes('contradicted') ? 'contradicted' : each.every((v) => v === 'reproduced') ? 'reproduced' : 'inconclusive';
      return { claim, verdict, measured: comparisons.map(describe).join('; '), comparisons };
    }
  }
}

/** Mean and 95% t interval of one metric per arm (over seeds and folds). */
export interface ArmSummary {
  /** The arm's coordinates joined by ' / ' (e.g. 'kvasir / unet / fedavg'). */
  arm: string;
  coords: Record<string, string>;
  n: number;
  mean: number;
  lower: number;
  upper: number;
}

/** {@link ArmSummary} of `metric` for every arm that measured it, in first-seen order (failed rows left out). */
export function summarizeArms(rows: readonly ClaimRow[], metric: string): ArmSummary[] {
  const groups = new Map<string, { coords: Record<string, string>; xs: number[] }>();
  for (const r of rows) {
    if (!valid(r, metric)) continue;
    const key = Object.values(r.arm).join(' / ');
    const g = groups.get(key) ?? { coords: r.arm, xs: [] };
    g.xs.push(r.metrics[metric]);
    groups.set(key, g);
  }
  return [...groups].map(([arm, g]) => {
    const t = g.xs.length >= 2 ? tInterval(g.xs) : { mean: g.xs[0], lower: NaN, upper: NaN };
    return { arm, coords: g.coords, n: g.xs.length, mean: t.mean, lower: t.lower, upper: t.upper };
  });
}

/** The claims table: claim | the paper's figure | measured (mean difference or value, 95% interval) | verdict. */
export function formatClaimsTable(verdicts: readonly ClaimVerdict[]): string {
  return formatTable(
    ['claim', 'paper', 'measured (paired difference or value [95% CI])', 'verdict'],
    verdicts.map((v) => [v.claim.text, v.claim.paper, v.measured, v.verdict]),
  );
}

/** The claims table as Markdown (for README and notebooks). */
export function claimsMarkdown(verdicts: readonly ClaimVerdict[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return ['| claim | paper | measured (95% CI) | verdict |', '|---|---|---|---|', ...verdicts.map((v) => `| ${esc(v.claim.text)} | ${esc(v.claim.paper)} | ${esc(v.measured)} | **${v.verdict}** |`)].join('\n');
}
