/**
 * Statistics for comparing methods over seeds: means, sample spread, Student t
 * distribution, t and bootstrap confidence intervals, paired comparisons.
 *
 * Pure functions on plain number arrays (any `ArrayLike<number>`, e.g. a
 * `Float64Array` of per-image Dice values); every result is a plain object.
 * No tfjs, no state; randomness (bootstrap) comes from {@link createRng}.
 *
 * NaN policy: **non-finite values (NaN, ±Infinity) are an error**. A cell with a
 * failed seed (NaN score) must never be averaged silently: every function
 * throws, naming the index and the value. To leave failed seeds out on
 * purpose, filter them first and report the smaller `n` alongside the result
 * (`nanMean` in ./segmentation is the explicit skip-NaN mean for metric
 * reductions, e.g. images with empty ground truth).
 */
import { createRng } from '../util/rng';
import { percentile } from './hd95';

// ---------------------------------------------------------------- validation

/** Throw unless `xs` is non-empty and every value is finite. */
function checkSample(xs: ArrayLike<number>, fn: string, name = 'xs'): void {
  if (xs.length === 0) throw new Error(`${fn}: ${name} is empty; need at least one value`);
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new Error(
        `${fn}: ${name}[${i}] is ${String(v)}; statistics need finite numbers ` +
          '(a failed seed is never averaged silently: drop it explicitly and report the smaller n)',
      );
    }
  }
}

function checkLevel(level: number, fn: string): number {
  if (typeof level !== 'number' || !(level > 0 && level < 1)) {
    throw new RangeError(`${fn}: level must be in (0, 1), e.g. 0.95; got ${String(level)}`);
  }
  return level;
}

function checkDf(df: number, fn: string): void {
  if (typeof df !== 'number' || !(df > 0) || !Number.isFinite(df)) {
    throw new RangeError(`${fn}: degrees of freedom must be a finite number > 0, got ${String(df)}`);
  }
}

// ---------------------------------------------------------------- moments

/** Plain mean, no validation (callers validate). Two-pass: the second pass corrects rounding. */
function rawMean(xs: ArrayLike<number>): number {
  const n = xs.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += xs[i];
  const m = s / n;
  let c = 0;
  for (let i = 0; i < n; i++) c += xs[i] - m;
  return m + c / n;
}

/**
 * Arithmetic mean `sum(x) / n`.
 * @throws for an empty input or any non-finite value (NaN policy above).
 */
export function mean(xs: ArrayLike<number>): number {
  checkSample(xs, 'mean');
  return rawMean(xs);
}

/**
 * Unbiased sample variance `s^2 = sum((x - mean)^2) / (n - 1)` (corrected
 * two-pass algorithm).
 * @returns NaN for a single value (n - 1 = 0: the spread is undefined, not 0).
 * @throws for an empty input or any non-finite value.
 */
export function sampleVariance(xs: ArrayLike<number>): number {
  checkSample(xs, 'sampleVariance');
  return rawVariance(xs, rawMean(xs));
}

function rawVariance(xs: ArrayLike<number>, m: number): number {
  const n = xs.length;
  if (n < 2) return NaN;
  let ss = 0;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const d = xs[i] - m;
    ss += d * d;
    s += d;
  }
  return Math.max(0, (ss - (s * s) / n) / (n - 1));
}

/**
 * Sample standard deviation `s = sqrt(sampleVariance(xs))` (n - 1 denominator).
 * @returns NaN for a single value.
 * @throws for an empty input or any non-finite value.
 */
export function sampleStd(xs: ArrayLike<number>): number {
  checkSample(xs, 'sampleStd');
  return Math.sqrt(rawVariance(xs, rawMean(xs)));
}

// ---------------------------------------------------------------- special functions

/** Lanczos approximation (g = 7, 9 terms) of ln Gamma(x) for x > 0; ~1e-15 relative. */
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x); // reflection
  const z = x - 1;
  let a = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Stirling correction `ln Gamma(x) - ((x - 1/2) ln x - x + ln(2 pi)/2)` for x >= 20 (error < 1e-17). */
function stirlingCorrection(x: number): number {
  const r = 1 / x;
  const r2 = r * r;
  return r * (1 / 12 - r2 * (1 / 360 - r2 * (1 / 1260 - r2 * (1 / 1680 - r2 / 1188))));
}

