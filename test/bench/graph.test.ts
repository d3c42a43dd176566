/**
 * The tfjs -> PyTorch-twin graph description and the bench table formatter
 * (the benchmark itself is never run in the test suite).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { describeModel, formatBenchTable, parseBenchWidth, resolveBenchWidth, type BenchResult, type GraphNode } from '../../src/bench';
import { createModel } from '../../src/models/registry';
import { buildSwinUnet } from '../../src/models/swin-unet';

function tinyModel(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3], name: 'in' });
  const c1 = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, name: 'c1' }).apply(input) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5, name: 'bn' }).apply(c1) as tf.SymbolicTensor;
  const r = tf.layers.reLU({ name: 'r' }).apply(bn) as tf.SymbolicTensor;
  const p = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'p' }).apply(r) as tf.SymbolicTensor;
  const up = tf.layers.conv2dTranspose({ filters: 4, kernelSize: 2, strides: 2, padding: 'same', name: 'up' }).apply(p) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate({ name: 'cat' }).apply([r, up]) as tf.SymbolicTensor;
  const head = tf.layers.conv2d({ filters: 1, kernelSize: 1, dilationRate: 1, name: 'head' }).apply(cat) as tf.SymbolicTensor;
  const out = tf.layers.activation({ activation: 'sigmoid', name: 'act' }).apply(head) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'tiny' });
}

test('describeModel lists every layer with its op, inputs, output shape and twin parameters', () => {
  const m = tinyModel();
  const g = describeModel(m);
  assert.is(g.name, 'tiny');
  assert.equal(g.inputShape, [8, 8, 3]);
  assert.is(g.output, 'act');
  // conv 3*3*3*4 + BN 4*4 + convT 2*2*4*4+4 + head 8+1 = 108 + 16 + 68 + 9
  assert.is(g.params, 201);
  assert.is(g.params, m.countParams());
  const byName = Object.fromEntries(g.nodes.map((n) => [n.name, n]));
  assert.equal(g.nodes.map((n) => n.op), ['input', 'conv2d', 'batchnorm', 'act', 'maxpool', 'conv2dTranspose', 'concat', 'conv2d', 'act']);
  assert.equal(byName.c1.params, { inC: 3, outC: 4, kernel: [3, 3], stride: [1, 1], dilation: [1, 1], padding: 'same', bias: false, activation: 'linear' });
  assert.equal(byName.bn.params, { C: 4, eps: 1e-5, momentum: 1 - 0.9 });
  assert.equal(byName.r.params, { fn: 'relu' });
  assert.equal(byName.p.params, { kernel: [2, 2], stride: [2, 2], padding: 'valid' });
  assert.equal(byName.up.params, { inC: 4, outC: 4, kernel: [2, 2], stride: [2, 2], padding: 'same', bias: true, activation: 'linear' });
  assert.equal(byName.cat.inputs, ['r', 'up']);
  assert.equal(byName.cat.shape, [8, 8, 8]);
  assert.equal(byName.p.shape, [4, 4, 4]);
  assert.equal(byName.act.params, { fn: 'sigmoid' });
  m.dispose();
});

test('describeModel names the first layer class without a PyTorch twin', () => {
  const input = tf.input({ shape: [4, 4, 2] });
  const f = tf.layers.flatten({ name: 'flat' }).apply(input) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: f, name: 'flat_model' });
  assert.throws(() => describeModel(m), /no PyTorch twin for layer class 'Flatten' \(layer 'flat'\)/);
  m.dispose();
});

/**
 * Parameters of the official PyTorch Swin-Unet module (HuCaoFighting/Swin-Unet)
 * a node stands for, from the node's own params only (nn.Linear w + b,
 * nn.LayerNorm 2C, Conv2d p*p*Cin*C + C, bias table (2M-1)^2 * heads).
 */
function officialSwinParams(n: GraphNode): number {
  const p = n.params as Record<string, number & boolean>;
  const lin = (i: number, o: number, bias: boolean) => i * o + (bias ? o : 0);
  switch (n.op) {
    case 'swinPatchEmbed': return lin(p.patch * p.patch * p.inC, p.dim, true) + 2 * p.dim;
    case 'swinPatchMerging': return 2 * 4 * p.dim + lin(4 * p.dim, 2 * p.dim, false);
    case 'swinPatchExpand': return lin(p.dim, p.scale * p.scale * p.outDim, false) + 2 * p.outDim;
    case 'tokenLinear': return lin(p.in, p.out, p.bias);
    case 'layerNorm': return 2 * p.C;
    case 'swinBlock': {
      const c = p.dim;
      return 2 * 2 * c + lin(c, 3 * c, p.qkvBias) + (2 * p.window - 1) ** 2 * p.heads + lin(c, c, true)
        + lin(c, p.mlpHidden, true) + lin(p.mlpHidden, c, true);
    }
    default: return 0;
  }
}

