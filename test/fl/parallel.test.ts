/**
 * Worker-thread site training: with 2 workers FedAvg and local training give
 * the same weights as in-process training (results aggregated in site order);
 * a site whose data throws is skipped; workers are stopped at the end.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { runFederated, type ClientProgress } from '../../src/fl/rounds';
import { maxAbsDiff } from '../../src/models/weights';
import { brokenDataset, tinyConfig, tinySites } from './helpers';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test('fedavg with 2 workers = in-process; failures in a worker are skipped and logged', async () => {
  const sites = tinySites(3, 6);
  sites[2] = { ...sites[2], train: brokenDataset(sites[2].train) };
  const cfg = tinyConfig({ name: 'fedavg', mu: 0.1 }, { rounds: 2, siteFailures: 'skip' });
  const t0 = Date.now();
  const one = await runFederated(cfg, sites);
  const t1 = Date.now();
  const before = tf.memory().numTensors;
  const two = await runFederated({ ...cfg, workers: 2 }, sites);
  const t2 = Date.now();
  assert.is(tf.memory().numTensors, before);
  assert.ok(maxAbsDiff(one.globalWeights, two.globalWeights) < 1e-6, `${maxAbsDiff(one.globalWeights, two.globalWeights)}`);
  for (const r of two.records) {
    assert.equal(r.participants, [sites[0].name, sites[1].name]);
    assert.equal(r.dropped.map((d) => [d.site, d.reason]), [[sites[2].name, 'error']]);
    assert.match(r.dropped[0].message ?? '', /disk on fire/);
  }
  console.log(`    (fedavg 2 rounds x 3 sites: 1 worker ${(t1 - t0) / 1000} s, 2 workers ${(t2 - t1) / 1000} s incl. worker start-up)`);
});

test('local with 2 workers = in-process (with a learning-rate schedule); workers report every batch', async () => {
  const sites = tinySites(2, 6);
  const cfg = tinyConfig({ name: 'local' }, { rounds: 2, localEpochs: 2, learningRateSchedule: { name: 'step', stepEpochs: 1, gamma: 0.5 } });
  const key = (p: ClientProgress) => `${p.round}|${p.site}|${p.epoch}|${p.batch}/${p.batches}|${p.images}`;
  const inProcess: ClientProgress[] = [];
  const inWorkers: ClientProgress[] = [];
  const one = await runFederated(cfg, sites, undefined, { onProgress: (p) => inProcess.push(p) });
  const two = await runFederated({ ...cfg, workers: 2 }, sites, undefined, { onProgress: (p) => inWorkers.push(p) });
  for (const s of sites) assert.ok(maxAbsDiff(one.siteWeights[s.name], two.siteWeights[s.name]) < 1e-6);
  const plain = await runFederated({ ...cfg, learningRateSchedule: undefined }, sites);
  assert.ok(maxAbsDiff(one.siteWeights[sites[0].name], plain.siteWeights[sites[0].name]) > 0, 'the schedule reached the clients');
  assert.ok(inProcess.length > 0);
  // sites interleave across workers; each site's batches arrive in order with the same figures
  for (const s of sites) {
    const mine = (list: ClientProgress[]) => list.filter((p) => p.site === s.name);
    assert.equal(mine(inWorkers).map(key), mine(inProcess).map(key));
    mine(inWorkers).forEach((p, i) => assert.ok(Math.abs(p.loss - mine(inProcess)[i].loss) < 1e-5, `${key(p)}: ${p.loss}`));
  }
});

test.run();
