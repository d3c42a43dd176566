/**
 * NIfTI-1 / NIfTI-2 volumes (`.nii`, `.nii.gz`): header and voxel parsing,
 * the voxel-to-world affine (sform, else qform, else nibabel's pixdim
 * fallback), and a minimal NIfTI-1 writer. Reorientation and slicing live in
 * `./orientation`, intensity windows in `./window`, the slice dataset in
 * `./nifti-slices`.
 *
 * Departure from the brief: the header/voxel parser is our own (the NIfTI-1
 * spec, https://nifti.nimh.nih.gov/nifti-1, and the NIfTI-2 layout) rather
 * than `nifti-reader-js`: its 0.8.0 release is ESM-only (its package
 * `exports` has only an `import` condition), so it cannot be `require`d from
 * medfl's CommonJS build or tslab. The tests cross-check this parser against
 * nifti-reader-js (loaded with a dynamic `import()`).
 *
 * Volume layout: `data` is a `Float32Array` in NIfTI (Fortran) order, the
 * first voxel axis fastest: value of voxel (i, j, k) is
 * `data[i + I * (j + J * k)]` for `shape = [I, J, K]`.
 */
import { promises as fsp } from 'fs';
import * as zlib from 'zlib';
import { DataError, errorMessage } from './errors';

/** Voxel data types we read (NIfTI `datatype` codes 2, 4, 8, 16, 64, 256, 512, 768, 1024, 1280). */
export type NiftiDatatype = 'uint8' | 'int16' | 'int32' | 'float32' | 'float64' | 'int8' | 'uint16' | 'uint32' | 'int64' | 'uint64';

const DATATYPES: Readonly<Record<number, { name: NiftiDatatype; bytes: number }>> = {
  2: { name: 'uint8', bytes: 1 },
  4: { name: 'int16', bytes: 2 },
  8: { name: 'int32', bytes: 4 },
  16: { name: 'float32', bytes: 4 },
  64: { name: 'float64', bytes: 8 },
  256: { name: 'int8', bytes: 1 },
  512: { name: 'uint16', bytes: 2 },
  768: { name: 'uint32', bytes: 4 },
  1024: { name: 'int64', bytes: 8 },
  1280: { name: 'uint64', bytes: 8 },
};

/** NIfTI datatype code of each supported type (for {@link encodeNifti1}). */
export const NIFTI_DATATYPE_CODES: Readonly<Record<NiftiDatatype, number>> = {
  uint8: 2,
  int16: 4,
  int32: 8,
  float32: 16,
  float64: 64,
  int8: 256,
  uint16: 512,
  uint32: 768,
  int64: 1024,
  uint64: 1280,
};

/** A 4x4 row-major matrix as nested arrays. */
export type Mat4 = number[][];

/** The header fields medfl uses. */
export interface NiftiHeader {
  version: 1 | 2;
  littleEndian: boolean;
  /** `dim[1..dim[0]]`, e.g. `[122, 101, 30]`. */
  dims: number[];
  /** `pixdim[1..dim[0]]` (voxel sizes, usually mm). */
  pixdim: number[];
  /** `pixdim[0]` as used by the qform: -1 or 1. */
  qfac: number;
  datatypeCode: number;
  datatype: NiftiDatatype;
  bitpix: number;
  voxOffset: number;
  /** Intensity scaling `value * sclSlope + sclInter` (not applied when `sclSlope` is 0 or not finite). */
  sclSlope: number;
  sclInter: number;
  qformCode: number;
  sformCode: number;
  /** qform quaternion (b, c, d) and offset (x, y, z). */
  quatern: [number, number, number];
  qoffset: [number, number, number];
  /** sform rows `srow_x`, `srow_y`, `srow_z` (3x4). */
  srow: number[][];
  /** The voxel->world affine medfl uses ({@link NiftiHeader.affineSource}). */
  affine: Mat4;
  affineSource: 'sform' | 'qform' | 'pixdim';
  description: string;
  xyztUnits: number;
}

