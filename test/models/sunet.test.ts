import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { sunet, SUNET_GROUP_DEPTHS, SUNET_GROUP_OUT_MULTIPLIERS } from '../../src/models/sunet';
import type { ResolvedModelOptions } from '../../src/models/types';

const opts = (o: Partial<ResolvedModelOptions>): ResolvedModelOptions => ({
  inputShape: [64, 64, 1],
  numClasses: 1,
  outputActivation: 'sigmoid',
  width: 1,
  seed: 0,
  ...o,
});

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test('stacked u-net groups: 2, 4, 4, 1 modules with 4w, 8w, 12w, 16w outputs at strides 4, 8, 16, 16', () => {
  const w = 2;
  const m = sunet.build(opts({ width: w }));
  const strides = [4, 8, 16, 16];
  for (let g = 1; g <= 4; g++) {
    const adds = m.layers.filter((l) => new RegExp(`^u${g}_\\d+_add$`).test(l.name));
    assert.is(adds.length, SUNET_GROUP_DEPTHS[g - 1], `group ${g} depth`);
    for (const add of adds) {
      assert.equal(add.outputShape, [null, 64 / strides[g - 1], 64 / strides[g - 1], w * SUNET_GROUP_OUT_MULTIPLIERS[g - 1]], add.name);
    }
  }
  // Inside a group-3 module the u-net still downsamples twice: H/16 -> H/64.
  assert.equal(m.getLayer('u3_1_d1_conv2').outputShape, [null, 1, 1, w]);
  // Each module's residual branch is a u-net: the inner skip is concatenated on the way up.
  assert.equal(
    m.getLayer('u1_1_u1_concat').inboundNodes[0].inboundLayers.map((l) => l.name),
    ['u1_1_u1_conv', 'u1_1_d0_conv2'],
  );
  m.dispose();
});

test('the last group is the dilated u-net replacing the third pooling (rates 2 and 4)', () => {
  const m = sunet.build(opts({ width: 2 }));
  const rate = (name: string) => (m.getLayer(name).getConfig().dilationRate as number[] | number);
  const table: Array<[string, number]> = [
    ['u4_1_d0_conv1', 2],
    ['u4_1_d0_conv2', 4],
    ['u4_1_u0_deconv', 4],
    ['u4_1_u0_conv', 2],
    ['u3_1_d0_conv1', 1],
  ];
  for (const [name, r] of table) {
    const got = rate(name);
    assert.equal(Array.isArray(got) ? got : [got, got], [r, r], name);
  }
  assert.equal(m.getLayer('u3_1_d0_conv1').getConfig().strides, [2, 2]);
  assert.equal(m.getLayer('u4_1_d0_conv1').getConfig().strides, [1, 1]);
  assert.equal(m.layers.filter((l) => /^pool\d$/.test(l.name)).length, 2);
  m.dispose();
});

test('parameter count of one u-net module, hand-computed (width 1)', () => {
  // u1_1: in 2w -> out 4w, inner w, two down blocks. With w = 1:
  // pre BN(2) 8, proj 1x1 2->4 12, d0_reduce 1x1 2->1 3,
  // d0: BN 4 + conv 10 + BN 4 + conv 10, d1: same 28, u1: BN 4 + deconv 10 + BN 4 + conv 10,
  // u0 (after concat, 2 ch): BN 8 + deconv 9*2+1=19 + BN 4 + conv 10, u0_c BN 4, expand 1x1 1->4 8.
  const expected = 8 + 12 + 3 + 28 + 28 + 28 + (8 + 19 + 4 + 10) + 4 + 8;
  assert.is(expected, 160);
  const m = sunet.build(opts({ width: 1 }));
  const got = m.layers.filter((l) => l.name.startsWith('u1_1_')).reduce((s, l) => s + l.countParams(), 0);
  assert.is(got, expected);
  m.dispose();
});

test('output: input size restored by 16x bilinear upsampling; activation; no leak', () => {
  const before = tf.memory().numTensors;
  const m = sunet.build(opts({ inputShape: [64, 128, 3], numClasses: 3, outputActivation: 'softmax', width: 2 }));
  assert.equal(m.getLayer('head').outputShape, [null, 4, 8, 3]);
  const x = tf.randomUniform([2, 64, 128, 3], 0, 1, 'float32', 1);
  const y = m.predict(x) as tf.Tensor;
  assert.equal(y.shape, [2, 64, 128, 3]);
  const dev = tf.tidy(() => tf.sum(y, -1).sub(1).abs().max().dataSync()[0]);
  assert.ok(dev < 1e-5, `softmax rows sum to 1 (max dev ${dev})`);
  const { twoPart, uShaped } = sunet.capabilities.split;
  for (const name of [twoPart, ...uShaped]) assert.is(m.getLayer(name).inboundNodes.length, 1, name);
  tf.dispose([x, y]);
  m.dispose();
  assert.is(tf.memory().numTensors, before, 'no tensor leak');
});

test.run();
