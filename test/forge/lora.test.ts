import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import {
  LoraPlugin,
  loraTargets,
  pluginBytes,
  pluginParameterCount,
  pluginDeltas,
  combineDeltas,
  forwardWith,
  composeMixtureWeights,
  mixOutputs,
  mixturePredictor,
  splitCoefficients,
  type PluginState,
  type ForgeDelta,
} from '../../src/forge';
import { createClassifier } from '../../src/models/classifier';
import { weightEntries } from '../../src/models/weights';
import { createModel } from '../../src/models/registry';
import { setup, randomImages, predictArray, maxDiff } from '../merge/helpers';

test.before(setup);

const model = () => createClassifier({ inputShape: [16, 16, 3], numClasses: 3, width: 4, seed: 1 });

/** A plugin with random (non-zero) up-projections, as plain arrays. */
function randomPlugin(base: tf.LayersModel, seed: number, rank = 2): PluginState {
  const p = LoraPlugin.create(base, { rank, seed });
  p.factors.forEach((f, i) => f.up.assign(tf.tidy(() => tf.randomNormal(f.up.shape, 0, 0.3, 'float32', seed * 10 + i))));
  const s = p.state();
  p.dispose();
  return s;
}

const run = (base: tf.LayersModel, d: ForgeDelta | null, x: tf.Tensor4D) => tf.tidy(() => forwardWith(base, weightEntries(base), d, x).dataSync().slice());

test('LoRA targets: every Dense / Conv2D kernel; shapes of the factors', () => {
  const base = model();
  assert.equal(loraTargets(base).map((e) => e.layer), ['stage1_conv', 'stage2_conv', 'head']);
  const p = LoraPlugin.create(base, { rank: 3 });
  // stage1 [3,3,3,4]: down [27, 3], up [3, 4]; stage2 [3,3,4,8]: [36, 3], [3, 8]; head [8, 3]: [8, 3], [3, 3]
  assert.equal(p.factors.map((f) => [f.down.shape, f.up.shape]), [[[27, 3], [3, 4]], [[36, 3], [3, 8]], [[8, 3], [3, 3]]]);
  assert.throws(() => loraTargets(base, ['nope']), /no adaptable kernel/);
  p.dispose();
  base.dispose();
});

test('a fresh plugin (zero up-projection) equals the base exactly', () => {
  const base = createModel('unet', { inputShape: [16, 16, 3], numClasses: 1, width: 2, seed: 0 });
  const p = LoraPlugin.create(base, { rank: 2, alpha: 4, seed: 3 });
  const x = randomImages(1, 2, 16, 16, 3);
  const got = tf.tidy(() => p.forward(base, x).dataSync().slice());
  assert.is(maxDiff(got, predictArray(base, x)), 0);
  p.dispose();
  base.dispose();
  x.dispose();
});

test('plugin delta = (alpha / r) * reshape(down @ up) (hand-computed 1x1 case)', () => {
  const state: PluginState = {
    rank: 2,
    alpha: 4, // scale 2
    factors: [{ index: 0, layer: 'c', shape: [1, 1, 2, 3], down: Float32Array.from([1, 2, 3, 4]), up: Float32Array.from([1, 0, -1, 0, 1, 2]) }],
  };
  const d = tf.tidy(() => pluginDeltas(state).get(0)!.arraySync());
  // down [[1,2],[3,4]] @ up [[1,0,-1],[0,1,2]] = [[1,2,3],[3,4,5]]; x2
  assert.equal(d, [[[[2, 4, 6], [6, 8, 10]]]]);
});

test('bytes counted = parameter count x 4', () => {
  const base = model();
  const s = randomPlugin(base, 1, 3);
  // (27 + 4) * 3 + (36 + 8) * 3 + (8 + 3) * 3
  assert.is(pluginParameterCount(s), (27 + 4 + 36 + 8 + 8 + 3) * 3);
  assert.is(pluginBytes(s), pluginParameterCount(s) * 4);
  base.dispose();
});

