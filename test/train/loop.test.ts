/**
 * The shared training loop (src/train/loop): the documented seeded batch
 * order, the per-batch hooks (extra loss inside the tape, custom step, custom
 * batch composition with auxiliary terms), progress callbacks, memory and
 * errors. Fixture: a linear model `pred = x . w` on 1x1x2 "images", squared
 * error, plain SGD, so every update is hand-computable.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import type { Sample } from '../../src/data/types';
import { syntheticSites } from '../../src/data/synthetic';
import { createModel } from '../../src/models/registry';
import { createRng } from '../../src/util/rng';
import { runEpochs, seededBatches, trainBatches, trainSegmentation, type BatchLog, type EpochLog, type LoopEpochLog, type TrainBatchesOptions } from '../../src/train';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

/** Sample i: image `[1, 1, 2]` = x, target in `meta.y`. */
function linearSamples(rows: ReadonlyArray<{ x: [number, number]; y: number }>): Sample[] {
  return rows.map((r, i) => ({ id: `s${i}`, image: Float32Array.from(r.x), shape: [1, 1, 2], meta: { y: r.y } }));
}

/** Batch `x [N,1,1,2]`, `y [N,1]`. */
function linearBatch(samples: readonly Sample[]): { x: tf.Tensor4D; y: tf.Tensor } {
  const xs = new Float32Array(samples.length * 2);
  samples.forEach((s, i) => xs.set(s.image, i * 2));
  return { x: tf.tensor4d(xs, [samples.length, 1, 1, 2]), y: tf.tensor2d(samples.map((s) => s.meta.y as number), [samples.length, 1]) };
}

