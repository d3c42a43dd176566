/**
 * Claims of a paper as data, judged on a grid's cells: every verdict is
 * "reproduced", "contradicted" or "inconclusive", from paired comparisons on
 * the same seeds (and folds) — never from point estimates alone.
 *
 * - `greater`: a > b. Reproduced when the 95% interval of the paired
 *   difference a - b lies above 0, contradicted when it lies below 0,
 *   inconclusive when it contains 0.
 * - `order`: chain[0] > chain[1] > ...: every consecutive pair as `greater`;
 *   reproduced when all are, contradicted when any is contradicted, else
 *   inconclusive.
 * - `gap`: a - b is about `expected` (e.g. "centralized beats SplitFed by
 *   about 2 IoU points"): reproduced when the difference's interval lies
 *   inside [expected - tolerance, expected + tolerance], contradicted when it
 *   lies entirely outside that band, inconclusive otherwise (a wide interval).
 *
 * A selector names the cells of one side by their grid coordinates
 * (strategy, model, data, budget); pairs are cells of the two sides with the
 * same seed, fold and every coordinate the selectors leave open.
 */
import { pairedComparison, type PairedComparisonResult } from '../metrics/statistics';
import { formatTable } from '../util/table';
import type { ExperimentRow } from './runner';

/** Which cells one side of a claim means. */
export type ClaimSelector = Partial<Pick<ExperimentRow, 'strategy' | 'model' | 'data' | 'budget'>>;

/** The metric a claim is about (final pooled score of each cell). */
export type ClaimMetric = 'dice' | 'iou';

interface ClaimBase {
  /** Short id, e.g. 'central>splitfed'. */
  id: string;
  /** The claim in words, as the paper states it. */
  text: string;
  /** The paper's figure, e.g. '+2.0 IoU points'. */
  paper: string;
  metric: ClaimMetric;
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

/** A paper's claim (see the module doc for each verdict rule). */
export type Claim = GreaterClaim | OrderClaim | GapClaim;

/** The judgement of one claim. */
export interface ClaimVerdict {
  claim: Claim;
  verdict: 'reproduced' | 'contradicted' | 'inconclusive';
  /** What was measured, e.g. '+0.015 [-0.125, 0.155] (3 pairs)'. */
  measured: string;
  /** The paired comparisons behind it (one per pair of sides). */
  comparisons: { a: ClaimSelector; b: ClaimSelector; result: PairedComparisonResult | null; pairs: number }[];
}

const score = (r: ExperimentRow, metric: ClaimMetric) => (metric === 'dice' ? r.pooledDice : r.pooledIou);
const matches = (r: ExperimentRow, s: ClaimSelector) => Object.entries(s).every(([k, v]) => r[k as keyof ClaimSelector] === v);
const valid = (r: ExperimentRow, metric: ClaimMetric) => !r.failed && Number.isFinite(score(r, metric));

/** Pair the cells of side a with those of side b (same seed, fold and open coordinates) and compare them. */
export function pairSides(rows: readonly ExperimentRow[], a: ClaimSelector, b: ClaimSelector, metric: ClaimMetric): { result: PairedComparisonResult | null; pairs: number } {
  const open = (['strategy', 'model', 'data', 'budget'] as const).filter((k) => !(k in a) && !(k in b));
  const key = (r: ExperimentRow) => JSON.stringify([r.seed, r.fold ?? 0, ...open.map((k) => r[k])]);
  const bs = new Map(rows.filter((r) => matches(r, b) && valid(r, metric)).map((r) => [key(r), r]));
  const pairs = rows.filter((r) => matches(r, a) && valid(r, metric) && bs.has(key(r)));
  if (pairs.length < 2) return { result: null, pairs: pairs.length };
  return { result: pairedComparison(pairs.map((r) => score(r, metric)), pairs.map((r) => score(bs.get(key(r)) as ExperimentRow, metric))), pairs: pairs.length };
}

const fmt = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;
const describe = (c: { result: PairedComparisonResult | null; pairs: number }) =>
  c.result ? `${fmt(c.result.meanDifference)} [${c.result.lower.toFixed(3)}, ${c.result.upper.toFixed(3)}] (${c.pairs} pairs)` : `too few pairs (${c.pairs})`;

/** Judge one claim on the rows of a grid (see the module doc). Pure. */
export function judgeClaim(claim: Claim, rows: readonly ExperimentRow[]): ClaimVerdict {
  if (claim.kind === 'gap') {
    const c = { a: claim.a, b: claim.b, ...pairSides(rows, claim.a, claim.b, claim.metric) };
    const lo = claim.expected - claim.tolerance;
    const hi = claim.expected + claim.tolerance;
    const r = c.result;
    const verdict = !r ? 'inconclusive' : r.lower >= lo && r.upper <= hi ? 'reproduced' : r.upper < lo || r.lower > hi ? 'contradicted' : 'inconclusive';
    return { claim, verdict, measured: describe(c), comparisons: [c] };
  }
  const sides = claim.kind === 'greater' ? [[claim.a, claim.b]] : claim.chain.slice(1).map((b, i) => [claim.chain[i], b]);
  const comparisons = sides.map(([a, b]) => ({ a, b, ...pairSides(rows, a, b, claim.metric) }));
  const each = comparisons.map((c) => (!c.result ? 'inconclusive' : c.result.lower > 0 ? 'reproduced' : c.result.upper < 0 ? 'contradicted' : 'inconclusive'));
  const verdict = each.includes('contradicted') ? 'contradicted' : each.every((v) => v === 'reproduced') ? 'reproduced' : 'inconclusive';
  return { claim, verdict, measured: comparisons.map(describe).join('; '), comparisons };
}

/** The claims table: claim | the paper's figure | measured (paired difference, 95% interval) | verdict. */
export function formatClaimsTable(verdicts: readonly ClaimVerdict[]): string {
  return formatTable(
    ['claim', 'paper', 'measured (paired difference [95% CI])', 'verdict'],
    verdicts.map((v) => [v.claim.text, v.claim.paper, v.measured, v.verdict]),
  );
}