/**
 * ln B(a, b) = ln Gamma(a) + ln Gamma(b) - ln Gamma(a + b). When the larger
 * argument is >= 20 the difference `ln Gamma(big) - ln Gamma(big + small)` is
 * taken from Stirling's series in a form without cancellation
 * (`-(big - 1/2) log1p(small/big) - small ln(big + small) + small + corrections`),
 * which keeps the Student t CDF accurate for large df.
 */
function logBeta(a: number, b: number): number {
  const big = Math.max(a, b);
  const small = Math.min(a, b);
  if (big < 20) return logGamma(a) + logGamma(b) - logGamma(a + b);
  const diff =
    -(big - 0.5) * Math.log1p(small / big) -
    small * Math.log(big + small) +
    small +
    stirlingCorrection(big) -
    stirlingCorrection(big + small);
  return logGamma(small) + diff;
}

const CF_EPS = 1e-15;
const CF_TINY = 1e-300;
const CF_MAX_ITER = 100000;

/**
 * Continued fraction of the incomplete beta function,
 * `1 + d1/(1 + d2/(1 + ...))` with
 * `d(2m+1) = -(a+m)(a+b+m) x / ((a+2m)(a+2m+1))`, `d(2m) = m(b-m) x / ((a+2m-1)(a+2m))`,
 * evaluated by the modified Lentz method. Converges fast for x < (a+1)/(a+b+2).
 */
function betaContinuedFraction(a: number, b: number, x: number): number {
  let f = 1;
  let c = 1;
  let d = 0;
  for (let k = 1; k <= CF_MAX_ITER; k++) {
    const m = k >> 1;
    const coef =
      k % 2 === 1
        ? (-(a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1))
        : (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
    d = 1 + coef * d;
    if (Math.abs(d) < CF_TINY) d = CF_TINY;
    c = 1 + coef / c;
    if (Math.abs(c) < CF_TINY) c = CF_TINY;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < CF_EPS) return f;
  }
  throw new Error(`incomplete beta: continued fraction did not converge for a=${a}, b=${b}, x=${x}`);
}

/**
 * Regularized incomplete beta `I_x(a, b)`, given both `x` and `y = 1 - x`
 * (each computed without cancellation by the caller):
 * `I_x(a,b) = x^a y^b / (a B(a,b)) / CF(a, b, x)`, and the symmetry
 * `I_x(a,b) = 1 - I_y(b,a)` where the direct fraction would converge slowly.
 */
function regularizedIncompleteBeta(a: number, b: number, x: number, y: number): number {
  if (x <= 0) return 0;
  if (y <= 0) return 1;
  // ln x and ln y from whichever of x, y is small, so x near 1 loses nothing.
  const logX = x > 0.5 ? Math.log1p(-y) : Math.log(x);
  const logY = y > 0.5 ? Math.log1p(-x) : Math.log(y);
  const logFront = a * logX + b * logY - logBeta(a, b);
  if (x < (a + 1) / (a + b + 2)) return Math.exp(logFront) / (a * betaContinuedFraction(a, b, x));
  return 1 - Math.exp(logFront) / (b * betaContinuedFraction(b, a, y));
}

/** Upper tail `P(T > t)` for t >= 0: `I_x(df/2, 1/2) / 2` with `x = df / (df + t^2)`. */
function studentTUpperTail(t: number, df: number): number {
  if (t === 0) return 0.5;
  if (t === Infinity) return 0;
  const r = (t * t) / df; // t^2 / df
  const x = 1 / (1 + r); // df / (df + t^2)
  const y = r === Infinity ? 1 : r / (1 + r); // t^2 / (df + t^2), no cancellation
  return 0.5 * regularizedIncompleteBeta(df / 2, 0.5, x, y);
}

/** Student t density `Gamma((df+1)/2) / (sqrt(df pi) Gamma(df/2)) (1 + t^2/df)^(-(df+1)/2)`. */
function studentTPdf(t: number, df: number): number {
  const logC = -logBeta(df / 2, 0.5) - 0.5 * Math.log(df); // Gamma((df+1)/2) / (Gamma(df/2) sqrt(pi)) = 1 / B(df/2, 1/2)
  return Math.exp(logC - ((df + 1) / 2) * Math.log1p((t * t) / df));
}

// ---------------------------------------------------------------- Student t

