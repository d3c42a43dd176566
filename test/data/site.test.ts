import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildSites, pooledTest, siteSplitSeed, siteValidationSeed, type Site } from '../../src/data/site';
import { trainTestSplit } from '../../src/data/split';
import { InMemoryDataset, SubsetDataset, type Dataset, type Sample, type SampleMeta } from '../../src/data/types';
import { syntheticSites } from '../../src/data/synthetic';
import { featureShift, iid, naturalId } from '../../src/partition';

/** Tiny 1x1 samples with the given metadata (pixels are irrelevant to the builder). */
function fixture(metas: SampleMeta[], name = 'fixture'): InMemoryDataset {
  const samples: Sample[] = metas.map((meta, i) => ({ id: `s${i}`, meta, image: new Float32Array([i / metas.length]), shape: [1, 1, 1], mask: new Uint8Array([0]) }));
  return new InMemoryDataset(name, samples, 'segmentation', [], ['background', 'lesion']);
}

function ids(ds: Dataset): string[] {
  return Array.from({ length: ds.length }, (_, i) => ds.info(i).id);
}

function shape(sites: readonly Site[]): [string, string[], string[]][] {
  return sites.map((s) => [s.name, ids(s.train), ids(s.test)]);
}

test('site order: natural order of the meta.site values (numbers numerically), whatever the dataset order', () => {
  const names = ['site-10', 'b', 'site-2', 'a', 'site-10', 'b', 'site-2', 'a'];
  const sites = buildSites(fixture(names.map((site) => ({ site }))));
  assert.equal(sites.map((s) => s.name), ['a', 'b', 'site-2', 'site-10']);
  const reversed = buildSites(fixture([...names].reverse().map((site) => ({ site }))));
  assert.equal(reversed.map((s) => s.name), ['a', 'b', 'site-2', 'site-10']);
});

test('same seed -> same sites; another seed -> another split; a site split depends only on its own samples', () => {
  const data = syntheticSites({ sites: 3, samplesPerSite: 12, size: 16, seed: 3 });
  const a = buildSites(data, { seed: 5 });
  const b = buildSites(data, { seed: 5 });
  assert.equal(shape(a), shape(b));
  const c = buildSites(data, { seed: 6 });
  assert.not.equal(shape(a), shape(c));
  // dropping another site changes nothing for this one
  const only01 = new SubsetDataset(data, Array.from({ length: 24 }, (_, i) => i).filter((i) => data.info(i).meta.site !== 'site-2'), data.name);
  const d = buildSites(only01, { seed: 5 });
  assert.equal(shape(d), shape(a).slice(0, 2));
});

test("the partitioner's within-site order (shuffle seed, feature shift) does not change the split", () => {
  const data = syntheticSites({ sites: 3, samplesPerSite: 10, size: 16, seed: 2, imagesPerPatient: 2 });
  const reference = shape(buildSites(data, { seed: 4 }));
  for (const p of [1, 2, 99]) {
    assert.equal(shape(buildSites(data, { seed: 4, partition: naturalId({ column: 'site', seed: p }) })), reference);
    assert.equal(shape(buildSites(data, { seed: 4, partition: featureShift(naturalId({ column: 'site', seed: p }), { seed: p }) })), reference);
  }
});

test('the split of a site is trainTestSplit with seed "<seed>|<site>" over its samples in dataset order', () => {
  const data = fixture(['x', 'y', 'x', 'y', 'x', 'y', 'x', 'y', 'x', 'y'].map((site) => ({ site })));
  const [x] = buildSites(data, { seed: 7, testFraction: 0.4 });
  assert.is(siteSplitSeed(7, 'x'), '7|x');
  const xIdx = [0, 2, 4, 6, 8];
  const expected = trainTestSplit(xIdx.map((i) => data.info(i)), { testFraction: 0.4, seed: '7|x' });
  assert.equal(ids(x.train), expected.train.map((j) => `s${xIdx[j]}`));
  assert.equal(ids(x.test), expected.test.map((j) => `s${xIdx[j]}`));
  assert.is(x.train.name, 'fixture/x/train');
  assert.is(x.test.name, 'fixture/x/test');
});

test('patient groups never straddle train/test (auto patientId), every sample used once, every site in both', () => {
  const data = syntheticSites({ sites: 3, samplesPerSite: 16, size: 16, seed: 2, imagesPerPatient: 3 });
  for (const seed of [0, 1, 2, 3]) {
    const sites = buildSites(data, { seed, testFraction: 0.3 });
    const seen = new Set<string>();
    for (const s of sites) {
      assert.ok(s.train.length > 0 && s.test.length > 0, `${s.name} has both splits`);
      const side = new Map<string, string>();
      for (const [part, ds] of [['train', s.train], ['test', s.test]] as const) {
        for (let i = 0; i < ds.length; i++) {
          const info = ds.info(i);
          assert.is(info.meta.site, s.name);
          assert.ok(!seen.has(info.id), `${info.id} used twice`);
          seen.add(info.id);
          const p = String(info.meta.patientId);
          assert.ok(!side.has(p) || side.get(p) === part, `patient ${p} on both sides (seed ${seed})`);
          side.set(p, part);
        }
      }
    }
    assert.is(seen.size, data.length);
  }
});

