/**
 * `datasets check --deep`: every image, mask and volume is decoded with the
 * loaders' decoders, so files cut after their header (which the header-only
 * check passes, as documented) are listed with the decoder's reason.
 * Fixtures are real samples from /work/shared/data, copied and truncated.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { checkDataset, detectDatasetKind, formatDatasetCheck } from '../../src/datasets-check';
import { medfl } from '../cli/helpers';

const SHARED = '/work/shared/data';
const KVASIR = path.join(SHARED, 'kvasir-seg', 'Kvasir-SEG');
const CVC = path.join(SHARED, 'cvc-clinicdb', 'CVC-ClinicDB');
const PYRAD = path.join(SHARED, 'mri-pyradiomics', 'nifti');
const hasShared = fs.existsSync(KVASIR) && fs.existsSync(CVC) && fs.existsSync(PYRAD);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-deep-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Copy `from` to `to` (writable copy), keeping the first `fraction` of its bytes. */
function copyCut(from: string, to: string, fraction = 1): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  const bytes = fs.readFileSync(from);
  fs.writeFileSync(to, bytes.subarray(0, Math.floor(bytes.length * fraction)));
}

/** Gunzip `from` (.nii.gz) to `to` (.nii), keeping the first `fraction` of the bytes. */
function gunzipCut(from: string, to: string, fraction = 1): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  const bytes = zlib.gunzipSync(fs.readFileSync(from));
  fs.writeFileSync(to, bytes.subarray(0, Math.floor(bytes.length * fraction)));
}

/** A Kvasir-SEG folder of `n` real pairs; image `cut` (index) keeps 60% of its bytes. */
function kvasirCopy(name: string, n: number, cut?: number): { root: string; ids: string[] } {
  const root = path.join(tmp, name);
  const ids = fs.readdirSync(path.join(KVASIR, 'images')).sort().slice(0, n);
  ids.forEach((f, i) => {
    copyCut(path.join(KVASIR, 'images', f), path.join(root, 'images', f), i === cut ? 0.6 : 1);
    copyCut(path.join(KVASIR, 'masks', f), path.join(root, 'masks', f));
  });
  return { root, ids };
}

/** CVC-ClinicDB TIFF pairs in `images/` + `masks/` (as in mirrors), optionally swapped. */
function cvcPairs(name: string, frames: readonly string[], swapped = false): string {
  const root = path.join(tmp, name);
  for (const f of frames) {
    copyCut(path.join(CVC, 'Original', `${f}.tif`), path.join(root, swapped ? 'masks' : 'images', `${f}.tif`));
    copyCut(path.join(CVC, 'Ground Truth', `${f}.tif`), path.join(root, swapped ? 'images' : 'masks', `${f}.tif`));
  }
  return root;
}

