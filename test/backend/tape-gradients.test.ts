/**
 * medfl's linear-time tape filter (src/backend/tape-gradients.ts) gives the
 * same gradients as tfjs-core's own Engine.gradients, on a real network and
 * on edge cases (unused variables, inputs not from xs, higher order, errors).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { filterTapeXToY, installLinearTapeFilter, uninstallLinearTapeFilter, type TapeNode } from '../../src/backend/tape-gradients';
import { createModel } from '../../src/models/registry';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

function withOriginal<T>(fn: () => T): T {
  const had = uninstallLinearTapeFilter();
  try {
    return fn();
  } finally {
    if (had) installLinearTapeFilter();
  }
}

test('installed on tfjs-core 4.22 by initBackend', () => {
  const proto = Object.getPrototypeOf(tf.engine()) as { gradients: { toString(): string } };
  assert.not.ok(String(proto.gradients).includes('getFilteredNodesXToY'), 'Engine.gradients is medfl\'s');
  assert.ok(installLinearTapeFilter(), 'idempotent');
});

test('a training step of DUCK-Net: loss and every weight gradient identical to tfjs-core\'s engine', () => {
  const model = createModel('duck-net', { inputShape: [32, 32, 3], numClasses: 1, seed: 4 });
  const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 5);
  const y = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([2, 32, 32, 1], 0, 1, 'float32', 6), 0.5), 'float32'));
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const run = () => {
    const r = tf.variableGrads(() => tf.losses.sigmoidCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, vars);
    const out = { loss: r.value.dataSync()[0], grads: vars.map((v) => Array.from(r.grads[v.name].dataSync())) };
    tf.dispose([r.value, ...Object.values(r.grads)]);
    return out;
  };
  const before = tf.memory().numTensors;
  const mine = run();
  assert.is(tf.memory().numTensors, before, 'no tensor left behind');
  const theirs = withOriginal(run);
  assert.is(mine.loss, theirs.loss);
  mine.grads.forEach((g, i) => assert.equal(g, theirs.grads[i], `gradient of ${vars[i].name}`));
  tf.dispose([x, y]);
  model.dispose();
});

test('edge cases: a variable y does not depend on, inputs not from xs, second-order gradients, the no-path error', () => {
  const cases = () => {
    const a = tf.variable(tf.tensor1d([1, 2, 3]), true, 'tapeA');
    const b = tf.variable(tf.tensor1d([4, 5, 6]), true, 'tapeB');
    const c = tf.tensor1d([0.5, -1, 2]);
    const r = tf.variableGrads(() => tf.sum(tf.mul(tf.mul(a, a), c)), [a, b]);
    const first = [Array.from(r.grads.tapeA.dataSync()), r.grads.tapeB ? 'grad' : 'none'];
    const second = Array.from(tf.grad((t: tf.Tensor) => tf.grad((u: tf.Tensor) => tf.sum(tf.pow(u, 3)))(t))(tf.tensor1d([1, 2])).dataSync());
    let err = '';
    try {
      tf.grad(() => tf.scalar(3))(tf.scalar(1));
    } catch (e) {
      err = (e as Error).message;
    }
    tf.dispose([a, b, c, r.value, ...Object.values(r.grads)]);
    return { first, second, err };
  };
  const mine = cases();
  const theirs = withOriginal(cases);
  assert.equal(mine, theirs);
  assert.equal(mine.first, [[1, -4, 12], 'none']);
  assert.equal(mine.second, [6, 12]);
  assert.match(mine.err, /Cannot compute gradient of y=f\(x\)/);
});

test('filterTapeXToY keeps exactly the nodes on an x -> y path and prunes inputs not from x', () => {
  const t = (id: number) => ({ id, shape: [1], dtype: 'float32', dispose: () => {} });
  const tape: TapeNode[] = [
    { id: 1, kernelName: 'A', inputs: { x: t(1), k: t(9) }, outputs: [t(2)] }, // from x, leads to y
    { id: 2, kernelName: 'B', inputs: { x: t(9) }, outputs: [t(3)] }, // not from x
    { id: 3, kernelName: 'C', inputs: { a: t(2), b: t(3) }, outputs: [t(4)] }, // y
    { id: 4, kernelName: 'D', inputs: { a: t(2) }, outputs: [t(5)] }, // from x, not to y
  ];
  const f = filterTapeXToY(tape, [t(1)], t(4));
  assert.equal(f.map((n) => n.id), [1, 3]);
  assert.equal(Object.keys(f[0].inputs), ['x']);
  assert.equal(Object.keys(f[1].inputs), ['a']);
});

test.run();
