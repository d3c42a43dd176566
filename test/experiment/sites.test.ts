/**
 * The runner's sites come from the one site builder and its oversampling from
 * the oversampling library (the functions notebook 03 calls), so `medfl run`
 * and the notebook run the same experiment.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { validateExperiment } from '../../src/experiment/config';
import { buildExperimentSites } from '../../src/experiment/sites';
import { expandGrid } from '../../src/experiment/grid';
import { buildSites } from '../../src/data/site';
import { materialize, type Dataset } from '../../src/data/types';
import { copyPasteSamples, randomOverSampler } from '../../src/oversample';
import { hashSeed } from '../../src/util/rng';

const base = {
  name: 'sites',
  seed: 3,
  data: { source: 'synthetic', task: 'lesion', sites: 3, samplesPerSite: 8, size: 16 },
  partition: { scheme: 'natural-id', column: 'site' },
  model: { name: 'unet', width: 2 },
  strategies: [{ name: 'fedavg' }],
  budget: { rounds: 1, localEpochs: 1, batchSize: 4 },
};

function ids(ds: Dataset): string[] {
  return Array.from({ length: ds.length }, (_, i) => ds.info(i).id);
}

test('sites = buildSites(dataset, { partition, testFraction, seed }): natural order, same splits', async () => {
  const built = await buildExperimentSites(expandGrid(validateExperiment(base, 'sites.json'))[0]);
  assert.equal(built.sites.map((s) => s.name), ['site-0', 'site-1', 'site-2']);
  const direct = buildSites(built.dataset, { seed: 3, testFraction: validateExperiment(base, 'sites.json').split.testFraction });
  assert.equal(built.sites.map((s) => [ids(s.train), ids(s.test)]), direct.map((s) => [ids(s.train), ids(s.test)]));
});

test("per-site 'random' oversampling is the library's randomOverSampler (seeded, images and masks of the drawn sample)", async () => {
  const cfg = validateExperiment({ ...base, oversample: { method: 'random', mode: 'per-site', factor: 0.5 } }, 'sites.json');
  const plain = await buildExperimentSites(expandGrid(validateExperiment(base, 'sites.json'))[0]);
  const built = await buildExperimentSites(expandGrid(cfg)[0]);
  for (const [k, site] of built.sites.entries()) {
    const real = await materialize(plain.sites[k].train);
    const count = Math.round(0.5 * real.length);
    assert.is(site.train.length, real.length + count);
    const expected = randomOverSampler(real.samples.map((s) => s.image), real.samples.map(() => 0), { samplingStrategy: { 0: real.length + count }, seed: hashSeed(`3:${site.name}`) });
    for (let t = 0; t < count; t++) {
      const extra = await site.train.load(real.length + t);
      const src = real.get(expected.provenance[t].source);
      assert.is(extra.id, `${src.id}+ros${t}`);
      assert.equal(Array.from(extra.image), Array.from(src.image));
      assert.equal(Array.from(extra.mask!), Array.from(src.mask!));
      assert.is(extra.meta.synthetic, 'random');
      assert.is(extra.meta.site, site.name, 'nothing leaves the site');
    }
  }
});

test("per-site 'copy-paste' is copyPasteSamples on the site's own training images", async () => {
  const cfg = validateExperiment({ ...base, oversample: { method: 'copy-paste', factor: 0.5, seed: 9 } }, 'sites.json');
  const plain = await buildExperimentSites(expandGrid(validateExperiment(base, 'sites.json'))[0]);
  const built = await buildExperimentSites(expandGrid(cfg)[0]);
  const real = await materialize(plain.sites[1].train);
  const extra = copyPasteSamples(real.samples, { count: Math.round(0.5 * real.length), seed: hashSeed('9:site-1') });
  assert.equal(ids(built.sites[1].train), [...ids(real), ...extra.map((s) => s.id)]);
});

test("'synthetic-cohort' adds one training-only client through syntheticCohort", async () => {
  const cfg = validateExperiment({ ...base, oversample: { method: 'copy-paste', mode: 'synthetic-cohort', factor: 1 } }, 'sites.json');
  const built = await buildExperimentSites(expandGrid(cfg)[0]);
  assert.equal(built.sites.map((s) => s.name), ['site-0', 'site-1', 'site-2', 'synthetic-cohort']);
  const cohort = built.sites[3];
  assert.is(cohort.test.length, 0);
  assert.is(cohort.train.length, Math.max(...built.sites.slice(0, 3).map((s) => s.train.length)));
  const s = await cohort.train.load(0);
  assert.is(s.meta.site, 'synthetic-cohort');
  assert.ok(s.meta.synthetic, 'marked synthetic');
  assert.equal(cohort.train.maskClasses, built.dataset.maskClasses);
});

test.run();
