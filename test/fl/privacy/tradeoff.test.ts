import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/backend/index';
import { syntheticSites } from '../../../src/data/synthetic';
import { createModel } from '../../../src/models/registry';
import { getWeights } from '../../../src/models/weights';
import { computeEpsilon } from '../../../src/fl/privacy/dp';
import { dpFedAvg, privacyTradeoff } from '../../../src/fl/privacy/tradeoff';

const data = syntheticSites({ sites: 2, samplesPerSite: 8, size: 32, heterogeneity: 1, seed: 4 });
const sites = [
  { name: 'site-0', indices: [0, 1, 2, 3, 4, 5] },
  { name: 'site-1', indices: [8, 9, 10, 11, 12, 13] },
];

/** Differences after - before over the trainable weights. */
function trainableDiff(model: tf.LayersModel, before: Float32Array[], after: Float32Array[]): number[] {
  const out: number[] = [];
  model.weights.forEach((w, i) => {
    if (!w.trainable) return;
    for (let j = 0; j < before[i].length; j++) out.push(after[i][j] - before[i][j]);
  });
  return out;
}

const norm = (xs: number[]) => Math.sqrt(xs.reduce((a, b) => a + b * b, 0));
const std = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
};

test('dpFedAvg: clipping bounds the global step (no noise): ||step|| <= C per round', async () => {
  await initBackend('wasm', { log: () => {} });
  const model = createModel('unet', { inputShape: [32, 32, 3], numClasses: 1, width: 2, seed: 0 });
  try {
    const w0 = getWeights(model);
    const tensors = tf.memory().numTensors;
    const logs = await dpFedAvg(model, data, { sites, rounds: 1, clipNorm: 1e-3, noiseMultiplier: 0, seed: 1 });
    assert.is(tf.memory().numTensors, tensors, 'no tensor leak');
    assert.is(logs.length, 1);
    assert.is(logs[0].clippedFraction, 1, 'a full local epoch moves far more than 1e-3');
    assert.ok(Object.values(logs[0].updateNorms).every((n) => n > 1e-3));
    const step = norm(trainableDiff(model, w0, getWeights(model)));
    assert.ok(step <= 1e-3 * (1 + 1e-4) && step > 1e-4, `global step ${step} must be <= C = 1e-3`);
  } finally {
    model.dispose();
  }
});

test('dpFedAvg: noise std on the global trainable weights (client: sigma C sqrt(sum w_k^2); server: sigma C / m)', async () => {
  await initBackend('wasm', { log: () => {} });
  // C tiny so the clipped signal (norm <= 1e-6) is negligible next to the noise
  const C = 1e-6;
  const sigma = 1e5; // sigma * C = 0.1
  for (const placement of ['client', 'server'] as const) {
    const model = createModel('unet', { inputShape: [32, 32, 3], numClasses: 1, width: 2, seed: 0 });
    try {
      const w0 = getWeights(model);
      await dpFedAvg(model, data, { sites, rounds: 1, clipNorm: C, noiseMultiplier: sigma, noisePlacement: placement, seed: 2 });
      const d = trainableDiff(model, w0, getWeights(model));
      // client: equal site sizes, weights 1/2 each -> 0.1 * sqrt(1/4 + 1/4) = 0.0707; server: 0.1 / 2 = 0.05
      const expected = placement === 'client' ? 0.1 * Math.SQRT1_2 : 0.05;
      const s = std(d);
      assert.ok(Math.abs(s - expected) < 0.05 * expected, `${placement}: std ${s} vs ${expected} (n = ${d.length})`);
    } finally {
      model.dispose();
    }
  }
});

test('dpFedAvg: seeded (same seed, same weights)', async () => {
  await initBackend('wasm', { log: () => {} });
  const run = async (seed: number) => {
    const model = createModel('unet', { inputShape: [32, 32, 3], numClasses: 1, width: 2, seed: 0 });
    try {
      await dpFedAvg(model, data, { sites, rounds: 1, clipNorm: 0.5, noiseMultiplier: 0.01, seed });
      return getWeights(model);
    } finally {
      model.dispose();
    }
  };
  const a = await run(3);
  const b = await run(3);
  const c = await run(4);
  assert.equal(Array.from(a[0]), Array.from(b[0]));
  assert.not.equal(Array.from(a[0]), Array.from(c[0]));
});

test('privacyTradeoff: one row per noise level with epsilon, Dice, site and membership scores', async () => {
  await initBackend('wasm', { log: () => {} });
  const tensors = tf.memory().numTensors;
  const seen: number[] = [];
  const rows = await privacyTradeoff({
    data,
    model: { name: 'unet', width: 2 },
    noiseMultipliers: [0, 1],
    training: { rounds: 2, clipNorm: 1 },
    siteAttack: { probe: { epochs: 100 } },
    onRow: (r) => seen.push(r.noiseMultiplier),
  });
  assert.is(tf.memory().numTensors, tensors, 'no tensor leak');
  assert.equal(seen, [0, 1]);
  assert.is(rows.length, 2);
  assert.is(rows[0].epsilon, Infinity);
  // client placement: replace-one adjacency -> multiplier sigma / 2, 2 rounds
  assert.ok(Math.abs(rows[1].epsilon - computeEpsilon({ noiseMultiplier: 0.5, steps: 2 }).epsilon) < 1e-9);
  for (const r of rows) {
    assert.ok(r.dice >= 0 && r.dice <= 1, `dice ${r.dice}`);
    assert.ok(r.siteAccuracy >= 0 && r.siteAccuracy <= 1);
    assert.is(r.siteChance, 0.5);
    assert.ok(r.membershipAuc >= 0 && r.membershipAuc <= 1);
    assert.ok(r.meanUpdateNorm > 0);
    assert.is(r.noisePlacement, 'client');
  }
  console.log(`    [measured] ${JSON.stringify(rows.map((r) => ({ sigma: r.noiseMultiplier, eps: +r.epsilon.toFixed(2), dice: +r.dice.toFixed(3), site: +r.siteAccuracy.toFixed(3), mia: +r.membershipAuc.toFixed(3) })))}`);
  let msg = '';
  try {
    await privacyTradeoff({ data, model: { name: 'unet' }, noiseMultipliers: [] });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.match(msg, /noiseMultipliers is empty/);
});

test.run();
