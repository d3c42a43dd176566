import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import {
  cvSquared,
  loadBalancingLoss,
  modalityOneHot,
  routingStats,
  routingWeights,
  splitStats,
  topKMask,
} from '../../src/moe';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, label: string): void => {
  assert.is(a.length, b.length, `${label}: length`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `${label}[${i}]: ${a[i]} vs ${b[i]}`);
};

test('routingWeights: softmax over experts sums to 1; top-k keeps exactly k and renormalises (hand-computed)', () => {
  const before = tf.memory().numTensors;
  // logits ln(1..4) -> probs 0.1, 0.2, 0.3, 0.4; top-2 keeps 0.3, 0.4 -> 3/7, 4/7
  const logits = tf.tidy(() => tf.log(tf.tensor2d([[1, 2, 3, 4], [4, 3, 2, 1]])));
  const dense = routingWeights(logits);
  close(dense.weights.dataSync(), [0.1, 0.2, 0.3, 0.4, 0.4, 0.3, 0.2, 0.1], 1e-6, 'dense');
  const sparse = routingWeights(logits, 2);
  close(sparse.weights.dataSync(), [0, 0, 3 / 7, 4 / 7, 4 / 7, 3 / 7, 0, 0], 1e-6, 'top-2');
  close(sparse.probs.dataSync(), [0.1, 0.2, 0.3, 0.4, 0.4, 0.3, 0.2, 0.1], 1e-6, 'probs before top-k');
  const top1 = routingWeights(logits, 1);
  close(top1.weights.dataSync(), [0, 0, 0, 1, 1, 0, 0, 0], 1e-6, 'top-1');
  tf.dispose([logits, dense.probs, dense.weights, sparse.probs, sparse.weights, top1.probs, top1.weights]);
  assert.is(tf.memory().numTensors, before, 'leak');
});

test('topKMask: exactly k ones per row on random tokens, ties broken by lower index', () => {
  const p = tf.softmax(tf.randomNormal([3, 4, 4, 5], 0, 1, 'float32', 7), -1);
  for (const k of [1, 2, 3, 5]) {
    const mask = topKMask(p, k);
    const counts = tf.sum(mask, -1);
    assert.ok(counts.dataSync().every((c) => c === k), `k=${k}`);
    // kept entries are >= every dropped entry of the same row
    const pv = p.dataSync();
    const mv = mask.dataSync();
    for (let r = 0; r < pv.length / 5; r++) {
      let minKept = Infinity;
      let maxDropped = -Infinity;
      for (let e = 0; e < 5; e++) {
        const v = pv[r * 5 + e];
        if (mv[r * 5 + e] === 1) minKept = Math.min(minKept, v);
        else maxDropped = Math.max(maxDropped, v);
      }
      assert.ok(minKept >= maxDropped, `row ${r}`);
    }
    tf.dispose([mask, counts]);
  }
  const ties = tf.tensor2d([[0.25, 0.25, 0.25, 0.25]]);
  const m = topKMask(ties, 2);
  assert.equal(Array.from(m.dataSync()), [1, 1, 0, 0]);
  tf.dispose([p, ties, m]);
});

test('routingWeights: gradients flow through the kept probabilities (finite, top-k mask has none)', () => {
  const logits = tf.variable(tf.tensor2d([[0.1, 0.5, -0.3], [1, 0, 2]]));
  const target = tf.tensor2d([[1, 0, 0], [0, 1, 0]]);
  const { grads, value } = tf.variableGrads(() => {
    const { weights } = routingWeights(logits, 2);
    return tf.sum(tf.mul(weights, target)) as tf.Scalar;
  }, [logits]);
  const g = grads[logits.name].dataSync();
  assert.ok(g.every(Number.isFinite));
  assert.ok(g.some((v) => Math.abs(v) > 1e-4));
  tf.dispose([logits, target, value, ...Object.values(grads)]);
});

