import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRng } from '../../src/util/rng';
import { SamplingStrategy, classCounts, resampled, samplesToGenerate } from '../../src/oversample/common';
import { randomOverSampler } from '../../src/oversample/random';
import { smote } from '../../src/oversample/smote';
import { borderlineSmote } from '../../src/oversample/borderline-smote';
import { adasyn } from '../../src/oversample/adasyn';

const rowsFrom = (pts: number[][]) => pts.map((p) => Float32Array.from(p));
const d2 = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s;
};
/** Independent brute-force k-NN: the k nearest same-pool indices (ties by index). */
const knn = (x: Float32Array[], i: number, pool: number[], k: number) =>
  pool.filter((j) => j !== i).sort((a, b) => d2(x[i], x[a]) - d2(x[i], x[b]) || a - b).slice(0, k);

/** Gaussian blobs: n per class around centres. */
function blobs(counts: number[], centres: number[][], std: number, seed: number): { x: Float32Array[]; y: number[] } {
  const rng = createRng(seed);
  const x: Float32Array[] = [];
  const y: number[] = [];
  counts.forEach((n, c) => {
    for (let i = 0; i < n; i++) {
      x.push(Float32Array.from(centres[c].map((m) => m + rng.normal(0, std))));
      y.push(c);
    }
  });
  return { x, y };
}

test('samplesToGenerate: imbalanced-learn strategy table', () => {
  const y = [...new Array(10).fill(0), ...new Array(4).fill(1), ...new Array(2).fill(2)];
  const table: [SamplingStrategy, Record<number, number>][] = [
    ['minority', { 2: 8 }],
    ['not majority', { 1: 6, 2: 8 }],
    ['auto', { 1: 6, 2: 8 }],
    ['not minority', { 0: 0, 1: 6 }],
    ['all', { 0: 0, 1: 6, 2: 8 }],
    [{ 1: 5 }, { 1: 1 }],
    [{ 0: 12, 2: 2 }, { 0: 2, 2: 0 }],
  ];
  for (const [s, expected] of table) assert.equal(Object.fromEntries(samplesToGenerate('t', y, s)), expected, JSON.stringify(s));
  const bin = [...new Array(10).fill(0), ...new Array(4).fill(1)];
  assert.equal(Object.fromEntries(samplesToGenerate('t', bin, 0.5)), { 1: 1 });
  assert.equal(Object.fromEntries(samplesToGenerate('t', bin, 1)), { 1: 6 });
  assert.throws(() => samplesToGenerate('t', bin, 0.3), /fewer than its 4; increase the ratio/);
  assert.throws(() => samplesToGenerate('t', y, 0.5), /needs binary labels/);
  assert.throws(() => samplesToGenerate('t', y, { 1: 3 }), /class 1 has 4 samples but 3 were requested/);
  assert.throws(() => samplesToGenerate('t', y, { 7: 3 }), /class 7 is not present/);
  assert.throws(() => samplesToGenerate('t', y, 'most' as never), /unknown samplingStrategy 'most'/);
  assert.throws(() => samplesToGenerate('t', y, 1.5), /\(0, 1\]/);
});

test('randomOverSampler: copies of same-class rows, counts reached, seeded; flat matrix input', () => {
  const { x, y } = blobs([12, 3, 5], [[0, 0], [5, 5], [9, 0]], 1, 1);
  const r = randomOverSampler(x, y, { seed: 3 });
  assert.equal(r.counts.after, { 0: 12, 1: 12, 2: 12 });
  r.samples.forEach((s, t) => {
    const p = r.provenance[t];
    assert.equal(Array.from(s), Array.from(x[p.source]));
    assert.is(y[p.source], r.labels[t]);
    assert.is(p.lambda, 0);
  });
  const flat = { data: new Float32Array(x.flatMap((v) => Array.from(v))), rows: x.length, cols: 2 };
  assert.equal(randomOverSampler(flat, y, { seed: 3 }).provenance, r.provenance);
  assert.not.equal(randomOverSampler(x, y, { seed: 4 }).provenance, r.provenance);
  const smooth = randomOverSampler(x, y, { seed: 3, shrinkage: 1 });
  assert.ok(smooth.samples.some((s, t) => s[0] !== x[smooth.provenance[t].source][0]));
  const all = resampled(x, y, r);
  assert.equal(classCounts(all.labels), { 0: 12, 1: 12, 2: 12 });
});

test('smote: every sample lies on a segment to one of the k nearest same-class neighbours', () => {
  const { x, y } = blobs([40, 12, 8], [[0, 0, 0], [3, 3, 0], [0, 4, 4]], 1, 2);
  const k = 3;
  const r = smote(x, y, { k, seed: 5 });
  assert.equal(r.counts.after, { 0: 40, 1: 40, 2: 40 });
  r.samples.forEach((s, t) => {
    const { source, neighbor, lambda } = r.provenance[t];
    assert.is(y[source], r.labels[t]);
    assert.is(y[neighbor], r.labels[t]);
    const pool = y.flatMap((l, i) => (l === y[source] ? [i] : []));
    assert.ok(knn(x, source, pool, k).includes(neighbor), 'neighbour among the k nearest');
    assert.ok(lambda >= 0 && lambda < 1);
    // Collinear: s = a + lambda (b - a) component-wise, and the distances add up.
    const a = x[source];
    const b = x[neighbor];
    for (let j = 0; j < 3; j++) assert.ok(Math.abs(s[j] - (a[j] + lambda * (b[j] - a[j]))) < 1e-5);
    assert.ok(Math.abs(Math.sqrt(d2(a, s)) + Math.sqrt(d2(s, b)) - Math.sqrt(d2(a, b))) < 1e-4);
  });
  assert.equal(smote(x, y, { k, seed: 5 }).samples.map((s) => Array.from(s)), r.samples.map((s) => Array.from(s)));
  const part = smote(x, y, { k, samplingStrategy: { 2: 20 } });
  assert.equal(part.counts.after, { 0: 40, 1: 12, 2: 20 });
  assert.throws(() => smote(x, y, { k: 8 }), /class 2 has 8 samples; k=8 neighbours need at least 9/);
  assert.throws(() => smote(x, y, { k: 0 }), /'k' must be an integer >= 1/);
  assert.throws(() => smote(x, y.slice(1)), /59 labels for 60 feature rows/);
});