/**
 * Student t cumulative distribution `P(T <= t)` with `df` degrees of freedom
 * (real `df > 0`), through the regularized incomplete beta function:
 * `P(T > |t|) = I_{df/(df+t^2)}(df/2, 1/2) / 2`. Absolute error below 1e-11
 * for `df` in [1, 1e8] (checked against mpmath); lower tails (`t < 0`) keep their relative precision.
 * @throws RangeError for NaN `t` or `df` not finite and > 0.
 */
export function studentTCdf(t: number, df: number): number {
  checkDf(df, 'studentTCdf');
  if (typeof t !== 'number' || Number.isNaN(t)) throw new RangeError(`studentTCdf: t must be a number, got ${String(t)}`);
  const tail = studentTUpperTail(Math.abs(t), df);
  return t < 0 ? tail : 1 - tail;
}

/** Solve `P(T > t) = q` for t > 0, q in (0, 0.5): bracketing, then Newton safeguarded by bisection. */
function solveUpperTail(q: number, df: number): number {
  let lo = 0;
  let hi = 1;
  while (studentTUpperTail(hi, df) > q) {
    lo = hi;
    hi *= 2;
    if (hi === Infinity) return Infinity;
  }
  let x = 0.5 * (lo + hi);
  for (let iter = 0; iter < 400; iter++) {
    const f = studentTUpperTail(x, df) - q; // decreasing in x
    if (f === 0) return x;
    if (f > 0) lo = x;
    else hi = x;
    let next = x + f / studentTPdf(x, df); // Newton: d/dx tail = -pdf
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    if (Math.abs(next - x) <= 4e-16 * x || hi - lo <= 4e-16 * hi) return next;
    x = next;
  }
  return x;
}

/**
 * Student t quantile (inverse CDF): the `t` with `studentTCdf(t, df) = p`.
 * Solved on the tail probability (min(p, 1 - p)) by Newton's method
 * safeguarded by bisection; relative error below 1e-10 (limited by {@link studentTCdf}).
 * `p = 0` gives -Infinity, `p = 1` gives Infinity, `p = 0.5` gives 0.
 * Example: `studentTQuantile(0.975, 9) = 2.2622`.
 * @throws RangeError for `p` outside [0, 1] or `df` not finite and > 0.
 */
export function studentTQuantile(p: number, df: number): number {
  checkDf(df, 'studentTQuantile');
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
    throw new RangeError(`studentTQuantile: p must be a probability in [0, 1], got ${String(p)}`);
  }
  if (p === 0.5) return 0;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  return p < 0.5 ? -solveUpperTail(p, df) : solveUpperTail(1 - p, df);
}

// ---------------------------------------------------------------- intervals

/** Options of {@link tInterval}. */
export interface TIntervalOptions {
  /** Confidence level in (0, 1). Default 0.95. */
  level?: number;
}

/** A t confidence interval for a mean (plain object). */
export interface TIntervalResult {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1); NaN when n = 1. */
  sd: number;
  /** `t_{(1+level)/2, n-1} * sd / sqrt(n)`; Infinity when n = 1. */
  halfWidth: number;
  lower: number;
  upper: number;
  level: number;
}

/**
 * Student t confidence interval for the mean of `xs` (e.g. one metric over
 * seeds): `mean ± t_{(1+level)/2, n-1} · sd / sqrt(n)`.
 * With a single value the interval is undefined and reported as such:
 * `sd = NaN`, `halfWidth = Infinity`, `lower = -Infinity`, `upper = Infinity`
 * (never a fake zero width). Identical values (sd = 0, n >= 2) give a
 * zero-width interval.
 * Example: `[1, 2, 3, 4, 5]` -> mean 3, sd 1.5811, t_{0.975,4} = 2.7764, [1.0368, 4.9632].
 * @throws for an empty input, a non-finite value or a level outside (0, 1).
 */
export function tInterval(xs: ArrayLike<number>, options: TIntervalOptions = {}): TIntervalResult {
  checkSample(xs, 'tInterval');
  const level = checkLevel(options.level ?? 0.95, 'tInterval');
  return tIntervalUnchecked(xs, level);
}