test('describeModel(swin-unet): every Swin layer converts, with the hyper-parameters of the official modules', () => {
  const before = tf.memory().numTensors;
  // 64x64, width 16: grids 16, 8, 4, 2; windows [4, 4, 4, 2]; heads 1, 1, 2, 4 (16/32 rounds to 1).
  const m = createModel('swin-unet', { inputShape: [64, 64, 3], numClasses: 2, outputActivation: 'none', width: 16, seed: 1 });
  const g = describeModel(m, 'swin-unet');
  const byName = Object.fromEntries(g.nodes.map((n) => [n.name, n]));
  const count = (op: string) => g.nodes.filter((n) => n.op === op).length;
  assert.is(g.output, 'head_act');
  assert.equal(g.inputShape, [64, 64, 3]);
  // 4 encoder/bottleneck stages + 3 decoder stages, 2 blocks each.
  assert.is(count('swinBlock'), 14);
  assert.is(count('swinPatchEmbed'), 1);
  assert.is(count('swinPatchMerging'), 3);
  assert.is(count('swinPatchExpand'), 4);
  assert.is(count('tokenLinear'), 4);
  assert.is(count('layerNorm'), 2);
  assert.is(count('concat'), 3);
  assert.is(g.nodes.length, 33);

  assert.equal(byName.patch_embed.params, { inC: 3, dim: 16, patch: 4, eps: 1e-5, resolution: [64, 64] });
  assert.equal(byName.patch_embed.shape, [16, 16, 16]);
  const block = (name: string) => byName[name].params;
  // W-MSA then SW-MSA (shift M/2) at stage 1.
  assert.equal(block('enc1_block1'), {
    dim: 16, resolution: [16, 16], heads: 1, window: 4, shift: 0, requestedWindow: 4, requestedShift: 0,
    mlpHidden: 64, qkvBias: true, eps: 1e-5, maskValue: -100, dropPath: 0,
  });
  assert.equal([block('enc1_block2').window, block('enc1_block2').shift], [4, 2]);
  // Stage 3: 4x4 grid <= window 4 -> the official clamp: one window, shift 0.
  assert.equal([block('enc3_block2').resolution, block('enc3_block2').window, block('enc3_block2').shift, block('enc3_block2').requestedShift], [[4, 4], 4, 0, 2]);
  assert.equal([block('bottleneck_block1').dim, block('bottleneck_block1').heads, block('bottleneck_block1').window], [128, 4, 2]);
  assert.equal(byName.enc1_merge.params, { dim: 16, eps: 1e-5, resolution: [16, 16] });
  assert.equal(byName.enc1_merge.shape, [8, 8, 32]);
  assert.equal(byName.bottleneck_expand.params, { dim: 128, scale: 2, outDim: 64, eps: 1e-5, resolution: [2, 2] });
  assert.equal(byName.final_expand.params, { dim: 16, scale: 4, outDim: 16, eps: 1e-5, resolution: [16, 16] });
  assert.equal(byName.final_expand.shape, [64, 64, 16]);
  assert.equal(byName.dec1_fuse.params, { in: 32, out: 16, bias: true });
  assert.equal(byName.head.params, { in: 16, out: 2, bias: false });
  assert.equal(byName.bottleneck_norm.params, { C: 128, eps: 1e-5 });
  // Skips: each encoder stage's input (patch embedding / previous merge).
  assert.equal(byName.dec3_concat.inputs, ['bottleneck_expand', 'enc2_merge']);
  assert.equal(byName.dec1_concat.inputs, ['dec2_expand', 'patch_embed']);
  assert.equal(byName.dec1_concat.shape, [16, 16, 32]);

  // Hand-computed: patch embed 4*4*3*16 + 16 + 2*16; block C=16, r=4, M=4, 1 head:
  // norms 64 + qkv 768+48 + table 49 + proj 256+16 + fc1 1024+64 + fc2 1024+16.
  assert.is(officialSwinParams(byName.patch_embed), 816);
  assert.is(officialSwinParams(byName.enc1_block1), 3329);
  // Every node's official module has exactly the layer's parameters; they sum to countParams.
  for (const layer of m.layers) {
    const n = byName[layer.name];
    assert.is(officialSwinParams(n), layer.countParams(), `${layer.name} (${n.op})`);
  }
  assert.is(g.nodes.reduce((a, n) => a + officialSwinParams(n), 0), m.countParams());
  assert.is(g.params, m.countParams());
  m.dispose();
  assert.is(tf.memory().numTensors, before, 'no tensors left behind');
});

