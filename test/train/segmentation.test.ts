/**
 * trainSegmentation / evaluateSegmentation on the shared loops: a training
 * step leaves the tensor count unchanged, same seed gives the same weights,
 * bad input is rejected clearly, evaluation scores a known predictor exactly.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { syntheticSites } from '../../src/data/synthetic';
import { createModel } from '../../src/models/registry';
import { trainSegmentation, evaluateSegmentation } from '../../src/train';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test('a training step leaves tf.memory().numTensors unchanged', async () => {
  const data = syntheticSites({ sites: 2, samplesPerSite: 4, size: 32, seed: 1 });
  const model = createModel('unet', { inputShape: [32, 32, 3], numClasses: 1, width: 2, seed: 1 });
  const optimizer = tf.train.adam(1e-3);
  await trainSegmentation(model, data, { epochs: 1, batchSize: 4, optimizer, seed: 1 }); // creates Adam slots
  const counts: number[] = [];
  for (let e = 0; e < 3; e++) {
    await trainSegmentation(model, data, { epochs: 1, batchSize: 4, optimizer, seed: e });
    counts.push(tf.memory().numTensors);
  }
  assert.equal(counts, [counts[0], counts[0], counts[0]]);
  optimizer.dispose();
  model.dispose();
});

test('same seed and data give identical weights; a different seed gives different ones', async () => {
  const data = syntheticSites({ sites: 2, samplesPerSite: 6, size: 32, seed: 2 });
  const run = async (seed: number) => {
    const model = createModel('unet', { inputShape: [32, 32, 3], numClasses: 1, width: 2, seed: 3 });
    await trainSegmentation(model, data, { epochs: 2, batchSize: 4, seed });
    const w = model.getWeights().map((t) => Float32Array.from(t.dataSync()));
    model.dispose();
    return w;
  };
  const a = await run(1);
  const b = await run(1);
  const c = await run(2);
  assert.ok(a.every((w, i) => w.every((v, j) => v === b[i][j])), 'same seed: bit-identical weights');
  assert.ok(a.some((w, i) => w.some((v, j) => v !== c[i][j])), 'different batch order: different weights');
});

test('trainSegmentation rejects bad input clearly', async () => {
  const data = syntheticSites({ sites: 1, samplesPerSite: 2, size: 32, seed: 1 });
  const model = createModel('unet', { inputShape: [32, 32, 3], numClasses: 1, width: 2 });
  let msg = '';
  try {
    await trainSegmentation(model, data, { epochs: -1 });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.match(msg, /epochs must be a non-negative integer/);
  msg = '';
  try {
    await trainSegmentation(model, data, { epochs: 1, indices: [] });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.match(msg, /no samples/);
  model.dispose();
});

test('evaluateSegmentation: a model predicting the ground truth scores Dice 1', async () => {
  // A "model" that outputs the mask channel: build it from a tiny identity-like graph.
  const data = syntheticSites({ sites: 1, samplesPerSite: 4, size: 16, seed: 6, emptyFraction: 0 });
  const inp = tf.input({ shape: [16, 16, 3] });
  const out = tf.layers.conv2d({ filters: 1, kernelSize: 1, kernelInitializer: 'zeros', biasInitializer: tf.initializers.constant({ value: 10 }), activation: 'sigmoid' }).apply(inp) as tf.SymbolicTensor;
  const allOnes = tf.model({ inputs: inp, outputs: out });
  const ev = await evaluateSegmentation(allOnes, data);
  // Predicting everything as foreground: Dice = 2|M| / (|M| + HW) per image.
  let expected = 0;
  for (let i = 0; i < data.length; i++) {
    const m = data.get(i).mask!;
    const fg = m.reduce((s, v) => s + (v > 0 ? 1 : 0), 0);
    expected += (2 * fg) / (fg + m.length);
  }
  expected /= data.length;
  assert.ok(Math.abs(ev.overall.dice - expected) < 1e-9, `${ev.overall.dice} vs ${expected}`);
  allOnes.dispose();
});

test.run();
