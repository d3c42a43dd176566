import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeNifti1, parseNifti, readNifti, type Mat4 } from '../../src/data/nifti';
import { openNiftiSlices } from '../../src/data/nifti-slices';
import { axisCodes, extractSlice, matMul4, reorient } from '../../src/data/orientation';
import { applyWindow, percentile, resolveWindow } from '../../src/data/window';
import { rejectsDataError, rmTemp, shared, tempDir } from './helpers';

const REF = shared('ct-totalsegmentator', 'tests', 'reference_files');
const CT_SM = path.join(REF, 'example_ct_sm.nii.gz');
const SEG = path.join(REF, 'example_seg.nii.gz');
const CT_LONG = path.join(REF, 'example_ct.nii.gz');
const AORTA_CT = path.join(REF, 'aorta_report', 'test_result', 'models', 'ct_cropped.nii.gz');

function close(a: number, b: number, tol = 1e-4, msg = ''): void {
  assert.ok(Math.abs(a - b) <= tol, `${msg} expected ${b}, got ${a}`);
}

function closeMat(a: Mat4, b: Mat4, tol = 1e-4): void {
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) close(a[r][c], b[r][c], tol, `[${r}][${c}]`);
}

test('example_ct_sm + example_seg: 122x101x30 int16 CT in RAS, 41 labels present', async () => {
  const ct = await readNifti(CT_SM);
  const seg = await readNifti(SEG);
  assert.equal(ct.shape, [122, 101, 30]);
  assert.equal(seg.shape, [122, 101, 30]);
  assert.is(ct.header.datatype, 'int16');
  assert.is(axisCodes(ct.affine), 'RAS');
  for (const s of ct.spacing) close(s, 3, 1e-3);
  closeMat(ct.affine, seg.affine);
  const labels = new Set<number>();
  for (const v of seg.data) if (v !== 0) labels.add(v);
  assert.is(labels.size, 41);
  assert.ok(labels.has(5), 'liver (id 5) present');
  // HU range of a CT: air near -1000 (or padding below), bone well above 0
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of ct.data) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  assert.ok(lo <= -1000 && hi > 300, `HU range ${lo}..${hi}`);
});

test('our parser agrees with nifti-reader-js on header, affine and voxels (RAS and LPS files)', async () => {
  const nr = await import('nifti-reader-js');
  for (const file of [CT_SM, AORTA_CT, SEG]) {
    const ours = await readNifti(file);
    const bytes = zlib.gunzipSync(fs.readFileSync(file));
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const hdr = nr.readHeader(ab);
    assert.ok(hdr);
    assert.equal(ours.header.dims, hdr!.dims.slice(1, 1 + hdr!.dims[0]));
    assert.is(ours.header.datatypeCode, hdr!.datatypeCode);
    for (let k = 0; k < 3; k++) close(ours.header.pixdim[k], hdr!.pixDims[k + 1], 1e-6);
    closeMat(ours.affine, hdr!.affine);
    const raw = nr.readImage(hdr!, ab);
    const typed = hdr!.datatypeCode === 4 ? new Int16Array(raw) : hdr!.datatypeCode === 2 ? new Uint8Array(raw) : hdr!.datatypeCode === 8 ? new Int32Array(raw) : new Float32Array(raw);
    const slope = hdr!.scl_slope || 1;
    const inter = hdr!.scl_slope ? hdr!.scl_inter : 0;
    for (let i = 0; i < typed.length; i += 997) close(ours.data[i], typed[i] * slope + inter, 1e-3, `${path.basename(file)} voxel ${i}`);
  }
  // the aorta crop is stored LPS
  assert.is(axisCodes((await readNifti(AORTA_CT)).affine), 'LPS');
});

