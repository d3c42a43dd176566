import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkDataset, detectDatasetKind, classifyVolume, formatDatasetCheck } from '../../src/datasets-check';
import { medfl } from '../cli/helpers';
import { encodeNifti1 } from '../../src/data/nifti';

const SHARED = '/work/shared/data';
const hasShared = fs.existsSync(path.join(SHARED, 'kvasir-seg'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-dscheck-'));

/** A tiny valid PNG of w x h (grey). */
async function png(file: string, w = 4, h = 3): Promise<void> {
  const sharp = (await import('sharp')).default;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(Buffer.alloc(w * h, 128), { raw: { width: w, height: h, channels: 1 } }).png().toFile(file);
}
function write(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}
function nifti(file: string, dims: [number, number, number]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const n = dims[0] * dims[1] * dims[2];
  fs.writeFileSync(file, encodeNifti1({ data: new Float32Array(n), shape: dims, datatype: 'uint8' }));
}

if (hasShared) {
  test('shared data: Kvasir-SEG, HAM10000, CVC-ClinicDB are detected and OK with the right counts', async () => {
    const k = await checkDataset(path.join(SHARED, 'kvasir-seg'));
    assert.is(k.kind, 'kvasir');
    assert.ok(k.ok, formatDatasetCheck(k));
    assert.is(k.root, path.join(SHARED, 'kvasir-seg', 'Kvasir-SEG'));
    assert.equal(k.found, { images: 100, masks: 100, pairs: 100, bboxEntries: 1000 });

    const h = await checkDataset(path.join(SHARED, 'ham10000'));
    assert.is(h.kind, 'ham10000');
    assert.ok(h.ok, formatDatasetCheck(h));
    assert.is(h.found.csvRows, 10015);
    assert.is(h.found.rowsWithImage, 119);
    assert.is(h.found.pairs, 119);
    assert.ok(h.notes.some((n) => n.startsWith('9896 of 10015 CSV rows have no image')));

    const c = await checkDataset(path.join(SHARED, 'cvc-clinicdb'));
    assert.is(c.kind, 'cvc');
    assert.ok(c.ok, formatDatasetCheck(c));
    assert.equal(c.found, { images: 29, masks: 29, pairs: 29 });
  });

  test('shared data: TotalSegmentator fixtures pair by name+grid and per-structure masks', async () => {
    const r = await checkDataset(path.join(SHARED, 'ct-totalsegmentator'));
    assert.is(r.kind, 'nifti');
    assert.ok(r.ok, formatDatasetCheck(r));
    // example_ct_sm <-> example_seg (same 122x101x30 grid), ct_cropped <-> its 18 vessel masks
    assert.is(r.found.pairs, 2);
    assert.is(r.found.structureMasks, 18);
    assert.ok(r.notes.some((n) => n.includes('example_ct.nii.gz') && n.includes('without a label')));
    assert.ok(r.notes.some((n) => n.startsWith('20 DICOM files')));
    const m = await checkDataset(path.join(SHARED, 'mri-pyradiomics'), 'nifti');
    assert.is(m.found.pairs, 3);
  });
}

test('classifyVolume: roles and keys from folder and name', () => {
  assert.equal(classifyVolume('/d/imagesTr/liver_003_0000.nii.gz'), { role: 'image', key: 'liver_003' });
  assert.equal(classifyVolume('/d/labelsTr/liver_003.nii.gz'), { role: 'label', key: 'liver_003' });
  assert.equal(classifyVolume('/d/brain1_image.nii.gz'), { role: 'image', key: 'brain1' });
  assert.equal(classifyVolume('/d/brain1_label.nii'), { role: 'label', key: 'brain1' });
  assert.equal(classifyVolume('/d/s0001/segmentations/liver.nii.gz'), { role: 'label', key: 'liver' });
  assert.equal(classifyVolume('/d/aorta.nii.gz'), { role: 'other', key: 'aorta' });
});

test('kvasir: missing masks folder is reported as missing', async () => {
  const root = path.join(tmp, 'kv-nomasks');
  await png(path.join(root, 'images', 'a.png'));
  const r = await checkDataset(root, 'kvasir');
  assert.is(r.ok, false);
  assert.equal(r.missing, ['masks/']);
  assert.is(r.found.images, 1);
  assert.is(await detectDatasetKind(root), null); // images/ alone is no known layout
});

test('kvasir: an image without a mask and a size mismatch are problems; orphan masks are notes', async () => {
  const root = path.join(tmp, 'kv-broken');
  await png(path.join(root, 'images', 'a.png'));
  await png(path.join(root, 'images', 'b.png'));
  await png(path.join(root, 'images', 'c.png'));
  await png(path.join(root, 'masks', 'a.png'));
  await png(path.join(root, 'masks', 'c.png'), 5, 3);
  await png(path.join(root, 'masks', 'zzz.png'));
  const r = await checkDataset(root);
  assert.is(r.kind, 'kvasir');
  assert.is(r.ok, false);
  assert.equal(r.found, { images: 3, masks: 3, pairs: 2 });
  assert.equal(r.missing, []);
  assert.ok(r.problems.some((p) => p === '1 image has no mask named <image stem>.<ext>: images/b.png'), r.problems.join('\n'));
  assert.ok(r.problems.some((p) => p.includes('masks/c.png is 5x3 but images/c.png is 4x3')), r.problems.join('\n'));
  assert.ok(r.notes.some((n) => n.includes('masks/zzz.png')));
});

test('ham10000: missing CSV, missing column, unknown dx, image without mask', async () => {
  const root = path.join(tmp, 'ham');
  await png(path.join(root, 'HAM10000_images_part_1', 'ISIC_1.png'));
  await png(path.join(root, 'HAM10000_images_part_1', 'ISIC_2.png'));
  let r = await checkDataset(root);
  assert.is(r.kind, 'ham10000');
  assert.equal(r.missing, ['HAM10000_metadata.csv']);
  assert.is(r.ok, false);

  write(path.join(root, 'HAM10000_metadata.csv'), 'lesion_id,image_id\nL1,ISIC_1\n');
  r = await checkDataset(root);
  assert.ok(r.problems.some((p) => p === 'HAM10000_metadata.csv lacks column dx (header: lesion_id, image_id)'), r.problems.join('\n'));

  write(path.join(root, 'HAM10000_metadata.csv'), 'lesion_id,image_id,dx,dataset\nL1,ISIC_1,nv,rosendahl\nL2,ISIC_2,xyz,vienna\nL3,ISIC_3,mel,vienna\n');
  await png(path.join(root, 'HAM10000_segmentations_lesion_tschandl', 'ISIC_1_segmentation.png'));
  r = await checkDataset(root);
  assert.equal(r.found, { csvRows: 3, images: 2, rowsWithImage: 2, sites: 2, masks: 1, pairs: 1 });
  assert.ok(r.problems.some((p) => p.startsWith("1 row has an unknown dx") && p.includes("row 3 (ISIC_2): dx 'xyz'")), r.problems.join('\n'));
  assert.ok(r.problems.some((p) => p.includes('no mask named <image stem>_segmentation.<ext>') && p.includes('ISIC_2.png')), r.problems.join('\n'));
  assert.ok(r.notes.some((n) => n.startsWith('1 of 3 CSV rows have no image')));
});

test('cvc: Original without Ground Truth', async () => {
  const root = path.join(tmp, 'cvc', 'CVC-ClinicDB');
  await png(path.join(root, 'Original', '1.png'));
  const r = await checkDataset(path.dirname(root));
  assert.is(r.kind, 'cvc');
  assert.is(r.root, root);
  assert.equal(r.missing, ['Ground Truth/']);
});

test('nifti: nnU-Net pairs, a label on another grid, no volumes', async () => {
  const root = path.join(tmp, 'nn');
  nifti(path.join(root, 'imagesTr', 'case_001_0000.nii'), [4, 3, 2]);
  nifti(path.join(root, 'labelsTr', 'case_001.nii'), [4, 3, 2]);
  nifti(path.join(root, 'imagesTr', 'case_002_0000.nii'), [4, 3, 2]);
  nifti(path.join(root, 'labelsTr', 'case_002.nii'), [4, 3, 5]);
  const r = await checkDataset(root);
  assert.is(r.kind, 'nifti');
  assert.is(r.ok, false);
  assert.is(r.found.pairs, 1);
  assert.ok(r.problems.some((p) => p.includes('labelsTr/case_002.nii is 4x3x5 but imagesTr/case_002_0000.nii is 4x3x2')), r.problems.join('\n'));
  const empty = path.join(tmp, 'empty');
  fs.mkdirSync(empty, { recursive: true });
  const e = await checkDataset(empty, 'nifti');
  assert.equal(e.missing, ['*.nii / *.nii.gz volumes']);
});

test('medfl datasets check: exit codes, text and JSON output', async () => {
  const none = await medfl(['datasets', 'check']);
  assert.is(none.code, 2);
  assert.match(none.err, /no path given/);
  assert.is((await medfl(['datasets', 'check', tmp, '--kind', 'dicom'])).code, 2);
  const bad = await medfl(['datasets', 'check', path.join(tmp, 'kv-nomasks'), '--kind', 'kvasir']);
  assert.is(bad.code, 1);
  assert.match(bad.out, /kvasir — NOT OK\n.*\n  missing:  masks\//);
  const root = path.join(tmp, 'nn-ok');
  nifti(path.join(root, 'a_image.nii'), [2, 2, 2]);
  nifti(path.join(root, 'a_seg.nii'), [2, 2, 2]);
  // `check` is optional
  const ok = await medfl(['datasets', root, '--json']);
  assert.is(ok.code, 0, ok.text);
  const j = JSON.parse(ok.out);
  assert.equal([j.kind, j.ok, j.found.pairs], ['nifti', true, 1]);
  const two = await medfl(['datasets', 'check', root, root, '--json']);
  assert.is(JSON.parse(two.out).length, 2);
});

test.run();
