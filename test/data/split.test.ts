import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { kFoldSplit, splitByGroup, trainTestSplit } from '../../src/data/split';
import type { SampleInfo } from '../../src/data/types';
import { openHam10000 } from '../../src/data/ham10000';
import { shared } from './helpers';

function infosFromGroups(groups: string[], labels?: number[]): SampleInfo[] {
  return groups.map((g, i) => ({ id: `s${i}`, label: labels?.[i], meta: g === '' ? {} : { patientId: g } }));
}

function assertPartition(n: number, s: { train: number[]; val: number[]; test: number[] }): void {
  const all = [...s.train, ...s.val, ...s.test].sort((a, b) => a - b);
  assert.equal(all, Array.from({ length: n }, (_, i) => i), 'every index exactly once');
  for (const part of [s.train, s.val, s.test]) assert.equal(part, [...part].sort((a, b) => a - b), 'ascending');
}

test('hand fixture: groups of 5, 3, 1, 1 with [0.5, 0.25, 0.25] -> train {5}, val {3}, test {1, 1} for any seed', () => {
  // sizes distinct except the singles, so the greedy result does not depend on the shuffle:
  // 5 -> train (deficits 5, 2.5, 2.5); 3 -> val (0, 2.5, 2.5: tie -> val); 1 -> test (0, -0.5, 2.5); 1 -> test.
  const groups = ['a', 'b', 'a', 'c', 'b', 'a', 'd', 'b', 'a', 'a'];
  for (const seed of [1, 2, 'x']) {
    const s = splitByGroup(infosFromGroups(groups), { fractions: [0.5, 0.25, 0.25], seed });
    assert.equal(s.train, [0, 2, 5, 8, 9]);
    assert.equal(s.val, [1, 4, 7]);
    assert.equal(s.test, [3, 6]);
  }
});

test('groups never straddle splits; same seed -> same split, other seed -> another', async () => {
  const ham = await openHam10000({ root: shared('ham10000'), metadataFile: 'HAM10000_metadata_subset_with_dataset.csv' });
  const a = splitByGroup(ham, { fractions: { train: 0.6, val: 0.2, test: 0.2 }, groupKey: 'lesionId', seed: 7 });
  const b = splitByGroup(ham, { fractions: [0.6, 0.2, 0.2], groupKey: 'lesionId', seed: 7 });
  const c = splitByGroup(ham, { fractions: [0.6, 0.2, 0.2], groupKey: 'lesionId', seed: 8 });
  assert.equal(a, b);
  assert.not.equal(a.test, c.test);
  assertPartition(ham.length, a);
  const side = new Map<string, string>();
  for (const [name, idx] of Object.entries(a)) {
    for (const i of idx as number[]) {
      const g = String(ham.info(i).meta.lesionId);
      assert.ok(!side.has(g) || side.get(g) === name, `lesion ${g} on ${side.get(g)} and ${name}`);
      side.set(g, name);
    }
  }
  // sizes within a group of the targets (largest lesion group has 2 images)
  assert.ok(Math.abs(a.train.length - 0.6 * 119) <= 2 && Math.abs(a.val.length - 0.2 * 119) <= 2 && Math.abs(a.test.length - 0.2 * 119) <= 2);
  // function group key: by site keeps each site whole
  const bySite = splitByGroup(ham, { fractions: [0.5, 0.25, 0.25], groupKey: (info) => info.meta.site as string, seed: 1 });
  assertPartition(ham.length, bySite);
  for (const idx of [bySite.train, bySite.val, bySite.test]) {
    for (const i of idx) {
      const others = [bySite.train, bySite.val, bySite.test].filter((x) => x !== idx).flat();
      assert.ok(!others.some((j) => ham.info(j).meta.site === ham.info(i).meta.site));
    }
  }
});

test('stratified: each class is split in proportion', () => {
  const labels = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1];
  const infos = infosFromGroups(labels.map((_, i) => `p${i}`), labels);
  const s = splitByGroup(infos, { fractions: [0.6, 0.2, 0.2], seed: 3, stratify: true });
  assertPartition(10, s);
  for (const [part, n] of [[s.train, 3], [s.val, 1], [s.test, 1]] as const) {
    assert.is(part.filter((i) => labels[i] === 0).length, n);
    assert.is(part.filter((i) => labels[i] === 1).length, n);
  }
});

