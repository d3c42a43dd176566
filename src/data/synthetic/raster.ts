/**
 * Pixel primitives of the synthetic image generator: smooth noise fields,
 * cellular (Worley) edges, separable Gaussian blur, bilinear resampling,
 * anti-aliased strokes / discs and perturbed-ellipse ("blob") geometry.
 *
 * Everything works on plain row-major typed arrays (a plane is `[H, W]`, an
 * image is interleaved `[H, W, C]`) and draws its randomness from an injected
 * {@link Rng}; nothing here touches tfjs. Positions given in "normalised"
 * units are fractions of the shorter image side `s = min(H, W)`, so a scene
 * looks the same at 32x32 and 256x256.
 */
import type { Rng } from '../../util/rng';

/** Clamp to [0, 1]. */
export function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

/** Hermite smoothstep: 0 below `e0`, 1 above `e1` (works with `e0 > e1` too). */
export function smoothstep(e0: number, e1: number, x: number): number {
  const t = clamp01((x - e0) / (e1 - e0));
  return t * t * (3 - 2 * t);
}

/** Linear interpolation `a + (b - a) t`. */
export function mix(a: number, b: number, t: number): number {
  return a + (b - a) * t;
}

/** An RGB triple in [0, 1]. */
export type Rgb = [number, number, number];

/**
 * One octave of smooth value noise over an `h x w` plane, values in [0, 1].
 * A random lattice with `cells` cells across the shorter side is interpolated
 * with smoothstep weights; the lattice is offset by a random sub-cell shift.
 */
export function valueNoise(rng: Rng, h: number, w: number, cells: number): Float32Array {
  return addValueNoise(rng, h, w, cells, 1, new Float32Array(h * w));
}

/** Add `amp` times one octave of {@link valueNoise} to `out` (`[h, w]`) in place; returns `out`. */
export function addValueNoise(rng: Rng, h: number, w: number, cells: number, amp: number, out: Float32Array): Float32Array {
  const s = Math.min(h, w);
  const scale = cells / s;
  const gx = Math.ceil(w * scale) + 2;
  const gy = Math.ceil(h * scale) + 2;
  const lat = new Float32Array(gx * gy);
  for (let i = 0; i < lat.length; i++) lat[i] = amp * rng.next();
  const ox = rng.next();
  const oy = rng.next();
  const ix = new Int32Array(w);
  const tx = new Float32Array(w);
  for (let x = 0; x < w; x++) {
    const f = (x + 0.5) * scale + ox;
    const i = Math.floor(f);
    const t = f - i;
    ix[x] = i;
    tx[x] = t * t * (3 - 2 * t);
  }
  for (let y = 0; y < h; y++) {
    const f = (y + 0.5) * scale + oy;
    const iy = Math.floor(f);
    let ty = f - iy;
    ty = ty * ty * (3 - 2 * ty);
    const r0 = iy * gx;
    const r1 = r0 + gx;
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const i = ix[x];
      const t = tx[x];
      const top = lat[r0 + i] + (lat[r0 + i + 1] - lat[r0 + i]) * t;
      const bot = lat[r1 + i] + (lat[r1 + i + 1] - lat[r1 + i]) * t;
      out[row + x] += top + (bot - top) * ty;
    }
  }
  return out;
}

/**
 * Fractal (fBm) value noise: `octaves` octaves starting at `cells` lattice
 * cells, doubling the frequency and multiplying the amplitude by
 * `persistence` each octave, then min-max normalised to exactly [0, 1].
 */
export function fbm(rng: Rng, h: number, w: number, cells: number, octaves = 3, persistence = 0.5): Float32Array {
  const out = new Float32Array(h * w);
  let amp = 1;
  for (let o = 0; o < octaves; o++) {
    addValueNoise(rng, h, w, cells * Math.pow(2, o), amp, out);
    amp *= persistence;
  }
  return normalize01(out);
}

/** Min-max normalise a plane to [0, 1] in place (a constant plane becomes 0.5). */
export function normalize01(a: Float32Array): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    if (a[i] < lo) lo = a[i];
    if (a[i] > hi) hi = a[i];
  }
  const span = hi - lo;
  if (!(span > 1e-12)) return a.fill(0.5);
  for (let i = 0; i < a.length; i++) a[i] = (a[i] - lo) / span;
  return a;
}

