import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  addGaussianNoise,
  clipAndNoise,
  computeEpsilon,
  gaussianRdp,
  l2Norm,
  noiseSeed,
  privatizeUpdate,
  rdpToEpsilon,
} from '../../../src/fl/privacy/dp';

const close = (a: number, b: number, tol = 1e-6, msg = '') => assert.ok(Math.abs(a - b) <= tol, `${msg} expected ${b}, got ${a}`);

function stats(xs: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  const m = s / xs.length;
  let v = 0;
  for (let i = 0; i < xs.length; i++) v += (xs[i] - m) ** 2;
  return { mean: m, std: Math.sqrt(v / xs.length) };
}

// ---- clipping ----
// [3] and [4] across two arrays: global norm 5.
const clipTable: [string, Float32Array[], number, number[][], number][] = [
  ['clipped to C = 1', [Float32Array.of(3), Float32Array.of(4)], 1, [[0.6], [0.8]], 0.2],
  ['clipped to C = 2.5', [Float32Array.of(3, 0), Float32Array.of(-4)], 2.5, [[1.5, 0], [-2]], 0.5],
  ['small update unchanged', [Float32Array.of(0.3), Float32Array.of(-0.4)], 1, [[0.3], [-0.4]], 1],
  ['norm exactly C unchanged', [Float32Array.of(3), Float32Array.of(4)], 5, [[3], [4]], 1],
];

for (const [name, update, C, expected, scale] of clipTable) {
  test(`clipAndNoise (sigma 0): ${name}`, () => {
    const r = clipAndNoise(update, { clipNorm: C, seed: 1 });
    assert.equal(r.update.length, expected.length);
    r.update.forEach((a, i) => a.forEach((v, j) => close(v, expected[i][j], 1e-6)));
    close(r.scale, scale, 1e-9);
    close(r.norm, l2Norm(update), 1e-9);
    assert.ok(l2Norm(r.update) <= C * (1 + 1e-6), 'norm bounded by C');
  });
}

test('clipping bounds the norm of random large updates to exactly C', () => {
  const update = [new Float32Array(500).map((_, i) => Math.sin(i) * 3), new Float32Array(77).map((_, i) => i / 10)];
  for (const C of [0.1, 1, 7]) {
    const r = clipAndNoise(update, { clipNorm: C, seed: 0 });
    close(l2Norm(r.update), C, 1e-5 * C, `C=${C}`);
  }
  // input untouched (pure)
  close(update[1][10], 1, 1e-7);
});

test('privatizeUpdate: masked arrays are clipped, the others copied and left out of the norm', () => {
  const update = [Float32Array.of(3, 4), Float32Array.of(100), Float32Array.of(0)];
  const r = privatizeUpdate(update, { clipNorm: 1, seed: 3, mask: [true, false, true] });
  close(r.norm, 5);
  close(r.scale, 0.2);
  close(r.update[0][0], 0.6);
  close(r.update[0][1], 0.8);
  close(r.update[1][0], 100);
  assert.ok(r.update[1] !== update[1], 'fresh array');
  assert.throws(() => privatizeUpdate(update, { clipNorm: 1, seed: 0, mask: [true] }), /mask has 1 entries/);
});

test('clipAndNoise errors name the bad value', () => {
  assert.throws(() => clipAndNoise([Float32Array.of(1)], { clipNorm: 0, seed: 0 }), /clipNorm/);
  assert.throws(() => clipAndNoise([Float32Array.of(1)], { clipNorm: 1, noiseMultiplier: -1, seed: 0 }), /noiseMultiplier/);
});

