/**
 * Window geometry of the Swin Transformer (Liu et al. 2021, arXiv:2103.14030):
 * window partition / reverse, cyclic shift, the shifted-window attention mask,
 * the relative position index and the window-size clamp of the official code.
 *
 * Token maps are NHWC `[B, H, W, C]` (H, W = token grid). Windows are
 * `[B * nW, M * M, C]` with windows ordered batch-major, then window row, then
 * window column, and tokens row-major inside a window (as the official
 * `window_partition`). The array helpers are pure and return plain typed arrays.
 */
import * as tf from '@tensorflow/tfjs';

/** Window size and shift actually used by one Swin block on an `h x w` token grid. */
export interface EffectiveWindow {
  /** Window side M (tokens). */
  window: number;
  /** Cyclic shift (tokens), 0 = W-MSA. */
  shift: number;
}

/**
 * The official code's clamp (`SwinTransformerBlock.__init__`): when the smaller
 * side of the token grid is `<=` the requested window, the window becomes that
 * side and the shift becomes 0 (one window, nothing to shift). Throws when the
 * grid cannot be tiled by the resulting window.
 */
export function effectiveWindow(h: number, w: number, window: number, shift: number): EffectiveWindow {
  let m = window;
  let s = shift;
  if (Math.min(h, w) <= m) {
    m = Math.min(h, w);
    s = 0;
  }
  if (!(m >= 1 && s >= 0 && s < m)) {
    throw new Error(`swin geometry: shift ${shift} must be in [0, window ${m}) (grid ${h}x${w}, requested window ${window})`);
  }
  if (h % m !== 0 || w % m !== 0) {
    throw new Error(`swin geometry: token grid ${h}x${w} is not divisible by window ${m}`);
  }
  return { window: m, shift: s };
}

/**
 * Relative position index of an M x M window (official `relative_position_index`):
 * entry `[a * N + b]` (N = M*M, tokens a = (ya, xa), b = (yb, xb) row-major) is
 * `(ya - yb + M - 1) * (2M - 1) + (xa - xb + M - 1)`, a row of the
 * `(2M-1)^2 x heads` bias table. Returns `Int32Array` of length N*N.
 */
export function relativePositionIndex(m: number): Int32Array {
  const n = m * m;
  const out = new Int32Array(n * n);
  for (let a = 0; a < n; a++) {
    const ya = Math.floor(a / m);
    const xa = a % m;
    for (let b = 0; b < n; b++) {
      const yb = Math.floor(b / m);
      const xb = b % m;
      out[a * n + b] = (ya - yb + m - 1) * (2 * m - 1) + (xa - xb + m - 1);
    }
  }
  return out;
}

/**
 * One-hot gather matrix of the relative position index, `[N*N, (2M-1)^2]`
 * row-major: `table^T @ onehot^T` reshaped to `[heads, N, N]` equals the
 * official `table[index]` permuted to `[heads, N, N]`, using only matMul
 * (whose gradient every backend has; gather's gradient needs
 * UnsortedSegmentSum, which the wasm backend lacks).
 */
export function relativePositionOneHot(m: number): Float32Array {
  const index = relativePositionIndex(m);
  const t = (2 * m - 1) * (2 * m - 1);
  const out = new Float32Array(index.length * t);
  for (let i = 0; i < index.length; i++) out[i * t + index[i]] = 1;
  return out;
}

/**
 * Region labels of the shifted grid (official `img_mask`): after a cyclic shift
 * by `-shift`, rows fall into 3 bands [0, H-M), [H-M, H-s), [H-s, H) and columns
 * likewise; label = rowBand * 3 + colBand. Returns `Int32Array` `[h * w]` row-major.
 */
export function shiftRegionLabels(h: number, w: number, window: number, shift: number): Int32Array {
  const band = (i: number, size: number): number => (i < size - window ? 0 : i < size - shift ? 1 : 2);
  const out = new Int32Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = band(y, h) * 3 + band(x, w);
  return out;
}

/**
 * Additive SW-MSA attention mask `[nW, N, N]` (row-major Float32Array): 0 where
 * query and key tokens of a shifted window come from the same region of the
 * un-shifted map, `maskValue` (official: -100) where they do not, so softmax
 * gives (numerically) zero weight across regions. `shift = 0` gives all zeros.
 */
export function shiftedWindowMask(h: number, w: number, window: number, shift: number, maskValue = -100): Float32Array {
  const m = window;
  const n = m * m;
  const nW = (h / m) * (w / m);
  const out = new Float32Array(nW * n * n);
  if (shift === 0) return out;
  const labels = shiftRegionLabels(h, w, m, shift);
  const wCols = w / m;
  for (let win = 0; win < nW; win++) {
    const y0 = Math.floor(win / wCols) * m;
    const x0 = (win % wCols) * m;
    for (let a = 0; a < n; a++) {
      const la = labels[(y0 + Math.floor(a / m)) * w + x0 + (a % m)];
      for (let b = 0; b < n; b++) {
        const lb = labels[(y0 + Math.floor(b / m)) * w + x0 + (b % m)];
        if (la !== lb) out[(win * n + a) * n + b] = maskValue;
      }
    }
  }
  return out;
}

/**
 * Split `[B, H, W, C]` into windows `[B * nW, M * M, C]` (official
 * `window_partition` + flatten). Uses only reshape / 4-D transpose.
 */
export function windowPartition(x: tf.Tensor, m: number): tf.Tensor3D {
  const [b, h, w, c] = x.shape as [number, number, number, number];
  if (h % m !== 0 || w % m !== 0) {
    throw new Error(`windowPartition: grid ${h}x${w} is not divisible by window ${m}`);
  }
  return tf.tidy(() => {
    const r = tf.reshape(x, [b * (h / m), m, w / m, m * c]);
    return tf.reshape(tf.transpose(r, [0, 2, 1, 3]), [(b * h * w) / (m * m), m * m, c]) as tf.Tensor3D;
  });
}

/** Inverse of {@link windowPartition}: `[B * nW, M * M, C]` back to `[B, H, W, C]`. */
export function windowReverse(windows: tf.Tensor, m: number, h: number, w: number): tf.Tensor4D {
  const c = windows.shape[windows.shape.length - 1];
  const b = windows.shape[0] / ((h / m) * (w / m));
  if (!Number.isInteger(b)) {
    throw new Error(`windowReverse: ${windows.shape[0]} windows do not tile a ${h}x${w} grid with window ${m}`);
  }
  return tf.tidy(() => {
    const r = tf.reshape(windows, [b * (h / m), w / m, m, m * c]);
    return tf.reshape(tf.transpose(r, [0, 2, 1, 3]), [b, h, w, c]) as tf.Tensor4D;
  });
}

/**
 * Cyclic shift of a `[B, H, W, C]` map by `(dy, dx)` along H and W, like
 * `torch.roll(x, (dy, dx), (1, 2))`: output[y] = input[(y - dy) mod H].
 * Slice + concat only (both differentiable).
 */
export function cyclicShift(x: tf.Tensor, dy: number, dx: number): tf.Tensor {
  return tf.tidy(() => {
    const roll = (t: tf.Tensor, shift: number, axis: 1 | 2): tf.Tensor => {
      const size = t.shape[axis] as number;
      const s = ((shift % size) + size) % size;
      if (s === 0) return t;
      const [head, tail] = tf.split(t, [size - s, s], axis);
      return tf.concat([tail, head], axis);
    };
    return roll(roll(x, dy, 1), dx, 2);
  });
}
