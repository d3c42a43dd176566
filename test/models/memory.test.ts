/**
 * Training-memory budget: the estimate on hand-computed one-layer models;
 * an oversized config is refused on wasm with the need, the limit and what
 * to change, before anything is allocated (runFederated included); no check
 * on the cpu / tensorflow engines.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { ACTIVATION_FACTOR, MemoryBudgetError, WASM_TRAINING_LIMIT_BYTES, checkTrainingMemory, estimateTrainingMemory, trainingMemoryLimit } from '../../src/models/memory';
import { runFederated } from '../../src/fl/rounds';
import { MODEL_NAMES, createModel, getModelSpec } from '../../src/models/registry';
import { tinyConfig, tinySites } from '../fl/helpers';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

/** input [H, W, C] -> conv 3x3 (`filters`, bias) [-> BatchNorm]. */
function convModel(inputShape: [number, number, number], filters: number, batchNorm = false): tf.LayersModel {
  const input = tf.input({ shape: inputShape });
  let x = tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same' }).apply(input) as tf.SymbolicTensor;
  if (batchNorm) x = tf.layers.batchNormalization().apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x });
}

const K = ACTIVATION_FACTOR;
// [name, batchNorm, batch, expected P, T, kept A per sample, labels L, largest M]
const cases: [string, boolean, number, number, number, number, number, number][] = [
  // conv 3x3x1x2 + 2 biases = 20 weights; outputs: input 4*4*1 = 16, conv 4*4*2 = 32.
  ['one conv layer', false, 2, 20, 20, 16 + 32, 32, 32],
  // + BatchNorm: gamma, beta (trainable) and moving mean / variance (not): 4 * 2 weights, one more 32-output.
  ['conv + BatchNorm', true, 3, 28, 24, 16 + 32 + 32, 32, 32],
];

for (const [name, bn, N, P, T, A, L, M] of cases) {
  test(`estimate, ${name}: weights + Adam moments + gradients + kept activations, by hand`, () => {
    const model = convModel([4, 4, 1], 2, bn);
    const e = estimateTrainingMemory(model, N);
    assert.is(e.parameters, P);
    assert.is(e.trainableParameters, T);
    assert.is(e.weightsBytes, 4 * P);
    assert.is(e.optimizerBytes, 8 * T);
    assert.is(e.gradientBytes, 4 * T);
    assert.is(e.activationBytes, 4 * N * (K * A + L));
    assert.is(e.transientBytes, 4 * N * 2 * M);
    assert.is(e.fixedBytes, 4 * P + 12 * T);
    assert.is(e.bytesPerSample, 4 * (K * A + L + 2 * M));
    assert.is(e.totalBytes, 4 * P + 12 * T + 4 * N * (K * A + L + 2 * M));
    model.dispose();
  });
}

test('estimate: batch size must be a positive integer', () => {
  const model = convModel([4, 4, 1], 2);
  for (const b of [0, -1, 1.5, NaN]) assert.throws(() => estimateTrainingMemory(model, b), /batchSize must be an integer >= 1/);
  model.dispose();
});

test('limit: wasm 4 GiB minus 10%, no check on cpu / tensorflow', () => {
  assert.is(trainingMemoryLimit('wasm'), WASM_TRAINING_LIMIT_BYTES);
  assert.ok(WASM_TRAINING_LIMIT_BYTES > 3.55 * 2 ** 30 && WASM_TRAINING_LIMIT_BYTES < 3.65 * 2 ** 30);
  assert.is(trainingMemoryLimit('cpu'), null);
  assert.is(trainingMemoryLimit('tensorflow'), null);
});

test('check: an oversized config is refused on wasm with need, limit and a batch size that fits, without allocating it', () => {
  // 1024 x 1024 x 3 -> 16 filters: (3 + 16) * 1024^2 kept floats per sample, about 0.3 GiB a sample.
  const model = convModel([1024, 1024, 3], 16);
  const before = tf.memory().numBytes;
  const e = estimateTrainingMemory(model, 16);
  assert.ok(e.totalBytes > WASM_TRAINING_LIMIT_BYTES);
  const fit = Math.floor((WASM_TRAINING_LIMIT_BYTES - e.fixedBytes) / e.bytesPerSample);
  try {
    checkTrainingMemory(model, 16, { context: 'test', modelLabel: 'one conv' });
    assert.unreachable('expected a MemoryBudgetError');
  } catch (err) {
    assert.instance(err, MemoryBudgetError);
    const m = (err as Error).message;
    assert.match(m, /^test: training one conv, batch size 16 needs an estimated \d+\.\d GiB /);
    assert.match(m, /over the wasm engine's limit of 3\.6 GiB/);
    assert.match(m, `a batch size of at most ${fit};`);
    assert.match(m, /smaller images \(about \d+x\d+ px or less at batch 16/);
    assert.match(m, /a smaller model width/);
    assert.is((err as MemoryBudgetError).limitBytes, WASM_TRAINING_LIMIT_BYTES);
  }
  // A batch that fits passes; the same config passes on cpu and without a limit.
  assert.is(checkTrainingMemory(model, fit).batchSize, fit);
  assert.throws(() => checkTrainingMemory(model, fit + 1), /needs an estimated/);
  assert.is(checkTrainingMemory(model, 16, { backend: 'cpu' }).totalBytes, e.totalBytes);
  assert.is(checkTrainingMemory(model, 16, { limitBytes: null }).totalBytes, e.totalBytes);
  assert.is(tf.memory().numBytes, before);
  model.dispose();
});

test('check: a model whose weights alone exceed the limit gets no batch size advice', () => {
  const model = convModel([8, 8, 3], 8);
  try {
    checkTrainingMemory(model, 1, { limitBytes: 100 });
    assert.unreachable('expected a MemoryBudgetError');
  } catch (err) {
    const m = (err as Error).message;
    assert.not.match(m, /batch size of at most/);
    assert.not.match(m, /smaller images/);
    assert.match(m, /over the wasm engine's limit of 100 B\. Use a smaller model width/);
  }
  model.dispose();
});

test('estimate: every registered model, at its smallest size; weights match the model; linear in the batch size', () => {
  for (const name of MODEL_NAMES) {
    const caps = getModelSpec(name).capabilities;
    const size = Math.max(caps.minSize, caps.divisibleBy);
    const model = createModel(name, { inputShape: [size, size, 3], numClasses: 1 });
    const one = estimateTrainingMemory(model, 1);
    const four = estimateTrainingMemory(model, 4);
    assert.is(one.parameters, model.countParams(), name);
    assert.ok(one.bytesPerSample > 4 * size * size * 3, name);
    assert.is(four.totalBytes - one.totalBytes, 3 * one.bytesPerSample, name);
    model.dispose();
  }
});

test('runFederated refuses an oversized run before training, and releases its model', async () => {
  const sites = tinySites(2, 4);
  const before = tf.memory().numTensors;
  const cfg = tinyConfig({ name: 'fedavg' }, { batchSize: 32 }, 1024);
  const t0 = Date.now();
  try {
    await runFederated(cfg, sites);
    assert.unreachable('expected a MemoryBudgetError');
  } catch (err) {
    assert.instance(err, MemoryBudgetError);
    assert.match((err as Error).message, /^runFederated: training unet \(width 2, input 1024x1024x3\), batch size 32 needs an estimated [\d.]+ GiB .* over the wasm engine's limit/);
  }
  assert.ok(Date.now() - t0 < 10_000);
  assert.is(tf.memory().numTensors, before);
});

test.run();