/**
 * Cellular (Worley) edge distance `F2 - F1` in lattice units over an `h x w`
 * plane with `cells` jittered feature points across the shorter side: small
 * (0) on the borders between cells, larger inside. Thresholding it gives a
 * mesh of lines (pigment network, pit patterns).
 */
export function worleyEdges(rng: Rng, h: number, w: number, cells: number): Float32Array {
  const s = Math.min(h, w);
  const scale = cells / s;
  const gx = Math.ceil(w * scale) + 3;
  const gy = Math.ceil(h * scale) + 3;
  const px = new Float32Array(gx * gy);
  const py = new Float32Array(gx * gy);
  for (let i = 0; i < px.length; i++) {
    px[i] = rng.next();
    py[i] = rng.next();
  }
  const ox = rng.next();
  const oy = rng.next();
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    const fy = (y + 0.5) * scale + oy + 1;
    const cy = Math.floor(fy);
    for (let x = 0; x < w; x++) {
      const fx = (x + 0.5) * scale + ox + 1;
      const cx = Math.floor(fx);
      let f1 = Infinity;
      let f2 = Infinity;
      for (let dy = -1; dy <= 1; dy++) {
        const row = (cy + dy) * gx;
        for (let dx = -1; dx <= 1; dx++) {
          const j = row + cx + dx;
          const ex = cx + dx + px[j] - fx;
          const ey = cy + dy + py[j] - fy;
          const d = ex * ex + ey * ey;
          if (d < f1) {
            f2 = f1;
            f1 = d;
          } else if (d < f2) {
            f2 = d;
          }
        }
      }
      out[y * w + x] = Math.sqrt(f2) - Math.sqrt(f1);
    }
  }
  return out;
}

/** Normalised 1-D Gaussian kernel of standard deviation `sigma` (radius ceil(3 sigma)). */
function gaussianKernel(sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) {
    const v = Math.exp((-i * i) / (2 * sigma * sigma));
    k[i + r] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

/**
 * Separable Gaussian blur of an interleaved `[h, w, c]` image with
 * edge-clamped borders. Returns a new array; `sigma <= 0.1` px returns a copy.
 */
export function gaussianBlur(src: Float32Array, h: number, w: number, c: number, sigma: number): Float32Array {
  if (!(sigma > 0.1)) return src.slice();
  const k = gaussianKernel(sigma);
  const r = (k.length - 1) >> 1;
  const tmp = new Float32Array(src.length);
  const out = new Float32Array(src.length);
  blurPass(src, tmp, w, h, c, c, w * c, k, r);
  blurPass(tmp, out, h, w, c, w * c, c, k, r);
  return out;
}

/**
 * One 1-D convolution pass along lines of length `n` (element stride
 * `step`), for `lines` lines `lineStride` apart, with clamped ends.
 */
function blurPass(
  src: Float32Array,
  dst: Float32Array,
  n: number,
  lines: number,
  c: number,
  step: number,
  lineStride: number,
  k: Float32Array,
  r: number,
): void {
  const idx = new Int32Array(n + 2 * r);
  for (let i = 0; i < idx.length; i++) idx[i] = Math.min(n - 1, Math.max(0, i - r)) * step;
  for (let line = 0; line < lines; line++) {
    const base = line * lineStride;
    for (let ch = 0; ch < c; ch++) {
      const b = base + ch;
      for (let i = 0; i < n; i++) {
        let acc = 0;
        for (let t = 0; t < k.length; t++) acc += k[t] * src[b + idx[i + t]];
        dst[b + i * step] = acc;
      }
    }
  }
}

/**
 * Bilinear resize of an interleaved `[h, w, c]` image to `[h2, w2, c]`
 * (half-pixel centres, edge clamped). No anti-aliasing: blur first when
 * shrinking by more than ~1.5x.
 */
export function resizeBilinear(
  src: Float32Array,
  h: number,
  w: number,
  c: number,
  h2: number,
  w2: number,
): Float32Array {
  const out = new Float32Array(h2 * w2 * c);
  const sy = h / h2;
  const sx = w / w2;
  for (let y = 0; y < h2; y++) {
    let fy = (y + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    if (fy > h - 1) fy = h - 1;
    const y0 = Math.floor(fy);
    const y1 = Math.min(h - 1, y0 + 1);
    const ty = fy - y0;
    for (let x = 0; x < w2; x++) {
      let fx = (x + 0.5) * sx - 0.5;
      if (fx < 0) fx = 0;
      if (fx > w - 1) fx = w - 1;
      const x0 = Math.floor(fx);
      const x1 = Math.min(w - 1, x0 + 1);
      const tx = fx - x0;
      for (let ch = 0; ch < c; ch++) {
        const a = src[(y0 * w + x0) * c + ch];
        const b = src[(y0 * w + x1) * c + ch];
        const d = src[(y1 * w + x0) * c + ch];
        const e = src[(y1 * w + x1) * c + ch];
        const top = a + (b - a) * tx;
        const bot = d + (e - d) * tx;
        out[(y * w2 + x) * c + ch] = top + (bot - top) * ty;
      }
    }
  }
  return out;
}

/**
 * Rasterise an anti-aliased polyline of half-width `halfWidth` pixels into a
 * coverage plane `alpha` (`[h, w]`, kept as the max of old and new coverage).
 * `pts` holds pixel coordinates `x0, y0, x1, y1, ...` (pixel centres at +0.5).
 */
export function strokePolyline(alpha: Float32Array, h: number, w: number, pts: readonly number[], halfWidth: number): void {
  for (let p = 0; p + 3 < pts.length; p += 2) {
    const ax = pts[p];
    const ay = pts[p + 1];
    const bx = pts[p + 2];
    const by = pts[p + 3];
    const pad = halfWidth + 1;
    const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - pad));
    const x1 = Math.min(w - 1, Math.ceil(Math.max(ax, bx) + pad));
    const y0 = Math.max(0, Math.floor(Math.min(ay, by) - pad));
    const y1 = Math.min(h - 1, Math.ceil(Math.max(ay, by) + pad));
    const dx = bx - ax;
    const dy = by - ay;
    const len2 = dx * dx + dy * dy;
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const qx = x + 0.5 - ax;
        const qy = y + 0.5 - ay;
        let t = len2 > 0 ? (qx * dx + qy * dy) / len2 : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        const ex = qx - t * dx;
        const ey = qy - t * dy;
        const cov = clamp01(halfWidth + 0.5 - Math.sqrt(ex * ex + ey * ey));
        const i = y * w + x;
        if (cov > alpha[i]) alpha[i] = cov;
      }
    }
  }
}

