/** Pure aggregation maths: FedAvg, the running averager, FedBN masks, server optimizers, clipping + noise. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WeightedAverager, clipAndNoise, fedAvg, l2Norm, mergeShared, resolveServerOptimizer, serverUpdate, sharedWeightMask } from '../../src/fl/aggregate';
import { byteCount } from '../../src/models/weights';

const F = (...x: number[]) => Float32Array.from(x);
const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-6) => {
  assert.is(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `index ${i}: ${a[i]} vs ${b[i]}`);
};

test('fedAvg of identical updates is the identity (any sample counts)', () => {
  const w = [F(1.5, -2, 3), F(0.25)];
  const out = fedAvg([
    { weights: w, numSamples: 3 },
    { weights: w, numSamples: 17 },
    { weights: w, numSamples: 1 },
  ]);
  close(out[0], w[0]);
  close(out[1], w[1]);
});

test('fedAvg weights follow sample counts (hand-computed)', () => {
  // (1*10 + 4*30) / 40 = 3.25 ; (2*10 + 0*30) / 40 = 0.5 ; (-1*10 + 3*30)/40 = 2
  const out = fedAvg([
    { weights: [F(1, 2), F(-1)], numSamples: 10 },
    { weights: [F(4, 0), F(3)], numSamples: 30 },
  ]);
  close(out[0], [3.25, 0.5]);
  close(out[1], [2]);
});

test('running averager equals the batch average and keeps one buffer', () => {
  const ups = [
    { weights: [F(0.1, 0.2, 0.3)], numSamples: 5 },
    { weights: [F(-1, 2, 7)], numSamples: 2 },
    { weights: [F(3, 3, -3)], numSamples: 9 },
  ];
  const acc = new WeightedAverager();
  for (const u of ups) acc.add(u.weights, u.numSamples);
  assert.is(acc.size, 3);
  assert.is(acc.totalSamples, 16);
  const batch = fedAvg(ups);
  close(acc.result()[0], batch[0]);
  // by hand: (0.5 - 2 + 27)/16, (1 + 4 + 27)/16, (1.5 + 14 - 27)/16
  close(batch[0], [25.5 / 16, 32 / 16, -11.5 / 16]);
});

test('fedAvg / averager reject bad input', () => {
  assert.throws(() => fedAvg([]), /no updates/);
  assert.throws(() => fedAvg([{ weights: [F(1)], numSamples: 0 }]), /numSamples/);
  assert.throws(() => fedAvg([{ weights: [F(1)], numSamples: 1 }, { weights: [F(1, 2)], numSamples: 1 }]), /elements/);
  assert.throws(() => new WeightedAverager().result(), /no update/);
});

test('FedBN mask keeps BatchNormalization weights local; mergeShared picks per entry', () => {
  const specs = [{ layerClass: 'Conv2D' }, { layerClass: 'BatchNormalization' }, { layerClass: 'BatchNormalization' }, { layerClass: 'Dense' }];
  assert.equal(sharedWeightMask(specs, false), [true, true, true, true]);
  const mask = sharedWeightMask(specs, true);
  assert.equal(mask, [true, false, false, true]);
  const g = [F(1), F(2), F(3), F(4)];
  const l = [F(10), F(20), F(30), F(40)];
  assert.equal(mergeShared(g, l, mask).map((a) => a[0]), [1, 20, 30, 4]);
  assert.is(byteCount(g, mask), 8);
  assert.is(byteCount(g), 16);
});

test('server optimizer none = plain average; FedAvgM and FedAdam by hand', () => {
  const x = [F(1, -1)];
  const d = [F(0.5, 0.25)];
  const none = serverUpdate(x, d, { step: 0 }, resolveServerOptimizer({ name: 'none' }));
  close(none.weights[0], [1.5, -0.75]);
  // FedAvgM beta 0.5, eta 2: m1 = d ; x1 = x + 2d ; m2 = 0.5 d + d = 1.5 d ; x2 = x1 + 3 d
  const optM = resolveServerOptimizer({ name: 'fedavgm', momentum: 0.5, learningRate: 2 });
  const s1 = serverUpdate(x, d, { step: 0 }, optM);
  close(s1.weights[0], [2, -0.5]);
  const s2 = serverUpdate(s1.weights, d, s1.state, optM);
  close(s2.weights[0], [3.5, 0.25]);
  assert.is(s2.state.step, 2);
  // FedAdam b1 .9 b2 .99 eta .1 tau .001, one step: m = .1 d, v = .01 d^2, x += .1 * .1 d / (.1 |d| + .001)
  const optA = resolveServerOptimizer({ name: 'fedadam', learningRate: 0.1, beta1: 0.9, beta2: 0.99, tau: 0.001, biasCorrection: false });
  const a1 = serverUpdate(x, d, { step: 0 }, optA);
  close(a1.weights[0], [1 + (0.01 * 0.5) / (0.05 + 0.001), -1 + (0.01 * 0.25) / (0.025 + 0.001)], 1e-5);
  // Input state untouched (pure), moving stats (apply=false) are plainly averaged.
  const a2 = serverUpdate(a1.weights, d, a1.state, optA, [false]);
  close(a2.weights[0], [a1.weights[0][0] + 0.5, a1.weights[0][1] + 0.25]);
  close(a1.state.m![0], [0.05, 0.025]);
});

test("FedAdam's bias-corrected step (Flower), FedYogi and FedAdagrad by hand", () => {
  const x = [F(1)];
  const d = [F(0.5)];
  // Flower FedAdam, round t = 1: eta_t = 0.1 sqrt(1 - .99^2) / (1 - .9^2); m = .05, v = .0025
  const a = serverUpdate(x, d, { step: 0 }, resolveServerOptimizer({ name: 'fedadam' }));
  const etaT = (0.1 * Math.sqrt(1 - 0.99 ** 2)) / (1 - 0.9 ** 2);
  close(a.weights[0], [1 + (etaT * 0.05) / (Math.sqrt(0.0025) + 1e-3)], 1e-5);
  // FedYogi eta .01: m = .05; v = 0 - .01 * .25 * sign(0 - .25) = .0025; x += .01 * .05 / (.05 + .001)
  const y = serverUpdate(x, d, { step: 0 }, resolveServerOptimizer({ name: 'fedyogi' }));
  close(y.weights[0], [1 + (0.01 * 0.05) / (0.05 + 0.001)], 1e-6);
  close(y.state.v![0], [0.0025]);
  // second Yogi step with the same delta: v - .01 * .25 * sign(.0025 - .25) = .0025 + .0025
  const y2 = serverUpdate(y.weights, d, y.state, resolveServerOptimizer({ name: 'fedyogi' }));
  close(y2.state.v![0], [0.005]);
  // FedAdagrad eta .1, beta1 0: m = .5, v = .25; x += .1 * .5 / (.5 + .001)
  const g = serverUpdate(x, d, { step: 0 }, resolveServerOptimizer({ name: 'fedadagrad' }));
  close(g.weights[0], [1 + (0.1 * 0.5) / (0.5 + 0.001)], 1e-6);
});

test("resolveServerOptimizer: Flower's defaults and validation", () => {
  assert.equal(resolveServerOptimizer(), { name: 'none', learningRate: 1, momentum: 0, beta1: 0, beta2: 0, tau: 1e-3, biasCorrection: false });
  assert.equal(resolveServerOptimizer({ name: 'fedavgm' }).momentum, 0);
  assert.is(resolveServerOptimizer({ name: 'fedadam' }).learningRate, 0.1);
  assert.is(resolveServerOptimizer({ name: 'fedadam' }).biasCorrection, true);
  assert.is(resolveServerOptimizer({ name: 'fedyogi' }).learningRate, 0.01);
  assert.is(resolveServerOptimizer({ name: 'fedadagrad' }).beta1, 0);
  assert.throws(() => resolveServerOptimizer({ name: 'sgd' as never }), /fedavgm/);
  assert.throws(() => resolveServerOptimizer({ name: 'fedavgm', momentum: -1 }), /momentum/);
});

test('clipAndNoise: clips to C, leaves small updates, seeded noise with std sigma*C', () => {
  const u = [F(3, 4), F(0)]; // norm 5
  const c = clipAndNoise(u, { clipNorm: 1, seed: 1 });
  assert.is(c.norm, 5);
  assert.ok(Math.abs(c.scale - 0.2) < 1e-12);
  close(c.update[0], [0.6, 0.8]);
  assert.ok(Math.abs(l2Norm(c.update) - 1) < 1e-6);
  const small = clipAndNoise(u, { clipNorm: 10, seed: 1 });
  assert.is(small.scale, 1);
  close(small.update[0], [3, 4]);
  const big = [new Float32Array(20000)];
  const n1 = clipAndNoise(big, { clipNorm: 2, noiseMultiplier: 0.5, seed: 'x' });
  const n2 = clipAndNoise(big, { clipNorm: 2, noiseMultiplier: 0.5, seed: 'x' });
  const n3 = clipAndNoise(big, { clipNorm: 2, noiseMultiplier: 0.5, seed: 'y' });
  assert.equal(Array.from(n1.update[0].slice(0, 5)), Array.from(n2.update[0].slice(0, 5)));
  assert.not.equal(Array.from(n1.update[0].slice(0, 5)), Array.from(n3.update[0].slice(0, 5)));
  const xs = n1.update[0];
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
  assert.ok(Math.abs(std - 1) < 0.03, `std ${std} (expected sigma*C = 1)`);
  assert.throws(() => clipAndNoise(u, { clipNorm: 0, seed: 1 }), /clipNorm/);
});

test.run();
