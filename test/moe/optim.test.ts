import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { SubsetAdam, mixExperts } from '../../src/moe';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

const close = (got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void => {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
};

/** A variable from a tensor built (and freed) inside a tidy. */
const mkVar = (make: () => tf.Tensor, name?: string): tf.Variable => tf.tidy(() => tf.variable(make(), true, name));

/** Loss `sum_i c_i * w_i` over the pairs: its gradient w.r.t. w_i is exactly c_i. */
const linearLoss = (pairs: Array<[tf.Variable, number[]]>) => (): tf.Scalar =>
  tf.addN(pairs.map(([w, c]) => tf.sum(tf.mul(w, tf.tensor(c, w.shape))))) as tf.Scalar;

test('SubsetAdam: constant gradient moves each weight by lr * sign(g) per step (bias-corrected Adam)', () => {
  const before = tf.memory().numTensors;
  // With a constant gradient g, m_hat = g and v_hat = g^2 at every step, so the
  // update is lr * g / (|g| + 1e-8) ~= lr * sign(g).
  const w = mkVar(() => tf.tensor1d([1, -2]));
  const adam = new SubsetAdam({ learningRate: 0.1 });
  const loss = linearLoss([[w, [0.5, -1]]]);
  const l1 = adam.step(loss, [w]);
  assert.ok(Math.abs(l1 - (0.5 * 1 + -1 * -2)) < 1e-6, `loss value ${l1}`);
  close(w.dataSync(), [0.9, -1.9], 1e-6, 'after step 1');
  adam.step(loss, [w]);
  close(w.dataSync(), [0.8, -1.8], 1e-6, 'after step 2');
  assert.is(adam.size, 1);
  adam.dispose();
  w.dispose();
  assert.is(tf.memory().numTensors, before, 'leak');
});

test('SubsetAdam: variables outside the subset are untouched; each keeps its own step count', () => {
  const before = tf.memory().numTensors;
  const a = mkVar(() => tf.tensor1d([0, 0]), 'subset_a');
  const b = mkVar(() => tf.tensor2d([[1, 1]]), 'subset_b');
  const unused = mkVar(() => tf.scalar(5), 'subset_unused');
  const adam = new SubsetAdam({ learningRate: 0.1 });
  const loss = linearLoss([[a, [1, -1]], [b, [-2, 3]]]);
  adam.step(loss, [a]);
  adam.step(loss, [a]);
  close(a.dataSync(), [-0.2, 0.2], 1e-6, 'a after 2 steps');
  close(b.dataSync(), [1, 1], 0, 'b untouched');
  assert.is(adam.size, 1, 'no state for b yet');
  // b's first update is bias-corrected with ITS step count 1 (a full lr step), while a is at t = 3.
  adam.step(loss, [a, b, unused]);
  close(a.dataSync(), [-0.3, 0.3], 1e-6, 'a after 3 steps');
  close(b.dataSync(), [1.1, 0.9], 1e-6, 'b after its first step');
  close(unused.dataSync(), [5], 0, 'no path to the loss: untouched');
  assert.is(adam.size, 2, 'state for a and b only');
  adam.dispose();
  tf.dispose([a, b, unused]);
  assert.is(tf.memory().numTensors, before, 'leak');
});

/** Per-element float32 Adam, the operations in the order of the documented update. */
function referenceAdam(w: number[], grads: number[][], lr: number): number[] {
  const f = Math.fround;
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  let m = w.map(() => 0);
  let v = w.map(() => 0);
  let x = w.map(f);
  grads.forEach((g, k) => {
    const t = k + 1;
    const c1 = 1 - b1 ** t;
    const c2 = 1 - b2 ** t;
    m = m.map((mi, i) => f(f(mi * f(b1)) + f(g[i] * f(1 - b1))));
    v = v.map((vi, i) => f(f(vi * f(b2)) + f(f(g[i] * g[i]) * f(1 - b2))));
    x = x.map((xi, i) => f(xi - f(f(m[i] * f(lr / c1)) / f(f(Math.sqrt(f(v[i] / f(c2)))) + f(eps)))));
  });
  return x;
}

test('SubsetAdam: the batched update of many variables with mixed step counts equals per-variable Adam', () => {
  const before = tf.memory().numTensors;
  const lr = 0.05;
  const shapes: number[][] = [[3], [2, 2], [1, 2, 3], [5]];
  const init = shapes.map((s, k) => Array.from({ length: s.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(7 * k + i)));
  const vars = shapes.map((s, k) => mkVar(() => tf.tensor(init[k], s), `batched_${k}`));
  // Step j's gradient of variable k: a fixed pattern scaled by (j + 1); variable 3 joins at step 2.
  const gradAt = (k: number, j: number): number[] => init[k].map((_, i) => (j + 1) * Math.cos(3 * k + i + 0.5 * j));
  const adam = new SubsetAdam({ learningRate: lr });
  const seen: number[][][] = vars.map(() => []);
  for (let j = 0; j < 4; j++) {
    const active = j < 2 ? [0, 1, 2] : [0, 1, 2, 3];
    const pairs = active.map((k): [tf.Variable, number[]] => [vars[k], gradAt(k, j)]);
    active.forEach((k) => seen[k].push(gradAt(k, j)));
    adam.step(linearLoss(pairs), active.map((k) => vars[k]));
  }
  vars.forEach((v, k) => close(v.dataSync(), referenceAdam(init[k], seen[k], lr), 1e-6, `variable ${k}`));
  assert.is(seen[3].length, 2, 'variable 3 made two steps');
  adam.dispose();
  tf.dispose(vars);
  assert.is(tf.memory().numTensors, before, 'leak');
});

test('SubsetAdam: an empty variable list is an error', () => {
  const adam = new SubsetAdam();
  assert.throws(() => adam.step(() => tf.scalar(0), []), /no variables/);
});

test('mixExperts: weighted sum of expert maps, per-sample or per-token weights, with gradients', () => {
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    // Two samples, 1x2 pixels, 1 channel, 2 experts; per-sample weights [N, 1, 1, E].
    const y0 = tf.tensor4d([1, 2, 3, 4], [2, 1, 2, 1]);
    const y1 = tf.tensor4d([10, 20, 30, 40], [2, 1, 2, 1]);
    const w = tf.tensor4d([0.25, 0.75, 1, 0], [2, 1, 1, 2]);
    close(mixExperts([y0, y1], w).dataSync(), [7.75, 15.5, 3, 4], 1e-5, 'per sample');
    // Per-token weights [N, T, E] over token features [N, T, C]: row 1 = 0.5*(5,6) + 0.5*(-1,0).
    const a = tf.tensor3d([1, 2, 5, 6], [1, 2, 2]);
    const b = tf.tensor3d([3, 4, -1, 0], [1, 2, 2]);
    const wt = tf.tensor3d([1, 0, 0.5, 0.5], [1, 2, 2]);
    close(mixExperts([a, b], wt).dataSync(), [1, 2, 2, 3], 1e-6, 'per token');
    // d/dw_e of sum(out) = sum over the sample's pixels of y_e; d/dy_e = w_e.
    const [gw, gy0] = tf.grads((ww: tf.Tensor, yy: tf.Tensor) => tf.sum(mixExperts([yy, y1], ww)))([w, y0]);
    close(gw.dataSync(), [3, 30, 7, 70], 1e-5, 'weight gradient');
    close(gy0.dataSync(), [0.25, 0.25, 1, 1], 1e-6, 'expert gradient');
    assert.throws(() => mixExperts([y0], w), /2 weights/);
  });
  assert.is(tf.memory().numTensors, before, 'leak');
});

test.run();