/** Rasterise an anti-aliased disc (pixel units) into a coverage plane (max-combined). */
export function fillDisc(alpha: Float32Array, h: number, w: number, cx: number, cy: number, r: number, strength = 1): void {
  const x0 = Math.max(0, Math.floor(cx - r - 1));
  const x1 = Math.min(w - 1, Math.ceil(cx + r + 1));
  const y0 = Math.max(0, Math.floor(cy - r - 1));
  const y1 = Math.min(h - 1, Math.ceil(cy + r + 1));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const ex = x + 0.5 - cx;
      const ey = y + 0.5 - cy;
      const cov = strength * clamp01(r + 0.5 - Math.sqrt(ex * ex + ey * ey));
      const i = y * w + x;
      if (cov > alpha[i]) alpha[i] = cov;
    }
  }
}

/**
 * A perturbed ellipse: the boundary radius is
 * `r(phi) = r0 * (1 + sum_k a_k cos(k phi + p_k))` in a frame rotated by
 * `rotation` and stretched by `aspect` along x. All lengths are normalised
 * (fractions of the shorter image side).
 */
export interface BlobShape {
  /** Centre, normalised coordinates with (0, 0) at the image centre. */
  cx: number;
  cy: number;
  /** Mean radius. */
  r0: number;
  /** x/y axis ratio of the underlying ellipse (1 = circle). */
  aspect: number;
  /** Rotation of the ellipse frame, radians. */
  rotation: number;
  /** Harmonic amplitudes `a_k` for k = 2, 3, ... (relative to r0). */
  amps: number[];
  /** Harmonic phases `p_k`, radians. */
  phases: number[];
}

/** Random harmonic coefficients: amplitude ~ total * N(0,1) / k^decay for k = 2..(1+count). */
export function randomHarmonics(rng: Rng, count: number, total: number, decay: number): { amps: number[]; phases: number[] } {
  const amps: number[] = [];
  const phases: number[] = [];
  for (let j = 0; j < count; j++) {
    const k = j + 2;
    amps.push((total * Math.abs(rng.normal())) / Math.pow(k - 1, decay));
    phases.push(rng.uniform(0, 2 * Math.PI));
  }
  return { amps, phases };
}

