import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { buildCgnet, cgnet, cgnetDepth } from '../../src/models/cgnet';
import { ChannelSlice } from '../../src/models/blocks/context-guided';
import type { ResolvedModelOptions } from '../../src/models/types';

type Sym = tf.SymbolicTensor;

const base: ResolvedModelOptions = { inputShape: [16, 16, 3], numClasses: 2, outputActivation: 'softmax', width: 4, seed: 3 };

/** A model exposing the outputs of the named layers of `m`. */
function probe(m: tf.LayersModel, names: string[]): tf.LayersModel {
  return tf.model({ inputs: m.inputs, outputs: names.map((n) => m.getLayer(n).output as Sym) });
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Deterministic non-constant input in [0, 1). */
function ramp(shape: [number, number, number, number]): tf.Tensor4D {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = ((i * 37) % 101) / 101;
  return tf.tensor4d(v, shape);
}

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test('output shape [N,H,W,K], softmax rows sum to 1, and "none" has no output activation', () => {
  const start = tf.memory().numTensors;
  const m = buildCgnet({ ...base, inputShape: [24, 32, 1], blocksStage2: 2, blocksStage3: 2 });
  assert.equal(m.outputs[0].shape, [null, 24, 32, 2]);
  const x = ramp([2, 24, 32, 1]);
  const sums = tf.tidy(() => (m.predict(x) as tf.Tensor).sum(-1));
  const s = sums.dataSync();
  for (const v of s) assert.ok(Math.abs(v - 1) < 1e-5);
  tf.dispose([x, sums]);
  m.dispose();
  const raw = buildCgnet({ ...base, outputActivation: 'none', blocksStage2: 2, blocksStage3: 2 });
  assert.not.ok(raw.layers.some((l) => l.name === 'output_act'));
  assert.is(raw.outputs[0].sourceLayer.name, 'upsample');
  raw.dispose();
  assert.is(tf.memory().numTensors, start);
});

test('depth: M and N count the down-sampling block; defaults M3N21 at paper width, M3N9 below', () => {
  assert.equal(cgnetDepth(32), { blocksStage2: 3, blocksStage3: 21 });
  assert.equal(cgnetDepth(8), { blocksStage2: 3, blocksStage3: 9 });
  const m = buildCgnet({ ...base, width: 32 });
  const names = m.layers.map((l) => l.name);
  const count = (re: RegExp) => names.filter((n) => re.test(n)).length;
  // Residual adds only in the non-down-sampling blocks: M-1 and N-1 of them.
  assert.is(count(/^stage2_block\d+_add$/), 2);
  assert.is(count(/^stage3_block\d+_add$/), 20);
  assert.ok(names.includes('stage3_block21_add'));
  assert.not.ok(names.includes('stage2_block1_add'));
  assert.not.ok(names.includes('stage3_block1_add'));
  // Every block (down-sampling included) has f_loc, f_sur and f_glo.
  assert.is(count(/^stage2_block\d+_sur$/), 3);
  assert.is(count(/^stage3_block\d+_glo_fc2$/), 21);
  m.dispose();
});

test('f_loc is a 3x3 channel-wise conv; f_sur is channel-wise with dilation 2 (stage 2) / 4 (stage 3)', () => {
  const m = buildCgnet({ ...base, blocksStage2: 3, blocksStage3: 3 });
  for (const l of m.layers) {
    const match = /^stage(\d)_block\d+_(loc|sur)$/.exec(l.name);
    if (!match) continue;
    assert.is(l.getClassName(), 'MedflChannelWiseConv2D', l.name);
    const cfg = l.getConfig();
    const want = match[2] === 'loc' ? 1 : match[1] === '2' ? 2 : 4;
    assert.is(cfg.dilationRate, want, l.name);
    assert.is(cfg.kernelSize, 3, l.name);
    // Channel-wise: one 3x3 filter per input channel.
    const cin = (l.input as Sym).shape[3] as number;
    assert.equal(l.getWeights()[0].shape, [3, 3, cin, 1], l.name);
  }
  // Impulse response of the stage-3 f_sur: taps only at offsets {-4, 0, 4}.
  const sur = m.getLayer('stage3_block2_sur');
  const c = 4 * base.width / 2; // plain blocks run f_loc/f_sur on C/2 channels
  const impulse = tf.tidy(() => {
    const v = new Float32Array(11 * 11 * c);
    for (let ch = 0; ch < c; ch++) v[(5 * 11 + 5) * c + ch] = 1;
    return tf.tensor4d(v, [1, 11, 11, c]);
  });
  const resp = sur.apply(impulse) as tf.Tensor;
  const r = resp.arraySync() as number[][][][];
  for (let i = 0; i < 11; i++) {
    for (let j = 0; j < 11; j++) {
      const onGrid = [1, 5, 9].includes(i) && [1, 5, 9].includes(j);
      const nonzero = r[0][i][j].some((v) => Math.abs(v) > 1e-7);
      assert.is(nonzero, onGrid, `(${i},${j})`);
    }
  }
  tf.dispose([impulse, resp]);
  m.dispose();
});

test('CG block wiring: joi = concat(f_loc, f_sur); f_glo gate in (0,1) re-weights channels; residual add', () => {
  const start = tf.memory().numTensors;
  const m = buildCgnet({ ...base, blocksStage2: 2, blocksStage3: 2 });
  const b = 'stage2_block2';
  const p = probe(m, [
    'stage2_block1_glo_mul', `${b}_reduce_act`, `${b}_loc`, `${b}_sur`, `${b}_joi`,
    `${b}_joi_act`, `${b}_glo_fc2`, `${b}_glo_mul`, `${b}_add`,
  ]);
  const x = ramp([2, 16, 16, 3]);
  const [blockIn, reduced, loc, sur, joi, joint, gate, mul, out] = p.predict(x) as tf.Tensor[];
  const c = 2 * base.width;
  assert.equal(gate.shape, [2, c]);
  assert.equal(joint.shape, [2, 4, 4, c]);
  const g = gate.dataSync();
  for (const v of g) assert.ok(v > 0 && v < 1, `gate ${v}`);
  const locW = m.getLayer(`${b}_loc`).getWeights()[0] as tf.Tensor4D;
  const surW = m.getLayer(`${b}_sur`).getWeights()[0] as tf.Tensor4D;
  tf.tidy(() => {
    const r4 = reduced as tf.Tensor4D;
    assert.ok(maxAbsDiff(loc, tf.depthwiseConv2d(r4, locW, 1, 'same')) < 1e-5);
    assert.ok(maxAbsDiff(sur, tf.depthwiseConv2d(r4, surW, 1, 'same', 'NHWC', 2)) < 1e-5);
    assert.ok(maxAbsDiff(joi, tf.concat([loc, sur], -1)) < 1e-6);
    assert.ok(maxAbsDiff(mul, tf.mul(joint, gate.reshape([2, 1, 1, c]))) < 1e-6);
    assert.ok(maxAbsDiff(out, tf.add(blockIn, mul)) < 1e-6);
    // The gate is per sample and per channel: it is the sigmoid of FC(ReLU(FC(GAP(joint)))).
    const fc1 = m.getLayer(`${b}_glo_fc1`).getWeights();
    const fc2 = m.getLayer(`${b}_glo_fc2`).getWeights();
    const hidden = tf.relu(tf.add(tf.matMul(tf.mean(joint, [1, 2]), fc1[0] as tf.Tensor2D), fc1[1]));
    const expected = tf.sigmoid(tf.add(tf.matMul(hidden as tf.Tensor2D, fc2[0] as tf.Tensor2D), fc2[1]));
    assert.ok(maxAbsDiff(gate, expected) < 1e-5);
  });
  // Bottleneck widths: stage 2 reduction 8, stage 3 reduction 16 (at least 1 unit).
  assert.is(m.getLayer('stage2_block2_glo_fc1').getConfig().units, Math.max(1, Math.floor(c / 8)));
  const wide = buildCgnet({ ...base, width: 32, blocksStage2: 2, blocksStage3: 2 });
  assert.is(wide.getLayer('stage2_block2_glo_fc1').getConfig().units, 64 / 8);
  assert.is(wide.getLayer('stage3_block2_glo_fc1').getConfig().units, 128 / 16);
  wide.dispose();
  tf.dispose([x, blockIn, reduced, loc, sur, joi, joint, gate, mul, out]);
  m.dispose();
  assert.is(tf.memory().numTensors, start);
});

test('input injection: 3x3/2 average pooling counting the zero padding, at 1/2 and 1/4 resolution', () => {
  const start = tf.memory().numTensors;
  const m = buildCgnet({ ...base, inputShape: [16, 16, 1], blocksStage2: 2, blocksStage3: 2 });
  const p = probe(m, ['inject1_pool', 'inject2_pool', 'stage1_cat', 'stage2_cat', 'stage3_cat', 'stage1_conv3_act']);
  const x = tf.ones([1, 16, 16, 1]);
  const [inj1, inj2, cat1, cat2, cat3, s1] = p.predict(x) as tf.Tensor[];
  assert.equal(inj1.shape, [1, 8, 8, 1]);
  assert.equal(inj2.shape, [1, 4, 4, 1]);
  // All-ones input: a window hanging over the top/left border holds 3 zeros (edge) or 5 (corner).
  const a1 = tf.tidy(() => inj1.reshape([8, 8]).arraySync() as number[][]);
  const expect1 = (i: number, j: number) => (i === 0 && j === 0 ? 4 / 9 : i === 0 || j === 0 ? 6 / 9 : 1);
  for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) assert.ok(Math.abs(a1[i][j] - expect1(i, j)) < 1e-6, `inj1 ${i},${j}`);
  // Second pooling of that map (inject2 = pooling of inject1), by hand:
  const a2 = tf.tidy(() => inj2.reshape([4, 4]).arraySync() as number[][]);
  const corner = (4 / 9 + 6 / 9 + 6 / 9 + 1) / 9; // 25/81
  const edge = (3 * (6 / 9) + 3 * 1) / 9; // 45/81: row 0 of inj1 (three 6/9) + row 1 (three 1)
  assert.ok(Math.abs(a2[0][0] - corner) < 1e-6);
  assert.ok(Math.abs(a2[0][2] - edge) < 1e-6);
  assert.ok(Math.abs(a2[2][0] - edge) < 1e-6);
  assert.ok(Math.abs(a2[2][2] - 1) < 1e-6);
  // Concatenation widths: w + C, 2w + 2w + C, 4w + 4w.
  const w = base.width;
  assert.equal(cat1.shape, [1, 8, 8, w + 1]);
  assert.equal(cat2.shape, [1, 4, 4, 4 * w + 1]);
  assert.equal(cat3.shape, [1, 2, 2, 8 * w]);
  tf.tidy(() => {
    assert.ok(maxAbsDiff(cat1.slice([0, 0, 0, 0], [-1, -1, -1, w]), s1) < 1e-7);
    assert.ok(maxAbsDiff(cat1.slice([0, 0, 0, w], [-1, -1, -1, 1]), inj1) < 1e-7);
    assert.ok(maxAbsDiff(cat2.slice([0, 0, 0, 4 * w], [-1, -1, -1, 1]), inj2) < 1e-7);
  });
  tf.dispose([x, inj1, inj2, cat1, cat2, cat3, s1]);
  m.dispose();
  assert.is(tf.memory().numTensors, start);
});

