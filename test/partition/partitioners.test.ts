import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { iid } from '../../src/partition/iid';
import { dirichlet } from '../../src/partition/dirichlet';
import { innerDirichlet } from '../../src/partition/inner-dirichlet';
import { pathological } from '../../src/partition/pathological';
import { quantity, QuantityScheme } from '../../src/partition/quantity';
import { naturalId } from '../../src/partition/natural-id';
import { partitionReport } from '../../src/partition/report';
import type { Partitioner } from '../../src/partition/base';
import { InMemoryDataset } from '../../src/data/types';
import { countsOf, exactlyOnce, groupSpread, groupedInput, hamInput, sortedLabels } from './helpers';

const silent = { warn: () => {} };

// ------------------------------------------------------------------- iid
test('iid: every index once, equal sizes, not contiguous on sorted labels', () => {
  const labels = sortedLabels(10, 10);
  const sites = iid({ sites: 5, seed: 1 }).assign({ labels });
  assert.is(exactlyOnce(sites, 100), null);
  assert.equal(sites.map((s) => s.length), [20, 20, 20, 20, 20]);
  for (const s of sites) {
    const sorted = s.slice().sort((a, b) => a - b);
    assert.ok(sorted[sorted.length - 1] - sorted[0] > 19, 'a site is a contiguous block');
    assert.ok(countsOf(s, labels, 10).filter((c) => c > 0).length >= 5, 'an iid site should see most classes');
  }
});

test('iid: shuffle=false gives contiguous array_split chunks', () => {
  const sites = iid({ sites: 3, shuffle: false }).assign({ labels: sortedLabels(2, 5) });
  assert.equal(sites, [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]);
});

test('iid: same seed same assignment, different seed different', () => {
  const labels = sortedLabels(4, 25);
  assert.equal(iid({ sites: 4, seed: 7 }).assign({ labels }), iid({ sites: 4, seed: 7 }).assign({ labels }));
  assert.not.equal(iid({ sites: 4, seed: 7 }).assign({ labels }), iid({ sites: 4, seed: 8 }).assign({ labels }));
});

test('iid: eager and data errors', () => {
  assert.throws(() => iid({ sites: 0 }), /sites.*integer >= 1/);
  assert.throws(() => iid({ sites: 2.5 }), /sites/);
  assert.throws(() => iid({ sites: 5 }).assign({ labels: [0, 1, 0] }), /5 sites requested but only 3 samples/);
  assert.throws(() => iid({ sites: 2 }).assign({ labels: [0, 1], meta: [{}] }), /length/);
});

// -------------------------------------------------------------- dirichlet
const js = (sites: number[][], labels: number[]) => partitionReport(sites, labels).heterogeneity.jsDivergence.mean!;

/** Effective number of classes of a site: exp(entropy of its label distribution). */
function perplexity(site: number[], labels: number[], classes: number): number {
  let h = 0;
  for (const c of countsOf(site, labels, classes)) if (c > 0) h -= (c / site.length) * Math.log(c / site.length);
  return Math.exp(h);
}

test('dirichlet: every index once; tiny alpha -> near single-class sites, huge alpha -> near IID', () => {
  const labels = sortedLabels(10, 100);
  const skew = dirichlet({ sites: 10, alpha: 0.01, minPartitionSize: 0, seed: 3 }).assign({ labels });
  assert.is(exactlyOnce(skew, 1000), null);
  // Each class lands (almost) entirely on one site ...
  const maxShare = Array.from({ length: 10 }, (_, c) => Math.max(...skew.map((s) => countsOf(s, labels, 10)[c])) / 100);
  assert.ok(maxShare.reduce((a, b) => a + b) / 10 > 0.85, `max shares ${maxShare}`);
  // ... so a site holds ~1-2 effective classes (vs 10 under IID).
  const nonEmpty = skew.filter((s) => s.length > 0);
  const meanPerp = nonEmpty.reduce((a, s) => a + perplexity(s, labels, 10), 0) / nonEmpty.length;
  assert.ok(meanPerp < 2.5, `mean effective classes ${meanPerp}`);
  const flat = dirichlet({ sites: 10, alpha: 1e4, seed: 3 }).assign({ labels });
  assert.is(exactlyOnce(flat, 1000), null);
  assert.ok(js(flat, labels) < 0.01, `JS ${js(flat, labels)}`);
  assert.ok(js(skew, labels) > 0.5, `JS ${js(skew, labels)}`);
  for (const s of flat) {
    assert.ok(Math.abs(s.length - 100) <= 10);
    assert.ok(perplexity(s, labels, 10) > 9.5);
  }
});