// ---- noise ----
test('noise is seeded: same seed same noise, different seed different noise', () => {
  const zero = [new Float32Array(64), new Float32Array(10)];
  const a = clipAndNoise(zero, { clipNorm: 1, noiseMultiplier: 1, seed: 42 }).update;
  const b = clipAndNoise(zero, { clipNorm: 1, noiseMultiplier: 1, seed: 42 }).update;
  const c = clipAndNoise(zero, { clipNorm: 1, noiseMultiplier: 1, seed: 43 }).update;
  assert.equal(Array.from(a[0]), Array.from(b[0]));
  assert.equal(Array.from(a[1]), Array.from(b[1]));
  assert.not.equal(Array.from(a[0]), Array.from(c[0]));
  const n1 = addGaussianNoise(zero, { std: 1, seed: 'x' });
  const n2 = addGaussianNoise(zero, { std: 1, seed: 'x' });
  assert.equal(Array.from(n1[0]), Array.from(n2[0]));
});

test('noise has std sigma * C and mean 0 (statistical, n = 40000)', () => {
  const zero = [new Float32Array(30000), new Float32Array(10000)];
  for (const [C, sigma] of [[2, 0.5], [0.1, 3]] as const) {
    const out = clipAndNoise(zero, { clipNorm: C, noiseMultiplier: sigma, seed: 7 }).update;
    const all = new Float32Array(40000);
    all.set(out[0]);
    all.set(out[1], 30000);
    const s = stats(all);
    // std error of the sample std ~ std / sqrt(2n) = 0.35%; allow 3%.
    close(s.std, sigma * C, 0.03 * sigma * C, `std C=${C} sigma=${sigma}`);
    close(s.mean, 0, (4 * sigma * C) / Math.sqrt(40000), 'mean');
  }
  const n = addGaussianNoise([new Float32Array(20000), Float32Array.of(5)], { std: 0.25, seed: 1, mask: [true, false] });
  close(stats(n[0]).std, 0.25, 0.03 * 0.25);
  close(n[1][0], 5);
});

test('noise is added after clipping: a clipped update plus noise averages back to the clipped update', () => {
  const update = [new Float32Array(20000).fill(1)]; // norm sqrt(20000)
  const out = clipAndNoise(update, { clipNorm: 1, noiseMultiplier: 0.01, seed: 5 }).update[0];
  const clippedValue = 1 / Math.sqrt(20000);
  const s = stats(out);
  close(s.mean, clippedValue, 4 * 0.01 / Math.sqrt(20000));
  close(s.std, 0.01, 0.03 * 0.01);
});

test('noiseSeed: reproducible and distinct per round and client', () => {
  assert.is(noiseSeed(1, 0, 'a'), noiseSeed(1, 0, 'a'));
  const seen = new Set([noiseSeed(1, 0, 'a'), noiseSeed(1, 1, 'a'), noiseSeed(1, 0, 'b'), noiseSeed(2, 0, 'a')]);
  assert.is(seen.size, 4);
});

// ---- accountant ----
test('gaussianRdp: alpha / (2 sigma^2) without subsampling', () => {
  close(gaussianRdp(2, 1), 1);
  close(gaussianRdp(10, 2), 10 / 8);
  close(gaussianRdp(1.5, 0.5), 3);
  assert.is(gaussianRdp(2, 0), Infinity);
});

test('gaussianRdp: sampled Gaussian, hand-computed order 2 and the q -> 1 limit', () => {
  // alpha = 2: A = (1-q)^2 + 2q(1-q) + q^2 e^{1/sigma^2} = 1 + q^2 (e^{1/sigma^2} - 1); rdp = log A
  close(gaussianRdp(2, 1, 0.1), Math.log(1 + 0.01 * (Math.E - 1)), 1e-12);
  close(gaussianRdp(2, 1, 0.1), 0.0170371, 1e-6);
  close(gaussianRdp(2, 2, 0.5), Math.log(1 + 0.25 * (Math.exp(0.25) - 1)), 1e-12);
  // q -> 1 recovers alpha / (2 sigma^2)
  close(gaussianRdp(3, 1, 1 - 1e-9), 1.5, 1e-6);
  close(gaussianRdp(8, 3, 1 - 1e-9), 8 / 18, 1e-6);
  // subsampling amplifies privacy
  assert.ok(gaussianRdp(8, 1, 0.01) < gaussianRdp(8, 1, 0.1));
  assert.ok(gaussianRdp(8, 1, 0.1) < gaussianRdp(8, 1, 1));
  assert.throws(() => gaussianRdp(2.5, 1, 0.1), /integer orders/);
  assert.throws(() => gaussianRdp(1, 1), /alpha/);
  assert.throws(() => gaussianRdp(2, 1, 0), /samplingRate/);
});