if (hasShared) {
  test('kvasir: a JPEG cut to 60% passes the header-only check (with its note) and fails --deep with the decoder reason', async () => {
    const { root, ids } = kvasirCopy('kv-cut', 3, 1);
    const plain = await checkDataset(root);
    assert.is(plain.kind, 'kvasir');
    assert.ok(plain.ok, formatDatasetCheck(plain));
    assert.is(plain.deep, false);
    assert.equal(plain.bad, []);
    assert.ok(plain.notes.some((n) => n.startsWith('headers only:') && n.includes('--deep')), plain.notes.join('\n'));

    const deep = await checkDataset(root, 'auto', { deep: true });
    assert.is(deep.ok, false);
    assert.is(deep.deep, true);
    assert.equal(deep.found, { images: 3, masks: 3, pairs: 3, decoded: 5, bad: 1 });
    assert.is(deep.bad.length, 1);
    assert.is(deep.bad[0].file, `images/${ids[1]}`);
    assert.is(deep.bad[0].role, 'image');
    assert.match(deep.bad[0].reason, /premature end of JPEG/i);
    assert.ok(deep.problems.some((p) => p.startsWith(`1 of 6 files fail to decode: images/${ids[1]}`)), deep.problems.join('\n'));
    assert.not.ok(deep.notes.some((n) => n.startsWith('headers only:')));
  });

  test('medfl datasets check --deep: exit 1 and each bad file with its reason; plain check exits 0', async () => {
    const { root, ids } = kvasirCopy('kv-cut-cli', 2, 0);
    const plain = await medfl(['datasets', 'check', root]);
    assert.is(plain.code, 0, plain.text);
    assert.match(plain.out, /note: {5}headers only/);
    const deep = await medfl(['datasets', 'check', root, '--deep']);
    assert.is(deep.code, 1, deep.text);
    assert.match(deep.out, /kvasir — NOT OK \(every file decoded\)/);
    assert.ok(deep.out.includes(`  bad:      images/${ids[0]}: cannot decode: VipsJpeg: premature end of JPEG image`), deep.out);
    const json = await medfl(['datasets', 'check', root, '--deep', '--json']);
    assert.is(json.code, 1);
    const j = JSON.parse(json.out);
    assert.equal(j.bad.map((x: { file: string }) => x.file), [`images/${ids[0]}`]);
    assert.is(deep.err, ''); // 4 files: no progress lines
  });

  test('nifti: a .nii cut in half passes the header-only check and fails --deep as truncated', async () => {
    const root = path.join(tmp, 'nii-cut');
    gunzipCut(path.join(PYRAD, 'breast1_image.nii.gz'), path.join(root, 'breast1_image.nii'), 0.5);
    gunzipCut(path.join(PYRAD, 'breast1_label.nii.gz'), path.join(root, 'breast1_label.nii'));
    const plain = await checkDataset(root);
    assert.is(plain.kind, 'nifti');
    assert.ok(plain.ok, formatDatasetCheck(plain));
    const deep = await checkDataset(root, 'nifti', { deep: true });
    assert.is(deep.ok, false);
    assert.equal([deep.found.decoded, deep.found.bad], [1, 1]);
    assert.equal(deep.bad.map((b) => [b.file, b.role]), [['breast1_image.nii', 'volume']]);
    assert.match(deep.bad[0].reason, /^truncated: header says 45x120x21 /);
    const cli = await medfl(['datasets', 'check', root, '--deep']);
    assert.is(cli.code, 1);
    assert.match(cli.out, /bad: {6}breast1_image\.nii: truncated: header says/);
  });

  test('deep check of intact real data is OK and counts every decoded file', async () => {
    const { root } = kvasirCopy('kv-ok', 2);
    const k = await checkDataset(root, 'kvasir', { deep: true });
    assert.ok(k.ok, formatDatasetCheck(k));
    assert.equal([k.found.decoded, k.found.bad, k.bad.length], [4, 0, 0]);
    const v = await checkDataset(PYRAD, 'nifti', { deep: true });
    assert.ok(v.ok, formatDatasetCheck(v));
    assert.is(v.found.decoded, 6);
    const c = await checkDataset(cvcPairs('cvc-ok', ['1', '26']), 'cvc', { deep: true });
    assert.ok(c.ok, formatDatasetCheck(c));
    assert.is(c.found.decoded, 4);
  });

  test('cvc: a TIFF cut to 60% is caught by --deep (and by the header-size check)', async () => {
    const root = cvcPairs('cvc-cut', ['1', '26']);
    copyCut(path.join(CVC, 'Original', '26.tif'), path.join(root, 'images', '26.tif'), 0.6);
    const deep = await checkDataset(root, 'cvc', { deep: true });
    assert.is(deep.ok, false);
    assert.equal(deep.bad.map((b) => b.file), ['images/26.tif']);
    assert.match(deep.bad[0].reason, /^cannot decode: /);
  });

  test('cvc: TIFF pairs in images/ + masks/ are detected as cvc (not kvasir) and check OK', async () => {
    const root = cvcPairs('cvc-pairs', ['1', '26', '51']);
    assert.is(await detectDatasetKind(root), 'cvc');
    const r = await checkDataset(root);
    assert.is(r.kind, 'cvc');
    assert.ok(r.ok, formatDatasetCheck(r));
    assert.equal(r.found, { images: 3, masks: 3, pairs: 3 });
    assert.ok(r.notes.some((n) => n.startsWith("format: 'pairs' (images/, masks/)")), r.notes.join('\n'));
    const cli = await medfl(['datasets', 'check', root, '--kind', 'cvc']);
    assert.is(cli.code, 0, cli.text);
    assert.match(cli.out, /: cvc — OK/);
    // a Kvasir-SEG copy (JPEG) in the same folder names stays kvasir
    assert.is(await detectDatasetKind(kvasirCopy('kv-detect', 1).root), 'kvasir');
  });

  test('cvc: swapped images/ and masks/ (as in some mirrors) is a problem', async () => {
    const r = await checkDataset(cvcPairs('cvc-swapped', ['1'], true), 'cvc');
    assert.is(r.ok, false);
    assert.ok(r.problems.some((p) => p.includes('images/ and masks/ look swapped') && p.includes('images/1.tif has 1 channel but its mask masks/1.tif has 3')), r.problems.join('\n'));
  });
}

test('cvc: no layout found names every layout looked for', async () => {
  const root = path.join(tmp, 'cvc-none');
  fs.mkdirSync(path.join(root, 'Ground Truth'), { recursive: true });
  const r = await checkDataset(root, 'cvc');
  assert.is(r.ok, false);
  assert.equal(r.missing, ['one of Original/ + Ground Truth/ (tiff), png/Original/ + png/Ground Truth/ (png), images/ + masks/ (pairs)']);
});

test('deep check: progress lines only for folders of 200+ files', async () => {
  const sharp = (await import('sharp')).default;
  const root = path.join(tmp, 'many');
  fs.mkdirSync(path.join(root, 'images'), { recursive: true });
  fs.mkdirSync(path.join(root, 'masks'), { recursive: true });
  const png = await sharp(Buffer.alloc(12, 200), { raw: { width: 4, height: 3, channels: 1 } }).png().toBuffer();
  for (let i = 0; i < 100; i++) {
    fs.writeFileSync(path.join(root, 'images', `${i}.png`), png);
    fs.writeFileSync(path.join(root, 'masks', `${i}.png`), png);
  }
  const lines: string[] = [];
  const r = await checkDataset(root, 'kvasir', { deep: true, log: (l) => lines.push(l) });
  assert.ok(r.ok, formatDatasetCheck(r));
  assert.is(r.found.decoded, 200);
  assert.equal(lines.map((l) => l.replace(/^.*: /, '')), ['decoded 100/200 files, 0 bad', 'decoded 200/200 files, 0 bad']);
  fs.rmSync(path.join(root, 'masks', '0.png'));
  fs.rmSync(path.join(root, 'images', '0.png'));
  const few: string[] = [];
  await checkDataset(root, 'kvasir', { deep: true, log: (l) => few.push(l) });
  assert.equal(few, []);
});

test.run();
