/**
 * RefineNet (arXiv:1611.06612) blocks and model: residual conv unit, multi-resolution
 * fusion and chained residual pooling against hand-computed fixtures, the 4-cascade's
 * resolutions / channels, and training.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { SeededInit } from '../../src/models/blocks/init';
import { chainedResidualPooling, multiResolutionFusion, refineNetBlock, residualConvUnit } from '../../src/models/blocks/refine';
import { buildRefineNet, refinenet } from '../../src/models/refinenet';
import type { ResolvedModelOptions } from '../../src/models/types';

const opts = (h: number, w: number, extra: Partial<ResolvedModelOptions> = {}): ResolvedModelOptions => ({
  inputShape: [h, w, 3],
  numClasses: 1,
  outputActivation: 'sigmoid',
  width: 4,
  seed: 1,
  ...extra,
});

/** A 3x3 single-channel kernel whose only non-zero tap is the centre (a scaled identity conv). */
const centre = (v: number) => tf.tensor4d([0, 0, 0, 0, v, 0, 0, 0, 0], [3, 3, 1, 1]);

function predictArray(model: tf.LayersModel, x: number[], shape: [number, number, number, number]): number[] {
  return tf.tidy(() => Array.from((model.predict(tf.tensor4d(x, shape)) as tf.Tensor).dataSync()));
}

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test('RCU = x + conv2(ReLU(conv1(ReLU(x)))) on a hand fixture; starts as the identity', () => {
  for (const normalization of ['none', 'batch'] as const) {
    const input = tf.input({ shape: [2, 2, 1] });
    const out = residualConvUnit(input, { init: new SeededInit(0), name: 'rcu', normalization });
    const model = tf.model({ inputs: input, outputs: out });
    assert.equal(out.shape, [null, 2, 2, 1]);
    const x = [-1, 0, 2, 3];
    // Freshly built: the residual branch is zero (zero kernel / zero BN gamma) -> identity.
    assert.equal(predictArray(model, x, [1, 2, 2, 1]), x, `${normalization}: identity at init`);
    if (normalization === 'none') {
      // conv1 = identity, bias 0; conv2 = 2 * identity, bias 0.5 -> y = x + 2 ReLU(x) + 0.5.
      model.getLayer('rcu_conv1').setWeights([centre(1), tf.zeros([1])]);
      model.getLayer('rcu_conv2').setWeights([centre(2), tf.tensor1d([0.5])]);
      assert.equal(predictArray(model, x, [1, 2, 2, 1]), [-0.5, 0.5, 6.5, 9.5]);
    }
    model.dispose();
  }
});

test('chained residual pooling: ReLU(x) + pool-conv + pool-pool-conv on a hand fixture', () => {
  const input = tf.input({ shape: [5, 5, 1] });
  const out = chainedResidualPooling(input, { init: new SeededInit(0), name: 'crp', normalization: 'none', stages: 2 });
  const model = tf.model({ inputs: input, outputs: out });
  assert.equal(out.shape, [null, 5, 5, 1]);
  model.getLayer('crp_conv1').setWeights([centre(1)]);
  model.getLayer('crp_conv2').setWeights([centre(1)]);
  // x: 3 at (0,0), -5 at (4,4), 0 elsewhere. r = ReLU(x) keeps only the 3.
  // p1 = 5x5 max-pool stride 1 of r: 3 where row <= 2 and col <= 2; p2 = max-pool of p1: 3 everywhere.
  const x = new Array(25).fill(0);
  x[0] = 3;
  x[24] = -5;
  const expected: number[] = [];
  for (let i = 0; i < 5; i++) {
    for (let j = 0; j < 5; j++) expected.push((i === 0 && j === 0 ? 3 : 0) + (i <= 2 && j <= 2 ? 3 : 0) + 3);
  }
  assert.equal(predictArray(model, x, [1, 5, 5, 1]), expected);
  model.dispose();
  assert.throws(() => chainedResidualPooling(tf.input({ shape: [4, 4, 2] }), { init: new SeededInit(0), name: 'bad', stages: 0 }), /stages/);
});

test('multi-resolution fusion: smallest channels, largest resolution, sum of the adapted paths', () => {
  const low = tf.input({ shape: [2, 2, 1] });
  const high = tf.input({ shape: [4, 4, 1] });
  const out = multiResolutionFusion([low, high], { init: new SeededInit(0), name: 'mrf', normalization: 'none' });
  const model = tf.model({ inputs: [low, high], outputs: out });
  assert.equal(out.shape, [null, 4, 4, 1]);
  model.getLayer('mrf_p1_conv').setWeights([centre(1)]);
  model.getLayer('mrf_p2_conv').setWeights([centre(10)]);
  // A constant low-resolution map upsamples (bilinear) to the same constant: out = 2 + 10 * high.
  const h = Array.from({ length: 16 }, (_, i) => i / 4);
  const y = tf.tidy(() => Array.from((model.predict([tf.fill([1, 2, 2, 1], 2), tf.tensor4d(h, [1, 4, 4, 1])]) as tf.Tensor).dataSync()));
  h.forEach((v, i) => assert.ok(Math.abs(y[i] - (2 + 10 * v)) < 1e-5, `pixel ${i}: ${y[i]} vs ${2 + 10 * v}`));
  model.dispose();

  const a = tf.input({ shape: [2, 2, 16] });
  const b = tf.input({ shape: [8, 8, 8] });
  assert.equal(multiResolutionFusion([a, b], { init: new SeededInit(0), name: 'm2' }).shape, [null, 8, 8, 8]);
  assert.is(multiResolutionFusion([a], { init: new SeededInit(0), name: 'm3' }), a, 'single path passes through');
  assert.throws(() => multiResolutionFusion([tf.input({ shape: [3, 3, 2] }), b], { init: new SeededInit(0), name: 'm4' }), /does not divide/);
});