test('dirichlet: one site gets everything; seeds reproduce', () => {
  const labels = sortedLabels(3, 7);
  const one = dirichlet({ sites: 1, alpha: 0.5, minPartitionSize: 0, shuffle: false }).assign({ labels });
  assert.equal(one, [Array.from({ length: 21 }, (_, i) => i)]);
  const a = dirichlet({ sites: 4, alpha: 0.5, minPartitionSize: 0, seed: 5 }).assign({ labels: sortedLabels(5, 40) });
  const b = dirichlet({ sites: 4, alpha: 0.5, minPartitionSize: 0, seed: 5 }).assign({ labels: sortedLabels(5, 40) });
  const c = dirichlet({ sites: 4, alpha: 0.5, minPartitionSize: 0, seed: 6 }).assign({ labels: sortedLabels(5, 40) });
  assert.equal(a, b);
  assert.not.equal(a, c);
});

test('dirichlet: minPartitionSize retries are bounded, warn or throw', () => {
  const labels = sortedLabels(2, 50);
  const warnings: string[] = [];
  const p = dirichlet({ sites: 5, alpha: 0.01, minPartitionSize: 15, maxRetries: 3, seed: 1, logger: { warn: (m) => warnings.push(m) } });
  const sites = p.assign({ labels });
  assert.is(exactlyOnce(sites, 100), null);
  assert.is(p.lastAttempts, 4);
  assert.is(warnings.length, 1);
  assert.match(warnings[0], /minPartitionSize=15 not reached after 4 draws/);
  assert.throws(
    () => dirichlet({ sites: 5, alpha: 0.01, minPartitionSize: 15, maxRetries: 2, onMinSizeUnmet: 'throw' }).assign({ labels }),
    /not reached after 3 draws/,
  );
  // Reachable minimum: every site meets it.
  const ok = dirichlet({ sites: 4, alpha: 1, minPartitionSize: 10, seed: 2, logger: silent }).assign({ labels });
  for (const s of ok) assert.ok(s.length >= 10);
});

test('dirichlet: selfBalancing caps a site at average + one class', () => {
  const labels = sortedLabels(20, 10);
  for (const seed of [1, 2, 3]) {
    const sites = dirichlet({ sites: 4, alpha: 0.1, selfBalancing: true, minPartitionSize: 0, seed }).assign({ labels });
    assert.is(exactlyOnce(sites, 200), null);
    for (const s of sites) assert.ok(s.length <= 50 + 10, `site of ${s.length}`);
  }
});

test('dirichlet: alpha forms and validation', () => {
  assert.throws(() => dirichlet({ sites: 3, alpha: 0 }), /alpha.*> 0/);
  assert.throws(() => dirichlet({ sites: 3, alpha: -1 }), /alpha/);
  assert.throws(() => dirichlet({ sites: 3, alpha: [1, 1] }), /length sites=3/);
  assert.throws(() => dirichlet({ sites: 3, alpha: { perClass: [1, 0] } }), /perClass\[1\]/);
  assert.throws(() => dirichlet({ sites: 3, alpha: { perClass: [1, 1] }, minPartitionSize: 0 }).assign({ labels: [0, 1, 2, 0] }), /perClass has 2 values but the labels have 3 classes/);
  assert.throws(() => dirichlet({ sites: 3, alpha: 1, minPartitionSize: 5 }).assign({ labels: sortedLabels(2, 5) }), /exceeds the 10 samples/);
  assert.throws(() => dirichlet({ sites: 2, alpha: 1 }).assign({ meta: [{}, {}] }), /needs labels/);
  const s = dirichlet({ sites: 3, alpha: [0.5, 1, 2], minPartitionSize: 0 }).assign({ labels: sortedLabels(3, 10) });
  assert.is(exactlyOnce(s, 30), null);
  const t = dirichlet({ sites: 3, alpha: { perClass: [0.01, 100, 100] }, minPartitionSize: 0 }).assign({ labels: sortedLabels(3, 30) });
  assert.is(exactlyOnce(t, 90), null);
});