test('groupKey: lesionId detected when there is no patientId; false disables grouping', () => {
  const metas: SampleMeta[] = Array.from({ length: 12 }, (_, i) => ({ site: 'A', lesionId: `L${Math.floor(i / 4)}` }));
  const [a] = buildSites(fixture(metas), { testFraction: 0.3, seed: 1 });
  const lesions = (ds: Dataset) => new Set(Array.from({ length: ds.length }, (_, i) => ds.info(i).meta.lesionId));
  for (const l of lesions(a.test)) assert.not.ok(lesions(a.train).has(l), `lesion ${l} on both sides`);
  assert.is(a.test.length % 4, 0);
  const [b] = buildSites(fixture(metas), { testFraction: 0.25, seed: 1, groupKey: false });
  assert.is(b.test.length, 3);
});

test('another partitioner: sites named site-<k>, samples relabelled meta.site; feature shift keeps natural-id names', async () => {
  const data = syntheticSites({ sites: 2, samplesPerSite: 10, size: 16, seed: 1 });
  const sites = buildSites(data, { partition: iid({ sites: 3, seed: 4 }), seed: 0 });
  assert.equal(sites.map((s) => s.name), ['site-0', 'site-1', 'site-2']);
  assert.equal(sites.reduce((n, s) => n + s.train.length + s.test.length, 0), data.length);
  for (const s of sites) for (let i = 0; i < s.test.length; i++) assert.is(s.test.info(i).meta.site, s.name);
  const named = buildSites(data, { partition: iid({ sites: 2, seed: 4 }), names: ['north', 'south'] });
  assert.equal(named.map((s) => s.name), ['north', 'south']);
  assert.is((await named[1].train.load(0)).meta.site, 'south');
  const shifted = buildSites(data, { partition: featureShift(naturalId({ column: 'site', seed: 3 }), { seed: 3 }) });
  assert.equal(shifted.map((s) => s.name), ['site-0', 'site-1']);
  const packed = buildSites(syntheticSites({ sites: 4, samplesPerSite: 4, size: 16, seed: 1 }), { partition: naturalId({ column: 'site', sites: 2 }) });
  assert.equal(packed.map((s) => s.name).sort(), ['site-0+site-2', 'site-1+site-3']);
});

test('pooledTest concatenates the test splits in site order', () => {
  const data = syntheticSites({ sites: 2, samplesPerSite: 8, size: 16, seed: 1 });
  const sites = buildSites(data);
  const pooled = pooledTest(sites);
  assert.equal(ids(pooled), [...ids(sites[0].test), ...ids(sites[1].test)]);
});

test('errors: the sample without a site is named; too-small sites and bad options are named', () => {
  const noSite = fixture([{ site: 'A' }, { site: 'A' }, {}, { site: 'B' }], 'clinic');
  assert.throws(() => buildSites(noSite), (e: Error) => /sample 2 \('s2'\) of 'clinic' has no meta\.site/.test(e.message));
  assert.throws(() => buildSites(fixture([{ site: 'A' }, { site: 'A' }, { site: 'B' }])), (e: Error) => /site 'B' of 'fixture' has 1 sample\(s\)/.test(e.message));
  const oneGroup = fixture([{ site: 'A', patientId: 'p' }, { site: 'A', patientId: 'p' }]);
  assert.throws(() => buildSites(oneGroup), (e: Error) => /cannot split site 'A'/.test(e.message));
  assert.throws(() => buildSites(noSite, { testFraction: 1 }), (e: Error) => /testFraction must be in \(0, 1\)/.test(e.message));
  const data = syntheticSites({ sites: 2, samplesPerSite: 4, size: 16, seed: 1 });
  assert.throws(() => buildSites(data, { names: ['only-one'] }), (e: Error) => /1 names given for 2 sites/.test(e.message));
});

test('validationFraction 0 (the default) builds exactly the sites built without it, with no validation split', () => {
  const data = syntheticSites({ sites: 3, samplesPerSite: 12, size: 16, seed: 3, imagesPerPatient: 2 });
  for (const seed of [0, 5]) {
    const plain = buildSites(data, { seed, testFraction: 0.3 });
    const zero = buildSites(data, { seed, testFraction: 0.3, validationFraction: 0 });
    assert.equal(shape(zero), shape(plain));
    for (const s of zero) assert.is(s.validation, undefined);
  }
});

