import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { mergeModels, taskArithmetic, MergeNetwork, medMerge, mergeBaselines, findHead, backboneOf, buildTargetNetwork } from '../../src/merge';
import { createClassifier } from '../../src/models/classifier';
import { weightEntries } from '../../src/models/weights';
import { evaluateTask, taskLoss } from '../../src/train';
import { createModel } from '../../src/models/registry';
import { syntheticSites } from '../../src/data/synthetic';
import { InMemoryDataset } from '../../src/data/types';
import { createRng } from '../../src/util/rng';
import { setup, randomImages, predictArray, maxDiff } from './helpers';

test.before(setup);

const SHAPE: [number, number, number] = [16, 16, 3];
const cls = (numClasses: number, seed: number) => createClassifier({ inputShape: SHAPE, numClasses, width: 4, seed });

test('mergeModels with (1, 0) gives model A exactly and (0, 1) model B', async () => {
  const A = cls(3, 1);
  const B = cls(3, 2);
  const x = randomImages(2, 3, 16, 16, 3);
  for (const [coef, ref] of [[[1, 0], A], [[0, 1], B]] as const) {
    const m = await mergeModels([A, B], coef);
    const wm = m.getWeights().map((t) => t.dataSync());
    const wr = ref.getWeights().map((t) => t.dataSync());
    wm.forEach((w, i) => assert.is(maxDiff(w, wr[i]), 0, `weight ${i}`));
    assert.is(maxDiff(predictArray(m, x), predictArray(ref, x)), 0);
    m.dispose();
  }
  // (0.5, 0.5): every weight is the mean
  const avg = await mergeModels([A, B], [0.5, 0.5]);
  const wa = avg.getWeights().map((t) => t.dataSync());
  const w0 = A.getWeights().map((t) => t.dataSync());
  const w1 = B.getWeights().map((t) => t.dataSync());
  wa.forEach((w, i) => assert.ok(maxDiff(w, w0[i].map((v, j) => 0.5 * v + 0.5 * w1[i][j])) < 1e-6));
  avg.dispose();
  A.dispose();
  B.dispose();
  x.dispose();
});

test('mergeModels rejects mismatched architectures', async () => {
  const A = cls(3, 1);
  const B = cls(2, 2);
  let err = '';
  try {
    await mergeModels([A, B], [0.5, 0.5]);
  } catch (e) {
    err = String(e);
  }
  assert.match(err, /differs in architecture/);
  A.dispose();
  B.dispose();
});

test('taskArithmetic = base + lambda * sum of task vectors (hand-checked per weight)', async () => {
  const base = cls(2, 0);
  const A = cls(2, 1);
  const B = cls(2, 2);
  const m = await taskArithmetic(base, [A, B], 0.3);
  const [wm, wb, wa, wB] = [m, base, A, B].map((x) => x.getWeights().map((t) => t.dataSync()));
  wm.forEach((w, i) => {
    const want = wb[i].map((v, j) => v + 0.3 * (wa[i][j] - v + (wB[i][j] - v)));
    assert.ok(maxDiff(w, want) < 1e-5, `weight ${i}`);
  });
  [m, base, A, B].forEach((x) => x.dispose());
});

test('findHead / backboneOf: classifier and U-Net', () => {
  const c = cls(3, 1);
  assert.equal(findHead(c), { headLayer: 'head', headClass: 'Dense', featureLayer: 'features', kernelSize: 1 });
  const u = createModel('unet', { inputShape: SHAPE, numClasses: 1, width: 2, seed: 0 });
  const h = findHead(u);
  assert.is(h.headLayer, 'head');
  assert.is(h.headClass, 'Conv2D');
  const bb = backboneOf(u);
  assert.equal(bb.outputs[0].shape, [null, 16, 16, 2]);
  c.dispose();
  u.dispose();
});

