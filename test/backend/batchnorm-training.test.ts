/**
 * The fused training-mode BatchNorm: values, gradients (x, gamma, beta) and
 * moving statistics against an independent reference, autodiff through
 * tf.moments + the textbook formula, on the CPU backend and on wasm.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend, batchNormTraining } from '../../src/backend';
import { createRng, randomValues, relErr, onBackend } from './helpers';
import { BN_MOVING_STATS_KERNEL } from '../../src/backend/native-batchnorm';

const EPS = 1e-5;

/** Reference: y = gamma (x - mean) / sqrt(var + eps) + beta with autodiff through the statistics. */
function reference(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor {
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, EPS))), gamma), beta);
}

function gradsOf(shape: number[], xv: Float32Array, gv: Float32Array, bv: Float32Array, fused: boolean): () => tf.Tensor[] {
  return () => {
    const C = shape[shape.length - 1];
    const x = tf.tensor(xv, shape);
    const g = tf.tensor1d(gv.subarray(0, C));
    const b = tf.tensor1d(bv.subarray(0, C));
    const r = tf.cos(tf.range(0, x.size).reshape(shape)); // non-uniform upstream gradient
    const f = (a: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
      if (!fused) return tf.sum(tf.mul(reference(a, gg, bb), r));
      const out = batchNormTraining(a, gg, bb, EPS);
      tf.dispose([out.mean, out.variance]);
      return tf.sum(tf.mul(out.y, r));
    };
    const y = fused ? batchNormTraining(x, g, b, EPS) : null;
    const yv = y ? y.y : reference(x, g, b);
    if (y) tf.dispose([y.mean, y.variance]);
    return [yv, ...tf.grads(f)([x, g, b])];
  };
}

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test('batchNormTraining: values and gradients match autodiff through tf.moments (cpu and wasm, ranks 2..4)', async () => {
  const rng = createRng(31);
  for (const shape of [[6, 3], [2, 5, 4], [2, 5, 4, 3], [3, 7, 6, 1], [1, 4, 4, 8]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const xv = randomValues(rng, n).map((v) => 3 * v + 1);
    const gv = randomValues(rng, 8).map((v) => v + 1.5);
    const bv = randomValues(rng, 8);
    const ref = await onBackend('cpu', gradsOf(shape, xv, gv, bv, false));
    for (const backend of ['cpu', 'wasm']) {
      const got = await onBackend(backend, gradsOf(shape, xv, gv, bv, true));
      ['y', 'dx', 'dgamma', 'dbeta'].forEach((label, i) => {
        assert.ok(relErr(got[i], ref[i]) < 2e-5, `${label} ${backend} ${JSON.stringify(shape)}: ${relErr(got[i], ref[i])}`);
      });
    }
  }
  await tf.setBackend('wasm');
});

test('batchNormTraining: the normalised output has zero mean and unit variance per channel (hand property)', async () => {
  const [y] = await onBackend('wasm', () => {
    const x = tf.tensor2d([1, 10, 3, 20, 5, 60], [3, 2]);
    const out = batchNormTraining(x, null, null, 0);
    const mv = [out.mean, out.variance];
    const res = [out.y, ...mv];
    return res;
  });
  // channel 0: 1,3,5 -> mean 3, var 8/3; channel 1: 10,20,60 -> mean 30, var 1400/3
  const s0 = Math.sqrt(8 / 3);
  const s1 = Math.sqrt(1400 / 3);
  const expected = [-2 / s0, -20 / s1, 0, -10 / s1, 2 / s0, 30 / s1];
  assert.ok(relErr(y, expected) < 1e-5, `${Array.from(y)}`);
});

test('BatchNormalization layer in training: patched path = reference values, grads and moving statistics', async () => {
  const rng = createRng(32);
  const shape = [2, 4, 3, 5];
  const xv = randomValues(rng, shape.reduce((a, b) => a * b, 1)).map((v) => 2 * v + 0.5);
  const gv = randomValues(rng, 5).map((v) => v + 1.2);
  const bv = randomValues(rng, 5);
  const mm = randomValues(rng, 5);
  const mvv = randomValues(rng, 5).map((v) => v + 2);
  const ref = await onBackend('cpu', gradsOf(shape, xv, gv, bv, false));
  for (const backend of ['cpu', 'wasm']) {
    await tf.setBackend(backend);
    const layer = tf.layers.batchNormalization({ axis: -1, momentum: 0.9, epsilon: EPS });
    const x = tf.tensor4d(xv, shape as [number, number, number, number]);
    layer.apply(x); // build
    layer.setWeights([tf.tensor1d(gv), tf.tensor1d(bv), tf.tensor1d(mm), tf.tensor1d(mvv)]);
    const r = tf.cos(tf.range(0, x.size).reshape(shape));
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, r)) as tf.Scalar);
    const w = layer.getWeights();
    const dGamma = grads[(w[0] as tf.Variable).name].dataSync();
    const dBeta = grads[(w[1] as tf.Variable).name].dataSync();
    assert.ok(relErr(dGamma, ref[2]) < 2e-5, `dgamma ${backend}`);
    assert.ok(relErr(dBeta, ref[3]) < 2e-5, `dbeta ${backend}`);
    // moving = 0.9 * moving + 0.1 * batch statistic (biased variance)
    const stats = tf.tidy(() => {
      const m = tf.moments(x, [0, 1, 2]);
      return [m.mean.dataSync(), m.variance.dataSync()];
    });
    const expMean = Array.from(mm, (v, i) => 0.9 * v + 0.1 * stats[0][i]);
    const expVar = Array.from(mvv, (v, i) => 0.9 * v + 0.1 * stats[1][i]);
    assert.ok(relErr(w[2].dataSync(), expMean) < 1e-5, `moving mean ${backend}`);
    assert.ok(relErr(w[3].dataSync(), expVar) < 1e-5, `moving variance ${backend}`);
    tf.dispose([value, ...Object.values(grads)]);
    assert.is(tf.memory().numTensors, before, `no leaked tensors (${backend})`);
    const yTrain = tf.tidy(() => (layer.apply(x, { training: true }) as tf.Tensor).dataSync());
    assert.ok(relErr(yTrain, ref[0]) < 2e-5, `y ${backend}`);
    tf.dispose([x, r]);
    layer.dispose();
  }
  await tf.setBackend('wasm');
});