test('axial slice dataset: 30 slices, resized image/mask, label ids present, meta', async () => {
  const ds = await openNiftiSlices({ image: CT_SM, label: SEG, axis: 'axial', size: [48, 48], window: 'abdomen', site: 'ts', patientId: 'p1' });
  assert.is(ds.length, 30);
  assert.is(ds.task, 'segmentation');
  assert.equal(ds.windowRange, [-160, 240]);
  assert.ok(ds.maskClasses.length >= 42 && ds.maskClasses[0] === 'background');
  const s = await ds.load(15);
  assert.equal(s.shape, [48, 48, 1]);
  assert.is(s.image.length, 48 * 48);
  assert.ok(s.image.every((v) => v >= 0 && v <= 1));
  assert.is(s.mask!.length, 48 * 48);
  const ids = new Set(s.mask!);
  assert.ok(ids.size > 3, `several organs on the mid slice, got ids ${[...ids]}`);
  // nearest resize: every mask id exists in the native slice
  const native = await (await openNiftiSlices({ image: CT_SM, label: SEG, window: 'abdomen' })).load(15);
  assert.equal(native.shape, [101, 122, 1]);
  const nativeIds = new Set(native.mask!);
  for (const id of ids) assert.ok(nativeIds.has(id));
  assert.equal(s.meta.axis, 'axial');
  assert.is(s.meta.slice, 15);
  assert.is(s.meta.site, 'ts');
  assert.is(s.meta.patientId, 'p1');
  const cor = await openNiftiSlices({ image: CT_SM, axis: 'coronal', channels: 3 });
  assert.is(cor.length, 101);
  const c = await cor.load(50);
  assert.equal(c.shape, [30, 122, 3]);
  assert.is(c.mask, undefined);
  assert.is((await openNiftiSlices({ image: CT_SM, axis: 'sagittal' })).length, 122);
});

test('labelMap merges ids into a smaller class set; minForeground keeps only slices with those classes', async () => {
  // TotalSegmentator v2 ids: 2 = kidney_right, 3 = kidney_left, 4 = gallbladder
  const ds = await openNiftiSlices({
    image: CT_SM,
    label: SEG,
    labelMap: { 2: 1, 3: 1, 4: 2 },
    maskClasses: ['background', 'kidney', 'gallbladder'],
    minForeground: 1,
    size: [32, 32],
  });
  assert.equal([...ds.maskClasses], ['background', 'kidney', 'gallbladder']);
  // independent count on the raw (already RAS) volume: axial slice k = voxels with third index k
  const seg = await readNifti(SEG);
  assert.is(axisCodes(seg.affine), 'RAS');
  const [nx, ny, nz] = seg.shape;
  const expectedSlices: number[] = [];
  let kept = 0;
  for (let k = 0; k < nz; k++) {
    let n = 0;
    for (let p = 0; p < nx * ny; p++) {
      const v = seg.data[p + nx * ny * k];
      if (v === 2 || v === 3 || v === 4) n++;
    }
    if (n > 0) {
      expectedSlices.push(k);
      kept += n;
    }
  }
  assert.ok(expectedSlices.length > 0 && expectedSlices.length < nz);
  assert.equal(Array.from({ length: ds.length }, (_, i) => ds.info(i).meta.slice), expectedSlices);
  let counted = 0;
  const seen = new Set<number>();
  for (let i = 0; i < ds.length; i++) {
    counted += ds.info(i).meta.foregroundPixels as number;
    const s = await ds.load(i);
    for (const v of s.mask!) seen.add(v);
  }
  assert.is(counted, kept, 'foreground counts add up to the mapped voxels');
  assert.equal([...seen].sort(), [0, 1, 2]);
  await rejectsDataError(() => openNiftiSlices({ image: CT_SM, label: SEG, labelMap: { 2: 1, 3: 2 }, maskClasses: ['background', 'kidney'] }), 'invalid-option', [
    SEG,
    'maskClasses',
  ]);
});

test('label volume on another grid: DataError naming both files and both shapes', async () => {
  await rejectsDataError(() => openNiftiSlices({ image: CT_LONG, label: SEG }), 'shape-mismatch', [CT_LONG, SEG, '122x101x112', '122x101x30']);
});

