import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { minimize, l1Penalty, distributionMatching, syntheticBytes, syntheticSet, medForge, forgeBaselines, pluginBytes } from '../../src/forge';
import { createClassifier } from '../../src/models/classifier';
import { trainTask } from '../../src/train';
import { createModel } from '../../src/models/registry';
import { syntheticSites } from '../../src/data/synthetic';
import { setup } from '../merge/helpers';

test.before(setup);

const sphere = (x: number[]) => x.reduce((s, v, i) => s + (v - 0.3 * (i + 1)) ** 2, 0);

test('gradient-free search improves a toy objective, respects bounds and budget, is seeded', async () => {
  for (const method of ['one-plus-one', 'random'] as const) {
    const r = await minimize(sphere, { init: [1, -1, 1], lower: -1.5, upper: 1.5, budget: 60, method, seed: 3 });
    assert.is(r.evaluations, 60);
    assert.is(r.initValue, sphere([1, -1, 1]));
    assert.ok(r.bestValue < 0.5 * r.initValue, `${method}: ${r.bestValue} vs ${r.initValue}`);
    assert.ok(r.history.every((h) => h.x.every((v) => v >= -1.5 && v <= 1.5)));
    const again = await minimize(sphere, { init: [1, -1, 1], budget: 60, method, seed: 3 });
    assert.equal(again.best, r.best);
    const other = await minimize(sphere, { init: [1, -1, 1], budget: 60, method, seed: 4 });
    assert.not.equal(other.history.map((h) => h.x), r.history.map((h) => h.x));
  }
  const es = await minimize(sphere, { init: [1, -1, 1], budget: 200, seed: 1 });
  assert.ok(es.bestValue < 1e-2, `(1+1)-ES converges: ${es.bestValue}`);
  let err = '';
  await minimize(sphere, { init: [0], lower: 1, upper: 0 }).catch((e) => (err = String(e)));
  assert.match(err, /must be below/);
});

test('l1Penalty = l1 * mean |w|', () => {
  assert.is(l1Penalty([0.5, -1.5], 0.05), 0.05 * 1);
  assert.is(l1Penalty([], 0.05), 0);
});

test('distribution matching lowers its matching loss; one image per class per slot; bytes', () => {
  const data = syntheticSites({ sites: 1, samplesPerSite: 24, size: 16, task: 'lesion', seed: 1 });
  const tensors = tf.memory().numTensors;
  const r = distributionMatching(data.samples, { perClass: 2, iterations: 12, learningRate: 1, seed: 2 });
  assert.is(tf.memory().numTensors, tensors, 'no leaks');
  const classes = [...new Set(data.samples.map((s) => s.label))].sort();
  assert.equal(r.samples.map((s) => s.label), classes.flatMap((c) => [c, c]));
  const first = r.losses.slice(0, 3).reduce((a, b) => a + b) / 3;
  const last = r.losses.slice(-3).reduce((a, b) => a + b) / 3;
  assert.ok(last < first, `matching loss ${first} -> ${last}`);
  for (const s of r.samples) assert.ok(s.image.every((v) => v >= 0 && v <= 1) && s.mask !== undefined);
  // 16x16x3 float32 + 16x16 mask bytes + 4-byte label per image
  assert.is(syntheticBytes(r.samples), r.samples.length * (16 * 16 * 3 * 4 + 16 * 16 + 4));
  const again = distributionMatching(data.samples, { perClass: 2, iterations: 12, seed: 2 });
  assert.equal(again.losses, r.losses);
  assert.is(syntheticSet(data.samples, { method: 'real-subset', perClass: 1, seed: 0 }).length, classes.length);
  assert.is(syntheticSet(data.samples, { method: 'copy-paste', perClass: 1, seed: 0 }).length, classes.length);
});