// --------------------------------------------------------- inner dirichlet
test('innerDirichlet: exact requested sizes, every index once', () => {
  const labels = sortedLabels(5, 20);
  const sites = innerDirichlet({ sizes: [10, 20, 30, 40], alpha: 0.5, seed: 4 }).assign({ labels });
  assert.equal(sites.map((s) => s.length), [10, 20, 30, 40]);
  assert.is(exactlyOnce(sites, 100), null);
  const frac = innerDirichlet({ sizes: [0.5, 0.25, 0.25], alpha: 1 }).assign({ labels });
  assert.equal(frac.map((s) => s.length), [50, 25, 25]);
});

test('innerDirichlet: tiny alpha makes small sites single-class, huge alpha is near IID', () => {
  const labels = sortedLabels(2, 100);
  for (const seed of [1, 2, 3, 9]) {
    // Small sites fill before any class runs out, so their (near one-hot) prior shows directly.
    const skew = innerDirichlet({ sizes: [10, 10, 180], alpha: 0.01, seed }).assign({ labels });
    assert.is(exactlyOnce(skew, 200), null);
    for (const s of skew.slice(0, 2)) assert.ok(countsOf(s, labels, 2).includes(10), `seed ${seed}: ${countsOf(s, labels, 2)}`);
  }
  const flat = innerDirichlet({ sizes: [100, 100, 100, 100], alpha: 1e4, seed: 9 }).assign({ labels: sortedLabels(4, 100) });
  assert.ok(js(flat, sortedLabels(4, 100)) < 0.02, `JS ${js(flat, sortedLabels(4, 100))}`);
});

test('innerDirichlet: errors', () => {
  assert.throws(() => innerDirichlet({ sizes: [], alpha: 1 }), /non-empty/);
  assert.throws(() => innerDirichlet({ sizes: [1, -1], alpha: 1 }), /sizes\[1\]/);
  assert.throws(() => innerDirichlet({ sizes: [0.5, 0.3], alpha: 1 }), /sum to 1/);
  assert.throws(() => innerDirichlet({ sizes: [5, 5], alpha: 0 }), /alpha/);
  assert.throws(() => innerDirichlet({ sizes: [5, 6], alpha: 1 }).assign({ labels: sortedLabels(2, 5) }), /sum to 11 but there are 10 samples/);
  assert.throws(() => innerDirichlet({ sizes: [5, 5], alpha: [1, 1, 1] }).assign({ labels: sortedLabels(2, 5) }), /3 values but the labels have 2 classes/);
});

// ------------------------------------------------------------ pathological
test('pathological deterministic: hand-computed classes and counts; unused classes dropped with a warning', () => {
  const labels = sortedLabels(10, 20);
  const warnings: string[] = [];
  const p = pathological({ sites: 5, k: 2, classAssignment: 'deterministic', logger: { warn: (m) => warnings.push(m) } });
  const sites = p.assign({ labels });
  const expected = [
    [20, 10, 0, 0, 0, 0],
    [0, 10, 10, 0, 0, 0],
    [0, 0, 10, 10, 0, 0],
    [0, 0, 0, 10, 10, 0],
    [0, 0, 0, 0, 10, 20],
  ];
  sites.forEach((s, i) => assert.equal(countsOf(s, labels, 10).slice(0, 6), expected[i]));
  assert.is(sites.flat().length, 120);
  assert.is(new Set(sites.flat()).size, 120);
  assert.is(warnings.length, 1);
  assert.match(warnings[0], /6, 7, 8, 9/);
});

test('pathological random / first-class: exactly k classes per site', () => {
  const labels = sortedLabels(6, 30);
  for (const mode of ['random', 'first-class'] as const) {
    for (const seed of [1, 2]) {
      const p = pathological({ sites: 6, k: 3, classAssignment: mode, seed, logger: silent });
      const sites = p.assign({ labels });
      sites.forEach((s, i) => {
        const held = countsOf(s, labels, 6).flatMap((c, k) => (c > 0 ? [k] : []));
        assert.is(held.length, 3, `${mode} site ${i}: ${held}`);
        if (mode === 'first-class') assert.ok(held.includes(i % 6));
      });
      assert.is(new Set(sites.flat()).size, sites.flat().length);
    }
  }
});