test('MergeNetwork with initial coefficients (1, 0) equals source A backbone + the same new head', async () => {
  const A = cls(2, 1);
  const B = cls(2, 2);
  const spec = { task: 'classification' as const, numClasses: 3 };
  const net = await MergeNetwork.create([A, B], { spec, initialCoefficients: [1, 0], seed: 7 });
  const ref = await buildTargetNetwork(backboneOf(A), spec, { seed: 7 });
  const x = randomImages(3, 4, 16, 16, 3);
  const got = tf.tidy(() => net.forward(x, false).dataSync().slice());
  // sigmoid logits are clipped at 1 - 1e-6, so "1" is 1 - 1e-6
  assert.ok(maxDiff(got, predictArray(ref.model, x)) < 1e-4);
  net.dispose();
  net.model.dispose();
  ref.model.dispose();
  [A, B, x].forEach((t) => t.dispose());
});

test('gradients flow to the merge coefficients (finite, non-zero)', async () => {
  const A = cls(2, 1);
  const B = cls(2, 2);
  const spec = { task: 'classification' as const, numClasses: 2 };
  // untrained sources share BN gamma = 1 / beta = 0 (no gradient through identical weights): perturb B's
  for (const w of B.weights) if (/gamma|beta/.test(w.name)) w.write(tf.tidy(() => tf.randomUniform(w.shape as number[], 0.5, 1.5, 'float32', 11)));
  const net = await MergeNetwork.create([A, B], { spec });
  const vars = net.coefficientVariables();
  // one [2, C] logit matrix per trainable backbone weight: 2 convs + 2 BN x (gamma, beta)
  assert.is(vars.length, 6);
  const x = randomImages(4, 4, 16, 16, 3);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 1, 0], 'int32'), 2));
  const loss = taskLoss(spec);
  const { value, grads } = tf.variableGrads(() => loss(y, net.forward(x, false)), vars);
  for (const v of vars) {
    const g = grads[v.name].dataSync();
    assert.ok(g.every(Number.isFinite), 'finite');
    // sigmoid for two models: only row 0 of the logits is used
    assert.ok(Array.from(g.slice(0, v.shape[1] as number)).some((e) => Math.abs(e) > 0), `non-zero gradient for ${v.name}`);
  }
  tf.dispose([value, x, y, ...Object.values(grads)]);
  net.dispose();
  net.model.dispose();
  A.dispose();
  B.dispose();
});

test('the collapsed model reproduces the coefficient-merged network', async () => {
  const A = cls(2, 1);
  const B = cls(2, 2);
  const net = await MergeNetwork.create([A, B], { spec: { task: 'classification', numClasses: 2 } });
  // move the coefficients away from 0.5 (random per channel)
  net.coefficientVariables().forEach((v, i) => v.assign(tf.tidy(() => tf.randomNormal(v.shape, 0, 2, 'float32', 100 + i))));
  const x = randomImages(5, 4, 16, 16, 3);
  const merged = tf.tidy(() => net.forward(x, false).dataSync().slice());
  const coef = net.coefficients();
  assert.ok(coef.some((c) => Math.abs(c.mean[0] - 0.5) > 0.05));
  const model = net.collapse();
  assert.ok(net.isCollapsed);
  assert.ok(maxDiff(predictArray(model, x), merged) < 1e-5);
  // merged kernel = a * W_A + (1 - a) * W_B channel by channel
  const k = weightEntries(model).find((e) => e.layer === 'stage1_conv')!;
  const c = coef.find((r) => r.layer === 'stage1_conv' && r.role === 'kernel')!;
  const [wk, wa, wb] = [model, A, B].map((m) => m.getLayer('stage1_conv').getWeights()[0].dataSync());
  const C = k.channels;
  for (let i = 0; i < wk.length; i++) {
    const ch = i % C;
    assert.ok(Math.abs(wk[i] - (c.values[0][ch] * wa[i] + c.values[1][ch] * wb[i])) < 1e-5);
  }
  net.dispose();
  model.dispose();
  [A, B, x].forEach((t) => t.dispose());
});

