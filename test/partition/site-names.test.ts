import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { iid } from '../../src/partition/iid';
import { SiteNamedDataset, namedSites, withSiteNames } from '../../src/partition';
import { InMemoryDataset, SubsetDataset, type Sample } from '../../src/data/types';

function sample(i: number): Sample {
  return {
    id: `s${i}`,
    label: i % 2,
    meta: { site: 'original', patientId: `p${Math.floor(i / 2)}`, extra: i * 10 },
    image: Float32Array.from([i / 10, 0.5, 1]),
    shape: [1, 1, 3],
    mask: Uint8Array.from([i % 3]),
  };
}
const SAMPLES = Array.from({ length: 6 }, (_, i) => sample(i));
const DATA = new InMemoryDataset('toy', SAMPLES, 'segmentation+classification', ['a', 'b'], ['bg', 'x', 'y']);

test('withSiteNames: info() and load() carry meta.site = name; nothing else changes', async () => {
  const parts = [new SubsetDataset(DATA, [0, 2, 4], 'toy[site 0]'), new SubsetDataset(DATA, [5, 1], 'toy[site 1]')];
  const named = withSiteNames(parts, ['north', 'south']);
  assert.is(named.length, 2);
  for (const [k, ds] of named.entries()) {
    const site = ['north', 'south'][k];
    const parent = parts[k];
    assert.ok(ds instanceof SiteNamedDataset);
    assert.is(ds.site, site);
    assert.equal([ds.name, ds.length, ds.task, ds.classNames, ds.maskClasses], [parent.name, parent.length, parent.task, parent.classNames, parent.maskClasses]);
    for (let i = 0; i < ds.length; i++) {
      const want = await parent.load(i);
      const info = ds.info(i);
      assert.equal(info, { id: want.id, label: want.label, meta: { ...want.meta, site } }, `info ${k}/${i}`);
      const got = await ds.load(i);
      assert.equal(got.meta, { ...want.meta, site });
      assert.equal({ ...got, meta: null }, { ...want, meta: null }, `load ${k}/${i}: only meta.site differs`);
      assert.ok(got.image === want.image && got.mask === want.mask, 'image and mask buffers are shared, not copied');
    }
  }
  // The parent's samples are untouched.
  assert.ok(SAMPLES.every((s) => s.meta.site === 'original'));
  assert.is(DATA.info(0).meta.site, 'original');
});

test('withSiteNames: default names site-<k>; namedSites partitions and names in one call', async () => {
  const p = iid({ sites: 3, seed: 1 });
  const named = namedSites(p, DATA);
  assert.equal(named.map((d) => d.site), ['site-0', 'site-1', 'site-2']);
  const plain = p.sites(DATA);
  named.forEach((d, k) => {
    assert.is(d.length, plain[k].length);
    for (let i = 0; i < d.length; i++) {
      assert.is(d.info(i).id, plain[k].info(i).id, 'same samples in the same order');
      assert.is(d.info(i).meta.site, `site-${k}`);
    }
  });
  assert.equal(withSiteNames([DATA]).map((d) => d.site), ['site-0']);
  assert.equal(withSiteNames([]), []);
  assert.is((await namedSites(p, DATA, ['a', 'b', 'c'])[2].load(0)).meta.site, 'c');
});

test('withSiteNames: wrong count, empty or repeated names are errors', () => {
  const parts = [DATA, DATA];
  assert.throws(() => withSiteNames(parts, ['only-one']), /expected 2 site names/);
  assert.throws(() => withSiteNames(parts, ['a', '']), /names\[1\] must be a non-empty string/);
  assert.throws(() => withSiteNames(parts, ['a', 'a']), /'a' is repeated/);
  assert.throws(() => namedSites(iid({ sites: 2 }), DATA, ['x', 'y', 'z']), /expected 2 site names/);
});

test.run();
