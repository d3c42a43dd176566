/**
 * Voxel-axis orientation of NIfTI volumes: axis codes, reorientation to a
 * canonical order (RAS+ by default; permute/flip only, like nibabel's
 * `as_closest_canonical`), and 2-D slices in the radiological display
 * convention.
 */
import type { Mat4, NiftiVolume } from './nifti';

/** Per voxel axis: the world axis (0 = x, 1 = y, 2 = z) it runs along and the direction (+1 / -1). */
export type Orientation = [number, 1 | -1][];

function det3(m: number[][]): number {
  return (
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
  );
}

/** Inverse transpose of a 3x3 matrix (null when singular). */
function invT3(m: number[][]): number[][] | null {
  const d = det3(m);
  if (Math.abs(d) < 1e-12) return null;
  const c = (r: number, k: number): number => {
    const rows = [0, 1, 2].filter((x) => x !== r);
    const cols = [0, 1, 2].filter((x) => x !== k);
    const minor = m[rows[0]][cols[0]] * m[rows[1]][cols[1]] - m[rows[0]][cols[1]] * m[rows[1]][cols[0]];
    return ((r + k) % 2 === 0 ? 1 : -1) * minor;
  };
  // inverse = adj^T / d, so inverse transpose = cofactor / d
  return [0, 1, 2].map((r) => [0, 1, 2].map((k) => c(r, k) / d));
}

/**
 * Which world axis each voxel axis runs along, like nibabel's
 * `io_orientation`: normalise the affine's columns, take the nearest
 * orthogonal matrix (polar decomposition by Newton iteration, which equals
 * nibabel's SVD `U V^T`), then for voxel axes 0, 1, 2 in turn pick the
 * largest-magnitude world axis not yet taken.
 */
export function ioOrientation(affine: Mat4): Orientation {
  let r: number[][] = [0, 1, 2].map((row) => [0, 1, 2].map((col) => affine[row][col]));
  for (let col = 0; col < 3; col++) {
    const z = Math.hypot(r[0][col], r[1][col], r[2][col]) || 1;
    for (let row = 0; row < 3; row++) r[row][col] /= z;
  }
  for (let it = 0; it < 50; it++) {
    const it3 = invT3(r);
    if (!it3) break;
    let delta = 0;
    const next = r.map((row, a) => row.map((v, b) => 0.5 * (v + it3[a][b])));
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) delta = Math.max(delta, Math.abs(next[a][b] - r[a][b]));
    r = next;
    if (delta < 1e-12) break;
  }
  const out: Orientation = [];
  for (let inAx = 0; inAx < 3; inAx++) {
    let best = -1;
    let bestAbs = 0;
    for (let row = 0; row < 3; row++) {
      const v = Math.abs(r[row][inAx]);
      if (v > bestAbs + 1e-12) {
        bestAbs = v;
        best = row;
      }
    }
    if (best < 0) throw new Error(`ioOrientation: voxel axis ${inAx} has a zero direction in the affine`);
    out.push([best, r[best][inAx] < 0 ? -1 : 1]);
    for (let c = 0; c < 3; c++) r[best][c] = 0;
  }
  return out;
}

const POS_CODES = ['R', 'A', 'S'];
const NEG_CODES = ['L', 'P', 'I'];

/** Axis codes of an affine (nibabel `aff2axcodes`), e.g. `'RAS'`, `'LPS'`. */
export function axisCodes(affine: Mat4): string {
  return ioOrientation(affine)
    .map(([ax, s]) => (s > 0 ? POS_CODES[ax] : NEG_CODES[ax]))
    .join('');
}

function parseCodes(codes: string): [number, 1 | -1][] {
  const up = codes.toUpperCase();
  if (up.length !== 3) throw new Error(`orientation codes must be 3 letters like 'RAS' or 'LPS', got '${codes}'`);
  const res: [number, 1 | -1][] = [];
  for (const ch of up) {
    const p = POS_CODES.indexOf(ch);
    const q = NEG_CODES.indexOf(ch);
    if (p < 0 && q < 0) throw new Error(`orientation codes must use R/L, A/P, S/I, got '${codes}'`);
    res.push(p >= 0 ? [p, 1] : [q, -1]);
  }
  if (new Set(res.map((x) => x[0])).size !== 3) throw new Error(`orientation codes must name each of R/L, A/P, S/I once, got '${codes}'`);
  return res;
}

/**
 * Reorder and flip the voxel axes so they run along `target` (default
 * `'RAS'`: axis 0 towards patient Right, 1 Anterior, 2 Superior), i.e.
 * nibabel's `as_closest_canonical` for `'RAS'`. Only permutes/flips (no
 * resampling); the returned affine maps the new voxel grid to the same
 * world points. Oblique volumes keep their obliquity in the affine.
 */
