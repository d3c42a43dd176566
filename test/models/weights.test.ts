/**
 * src/models/weights: live weight entries (roles, channel axes), temporary
 * substitution, and the plain-array weight currency (specs, get / set / clone,
 * byte counts) in one module.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { createClassifier } from '../../src/models/classifier';
import { weightEntries, withWeights, weightSpecs, getWeights, setWeights, cloneWeights, byteCount, maxAbsDiff } from '../../src/models/weights';
import { setup, randomImages, predictArray, maxDiff } from '../merge/helpers';

test.before(setup);

const cls = (numClasses: number, seed: number) => createClassifier({ inputShape: [16, 16, 3], numClasses, width: 4, seed });

test('weightEntries: roles and output-channel axes', () => {
  const inp = tf.input({ shape: [8, 8, 2] });
  const a = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'c' }).apply(inp) as tf.SymbolicTensor;
  const b = tf.layers.conv2dTranspose({ filters: 5, kernelSize: 2, strides: 2, name: 't' }).apply(a) as tf.SymbolicTensor;
  const c = tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', name: 'd' }).apply(b) as tf.SymbolicTensor;
  const m = tf.model({ inputs: inp, outputs: c });
  const got = weightEntries(m).map((e) => [e.layer, e.role, e.channelAxis, e.channels]);
  assert.equal(got, [
    ['c', 'kernel', 3, 3],
    ['c', 'bias', 0, 3],
    ['t', 'kernel', 2, 5], // [kh, kw, out=5, in=3]
    ['t', 'bias', 0, 5],
    ['d', 'depthwise_kernel', 2, 5], // [kh, kw, in=5, mult=2]
    ['d', 'bias', 0, 10],
  ]);
  m.dispose();
});

test('withWeights substitutes during the call and restores afterwards (also on throw)', () => {
  const m = cls(2, 1);
  const entries = weightEntries(m);
  const x = randomImages(1, 2, 16, 16, 3);
  const before = predictArray(m, x);
  const head = entries.find((e) => e.layer === 'head' && e.role === 'kernel')!;
  const zeros = tf.zeros(head.shape);
  const sub = withWeights(entries, new Map([[head.index, zeros]]), () => predictArray(m, x));
  // zero head kernel + zero bias -> uniform softmax
  for (const v of sub) assert.ok(Math.abs(v - 0.5) < 1e-6);
  assert.is(maxDiff(predictArray(m, x), before), 0);
  assert.throws(() => withWeights(entries, new Map([[head.index, zeros]]), () => { throw new Error('boom'); }), /boom/);
  assert.is(maxDiff(predictArray(m, x), before), 0);
  assert.throws(() => withWeights(entries, new Map([[head.index, tf.zeros([1])]]), () => 0), /shape/);
  tf.dispose([zeros, x]);
  m.dispose();
});

test('weightSpecs agree with weightEntries on owner layer and class; get / set / clone round-trip; bytes', () => {
  const m = cls(3, 2);
  const specs = weightSpecs(m);
  const entries = weightEntries(m);
  assert.equal(specs.map((s) => [s.layer, s.layerClass, s.shape]), entries.map((e) => [e.layer, e.layerClass, e.shape]));
  assert.ok(specs.some((s) => s.layerClass === 'BatchNormalization' && !s.trainable), 'BN moving statistics listed');
  const before = tf.memory().numTensors;
  const w = getWeights(m);
  const copy = cloneWeights(w);
  copy[0][0] = w[0][0] + 0.5; // exact in float32 for |w| < 1
  assert.is(maxAbsDiff(copy, w), Math.abs(copy[0][0] - w[0][0]));
  assert.ok(maxAbsDiff(copy, w) > 0.49);
  setWeights(m, copy);
  assert.is(maxAbsDiff(getWeights(m), copy), 0);
  assert.is(byteCount(w), specs.reduce((a, s) => a + s.size * 4, 0));
  assert.is(byteCount(w, w.map((_, i) => i === 0)), w[0].length * 4);
  assert.throws(() => setWeights(m, w.slice(1)), /weights/);
  assert.is(tf.memory().numTensors, before, 'no leak');
  m.dispose();
});

test.run();
