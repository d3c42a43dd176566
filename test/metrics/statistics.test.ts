import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bootstrapInterval,
  formatInterval,
  mean,
  pairedComparison,
  sampleStd,
  sampleVariance,
  studentTCdf,
  studentTQuantile,
  tInterval,
  type IntervalLike,
  type PairedVerdict,
} from '../../src/metrics/statistics';
import { createRng } from '../../src/util/rng';
import { close } from './helpers';

// Reference values marked "mpmath" were computed with mpmath at 30 digits
// (regularized incomplete beta / findroot), independently of this code.

// ---------------------------------------------------------------- moments

test('mean / sampleVariance / sampleStd: hand-computed table', () => {
  const cases: [number[], [number, number, number]][] = [
    // xs, [mean, variance (n-1), sd]
    [[1, 2, 3, 4, 5], [3, 2.5, 1.5811388300841898]],
    [[2, 4, 4, 4, 5, 5, 7, 9], [5, 32 / 7, Math.sqrt(32 / 7)]],
    [[-1, 1], [0, 2, Math.SQRT2]],
    [[0.25, 0.25, 0.25], [0.25, 0, 0]],
    [[7], [7, NaN, NaN]], // one value: spread undefined, not 0
    [[1e9 + 1, 1e9 + 2, 1e9 + 3], [1e9 + 2, 1, 1]], // large offset, no cancellation
  ];
  for (const [xs, [m, v, s]] of cases) {
    close(mean(xs), m, 1e-12, `mean ${xs}`);
    close(sampleVariance(xs), v, 1e-9, `variance ${xs}`);
    close(sampleStd(xs), s, 1e-9, `sd ${xs}`);
  }
  close(mean(Float64Array.from([0.5, 0.7])), 0.6, 1e-15, 'typed array');
});

test('moments: empty input and non-finite values throw, naming the index', () => {
  for (const fn of [mean, sampleVariance, sampleStd]) {
    assert.throws(() => fn([]), /empty/);
    assert.throws(() => fn([0.8, NaN, 0.7]), /xs\[1\] is NaN.*failed seed/);
    assert.throws(() => fn([0.8, 0.7, Infinity]), /xs\[2\] is Infinity/);
  }
});

// ---------------------------------------------------------------- Student t

test('studentTQuantile: textbook t_{0.975, df}', () => {
  const cases: [number, number, number][] = [
    // df, textbook (3 decimals), mpmath
    [1, 12.706, 12.706204736174705],
    [2, 4.303, 4.3026527297494639],
    [4, 2.776, 2.7764451051977944],
    [9, 2.262, 2.2621571627982055],
    [29, 2.045, 2.0452296421327043],
    [1000, 1.962, 1.9623390808264085],
  ];
  for (const [df, book, ref] of cases) {
    const q = studentTQuantile(0.975, df);
    close(q, book, 5e-4, `textbook df=${df}`);
    close(q, ref, 1e-10 * ref, `mpmath df=${df}`);
    close(studentTQuantile(0.025, df), -q, 1e-12 * q, `symmetry df=${df}`); // 1 - 0.975 !== 0.025 in floating point
  }
});

test('studentTQuantile: other levels, real df, far tails (mpmath)', () => {
  const cases: [number, number, number][] = [
    // p, df, quantile
    [0.995, 9, 3.2498355415921263],
    [0.9, 3.5, 1.5765766051364051],
    [0.95, 4, 2.1318467863266503],
    [1e-9, 1, -318309886.18379067],
    [0.975, 1e6, 1.959966356814107],
  ];
  for (const [p, df, ref] of cases) close(studentTQuantile(p, df), ref, 1e-10 * Math.abs(ref), `p=${p} df=${df}`);
  // closed forms: df = 1 (Cauchy) t = tan(pi (p - 1/2)); df = 2: t = (2p - 1) / sqrt(2 p (1 - p))
  for (const p of [0.6, 0.8, 0.9, 0.99, 0.999]) {
    close(studentTQuantile(p, 1), Math.tan(Math.PI * (p - 0.5)), 1e-12 * Math.tan(Math.PI * (p - 0.5)), `cauchy p=${p}`);
    const t2 = (2 * p - 1) / Math.sqrt(2 * p * (1 - p));
    close(studentTQuantile(p, 2), t2, 1e-12 * t2, `df=2 p=${p}`);
  }
});