/** Majority on a grid; minority: a safe cluster far away, a border strip, and isolated noise points. */
function borderlineData() {
  const pts: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < 10; i++) for (let j = 0; j < 10; j++) (pts.push([i, j]), y.push(0));
  // Safe minority cluster far from the grid.
  for (let i = 0; i < 8; i++) (pts.push([30 + (i % 3) * 0.3, 30 + Math.floor(i / 3) * 0.3]), y.push(1));
  // Border minority: a column just right of the grid.
  for (let j = 0; j < 6; j++) (pts.push([9.6, j + 0.5]), y.push(1));
  // Noise: minority points inside the grid.
  (pts.push([4.5, 4.5]), y.push(1));
  (pts.push([2.5, 6.5]), y.push(1));
  return { x: rowsFrom(pts), y };
}

test('borderlineSmote: only danger samples generate; danger set matches an independent count', () => {
  const { x, y } = borderlineData();
  const m = 6;
  const all = x.map((_, i) => i);
  const expectDanger = y.flatMap((l, i) => {
    if (l !== 1) return [];
    const other = knn(x, i, all, m).filter((j) => y[j] !== 1).length;
    return other >= m / 2 && other < m ? [i] : [];
  });
  assert.ok(expectDanger.length > 0 && expectDanger.every((i) => x[i][0] > 9 && x[i][0] < 10), `danger ${expectDanger}`);
  for (const kind of ['borderline-1', 'borderline-2'] as const) {
    const r = borderlineSmote(x, y, { m, k: 3, kind, seed: 1 });
    assert.equal(r.danger[1], expectDanger);
    assert.is(r.samples.length, 100 - 16);
    assert.equal(r.counts.after, { 0: 100, 1: 100 });
    const minority = y.flatMap((l, i) => (l === 1 ? [i] : []));
    const majority = y.flatMap((l, i) => (l === 0 ? [i] : []));
    let other = 0;
    r.provenance.forEach((p, t) => {
      assert.ok(expectDanger.includes(p.source), `source ${p.source} is not in danger`);
      const s = r.samples[t];
      for (let j = 0; j < 2; j++) assert.ok(Math.abs(s[j] - (x[p.source][j] + p.lambda * (x[p.neighbor][j] - x[p.source][j]))) < 1e-5);
      if (y[p.neighbor] === 1) {
        assert.ok(p.lambda < 1 && knn(x, p.source, minority, 3).includes(p.neighbor));
      } else {
        other++;
        assert.is(kind, 'borderline-2');
        assert.ok(p.lambda < 0.5, 'other-class steps stay below 0.5');
        assert.ok(knn(x, p.source, majority, 3).includes(p.neighbor));
      }
    });
    if (kind === 'borderline-2') assert.ok(other > 10 && other < 74, `other-class part ${other}`);
  }
  // No danger samples: nothing generated, class reported as skipped.
  const sep = blobs([30, 10], [[0, 0], [50, 50]], 1, 3);
  const none = borderlineSmote(sep.x, sep.y, { m: 5, k: 3 });
  assert.is(none.samples.length, 0);
  assert.equal(none.skipped, [1]);
});

test('adasyn: harder samples generate more, exact total, same-class interpolation', () => {
  const { x, y } = borderlineData();
  const k = 5;
  const r = adasyn(x, y, { k, seed: 2 });
  assert.is(r.samples.length, 84);
  assert.equal(r.counts.after, { 0: 100, 1: 100 });
  const all = x.map((_, i) => i);
  const minority = y.flatMap((l, i) => (l === 1 ? [i] : []));
  for (const i of minority) {
    const h = knn(x, i, all, k).filter((j) => y[j] !== 1).length / k;
    assert.ok(Math.abs(r.hardness[i] - h) < 1e-12);
    if (h === 0) assert.is(r.perSource[i], 0);
  }
  for (const i of minority) for (const j of minority) {
    if (r.hardness[i] > r.hardness[j]) assert.ok(r.perSource[i] >= r.perSource[j], `${i} (${r.hardness[i]}) vs ${j} (${r.hardness[j]})`);
  }
  const counted: Record<number, number> = {};
  r.provenance.forEach((p, t) => {
    counted[p.source] = (counted[p.source] ?? 0) + 1;
    assert.is(y[p.neighbor], 1);
    assert.ok(knn(x, p.source, minority, k).includes(p.neighbor));
    for (let j = 0; j < 2; j++) assert.ok(Math.abs(r.samples[t][j] - (x[p.source][j] + p.lambda * (x[p.neighbor][j] - x[p.source][j]))) < 1e-5);
  });
  for (const i of minority) assert.is(counted[i] ?? 0, r.perSource[i]);
  // Noise points (surrounded by the majority) are the hardest and get the most.
  const noise = minority.filter((i) => x[i][0] < 9);
  const safe = minority.filter((i) => x[i][0] > 20);
  for (const i of noise) for (const j of safe) assert.ok(r.perSource[i] > r.perSource[j]);
  const sep = blobs([30, 10], [[0, 0], [50, 50]], 1, 3);
  assert.throws(() => adasyn(sep.x, sep.y), /no neighbour of class 1 belongs to another class/);
});

test.run();