test('CT windows: hand-computed values', () => {
  assert.equal(resolveWindow('lung', []), [-1350, 150]);
  assert.equal(resolveWindow('abdomen', []), [-160, 240]);
  assert.equal(resolveWindow('soft-tissue', []), [-160, 240]);
  assert.equal(resolveWindow('bone', []), [-500, 1300]);
  assert.equal(resolveWindow('brain', []), [0, 80]);
  assert.equal(resolveWindow({ center: 100, width: 50 }, []), [75, 125]);
  const hu = [-2000, -1350, -1000, -600, 0, 150, 1000];
  const lung = applyWindow(hu, resolveWindow('lung', []));
  const expLung = [0, 0, 350 / 1500, 0.5, 1350 / 1500, 1, 1];
  expLung.forEach((e, i) => close(lung[i], e, 1e-6, `lung ${hu[i]} HU`));
  const abd = applyWindow(hu, resolveWindow('abdomen', []));
  const expAbd = [0, 0, 0, 0, 0.4, 310 / 400, 1]; // air -1000 HU -> 0, water 0 HU -> 160/400
  expAbd.forEach((e, i) => close(abd[i], e, 1e-6, `abdomen ${hu[i]} HU`));
  const brain = applyWindow([-1000, 0, 40, 80, 1000], resolveWindow('brain', []));
  assert.equal(Array.from(brain), [0, 0, 0.5, 1, 1]);
  assert.throws(() => resolveWindow('nope' as never, []), /unknown window 'nope'/);
});

test('percentile normalisation matches numpy (linear interpolation)', () => {
  const v = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
  close(percentile(v, 1), 1.99, 1e-9);
  close(percentile(v, 99), 99.01, 1e-9);
  close(percentile(v, 50), 50.5, 1e-9);
  close(percentile([3, 1, 2], 0), 1, 0);
  close(percentile([3, 1, 2], 100), 3, 0);
  const [lo, hi] = resolveWindow({ percentiles: [1, 99] }, v);
  close(lo, 1.99, 1e-9);
  close(hi, 99.01, 1e-9);
  const nz = resolveWindow({ percentiles: [0, 100], nonzero: true }, [0, 0, 5, 10]);
  assert.equal(nz, [5, 10]);
  assert.equal(resolveWindow('minmax', [4, -2, 9]), [-2, 9]);
});

test('display convention: axial = [A (top=anterior), R (left=patient right)], hand table', () => {
  // RAS volume 2x3x2, V[i, j, k] = i + 10 j + 100 k
  const shape: [number, number, number] = [2, 3, 2];
  const data = new Float32Array(12);
  for (let k = 0; k < 2; k++) for (let j = 0; j < 3; j++) for (let i = 0; i < 2; i++) data[i + 2 * (j + 3 * k)] = i + 10 * j + 100 * k;
  // axial k=0: row r -> j = 2 - r, col c -> i = 1 - c
  assert.equal(Array.from(extractSlice(data, shape, 'axial', 0)), [21, 20, 11, 10, 1, 0]);
  // coronal j=1: row r -> k = 1 - r, col c -> i = 1 - c
  assert.equal(Array.from(extractSlice(data, shape, 'coronal', 1)), [111, 110, 11, 10]);
  // sagittal i=0: row r -> k = 1 - r, col c -> j = 2 - c (anterior on the left)
  assert.equal(Array.from(extractSlice(data, shape, 'sagittal', 0)), [120, 110, 100, 20, 10, 0]);
  assert.throws(() => extractSlice(data, shape, 'axial', 2), /out of range/);
});

