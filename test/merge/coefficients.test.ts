import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { coefficientsFromLogits, logitsFromCoefficients, mergeTensors, defaultParametrization, type CoefficientParametrization } from '../../src/merge';
import { setup } from './helpers';

test.before(setup);

const close = (a: number[][], b: number[][], tol = 1e-6) =>
  a.length === b.length && a.every((r, i) => r.length === b[i].length && r.every((v, j) => Math.abs(v - b[i][j]) <= tol));

// [parametrization, logits [K][C], expected merge weights [K][C] (hand-computed)]
const FIXTURES: [CoefficientParametrization, number[][], number[][]][] = [
  ['sigmoid', [[0, Math.log(3)], [5, -5]], [[0.5, 0.75], [0.5, 0.25]]],
  ['softmax', [[0, 0], [Math.log(2), 0], [Math.log(3), 0]], [[1 / 6, 1 / 3], [2 / 6, 1 / 3], [3 / 6, 1 / 3]]],
  ['independent-sigmoid', [[0, Math.log(4)], [Math.log(1 / 3), 0]], [[0.5, 0.8], [0.25, 0.5]]],
];

test('coefficientsFromLogits matches hand-computed values', () => {
  for (const [p, z, want] of FIXTURES) {
    const got = tf.tidy(() => coefficientsFromLogits(tf.tensor2d(z), p).arraySync());
    assert.ok(close(got, want), `${p}: got ${JSON.stringify(got)} want ${JSON.stringify(want)}`);
  }
});

test('logitsFromCoefficients inverts coefficientsFromLogits', () => {
  const cases: [CoefficientParametrization, number[][]][] = [
    ['sigmoid', [[0.2, 0.9], [0.8, 0.1]]],
    ['softmax', [[0.2, 0.5], [0.3, 0.25], [0.5, 0.25]]],
    ['independent-sigmoid', [[0.3, 0.6], [0.9, 0.5]]],
  ];
  for (const [p, a] of cases) {
    const z = logitsFromCoefficients(a, p);
    const back = tf.tidy(() => coefficientsFromLogits(tf.tensor2d(z), p).arraySync());
    assert.ok(close(back, a, 1e-5), `${p}: ${JSON.stringify(back)}`);
  }
});

test('sigmoid parametrisation refuses K != 2; defaults', () => {
  assert.throws(() => tf.tidy(() => coefficientsFromLogits(tf.zeros([3, 2]) as tf.Tensor2D, 'sigmoid')), /exactly 2/);
  assert.is(defaultParametrization(2), 'sigmoid');
  assert.is(defaultParametrization(3), 'softmax');
});

test('mergeTensors: per-output-channel weighted sum (hand-computed)', () => {
  // W_k shape [2, 2] (Dense [in, out]); channel axis 1 (out).
  const got = tf.tidy(() => {
    const w0 = tf.tensor2d([[1, 2], [3, 4]]);
    const w1 = tf.tensor2d([[10, 20], [30, 40]]);
    const a = tf.tensor2d([[1, 0.5], [0, 0.25]]);
    return mergeTensors([w0, w1], a, 1).arraySync() as number[][];
  });
  // column 0: 1*W0 + 0*W1; column 1: 0.5*W0 + 0.25*W1
  assert.equal(got, [[1, 2 * 0.5 + 20 * 0.25], [3, 4 * 0.5 + 40 * 0.25]]);
  const gotAxis0 = tf.tidy(() => mergeTensors([tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]])], tf.tensor2d([[1, 0], [1, 2]]), 0).arraySync());
  // row 0: W0 + W1; row 1: 0*W0 + 2*W1
  assert.equal(gotAxis0, [[6, 8], [14, 16]]);
});

test('mergeTensors checks the number of models', () => {
  assert.throws(() => tf.tidy(() => mergeTensors([tf.zeros([2])], tf.zeros([2, 1]) as tf.Tensor2D, 0)), /1 tensors but coefficients for 2/);
});

test('no tensors leak', () => {
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    coefficientsFromLogits(tf.zeros([2, 3]) as tf.Tensor2D, 'softmax');
    mergeTensors([tf.ones([3]), tf.ones([3])], tf.ones([2, 3]) as tf.Tensor2D, 0);
  });
  const z = tf.zeros([2, 3]) as tf.Tensor2D;
  const a = coefficientsFromLogits(z, 'sigmoid');
  assert.is(tf.memory().numTensors, before + 2, 'only the input and the result remain');
  tf.dispose([z, a]);
  assert.is(tf.memory().numTensors, before);
});

test.run();