function tIntervalUnchecked(xs: ArrayLike<number>, level: number): TIntervalResult {
  const n = xs.length;
  const m = rawMean(xs);
  if (n === 1) return { n, mean: m, sd: NaN, halfWidth: Infinity, lower: -Infinity, upper: Infinity, level };
  const sd = Math.sqrt(rawVariance(xs, m));
  const halfWidth = studentTQuantile((1 + level) / 2, n - 1) * (sd / Math.sqrt(n));
  return { n, mean: m, sd, halfWidth, lower: m - halfWidth, upper: m + halfWidth, level };
}

/** Bootstrap interval methods (a literal union so others, e.g. BCa, can be added). */
export type BootstrapMethod = 'percentile';
const BOOTSTRAP_METHODS: readonly BootstrapMethod[] = ['percentile'];

/** A statistic of one (re)sample, e.g. {@link mean}. The array passed in is reused between resamples: read it, do not keep it. */
export type SampleStatistic = (xs: readonly number[]) => number;

/** Options of {@link bootstrapInterval}. */
export interface BootstrapOptions {
  /** Seed of the resampling stream ({@link createRng}); required: same seed, same interval. */
  seed: number | string;
  /** Confidence level in (0, 1). Default 0.95. */
  level?: number;
  /** Number of bootstrap resamples (integer >= 1). Default 10000. */
  resamples?: number;
  /** The statistic whose interval is wanted. Default {@link mean}. */
  statistic?: SampleStatistic;
  /** Interval construction. Default and only: 'percentile'. */
  method?: BootstrapMethod;
}

/** A bootstrap confidence interval (plain object). */
export interface BootstrapResult {
  /** The statistic on the original sample. */
  estimate: number;
  lower: number;
  upper: number;
  level: number;
  resamples: number;
  n: number;
  method: BootstrapMethod;
}

interface BootstrapSetup {
  level: number;
  resamples: number;
  statistic: SampleStatistic;
  method: BootstrapMethod;
  seed: number | string;
}

function checkBootstrapOptions(options: Partial<BootstrapOptions> | undefined, fn: string): BootstrapSetup {
  const o = options ?? {};
  if (o.seed === undefined || o.seed === null || (typeof o.seed !== 'number' && typeof o.seed !== 'string')) {
    throw new Error(`${fn}: the bootstrap needs an explicit { seed } (number or string); got ${String(o.seed)}`);
  }
  const level = checkLevel(o.level ?? 0.95, fn);
  const resamples = o.resamples ?? 10000;
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new RangeError(`${fn}: resamples must be an integer >= 1, got ${String(resamples)}`);
  }
  const method = o.method ?? 'percentile';
  if (!BOOTSTRAP_METHODS.includes(method)) {
    throw new Error(`${fn}: unknown bootstrap method '${String(method)}'; expected one of ${BOOTSTRAP_METHODS.map((m) => `'${m}'`).join(', ')}`);
  }
  const statistic = o.statistic ?? mean;
  if (typeof statistic !== 'function') throw new Error(`${fn}: statistic must be a function of a number array`);
  return { level, resamples, statistic, method, seed: o.seed };
}

/** The statistic over `resamples` resamples with replacement (n draws each). */
function bootstrapDistribution(xs: ArrayLike<number>, setup: BootstrapSetup, fn: string): Float64Array {
  const n = xs.length;
  const rng = createRng(setup.seed);
  const buf = new Array<number>(n);
  const out = new Float64Array(setup.resamples);
  for (let b = 0; b < setup.resamples; b++) {
    for (let i = 0; i < n; i++) buf[i] = xs[rng.int(n)];
    const s = setup.statistic(buf);
    if (typeof s !== 'number' || !Number.isFinite(s)) {
      throw new Error(`${fn}: the statistic returned ${String(s)} on resample ${b}; it must return a finite number`);
    }
    out[b] = s;
  }
  return out;
}

/**
 * Percentile bootstrap confidence interval of `statistic(xs)` (Efron):
 * draw `resamples` samples of size n with replacement using the seeded
 * {@link createRng} stream, and take the `(1-level)/2` and `(1+level)/2`
 * quantiles of the resampled statistic (linear interpolation between order
 * statistics, as `percentile`). Same `xs` + same seed = same interval.
 * Works over seeds and within one seed (xs = per-image Dice values).
 * With a single value there is nothing to resample: `lower = -Infinity`,
 * `upper = Infinity` (as {@link tInterval}), not a zero width.
 * Defaults: level 0.95, resamples 10000, statistic {@link mean}, method 'percentile'.
 * @throws for an empty input, a non-finite value, a missing seed, bad options,
 *   or a statistic returning a non-finite value.
 */