test('RefineNet block: per-path RCUs, fusion, CRP and output RCU; output at the largest size', () => {
  const low = tf.input({ shape: [4, 4, 16] });
  const high = tf.input({ shape: [8, 8, 8] });
  const out = refineNetBlock([low, high], { init: new SeededInit(0), name: 'rb' });
  const model = tf.model({ inputs: [low, high], outputs: out });
  assert.equal(out.shape, [null, 8, 8, 8]);
  assert.is(model.outputLayers[0].name, 'rb_out_add');
  const names = model.layers.map((l) => l.name);
  for (const n of ['rb_p1_rcu1_add', 'rb_p1_rcu2_add', 'rb_p2_rcu1_add', 'rb_p2_rcu2_add', 'rb_mrf_sum', 'rb_crp_sum2']) {
    assert.ok(names.includes(n), `layer ${n}`);
  }
  assert.equal(model.getLayer('rb_p1_rcu2_add').outputShape, [null, 4, 4, 16], 'RCUs keep the path channels');
  assert.equal(model.getLayer('rb_crp_sum2').outputShape, [null, 8, 8, 8]);
  model.dispose();
});

test('RefineNet model: 4-cascade resolutions/channels, output shape, split layers', () => {
  const model = buildRefineNet(opts(64, 96, { numClasses: 3, outputActivation: 'softmax' }));
  const table: [string, number[]][] = [
    ['refine4_out_add', [2, 3, 32]], // OS32, 8w
    ['refine3_out_add', [4, 6, 16]], // OS16, 4w
    ['refine2_out_add', [8, 12, 16]],
    ['refine1_out_add', [16, 24, 16]], // OS4
    ['final_rcu2_add', [16, 24, 16]],
  ];
  for (const [n, shape] of table) assert.equal(model.getLayer(n).outputShape, [null, ...shape], n);
  assert.equal(model.outputs[0].shape, [null, 64, 96, 3]);
  const y = tf.tidy(() => model.predict(tf.randomUniform([1, 64, 96, 3], 0, 1, 'float32', 2)) as tf.Tensor);
  assert.equal(y.shape, [1, 64, 96, 3]);
  y.dispose();
  const { twoPart, uShaped } = refinenet.capabilities.split;
  for (const n of [twoPart, ...uShaped]) assert.ok(model.getLayer(n), `split layer ${n}`);
  assert.ok(model.layers.some((l) => l.name === 'refine1_crp_conv1_bn'), 'BN by default');
  model.dispose();
  const paper = buildRefineNet(opts(32, 32), { normalization: 'none', crpStages: 4 });
  assert.not.ok(paper.layers.some((l) => /^(refine|adapt|final)/.test(l.name) && l.getClassName() === 'BatchNormalization'), 'no BN in the paper variant');
  assert.ok(paper.layers.some((l) => l.name === 'refine1_crp_sum4'));
  paper.dispose();
  assert.throws(() => buildRefineNet(opts(48, 64)), /divisible by 32/);
});

test('RefineNet trains: Adam steps lower the loss on a learnable mask; no tensor leak', () => {
  const s = 32;
  const model = buildRefineNet(opts(s, s, { seed: 3, outputActivation: 'none' }));
  const x = tf.randomUniform([2, s, s, 3], 0, 1, 'float32', 1);
  const y = tf.tidy(() => tf.cast(tf.greater(tf.mean(x, -1, true), 0.5), 'float32'));
  const xs = tf.tidy(() => tf.concat([x.slice([0, 0, 0, 0], [2, s, s, 2]), y], -1)); // the mask is visible in channel 3
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const opt = tf.train.adam(5e-3);
  const loss = () => tf.losses.sigmoidCrossEntropy(y, model.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar;
  const lossValue = () => tf.tidy(() => loss().dataSync()[0]);
  const first = lossValue();
  const counts: number[] = [];
  for (let i = 0; i < 5; i++) {
    opt.minimize(loss, true, vars)?.dispose();
    counts.push(tf.memory().numTensors);
  }
  const last = lossValue();
  assert.ok(last < first, `loss ${first} -> ${last}`);
  assert.ok(counts.slice(1).every((n) => n === counts[1]), `stable tensor count ${counts}`);
  opt.dispose();
  tf.dispose([x, y, xs]);
  model.dispose();
});

test.run();
