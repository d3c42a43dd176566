/**
 * Learning-rate schedules (src/train/schedule): hand-computed values of the
 * pure `learningRateAt`, option checks, the optimizer setter, and the
 * training loop applying the rate at the start of every epoch (plain SGD on
 * a linear model, so every update is hand-computable).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { createAdam, initBackend } from '../../src/backend';
import type { Sample } from '../../src/data/types';
import { checkSchedule, learningRateAt, setOptimizerLearningRate, trainBatches, type LearningRateSchedule } from '../../src/train';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

const c45 = Math.SQRT1_2; // cos(pi/4)
const c60 = 0.5; // cos(pi/3)

/** [schedule, base rate, total epochs, [epoch, expected rate][]] */
const TABLE: [LearningRateSchedule, number, number, [number, number][]][] = [
  [{ name: 'constant' }, 0.003, 5, [[0, 0.003], [4, 0.003], [9, 0.003]]],
  // lr = min + (base - min)(1 + cos(pi t / T)) / 2, T = 4
  [{ name: 'cosine' }, 1e-3, 4, [[0, 1e-3], [1, (1e-3 * (1 + c45)) / 2], [2, 5e-4], [3, (1e-3 * (1 - c45)) / 2], [4, 0], [7, 0]]],
  [{ name: 'cosine', minLearningRate: 1e-4 }, 1e-3, 4, [[0, 1e-3], [2, 5.5e-4], [4, 1e-4]]],
  // SGDR, T0 = 3: t = epoch mod 3
  [{ name: 'cosine', restartEpochs: 3 }, 1e-3, 100, [[0, 1e-3], [1, (1e-3 * (1 + c60)) / 2], [2, (1e-3 * (1 - c60)) / 2], [3, 1e-3], [4, 7.5e-4], [99, 1e-3]]],
  // SGDR, T0 = 2, T_mult = 2: cycles [0, 1], [2..5], [6..13]
  [{ name: 'cosine', restartEpochs: 2, restartMultiplier: 2 }, 1e-3, 100, [[1, 5e-4], [2, 1e-3], [3, (1e-3 * (1 + c45)) / 2], [4, 5e-4], [6, 1e-3], [14, 1e-3]]],
  // lr = base (1 - t / T)^power
  [{ name: 'poly' }, 0.01, 10, [[0, 0.01], [2, 0.01 * Math.pow(0.8, 0.9)], [9, 0.01 * Math.pow(0.1, 0.9)], [10, 0], [12, 0]]],
  [{ name: 'poly', power: 1 }, 0.01, 10, [[5, 0.005], [8, 0.002]]],
  // lr = base gamma^floor(t / stepEpochs)
  [{ name: 'step', stepEpochs: 3, gamma: 0.5 }, 0.1, 10, [[0, 0.1], [2, 0.1], [3, 0.05], [5, 0.05], [6, 0.025]]],
  [{ name: 'step', stepEpochs: 2 }, 1, 10, [[1, 1], [2, 0.1], [4, 0.01]]],
];

test('learningRateAt: hand-computed values of every schedule', () => {
  for (const [schedule, base, total, rows] of TABLE) {
    for (const [epoch, expected] of rows) {
      const got = learningRateAt(schedule, base, epoch, total);
      assert.ok(Math.abs(got - expected) <= 1e-12 * Math.max(1, Math.abs(expected)), `${JSON.stringify(schedule)} epoch ${epoch}: ${got} != ${expected}`);
    }
  }
});

test('learningRateAt: pure (same inputs, same value), non-increasing within a cycle', () => {
  const s: LearningRateSchedule = { name: 'cosine', minLearningRate: 1e-5 };
  const a = Array.from({ length: 12 }, (_, e) => learningRateAt(s, 1e-3, e, 12));
  const b = Array.from({ length: 12 }, (_, e) => learningRateAt(s, 1e-3, e, 12));
  assert.equal(a, b);
  for (let e = 1; e < a.length; e++) assert.ok(a[e] <= a[e - 1]);
});