export function bootstrapInterval(xs: ArrayLike<number>, options: BootstrapOptions): BootstrapResult {
  checkSample(xs, 'bootstrapInterval');
  const setup = checkBootstrapOptions(options, 'bootstrapInterval');
  return bootstrapUnchecked(xs, setup, 'bootstrapInterval').result;
}

function bootstrapUnchecked(
  xs: ArrayLike<number>,
  setup: BootstrapSetup,
  fn: string,
): { result: BootstrapResult; distribution: Float64Array | null } {
  const n = xs.length;
  const estimate = setup.statistic(Array.from(xs));
  if (typeof estimate !== 'number' || !Number.isFinite(estimate)) {
    throw new Error(`${fn}: the statistic returned ${String(estimate)} on the sample; it must return a finite number`);
  }
  const base = { estimate, level: setup.level, resamples: setup.resamples, n, method: setup.method };
  if (n === 1) return { result: { ...base, lower: -Infinity, upper: Infinity }, distribution: null };
  const dist = bootstrapDistribution(xs, setup, fn);
  const alpha = 1 - setup.level;
  const lower = percentile(dist, (100 * alpha) / 2);
  const upper = percentile(dist, 100 * (1 - alpha / 2));
  return { result: { ...base, lower, upper }, distribution: dist };
}

// ---------------------------------------------------------------- paired comparison

/** Verdict of a paired comparison: 'no difference shown' whenever the interval contains 0. */
export type PairedVerdict = 'a higher' | 'b higher' | 'no difference shown';

/** How {@link pairedComparison} builds its interval and p-value. */
export type PairedMethod = 't' | 'bootstrap';

/** Options of {@link pairedComparison}: the t method needs no seed, the bootstrap one does. */
export type PairedComparisonOptions =
  | { method?: 't'; level?: number }
  | { method: 'bootstrap'; seed: number | string; level?: number; resamples?: number };

/** A paired comparison of a and b (plain object). */
export interface PairedComparisonResult {
  /** Number of pairs (seeds / splits). */
  n: number;
  method: PairedMethod;
  level: number;
  /** mean(a[i] - b[i]). */
  meanDifference: number;
  /** Sample standard deviation of the differences (NaN when n = 1). */
  sdDifference: number;
  /** Paired t statistic `meanDifference / (sdDifference / sqrt(n))` (both methods; NaN when n = 1). */
  tStatistic: number;
  /** n - 1. */
  df: number;
  /** Interval for the mean difference at `level`. */
  lower: number;
  upper: number;
  /** Two-sided p-value (see {@link pairedComparison}); NaN when n = 1. */
  pValue: number;
  verdict: PairedVerdict;
}

function verdictOf(lower: number, upper: number): PairedVerdict {
  if (lower > 0) return 'a higher';
  if (upper < 0) return 'b higher';
  return 'no difference shown'; // includes an endpoint at 0 and NaN bounds
}

/**
 * Paired comparison of two methods measured on the same seeds / splits:
 * `a[i]` and `b[i]` come from run i, and the differences `d[i] = a[i] - b[i]`
 * are analysed.
 *
 * - `method: 't'` (default): the paired t-test. Interval
 *   `mean(d) ± t_{(1+level)/2, n-1} sd(d)/sqrt(n)`; `t = mean(d) / (sd(d)/sqrt(n))`;
 *   two-sided `p = 2 P(T_{n-1} > |t|)`. All differences equal: zero spread,
 *   `t = ±Infinity` and `p = 0` when they are non-zero, `t = 0` and `p = 1` when all are 0.
 * - `method: 'bootstrap'` (needs `seed`; `resamples` default 10000): percentile
 *   bootstrap interval of mean(d) (as {@link bootstrapInterval}), and the
 *   bootstrap p-value that inverts that interval,
 *   `p = min(1, 2 min(#(d* <= 0) + 1, #(d* >= 0) + 1) / (B + 1))` over the B
 *   resampled means d* (smallest possible value 2/(B+1)). It is not a
 *   null-resampling test; it agrees with the interval up to resampling
 *   discreteness.
 *
 * Verdict from the interval only: 'a higher' when lower > 0, 'b higher' when
 * upper < 0, otherwise 'no difference shown' (the interval contains 0). "Higher"
 * is not "better": for a loss or HD95 lower is better. With one pair the
 * interval is (-Infinity, Infinity), p is NaN and the verdict 'no difference shown'.
 * Default level 0.95.
 * Example (Student's sleep data, differences 1.2, 2.4, 1.3, 1.3, 0, 1.0, 1.8,
 * 0.8, 4.6, 1.4): mean 1.58, t = 4.062, df 9, p = 0.00283, 95% CI [0.700, 2.460].
 * @throws when the lengths differ (naming both), for empty input, non-finite
 *   values, a level outside (0, 1), an unknown method, or a bootstrap without seed.
 */