test('studentTQuantile: edges and round trip through the CDF', () => {
  assert.is(studentTQuantile(0.5, 7), 0);
  assert.is(studentTQuantile(0, 7), -Infinity);
  assert.is(studentTQuantile(1, 7), Infinity);
  for (const df of [0.5, 1, 3.5, 30, 1e4]) {
    for (const p of [1e-10, 0.01, 0.3, 0.7, 0.99, 1 - 1e-10]) {
      const back = studentTCdf(studentTQuantile(p, df), df);
      const tail = Math.min(p, 1 - p);
      close(back, p, Math.max(1e-9 * tail, 1e-15), `df=${df} p=${p}`);
    }
  }
});

test('studentTCdf: values against mpmath', () => {
  const cases: [number, number, number][] = [
    // t, df, P(T <= t)
    [2, 5, 0.94903026058507082],
    [1.5, 3, 0.88470806737758847],
    [-0.7, 7, 0.2532587760977999],
    [3.1, 12, 0.99540500181080433],
    [1.96, 1000, 0.97486340752212564],
    [-4, 2.5, 0.019506487920659123],
    [0.3, 0.5, 0.57757042393475459],
    [8, 30, 0.99999999686708876],
    [1.5, 25, 0.92693076743099032],
    [-2.5, 41, 0.0082563525953825812],
    [0.1, 19.5, 0.53931735802895862],
    [2, 1e6, 0.9772497330743404],
    [-3, 1e8, 0.0013498983640187472],
  ];
  for (const [t, df, ref] of cases) close(studentTCdf(t, df), ref, 1e-11, `t=${t} df=${df}`);
  // lower tails keep relative precision
  close(studentTCdf(-6, 100), 1.5862457514014283e-8, 1e-10 * 1.5862457514014283e-8, 'far tail df=100');
  close(studentTCdf(-40, 1), Math.atan(1 / 40) / Math.PI, 1e-12 * (Math.atan(1 / 40) / Math.PI), 'far tail df=1');
});

test('studentTCdf: closed forms for df = 1, 2, 3 and symmetry', () => {
  const closed: [number, (t: number) => number][] = [
    [1, (t) => 0.5 + Math.atan(t) / Math.PI],
    [2, (t) => 0.5 + t / (2 * Math.sqrt(2 + t * t))],
    [3, (t) => 0.5 + (t / (Math.sqrt(3) * (1 + (t * t) / 3)) + Math.atan(t / Math.sqrt(3))) / Math.PI],
  ];
  for (const [df, F] of closed) {
    for (const t of [-50, -3, -1, -0.25, 0, 0.01, 0.5, 1, 2.5, 7, 100]) {
      close(studentTCdf(t, df), F(t), 1e-13, `df=${df} t=${t}`);
      close(studentTCdf(t, df) + studentTCdf(-t, df), 1, 1e-15, `symmetry df=${df} t=${t}`);
    }
  }
  assert.is(studentTCdf(Infinity, 4), 1);
  assert.is(studentTCdf(-Infinity, 4), 0);
  assert.is(studentTCdf(0, 4), 0.5);
});

test('Student t: bad df, p or t throw', () => {
  for (const df of [0, -1, NaN, Infinity]) {
    assert.throws(() => studentTCdf(1, df), /degrees of freedom/);
    assert.throws(() => studentTQuantile(0.9, df), /degrees of freedom/);
  }
  for (const p of [-0.1, 1.1, NaN]) assert.throws(() => studentTQuantile(p, 3), /p must be a probability/);
  assert.throws(() => studentTCdf(NaN, 3), /t must be a number/);
});

// ---------------------------------------------------------------- t interval

test('tInterval: hand-computed table', () => {
  const cases: [number[], number | undefined, { mean: number; sd: number; lower: number; upper: number }][] = [
    // xs, level, expected (t_{0.975,4} = 2.7764, t_{0.95,4} = 2.1318, t_{0.975,1} = 12.7062)
    [[1, 2, 3, 4, 5], undefined, { mean: 3, sd: 1.5811388300841898, lower: 1.0367568385224423, upper: 4.9632431614775577 }],
    [[1, 2, 3, 4, 5], 0.9, { mean: 3, sd: 1.5811388300841898, lower: 1.4925566809376767, upper: 4.5074433190623233 }],
    [[0, 2], 0.95, { mean: 1, sd: Math.SQRT2, lower: 1 - 12.706204736174705, upper: 1 + 12.706204736174705 }],
    [[0.5, 0.5, 0.5], 0.95, { mean: 0.5, sd: 0, lower: 0.5, upper: 0.5 }], // identical seeds: true zero width
  ];
  for (const [xs, level, e] of cases) {
    const r = tInterval(xs, level === undefined ? {} : { level });
    const msg = `${xs} level ${level}`;
    assert.is(r.n, xs.length, msg);
    assert.is(r.level, level ?? 0.95, msg);
    close(r.mean, e.mean, 1e-12, `${msg} mean`);
    close(r.sd, e.sd, 1e-12, `${msg} sd`);
    close(r.lower, e.lower, 1e-9, `${msg} lower`);
    close(r.upper, e.upper, 1e-9, `${msg} upper`);
    close(r.halfWidth, (e.upper - e.lower) / 2, 1e-9, `${msg} halfWidth`);
  }
});

