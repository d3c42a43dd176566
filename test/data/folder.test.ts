import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCsv } from '../../src/data/files';
import { cvcClinicDbSequence, openClassFolder, openCvcClinicDb, openImageMaskFolder } from '../../src/data/folder';
import { ConcatDataset, LruCache } from '../../src/data/lazy';
import { fraction, rejectsDataError, rmTemp, shared, tempDir } from './helpers';

async function writeGreyPng(file: string, w: number, h: number, fill: (i: number) => number): Promise<void> {
  const buf = Buffer.alloc(w * h);
  for (let i = 0; i < w * h; i++) buf[i] = fill(i);
  await sharp(buf, { raw: { width: w, height: h, channels: 1 } }).png().toFile(file);
}

test('CVC-ClinicDB: 29 pairs from the original TIFFs and from the PNG copies, identical after decoding', async () => {
  const tif = await openCvcClinicDb({ root: shared('cvc-clinicdb'), size: [32, 48] });
  const png = await openCvcClinicDb({ root: shared('cvc-clinicdb', 'CVC-ClinicDB'), format: 'png', size: [32, 48] });
  assert.is(tif.length, 29);
  assert.is(png.length, 29);
  assert.ok(String(tif.info(0).meta.file).endsWith(path.join('Original', '1.tif')));
  assert.ok(String(png.info(0).meta.file).endsWith(path.join('png', 'Original', '1.png')));
  // natural order of frame numbers; each is the first frame of its sequence
  const frames = Array.from({ length: 29 }, (_, i) => Number(tif.info(i).id));
  assert.equal(frames, [1, 26, 51, 68, 79, 104, 127, 152, 178, 200, 206, 228, 253, 278, 298, 318, 343, 364, 384, 409, 429, 448, 467, 479, 504, 529, 547, 572, 592]);
  frames.forEach((f, i) => {
    assert.is(tif.info(i).meta.sequence, i + 1);
    assert.is(tif.info(i).meta.patientId, `cvc-seq-${i + 1}`);
    assert.is(tif.info(i).meta.site, 'CVC-ClinicDB');
  });
  for (const i of [0, 13, 28]) {
    const a = await tif.load(i);
    const b = await png.load(i);
    assert.equal(a.shape, [32, 48, 3]);
    assert.equal(Array.from(a.mask!), Array.from(b.mask!));
    let maxDiff = 0;
    for (let k = 0; k < a.image.length; k++) maxDiff = Math.max(maxDiff, Math.abs(a.image[k] - b.image[k]));
    assert.ok(maxDiff < 1e-6, `frame ${a.id}: max diff ${maxDiff}`);
    const f = fraction(a.mask!);
    assert.ok(f > 0 && f < 0.6, `polyp fraction ${f}`);
  }
});

test('CVC-ClinicDB: TIFF pairs in images/ + masks/ (as in mirrors) open with format auto and pairs, same pixels as Original/', async () => {
  const dir = tempDir('medfl-cvc-pairs-');
  try {
    const root = path.join(dir, 'CVC-ClinicDB');
    for (const f of ['1', '26', '51']) {
      for (const [from, to] of [['Original', 'images'], ['Ground Truth', 'masks']]) {
        fs.mkdirSync(path.join(root, to), { recursive: true });
        fs.writeFileSync(path.join(root, to, `${f}.tif`), fs.readFileSync(shared('cvc-clinicdb', 'CVC-ClinicDB', from, `${f}.tif`)));
      }
    }
    const ds = await openCvcClinicDb({ root: dir });
    const explicit = await openCvcClinicDb({ root, format: 'pairs' });
    assert.equal([ds.length, explicit.length], [3, 3]);
    assert.equal([0, 1, 2].map((i) => ds.info(i).meta.sequence), [1, 2, 3]);
    const ref = await openCvcClinicDb({ root: shared('cvc-clinicdb'), format: 'tiff' });
    const a = await ds.load(1);
    const b = await ref.load(1);
    assert.equal(a.shape, [288, 384, 3]);
    assert.equal(Array.from(a.mask!), Array.from(b.mask!));
    assert.equal(Array.from(a.image.subarray(0, 3000)), Array.from(b.image.subarray(0, 3000)));
  } finally {
    rmTemp(dir);
  }
});