export function pairedComparison(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: PairedComparisonOptions = {},
): PairedComparisonResult {
  const fn = 'pairedComparison';
  if (a.length !== b.length) {
    throw new Error(
      `${fn}: a has ${a.length} values but b has ${b.length}; a paired comparison needs one value per seed/split in each, in the same order`,
    );
  }
  checkSample(a, fn, 'a');
  checkSample(b, fn, 'b');
  const method = (options.method ?? 't') as PairedMethod;
  if (method !== 't' && method !== 'bootstrap') {
    throw new Error(`${fn}: unknown method '${String(method)}'; expected 't' or 'bootstrap'`);
  }
  const level = checkLevel(options.level ?? 0.95, fn);
  const n = a.length;
  const d = new Array<number>(n);
  for (let i = 0; i < n; i++) d[i] = a[i] - b[i];
  checkSample(d, fn, 'a - b');

  const ti = tIntervalUnchecked(d, level);
  const df = n - 1;
  let tStatistic = NaN;
  let tP = NaN;
  if (n >= 2) {
    if (ti.sd === 0) {
      tStatistic = ti.mean === 0 ? 0 : ti.mean > 0 ? Infinity : -Infinity;
      tP = ti.mean === 0 ? 1 : 0;
    } else {
      tStatistic = ti.mean / (ti.sd / Math.sqrt(n));
      tP = Math.min(1, 2 * studentTUpperTail(Math.abs(tStatistic), df));
    }
  }
  const common = { n, method, level, meanDifference: ti.mean, sdDifference: ti.sd, tStatistic, df };

  if (method === 't') {
    return { ...common, lower: ti.lower, upper: ti.upper, pValue: tP, verdict: verdictOf(ti.lower, ti.upper) };
  }
  const o = options as { seed?: number | string; resamples?: number };
  const setup = checkBootstrapOptions({ seed: o.seed, resamples: o.resamples, level }, fn);
  const { result, distribution } = bootstrapUnchecked(d, setup, fn);
  let pValue = NaN;
  if (distribution) {
    let le = 0;
    let ge = 0;
    for (const v of distribution) {
      if (v <= 0) le++;
      if (v >= 0) ge++;
    }
    pValue = Math.min(1, (2 * (Math.min(le, ge) + 1)) / (distribution.length + 1));
  }
  return { ...common, lower: result.lower, upper: result.upper, pValue, verdict: verdictOf(result.lower, result.upper) };
}

// ---------------------------------------------------------------- formatting

/** Anything with an interval and a centre: a {@link TIntervalResult}, {@link BootstrapResult} or {@link PairedComparisonResult}. */
export type IntervalLike = { lower: number; upper: number } & (
  | { mean: number }
  | { estimate: number }
  | { meanDifference: number }
);

function fixed(v: number, digits: number): string {
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (Number.isNaN(v)) return 'NaN';
  const s = v.toFixed(digits);
  return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s; // no "-0.000"
}

/**
 * `centre [lower, upper]` with `digits` decimals (default 3), e.g.
 * `0.512 [0.471, 0.553]`; the centre is `mean`, `estimate` or `meanDifference`.
 * Infinite bounds print as `-inf` / `inf`, and `-0.000` as `0.000`.
 */
export function formatInterval(r: IntervalLike, digits = 3): string {
  if (!Number.isInteger(digits) || digits < 0 || digits > 100) {
    throw new RangeError(`formatInterval: digits must be an integer in [0, 100], got ${String(digits)}`);
  }
  const centre = 'mean' in r ? r.mean : 'estimate' in r ? r.estimate : r.meanDifference;
  return `${fixed(centre, digits)} [${fixed(r.lower, digits)}, ${fixed(r.upper, digits)}]`;
}
