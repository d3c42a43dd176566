/**
 * DeepLabV3+ (arXiv:1802.02611): the decoder takes the stage-1 (OS4) low-level feature,
 * reduced to 0.75w channels, concatenated with the x4-upsampled encoder output; the
 * output depends on that low-level path.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { buildDeepLabV3Plus, deeplabv3plus, lowLevelChannels } from '../../src/models/deeplabv3plus';
import type { ResolvedModelOptions } from '../../src/models/types';

const opts = (h: number, w: number, extra: Partial<ResolvedModelOptions> = {}): ResolvedModelOptions => ({
  inputShape: [h, w, 3],
  numClasses: 1,
  outputActivation: 'sigmoid',
  width: 8,
  seed: 1,
  ...extra,
});

const inboundNames = (model: tf.LayersModel, name: string) => model.getLayer(name).inboundNodes[0].inboundLayers.map((l) => l.name);

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test('lowLevelChannels: 48 at the paper width 64, scaled with width', () => {
  const table: [number, number][] = [
    [64, 48],
    [8, 6],
    [4, 3],
    [2, 2], // 1.5 rounds to 2
    [1, 1], // 0.75 -> 1, never 0
  ];
  for (const [w, c] of table) assert.is(lowLevelChannels(w), c, `width ${w}`);
});

test('decoder wiring: low-level feature from layer1_out (OS4), encoder upsampled x4, concat, two 3x3 convs', () => {
  const model = buildDeepLabV3Plus(opts(64, 64));
  assert.equal(inboundNames(model, 'dec_low_conv'), ['layer1_out']);
  assert.equal(model.getLayer('layer1_out').outputShape, [null, 16, 16, 32], 'stage 1 is OS4');
  assert.equal(model.getLayer('dec_low_relu').outputShape, [null, 16, 16, 6]);
  assert.equal(inboundNames(model, 'dec_up'), ['aspp_proj_relu']);
  assert.equal(model.getLayer('aspp_proj_relu').outputShape, [null, 4, 4, 32], 'encoder at OS16');
  assert.equal(model.getLayer('dec_up').outputShape, [null, 16, 16, 32], 'x4 to OS4');
  assert.equal(inboundNames(model, 'dec_concat'), ['dec_up', 'dec_low_relu']);
  assert.equal(model.getLayer('dec_concat').outputShape, [null, 16, 16, 38]);
  assert.equal(model.getLayer('dec_conv1_conv').getConfig().kernelSize, [3, 3]);
  assert.equal(model.getLayer('dec_conv2_relu').outputShape, [null, 16, 16, 32]);
  assert.is(model.getLayer('upsample').getConfig().interpolation, 'bilinear');
  const { twoPart, uShaped } = deeplabv3plus.capabilities.split;
  for (const n of [twoPart, ...uShaped]) assert.ok(model.getLayer(n), `split layer ${n}`);
  model.dispose();
});

test('the output depends on the low-level path: zeroing its 1x1 conv changes the prediction', () => {
  const model = buildDeepLabV3Plus(opts(64, 64, { seed: 2, outputActivation: 'none' }));
  const x = tf.randomUniform([1, 64, 64, 3], 0, 1, 'float32', 3);
  const before = tf.tidy(() => model.predict(x) as tf.Tensor);
  const layer = model.getLayer('dec_low_conv');
  const saved = layer.getWeights().map((w) => w.clone());
  layer.setWeights(saved.map((w) => tf.zerosLike(w)));
  const after = tf.tidy(() => model.predict(x) as tf.Tensor);
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(before, after))).dataSync()[0]);
  assert.ok(diff > 1e-4, `output changed by ${diff}`);
  // Zeroing a weight of a layer the output does not depend on would leave it unchanged:
  // restoring the weights restores the output exactly.
  layer.setWeights(saved);
  const restored = tf.tidy(() => model.predict(x) as tf.Tensor);
  const back = tf.tidy(() => tf.max(tf.abs(tf.sub(before, restored))).dataSync()[0]);
  assert.ok(back < 1e-6, 'restored');
  tf.dispose([x, before, after, restored, ...saved]);
  model.dispose();
});

test('output [N,H,W,K] at 64x64 and 96x128; output stride 8 upsamples the encoder x2', () => {
  for (const [h, w] of [
    [64, 64],
    [96, 128],
  ] as [number, number][]) {
    const model = buildDeepLabV3Plus(opts(h, w, { numClasses: 2, outputActivation: 'softmax', width: 4 }));
    const y = tf.tidy(() => model.predict(tf.zeros([1, h, w, 3])) as tf.Tensor);
    assert.equal(y.shape, [1, h, w, 2]);
    y.dispose();
    model.dispose();
  }
  const os8 = buildDeepLabV3Plus(opts(64, 64, { width: 4 }), { outputStride: 8 });
  assert.equal(os8.getLayer('aspp_proj_relu').outputShape, [null, 8, 8, 16]);
  assert.equal(os8.getLayer('dec_up').outputShape, [null, 16, 16, 16]);
  assert.equal(os8.outputs[0].shape, [null, 64, 64, 1]);
  os8.dispose();
});

test('a training step reaches the low-level reduction and the encoder', () => {
  const model = buildDeepLabV3Plus(opts(32, 32, { width: 2, seed: 6 }));
  const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 8);
  const y = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([2, 32, 32, 1], 0, 1, 'float32', 9), 0.5), 'float32'));
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const before = tf.memory().numTensors;
  const { value, grads } = tf.variableGrads(
    () => tf.losses.sigmoidCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
    vars,
  );
  for (const pattern of [/dec_low_conv/, /aspp_b1_conv/, /layer4_b1_conv2/, /stem_conv/]) {
    const v = vars.find((w) => pattern.test(w.name));
    assert.ok(v, `variable ${pattern}`);
    const norm = tf.tidy(() => tf.norm(grads[v.name]).dataSync()[0]);
    assert.ok(Number.isFinite(norm) && norm > 0, `gradient of ${v.name}: ${norm}`);
  }
  tf.dispose([value, ...Object.values(grads)]);
  assert.is(tf.memory().numTensors, before, 'no tensor leak');
  tf.dispose([x, y]);
  model.dispose();
});

test.run();