test('CVC-ClinicDB: no layout found is a DataError naming every layout looked for', async () => {
  const dir = tempDir('medfl-cvc-none-');
  try {
    fs.mkdirSync(path.join(dir, 'Ground Truth'));
    await rejectsDataError(() => openCvcClinicDb({ root: dir }), 'missing-folder', [
      dir,
      'no CVC-ClinicDB layout found',
      'Original/ + Ground Truth/ (tiff)',
      'png/Original/ + png/Ground Truth/ (png)',
      'images/ + masks/ (pairs)',
    ]);
    await rejectsDataError(() => openCvcClinicDb({ root: dir, format: 'png' }), 'missing-folder', ["no 'png' layout found", 'png/Original/ + png/Ground Truth/ (png)']);
  } finally {
    rmTemp(dir);
  }
});

test('cvcClinicDbSequence follows the README table', () => {
  const table: [number, number | undefined][] = [[1, 1], [25, 1], [26, 2], [67, 3], [68, 4], [205, 10], [206, 11], [591, 28], [592, 29], [612, 29], [613, undefined], [0, undefined]];
  for (const [frame, seq] of table) assert.is(cvcClinicDbSequence(frame), seq, `frame ${frame}`);
});

test('MedNIST class folder: 6 classes x 2 images, labels from subfolders, grey 64x64', async () => {
  const ds = await openClassFolder({ root: shared('medmnist-style', 'mednist-sample', 'MedNIST'), channels: 1 });
  assert.is(ds.length, 12);
  assert.is(ds.task, 'classification');
  assert.equal([...ds.classNames].sort(), ['AbdomenCT', 'BreastMRI', 'CXR', 'ChestCT', 'Hand', 'HeadCT']);
  for (let i = 0; i < ds.length; i++) {
    const info = ds.info(i);
    assert.is(ds.classNames[info.label as number], info.meta.className);
    assert.ok(info.id.startsWith(`${info.meta.className}/`));
    assert.ok(String(info.meta.file).includes(`${path.sep}${info.meta.className}${path.sep}`));
  }
  const perClass = new Map<number, number>();
  for (let i = 0; i < ds.length; i++) perClass.set(ds.info(i).label as number, (perClass.get(ds.info(i).label as number) ?? 0) + 1);
  assert.equal([...perClass.values()], [2, 2, 2, 2, 2, 2]);
  const s = await ds.load(3);
  assert.equal(s.shape, [64, 64, 1]);
  assert.is(s.mask, undefined);
  const ordered = await openClassFolder({ root: shared('medmnist-style', 'mednist-sample', 'MedNIST'), classes: ['Hand', 'CXR'] });
  assert.is(ordered.length, 4);
  assert.equal([...ordered.classNames], ['Hand', 'CXR']);
  assert.is(ordered.info(0).label, 0);
  assert.is(ordered.info(3).label, 1);
});