test('pathological: errors', () => {
  assert.throws(() => pathological({ sites: 3, k: 0 }), /'k'/);
  assert.throws(() => pathological({ sites: 3, k: 1, classAssignment: 'bogus' as never }), /classAssignment/);
  assert.throws(() => pathological({ sites: 2, k: 4 }).assign({ labels: sortedLabels(3, 5) }), /k=4 classes per site requested but only 3 classes/);
  assert.throws(
    () => pathological({ sites: 4, k: 2, classAssignment: 'deterministic', logger: silent }).assign({ labels: [0, 1, 1, 1, 2, 2, 2, 3, 3, 3] }),
    /class 0 must go to 2 sites but has only 1/,
  );
});

// ---------------------------------------------------------------- quantity
test('quantity: Flower size schemes give the hand-computed sizes', () => {
  const labels = new Array(100).fill(0);
  const table: [QuantityScheme, number[]][] = [
    ['linear', [10, 20, 30, 40]],
    ['square', [3, 13, 30, 54]],
    ['exponential', [3, 8, 23, 66]],
  ];
  for (const [scheme, sizes] of table) {
    const sites = quantity({ scheme, sites: 4 }).assign({ labels });
    assert.equal(sites.map((s) => s.length), sizes, String(scheme));
    assert.is(exactlyOnce(sites, 100), null);
  }
  const fixed = quantity({ scheme: 'sizes', sizes: [7, 3], shuffle: false }).assign({ labels: new Array(10).fill(0) });
  assert.equal(fixed, [[0, 1, 2, 3, 4, 5, 6], [7, 8, 9]]);
});

test('quantity: random schemes sum to N with minSize each, and are seeded', () => {
  const labels = new Array(200).fill(0);
  for (const scheme of ['power-law', 'dirichlet'] as const) {
    const sites = quantity({ scheme, sites: 8, minSize: 5, seed: 3 }).assign({ labels });
    assert.is(exactlyOnce(sites, 200), null);
    for (const s of sites) assert.ok(s.length >= 5);
    const again = quantity({ scheme, sites: 8, minSize: 5, seed: 3 }).assign({ labels });
    assert.equal(sites, again);
    const other = quantity({ scheme, sites: 8, minSize: 5, seed: 4 }).assign({ labels });
    assert.not.equal(sites.map((s) => s.length), other.map((s) => s.length));
  }
});

test('quantity: errors', () => {
  assert.throws(() => quantity({ scheme: 'weird' as never, sites: 2 }), /unknown scheme 'weird'/);
  assert.throws(() => quantity({ scheme: 'linear' }), /sites/);
  assert.throws(() => quantity({ scheme: 'sizes', sizes: [1, 2], sites: 3 }), /sites=3 but sizes has 2/);
  assert.throws(() => quantity({ scheme: 'exponential', sites: 10 }).assign({ labels: new Array(20).fill(0) }), /leaves site 0 empty/);
  assert.throws(() => quantity({ scheme: 'sizes', sizes: [3, 3] }).assign({ labels: new Array(7).fill(0) }), /sum to 6 but there are 7/);
  assert.throws(() => quantity({ scheme: 'dirichlet', sites: 5, minSize: 3 }).assign({ labels: new Array(14).fill(0) }), /exceeds/);
});

// -------------------------------------------------------------- natural id
test('naturalId: one site per HAM10000 acquisition dataset, sorted by value', () => {
  const input = hamInput();
  const p = naturalId({ column: 'dataset', shuffle: false });
  const sites = p.assign(input);
  assert.equal(p.lastKeys, [['rosendahl'], ['vidir_modern'], ['vidir_molemax'], ['vienna_dias']]);
  assert.equal(sites.map((s) => s.length), [27, 22, 61, 9]);
  sites.forEach((s, i) => s.forEach((j) => assert.is(input.meta![j].dataset, p.lastKeys[i][0])));
  assert.is(exactlyOnce(sites, 119), null);
});

test('naturalId: localization packed into 3 sites with groupBy lesion_id keeps lesions whole', () => {
  const input = hamInput();
  for (const mode of ['balanced', 'random'] as const) {
    const sites = naturalId({ column: 'localization', sites: 3, mode, groupBy: 'lesion_id', seed: 5 }).assign(input);
    assert.is(exactlyOnce(sites, 119), null);
    for (const [lesion, where] of groupSpread(sites, input.meta!, 'lesion_id')) assert.is(where.size, 1, lesion);
    for (const [loc, where] of groupSpread(sites, input.meta!, 'localization')) assert.is(where.size, 1, `localization ${loc} split`);
  }
});

