/**
 * Pure resampling of row-major pixel arrays (no sharp, no tfjs).
 *
 * Both functions use half-pixel centres: output pixel `o` of an axis resized
 * from `n` to `m` samples the source coordinate `(o + 0.5) * n / m - 0.5`
 * (OpenCV `INTER_LINEAR`, tf `resizeBilinear(halfPixelCenters=true)`, PyTorch
 * `align_corners=False`). Neither anti-aliases when shrinking: for strong
 * downsampling of photographs prefer {@link decodeImage}'s sharp resize.
 */

/** Any typed array we resample. */
export type PixelArray = Float32Array | Uint8Array | Uint16Array | Int16Array | Int32Array | Float64Array;

function checkShape(len: number, h: number, w: number, c: number, what: string): void {
  for (const [n, v] of [['height', h], ['width', w], ['channels', c]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what}: ${n} must be a positive integer, got ${v}`);
  }
  if (len !== h * w * c) {
    throw new RangeError(`${what}: array length ${len} does not match shape [${h}, ${w}, ${c}] (= ${h * w * c})`);
  }
}

/**
 * Nearest-neighbour resize of a row-major `[H, W, C]` array to `[outH, outW, C]`.
 * Source index of output `o` is `min(floor((o + 0.5) * n / m), n - 1)`
 * (PyTorch `nearest-exact`), so it only ever copies input values: use it for
 * masks / label maps. Returns a new array of the same type.
 */
export function resizeNearest<T extends PixelArray>(
  src: T,
  shape: readonly [number, number] | readonly [number, number, number],
  size: readonly [number, number],
): T {
  const [h, w] = shape;
  const c = shape.length === 3 ? shape[2] : 1;
  const [oh, ow] = size;
  checkShape(src.length, h, w, c, 'resizeNearest');
  checkShape(oh * ow * c, oh, ow, c, 'resizeNearest(size)');
  const Ctor = src.constructor as new (n: number) => T;
  const out = new Ctor(oh * ow * c);
  const xs = new Int32Array(ow);
  for (let x = 0; x < ow; x++) xs[x] = Math.min(Math.floor(((x + 0.5) * w) / ow), w - 1);
  for (let y = 0; y < oh; y++) {
    const sy = Math.min(Math.floor(((y + 0.5) * h) / oh), h - 1);
    const rowIn = sy * w * c;
    const rowOut = y * ow * c;
    for (let x = 0; x < ow; x++) {
      const pi = rowIn + xs[x] * c;
      const po = rowOut + x * c;
      for (let k = 0; k < c; k++) out[po + k] = src[pi + k];
    }
  }
  return out;
}

/**
 * Bilinear resize (half-pixel centres, edge-clamped) of a row-major
 * `[H, W, C]` array to a new `Float32Array` `[outH, outW, C]`. Use it for
 * intensities, never for label maps.
 */
export function resizeBilinear(
  src: PixelArray,
  shape: readonly [number, number] | readonly [number, number, number],
  size: readonly [number, number],
): Float32Array {
  const [h, w] = shape;
  const c = shape.length === 3 ? shape[2] : 1;
  const [oh, ow] = size;
  checkShape(src.length, h, w, c, 'resizeBilinear');
  checkShape(oh * ow * c, oh, ow, c, 'resizeBilinear(size)');
  const out = new Float32Array(oh * ow * c);
  const x0s = new Int32Array(ow);
  const x1s = new Int32Array(ow);
  const wxs = new Float32Array(ow);
  for (let x = 0; x < ow; x++) {
    const sx = Math.min(Math.max(((x + 0.5) * w) / ow - 0.5, 0), w - 1);
    const x0 = Math.floor(sx);
    x0s[x] = x0;
    x1s[x] = Math.min(x0 + 1, w - 1);
    wxs[x] = sx - x0;
  }
  for (let y = 0; y < oh; y++) {
    const sy = Math.min(Math.max(((y + 0.5) * h) / oh - 0.5, 0), h - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, h - 1);
    const wy = sy - y0;
    const r0 = y0 * w * c;
    const r1 = y1 * w * c;
    for (let x = 0; x < ow; x++) {
      const a = x0s[x] * c;
      const b = x1s[x] * c;
      const wx = wxs[x];
      const po = (y * ow + x) * c;
      for (let k = 0; k < c; k++) {
        const top = src[r0 + a + k] * (1 - wx) + src[r0 + b + k] * wx;
        const bot = src[r1 + a + k] * (1 - wx) + src[r1 + b + k] * wx;
        out[po + k] = top * (1 - wy) + bot * wy;
      }
    }
  }
  return out;
}