test('rdpToEpsilon: hand-computed conversions at one order', () => {
  // classic: 1 + log(1e5) / 1 = 12.512925; improved: 1 + log(1/2) - (log 1e-5 + log 2) = 11.126631
  close(rdpToEpsilon([2], [1], 1e-5, 'classic').epsilon, 1 + Math.log(1e5), 1e-9);
  close(rdpToEpsilon([2], [1], 1e-5, 'classic').epsilon, 12.512925, 1e-6);
  close(rdpToEpsilon([2], [1], 1e-5, 'improved').epsilon, 11.126631, 1e-6);
  const r = rdpToEpsilon([2, 3, 5], [10, 0.3, 5], 1e-3, 'classic');
  assert.is(r.order, 3);
  close(r.epsilon, 0.3 + Math.log(1000) / 2, 1e-9);
});

test('computeEpsilon: hand-computed closed form (q = 1, classic)', () => {
  // eps = T/(2 sigma^2) + sqrt(2 T log(1/delta)) / sigma; T=1, sigma=1, delta=1e-5:
  // 0.5 + sqrt(2 * 11.512925) = 0.5 + 4.798526 = 5.298526
  const e = computeEpsilon({ noiseMultiplier: 1, steps: 1, delta: 1e-5, conversion: 'classic' });
  close(e.epsilon, 5.298526, 1e-5);
  close(e.order, 1 + Math.sqrt(2 * Math.log(1e5)), 1e-9);
  // only T / sigma^2 matters: T=4, sigma=2 gives the same
  close(computeEpsilon({ noiseMultiplier: 2, steps: 4, conversion: 'classic' }).epsilon, 5.298526, 1e-5);
  // the improved conversion is tighter
  assert.ok(computeEpsilon({ noiseMultiplier: 1, steps: 1 }).epsilon < e.epsilon);
});

test('computeEpsilon: grows with rounds, shrinks with sigma and with subsampling', () => {
  for (const q of [1, 0.1]) {
    for (const conversion of ['classic', 'improved'] as const) {
      const byT = [1, 2, 4, 8, 16].map((steps) => computeEpsilon({ noiseMultiplier: 1.1, steps, samplingRate: q, conversion }).epsilon);
      for (let i = 1; i < byT.length; i++) assert.ok(byT[i] > byT[i - 1], `q=${q} ${conversion}: eps must grow with T (${byT})`);
      const bySigma = [0.5, 1, 2, 4].map((s) => computeEpsilon({ noiseMultiplier: s, steps: 10, samplingRate: q, conversion }).epsilon);
      for (let i = 1; i < bySigma.length; i++) assert.ok(bySigma[i] < bySigma[i - 1], `q=${q} ${conversion}: eps must shrink with sigma (${bySigma})`);
    }
  }
  assert.ok(computeEpsilon({ noiseMultiplier: 1, steps: 10, samplingRate: 0.1 }).epsilon < computeEpsilon({ noiseMultiplier: 1, steps: 10 }).epsilon);
  assert.is(computeEpsilon({ noiseMultiplier: 1, steps: 0 }).epsilon, 0);
  assert.is(computeEpsilon({ noiseMultiplier: 0, steps: 3 }).epsilon, Infinity);
});

test('computeEpsilon: invalid options throw with the value', () => {
  assert.throws(() => computeEpsilon({ noiseMultiplier: 1, steps: 1.5 }), /steps/);
  assert.throws(() => computeEpsilon({ noiseMultiplier: 1, steps: 1, delta: 0 }), /delta/);
  assert.throws(() => computeEpsilon({ noiseMultiplier: -1, steps: 1 }), /noiseMultiplier/);
  assert.throws(() => computeEpsilon({ noiseMultiplier: 1, steps: 1, samplingRate: 1.5 }), /samplingRate/);
});

test.run();
