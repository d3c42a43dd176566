import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { medMerge, mergeBaselines } from '../../src/merge';
import { createClassifier } from '../../src/models/classifier';
import { syntheticSites } from '../../src/data/synthetic';
import { InMemoryDataset } from '../../src/data/types';
import { createRng } from '../../src/util/rng';
import { setup } from './helpers';

test.before(setup);

const SHAPE: [number, number, number] = [16, 16, 3];

function siteTask(): { train: InMemoryDataset; test: InMemoryDataset } {
  const raw = syntheticSites({ sites: 2, samplesPerSite: 8, size: 16, task: 'polyp', seed: 7, heterogeneity: 1 });
  const relabeled = raw.samples.map((s) => ({ ...s, label: s.meta.siteIndex as number }));
  const all = new InMemoryDataset('site-id', relabeled, 'classification', ['site-0', 'site-1']);
  const order = createRng(2).permutation(all.length);
  return { train: all.subset(order.slice(0, 12)), test: all.subset(order.slice(12)) };
}

test('mergeBaselines: the medmerge row carries the coefficients medMerge learns; other rows none', async () => {
  const target = siteTask();
  const srcs = [1, 2].map((seed) => createClassifier({ inputShape: SHAPE, numClasses: 2, width: 4, seed }));
  const opts = { sources: srcs, target, task: 'classification' as const, lpEpochs: 2, ftEpochs: 0, lpLearningRate: 0.05, seed: 4 };
  const tensors = tf.memory().numTensors;
  const rows = await mergeBaselines({ ...opts, methods: ['uniform', 'medmerge'] });
  assert.is(tf.memory().numTensors, tensors, 'no leaked tensors');
  assert.equal(rows.map((r) => r.method), ['uniform', 'medmerge']);
  assert.is(rows[0].coefficients, undefined, 'uniform row has no learned coefficients');
  const got = rows[1].coefficients;
  assert.ok(got && got.length > 0, 'medmerge row has coefficients');
  // Same options and seed -> medMerge alone learns the same coefficients.
  const direct = await medMerge(opts);
  direct.merged.dispose();
  assert.equal(got, direct.coefficients);
  // Two sources, sigmoid parametrization: the weights of a channel sum to 1, and LP moved them off 0.5.
  for (const r of got!) {
    assert.is(r.values.length, 2, `${r.layer}: K = 2 rows`);
    r.values[0].forEach((a, c) => assert.ok(Math.abs(a + r.values[1][c] - 1) < 1e-6, `${r.layer}[${c}] sums to 1`));
  }
  assert.ok(got!.some((r) => r.values[0].some((a) => Math.abs(a - 0.5) > 1e-4)), 'coefficients were trained');
  srcs.forEach((m) => m.dispose());
});

test.run();