test('naturalId: errors', () => {
  const input = hamInput();
  assert.throws(() => naturalId({ column: '' }), /column/);
  assert.throws(() => naturalId({ column: 'scanner' }).assign(input), /unknown column 'scanner'/);
  assert.throws(() => naturalId({ column: 'dataset', sites: 5 }).assign(input), /5 sites requested but column 'dataset' has only 4/);
  assert.throws(() => naturalId({ column: 'site' }).assign({ meta: [{ site: 'a' }, {}] }), /sample 1.*no value for column 'site'/);
});

// ------------------------------------------------------------- group by
test('groupBy: no partitioner splits a group (meta key and function forms)', () => {
  const input = groupedInput(60, 4);
  const n = input.labels!.length;
  const makers: [string, (seed: number) => Partitioner][] = [
    ['iid', (seed) => iid({ sites: 4, groupBy: 'patientId', seed })],
    ['dirichlet', (seed) => dirichlet({ sites: 4, alpha: 0.3, minPartitionSize: 2, groupBy: 'patientId', logger: silent, seed })],
    ['inner', (seed) => innerDirichlet({ sizes: [15, 15, 20, 10], alpha: 0.5, groupBy: 'patientId', seed })],
    ['pathological', (seed) => pathological({ sites: 4, k: 2, groupBy: 'patientId', logger: silent, seed })],
    ['quantity', (seed) => quantity({ scheme: 'power-law', sites: 4, groupBy: (m) => m.patientId, seed })],
    ['natural', (seed) => naturalId({ column: 'hospital', groupBy: 'patientId', seed })],
  ];
  for (const [name, make] of makers) {
    for (const seed of [1, 2]) {
      const p = make(seed);
      const sites = p.assign(input);
      const flat = sites.flat();
      assert.is(new Set(flat).size, flat.length, `${name}: duplicate`);
      if (name !== 'pathological') assert.is(exactlyOnce(sites, n), null, name);
      for (const [g, where] of groupSpread(sites, input.meta!, 'patientId')) assert.ok(where.size <= 1, `${name}: group ${g} on ${[...where]}`);
    }
  }
  // Group sizes count groups: innerDirichlet sizes above were 60 groups.
  assert.throws(() => innerDirichlet({ sizes: [30, 30, 30], alpha: 1, groupBy: 'patientId' }).assign(input), /sum to 90 but there are 60 groups/);
  assert.throws(() => iid({ sites: 2, groupBy: 'nope' }).assign(input), /unknown groupBy column 'nope'/);
});

test('groupBy: a group takes its majority label (ties to the smaller class)', () => {
  // Group a: labels 2,2,1 -> 2; group b: 0,1 -> 0 (tie); group c: 1 -> 1.
  const labels = [2, 2, 1, 0, 1, 1];
  const meta = ['a', 'a', 'a', 'b', 'b', 'c'].map((patientId) => ({ patientId }));
  const p = pathological({ sites: 3, k: 1, classAssignment: 'deterministic', groupBy: 'patientId', shuffle: false });
  assert.equal(p.assign({ labels, meta }), [[3, 4], [5], [0, 1, 2]]);
});

test('partitioners accept a Dataset (labels via info) and sites() returns subsets', () => {
  const samples = sortedLabels(3, 4).map((label, i) => ({
    id: `s${i}`,
    label,
    meta: { patientId: `p${Math.floor(i / 2)}` },
    image: new Float32Array(1),
    shape: [1, 1, 1] as [number, number, number],
  }));
  const ds = new InMemoryDataset('toy', samples, 'classification', ['a', 'b', 'c']);
  const p = iid({ sites: 3, groupBy: 'patientId', seed: 2 });
  const subsets = p.sites(ds);
  const assigned = p.assign(ds);
  assert.equal(subsets.map((s) => s.indices), assigned);
  assert.equal(subsets.map((s) => s.length), [4, 4, 4]);
  assert.is(subsets[1].info(0).id, `s${assigned[1][0]}`);
});

test.run();