test('checkSchedule / learningRateAt reject bad schedules, naming the field and the valid names', () => {
  const bad: [unknown, RegExp][] = [
    [{ name: 'linear' }, /unknown schedule "linear"; valid: constant, cosine, poly, step/],
    [{ name: 'step' }, /stepEpochs must be an integer >= 1 \(required/],
    [{ name: 'step', stepEpochs: 2, gamma: 0 }, /gamma must be > 0/],
    [{ name: 'poly', power: -1 }, /power must be > 0/],
    [{ name: 'cosine', minLearningRate: 0.5 }, /minLearningRate must be in \[0, learningRate = 0.01\]/],
    [{ name: 'cosine', restartEpochs: 1.5 }, /restartEpochs must be an integer >= 1/],
    [{ name: 'cosine', restartEpochs: 2, restartMultiplier: 0 }, /restartMultiplier must be an integer >= 1/],
  ];
  for (const [s, re] of bad) {
    assert.match(checkSchedule(s as LearningRateSchedule, 0.01).join('\n'), re);
    assert.throws(() => learningRateAt(s as LearningRateSchedule, 0.01, 0, 5), re);
  }
  assert.equal(checkSchedule({ name: 'cosine', minLearningRate: 0.001, restartEpochs: 4 }, 0.01), []);
  assert.throws(() => learningRateAt({ name: 'constant' }, 0.01, 0, 0), /totalEpochs must be an integer >= 1/);
  assert.throws(() => learningRateAt({ name: 'constant' }, 0.01, -1, 5), /epoch must be an integer >= 0/);
});

test('setOptimizerLearningRate: SGD (cached rate tensor) and fused Adam take the new rate at the next step', () => {
  const v = tf.variable(tf.tensor1d([1]));
  const sgd = tf.train.sgd(0.1);
  setOptimizerLearningRate(sgd, 0.5);
  sgd.applyGradients([{ name: v.name, tensor: tf.tensor1d([2]) }]);
  assert.ok(Math.abs(v.dataSync()[0] - (1 - 0.5 * 2)) < 1e-7, `sgd ${v.dataSync()[0]}`);
  // Adam's first step moves every entry by -lr * sign(g) (up to epsilon).
  const w = tf.variable(tf.tensor1d([1, 1, 1, 1, 1]));
  const adam = createAdam(0.1);
  setOptimizerLearningRate(adam, 0.01);
  adam.applyGradients([{ name: w.name, tensor: tf.tensor1d([3, 3, 3, 3, 3]) }]);
  for (const x of w.dataSync()) assert.ok(Math.abs(x - 0.99) < 1e-6, `adam ${x}`);
  tf.dispose([v, w]);
  sgd.dispose();
  adam.dispose();
});

test('trainBatches: learningRateAt sets the rate at the start of every epoch (hand-computed SGD)', async () => {
  // One sample x = [1, 0], y = 1, w = [0, 0], loss (x.w - y)^2, gradient 2 (w0 - 1) on w0.
  // Epoch 0, lr 0.25: w0 = 0 - 0.25 * 2 * (0 - 1) = 0.5. Epoch 1, lr 0.125: w0 = 0.5 + 0.125 = 0.625.
  // A constant 0.25 would give 0.5 then 0.75.
  const samples: Sample[] = [{ id: 's0', image: Float32Array.from([1, 0]), shape: [1, 1, 2], meta: { y: 1 } }];
  const run = async (learningRateAt?: (e: number) => number) => {
    const w = tf.variable(tf.tensor2d([0, 0], [2, 1]));
    const optimizer = tf.train.sgd(0.25);
    const seen: number[] = [];
    await trainBatches(samples, {
      owner: 'test',
      epochs: 2,
      makeBatch: (s) => ({ x: tf.tensor4d(s[0].image, [1, 1, 1, 2]), y: tf.tensor2d([s[0].meta.y as number], [1, 1]) }),
      vars: [w],
      forward: (x) => tf.matMul(tf.reshape(x, [-1, 2]), w),
      loss: (y, p) => tf.mean(tf.square(tf.sub(p, y))),
      optimizer,
      learningRateAt,
      beforeEpoch: (e) => seen.push(e),
    });
    const out = { w0: w.dataSync()[0], seen };
    w.dispose();
    optimizer.dispose();
    return out;
  };
  const scheduled = await run((e) => 0.25 / 2 ** e);
  assert.ok(Math.abs(scheduled.w0 - 0.625) < 1e-6, `scheduled ${scheduled.w0}`);
  assert.equal(scheduled.seen, [0, 1], 'beforeEpoch after the rate is set, once per epoch');
  const plain = await run();
  assert.ok(Math.abs(plain.w0 - 0.75) < 1e-6, `constant ${plain.w0}`);
  // A custom step with learningRateAt is refused (its optimizers are its own).
  await trainBatches(samples, { owner: 'owner-x', epochs: 1, makeBatch: () => ({ x: tf.zeros([1, 1, 1, 2]), y: tf.zeros([1, 1]) }), step: () => ({ loss: 0 }), learningRateAt: () => 1 }).then(
    () => assert.unreachable('should throw'),
    (e) => assert.match(String(e), /owner-x: learningRateAt needs the default step/),
  );
});

test.run();