test('three sources use softmax coefficients summing to 1 per channel', async () => {
  const srcs = [cls(2, 1), cls(2, 2), cls(2, 3)];
  const net = await MergeNetwork.create(srcs, { spec: { task: 'classification', numClasses: 2 } });
  assert.is(net.parametrization, 'softmax');
  for (const r of net.coefficients()) for (let c = 0; c < r.values[0].length; c++) {
    assert.ok(Math.abs(r.values[0][c] + r.values[1][c] + r.values[2][c] - 1) < 1e-6);
    assert.ok(Math.abs(r.values[0][c] - 1 / 3) < 1e-6);
  }
  net.dispose();
  net.model.dispose();
  srcs.forEach((m) => m.dispose());
});

test('medMerge LP lowers the segmentation loss of the merged network; no leaks', async () => {
  const data = syntheticSites({ sites: 1, samplesPerSite: 16, size: 16, task: 'lesion', seed: 4 });
  const srcs = [0, 1].map((s) => createModel('unet', { inputShape: SHAPE, numClasses: 1, width: 2, seed: s }));
  const spec = { task: 'segmentation' as const, numClasses: 1 };
  // reference: the merged network before any training (same seed -> same head)
  const net0 = await MergeNetwork.create(srcs, { spec, seed: 3 });
  const before = await evaluateTask((x) => net0.forward(x, false), data, spec);
  net0.dispose();
  net0.model.dispose();
  const tensors = tf.memory().numTensors;
  const r = await medMerge({ sources: srcs, target: { train: data, test: data }, task: 'segmentation', lpEpochs: 3, ftEpochs: 1, lpLearningRate: 0.05, seed: 3 });
  assert.ok(r.history.lp[r.history.lp.length - 1].loss < r.history.lp[0].loss, 'LP training loss decreases');
  assert.ok(r.metrics.afterLp!.loss < before.loss - 0.05, `BCE+Dice after LP ${r.metrics.afterLp!.loss} vs before ${before.loss}`);
  assert.ok(Number.isFinite(r.metrics.final!.dice));
  assert.ok(r.coefficients.length > 0);
  r.merged.dispose();
  assert.is(tf.memory().numTensors, tensors, 'no leaked tensors');
  srcs.forEach((m) => m.dispose());
});

test('medMerge LP beats chance on a classification target of the embedded data; mergeBaselines rows', async () => {
  // target: which site (scanner) an image comes from — 2 classes from the synthetic generator's site effects
  const raw = syntheticSites({ sites: 2, samplesPerSite: 24, size: 16, task: 'polyp', seed: 5, heterogeneity: 1 });
  const relabeled = raw.samples.map((s) => ({ ...s, label: s.meta.siteIndex as number }));
  const all = new InMemoryDataset('site-id', relabeled, 'classification', ['site-0', 'site-1']);
  const order = createRng(1).permutation(all.length);
  const train = all.subset(order.slice(0, 32));
  const test = all.subset(order.slice(32));
  const srcs = [cls(3, 1), cls(2, 2)];
  const r = await medMerge({ sources: srcs, target: { train, test }, task: 'classification', lpEpochs: 5, ftEpochs: 0, lpLearningRate: 0.05 });
  assert.ok(r.metrics.afterLp!.accuracy >= 0.75, `LP test accuracy ${r.metrics.afterLp!.accuracy} (chance 0.5)`);
  r.merged.dispose();
  const base = cls(2, 9);
  const tensors = tf.memory().numTensors;
  const rows = await mergeBaselines({ sources: srcs, base, target: { train, test }, task: 'classification', lpEpochs: 1, ftEpochs: 1 });
  assert.equal(rows.map((x) => `${x.method}${x.source ?? ''}`), ['ft0', 'ft1', 'lp-ft0', 'lp-ft1', 'uniform', 'task-arithmetic', 'medmerge']);
  for (const row of rows) assert.ok(row.score >= 0 && row.score <= 1 && row.final.images === 16);
  assert.is(tf.memory().numTensors, tensors, 'no leaked tensors');
  base.dispose();
  srcs.forEach((m) => m.dispose());
});

test.run();
