/**
 * A strategy written outside src/ against the public contract: run through
 * runFederated as an object, and by name through an experiment config after
 * registerStrategy. "Equal-weight averaging": FedAvg without the n_k weights.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../src/backend/index';
import { runFederated } from '../../src/fl/rounds';
import { registerStrategy, type StrategyDefinition } from '../../src/fl/registry';
import type { Strategy } from '../../src/fl/strategy';
import { maxAbsDiff } from '../../src/models/weights';
import { SubsetDataset } from '../../src/data/types';
import { validateExperiment } from '../../src/experiment/config';
import { runExperimentConfig } from '../../src/experiment/runner';
import { tinyConfig, tinySites } from '../fl/helpers';

/** Unweighted mean of the clients' weights; every site deploys the global model. */
function equalAverage(): Strategy {
  return {
    name: 'equal-average',
    execution: 'parallel',
    configureTrain: (ctx, global, sites) => sites.map((site) => ({ site, weights: global, seed: ctx.seedFor(site.name), config: {} })),
    aggregateTrain(_ctx, global, results) {
      const up: Record<string, number> = {};
      const down: Record<string, number> = {};
      for (const r of results) up[r.site] = down[r.site] = 4 * r.weights.reduce((a, w) => a + w.length, 0);
      if (results.length === 0) return { weights: global, up, down };
      const weights = global.map((g, i) => {
        const out = new Float32Array(g.length);
        for (const r of results) for (let j = 0; j < g.length; j++) out[j] += r.weights[i][j] / results.length;
        return out;
      });
      return { weights, up, down };
    },
  };
}

const definition: StrategyDefinition = {
  name: 'equal-average',
  summary: 'test: unweighted mean of client weights',
  options: { note: { kind: 'string' } },
  create: () => equalAverage(),
};

test('a strategy object from outside src/ runs through runFederated and equals its maths', async () => {
  await initBackend('wasm', { log: () => {} });
  const sites = tinySites(2, 10);
  // different training sizes, so the unweighted mean differs from FedAvg's n_k-weighted one
  sites[1] = { ...sites[1], train: new SubsetDataset(sites[1].train, [0, 1, 2]) };
  const local = await runFederated(tinyConfig({ name: 'local' }), sites);
  const [a, b] = sites.map((s) => local.siteWeights[s.name]);
  const mean = a.map((x, i) => x.map((v, j) => v / 2 + b[i][j] / 2));
  const res = await runFederated(tinyConfig(equalAverage()), sites);
  assert.ok(maxAbsDiff(res.globalWeights, mean) < 1e-6, `${maxAbsDiff(res.globalWeights, mean)}`);
  assert.is(res.summary.strategy, 'equal-average');
  const fedavg = await runFederated(tinyConfig({ name: 'fedavg' }), sites);
  assert.ok(maxAbsDiff(fedavg.globalWeights, mean) > 1e-4, 'FedAvg weights by n_k: a different model');
  assert.ok(res.summary.final.pooled && Number.isFinite(res.summary.final.pooled.dice));
});

test('the same strategy registered by name runs from an experiment config (validated options, own folder, resumable)', async () => {
  await initBackend('wasm', { log: () => {} });
  registerStrategy(definition);
  registerStrategy(definition); // idempotent
  assert.throws(() => registerStrategy({ ...definition }), /already registered/);
  const raw = {
    name: 'custom-strategy',
    data: { source: 'synthetic', sites: 2, samplesPerSite: 8, size: 16 },
    model: { name: 'unet', width: 2 },
    strategies: [{ name: 'equal-average', note: 'from a test' }, { name: 'fedavg' }],
    budget: { rounds: 1, batchSize: 4 },
  };
  assert.throws(() => validateExperiment({ ...raw, strategies: [{ name: 'equal-average', nope: 1 }] }), /strategies\[0\]\.nope: unknown key/);
  const cfg = validateExperiment(raw);
  assert.equal(cfg.strategies.map((s) => s.label), ['equal-average', 'fedavg']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-custom-'));
  try {
    const run = await runExperimentConfig(cfg, { resultsDir: dir, log: () => {} });
    assert.equal(run.rows.map((r) => r.strategy), ['equal-average', 'fedavg']);
    assert.ok(fs.existsSync(path.join(run.dir, 'equal-average', 'summary.json')));
    const again = await runExperimentConfig(cfg, { resultsDir: dir, log: () => {} });
    assert.equal(again.rows.map((r) => r.pooledDice), run.rows.map((r) => r.pooledDice), 're-run resumes to the same result');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