test('medForge fusion: the fused model beats the base on the contributing sites; versions, bytes, no leaks', async () => {
  const spec = { task: 'segmentation' as const, numClasses: 1 };
  const base = createModel('unet', { inputShape: [16, 16, 3], numClasses: 1, width: 4, seed: 0 });
  const pub = syntheticSites({ sites: 1, samplesPerSite: 24, size: 16, task: 'lesion', seed: 50 });
  await trainTask(pub, { spec, epochs: 3, vars: base.trainableWeights.map((w) => w.read() as tf.Variable), forward: (x) => base.apply(x, { training: true }) as tf.Tensor, learningRate: 1e-2 });
  const all = syntheticSites({ sites: 2, samplesPerSite: 20, size: 16, task: 'lesion', seed: 7, heterogeneity: 1 });
  const sites = [0, 1].map((k) => ({
    name: `site-${k}`,
    train: all.subset(Array.from({ length: 14 }, (_, i) => k * 20 + i)),
    test: all.subset(Array.from({ length: 6 }, (_, i) => k * 20 + 14 + i)),
  }));
  const baseWeights = base.getWeights().map((w) => w.dataSync().slice());
  const tensors = tf.memory().numTensors;
  const r = await medForge({ base, sites, task: 'segmentation', order: ['site-1', 'site-0'], localEpochs: 3, budget: 8, rank: 2, distill: { iterations: 5 }, evaluatePlugins: false });
  assert.equal(r.versions.map((v) => v.contributor), [null, 'site-1', 'site-0']);
  const [v0, , v2] = r.versions;
  for (const s of ['site-0', 'site-1']) assert.ok(v2.metrics[s].dice > v0.metrics[s].dice, `${s}: ${v2.metrics[s].dice} vs base ${v0.metrics[s].dice}`);
  for (const v of r.versions.slice(1)) {
    assert.ok(v.objective!.best <= v.objective!.init, 'search never worse than its start');
    assert.is(v.objective!.evaluations, 8);
  }
  assert.is(r.versions[1].coefficients.length, 1); // first contributor: one coefficient
  assert.is(r.versions[2].coefficients.length, 2); // then (current, new)
  assert.is(r.versions[1].bytes.plugin, pluginBytes(r.plugins[0].state));
  assert.is(r.versions[2].bytes.cumulative, r.versions[1].bytes.total + r.versions[2].bytes.total);
  // the plain fused model reproduces the predictor
  const x = tf.tensor4d(sites[0].test.samples[0].image, [1, 16, 16, 3]);
  const a = tf.tidy(() => (r.model!.predict(x) as tf.Tensor).dataSync().slice());
  const b = tf.tidy(() => r.predict(x).dataSync().slice());
  assert.ok(a.every((v, i) => Math.abs(v - b[i]) < 1e-5));
  x.dispose();
  r.model!.dispose();
  assert.is(tf.memory().numTensors, tensors, 'no leaked tensors');
  base.getWeights().forEach((w, i) => assert.ok(w.dataSync().every((v, j) => v === baseWeights[i][j]), 'base untouched'));
  base.dispose();
});

test('medForge mixture on classification + baselines run; mixture weights follow the composition rule', async () => {
  const raw = syntheticSites({ sites: 2, samplesPerSite: 12, size: 16, task: 'lesion', seed: 3 });
  const sites = [0, 1].map((k) => ({
    name: `site-${k}`,
    train: raw.subset(Array.from({ length: 8 }, (_, i) => k * 12 + i)),
    test: raw.subset(Array.from({ length: 4 }, (_, i) => k * 12 + 8 + i)),
  }));
  const base = createClassifier({ inputShape: [16, 16, 3], numClasses: 3, width: 4, seed: 2 });
  const tensors = tf.memory().numTensors;
  const r = await medForge({ base, sites, task: 'classification', mode: 'mixture', localEpochs: 1, budget: 6, synthetic: 'real-subset', perClass: 1, seed: 1 });
  const [, v1, v2] = r.versions;
  assert.is(v1.coefficients.length, 1);
  assert.equal(v2.coefficients, [(v1.coefficients[0] as number) * v2.searched[0], v2.searched[1]]);
  assert.is(r.model, undefined);
  assert.is(r.pluginScores.length, 2);
  for (const v of r.versions) for (const s of Object.values(v.metrics)) assert.ok(s.accuracy >= 0 && s.accuracy <= 1);
  assert.is(tf.memory().numTensors, tensors, 'no leaked tensors');
  const rows = await forgeBaselines({ base, sites, spec: r.spec, epochs: 1, rounds: 1 });
  assert.equal(rows.map((x) => x.label), ['single-site site-0', 'single-site site-1', 'FedAvg (1 rounds)']);
  const params = base.countParams();
  assert.is(rows[2].bytes, 2 * params * 4 * 2);
  assert.is(tf.memory().numTensors, tensors, 'baselines leak nothing');
  base.dispose();
});

test.run();
