import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { syntheticSites } from '../../src/data/synthetic';
import { buildForTraining, compareM4oE, isGateWeight, expertWeights, trainM4oE, type TrainM4oEOptions } from '../../src/moe';
import type { SiteSplits } from '../../src/data/site';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

const MODS = [
  { name: 'A', numClasses: 1 }, // polyp, binary sigmoid head
  { name: 'B', numClasses: 2 }, // lesion, 2-class softmax head
];

function twoModalities(n: number, size: number): Record<string, SiteSplits> {
  const a = syntheticSites({ sites: 1, samplesPerSite: n + 8, size, task: 'polyp', seed: 1 });
  const b = syntheticSites({ sites: 1, samplesPerSite: n + 8, size, task: 'lesion', seed: 2 });
  const idx = (k: number, s: number): number[] => Array.from({ length: k }, (_, i) => s + i);
  return {
    A: { train: a.subset(idx(n, 0)), test: a.subset(idx(8, n)) },
    B: { train: b.subset(idx(n, 0)), test: b.subset(idx(8, n)) },
  };
}

test('phase 1 only: hard routing leaves the gates untouched, trains the experts, utilization = own expert', async () => {
  const before = tf.memory().numTensors;
  const data = twoModalities(4, 16);
  const opts: TrainM4oEOptions = { builder: 'unet', modalities: MODS, data, phase1Epochs: 1, phase2Epochs: 0, width: 2, batchSize: 4, seed: 3 };
  const model = buildForTraining(opts, [16, 16, 3]);
  const snapshot = (ws: tf.LayerVariable[]): Float32Array[] => ws.map((w) => w.read().dataSync() as Float32Array);
  const gates = model.trainableWeights.filter(isGateWeight);
  const gate0 = snapshot(gates);
  const exp0 = snapshot(expertWeights(model, 0));
  const exp1 = snapshot(expertWeights(model, 1));
  const r = await trainM4oE({ ...opts, model });
  assert.equal(snapshot(gates), gate0, 'gates unchanged in phase 1');
  const changed = (a: Float32Array[], b: Float32Array[]): boolean => a.some((t, i) => t.some((v, j) => v !== b[i][j]));
  assert.ok(changed(snapshot(expertWeights(model, 0)), exp0), 'expert 0 trained on A');
  assert.ok(changed(snapshot(expertWeights(model, 1)), exp1), 'expert 1 trained on B');
  assert.equal(r.evaluation.utilization, { A: [1, 0], B: [0, 1] });
  assert.is(r.history.length, 1);
  assert.is(r.history[0].phase, 1);
  assert.is(r.history[0].images, 8);
  model.dispose();
  assert.is(tf.memory().numTensors, before, 'leak');
});

test('two-phase training improves Dice on two synthetic modalities (polyp binary, lesion 2-class); no leaks', async () => {
  const before = tf.memory().numTensors;
  const data = twoModalities(12, 32);
  const base: TrainM4oEOptions = { builder: 'unet', modalities: MODS, data, phase1Epochs: 0, phase2Epochs: 0, batchSize: 4, learningRate: 3e-3, seed: 0 };
  const untrained = await trainM4oE(base);
  untrained.model.dispose();
  const trained = await trainM4oE({ ...base, phase1Epochs: 2, phase2Epochs: 3, balance: 'switch' });
  trained.model.dispose();
  const d0 = untrained.evaluation.perModality;
  const d1 = trained.evaluation.perModality;
  for (const m of ['A', 'B']) assert.ok(d1[m].dice > d0[m].dice, `${m}: Dice ${d0[m].dice.toFixed(3)} -> ${d1[m].dice.toFixed(3)}`);
  assert.ok(trained.evaluation.meanDice > untrained.evaluation.meanDice + 0.1, `mean Dice ${untrained.evaluation.meanDice} -> ${trained.evaluation.meanDice}`);
  assert.equal(trained.history.map((h) => h.phase), [1, 1, 2, 2, 2]);
  assert.ok(trained.history.every((h) => Number.isFinite(h.loss) && h.images === 24));
  assert.ok(trained.history.slice(2).every((h) => h.balanceLoss >= 1 - 1e-6), 'switch loss >= 1');
  assert.ok(trained.history[4].loss < trained.history[0].loss, 'loss decreases');
  for (const m of ['A', 'B']) {
    const u = trained.evaluation.utilization![m];
    assert.is(u.length, 2);
    assert.ok(Math.abs(u[0] + u[1] - 1) < 1e-5, `${m} utilization sums to 1`);
    assert.is(trained.evaluation.utilizationPerLayer![m].length, 9);
  }
  assert.is(tf.memory().numTensors, before, 'leak');
});

