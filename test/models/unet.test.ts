import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { unet } from '../../src/models/unet';
import type { ResolvedModelOptions } from '../../src/models/types';

const opts = (o: Partial<ResolvedModelOptions>): ResolvedModelOptions => ({
  inputShape: [16, 16, 1],
  numClasses: 1,
  outputActivation: 'sigmoid',
  width: 1,
  seed: 0,
  ...o,
});

/**
 * Parameter count written from the paper's layer list (independent of the implementation):
 * double conv cin->cout = 9*cin*cout + 9*cout*cout (bias-free) + 2 BNs of 4*cout values;
 * 2x2 transposed conv cin->cout = 4*cin*cout + cout; 1x1 head = w*K + K.
 */
function unetParams(w: number, c: number, k: number): number {
  const dc = (cin: number, cout: number) => 9 * cin * cout + 9 * cout * cout + 8 * cout;
  const ch = [w, 2 * w, 4 * w, 8 * w, 16 * w];
  let p = dc(c, ch[0]) + dc(ch[0], ch[1]) + dc(ch[1], ch[2]) + dc(ch[2], ch[3]) + dc(ch[3], ch[4]);
  for (let l = 3; l >= 0; l--) p += 4 * ch[l + 1] * ch[l] + ch[l] + dc(2 * ch[l], ch[l]);
  return p + w * k + k;
}

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test('parameter count: hand-computed table and paper formula', () => {
  // width 1, 1 input channel, 1 class, summed by hand level by level:
  // enc 26 + 70 + 248 + 928, bott 3584, dec4 520+1792, dec3 132+464, dec2 34+124, dec1 9+35, head 2.
  const table: Array<[number, number, number, number]> = [
    [1, 1, 1, 7968],
    [2, 3, 2, unetParams(2, 3, 2)],
  ];
  for (const [width, c, k, expected] of table) {
    const m = unet.build(opts({ width, inputShape: [16, 16, c], numClasses: k }));
    assert.is(m.countParams(), expected, `width ${width} C ${c} K ${k}`);
    m.dispose();
  }
  assert.is(unetParams(1, 1, 1), 7968);
  // Paper width: 64..1024 channels (31.0M weights + BN statistics) — formula only, not built here.
  assert.is(unetParams(64, 3, 1), 31049409);
});

test('four skip connections concatenate encoder level l with the upsampled level l+1', () => {
  const m = unet.build(opts({ inputShape: [32, 32, 1], width: 2 }));
  const concats = m.layers.filter((l) => l.getClassName() === 'Concatenate');
  assert.is(concats.length, 4);
  for (let level = 1; level <= 4; level++) {
    const layer = m.getLayer(`dec${level}_concat`);
    const inbound = layer.inboundNodes[0].inboundLayers.map((l) => l.name);
    assert.equal(inbound, [`enc${level}_2_relu`, `dec${level}_up`]);
    const side = 32 / 2 ** (level - 1);
    assert.equal(m.getLayer(`enc${level}_2_relu`).outputShape, [null, side, side, 2 * 2 ** (level - 1)]);
    // Concatenation doubles the level's channels before the decoder double conv.
    assert.equal(layer.outputShape, [null, side, side, 2 * 2 * 2 ** (level - 1)]);
  }
  assert.equal(m.getLayer('bott_2_relu').outputShape, [null, 2, 2, 32]);
  m.dispose();
});

test('output shape, softmax activation, split layers exist', () => {
  const before = tf.memory().numTensors;
  const m = unet.build(opts({ inputShape: [32, 48, 3], numClasses: 3, outputActivation: 'softmax', width: 2 }));
  const x = tf.randomUniform([2, 32, 48, 3], 0, 1, 'float32', 1);
  const y = m.predict(x) as tf.Tensor;
  assert.equal(y.shape, [2, 32, 48, 3]);
  const sums = tf.tidy(() => tf.sum(y, -1).sub(1).abs().max().dataSync()[0]);
  assert.ok(sums < 1e-5, `softmax rows sum to 1 (max dev ${sums})`);
  const { twoPart, uShaped } = unet.capabilities.split;
  for (const name of [twoPart, ...uShaped]) assert.is(m.getLayer(name).inboundNodes.length, 1, name);
  x.dispose();
  y.dispose();
  m.dispose();
  assert.is(tf.memory().numTensors, before, 'no tensor leak');
});

test('same seed -> same weights, other seed -> different weights', () => {
  const a = unet.build(opts({ seed: 7 }));
  const b = unet.build(opts({ seed: 7 }));
  const c = unet.build(opts({ seed: 8 }));
  const ka = a.getLayer('enc2_1_conv').getWeights()[0].dataSync();
  const kb = b.getLayer('enc2_1_conv').getWeights()[0].dataSync();
  const kc = c.getLayer('enc2_1_conv').getWeights()[0].dataSync();
  assert.equal(Array.from(ka), Array.from(kb));
  assert.not.equal(Array.from(ka), Array.from(kc));
  a.dispose();
  b.dispose();
  c.dispose();
});

test.run();
