import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { buildDuckNet, duckNet } from '../../src/models/duck-net';
import { DUCK_SEPARATED_SIZE, duckBlock } from '../../src/models/blocks/duck';
import { SeededInit } from '../../src/models/blocks/init';
import type { ResolvedModelOptions } from '../../src/models/types';
import { createRng } from '../../src/util/rng';

type Sym = tf.SymbolicTensor;

const base: ResolvedModelOptions = { inputShape: [32, 32, 3], numClasses: 1, outputActivation: 'sigmoid', width: 1, seed: 5 };

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Deterministic non-constant input in [0, 1). */
function ramp(shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = ((i * 37) % 101) / 101;
  return tf.tensor(v, shape);
}

/** A model made of one DUCK block `d` with `filters` outputs on `[h,w,c]` inputs. */
function oneBlock(h: number, w: number, c: number, filters: number, seed: number): tf.LayersModel {
  const input = tf.input({ shape: [h, w, c] });
  const out = duckBlock(input, { filters, name: 'd', init: new SeededInit(seed) });
  return tf.model({ inputs: input, outputs: out });
}

/** Give every BatchNorm random gamma / beta / moving statistics so BN placement matters. */
function randomizeBatchNorms(m: tf.LayersModel, seed: number): void {
  const rng = createRng(seed);
  for (const l of m.layers) {
    if (l.getClassName() !== 'BatchNormalization') continue;
    const ws = l.getWeights();
    const c = ws[0].shape[0];
    const vals = (lo: number, hi: number) => tf.tensor1d(Array.from({ length: c }, () => rng.uniform(lo, hi)));
    const fresh = [vals(0.5, 1.5), vals(-0.5, 0.5), vals(-0.3, 0.3), vals(0.5, 2)];
    l.setWeights(fresh);
    tf.dispose(fresh);
  }
}

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test('DUCK block = BN_out(sum of its six branches on BN_in(x)), matching a manual composition of its layers', () => {
  const start = tf.memory().numTensors;
  const m = oneBlock(8, 8, 3, 4, 11);
  randomizeBatchNorms(m, 12);
  const L = (n: string) => m.getLayer(n);
  const x = ramp([2, 8, 8, 3]);
  const expected = m.predict(x) as tf.Tensor;
  tf.tidy(() => {
    const run = (names: string[], t: tf.Tensor) => names.reduce((acc, n) => L(n).apply(acc) as tf.Tensor, t);
    const convBn = (names: string[]) => names.flatMap((n) => [n, `${n}_bn`]);
    const res = (p: string, t: tf.Tensor) =>
      L(`${p}_bn_out`).apply(tf.add(run(convBn([`${p}_conv1`, `${p}_conv2`]), t), L(`${p}_skip`).apply(t) as tf.Tensor)) as tf.Tensor;
    const xin = L('d_bn_in').apply(x) as tf.Tensor;
    const branches = [
      run(convBn(['d_wide_conv1', 'd_wide_conv2', 'd_wide_conv3']), xin),
      run(convBn(['d_mid_conv1', 'd_mid_conv2']), xin),
      res('d_res1_r1', xin),
      res('d_res2_r2', res('d_res2_r1', xin)),
      res('d_res3_r3', res('d_res3_r2', res('d_res3_r1', xin))),
      run(convBn(['d_sep_conv1xN', 'd_sep_convNx1']), xin),
    ];
    const manual = L('d_bn_out').apply(tf.addN(branches)) as tf.Tensor;
    assert.equal(expected.shape, [2, 8, 8, 4]);
    assert.ok(maxAbsDiff(expected, manual) < 1e-4, `diff ${maxAbsDiff(expected, manual)}`);
    // Every branch contributes: dropping any one of them changes the output.
    for (let i = 0; i < 6; i++) {
      const without = L('d_bn_out').apply(tf.addN(branches.filter((_, j) => j !== i))) as tf.Tensor;
      assert.ok(maxAbsDiff(expected, without) > 1e-3, `branch ${i}`);
    }
  });
  const sumInputs = m.getLayer('d_sum').inboundNodes[0].inboundLayers.map((l) => l.name);
  assert.equal(sumInputs, ['d_wide_conv3_bn', 'd_mid_conv2_bn', 'd_res1_r1_bn_out', 'd_res2_r2_bn_out', 'd_res3_r3_bn_out', 'd_sep_convNx1_bn']);
  tf.dispose([x, expected]);
  m.dispose();
  assert.is(tf.memory().numTensors, start);
});

