/** The method drivers' shared data layer: data root, caps, grouped splits, relabelling, size checks. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InMemoryDataset } from '../../src/data/types';
import { syntheticSites } from '../../src/data/synthetic';
import { capSamples, checkImageSize, hamReducedLabels, repositoryRoot, sharedDataRoot, splitByPatient, subsetWhere, withLabels } from '../../src/data/sources';

test('data root: explicit > MEDFL_SHARED_DATA > <repo>/../shared/data', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-sources-'));
  const root = repositoryRoot();
  assert.is(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).name, 'medfl');
  assert.is(repositoryRoot(path.join(root, 'src', 'experiment')), root);
  const saved = process.env.MEDFL_SHARED_DATA;
  try {
    delete process.env.MEDFL_SHARED_DATA;
    assert.is(sharedDataRoot(), path.resolve(root, '..', 'shared', 'data'));
    process.env.MEDFL_SHARED_DATA = tmp;
    assert.is(sharedDataRoot(), tmp);
    assert.is(sharedDataRoot('rel/dir'), path.resolve('rel/dir'));
  } finally {
    if (saved === undefined) delete process.env.MEDFL_SHARED_DATA;
    else process.env.MEDFL_SHARED_DATA = saved;
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

const ds = syntheticSites({ sites: 2, samplesPerSite: 10, size: 16, task: 'lesion', seed: 3 });

test('capSamples: seeded subset in index order; unchanged when small enough', () => {
  const a = capSamples(ds, 5, 1);
  assert.is(a.length, 5);
  assert.equal(a.samples.map((s) => s.id), capSamples(ds, 5, 1).samples.map((s) => s.id));
  const idx = a.samples.map((s) => ds.samples.indexOf(ds.samples.find((x) => x.id === s.id)!));
  assert.equal(idx, [...idx].sort((x, y) => x - y));
  assert.is(capSamples(ds, 50, 1), ds);
});

test('splitByPatient: disjoint patients, both sides non-empty; too few images throw', () => {
  const s = splitByPatient(ds, 0.3, 0);
  assert.is(s.train.length + s.test.length, ds.length);
  const pid = (x: InMemoryDataset) => new Set(x.samples.map((v) => v.meta.patientId));
  for (const p of pid(s.test)) assert.not.ok(pid(s.train).has(p));
  assert.throws(() => splitByPatient(ds.subset([0]), 0.3, 0), /split/);
});

test('withLabels / hamReducedLabels / subsetWhere', () => {
  const relabelled = withLabels(ds, 'x', ['a', 'b'], (_s, i) => i % 2);
  assert.equal(relabelled.samples.slice(0, 3).map((s) => s.label), [0, 1, 0]);
  assert.equal(relabelled.classNames, ['a', 'b']);
  const ham = new InMemoryDataset('ham', ['nv', 'bkl', 'mel', 'nv'].map((dx, i) => ({ id: `i${i}`, image: new Float32Array(3), shape: [1, 1, 3] as [number, number, number], label: ['akiec', 'bcc', 'bkl', 'df', 'mel', 'nv', 'vasc'].indexOf(dx), meta: { site: i < 2 ? 'a' : 'b' } })), 'classification', ['akiec', 'bcc', 'bkl', 'df', 'mel', 'nv', 'vasc']);
  const r = hamReducedLabels(ham);
  assert.equal(r.samples.map((s) => s.label), [0, 1, 2, 0]);
  assert.equal(r.classNames, ['nv', 'bkl', 'other']);
  assert.equal(subsetWhere(ham, 'site', 'b').samples.map((s) => s.id), ['i2', 'i3']);
  assert.is(subsetWhere(ham, 'site', 'b').name, 'b');
});

const SIZES: [number, number, boolean][] = [
  [64, 16, true],
  [32, 32, true],
  [40, 16, false],
  [8, 16, false],
  [20, 4, true],
  [18, 4, false],
];
for (const [size, divisor, ok] of SIZES) {
  test(`checkImageSize(${size}, ${divisor}) ${ok ? 'passes' : 'throws'}`, () => {
    if (ok) checkImageSize(size, divisor, 'm');
    else assert.throws(() => checkImageSize(size, divisor, 'the model'), new RegExp(`^size ${size}: the model needs a multiple of ${divisor} \\(nearest: \\d+\\)$`));
  });
}

test.run();