export function reorient(vol: NiftiVolume, target = 'RAS'): NiftiVolume {
  const tgt = parseCodes(target);
  const ornt = ioOrientation(vol.affine);
  const n = vol.shape;
  // For input axis i: new axis j (where tgt[j] names the same world axis) and whether to flip.
  const newAxis = [0, 0, 0];
  const flip = [false, false, false];
  for (let i = 0; i < 3; i++) {
    const j = tgt.findIndex(([w]) => w === ornt[i][0]);
    newAxis[i] = j;
    flip[i] = ornt[i][1] !== tgt[j][1];
  }
  const newShape: [number, number, number] = [0, 0, 0];
  for (let i = 0; i < 3; i++) newShape[newAxis[i]] = n[i];
  const identity = newAxis.every((j, i) => j === i) && !flip.some((f) => f);
  if (identity) return { ...vol, data: vol.data, shape: [...n], affine: vol.affine.map((r) => [...r]) };
  const stride = [1, newShape[0], newShape[0] * newShape[1]];
  // Contribution of each old index along each old axis to the new linear index.
  const contrib = [0, 1, 2].map((i) => {
    const c = new Int32Array(n[i]);
    const s = stride[newAxis[i]];
    for (let t = 0; t < n[i]; t++) c[t] = (flip[i] ? n[i] - 1 - t : t) * s;
    return c;
  });
  const out = new Float32Array(vol.data.length);
  let src = 0;
  for (let k = 0; k < n[2]; k++) {
    const ck = contrib[2][k];
    for (let j = 0; j < n[1]; j++) {
      const cjk = ck + contrib[1][j];
      for (let i = 0; i < n[0]; i++) out[contrib[0][i] + cjk] = vol.data[src++];
    }
  }
  // T maps new voxel coords to old: old_i = flip ? n_i - 1 - new_{j(i)} : new_{j(i)}.
  const t: Mat4 = [
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 1],
  ];
  for (let i = 0; i < 3; i++) {
    t[i][newAxis[i]] = flip[i] ? -1 : 1;
    t[i][3] = flip[i] ? n[i] - 1 : 0;
  }
  const affine = matMul4(vol.affine, t);
  const spacing: [number, number, number] = [0, 0, 0];
  for (let i = 0; i < 3; i++) spacing[newAxis[i]] = vol.spacing[i];
  return { header: vol.header, file: vol.file, data: out, shape: newShape, spacing, affine };
}

/** Product of two 4x4 matrices. */
export function matMul4(a: Mat4, b: Mat4): Mat4 {
  return [0, 1, 2, 3].map((r) => [0, 1, 2, 3].map((c) => a[r][0] * b[0][c] + a[r][1] * b[1][c] + a[r][2] * b[2][c] + a[r][3] * b[3][c]));
}

// ---------------------------------------------------------------------------
// Slices
// ---------------------------------------------------------------------------

/** Slice plane: axial (fixed S), coronal (fixed A), sagittal (fixed R). */
export type SliceAxis = 'axial' | 'coronal' | 'sagittal';

/** Number of slices of a RAS-canonical volume along `axis`. */
export function sliceCount(shape: readonly [number, number, number], axis: SliceAxis): number {
  return axis === 'axial' ? shape[2] : axis === 'coronal' ? shape[1] : shape[0];
}

/** `[H, W]` of a slice of a RAS-canonical volume of `shape`. */
export function sliceShape(shape: readonly [number, number, number], axis: SliceAxis): [number, number] {
  const [nx, ny, nz] = shape;
  return axis === 'axial' ? [ny, nx] : axis === 'coronal' ? [nz, nx] : [nz, ny];
}

/**
 * A 2-D slice, row-major `[H, W]`, of a volume in RAS+ voxel order (see
 * {@link reorient}), in the radiological display convention:
 * - axial (index along S): viewed from the feet, patient's right on the
 *   image left, anterior at the top; `[H, W] = [A, R]` sizes.
 * - coronal (index along A): viewed from the front, patient's right on the
 *   image left, superior at the top; `[H, W] = [S, R]`.
 * - sagittal (index along R): anterior on the image left, superior at the top; `[H, W] = [S, A]`.
 * Pixels are not resampled to square: a slice of anisotropic voxels keeps the
 * voxel grid (resize it to the physical aspect yourself if needed).
 */
export function extractSlice(
  data: ArrayLike<number>,
  shape: readonly [number, number, number],
  axis: SliceAxis,
  index: number,
): Float32Array {
  const [nx, ny, nz] = shape;
  const count = sliceCount(shape, axis);
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new RangeError(`extractSlice: ${axis} index ${index} out of range [0, ${count})`);
  }
  const [h, w] = sliceShape(shape, axis);
  const out = new Float32Array(h * w);
  const sxy = nx * ny;
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      let v: number;
      if (axis === 'axial') v = data[nx - 1 - c + nx * (ny - 1 - r) + sxy * index];
      else if (axis === 'coronal') v = data[nx - 1 - c + nx * index + sxy * (nz - 1 - r)];
      else v = data[index + nx * (ny - 1 - c) + sxy * (nz - 1 - r)];
      out[r * w + c] = v;
    }
  }
  return out;
}