test('ChannelSlice: config round trip and slicing', () => {
  const layer = new ChannelSlice({ begin: 2, size: 3, name: 'cs' });
  const cfg = layer.getConfig();
  assert.ok(tf.serialization.SerializationMap.getMap().classNameMap.MedflChannelSlice, 'registered');
  const copy = new ChannelSlice(cfg as unknown as ConstructorParameters<typeof ChannelSlice>[0]);
  assert.is(copy.name, 'cs');
  assert.is(copy.begin, 2);
  assert.is(copy.size, 3);
  assert.equal(layer.computeOutputShape([null, 4, 4, 6]), [null, 4, 4, 3]);
  const out = tf.tidy(() => (copy.apply(tf.range(0, 6).reshape([1, 1, 1, 6])) as tf.Tensor).dataSync());
  assert.equal(Array.from(out), [2, 3, 4]);
  assert.throws(() => new ChannelSlice({ begin: -1, size: 1 }), /begin >= 0/);
  assert.throws(() => layer.computeOutputShape([null, 4, 4, 4]), /exceeds 4 input channels/);
});

test('save/load round trip gives identical outputs; same seed gives same weights', async () => {
  const m = buildCgnet({ ...base, blocksStage2: 2, blocksStage3: 2 });
  let artifacts: tf.io.ModelArtifacts | undefined;
  await m.save(tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
  const x = ramp([1, 16, 16, 3]);
  const [a, b] = [m.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
  assert.is(maxAbsDiff(a, b), 0);
  const twin = buildCgnet({ ...base, blocksStage2: 2, blocksStage3: 2 });
  const other = buildCgnet({ ...base, seed: 4, blocksStage2: 2, blocksStage3: 2 });
  const w0 = m.getLayer('stage3_block2_sur').getWeights()[0];
  assert.is(maxAbsDiff(w0, twin.getLayer('stage3_block2_sur').getWeights()[0]), 0);
  assert.ok(maxAbsDiff(w0, other.getLayer('stage3_block2_sur').getWeights()[0]) > 1e-3);
  tf.dispose([x, a, b]);
  [m, loaded, twin, other].forEach((mm) => mm.dispose());
});

test('a training step runs through the dilated channel-wise convs and changes f_sur', () => {
  const m = buildCgnet({ ...base, numClasses: 1, outputActivation: 'sigmoid', blocksStage2: 2, blocksStage3: 2 });
  const x = ramp([2, 16, 16, 3]);
  const y = tf.tidy(() => tf.greater(x.mean(-1, true), 0.5).toFloat());
  const before = m.getLayer('stage3_block2_sur').getWeights()[0].clone();
  const opt = tf.train.sgd(0.1);
  const loss = opt.minimize(() => tf.losses.sigmoidCrossEntropy(y, m.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
  assert.ok(Number.isFinite(loss.dataSync()[0]));
  assert.ok(maxAbsDiff(before, m.getLayer('stage3_block2_sur').getWeights()[0]) > 0);
  tf.dispose([x, y, before, loss]);
  opt.dispose();
  m.dispose();
});

test('bad options fail with clear messages; spec split points are layers of the model', () => {
  assert.throws(() => buildCgnet({ ...base, blocksStage3: 1 }), /blocksStage3 must be an integer >= 2/);
  assert.throws(() => buildCgnet({ ...base, inputShape: [20, 16, 3] }), /multiples of 8/);
  const m = cgnet.build({ ...base, width: cgnet.capabilities.defaultWidth });
  const { twoPart, uShaped } = cgnet.capabilities.split;
  for (const name of [twoPart, ...uShaped]) assert.ok(m.getLayer(name), name);
  // The front must not feed the server anything but the cut: only `stage1_cat` leaves it.
  assert.is(m.getLayer('inject2_slice').inboundNodes[0].inboundLayers[0].name, 'stage1_cat');
  m.dispose();
});

test.run();