const TABLE = 720;

/**
 * Evaluates a {@link BlobShape} at pixel positions: `relDist` returns
 * rho / r(phi) (< 1 inside the blob) and writes the blob-frame unit
 * coordinates to `frame` (for shading and oriented textures).
 */
export class BlobField {
  private readonly table = new Float32Array(TABLE + 1);
  private readonly cos: number;
  private readonly sin: number;
  /** Blob-frame coordinates of the last `relDist` call, divided by r(phi). */
  readonly frame = { x: 0, y: 0 };

  constructor(readonly shape: BlobShape) {
    for (let i = 0; i <= TABLE; i++) {
      const phi = -Math.PI + (2 * Math.PI * i) / TABLE;
      let f = 1;
      for (let k = 0; k < shape.amps.length; k++) f += shape.amps[k] * Math.cos((k + 2) * phi + shape.phases[k]);
      this.table[i] = shape.r0 * Math.max(0.35, f);
    }
    this.cos = Math.cos(shape.rotation);
    this.sin = Math.sin(shape.rotation);
  }

  /** Boundary radius in direction `phi` (blob frame), linear table lookup. */
  radius(phi: number): number {
    const f = ((phi + Math.PI) / (2 * Math.PI)) * TABLE;
    const i = Math.max(0, Math.min(TABLE - 1, Math.floor(f)));
    const t = f - i;
    return this.table[i] + (this.table[i + 1] - this.table[i]) * t;
  }

  /**
   * rho / r(phi) at normalised point (u, v); `wobble` scales the local
   * radius (1 = none) for ragged borders.
   */
  relDist(u: number, v: number, wobble = 1): number {
    const dx = u - this.shape.cx;
    const dy = v - this.shape.cy;
    const fx = (this.cos * dx + this.sin * dy) / this.shape.aspect;
    const fy = -this.sin * dx + this.cos * dy;
    const rho = Math.sqrt(fx * fx + fy * fy);
    const r = this.radius(Math.atan2(fy, fx)) * wobble;
    const d = rho / r;
    if (rho > 0) {
      this.frame.x = (fx / rho) * d;
      this.frame.y = (fy / rho) * d;
    } else {
      this.frame.x = 0;
      this.frame.y = 0;
    }
    return d;
  }

  /** Rough bounding radius (normalised) of the blob including the aspect stretch. */
  boundingRadius(): number {
    let m = 0;
    for (let i = 0; i <= TABLE; i++) m = Math.max(m, this.table[i]);
    return m * Math.max(1, this.shape.aspect);
  }
}

/** Sample `n + 1` points (pixel coordinates) along a quadratic Bezier curve. */
export function bezierPoints(
  p0: [number, number],
  p1: [number, number],
  p2: [number, number],
  n: number,
): number[] {
  const pts: number[] = [];
  for (let i = 0; i <= n; i++) {
    const t = i / n;
    const a = (1 - t) * (1 - t);
    const b = 2 * (1 - t) * t;
    const c = t * t;
    pts.push(a * p0[0] + b * p1[0] + c * p2[0], a * p0[1] + b * p1[1] + c * p2[1]);
  }
  return pts;
}

/** Acklam's rational approximation of the standard normal quantile (|rel. error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (q: number): number =>
    (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

let normalTable: Float32Array | null = null;

/**
 * Fill `out` with standard-normal noise, two values per 32-bit draw, through
 * a 65,536-entry inverse-CDF table (a 16-bit quantised Gaussian: tails stop
 * at +-4.3; mean 0, variance 1 to 1e-3). Much faster than Box-Muller, which
 * matters for per-pixel sensor noise.
 */
export function fillNormal(rng: Rng, out: Float32Array): Float32Array {
  if (normalTable === null) {
    normalTable = new Float32Array(65536);
    for (let k = 0; k < 65536; k++) normalTable[k] = normalQuantile((k + 0.5) / 65536);
  }
  const t = normalTable;
  let i = 0;
  for (; i + 1 < out.length; i += 2) {
    const u = rng.nextUint32();
    out[i] = t[u & 0xffff];
    out[i + 1] = t[u >>> 16];
  }
  if (i < out.length) out[i] = t[rng.nextUint32() & 0xffff];
  return out;
}