test('per-batch progress through the shared loop: phase-1 batches hold one modality; epoch figures are the batch means', async () => {
  const before = tf.memory().numTensors;
  const data = twoModalities(6, 16);
  const batches: Array<{ phase: 1 | 2; epoch: number; images: number; loss: number; seg: number; balance: number }> = [];
  const r = await trainM4oE({
    builder: 'unet', modalities: MODS, data, phase1Epochs: 1, phase2Epochs: 2, width: 2, batchSize: 4, seed: 2, balance: 'switch',
    onBatch: (l) => batches.push({ phase: l.phase, epoch: l.epoch, images: l.images, loss: l.loss, seg: l.terms.seg, balance: l.terms.balance }),
  });
  r.model.dispose();
  // phase 1: per modality 6 images in batches of 4 -> [4, 2] each; phase 2: 12 mixed images -> [4, 4, 4]
  assert.equal(batches.filter((b) => b.phase === 1).map((b) => b.images).sort(), [2, 2, 4, 4]);
  assert.equal(batches.filter((b) => b.phase === 2).map((b) => b.images), [4, 4, 4, 4, 4, 4]);
  for (const h of r.history) {
    const own = batches.filter((b) => b.phase === h.phase && b.epoch === h.epoch);
    const n = own.reduce((a, b) => a + b.images, 0);
    assert.is(h.images, n);
    assert.ok(Math.abs(h.loss - own.reduce((a, b) => a + b.loss * b.images, 0) / n) < 1e-9, 'loss: image-weighted');
    assert.ok(Math.abs(h.segLoss - own.reduce((a, b) => a + b.seg * b.images, 0) / n) < 1e-9, 'segLoss: image-weighted');
    assert.ok(Math.abs(h.balanceLoss - own.reduce((a, b) => a + b.balance, 0) / own.length) < 1e-9, 'balanceLoss: per batch');
  }
  assert.ok(batches.filter((b) => b.phase === 1).every((b) => b.balance === 0), 'no balance loss in phase 1');
  assert.is(tf.memory().numTensors, before, 'leak');
});

test('compareM4oE: M4oE vs shared vs separate models with parameter counts', async () => {
  const before = tf.memory().numTensors;
  const data = twoModalities(4, 16);
  const cmp = await compareM4oE({ builder: 'unet', modalities: MODS, data, phase1Epochs: 1, phase2Epochs: 1, width: 2, batchSize: 4, seed: 1 });
  assert.equal(cmp.rows.map((r) => r.method), ['m4oe', 'shared', 'separate']);
  const [moe, shared, separate] = cmp.rows;
  // shared = one plain U-Net with two heads; separate = two plain U-Nets with one head each
  const oneHead = (k: number): number => 2 * k + k; // 1x1 conv at width 2 (+ bias)
  assert.is(separate.params - shared.params, shared.params - oneHead(1) - oneHead(2));
  assert.ok(moe.params > shared.params);
  for (const r of cmp.rows) for (const m of ['A', 'B']) assert.ok(r.dice[m] >= 0 && r.dice[m] <= 1, `${r.method} ${m}`);
  assert.ok(moe.utilization && moe.utilization.A.length === 2);
  assert.ok(cmp.table.startsWith('| method | params | Dice A | Dice B | mean Dice |'));
  assert.is(cmp.table.split('\n').length, 5);
  assert.is(tf.memory().numTensors, before, 'leak');
});

test('errors: missing data, bad epochs', async () => {
  const data = twoModalities(2, 16);
  let msg = '';
  try {
    await trainM4oE({ builder: 'unet', modalities: [...MODS, { name: 'C', numClasses: 1 }], data, phase1Epochs: 0, phase2Epochs: 0 });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.match(msg, /data\['C'\] must be \{ train, test \}/);
  msg = '';
  try {
    await trainM4oE({ builder: 'unet', modalities: MODS, data, phase1Epochs: -1, phase2Epochs: 0 });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.match(msg, /phase1Epochs must be a non-negative integer/);
});

test.run();