test('moving-statistics kernel (wasm) gives the bits of the three tensor ops it replaces', () => {
  const rng = createRng(33);
  for (const C of [1, 3, 8, 13]) {
    const [s, b, s2, b2] = [0, 1, 2, 3].map(() => randomValues(rng, C).map((v) => 3 * v));
    for (const decay of [0.1, 1 - 0.99, 0.01]) {
      const [m, v] = tf.tidy(() => (tf.engine().runKernel(BN_MOVING_STATS_KERNEL, {
        movingMean: tf.tensor1d(s), movingVariance: tf.tensor1d(s2), mean: tf.tensor1d(b), variance: tf.tensor1d(b2),
      }, { decay } as unknown as tf.NamedAttrMap) as tf.Tensor[]).map((t) => Array.from(t.dataSync())));
      const ops = (a: Float32Array, c: Float32Array) => tf.tidy(() => Array.from(tf.sub(tf.tensor1d(a), tf.mul(tf.sub(tf.tensor1d(a), tf.tensor1d(c)), decay)).dataSync()));
      assert.equal(m, ops(s, b), `mean C=${C} decay=${decay}`);
      assert.equal(v, ops(s2, b2), `variance C=${C} decay=${decay}`);
    }
  }
});

test('BatchNormalization layer: inference and non-last-axis training keep working', () => {
  const x = tf.randomNormal([2, 3, 4, 4], 0, 1, 'float32', 7);
  const last = tf.layers.batchNormalization({ axis: -1 });
  const first = tf.layers.batchNormalization({ axis: 1 });
  const y1 = last.apply(x) as tf.Tensor; // inference: moving stats 0/1 -> x / sqrt(1 + 1e-3)
  assert.ok(relErr(y1.dataSync(), Array.from(x.dataSync(), (v) => v / Math.sqrt(1 + 1e-3))) < 1e-5);
  // axis 1 is left to tfjs-layers' own code (whose broadcast training path does not
  // centre the batch in tfjs 4.22 -- an upstream issue, identical on cpu): only
  // check that the fallback runs.
  const y2 = first.apply(x, { training: true }) as tf.Tensor;
  assert.equal(y2.shape, x.shape);
  assert.ok(Array.from(y2.dataSync()).every(Number.isFinite));
  tf.dispose([x, y1, y2]);
  last.dispose();
  first.dispose();
});

test.run();