test('generic folder errors: missing folder, image without mask, size mismatch; allowMissingMasks', async () => {
  const dir = tempDir();
  try {
    const images = path.join(dir, 'images');
    const masks = path.join(dir, 'masks');
    fs.mkdirSync(images);
    fs.mkdirSync(masks);
    await writeGreyPng(path.join(images, 'a.png'), 4, 3, (i) => i * 20);
    await writeGreyPng(path.join(masks, 'a_mask.png'), 4, 3, (i) => (i % 2 ? 255 : 0));
    await writeGreyPng(path.join(images, 'b.png'), 4, 3, () => 7);
    await rejectsDataError(() => openImageMaskFolder({ images: path.join(dir, 'nope'), masks }), 'missing-folder', [path.join(dir, 'nope')]);
    await rejectsDataError(() => openImageMaskFolder({ images, masks: path.join(dir, 'nomasks') }), 'missing-folder', ['nomasks']);
    await rejectsDataError(() => openImageMaskFolder({ images, masks, maskSuffix: '_mask' }), 'missing-mask', [path.join(images, 'b.png'), 'b_mask']);

    const ds = await openImageMaskFolder({ images, masks, maskSuffix: '_mask', allowMissingMasks: true, site: 'here' });
    assert.is(ds.length, 2);
    const a = await ds.load(0);
    assert.equal(a.shape, [3, 4, 3]);
    assert.equal(Array.from(a.mask!), [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    assert.is(Math.round(a.image[3 * 5] * 255), 100);
    assert.is(a.meta.site, 'here');
    const b = await ds.load(1);
    assert.is(b.mask, undefined);

    // mask of another size
    await writeGreyPng(path.join(masks, 'b_mask.png'), 5, 3, () => 0);
    const mismatch = await openImageMaskFolder({ images, masks, maskSuffix: '_mask' });
    await rejectsDataError(() => mismatch.load(1), 'size-mismatch', [path.join(masks, 'b_mask.png'), path.join(images, 'b.png'), '5x3', '4x3']);

    // corrupt image file inside a dataset
    fs.writeFileSync(path.join(images, 'c.png'), 'garbage');
    await writeGreyPng(path.join(masks, 'c_mask.png'), 4, 3, () => 0);
    const withCorrupt = await openImageMaskFolder({ images, masks, maskSuffix: '_mask' });
    await rejectsDataError(() => withCorrupt.load(2), 'unreadable', [path.join(images, 'c.png')]);
  } finally {
    rmTemp(dir);
  }
});

test('LRU cache: same promise on a hit, capacity respected, least recent evicted', async () => {
  const cache = new LruCache<number, string>(2);
  cache.set(1, 'a');
  cache.set(2, 'b');
  assert.is(cache.get(1), 'a'); // 1 is now most recent
  cache.set(3, 'c'); // evicts 2
  assert.is(cache.has(2), false);
  assert.is(cache.get(1), 'a');
  assert.is(cache.get(3), 'c');
  assert.is(cache.size, 2);
  const off = new LruCache<number, string>(0);
  off.set(1, 'a');
  assert.is(off.size, 0);

  const ds = await openCvcClinicDb({ root: shared('cvc-clinicdb'), format: 'png', size: [16, 16], cacheSize: 2 });
  const s0 = await ds.load(0);
  assert.ok((await ds.load(0)) === s0, 'cache hit returns the same sample');
  await ds.load(1);
  await ds.load(2);
  assert.is(ds.cachedCount, 2);
  assert.ok((await ds.load(0)) !== s0, 'evicted sample is decoded again');
  const uncached = await openCvcClinicDb({ root: shared('cvc-clinicdb'), format: 'png', size: [16, 16] });
  assert.ok((await uncached.load(0)) !== (await uncached.load(0)));
  assert.is(uncached.cachedCount, 0);
});

test('ConcatDataset indexes across parts', async () => {
  const a = await openCvcClinicDb({ root: shared('cvc-clinicdb'), format: 'png', size: [8, 8] });
  const cat = new ConcatDataset([a, a]);
  assert.is(cat.length, 58);
  assert.is(cat.info(30).id, a.info(1).id);
  assert.is(cat.info(28).id, a.info(28).id);
  assert.throws(() => cat.info(58), /out of range/);
});

test('parseCsv: quotes, doubled quotes, CRLF, BOM; ragged rows are DataErrors with the line', () => {
  const t = parseCsv('\ufeffa,b,c\r\n1,"x, y",3\r\n"q""uote","multi\nline",\n', 'f.csv');
  assert.equal(t.columns, ['a', 'b', 'c']);
  assert.equal(t.rows, [
    { a: '1', b: 'x, y', c: '3' },
    { a: 'q"uote', b: 'multi\nline', c: '' },
  ]);
  assert.throws(() => parseCsv('a,b\n1,2\n3\n', 'f.csv'), (e: Error) => e.name === 'DataError' && /f\.csv/.test(e.message) && /line 3 has 1 fields/.test(e.message));
  assert.throws(() => parseCsv('', 'empty.csv'), /empty\.csv: file is empty/);
});

test.run();
