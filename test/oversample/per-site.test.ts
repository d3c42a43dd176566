import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRng } from '../../src/util/rng';
import { InMemoryDataset, Sample } from '../../src/data/types';
import { oversamplePerSite, syntheticCohort, syntheticCohortPartition } from '../../src/oversample/per-site';
import { classCounts } from '../../src/oversample/common';

/** Three sites with different imbalance; site s lives around x = 100·s so pooling would be visible. */
function data() {
  const rng = createRng(4);
  const x: Float32Array[] = [];
  const y: number[] = [];
  const site: number[] = [];
  const spec = [[20, 8], [15, 6], [7, 21]];
  spec.forEach((counts, s) =>
    counts.forEach((n, c) => {
      for (let i = 0; i < n; i++) {
        x.push(Float32Array.from([100 * s + rng.normal(3 * c, 1), rng.normal(0, 1)]));
        y.push(c);
        site.push(s);
      }
    }),
  );
  return { x, y, site };
}

test('oversamplePerSite: balances each site with its own data only', () => {
  const { x, y, site } = data();
  for (const method of ['random', 'smote', 'borderline-smote', 'adasyn'] as const) {
    const r = oversamplePerSite(x, y, site, { method, k: 3, m: 5, seed: 1 });
    for (const s of r.sites) {
      const inSite = new Set(s.indices);
      for (const p of s.result.provenance) {
        assert.ok(inSite.has(p.source) && inSite.has(p.neighbor), `${method}: site ${s.site} used outside data`);
        assert.is(site[p.source], s.site);
      }
      if (method !== 'borderline-smote') {
        const after = s.result.counts.after;
        const vals = Object.values(after);
        assert.ok(vals.every((v) => v === vals[0]), `${method} site ${s.site}: ${JSON.stringify(after)}`);
      }
    }
    // New samples stay in their site's region of feature space.
    r.samples.forEach((smp, t) => assert.ok(Math.abs(smp[0] - 100 * r.siteOf[t]) < 20));
    assert.is(r.samples.length, r.labels.length);
  }
  const again = oversamplePerSite(x, y, site, { k: 3, seed: 1 });
  assert.equal(again.sites.map((s) => s.result.provenance), oversamplePerSite(x, y, site, { k: 3, seed: 1 }).sites.map((s) => s.result.provenance));
});

test('oversamplePerSite: partition form, adaptK fallback, errors name the site', () => {
  const { x, y } = data();
  const partition = [[0, 1, 2, 20, 21], [3, 4, 5, 6, 22]];
  const r = oversamplePerSite(x, y, partition, { method: 'smote', adaptK: true, seed: 2 });
  assert.equal(r.sites.map((s) => s.method), ['smote', 'random']);
  assert.equal(r.sites[0].result.counts.after, { 0: 3, 1: 3 });
  assert.equal(classCounts(r.labels), { 1: 1 + 3 });
  assert.throws(() => oversamplePerSite(x, y, partition, { method: 'smote' }), /site 0: .*class 1 has 2 samples/);
  assert.throws(() => oversamplePerSite(x, y, [[0, 1], [1, 2]]), /sample 1 is on more than one site/);
  assert.throws(() => oversamplePerSite(x, y, [0, 1]), /2 site ids for/);
  assert.throws(() => oversamplePerSite(x, y, partition, { method: 'gan' as never }), /unknown method 'gan'/);
});

test('syntheticCohort: the cohort joins as one extra client, real sites untouched', async () => {
  const mk = (id: string, label: number): Sample => ({ id, label, meta: { site: 'A' }, image: new Float32Array(4), shape: [2, 2, 1] });
  const a = new InMemoryDataset('A', [mk('a0', 0), mk('a1', 1)], 'classification', ['x', 'y']);
  const b = new InMemoryDataset('B', [mk('b0', 1)], 'classification', ['x', 'y']);
  const sites = syntheticCohort([a, b], [mk('g0', 0), mk('g1', 1), mk('g2', 1)], { site: 'gan' });
  assert.is(sites.length, 3);
  assert.is(sites[0], a);
  assert.is(sites[1], b);
  assert.is(sites[2].length, 3);
  assert.is(sites[2].info(1).meta.site, 'gan');
  assert.is((await sites[2].load(2)).meta.synthetic, true);
  assert.equal(sites[2].classNames, ['x', 'y']);
  assert.throws(() => syntheticCohort([a], new InMemoryDataset('G', [mk('g', 0)], 'classification', ['x', 'z'])), /classNames/);
  assert.equal(syntheticCohortPartition([[0, 2], [1]], 3, 2), [[0, 2], [1], [3, 4]]);
  assert.throws(() => syntheticCohortPartition([[0, 5]], 3, 2), /index 5 is not a real sample/);
});

test.run();