test('describeModel(swin-unet): window, shift and MLP width follow the builder options', () => {
  const m = buildSwinUnet({ inputShape: [32, 32, 1], numClasses: 1, outputActivation: 'sigmoid', width: 8, seed: 2, windowSize: 2, mlpRatio: 3 });
  const g = describeModel(m);
  const blocks = g.nodes.filter((n) => n.op === 'swinBlock');
  // Grids 8, 4, 2, 1: window 2 (shift 1 in odd blocks) until the grid is <= 2, then clamped.
  assert.equal(blocks.map((n) => [n.name, n.params.window, n.params.shift]).slice(0, 8), [
    ['enc1_block1', 2, 0], ['enc1_block2', 2, 1], ['enc2_block1', 2, 0], ['enc2_block2', 2, 1],
    ['enc3_block1', 2, 0], ['enc3_block2', 2, 0], ['bottleneck_block1', 1, 0], ['bottleneck_block2', 1, 0],
  ]);
  assert.ok(blocks.every((n) => n.params.mlpHidden === 3 * (n.params.dim as number)));
  assert.is(g.nodes[g.nodes.length - 1].params.fn, 'sigmoid');
  assert.is(g.nodes.reduce((a, n) => a + officialSwinParams(n), 0), m.countParams());
  m.dispose();
});

function result(over: Partial<BenchResult>): BenchResult {
  return {
    model: 'unet', backend: 'wasm', size: 128, batch: 8, width: null, params: 1000,
    trainCpuMs: 400, trainWallMs: 800, trainImgPerSec: 20, trainWallImgPerSec: 10, inferCpuMs: 80, inferWallMs: 100, inferImgPerSec: 100,
    peakTensorBytes: 3 * 2 ** 20, wasmHeapBytes: 64 * 2 ** 20, rssBytes: 0, ...over,
  };
}

test('formatBenchTable: one aligned row per model and thread count, ratios to 2 decimals, errors shown', () => {
  const rows = [
    result({ torch: { version: '1.13', trainImgPerSec: 40, inferImgPerSec: 200, trainCpuMs: 200, trainWallMs: 210, weights: 1000 }, trainRatio: 0.5, inferRatio: 0.5 }),
    result({ width: 64, threads: 2, basis: 'wall', trainImgPerSec: 10, torch: { version: '1.13', trainImgPerSec: 5, inferImgPerSec: 50, trainCpuMs: 200, trainWallMs: 210, weights: 1000 }, trainRatio: 2, inferRatio: 2 }),
    result({ model: 'swin-unet', torchSkipped: 'no twin' }),
    result({ model: 'cgnet', error: 'failed to build' }),
  ];
  const lines = formatBenchTable(rows).split('\n');
  assert.is(lines.length, 2 + rows.length);
  assert.ok(lines[0].startsWith('model'));
  const unet = lines[2].split(/\s+/);
  assert.equal(unet.slice(0, 13), ['unet', 'def', '1', '1000', '20.0', '10.0', '40.0', '0.50', '100.0', '200.0', '0.50', '3', '64']);
  assert.equal(lines[3].split(/\s+/).slice(0, 8), ['unet', '64', '2', '1000', '10.0', '10.0', '5.0', '2.00']);
  assert.ok(lines[4].includes(' - '), 'missing torch figures print as -');
  assert.match(lines[5], /cgnet\s+def\s+1\s+-\s+error: failed to build/);
  const widths = new Set(lines.map((l) => l.trimEnd().length).slice(0, 2));
  assert.is(widths.size, 1, 'header and rule have the same width');
});

test('bench --width: numbers, paper and default; paper resolves to each model\'s paperWidth', () => {
  assert.is(parseBenchWidth('16'), 16);
  assert.is(parseBenchWidth('paper'), 'paper');
  assert.is(parseBenchWidth('Default'), 'default');
  assert.throws(() => parseBenchWidth('wide'), /--width.*'wide'/);
  assert.throws(() => parseBenchWidth('0'), /--width/);
  assert.is(resolveBenchWidth('unet', 'paper'), 64);
  assert.is(resolveBenchWidth('unet', 'default'), undefined);
  assert.is(resolveBenchWidth('unet', 8), 8);
});

test.run();
