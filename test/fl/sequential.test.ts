/** IIL / CIIL and centralized through the round loop, against hand-run trainSegmentation sequences. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { initBackend } from '../../src/backend';
import { ConcatDataset } from '../../src/data/lazy';
import { createModel } from '../../src/models/registry';
import { trainSegmentation } from '../../src/train';
import { runFederated } from '../../src/fl/rounds';
import { roundSeed } from '../../src/fl/strategy';
import { checkStrategyConfig } from '../../src/fl/registry';
import { datasetBytes } from '../../src/fl/centralized';
import { byteCount, getWeights, maxAbsDiff } from '../../src/models/weights';
import { brokenDataset, tinyConfig, tinySites } from './helpers';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

const fresh = () => createModel('unet', { inputShape: [16, 16, 3], numClasses: 1, width: 2, seed: 5 });
const opts = (seed: number) => ({ epochs: 1, batchSize: 4, learningRate: 1e-3, seed });

test('CIIL (2 passes) = the model trained site after site, pass after pass; IIL is one pass', async () => {
  const sites = tinySites(2, 6);
  const res = await runFederated(tinyConfig({ name: 'ciil' }, { rounds: 2 }), sites);
  const m = fresh();
  for (let r = 0; r < 2; r++) for (const s of sites) await trainSegmentation(m, s.train, opts(roundSeed(5, r, s.name)));
  const ref = getWeights(m);
  m.dispose();
  assert.ok(maxAbsDiff(res.globalWeights, ref) < 1e-6, `${maxAbsDiff(res.globalWeights, ref)}`);
  const bytes = byteCount(ref);
  assert.equal(res.records[1].bytes.up, { [sites[0].name]: bytes, [sites[1].name]: bytes });
  const iil = await runFederated(tinyConfig({ name: 'iil' }), sites);
  assert.is(iil.records.length, 1);
  assert.match(checkStrategyConfig({ name: 'iil' }, 'strategy', { rounds: 2 }).join(), /single pass/);
  await runFederated(tinyConfig({ name: 'iil' }, { rounds: 2 }), sites).then(
    () => assert.unreachable('iil with 2 rounds must be refused'),
    (e: Error) => assert.match(e.message, /single pass/),
  );
});

test('IIL skips a failing site and carries the model on', async () => {
  const sites = tinySites(3, 6);
  sites[1] = { ...sites[1], train: brokenDataset(sites[1].train) };
  const res = await runFederated(tinyConfig({ name: 'iil' }, { siteFailures: 'skip' }), sites);
  const m = fresh();
  for (const s of [sites[0], sites[2]]) await trainSegmentation(m, s.train, opts(roundSeed(5, 0, s.name)));
  const ref = getWeights(m);
  m.dispose();
  assert.ok(maxAbsDiff(res.globalWeights, ref) < 1e-6);
  assert.equal(res.records[0].dropped.map((d) => d.site), [sites[1].name]);
  assert.is(res.records[0].bytes.up[sites[1].name], 0);
});

test('centralized = training on the pooled data; data bytes counted once', async () => {
  const sites = tinySites(2, 6);
  const res = await runFederated(tinyConfig({ name: 'centralized' }, { rounds: 2 }), sites);
  const m = fresh();
  const pooled = new ConcatDataset(sites.map((s) => s.train));
  for (let r = 0; r < 2; r++) await trainSegmentation(m, pooled, opts(roundSeed(5, r, 'pooled')));
  const ref = getWeights(m);
  m.dispose();
  assert.ok(maxAbsDiff(res.globalWeights, ref) < 1e-6);
  const n = sites[0].train.length;
  assert.is(res.records[0].bytes.up[sites[0].name], n * (16 * 16 * 3 * 4 + 16 * 16));
  assert.is(datasetBytes(2, [4, 4, 1]), 2 * (64 + 16));
  assert.is(res.records[1].bytes.totalUp, 0);
  assert.ok(res.records[0].trainLoss.pooled > 0);
});

test.run();