test('reorientation: a permuted + flipped copy (sform) reorients to the same RAS array and affine', () => {
  const shape: [number, number, number] = [4, 3, 5];
  const [nx, ny, nz] = shape;
  const ras = new Float32Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) ras[i + nx * (j + ny * k)] = i + 10 * j + 100 * k;
  const affine: Mat4 = [
    [2, 0, 0, -10],
    [0, 3, 0, 20],
    [0, 0, 4, -30],
    [0, 0, 0, 1],
  ];
  // Stored copy E with axes (a, b, c) = (k, i flipped, j): E[a, b, c] = RAS[nx-1-b, c, a], shape [nz, nx, ny].
  const eShape: [number, number, number] = [nz, nx, ny];
  const e = new Float32Array(ras.length);
  for (let c = 0; c < ny; c++) for (let b = 0; b < nx; b++) for (let a = 0; a < nz; a++) e[a + nz * (b + nx * c)] = ras[nx - 1 - b + nx * (c + ny * a)];
  // T maps E indices (a, b, c) to RAS indices (i, j, k) = (nx-1-b, c, a)
  const t: Mat4 = [
    [0, -1, 0, nx - 1],
    [0, 0, 1, 0],
    [1, 0, 0, 0],
    [0, 0, 0, 1],
  ];
  const eAffine = matMul4(affine, t);
  const volA = parseNifti(encodeNifti1({ data: ras, shape, affine, datatype: 'int16' }), 'a.nii');
  const volE = parseNifti(encodeNifti1({ data: e, shape: eShape, affine: eAffine, datatype: 'float32', gzip: true }), 'e.nii.gz');
  assert.is(axisCodes(volA.affine), 'RAS');
  assert.is(axisCodes(volE.affine), 'SLA');
  const ca = reorient(volA);
  const ce = reorient(volE);
  assert.equal(ce.shape, [4, 3, 5]);
  assert.equal(Array.from(ce.data), Array.from(ca.data));
  assert.equal(Array.from(ca.data), Array.from(ras));
  closeMat(ce.affine, affine, 1e-5);
  assert.equal(ce.spacing, [2, 3, 4]);
  // to LPS and back
  const lps = reorient(ca, 'LPS');
  assert.is(axisCodes(lps.affine), 'LPS');
  assert.equal(Array.from(reorient(lps, 'RAS').data), Array.from(ras));
  assert.is(lps.data[0], ras[nx - 1 + nx * (ny - 1)], 'voxel 0 of LPS = right-most, anterior-most of RAS at k=0');
});

test('qform-only header (quaternion 180 deg about z = LPS) and scl_slope/inter are honoured', () => {
  const shape: [number, number, number] = [2, 2, 1];
  const bytes = encodeNifti1({ data: [1, 2, 3, 4], shape, datatype: 'int16', sclSlope: 2, sclInter: -1 });
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  v.setInt16(254, 0, true); // sform_code 0
  v.setInt16(252, 1, true); // qform_code 1
  v.setFloat32(256, 0, true); // b
  v.setFloat32(260, 0, true); // c
  v.setFloat32(264, 1, true); // d
  v.setFloat32(268, 5, true); // qoffset_x
  const vol = parseNifti(bytes, 'q.nii');
  assert.is(vol.header.affineSource, 'qform');
  assert.is(axisCodes(vol.affine), 'LPS');
  closeMat(vol.affine, [
    [-1, 0, 0, 5],
    [0, -1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ]);
  assert.equal(Array.from(vol.data), [1, 3, 5, 7]);
  // RAS: both x and y flipped -> [7, 5, 3, 1]
  assert.equal(Array.from(reorient(vol).data), [7, 5, 3, 1]);
});

test('bad NIfTI input: DataErrors name the file', async () => {
  const dir = tempDir();
  try {
    const junk = path.join(dir, 'junk.nii');
    fs.writeFileSync(junk, Buffer.alloc(400, 7));
    await rejectsDataError(() => readNifti(junk), 'nifti-format', [junk, 'sizeof_hdr']);
    const badGz = path.join(dir, 'bad.nii.gz');
    fs.writeFileSync(badGz, Buffer.from([0x1f, 0x8b, 1, 2, 3, 4]));
    await rejectsDataError(() => readNifti(badGz), 'nifti-format', [badGz, 'gzip']);
    const truncated = path.join(dir, 'trunc.nii');
    fs.writeFileSync(truncated, encodeNifti1({ data: new Float32Array(8), shape: [2, 2, 2] }).subarray(0, 352 + 10));
    await rejectsDataError(() => readNifti(truncated), 'nifti-format', [truncated, 'truncated']);
    await rejectsDataError(() => readNifti(path.join(dir, 'absent.nii.gz')), 'missing-file', ['absent.nii.gz']);
  } finally {
    rmTemp(dir);
  }
});

test.run();