test('validation: carved out of the training part (test unchanged), about the fraction, disjoint, patients whole, seeded', () => {
  const data = syntheticSites({ sites: 3, samplesPerSite: 40, size: 16, seed: 2, imagesPerPatient: 2 });
  for (const seed of [0, 1, 2]) {
    const plain = buildSites(data, { seed, testFraction: 0.2 });
    const sites = buildSites(data, { seed, testFraction: 0.2, validationFraction: 0.2 });
    assert.equal(sites.map((s) => ids(s.test)), plain.map((s) => ids(s.test)), 'the test split does not depend on validationFraction');
    sites.forEach((s, k) => {
      const v = s.validation as Dataset;
      assert.ok(v, `${s.name} has a validation split`);
      assert.is(v.name, `${data.name}/${s.name}/validation`);
      assert.equal([...ids(s.train), ...ids(v)].sort(), [...ids(plain[k].train)].sort(), 'train + validation = the old training part');
      assert.ok(v.length >= 6 && v.length <= 10, `${s.name}: ${v.length} validation images of 40 (target 8, patients of 2)`);
      const side = new Map<string, string>();
      for (const [part, ds] of [['train', s.train], ['validation', v], ['test', s.test]] as const) {
        for (let i = 0; i < ds.length; i++) {
          const info = ds.info(i);
          assert.is(info.meta.site, s.name);
          const p = String(info.meta.patientId);
          assert.ok(!side.has(p) || side.get(p) === part, `patient ${p} in ${side.get(p)} and ${part}`);
          side.set(p, part);
        }
      }
    });
    const again = buildSites(data, { seed, testFraction: 0.2, validationFraction: 0.2 });
    assert.equal(again.map((s) => ids(s.validation as Dataset)), sites.map((s) => ids(s.validation as Dataset)), 'same seed, same validation split');
  }
  const other = buildSites(data, { seed: 9, testFraction: 0.2, validationFraction: 0.2 });
  const base = buildSites(data, { seed: 0, testFraction: 0.2, validationFraction: 0.2 });
  assert.not.equal(other.map((s) => ids(s.validation as Dataset)), base.map((s) => ids(s.validation as Dataset)));
});

test('validation split = trainTestSplit of the training part (dataset order) with seed "<seed>|<site>|validation" and fraction v / (1 - t)', () => {
  const data = fixture(Array.from({ length: 20 }, (_, i) => ({ site: i % 2 ? 'y' : 'x' })));
  const [x] = buildSites(data, { seed: 7, testFraction: 0.2, validationFraction: 0.2 });
  assert.is(siteValidationSeed(7, 'x'), '7|x|validation');
  const xIdx = Array.from({ length: 10 }, (_, j) => 2 * j);
  const first = trainTestSplit(xIdx.map((i) => data.info(i)), { testFraction: 0.2, seed: '7|x' });
  const trainPart = first.train.map((j) => xIdx[j]);
  const second = trainTestSplit(trainPart.map((i) => data.info(i)), { testFraction: 0.25, seed: '7|x|validation' });
  assert.equal(ids(x.test), first.test.map((j) => `s${xIdx[j]}`));
  assert.equal(ids(x.train), second.train.map((j) => `s${trainPart[j]}`));
  assert.equal(ids(x.validation as Dataset), second.test.map((j) => `s${trainPart[j]}`));
  assert.equal([x.train.length, (x.validation as Dataset).length, x.test.length], [6, 2, 2]);
});

test('validation errors: fraction out of range, a training part too small to split, name the site and the value', () => {
  const data = fixture(Array.from({ length: 6 }, () => ({ site: 'A' })));
  for (const v of [-0.1, 0.75, 0.8, 1]) {
    assert.throws(() => buildSites(data, { testFraction: 0.25, validationFraction: v }), (e: Error) => new RegExp(`validationFraction must be in \\[0, 1 - testFraction = 0.75\\), got ${v}`).test(e.message));
  }
  assert.throws(() => buildSites(fixture([{ site: 'A' }, { site: 'A' }]), { validationFraction: 0.2 }), (e: Error) => /site 'A' of 'fixture' has 2 sample\(s\); need at least 3 for a train\/validation\/test split/.test(e.message));
  const twoPatients = fixture([{ site: 'A', patientId: 'p' }, { site: 'A', patientId: 'p' }, { site: 'A', patientId: 'q' }, { site: 'A', patientId: 'q' }]);
  assert.throws(() => buildSites(twoPatients, { validationFraction: 0.2 }), (e: Error) => /cannot split a validation part \(validationFraction 0.2\) off the training part of site 'A'/.test(e.message));
});

test.run();
