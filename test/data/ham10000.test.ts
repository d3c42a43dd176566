import * as fs from 'fs';
import * as path from 'path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HAM10000_CLASSES, openHam10000, type Ham10000Dataset } from '../../src/data/ham10000';
import type { Sample } from '../../src/data/types';
import { fraction, median, rejectsDataError, rmTemp, shared, tempDir } from './helpers';

const ROOT = shared('ham10000');
const SUBSET = 'HAM10000_metadata_subset_with_dataset.csv';
let ds: Ham10000Dataset;
let samples: Sample[] = [];

function counts(values: unknown[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[String(v)] = (out[String(v)] ?? 0) + 1;
  return out;
}

test('full metadata CSV: only the 119 rows with an image are samples; the rest are counted, not errors', async () => {
  const full = await openHam10000({ root: ROOT });
  assert.is(full.length, 119);
  assert.is(full.missingImages, 10015 - 119);
  assert.is(full.missingImageIds.length, 10015 - 119);
  assert.is(full.task, 'segmentation+classification');
  // 7-column CSV has no `dataset` column -> no site
  assert.is(full.info(0).meta.site, undefined);
});

test('subset CSV: dx and site counts match SOURCES.md; labels index HAM10000_CLASSES', async () => {
  ds = await openHam10000({ root: ROOT, metadataFile: SUBSET, size: [64, 64] });
  assert.is(ds.length, 119);
  assert.is(ds.missingImages, 0);
  assert.equal([...ds.classNames], ['akiec', 'bcc', 'bkl', 'df', 'mel', 'nv', 'vasc']);
  assert.equal([...ds.maskClasses], ['background', 'lesion']);
  const infos = Array.from({ length: ds.length }, (_, i) => ds.info(i));
  assert.equal(counts(infos.map((x) => HAM10000_CLASSES[x.label as number])), { nv: 78, bkl: 16, bcc: 9, mel: 7, df: 4, vasc: 3, akiec: 2 });
  assert.equal(counts(infos.map((x) => x.meta.site)), { vidir_molemax: 61, rosendahl: 27, vidir_modern: 22, vienna_dias: 9 });
  for (const x of infos) {
    assert.is(HAM10000_CLASSES[x.label as number], x.meta.dx);
    assert.is(x.meta.lesionId, x.meta.lesion_id);
    assert.is(x.meta.patientId, x.meta.lesion_id);
    assert.is(x.meta.modality, 'dermoscopy');
    assert.is(typeof x.meta.age, 'number');
  }
  assert.is(new Set(infos.map((x) => x.meta.lesionId)).size, 118);
  // first row of the subset CSV: HAM_0003350, ISIC_0024310, mel, histo, 60.0, male, chest, vidir_modern
  const first = infos.find((x) => x.id === 'ISIC_0024310');
  assert.ok(first);
  assert.is(first!.label, 4);
  assert.is(first!.meta.age, 60);
  assert.is(first!.meta.localization, 'chest');
  assert.is(first!.meta.site, 'vidir_modern');
});

test('danfojs DataFrame and plain rows are aligned with the samples', () => {
  const df = ds.metadata;
  assert.equal(df.shape, [119, 8]);
  assert.equal(df.columns, ['lesion_id', 'image_id', 'dx', 'dx_type', 'age', 'sex', 'localization', 'dataset']);
  const ids = df.column('image_id').values as string[];
  const dx = df.column('dx').values as string[];
  for (let i = 0; i < ds.length; i++) {
    assert.is(ids[i], ds.info(i).id);
    assert.is(dx[i], ds.row(i).dx);
  }
  assert.is(ds.rows.length, 119);
  assert.ok(['int32', 'float32'].includes(df.column('age').dtype), `age dtype ${df.column('age').dtype}`);
});

test('masks decode through the palette: lesion = 1, fraction median ~18%, range 0.6%-72%', async () => {
  samples = [];
  for (let i = 0; i < ds.length; i++) samples.push(await ds.load(i));
  const fr: number[] = [];
  let centreLesion = 0;
  let cornerBackground = 0;
  for (const s of samples) {
    assert.equal(s.shape, [64, 64, 3]);
    assert.ok(s.mask!.every((v) => v === 0 || v === 1));
    fr.push(fraction(s.mask!));
    if (s.mask![32 * 64 + 32] === 1) centreLesion++;
    if (s.mask![0] === 0 && s.mask![63] === 0 && s.mask![63 * 64] === 0 && s.mask![64 * 64 - 1] === 0) cornerBackground++;
  }
  const med = median(fr);
  assert.ok(med > 0.14 && med < 0.23, `median lesion fraction ${med}, SOURCES says ~0.18`);
  assert.ok(Math.min(...fr) > 0.002 && Math.min(...fr) < 0.02, `min ${Math.min(...fr)}`);
  assert.ok(Math.max(...fr) > 0.6 && Math.max(...fr) < 0.8, `max ${Math.max(...fr)}`);
  // Dermoscopy frames the lesion: an inverted decode would flip both counts.
  assert.ok(centreLesion > 0.8 * samples.length, `centre pixel is lesion in ${centreLesion}/${samples.length}`);
  assert.ok(cornerBackground > 0.8 * samples.length, `corners are background in ${cornerBackground}/${samples.length}`);
});

test('metadata CSV without a required column is a DataError naming the file and column', async () => {
  const dir = tempDir();
  try {
    const csv = path.join(dir, 'bad.csv');
    fs.writeFileSync(csv, 'lesion_id,image_id,diagnosis\nHAM_0003350,ISIC_0024310,mel\n');
    await rejectsDataError(() => openHam10000({ root: ROOT, metadataFile: csv }), 'csv-column', [csv, 'dx']);
    const wrongDx = path.join(dir, 'wrongdx.csv');
    fs.writeFileSync(wrongDx, 'lesion_id,image_id,dx\nHAM_0003350,ISIC_0024310,melanoma\n');
    await rejectsDataError(() => openHam10000({ root: ROOT, metadataFile: wrongDx }), 'csv-format', [wrongDx, 'melanoma']);
    await rejectsDataError(() => openHam10000({ root: ROOT, metadataFile: path.join(dir, 'absent.csv') }), 'missing-file', ['absent.csv']);
  } finally {
    rmTemp(dir);
  }
});

test('masks: false gives a classification dataset without masks', async () => {
  const cls = await openHam10000({ root: ROOT, metadataFile: SUBSET, masks: false, size: [16, 16] });
  assert.is(cls.task, 'classification');
  assert.equal([...cls.maskClasses], []);
  const s = await cls.load(0);
  assert.is(s.mask, undefined);
  assert.is(s.label, cls.info(0).label);
});

test.run();