/** A decoded 3-D volume. */
export interface NiftiVolume {
  header: NiftiHeader;
  /** File it was read from (for errors). */
  file: string;
  /** Scaled voxel values, Fortran order (first axis fastest). */
  data: Float32Array;
  /** `[I, J, K]` voxel counts. */
  shape: [number, number, number];
  /** Voxel sizes along the three voxel axes (mm), from the affine columns. */
  spacing: [number, number, number];
  /** Voxel (i, j, k, 1) -> world (x, y, z, 1), NIfTI world = RAS+ mm. */
  affine: Mat4;
}

function niftiError(file: string, problem: string, underlying?: unknown): DataError {
  return new DataError({ file, kind: 'nifti-format', expected: 'a NIfTI-1 or NIfTI-2 file (.nii or .nii.gz)', problem, underlying });
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Gunzip when the bytes start with the gzip magic; otherwise return them unchanged. */
export function maybeGunzip(bytes: Uint8Array, file = '<buffer>'): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return new Uint8Array(zlib.gunzipSync(bytes));
  } catch (err) {
    throw niftiError(file, `corrupt gzip stream: ${errorMessage(err)}`, err);
  }
}

function readString(view: DataView, at: number, len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) {
    const c = view.getUint8(at + i);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

function quaternToAffine(q: [number, number, number], off: [number, number, number], pixdim: number[], qfac: number): Mat4 {
  let [b, c, d] = q;
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    const n = 1 / Math.sqrt(b * b + c * c + d * d);
    b *= n;
    c *= n;
    d *= n;
    a = 0;
  } else a = Math.sqrt(a);
  const xd = pixdim[0] > 0 ? pixdim[0] : 1;
  const yd = pixdim[1] > 0 ? pixdim[1] : 1;
  let zd = pixdim[2] > 0 ? pixdim[2] : 1;
  if (qfac < 0) zd = -zd;
  return [
    [(a * a + b * b - c * c - d * d) * xd, 2 * (b * c - a * d) * yd, 2 * (b * d + a * c) * zd, off[0]],
    [2 * (b * c + a * d) * xd, (a * a + c * c - b * b - d * d) * yd, 2 * (c * d - a * b) * zd, off[1]],
    [2 * (b * d - a * c) * xd, 2 * (c * d + a * b) * yd, (a * a + d * d - c * c - b * b) * zd, off[2]],
    [0, 0, 0, 1],
  ];
}

/**
 * nibabel's affine for headers without sform/qform: voxel sizes on the
 * diagonal, x flipped (ANALYZE radiological storage), origin at the centre.
 */
function fallbackAffine(dims: number[], pixdim: number[]): Mat4 {
  const z = [0, 1, 2].map((k) => (pixdim[k] > 0 ? pixdim[k] : 1));
  const n = [0, 1, 2].map((k) => dims[k] ?? 1);
  return [
    [-z[0], 0, 0, ((n[0] - 1) / 2) * z[0]],
    [0, z[1], 0, (-(n[1] - 1) / 2) * z[1]],
    [0, 0, z[2], (-(n[2] - 1) / 2) * z[2]],
    [0, 0, 0, 1],
  ];
}

/**
 * Parse the header of (uncompressed) NIfTI-1/2 bytes. Throws a
 * `nifti-format` {@link DataError} naming `file` for anything else
 * (including the two-file `.hdr`/`.img` form, which is not supported).
 */