test('samples without a group value are their own group; impossible splits throw', () => {
  const infos = infosFromGroups(['', '', '', 'a', 'a']);
  const s = splitByGroup(infos, { fractions: [0.4, 0.2, 0.4], seed: 1 });
  assertPartition(5, s);
  assert.ok(s.train.length > 0 && s.val.length > 0 && s.test.length > 0);
  const sameSide = [s.train, s.val, s.test].some((p) => p.includes(3) && p.includes(4));
  assert.ok(sameSide);
  assert.throws(() => splitByGroup(infosFromGroups(['a', 'a', 'b']), { fractions: [0.6, 0.2, 0.2], seed: 1 }), /2 group\(s\).*3 non-empty splits/);
  assert.throws(() => splitByGroup(infos, { fractions: [0.5, 0.5, 0.5], seed: 1 }), /sum to 1/);
  assert.throws(() => splitByGroup(infos, { fractions: [1.2, -0.2, 0], seed: 1 }), />= 0/);
  // tiny fractions still give every positive split a group
  const many = infosFromGroups(Array.from({ length: 10 }, (_, i) => `g${i}`));
  const t = splitByGroup(many, { fractions: [0.98, 0.01, 0.01], seed: 5 });
  assert.is(t.val.length, 1);
  assert.is(t.test.length, 1);
  assert.is(t.train.length, 8);
});

test('trainTestSplit: exact sizes, seeded, stratified and grouped variants', () => {
  const s = trainTestSplit(10, { testFraction: 0.2, seed: 42 });
  assert.is(s.test.length, 2);
  assert.is(s.train.length, 8);
  assert.equal(trainTestSplit(10, { testFraction: 0.2, seed: 42 }), s);
  assert.equal([...s.train, ...s.test].sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => i));
  const seen = new Set<string>();
  for (let seed = 0; seed < 10; seed++) seen.add(trainTestSplit(10, { testFraction: 0.3, seed }).test.join(','));
  assert.ok(seen.size > 5, 'different seeds give different test sets');
  const labels = [0, 0, 0, 0, 1, 1, 1, 1];
  const strat = trainTestSplit(infosFromGroups(labels.map((_, i) => `p${i}`), labels), { testFraction: 0.25, seed: 9, stratify: true });
  assert.equal(strat.test.map((i) => labels[i]).sort(), [0, 1]);
  const grouped = trainTestSplit(infosFromGroups(['a', 'a', 'b', 'b', 'c', 'c', 'd', 'd']), { testFraction: 0.25, seed: 2, groupKey: 'patientId' });
  assert.is(grouped.test.length, 2);
  assert.is(Math.floor(grouped.test[0] / 2), Math.floor(grouped.test[1] / 2));
  assert.throws(() => trainTestSplit(10, { testFraction: 1, seed: 1 }), /testFraction/);
});

test('kFoldSplit: every sample tested exactly once over the k folds, groups whole, folds balanced, seeded', () => {
  // 23 samples in groups of sizes 1..4 (patients)
  const infos = Array.from({ length: 23 }, (_, i) => ({ id: `s${i}`, meta: { patientId: `p${Math.floor(i / 3)}` } }));
  const k = 4;
  const tested = new Array(23).fill(0);
  const sizes: number[] = [];
  for (let index = 0; index < k; index++) {
    const { train, test: held } = kFoldSplit(infos, { k, index, seed: 5, groupKey: 'patientId' });
    assert.equal([...train, ...held].sort((a, b) => a - b), Array.from({ length: 23 }, (_, i) => i), 'a partition of the samples');
    for (const i of held) tested[i]++;
    const heldPatients = new Set(held.map((i) => infos[i].meta.patientId));
    for (const i of train) assert.not.ok(heldPatients.has(infos[i].meta.patientId), 'no patient on both sides');
    sizes.push(held.length);
  }
  assert.ok(tested.every((n) => n === 1), 'each sample in exactly one test fold');
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 3, `balanced within one group: ${sizes}`);
  assert.equal(kFoldSplit(infos, { k, index: 1, seed: 5, groupKey: 'patientId' }), kFoldSplit(infos, { k, index: 1, seed: 5, groupKey: 'patientId' }));
  assert.not.equal(kFoldSplit(23, { k, index: 1, seed: 5 }).test, kFoldSplit(23, { k, index: 1, seed: 6 }).test);
  assert.throws(() => kFoldSplit(3, { k: 4, index: 0, seed: 0 }), /3 group\(s\) cannot fill 4 folds/);
  assert.throws(() => kFoldSplit(10, { k: 1, index: 0, seed: 0 }), /k must be an integer >= 2/);
});

test.run();
