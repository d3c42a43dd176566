/**
 * DeepLabV3 (arXiv:1706.05587) and its shared blocks: the ResNet-style backbone's output
 * stride and dilations, the ASPP branch count / rates / image pooling, the rate rule for
 * small feature maps, and a training step through the dilated convolutions.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { SeededInit } from '../../src/models/blocks/init';
import { resnetBackbone, resnetChannels, resnetStageSchedule } from '../../src/models/blocks/resnet';
import { defaultAtrousRates } from '../../src/models/blocks/aspp';
import { buildDeepLabV3, deeplabv3 } from '../../src/models/deeplabv3';
import type { ResolvedModelOptions } from '../../src/models/types';

const opts = (h: number, w: number, extra: Partial<ResolvedModelOptions> = {}): ResolvedModelOptions => ({
  inputShape: [h, w, 3],
  numClasses: 1,
  outputActivation: 'sigmoid',
  width: 4,
  seed: 1,
  ...extra,
});

/** Dilation rate of a conv layer, as the pair tfjs stores. */
function dilationOf(model: tf.LayersModel, name: string): number[] {
  const d = model.getLayer(name).getConfig().dilationRate as number | number[];
  return Array.isArray(d) ? d : [d, d];
}

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test('defaultAtrousRates keeps the paper ratio rate / feature size, strictly increasing', () => {
  // [featureSize, expected]: paper [6,12,18] at 33; r = max(1, round(paper * f / 33)), forced increasing.
  const table: [number, number[]][] = [
    [33, [6, 12, 18]],
    [16, [3, 6, 9]], // 2.91, 5.82, 8.73
    [8, [1, 3, 4]], // 1.45, 2.91, 4.36
    [4, [1, 2, 3]], // 0.73 -> 1, 1.45 -> 1 -> 2, 2.18 -> 2 -> 3
    [2, [1, 2, 3]],
  ];
  for (const [f, expected] of table) assert.equal(defaultAtrousRates(f), expected, `feature size ${f}`);
  assert.throws(() => defaultAtrousRates(0), /featureSize must be >= 1/);
});

test('backbone output stride and dilation schedule (OS 32 / 16 / 8) on a 64x64 input', () => {
  const table: [8 | 16 | 32, number[], number[]][] = [
    // outputStride, spatial size of the 4 stage outputs, dilation of each stage
    [32, [16, 8, 4, 2], [1, 1, 1, 1]],
    [16, [16, 8, 4, 4], [1, 1, 1, 2]],
    [8, [16, 8, 8, 8], [1, 1, 2, 4]],
  ];
  for (const [os, sizes, dil] of table) {
    const input = tf.input({ shape: [64, 64, 3] });
    const f = resnetBackbone(input, { width: 4, block: 'bottleneck', blocks: [1, 1, 1, 1], outputStride: os, init: new SeededInit(0) });
    assert.equal(f.stages.map((s) => s.shape[1]), sizes, `OS${os} stage sizes`);
    assert.equal(f.strides, sizes.map((s) => 64 / s), `OS${os} strides`);
    assert.equal(f.dilations, dil, `OS${os} dilations`);
    assert.equal(f.stem.shape, [null, 16, 16, 4]);
    assert.equal(f.stages.map((s) => s.shape[3]), [16, 32, 64, 128], 'bottleneck channels 4w..32w');
    assert.equal(f.stageNames, ['layer1_out', 'layer2_out', 'layer3_out', 'layer4_out']);
    const model = tf.model({ inputs: input, outputs: f.stages[3] });
    assert.equal(dilationOf(model, 'layer4_b1_conv2'), [dil[3], dil[3]], `OS${os} layer4 3x3 conv dilation`);
    model.dispose();
  }
  assert.equal(resnetChannels(64, 'bottleneck'), [256, 512, 1024, 2048], 'paperWidth = ResNet-50 channels');
  assert.equal(resnetChannels(64, 'basic'), [64, 128, 256, 512], 'ResNet-18/34 channels');
  assert.throws(() => resnetStageSchedule(4 as 8), /outputStride must be 8, 16 or 32/);
});

test('multi-grid multiplies the last stage rate per block; basic blocks keep planes', () => {
  const input = tf.input({ shape: [32, 32, 1] });
  const f = resnetBackbone(input, {
    width: 2,
    block: 'basic',
    blocks: [1, 1, 1, 3],
    outputStride: 16,
    multiGrid: [1, 2, 4],
    init: new SeededInit(0),
  });
  const model = tf.model({ inputs: input, outputs: f.stages[3] });
  assert.equal([1, 2, 3].map((b) => dilationOf(model, `layer4_b${b}_conv1`)[0]), [2, 4, 8]);
  assert.equal(f.stages.map((s) => s.shape[3]), [2, 4, 8, 16]);
  assert.equal(f.stages[3].shape.slice(1, 3), [2, 2], 'OS16 on 32 px');
  model.dispose();
});

