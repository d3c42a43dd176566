import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { attentionUnet, ATTENTION_UNET_ALPHA_LAYERS } from '../../src/models/attention-unet';
import { attentionGate } from '../../src/models/blocks/attention-gate';
import { SeededInit } from '../../src/models/blocks/init';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test('attention coefficients lie in [0, 1] and have the spatial size of their skip', () => {
  const before = tf.memory().numTensors;
  const m = attentionUnet.build({ inputShape: [32, 48, 3], numClasses: 2, outputActivation: 'softmax', width: 2, seed: 3 });
  const skipNames = [1, 2, 3, 4].map((l) => `enc${l}_2_relu`);
  const probe = tf.model({
    inputs: m.inputs,
    outputs: [...ATTENTION_UNET_ALPHA_LAYERS.map((n) => m.getLayer(n).output as tf.SymbolicTensor), ...skipNames.map((n) => m.getLayer(n).output as tf.SymbolicTensor)],
  });
  const x = tf.randomUniform([2, 32, 48, 3], 0, 1, 'float32', 5);
  const outs = probe.predict(x) as tf.Tensor[];
  for (let l = 0; l < 4; l++) {
    const alpha = outs[l];
    const skip = outs[4 + l];
    assert.equal(alpha.shape, [2, skip.shape[1], skip.shape[2], 1], `level ${l + 1}`);
    assert.equal(alpha.shape.slice(1, 3), [32 / 2 ** l, 48 / 2 ** l]);
    const [lo, hi] = tf.tidy(() => [alpha.min().dataSync()[0], alpha.max().dataSync()[0]]);
    assert.ok(lo >= 0 && hi <= 1, `alpha range [${lo}, ${hi}]`);
  }
  tf.dispose(outs);
  x.dispose();
  m.dispose();
  assert.is(tf.memory().numTensors, before, 'no tensor leak');
});

test('every skip is gated by the next coarser decoder level', () => {
  const m = attentionUnet.build({ inputShape: [32, 32, 1], numClasses: 1, outputActivation: 'sigmoid', width: 2, seed: 0 });
  for (let l = 1; l <= 4; l++) {
    const mul = m.getLayer(`att${l}_mul`).inboundNodes[0].inboundLayers.map((x) => x.name);
    assert.equal(mul, [`enc${l}_2_relu`, `att${l}_alpha`]);
    const wg = m.getLayer(`att${l}_wg`).inboundNodes[0].inboundLayers.map((x) => x.name);
    assert.equal(wg, [l === 4 ? 'gating_relu' : `dec${l + 1}_2_relu`]);
    const cat = m.getLayer(`dec${l}_concat`).inboundNodes[0].inboundLayers.map((x) => x.name);
    assert.equal(cat, [`att${l}_mul`, `dec${l}_up`]);
    // Wx is a strided 2x2 conv bringing the skip to the gating resolution.
    const side = 32 / 2 ** (l - 1);
    assert.equal(m.getLayer(`att${l}_wx`).outputShape, [null, side / 2, side / 2, Math.max(1, 2 ** (l - 1))]);
  }
  m.dispose();
});

// Hand-computed gate: x = [[1, 2], [3, 4]] (1 channel), g = one value, every weight 1 and bias 0:
// theta = 1+2+3+4 = 10, phi = g, q = ReLU(10 + g), alpha = sigmoid(q) (constant after resampling).
const gateTable: Array<[number, number]> = [
  [-4, 1 / (1 + Math.exp(-6))],
  [-20, 0.5],
  [0, 1 / (1 + Math.exp(-10))],
];

test('attention gate matches the hand-computed additive attention', () => {
  const before = tf.memory().numTensors;
  const xIn = tf.input({ shape: [2, 2, 1] });
  const gIn = tf.input({ shape: [1, 1, 1] });
  const { gated, alpha } = attentionGate(xIn, gIn, 'g', { interChannels: 1, init: new SeededInit(1) });
  const model = tf.model({ inputs: [xIn, gIn], outputs: [gated, alpha] });
  for (const name of ['g_wx', 'g_wg', 'g_psi']) {
    const layer = model.getLayer(name);
    tf.tidy(() => layer.setWeights(layer.getWeights().map((w) => (w.shape.length === 1 ? tf.zeros(w.shape) : tf.ones(w.shape)))));
  }
  const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
  for (const [g, a] of gateTable) {
    const gt = tf.tensor4d([g], [1, 1, 1, 1]);
    const [y, al] = model.predict([x, gt]) as tf.Tensor[];
    const got = Array.from(al.dataSync());
    got.forEach((v) => assert.ok(Math.abs(v - a) < 1e-6, `g=${g}: alpha ${v} vs ${a}`));
    Array.from(y.dataSync()).forEach((v, i) => assert.ok(Math.abs(v - (i + 1) * a) < 1e-5, `g=${g}: gated[${i}]`));
    tf.dispose([gt, y, al]);
  }
  x.dispose();
  model.dispose();
  assert.is(tf.memory().numTensors, before, 'no tensor leak');
});

test('attention gate rejects a gating signal that is not at half resolution', () => {
  const xIn = tf.input({ shape: [8, 8, 4] });
  const gIn = tf.input({ shape: [8, 8, 4] });
  assert.throws(() => attentionGate(xIn, gIn, 'bad', { interChannels: 2, init: new SeededInit(0) }), /half the skip's spatial size/);
});

test.run();