test('fusion: coefficient 0 gives the base, 1 gives base + delta (both spaces)', () => {
  const base = model();
  const s = randomPlugin(base, 2);
  const x = randomImages(2, 3, 16, 16, 3);
  const plain: ForgeDelta = { kind: 'factors', plugin: s };
  const baseOut = predictArray(base, x);
  const withPlugin = run(base, plain, x);
  assert.ok(maxDiff(withPlugin, baseOut) > 1e-4, 'the plugin changes the output');
  for (const space of ['factors', 'delta'] as const) {
    assert.is(maxDiff(run(base, combineDeltas([plain], [0], space), x), baseOut), 0, `${space}: 0 -> base`);
    assert.ok(maxDiff(run(base, combineDeltas([plain], [1], space), x), withPlugin) < 1e-6, `${space}: 1 -> base + delta`);
  }
  // the two spaces differ as documented: factors scale the delta by w^2, delta by w
  const hf = combineDeltas([plain], [0.5], 'factors');
  const hd = combineDeltas([plain], [0.5], 'delta');
  if (hf.kind !== 'factors' || hd.kind !== 'delta') throw new Error('unexpected kinds');
  const k0 = s.factors[0].index;
  const dF = tf.tidy(() => pluginDeltas(hf.plugin).get(k0)!.dataSync().slice());
  const full = tf.tidy(() => pluginDeltas(s).get(k0)!.dataSync().slice());
  const dD = hd.deltas.get(k0)!.values;
  assert.ok(maxDiff(dF, full.map((v) => 0.25 * v)) < 1e-6);
  assert.ok(maxDiff(dD, full.map((v) => 0.5 * v)) < 1e-6);
  base.dispose();
  x.dispose();
});

test('layer-level coefficients and two-plugin fusion (hand-checked per kernel)', () => {
  const base = model();
  const a = randomPlugin(base, 3);
  const b = randomPlugin(base, 4);
  const w = splitCoefficients([1, 0, 2, 0.5, -1, 0], 2, 'layer', 3);
  assert.equal(w, [[1, 0, 2], [0.5, -1, 0]]);
  const fused = combineDeltas([{ kind: 'factors', plugin: a }, { kind: 'factors', plugin: b }], w, 'delta') as { deltas: Map<number, { values: Float32Array }> };
  const [da, db] = [a, b].map((p) => tf.tidy(() => [...pluginDeltas(p).values()].map((t) => t.dataSync().slice())));
  const want = [0, 1, 2].map((j) => da[j].map((v, i) => (w[0] as number[])[j] * v + (w[1] as number[])[j] * db[j][i]));
  [...fused.deltas.values()].forEach((d, j) => assert.ok(maxDiff(d.values, want[j]) < 1e-6, `kernel ${j}`));
  assert.throws(() => splitCoefficients([1, 2], 2, 'layer', 3), /values for 2 parts x 3 layers/);
  base.dispose();
});

test('mixture: one plugin with weight 1 equals that plugin; weights compose as the code', () => {
  const base = model();
  const s = randomPlugin(base, 5);
  const d: ForgeDelta = { kind: 'factors', plugin: s };
  const x = randomImages(3, 3, 16, 16, 3);
  const entries = weightEntries(base);
  const mix = mixturePredictor(base, entries, [d], [1]);
  const got = tf.tidy(() => mix(x).dataSync().slice());
  assert.ok(maxDiff(got, run(base, d, x)) < 1e-6);
  assert.equal(composeMixtureWeights([], [0.7]), [0.7]);
  assert.equal(composeMixtureWeights([0.5, 2], [0.5, 1.5]), [0.25, 1, 1.5]);
  // clip / renormalise: [0.2, 0.8] * 2 - [0.6, 0.4] * 1 = [-0.2, 1.2] -> clip [0, 1] -> [0, 1]
  const m = tf.tidy(() => mixOutputs([tf.tensor2d([[0.2, 0.8]]), tf.tensor2d([[0.6, 0.4]])], [2, -1]).arraySync());
  assert.equal(m, [[0, 1]]);
  const raw = tf.tidy(() => mixOutputs([tf.tensor2d([[0.2, 0.8]]), tf.tensor2d([[0.6, 0.4]])], [2, -1], 'none').arraySync() as number[][]);
  assert.ok(Math.abs(raw[0][0] + 0.2) < 1e-6 && Math.abs(raw[0][1] - 1.2) < 1e-6);
  base.dispose();
  x.dispose();
});

test('plugin training leaves the base untouched; no tensor leaks', () => {
  const base = model();
  const before = base.getWeights().map((w) => w.dataSync().slice());
  const tensors = tf.memory().numTensors;
  const p = LoraPlugin.create(base, { rank: 2 });
  const x = randomImages(4, 4, 16, 16, 3);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 0], 'int32'), 3));
  const opt = tf.train.adam(0.05);
  for (let i = 0; i < 3; i++) opt.minimize(() => tf.losses.softmaxCrossEntropy(y, p.forward(base, x)) as tf.Scalar, false, p.variables());
  opt.dispose();
  assert.ok(p.factors.some((f) => tf.tidy(() => tf.max(tf.abs(f.up)).dataSync()[0]) > 0), 'up-projections moved');
  base.getWeights().forEach((w, i) => assert.is(maxDiff(w.dataSync(), before[i]), 0));
  p.dispose();
  tf.dispose([x, y]);
  assert.is(tf.memory().numTensors, tensors);
  base.dispose();
});

test.run();