test('DeepLabV3: ASPP has 1x1 + 3 atrous + image-pooling branches with the documented rates', () => {
  const model = buildDeepLabV3(opts(64, 64));
  const concat = model.getLayer('aspp_concat');
  const inbound = concat.inboundNodes[0].inboundLayers.map((l) => l.name);
  assert.equal(inbound, ['aspp_b0_relu', 'aspp_b1_relu', 'aspp_b2_relu', 'aspp_b3_relu', 'aspp_pool_up']);
  assert.equal(model.getLayer('aspp_b0_conv').getConfig().kernelSize, [1, 1]);
  // 64 px / OS16 = 4x4 feature map -> default rates [1, 2, 3].
  assert.equal([1, 2, 3].map((i) => dilationOf(model, `aspp_b${i}_conv`)[0]), [1, 2, 3]);
  assert.equal(concat.outputShape, [null, 4, 4, 5 * 16], 'five branches of 4w channels');
  assert.equal(model.getLayer('aspp_proj_relu').outputShape, [null, 4, 4, 16], 'ASPP at H/16');
  model.dispose();

  const custom = buildDeepLabV3(opts(64, 64), { atrousRates: [6, 12, 18] });
  assert.equal([1, 2, 3].map((i) => dilationOf(custom, `aspp_b${i}_conv`)[0]), [6, 12, 18]);
  custom.dispose();
  const os8 = buildDeepLabV3(opts(64, 64), { outputStride: 8 });
  assert.equal(os8.getLayer('aspp_proj_relu').outputShape, [null, 8, 8, 16], 'OS8 feature map');
  assert.equal([1, 2, 3].map((i) => dilationOf(os8, `aspp_b${i}_conv`)[0]), [1, 3, 4], '8x8 map -> [1, 3, 4]');
  assert.is(os8.getLayer('upsample').getConfig().size?.toString(), '8,8');
  os8.dispose();
});

test('DeepLabV3: image-pooling output is constant over space per channel, and global', () => {
  const model = buildDeepLabV3(opts(64, 64, { seed: 3 }));
  const sub = tf.model({ inputs: model.inputs, outputs: model.getLayer('aspp_pool_up').output as tf.SymbolicTensor });
  const before = tf.memory().numTensors;
  const [pooled, pooledShifted] = tf.tidy(() => {
    const x = tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 5);
    // Same image with a far-away corner changed: the global branch must see it.
    const mask = tf.pad(tf.ones([1, 8, 8, 3]), [[0, 1], [56, 0], [56, 0], [0, 0]]);
    return [sub.predict(x) as tf.Tensor, sub.predict(tf.add(x, tf.mul(mask, 0.9))) as tf.Tensor];
  });
  assert.equal(pooled.shape, [2, 4, 4, 16]);
  const v = pooled.arraySync() as number[][][][];
  let spread = 0;
  let nonZero = 0;
  for (const img of v) {
    for (let c = 0; c < 16; c++) {
      const ref = img[0][0][c];
      if (Math.abs(ref) > 1e-6) nonZero++;
      for (const row of img) for (const px of row) spread = Math.max(spread, Math.abs(px[c] - ref));
    }
  }
  assert.ok(spread < 1e-6, `spatially constant per channel (max spread ${spread})`);
  assert.ok(nonZero > 0, 'branch is not identically zero');
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(pooled, pooledShifted))).dataSync()[0]);
  assert.ok(diff > 1e-5, `changing a corner changes the pooled feature (${diff})`);
  tf.dispose([pooled, pooledShifted]);
  assert.is(tf.memory().numTensors, before, 'no tensor leak');
  model.dispose();
});

test('DeepLabV3: output [N,H,W,K] on a non-square input; split layers exist', () => {
  const model = buildDeepLabV3(opts(96, 64, { numClasses: 3, outputActivation: 'softmax' }));
  assert.equal(model.getLayer('aspp_proj_relu').outputShape, [null, 6, 4, 16], 'OS16 of 96x64');
  const y = tf.tidy(() => model.predict(tf.randomUniform([2, 96, 64, 3], 0, 1, 'float32', 1)) as tf.Tensor);
  assert.equal(y.shape, [2, 96, 64, 3]);
  const maxDev = tf.tidy(() => tf.max(tf.abs(tf.sub(tf.sum(y, -1), 1))).dataSync()[0]);
  assert.ok(maxDev < 1e-5, 'softmax sums to 1');
  y.dispose();
  const { twoPart, uShaped } = deeplabv3.capabilities.split;
  for (const n of [twoPart, ...uShaped]) assert.ok(model.getLayer(n), `split layer ${n}`);
  assert.equal(model.getLayer(twoPart).outputShape, [null, 24, 16, 16], 'client front ends at stage 1 (OS4)');
  model.dispose();
  assert.throws(() => buildDeepLabV3(opts(72, 64)), /divisible by the output stride 16/);
});

test('DeepLabV3: a training step through the dilated convs gives finite, non-zero gradients', () => {
  const model = buildDeepLabV3(opts(32, 32, { width: 2, seed: 4 }));
  assert.equal(dilationOf(model, 'layer4_b1_conv2'), [2, 2]);
  const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 8);
  const y = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([2, 32, 32, 1], 0, 1, 'float32', 9), 0.5), 'float32'));
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const before = tf.memory().numTensors;
  const { value, grads } = tf.variableGrads(
    () => tf.losses.sigmoidCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
    vars,
  );
  assert.ok(Number.isFinite(value.dataSync()[0]));
  for (const v of vars) {
    const g = grads[v.name].dataSync();
    assert.ok(g.every(Number.isFinite), `finite gradient for ${v.name}`);
  }
  const dilated = vars.filter((v) => /layer4_b1_conv2|aspp_b3_conv/.test(v.name));
  assert.is(dilated.length, 2);
  for (const v of dilated) {
    const norm = tf.tidy(() => tf.norm(grads[v.name]).dataSync()[0]);
    assert.ok(norm > 0, `non-zero gradient for dilated ${v.name}`);
  }
  tf.dispose([value, ...Object.values(grads)]);
  assert.is(tf.memory().numTensors, before, 'no tensor leak');
  tf.dispose([x, y]);
  model.dispose();
});

test.run();