test('errors: topK out of range, bad modality id', () => {
  const l = tf.zeros([2, 3]);
  assert.throws(() => routingWeights(l, 0), /topK must be an integer in \[1, 3\]/);
  assert.throws(() => routingWeights(l, 4), /topK/);
  assert.throws(() => modalityOneHot([0, 2], 2), /modality id 2 \(sample 1\) is out of range \[0, 2\)/);
  l.dispose();
});

test('modalityOneHot: ids -> one-hot rows', () => {
  const t = modalityOneHot([1, 0, 2], 3);
  assert.equal(t.shape, [3, 3]);
  assert.equal(Array.from(t.dataSync()), [0, 1, 0, 1, 0, 0, 0, 0, 1]);
  t.dispose();
});

test('routingStats: per-sample means of weights, probs and top-1 assignments (hand-computed)', () => {
  // one sample, two tokens, E = 2
  const probs = tf.tensor3d([[[0.7, 0.3], [0.4, 0.6]]]);
  const weights = tf.tensor3d([[[1, 0], [0, 1]]]);
  const s = routingStats(probs, weights);
  assert.equal(s.shape, [1, 6]);
  close(s.dataSync(), [0.5, 0.5, 0.55, 0.45, 0.5, 0.5], 1e-6, 'stats');
  const { weights: w, probs: p, top1 } = splitStats(s);
  close(p.dataSync(), [0.55, 0.45], 1e-6, 'split probs');
  tf.dispose([probs, weights, s, w, p, top1]);
});

const stats = (w: number[][], p: number[][], t: number[][]): tf.Tensor2D =>
  tf.tensor2d(w.map((row, i) => [...row, ...p[i], ...t[i]]));

test('loadBalancingLoss cv: CV^2 of importance, 0 for uniform routing (hand-computed)', () => {
  const uniform = stats([[0.5, 0.5], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]], [[1, 0], [0, 1]]);
  // importance (1.5, 0.5): mean 1, population variance 0.25 -> 0.25
  const skewed = stats([[1, 0], [0.5, 0.5]], [[1, 0], [0.5, 0.5]], [[1, 0], [1, 0]]);
  const u = loadBalancingLoss(uniform, 'cv');
  const k = loadBalancingLoss(skewed, 'cv');
  close([u.dataSync()[0]], [0], 1e-7, 'uniform');
  close([k.dataSync()[0]], [0.25], 1e-6, 'skewed');
  // importance (3, 1) directly: var 1 / mean^2 4
  const cv = cvSquared(tf.tensor1d([3, 1]));
  close(cv.dataSync(), [0.25], 1e-6, 'cv (3,1)');
  tf.dispose([uniform, skewed, u, k, cv]);
});

test('loadBalancingLoss switch: E * sum f_e P_e, minimum 1 at uniform routing (hand-computed)', () => {
  // f = (0.5, 0.5), P = (0.45, 0.55) -> 2 * (0.225 + 0.275) = 1
  const balanced = stats([[0.7, 0.3], [0.2, 0.8]], [[0.7, 0.3], [0.2, 0.8]], [[1, 0], [0, 1]]);
  // f = (1, 0), P = (0.85, 0.15) -> 2 * 0.85 = 1.7
  const collapsed = stats([[0.9, 0.1], [0.8, 0.2]], [[0.9, 0.1], [0.8, 0.2]], [[1, 0], [1, 0]]);
  const a = loadBalancingLoss(balanced, 'switch');
  const b = loadBalancingLoss(collapsed, 'switch');
  close([a.dataSync()[0], b.dataSync()[0]], [1, 1.7], 1e-6, 'switch');
  // [N, L, 3E]: mean over the two layers -> (1 + 1.7) / 2
  const both = tf.stack([balanced, collapsed], 1);
  const c = loadBalancingLoss(both, 'switch');
  close([c.dataSync()[0]], [1.35], 1e-6, 'two layers');
  assert.throws(() => loadBalancingLoss(tf.zeros([2]), 'cv'), /\[N, 3E\] or \[N, L, 3E\]/);
  tf.dispose([balanced, collapsed, a, b, both, c]);
});

test.run();