test('tInterval: one value gives an infinite interval, not a zero width', () => {
  assert.equal(tInterval([0.8]), { n: 1, mean: 0.8, sd: NaN, halfWidth: Infinity, lower: -Infinity, upper: Infinity, level: 0.95 });
});

test('tInterval: order invariance, input untouched', () => {
  const xs = [0.61, 0.58, 0.66, 0.59, 0.63];
  const copy = xs.slice();
  const a = tInterval(xs);
  const b = tInterval([0.63, 0.59, 0.61, 0.66, 0.58]);
  close(a.lower, b.lower, 1e-14);
  close(a.upper, b.upper, 1e-14);
  assert.equal(xs, copy);
});

test('tInterval: errors (empty, NaN seed, level)', () => {
  assert.throws(() => tInterval([]), /tInterval: xs is empty/);
  assert.throws(() => tInterval([0.7, NaN]), /xs\[1\] is NaN/);
  for (const level of [0, 1, 1.5, -0.5, NaN]) assert.throws(() => tInterval([1, 2], { level }), /level must be in \(0, 1\)/);
});

// ---------------------------------------------------------------- bootstrap

function normalSample(seed: number, n: number, mu = 0.7, sigma = 0.05): number[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => rng.normal(mu, sigma));
}

test('bootstrapInterval: same seed same interval; another seed another one', () => {
  const xs = normalSample(1, 12);
  const a = bootstrapInterval(xs, { seed: 42, resamples: 2000 });
  const b = bootstrapInterval(xs, { seed: 42, resamples: 2000 });
  const c = bootstrapInterval(xs, { seed: 'other', resamples: 2000 });
  assert.equal(a, b);
  assert.ok(a.lower !== c.lower || a.upper !== c.upper, 'different seed, different resamples');
  assert.is(a.resamples, 2000);
  assert.is(a.level, 0.95);
  assert.is(a.n, 12);
  assert.is(a.method, 'percentile');
  close(a.estimate, mean(xs), 1e-15);
});

test('bootstrapInterval: contains the sample mean and lies within the data range', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const xs = normalSample(seed, 8 + seed * 3);
    const r = bootstrapInterval(xs, { seed, resamples: 2000 });
    assert.ok(r.lower <= r.estimate && r.estimate <= r.upper, `seed ${seed}: ${formatInterval(r, 4)}`);
    assert.ok(r.lower >= Math.min(...xs) && r.upper <= Math.max(...xs), `seed ${seed}: within range`);
  }
});

test('bootstrapInterval: narrows with n (data repeated 4x halves the width) and tracks the t interval', () => {
  const xs = normalSample(7, 10);
  const x4 = [...xs, ...xs, ...xs, ...xs];
  const w1 = bootstrapInterval(xs, { seed: 9 });
  const w4 = bootstrapInterval(x4, { seed: 9 });
  const ratio = (w4.upper - w4.lower) / (w1.upper - w1.lower);
  assert.ok(ratio > 0.4 && ratio < 0.6, `width ratio ${ratio}`);
  // with n = 40 normal values the percentile interval is close to the t interval
  const big = normalSample(8, 40);
  const bi = bootstrapInterval(big, { seed: 3 });
  const ti = tInterval(big);
  const widthRatio = (bi.upper - bi.lower) / (ti.upper - ti.lower);
  assert.ok(widthRatio > 0.85 && widthRatio < 1.1, `bootstrap / t width ${widthRatio}`);
});

