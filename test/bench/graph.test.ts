/**
 * The tfjs -> PyTorch-twin graph description and the bench table formatter
 * (the benchmark itself is never run in the test suite).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { describeModel, formatBenchTable, type BenchResult } from '../../src/bench';

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

function result(over: Partial<BenchResult>): BenchResult {
  return {
    model: 'unet', backend: 'wasm', size: 128, batch: 8, width: null, params: 1000,
    trainCpuMs: 400, trainWallMs: 800, trainImgPerSec: 20, trainWallImgPerSec: 10, inferCpuMs: 80, inferWallMs: 100, inferImgPerSec: 100,
    peakTensorBytes: 3 * 2 ** 20, wasmHeapBytes: 64 * 2 ** 20, rssBytes: 0, ...over,
  };
}

test('formatBenchTable: one aligned row per model, ratios to 2 decimals, errors shown', () => {
  const rows = [
    result({ torch: { version: '1.13', trainImgPerSec: 40, inferImgPerSec: 200, trainCpuMs: 200, trainWallMs: 210, trainImgPerSec2Threads: 70, weights: 1000 }, trainRatio: 0.5, inferRatio: 0.5 }),
    result({ model: 'swin-unet', torchSkipped: 'no twin' }),
    result({ model: 'cgnet', error: 'failed to build' }),
  ];
  const lines = formatBenchTable(rows).split('\n');
  assert.is(lines.length, 2 + rows.length);
  assert.ok(lines[0].startsWith('model'));
  const unet = lines[2].split(/\s+/);
  assert.equal(unet.slice(0, 12), ['unet', '1000', '20.0', '10.0', '100.0', '3', '64', '40.0', '70.0', '0.50', '200.0', '0.50']);
  assert.ok(lines[3].includes(' - '), 'missing torch figures print as -');
  assert.match(lines[4], /cgnet\s+-\s+error: failed to build/);
  const widths = new Set(lines.map((l) => l.trimEnd().length).slice(0, 2));
  assert.is(widths.size, 1, 'header and rule have the same width');
});

test.run();