const mse = (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar => tf.mean(tf.square(tf.sub(yPred, yTrue)));

function linearSetup(w: [number, number], lr: number): { w: tf.Variable; opts: Omit<TrainBatchesOptions, 'epochs'>; optimizer: tf.Optimizer } {
  const v = tf.variable(tf.tensor2d(w, [2, 1]));
  const optimizer = tf.train.sgd(lr);
  return {
    w: v,
    optimizer,
    opts: {
      owner: 'test',
      makeBatch: linearBatch,
      vars: [v],
      forward: (x) => tf.matMul(tf.reshape(x, [-1, 2]), v),
      loss: mse,
      optimizer,
    },
  };
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-6) =>
  a.length === b.length && Array.from(a).every((v, i) => Math.abs(v - b[i]) <= tol);

test('seededBatches: the documented order (seed 7, 10 indices, batch 4), pinned and equal to the formula', () => {
  const idx = Array.from({ length: 10 }, (_, i) => i);
  assert.equal(seededBatches(idx, 4, 7, 0), [[3, 9, 4, 2], [6, 7, 1, 8], [0, 5]]);
  assert.equal(seededBatches(idx, 4, 7, 1), [[5, 4, 9, 7], [0, 8, 3, 6], [2, 1]]);
  for (const epoch of [0, 1, 5]) {
    const order = createRng(7).fork(`epoch${epoch}`).shuffle([...idx]);
    assert.equal(seededBatches(idx, 4, 7, epoch).flat(), order);
  }
  assert.equal(seededBatches([4, 2, 9], 2, 7, 0, false), [[4, 2], [9]], 'no shuffle: indices in order');
});

test('trainBatches and trainSegmentation visit the samples in the seededBatches order (indices subset too)', async () => {
  const rows = Array.from({ length: 7 }, (_, i) => ({ x: [i, 1] as [number, number], y: 0 }));
  const samples = linearSamples(rows);
  const seen: number[][] = [];
  const { w, opts, optimizer } = linearSetup([0, 0], 0);
  const indices = [6, 0, 5, 2, 3];
  await trainBatches(samples, { ...opts, epochs: 2, batchSize: 2, seed: 11, indices, step: (b) => (seen.push([...b.indices]), { loss: 0 }) });
  assert.equal(seen, [...seededBatches(indices, 2, 11, 0), ...seededBatches(indices, 2, 11, 1)]);
  tf.dispose([w]);
  optimizer.dispose();

  const data = syntheticSites({ sites: 1, samplesPerSite: 6, size: 16, seed: 3 });
  const loads: number[] = [];
  const recording = Object.create(data, { load: { value: (i: number) => (loads.push(i), data.load(i)) } });
  const model = createModel('unet', { inputShape: [16, 16, 3], numClasses: 1, width: 2, seed: 1 });
  await trainSegmentation(model, recording, { epochs: 2, batchSize: 4, seed: 5 });
  const all = Array.from({ length: 6 }, (_, i) => i);
  assert.equal(loads, [...seededBatches(all, 4, 5, 0).flat(), ...seededBatches(all, 4, 5, 1).flat()]);
  model.dispose();
});

test('extra-loss hook: proximal term mu/2 ||w - w0||^2 changes the SGD update as hand-computed', async () => {
  // x = [1, 2], y = 3, w = [0.5, -1]: pred = -1.5, residual r = -4.5, loss r^2 = 20.25,
  // dL/dw = 2 r x = [-9, -18]. Proximal term with w0 = [1, 1], mu = 0.1:
  // value 0.05 * (0.25 + 4) = 0.2125, gradient mu (w - w0) = [-0.05, -0.2].
  // SGD lr 0.01: w' = w - 0.01 * grad.
  const samples = linearSamples([{ x: [1, 2], y: 3 }]);
  const run = async (withHook: boolean) => {
    const { w, opts, optimizer } = linearSetup([0.5, -1], 0.01);
    const w0 = tf.tensor2d([1, 1], [2, 1]);
    const mu = 0.1;
    const logs = await trainBatches(samples, {
      ...opts,
      epochs: 1,
      extraLoss: withHook ? () => tf.mul(mu / 2, tf.sum(tf.square(tf.sub(w, w0)))) : undefined,
    });
    const out = { w: Array.from(w.dataSync()), loss: logs[0].loss };
    tf.dispose([w, w0]);
    optimizer.dispose();
    return out;
  };
  const plain = await run(false);
  const prox = await run(true);
  assert.ok(close(plain.w, [0.5 + 0.09, -1 + 0.18]), `plain ${plain.w}`);
  assert.ok(close(prox.w, [0.5 + 0.0905, -1 + 0.182]), `prox ${prox.w}`);
  assert.ok(Math.abs(plain.loss - 20.25) < 1e-4, `plain loss ${plain.loss}`);
  assert.ok(Math.abs(prox.loss - 20.4625) < 1e-4, `prox loss ${prox.loss} (main + proximal)`);
});

test('extra-loss hook sees the batch and the forward output (inside the tape)', async () => {
  // Extra term = sum(output) = x . w: gradient adds x to dL/dw. x = [1, 2], y = 0, w = [0, 0]: main gradient 0.
  const samples = linearSamples([{ x: [1, 2], y: 0 }]);
  const { w, opts, optimizer } = linearSetup([0, 0], 0.5);
  let shapes: number[][] = [];
  await trainBatches(samples, { ...opts, epochs: 1, extraLoss: ({ x, y, output }) => ((shapes = [x.shape, y.shape, output.shape]), tf.sum(output)) });
  assert.equal(shapes, [[1, 1, 1, 2], [1, 1], [1, 1]]);
  assert.ok(close(w.dataSync(), [-0.5, -1]), `${w.dataSync()}`);
  w.dispose();
  optimizer.dispose();
});

test('progress callbacks: per-batch and per-epoch images, losses and seconds (hand-computed, lr 0)', async () => {
  // Sample i: x = [i, 0], y = 0, w = [0.5, -1]: loss_i = (0.5 i)^2 = 0.25 i^2.
  const samples = linearSamples(Array.from({ length: 5 }, (_, i) => ({ x: [i, 0] as [number, number], y: 0 })));
  const { w, opts, optimizer } = linearSetup([0.5, -1], 0);
  const batches: BatchLog[] = [];
  const epochs: EpochLog[] = [];
  const logs = await trainBatches(samples, { ...opts, epochs: 2, batchSize: 2, shuffle: false, onBatch: (l) => batches.push(l), onEpoch: (l) => epochs.push(l) });
  assert.is(batches.length, 6);
  assert.equal(batches.map((b) => [b.epoch, b.batch, b.batches, b.images]), [
    [0, 0, 3, 2], [0, 1, 3, 2], [0, 2, 3, 1],
    [1, 0, 3, 2], [1, 1, 3, 2], [1, 2, 3, 1],
  ]);
  // batches [0,1], [2,3], [4]: (0 + 0.25) / 2, (1 + 2.25) / 2, 4
  assert.ok(close(batches.slice(0, 3).map((b) => b.loss), [0.125, 1.625, 4]));
  assert.ok(batches.every((b) => b.seconds >= 0 && Object.keys(b.terms).length === 0));
  assert.is(epochs.length, 2);
  assert.equal(epochs, logs, 'onEpoch gets the returned logs');
  for (const e of logs) {
    assert.is(e.images, 5);
    assert.ok(Math.abs(e.loss - (0.125 * 2 + 1.625 * 2 + 4) / 5) < 1e-6, `epoch loss ${e.loss}`);
    assert.ok(e.seconds >= 0);
  }
  w.dispose();
  optimizer.dispose();
});

test('runEpochs: custom batch composition, image-weighted terms, per-batch logs', async () => {
  const plan = (epoch: number) => (epoch === 0 ? [['a', 'b', 'c'], ['d']] : [['e']]);
  const got: string[] = [];
  const batchLogs: BatchLog[] = [];
  const logs: LoopEpochLog[] = await runEpochs<string[]>({
    epochs: 2,
    plan,
    step: (batch, epoch, index) => {
      got.push(`${epoch}:${index}:${batch.join('')}`);
      return { loss: batch.length, terms: { aux: 10 * batch.length, seg: 1 } };
    },
    onBatch: (l) => batchLogs.push(l),
  });
  assert.equal(got, ['0:0:abc', '0:1:d', '1:0:e']);
  assert.equal(batchLogs.map((b) => [b.images, b.loss, b.terms.aux]), [[3, 3, 30], [1, 1, 10], [1, 1, 10]]);
  // epoch 0: loss (3*3 + 1*1) / 4 = 2.5; aux (30*3 + 10*1) / 4 = 25
  assert.equal(logs.map((l) => [l.epoch, l.images, l.batches, l.loss, l.terms.aux, l.terms.seg]), [
    [0, 4, 2, 2.5, 25, 1],
    [1, 1, 1, 1, 10, 1],
  ]);
});

test('custom step hook replaces the optimizer step; the loop disposes x and y; no tensor leaks', async () => {
  const samples = linearSamples(Array.from({ length: 5 }, (_, i) => ({ x: [i, 1] as [number, number], y: i })));
  const held: tf.Tensor[] = [];
  const before = tf.memory().numTensors;
  const logs = await trainBatches(samples, {
    owner: 'test',
    epochs: 2,
    batchSize: 2,
    makeBatch: linearBatch,
    step: ({ x, y, samples: s }) => {
      held.push(x, y);
      return { loss: tf.tidy(() => tf.sum(y).dataSync()[0]) / s.length };
    },
  });
  assert.ok(held.every((t) => t.isDisposed), 'batch tensors disposed');
  assert.is(tf.memory().numTensors, before, 'no leak');
  // mean target per image = (0+1+2+3+4)/5 = 2
  assert.ok(logs.every((l) => Math.abs(l.loss - 2) < 1e-9));
});

test('default step: tensor count unchanged across runs (own Adam disposed, given optimizer kept)', async () => {
  const samples = linearSamples(Array.from({ length: 6 }, (_, i) => ({ x: [i, 1] as [number, number], y: i })));
  const v = tf.variable(tf.tensor2d([0.1, 0.2], [2, 1]));
  const base = { owner: 'test', makeBatch: linearBatch, vars: [v], forward: (x: tf.Tensor4D) => tf.matMul(tf.reshape(x, [-1, 2]), v), loss: mse, epochs: 2, batchSize: 4 };
  const before = tf.memory().numTensors;
  await trainBatches(samples, base);
  assert.is(tf.memory().numTensors, before, 'own optimizer disposed');
  const adam = tf.train.adam(1e-2);
  await trainBatches(samples, { ...base, optimizer: adam }); // creates the moment slots
  const counts: number[] = [];
  for (let i = 0; i < 3; i++) {
    await trainBatches(samples, { ...base, optimizer: adam, seed: i });
    counts.push(tf.memory().numTensors);
  }
  assert.equal(counts, [counts[0], counts[0], counts[0]]);
  adam.dispose();
  v.dispose();
});

test('trainBatches rejects bad input naming the owner', async () => {
  const samples = linearSamples([{ x: [1, 1], y: 1 }]);
  const base = { owner: 'myTrainer', makeBatch: linearBatch };
  const msg = async (o: Partial<TrainBatchesOptions>) => {
    try {
      await trainBatches(samples, { ...base, epochs: 1, ...o });
    } catch (e) {
      return (e as Error).message;
    }
    return '';
  };
  assert.match(await msg({ epochs: -1 }), /^myTrainer: epochs must be a non-negative integer, got -1/);
  assert.match(await msg({ epochs: 1.5 }), /epochs must be a non-negative integer/);
  assert.match(await msg({ indices: [] }), /^myTrainer: 'samples' has no samples to train on/);
  assert.match(await msg({}), /^myTrainer: vars, forward and loss are required without a custom step/);
  assert.match(await msg({ batchSize: 0, step: () => ({ loss: 0 }) }), /batchSize must be a positive integer/);
});

test('microBatch: gradient accumulation over chunks equals the full-batch update for a per-sample mean loss (extra loss counted once); no leaks; bad values rejected', async () => {
  const samples = linearSamples([
    { x: [1, 2], y: 3 }, { x: [0.5, -1], y: 1 }, { x: [2, 0], y: -1 }, { x: [-1, 1], y: 0.5 }, { x: [0, 3], y: 2 },
  ]);
  const run = async (microBatch?: number) => {
    const { w, opts, optimizer } = linearSetup([0.5, -1], 0.05);
    const w0 = tf.tensor2d([1, 1], [2, 1]);
    const before = tf.memory().numTensors;
    const logs = await trainBatches(samples, {
      ...opts, epochs: 2, batchSize: 5, microBatch, shuffle: false,
      extraLoss: () => tf.mul(0.05, tf.sum(tf.square(tf.sub(w, w0)))),
    });
    assert.is(tf.memory().numTensors, before, 'no tensors left behind');
    const out = { w: Array.from(w.dataSync()), loss: logs.map((l) => l.loss) };
    tf.dispose([w, w0]);
    optimizer.dispose();
    return out;
  };
  const full = await run();
  for (const m of [1, 2, 4]) {
    const acc = await run(m);
    assert.ok(close(acc.w, full.w, 1e-5), `microBatch ${m}: ${acc.w} vs ${full.w}`);
    assert.ok(close(acc.loss, full.loss, 1e-4), `microBatch ${m} loss ${acc.loss} vs ${full.loss}`);
  }
  const { opts, optimizer } = linearSetup([0, 0], 0.1);
  let threw = false;
  try {
    await trainBatches(samples, { ...opts, epochs: 1, microBatch: 0 });
  } catch (e) {
    threw = /test: microBatch must be a positive integer, got 0/.test(String(e));
  }
  assert.ok(threw);
  optimizer.dispose();
});

test.run();