test('bootstrapInterval: higher level is wider; other statistics; per-image typed arrays', () => {
  const xs = normalSample(11, 30);
  const r90 = bootstrapInterval(xs, { seed: 1, level: 0.9 });
  const r99 = bootstrapInterval(xs, { seed: 1, level: 0.99 });
  assert.ok(r99.lower < r90.lower && r99.upper > r90.upper);
  const median = (v: readonly number[]): number => {
    const s = [...v].sort((p, q) => p - q);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const rm = bootstrapInterval([3, 1, 2, 10, 4], { seed: 2, statistic: median, resamples: 500 });
  assert.is(rm.estimate, 3);
  assert.ok(rm.lower >= 1 && rm.upper <= 10 && rm.lower <= 3 && rm.upper >= 3);
  const perImageDice = Float64Array.from([0.91, 0.85, 0.88, 0.4, 0.93, 0.9]);
  const ri = bootstrapInterval(perImageDice, { seed: 'seed-0', resamples: 1000 });
  assert.ok(ri.lower < ri.estimate && ri.estimate < ri.upper);
});

test('bootstrapInterval: one value gives an infinite interval', () => {
  const r = bootstrapInterval([0.8], { seed: 1 });
  assert.equal([r.estimate, r.lower, r.upper], [0.8, -Infinity, Infinity]);
});

test('bootstrapInterval: errors', () => {
  assert.throws(() => bootstrapInterval([], { seed: 1 }), /xs is empty/);
  assert.throws(() => bootstrapInterval([0.7, NaN, 0.8], { seed: 1 }), /xs\[1\] is NaN/);
  assert.throws(() => bootstrapInterval([1, 2], {} as never), /explicit \{ seed \}/);
  for (const resamples of [0, 1.5, -3]) assert.throws(() => bootstrapInterval([1, 2], { seed: 1, resamples }), /resamples must be an integer/);
  assert.throws(() => bootstrapInterval([1, 2], { seed: 1, level: 95 }), /level must be in \(0, 1\)/);
  assert.throws(() => bootstrapInterval([1, 2], { seed: 1, method: 'bca' as never }), /unknown bootstrap method 'bca'; expected one of 'percentile'/);
  assert.throws(() => bootstrapInterval([1, 2], { seed: 1, statistic: () => NaN }), /statistic returned NaN/);
});

// ---------------------------------------------------------------- paired comparison

// Student's sleep data (Cushny & Peebles): extra hours of sleep, same 10 patients, two drugs.
const drug1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
const drug2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];

test('pairedComparison (t): Student sleep data', () => {
  const r = pairedComparison(drug2, drug1);
  assert.is(r.n, 10);
  assert.is(r.df, 9);
  assert.is(r.method, 't');
  assert.is(r.level, 0.95);
  close(r.meanDifference, 1.58, 1e-12, 'mean');
  close(r.sdDifference, 1.2299954832798732, 1e-12, 'sd');
  close(r.tStatistic, 4.0621276833820361, 1e-10, 't');
  close(r.pValue, 0.0028328901973842727, 1e-12, 'p');
  close(r.lower, 0.7001142367230172, 1e-9, 'lower');
  close(r.upper, 2.4598857632769828, 1e-9, 'upper');
  assert.is(r.verdict, 'a higher');
  assert.is(formatInterval(r), '1.580 [0.700, 2.460]');
  // swapping a and b mirrors the result
  const s = pairedComparison(drug1, drug2);
  close(s.meanDifference, -1.58, 1e-12);
  close(s.lower, -r.upper, 1e-12);
  close(s.pValue, r.pValue, 1e-15);
  assert.is(s.verdict, 'b higher');
});

test('pairedComparison: invariant under a joint permutation of the pairs', () => {
  const perm = [3, 0, 9, 5, 1, 8, 2, 7, 4, 6];
  const r = pairedComparison(drug2, drug1);
  const p = pairedComparison(perm.map((i) => drug2[i]), perm.map((i) => drug1[i]));
  for (const k of ['meanDifference', 'lower', 'upper', 'pValue'] as const) close(p[k], r[k], 1e-12, k);
});

test('pairedComparison (bootstrap): sleep data, deterministic, p consistent with the interval', () => {
  const opts = { method: 'bootstrap', seed: 5, resamples: 4000 } as const;
  const r = pairedComparison(drug2, drug1, opts);
  assert.equal(pairedComparison(drug2, drug1, opts), r);
  assert.is(r.method, 'bootstrap');
  close(r.meanDifference, 1.58, 1e-12);
  assert.ok(r.lower > 0 && r.lower < 1.58 && r.upper > 1.58 && r.upper < 3, formatInterval(r));
  assert.is(r.verdict, 'a higher');
  // no resampled mean <= 0 here: p is at its floor 2 / (B + 1)
  assert.ok(r.pValue >= 2 / 4001 && r.pValue < 0.01, `p ${r.pValue}`);
  // a difference centred on 0: large p, interval contains 0
  const z = pairedComparison([0.1, -0.2, 0.15, -0.05, 0.0], [0, 0, 0, 0, 0], { method: 'bootstrap', seed: 1 });
  assert.ok(z.pValue > 0.5 && z.pValue <= 1, `p ${z.pValue}`);
  assert.is(z.verdict, 'no difference shown');
});