export function parseNiftiHeader(bytes: Uint8Array, file = '<buffer>'): NiftiHeader {
  if (bytes.length < 348) throw niftiError(file, `only ${bytes.length} bytes, shorter than a NIfTI header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let version: 1 | 2;
  let le: boolean;
  const sz = view.getInt32(0, true);
  if (sz === 348 || sz === 540) {
    le = true;
    version = sz === 348 ? 1 : 2;
  } else {
    const szBe = view.getInt32(0, false);
    if (szBe !== 348 && szBe !== 540) throw niftiError(file, `sizeof_hdr is ${sz}, not 348 (NIfTI-1) or 540 (NIfTI-2)`);
    le = false;
    version = szBe === 348 ? 1 : 2;
  }
  if (version === 2 && bytes.length < 540) throw niftiError(file, `only ${bytes.length} bytes, shorter than a NIfTI-2 header`);
  const magic = version === 1 ? readString(view, 344, 4) : readString(view, 4, 4);
  if (magic !== (version === 1 ? 'n+1' : 'n+2')) {
    throw niftiError(
      file,
      magic === 'ni1' || magic === 'ni2'
        ? `two-file NIfTI (.hdr/.img, magic '${magic}') is not supported; convert it to a single .nii`
        : `bad magic '${magic}'`,
    );
  }
  const i16 = (o: number) => view.getInt16(o, le);
  const i32 = (o: number) => view.getInt32(o, le);
  const f32 = (o: number) => view.getFloat32(o, le);
  const f64 = (o: number) => view.getFloat64(o, le);
  const i64 = (o: number) => Number(view.getBigInt64(o, le));
  const dimRaw: number[] = [];
  const pixRaw: number[] = [];
  let datatypeCode: number;
  let bitpix: number;
  let voxOffset: number;
  let sclSlope: number;
  let sclInter: number;
  let qformCode: number;
  let sformCode: number;
  let quatern: [number, number, number];
  let qoffset: [number, number, number];
  const srow: number[][] = [];
  let description: string;
  let xyztUnits: number;
  if (version === 1) {
    for (let k = 0; k < 8; k++) dimRaw.push(i16(40 + 2 * k));
    datatypeCode = i16(70);
    bitpix = i16(72);
    for (let k = 0; k < 8; k++) pixRaw.push(f32(76 + 4 * k));
    voxOffset = f32(108);
    sclSlope = f32(112);
    sclInter = f32(116);
    xyztUnits = view.getUint8(123);
    description = readString(view, 148, 80);
    qformCode = i16(252);
    sformCode = i16(254);
    quatern = [f32(256), f32(260), f32(264)];
    qoffset = [f32(268), f32(272), f32(276)];
    for (let r = 0; r < 3; r++) srow.push([0, 1, 2, 3].map((c) => f32(280 + 16 * r + 4 * c)));
  } else {
    datatypeCode = i16(12);
    bitpix = i16(14);
    for (let k = 0; k < 8; k++) dimRaw.push(i64(16 + 8 * k));
    for (let k = 0; k < 8; k++) pixRaw.push(f64(104 + 8 * k));
    voxOffset = i64(168);
    sclSlope = f64(176);
    sclInter = f64(184);
    description = readString(view, 240, 80);
    qformCode = i32(344);
    sformCode = i32(348);
    quatern = [f64(352), f64(360), f64(368)];
    qoffset = [f64(376), f64(384), f64(392)];
    for (let r = 0; r < 3; r++) srow.push([0, 1, 2, 3].map((c) => f64(400 + 32 * r + 8 * c)));
    xyztUnits = i32(500);
  }
  const ndim = dimRaw[0];
  if (!(ndim >= 1 && ndim <= 7)) throw niftiError(file, `dim[0] = ${ndim}, expected 1..7`);
  const dims = dimRaw.slice(1, 1 + ndim);
  if (dims.some((d) => !(d >= 1))) throw niftiError(file, `dimensions [${dims.join(', ')}] must all be >= 1`);
  const pixdim = pixRaw.slice(1, 1 + ndim);
  const dt = DATATYPES[datatypeCode];
  if (!dt) {
    throw niftiError(file, `unsupported datatype code ${datatypeCode} (supported: ${Object.entries(DATATYPES).map(([c, d]) => `${c}=${d.name}`).join(', ')})`);
  }
  const qfac = pixRaw[0] < 0 ? -1 : 1;
  let affine: Mat4;
  let affineSource: NiftiHeader['affineSource'];
  if (sformCode > 0) {
    affine = [...srow.map((r) => [...r]), [0, 0, 0, 1]];
    affineSource = 'sform';
  } else if (qformCode > 0) {
    affine = quaternToAffine(quatern, qoffset, pixdim.slice(0, 3), qfac);
    affineSource = 'qform';
  } else {
    affine = fallbackAffine(dims, pixdim);
    affineSource = 'pixdim';
  }
  return {
    version,
    littleEndian: le,
    dims,
    pixdim,
    qfac,
    datatypeCode,
    datatype: dt.name,
    bitpix,
    voxOffset,
    sclSlope,
    sclInter,
    qformCode,
    sformCode,
    quatern,
    qoffset,
    srow,
    affine,
    affineSource,
    description,
    xyztUnits,
  };
}

/** Options of {@link parseNifti} / {@link readNifti}. */
export interface ReadNiftiOptions {
  /** For 4-D files: which volume (4th index) to read. Default 0. */
  frame?: number;
}

/**
 * Parse NIfTI bytes (gzipped or not) into a 3-D float volume with
 * `scl_slope`/`scl_inter` applied. 1-/2-D images get size-1 trailing axes;
 * 4-D images give volume `frame`; 5-D+ are rejected.
 */
export function parseNifti(input: Uint8Array, file = '<buffer>', options: ReadNiftiOptions = {}): NiftiVolume {
  const bytes = maybeGunzip(input, file);
  const header = parseNiftiHeader(bytes, file);
  const dims = header.dims;
  if (dims.length > 4) throw niftiError(file, `${dims.length}-D image (dims [${dims.join(', ')}]); only 1- to 4-D are supported`);
  const shape: [number, number, number] = [dims[0], dims[1] ?? 1, dims[2] ?? 1];
  const frames = dims[3] ?? 1;
  const frame = options.frame ?? 0;
  if (!Number.isInteger(frame) || frame < 0 || frame >= frames) {
    throw new DataError({ file, kind: 'invalid-option', expected: `frame in [0, ${frames})`, problem: `got frame ${frame}` });
  }
  const n = shape[0] * shape[1] * shape[2];
  const bpv = DATATYPES[header.datatypeCode].bytes;
  const start = Math.round(header.voxOffset) + frame * n * bpv;
  const need = start + n * bpv;
  if (bytes.length < need) {
    throw niftiError(file, `truncated: header says ${dims.join('x')} ${header.datatype} voxels from byte ${Math.round(header.voxOffset)}, needing ${need} bytes, file has ${bytes.length}`);
  }
  const data = new Float32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, n * bpv);
  const le = header.littleEndian;
  const get: (o: number) => number = {
    uint8: (o: number) => view.getUint8(o),
    int8: (o: number) => view.getInt8(o),
    int16: (o: number) => view.getInt16(o, le),
    uint16: (o: number) => view.getUint16(o, le),
    int32: (o: number) => view.getInt32(o, le),
    uint32: (o: number) => view.getUint32(o, le),
    float32: (o: number) => view.getFloat32(o, le),
    float64: (o: number) => view.getFloat64(o, le),
    int64: (o: number) => Number(view.getBigInt64(o, le)),
    uint64: (o: number) => Number(view.getBigUint64(o, le)),
  }[header.datatype];
  for (let v = 0; v < n; v++) data[v] = get(v * bpv);
  const slope = header.sclSlope;
  if (Number.isFinite(slope) && slope !== 0 && !(slope === 1 && header.sclInter === 0)) {
    const inter = Number.isFinite(header.sclInter) ? header.sclInter : 0;
    for (let v = 0; v < n; v++) data[v] = data[v] * slope + inter;
  }
  const a = header.affine;
  const spacing = [0, 1, 2].map((c) => Math.hypot(a[0][c], a[1][c], a[2][c])) as [number, number, number];
  return { header, file, data, shape, spacing, affine: a.map((r) => [...r]) };
}

/** Read a `.nii` / `.nii.gz` file ({@link parseNifti}); DataErrors name the file. */
export async function readNifti(file: string, options: ReadNiftiOptions = {}): Promise<NiftiVolume> {
  let bytes: Uint8Array;
  try {
    bytes = await fsp.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataError({
      file,
      kind: code === 'ENOENT' ? 'missing-file' : 'unreadable',
      expected: 'a NIfTI file (.nii or .nii.gz)',
      problem: code === 'ENOENT' ? 'file not found' : errorMessage(err),
      underlying: err,
    });
  }
  return parseNifti(bytes, file, options);
}

// ---------------------------------------------------------------------------
// Writing (tests, exporting predictions)
// ---------------------------------------------------------------------------

/** Options of {@link encodeNifti1}. */
export interface EncodeNiftiOptions {
  /** Voxel values in Fortran order (first axis fastest). */
  data: ArrayLike<number>;
  /** `[I, J, K]`. */
  shape: readonly [number, number, number];
  /** Voxel->world affine written as sform (code 2, aligned) and qform (code 0). Default: identity. */
  affine?: Mat4;
  /** Stored type. Default `'float32'`. */
  datatype?: 'uint8' | 'int16' | 'int32' | 'float32';
  /** scl_slope / scl_inter to store (values are written as given). Default 1 / 0. */
  sclSlope?: number;
  sclInter?: number;
  /** gzip the output (`.nii.gz`). Default false. */
  gzip?: boolean;
}

/**
 * Encode a 3-D volume as a single-file little-endian NIfTI-1 (`n+1`,
 * vox_offset 352, sform code 2). pixdim are the affine's column norms.
 */
export function encodeNifti1(options: EncodeNiftiOptions): Uint8Array {
  const [nx, ny, nz] = options.shape;
  const n = nx * ny * nz;
  if (options.data.length !== n) throw new RangeError(`encodeNifti1: data length ${options.data.length} != ${nx}*${ny}*${nz}`);
  const affine = options.affine ?? [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];
  const dtName = options.datatype ?? 'float32';
  const code = NIFTI_DATATYPE_CODES[dtName];
  const bpv = DATATYPES[code].bytes;
  const buf = new ArrayBuffer(352 + n * bpv);
  const v = new DataView(buf);
  v.setInt32(0, 348, true);
  v.setInt16(40, 3, true);
  v.setInt16(42, nx, true);
  v.setInt16(44, ny, true);
  v.setInt16(46, nz, true);
  for (let k = 4; k < 8; k++) v.setInt16(40 + 2 * k, 1, true);
  v.setInt16(70, code, true);
  v.setInt16(72, bpv * 8, true);
  v.setFloat32(76, 1, true);
  for (let c = 0; c < 3; c++) v.setFloat32(80 + 4 * c, Math.hypot(affine[0][c], affine[1][c], affine[2][c]), true);
  v.setFloat32(108, 352, true);
  v.setFloat32(112, options.sclSlope ?? 1, true);
  v.setFloat32(116, options.sclInter ?? 0, true);
  v.setUint8(123, 2 | 8); // mm, sec
  v.setInt16(252, 0, true);
  v.setInt16(254, 2, true);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) v.setFloat32(280 + 16 * r + 4 * c, affine[r][c], true);
  for (let k = 0; k < 4; k++) v.setUint8(344 + k, 'n+1\0'.charCodeAt(k));
  const set = {
    uint8: (o: number, x: number) => v.setUint8(o, x),
    int16: (o: number, x: number) => v.setInt16(o, x, true),
    int32: (o: number, x: number) => v.setInt32(o, x, true),
    float32: (o: number, x: number) => v.setFloat32(o, x, true),
  }[dtName];
  for (let i = 0; i < n; i++) set(352 + i * bpv, options.data[i]);
  const bytes = new Uint8Array(buf);
  return options.gzip ? new Uint8Array(zlib.gzipSync(bytes)) : bytes;
}