test('branch kernels: widescope dilations 1,2,3; midscope 1,2; separated 1xN then Nx1 with N = 6', () => {
  const m = oneBlock(8, 8, 3, 4, 1);
  const dil = (n: string) => m.getLayer(n).getConfig().dilationRate;
  assert.equal(['d_wide_conv1', 'd_wide_conv2', 'd_wide_conv3'].map(dil), [[1, 1], [2, 2], [3, 3]]);
  assert.equal(['d_mid_conv1', 'd_mid_conv2'].map(dil), [[1, 1], [2, 2]]);
  assert.is(DUCK_SEPARATED_SIZE, 6);
  // Kernel shapes [kh, kw, Cin, Cout]: the block's input has 3 channels, its branches 4.
  assert.equal(m.getLayer('d_sep_conv1xN').getWeights()[0].shape, [1, 6, 3, 4]);
  assert.equal(m.getLayer('d_sep_convNx1').getWeights()[0].shape, [6, 1, 4, 4]);
  assert.equal(m.getLayer('d_wide_conv1').getWeights()[0].shape, [3, 3, 3, 4]);
  assert.equal(m.getLayer('d_res2_r1_skip').getWeights()[0].shape, [1, 1, 3, 4]);
  // The dilation is really applied: conv3 of widescope = ReLU(conv(x, W, dilation 3) + b).
  tf.tidy(() => {
    const layer = m.getLayer('d_wide_conv3');
    const [w, b] = layer.getWeights() as [tf.Tensor4D, tf.Tensor1D];
    const x = ramp([1, 9, 9, 4]) as tf.Tensor4D;
    const want = tf.relu(tf.add(tf.conv2d(x, w, 1, 'same', 'NHWC', 3), b));
    const plain = tf.relu(tf.add(tf.conv2d(x, w, 1, 'same'), b));
    const got = layer.apply(x) as tf.Tensor;
    assert.ok(maxAbsDiff(got, want) < 1e-5);
    assert.ok(maxAbsDiff(got, plain) > 1e-3);
  });
  m.dispose();
});

test('DUCK-Net: output shape, secondary down-sampling path and channel widths follow f = width', () => {
  const start = tf.memory().numTensors;
  const f = 2;
  const m = buildDuckNet({ ...base, inputShape: [64, 32, 1], width: f, numClasses: 3, outputActivation: 'softmax' });
  assert.equal(m.outputs[0].shape, [null, 64, 32, 3]);
  const shape = (n: string) => (m.getLayer(n).output as Sym).shape;
  const inbound = (n: string) => m.getLayer(n).inboundNodes[0].inboundLayers.map((l) => l.name);
  for (let k = 1; k <= 5; k++) {
    const s = 2 ** k;
    assert.equal(shape(`side${k}`), [null, 64 / s, 32 / s, f * s], `side${k}`);
    assert.equal(inbound(`side${k}`), [k === 1 ? 'input' : `side${k - 1}`]);
    assert.equal(m.getLayer(`side${k}`).getWeights()[0].shape.slice(0, 2), [2, 2]);
    assert.equal(inbound(`enc${k}_add`), [`enc${k}_down`, `side${k}`]);
  }
  for (let k = 0; k <= 4; k++) assert.equal(shape(`enc${k}_bn_out`), [null, 64 / 2 ** k, 32 / 2 ** k, f * 2 ** k]);
  assert.equal(shape('bottom_a_r2_bn_out'), [null, 2, 1, 32 * f]);
  assert.equal(shape('bottom_b_r2_bn_out'), [null, 2, 1, 16 * f]);
  const decWidths = [f, f, 2 * f, 4 * f, 8 * f];
  for (let k = 0; k <= 4; k++) {
    assert.equal(shape(`dec${k}_bn_out`), [null, 64 / 2 ** k, 32 / 2 ** k, decWidths[k]]);
    assert.equal(inbound(`dec${k}_add`), [`dec${k}_up`, `enc${k}_bn_out`]);
    assert.is(m.getLayer(`dec${k}_up`).getConfig().interpolation, 'nearest');
  }
  const x = ramp([1, 64, 32, 1]);
  const sums = tf.tidy(() => (m.predict(x) as tf.Tensor).sum(-1).dataSync());
  for (const v of sums) assert.ok(Math.abs(v - 1) < 1e-5);
  x.dispose();
  m.dispose();
  assert.is(tf.memory().numTensors, start);
});

test('spec: split layers exist, sizes must be multiples of 32, same seed gives same weights', () => {
  assert.throws(() => buildDuckNet({ ...base, inputShape: [48, 32, 3] }), /multiples of 32/);
  const m = duckNet.build({ ...base, width: 1 });
  const { twoPart, uShaped } = duckNet.capabilities.split;
  for (const n of [twoPart, ...uShaped]) assert.ok(m.getLayer(n), n);
  const twin = duckNet.build({ ...base, width: 1 });
  const other = duckNet.build({ ...base, width: 1, seed: 6 });
  const w = (mm: tf.LayersModel) => mm.getLayer('dec2_sep_convNx1').getWeights()[0];
  assert.is(maxAbsDiff(w(m), w(twin)), 0);
  assert.ok(maxAbsDiff(w(m), w(other)) > 1e-3);
  [m, twin, other].forEach((mm) => mm.dispose());
});

test('a training step runs (dilated widescope included) and updates the dilation-3 kernel', () => {
  const start = tf.memory().numTensors;
  const m = buildDuckNet({ ...base, width: 1 });
  const x = ramp([1, 32, 32, 3]);
  const y = tf.tidy(() => tf.greater(x.mean(-1, true), 0.5).toFloat());
  const before = m.getLayer('enc0_wide_conv3').getWeights()[0].clone();
  const opt = tf.train.sgd(0.1);
  const loss = opt.minimize(() => tf.losses.sigmoidCrossEntropy(y, m.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
  assert.ok(Number.isFinite(loss.dataSync()[0]));
  assert.ok(maxAbsDiff(before, m.getLayer('enc0_wide_conv3').getWeights()[0]) > 0);
  tf.dispose([x, y, before, loss]);
  opt.dispose();
  m.dispose();
  assert.is(tf.memory().numTensors, start);
});

test.run();