test('pairedComparison: verdict table', () => {
  const base = [0.8, 0.82, 0.79, 0.81, 0.8];
  const cases: [number[], number[], 't' | 'bootstrap', PairedVerdict][] = [
    // a, b, method, verdict
    [base.map((x, i) => x + 0.05 + [0.01, -0.01, 0.005, 0, -0.005][i]), base, 't', 'a higher'],
    [base, base.map((x, i) => x + 0.05 + [0.01, -0.01, 0.005, 0, -0.005][i]), 't', 'b higher'],
    [base.map((x, i) => x + [0.02, -0.03, 0.01, 0.01, -0.02][i]), base, 't', 'no difference shown'],
    [base.map((x, i) => x + 0.05 + [0.01, -0.01, 0.005, 0, -0.005][i]), base, 'bootstrap', 'a higher'],
    [base.map((x, i) => x + [0.02, -0.03, 0.01, 0.01, -0.02][i]), base, 'bootstrap', 'no difference shown'],
    [base, base, 't', 'no difference shown'], // all differences 0: [0, 0] contains 0
    [base.map((x) => x + 0.1), base, 't', 'a higher'], // constant difference: zero spread
  ];
  for (const [a, b, method, verdict] of cases) {
    const r = method === 't' ? pairedComparison(a, b) : pairedComparison(a, b, { method, seed: 3 });
    assert.is(r.verdict, verdict, `${method} ${formatInterval(r)}`);
    const containsZero = r.lower <= 0 && r.upper >= 0;
    assert.is(r.verdict === 'no difference shown', containsZero, `${method} interval/verdict agree`);
  }
});

test('pairedComparison: degenerate spreads and a single pair', () => {
  const same = pairedComparison([0.5, 0.6, 0.7], [0.5, 0.6, 0.7]);
  assert.equal([same.meanDifference, same.lower, same.upper, same.tStatistic, same.pValue], [0, 0, 0, 0, 1]);
  const shift = pairedComparison([1.5, 2.5, 3.5], [1, 2, 3]);
  assert.equal([shift.tStatistic, shift.pValue, shift.lower, shift.upper], [Infinity, 0, 0.5, 0.5]);
  const one = pairedComparison([0.9], [0.8]);
  assert.is(one.n, 1);
  assert.equal([one.lower, one.upper], [-Infinity, Infinity]);
  assert.ok(Number.isNaN(one.pValue) && Number.isNaN(one.tStatistic));
  assert.is(one.verdict, 'no difference shown');
  const oneB = pairedComparison([0.9], [0.8], { method: 'bootstrap', seed: 1 });
  assert.ok(Number.isNaN(oneB.pValue));
  assert.is(oneB.verdict, 'no difference shown');
});

test('pairedComparison: errors name lengths, indices and options', () => {
  assert.throws(() => pairedComparison([1, 2, 3], [1, 2]), /a has 3 values but b has 2/);
  assert.throws(() => pairedComparison([], []), /a is empty/);
  assert.throws(() => pairedComparison([1, 2, 3, 4], [1, 2, 3, NaN]), /b\[3\] is NaN/);
  assert.throws(() => pairedComparison([1, 2], [1, 2], { method: 'wilcoxon' } as never), /unknown method 'wilcoxon'; expected 't' or 'bootstrap'/);
  assert.throws(() => pairedComparison([1, 2], [1, 2], { method: 'bootstrap' } as never), /explicit \{ seed \}/);
  assert.throws(() => pairedComparison([1, 2], [1, 2], { level: 1 }), /level must be in \(0, 1\)/);
});

// ---------------------------------------------------------------- formatting

test('formatInterval: table', () => {
  const cases: [IntervalLike, number | undefined, string][] = [
    [{ mean: 0.5123, lower: 0.4712, upper: 0.5534 }, undefined, '0.512 [0.471, 0.553]'],
    [{ estimate: 0.5123, lower: 0.4712, upper: 0.5534 }, 1, '0.5 [0.5, 0.6]'],
    [{ meanDifference: -0.00004, lower: -0.0123, upper: 0.0121 }, 3, '0.000 [-0.012, 0.012]'],
    [tInterval([0.8]), 2, '0.80 [-inf, inf]'],
    [tInterval([1, 2, 3, 4, 5]), 4, '3.0000 [1.0368, 4.9632]'],
  ];
  for (const [r, digits, expected] of cases) assert.is(formatInterval(r, digits), expected);
  assert.throws(() => formatInterval({ mean: 1, lower: 0, upper: 2 }, -1), /digits must be an integer/);
});

test.run();
