/**
 * Seeded gradient-free minimisation with a budget and box bounds, for
 * MedForge's merge coefficients (arXiv:2502.16055). The official code calls
 * Nevergrad's `NGOpt` (budget `max_inference_step` = 40, init 0.5, bounds
 * [-1.5, 1.5] for whole-plugin and [-2, 2] for per-layer coefficients);
 * NGOpt is a meta-optimiser that picks an algorithm from the dimension and
 * budget. We provide two fixed, seeded algorithms instead:
 *
 * - 'one-plus-one' (default): (1+1)-ES with isotropic Gaussian steps and the
 *   1/5-th success rule (sigma x 1.5 on improvement, x 1.5^(-1/4) otherwise;
 *   Rechenberg / Kern et al. 2004); candidates are clipped to the bounds;
 * - 'random': uniform random search in the box.
 *
 * Both evaluate `init` first; `budget` counts every objective evaluation.
 * Same seed + same objective = same result.
 */
import { createRng } from '../util/rng';

/** Which algorithm {@link minimize} runs. */
export type SearchMethod = 'one-plus-one' | 'random';

/** Options of {@link minimize}. */
export interface SearchOptions {
  /** Starting point (also fixes the dimension). */
  init: readonly number[];
  /** Lower bound, one for all or per dimension (default -1.5). */
  lower?: number | readonly number[];
  /** Upper bound (default 1.5). */
  upper?: number | readonly number[];
  /** Objective evaluations (default 40). */
  budget?: number;
  /** Default 'one-plus-one'. */
  method?: SearchMethod;
  /** Initial step size of the ES (default 0.25 x the mean box width). */
  sigma?: number;
  /** Default 0. */
  seed?: number;
}

/** Result of {@link minimize}. */
export interface SearchResult {
  best: number[];
  bestValue: number;
  /** Value at `init`. */
  initValue: number;
  evaluations: number;
  /** Every evaluation in order. */
  history: { x: number[]; value: number }[];
}

function bounds(b: number | readonly number[] | undefined, dim: number, dflt: number, name: string): number[] {
  if (b === undefined) return new Array<number>(dim).fill(dflt);
  if (typeof b === 'number') return new Array<number>(dim).fill(b);
  if (b.length !== dim) throw new Error(`minimize: ${name} has ${b.length} values for dimension ${dim}`);
  return [...b];
}

/**
 * Minimise `f` over the box (see module doc). `f` may be async; NaN values
 * count as +Infinity.
 */
export async function minimize(f: (x: number[]) => number | Promise<number>, options: SearchOptions): Promise<SearchResult> {
  const dim = options.init.length;
  if (dim < 1) throw new Error('minimize: init must have at least one value');
  const lo = bounds(options.lower, dim, -1.5, 'lower');
  const hi = bounds(options.upper, dim, 1.5, 'upper');
  for (let i = 0; i < dim; i++) {
    if (!(lo[i] < hi[i])) throw new Error(`minimize: lower[${i}] = ${lo[i]} must be below upper[${i}] = ${hi[i]}`);
  }
  const budget = options.budget ?? 40;
  if (!Number.isInteger(budget) || budget < 1) throw new Error(`minimize: budget must be an integer >= 1, got ${budget}`);
  const method = options.method ?? 'one-plus-one';
  if (method !== 'one-plus-one' && method !== 'random') throw new Error(`minimize: unknown method '${String(method)}' (valid: one-plus-one, random)`);
  const rng = createRng(options.seed ?? 0);
  const clip = (x: number[]) => x.map((v, i) => Math.min(hi[i], Math.max(lo[i], v)));
  const history: SearchResult['history'] = [];
  const evaluate = async (x: number[]) => {
    const v = Number(await f(x));
    const value = Number.isNaN(v) ? Infinity : v;
    history.push({ x: [...x], value });
    return value;
  };
  let best = clip([...options.init]);
  let bestValue = await evaluate(best);
  const initValue = bestValue;
  let sigma = options.sigma ?? 0.25 * (hi.reduce((s, h, i) => s + (h - lo[i]), 0) / dim);
  for (let t = 1; t < budget; t++) {
    const cand = method === 'random' ? lo.map((l, i) => rng.uniform(l, hi[i])) : clip(best.map((v) => v + sigma * rng.normal()));
    const value = await evaluate(cand);
    if (value <= bestValue) {
      if (method === 'one-plus-one') sigma *= value < bestValue ? 1.5 : 1;
      best = cand;
      bestValue = value;
    } else if (method === 'one-plus-one') {
      sigma *= Math.pow(1.5, -0.25);
    }
  }
  return { best, bestValue, initValue, evaluations: history.length, history };
}

/** The code's L1 penalty: `l1 * mean(|w|)` (0.05 in `get_regular`). */
export function l1Penalty(weights: readonly number[], l1: number): number {
  if (weights.length === 0) return 0;
  return (l1 * weights.reduce((s, w) => s + Math.abs(w), 0)) / weights.length;
}
