/** The DP wrapper around FedAvg (server- and client-side fixed clipping, central and local noise) through runFederated. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index';
import { syntheticSites } from '../../src/data/synthetic';
import { SubsetDataset } from '../../src/data/types';
import { createModel } from '../../src/models/registry';
import { getWeights } from '../../src/models/weights';
import { runFederated } from '../../src/fl/rounds';
import { checkStrategyConfig } from '../../src/fl/registry';
import type { DpConfig, FederatedConfig } from '../../src/fl/types';
import type { Site } from '../../src/data/site';

const data = syntheticSites({ sites: 2, samplesPerSite: 8, size: 32, heterogeneity: 1, seed: 4 });
const sites: Site[] = [
  { name: 'site-0', train: new SubsetDataset(data, [0, 1, 2, 3, 4, 5]), test: new SubsetDataset(data, [6, 7]) },
  { name: 'site-1', train: new SubsetDataset(data, [8, 9, 10, 11, 12, 13]), test: new SubsetDataset(data, [14, 15]) },
];

const config = (dp: DpConfig, seed = 1): FederatedConfig => ({
  strategy: { name: 'fedavg', dp },
  model: { name: 'unet', inputShape: [32, 32, 3], width: 2 },
  rounds: 1,
  localEpochs: 1,
  batchSize: 4,
  seed,
});

/** after - before over the trainable weights. */
function trainableDiff(before: Float32Array[], after: Float32Array[]): number[] {
  const model = createModel('unet', { inputShape: [32, 32, 3], numClasses: 1, width: 2, seed: 0 });
  const out: number[] = [];
  model.weights.forEach((w, i) => {
    if (!w.trainable) return;
    for (let j = 0; j < before[i].length; j++) out.push(after[i][j] - before[i][j]);
  });
  model.dispose();
  return out;
}

function initial(seed: number): Float32Array[] {
  const m = createModel('unet', { inputShape: [32, 32, 3], numClasses: 1, width: 2, seed });
  const w = getWeights(m);
  m.dispose();
  return w;
}

const norm = (xs: number[]) => Math.sqrt(xs.reduce((a, b) => a + b * b, 0));
const std = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
};

test('dp clipping (server- and client-side) bounds the global step: ||step|| <= C; updates reported as clipped; no leak', async () => {
  await initBackend('wasm', { log: () => {} });
  for (const clipping of ['server', 'client'] as const) {
    const tensors = tf.memory().numTensors;
    const res = await runFederated(config({ clipping, clipNorm: 1e-3 }), sites);
    assert.is(tf.memory().numTensors, tensors, 'no tensor leak');
    const m = res.records[0].clientMetrics!;
    assert.equal(Object.keys(m), ['site-0', 'site-1']);
    for (const s of Object.values(m)) {
      assert.is(s.clipped, 1, 'a full local epoch moves far more than 1e-3');
      assert.ok(s.updateNorm > 1e-3);
    }
    const step = norm(trainableDiff(initial(1), res.globalWeights));
    assert.ok(step <= 1e-3 * (1 + 1e-4) && step > 1e-4, `${clipping}: global step ${step} must be <= C = 1e-3`);
  }
});

test('dp noise std on the global trainable weights (local: sigma C sqrt(sum w_k^2); central: sigma C / m)', async () => {
  await initBackend('wasm', { log: () => {} });
  // C tiny so the clipped signal (norm <= 1e-6) is negligible next to the noise; sigma C = 0.1
  const C = 1e-6;
  const sigma = 1e5;
  const cases: [DpConfig, number][] = [
    // equal site sizes, sample weights 1/2 each -> 0.1 * sqrt(1/4 + 1/4)
    [{ clipping: 'client', noise: 'local', clipNorm: C, noiseMultiplier: sigma }, 0.1 * Math.SQRT1_2],
    // central: 0.1 / m, m = 2 sampled clients
    [{ clipping: 'server', clipNorm: C, noiseMultiplier: sigma }, 0.05],
    [{ clipping: 'client', clipNorm: C, noiseMultiplier: sigma }, 0.05],
  ];
  for (const [dp, expected] of cases) {
    const res = await runFederated(config(dp, 2), sites);
    const s = std(trainableDiff(initial(2), res.globalWeights));
    assert.ok(Math.abs(s - expected) < 0.05 * expected, `${JSON.stringify(dp)}: std ${s} vs ${expected}`);
  }
});

test('dp runs are seeded: same seed, same weights; another seed, other noise', async () => {
  await initBackend('wasm', { log: () => {} });
  const dp: DpConfig = { clipNorm: 0.5, noiseMultiplier: 0.01 };
  const a = (await runFederated(config(dp, 3), sites)).globalWeights;
  const b = (await runFederated(config(dp, 3), sites)).globalWeights;
  const c = (await runFederated(config(dp, 4), sites)).globalWeights;
  assert.equal(Array.from(a[0]), Array.from(b[0]));
  assert.not.equal(Array.from(a[0]), Array.from(c[0]));
});

test('dp config validation: clipNorm required, local noise needs client clipping, only update-sending strategies', () => {
  assert.match(checkStrategyConfig({ name: 'fedavg', dp: {} }, 's').join('\n'), /s\.dp\.clipNorm: required/);
  assert.match(checkStrategyConfig({ name: 'fedavg', dp: { clipNorm: 1, noise: 'local' } }, 's').join('\n'), /needs clipping 'client'/);
  assert.match(checkStrategyConfig({ name: 'splitfed', dp: { clipNorm: 1 } }, 's').join('\n'), /does not send weight updates/);
  assert.equal(checkStrategyConfig({ name: 'fedmedian', dp: { clipNorm: 1, clipping: 'client' } }, 's'), []);
});

test.run();
