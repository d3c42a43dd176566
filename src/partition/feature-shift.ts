/**
 * Feature-shift wrapper: keeps any partitioner's assignment and gives every
 * site its own seeded acquisition-style image transform, applied on `load`
 * (colour cast, brightness, contrast, gamma, Gaussian blur, Gaussian noise,
 * resolution loss by down-then-up sampling). This mimics the scanner /
 * protocol shift of FedBN's feature-shift setting (Li et al. 2021,
 * arXiv:2102.07623) without external data.
 *
 * Pure JS on `Float32Array` images, row-major `[H, W, C]` in [0, 1] (no tfjs).
 * Masks are never changed: every transform keeps the geometry (the resolution
 * transform goes down to round(s·H) x round(s·W) and back up to exactly H x W,
 * bilinear, half-pixel centres), so masks stay aligned.
 * Order: resolution -> blur -> gain (per channel) -> contrast (about 0.5) ->
 * brightness -> gamma -> noise -> clip to [0, 1].
 * Noise is seeded by (wrapper seed, site, sample id): loading a sample twice
 * gives identical pixels.
 */
import type { Dataset, Sample, SampleInfo } from '../data/types';
import { SubsetDataset } from '../data/types';
import { Rng, createRng, hashSeed } from '../util/rng';
import type { PartitionInput, SitePartitioner } from './base';

/** One site's transform. */
export interface ShiftParams {
  /** Per-channel multiplicative colour cast (length 3; a 1-channel image uses the mean gain). */
  gain: number[];
  /** Additive brightness offset. */
  brightness: number;
  /** Contrast factor about 0.5: x -> (x - 0.5)·c + 0.5. */
  contrast: number;
  /** Gamma: x -> x^gamma. */
  gamma: number;
  /** Gaussian blur sigma in pixels (0 = none). */
  blurSigma: number;
  /** Std of additive Gaussian noise (0 = none). */
  noiseStd: number;
  /** Resolution factor in (0, 1] (1 = none). */
  resolutionScale: number;
}

/** Ranges [lo, hi] the per-site parameters are drawn from (uniform; gamma log-uniform). */
export interface ShiftRanges {
  gain: [number, number];
  brightness: [number, number];
  contrast: [number, number];
  gamma: [number, number];
  blurSigma: [number, number];
  noiseStd: [number, number];
  resolutionScale: [number, number];
}

/** Default ranges: mild, plausible acquisition differences. */
export const DEFAULT_SHIFT_RANGES: Readonly<ShiftRanges> = Object.freeze<ShiftRanges>({
  gain: [0.85, 1.15],
  brightness: [-0.05, 0.05],
  contrast: [0.8, 1.25],
  gamma: [0.75, 1.33],
  blurSigma: [0, 1],
  noiseStd: [0, 0.03],
  resolutionScale: [0.5, 1],
});

/** The identity transform. */
export const IDENTITY_SHIFT: Readonly<ShiftParams> = Object.freeze<ShiftParams>({
  gain: [1, 1, 1],
  brightness: 0,
  contrast: 1,
  gamma: 1,
  blurSigma: 0,
  noiseStd: 0,
  resolutionScale: 1,
});

/** Options of {@link FeatureShift}. */
export interface FeatureShiftOptions {
  /** Seed of the per-site parameters and noise (default 42). */
  seed?: number;
  /** Override some default ranges. */
  ranges?: Partial<ShiftRanges>;
  /** Explicit per-site parameters (site i uses params[i]); overrides drawing. */
  params?: readonly ShiftParams[];
  /** Sites left untransformed (e.g. a reference hospital). Default none. */
  identitySites?: readonly number[];
}

/** Draw one site's parameters from `ranges`. */
export function drawShiftParams(rng: Rng, ranges: ShiftRanges): ShiftParams {
  const u = ([lo, hi]: [number, number]) => rng.uniform(lo, hi);
  return {
    gain: [u(ranges.gain), u(ranges.gain), u(ranges.gain)],
    brightness: u(ranges.brightness),
    contrast: u(ranges.contrast),
    gamma: Math.exp(rng.uniform(Math.log(ranges.gamma[0]), Math.log(ranges.gamma[1]))),
    blurSigma: u(ranges.blurSigma),
    noiseStd: u(ranges.noiseStd),
    resolutionScale: u(ranges.resolutionScale),
  };
}

/** Bilinear resize of a `[h, w, c]` image to `[H, W, c]` (half-pixel centres, edge clamp). */
export function resizeBilinear(src: Float32Array, h: number, w: number, c: number, H: number, W: number): Float32Array {
  const out = new Float32Array(H * W * c);
  const sy = h / H;
  const sx = w / W;
  for (let y = 0; y < H; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), h - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, h - 1);
    const ty = fy - y0;
    for (let x = 0; x < W; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), w - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, w - 1);
      const tx = fx - x0;
      for (let k = 0; k < c; k++) {
        const a = src[(y0 * w + x0) * c + k];
        const b = src[(y0 * w + x1) * c + k];
        const d = src[(y1 * w + x0) * c + k];
        const e = src[(y1 * w + x1) * c + k];
        out[(y * W + x) * c + k] = (a * (1 - tx) + b * tx) * (1 - ty) + (d * (1 - tx) + e * tx) * ty;
      }
    }
  }
  return out;
}

/** Separable Gaussian blur of `[h, w, c]` (radius ceil(3σ), edge clamp). */
export function gaussianBlur(src: Float32Array, h: number, w: number, c: number, sigma: number): Float32Array {
  if (!(sigma > 0)) return src.slice();
  const r = Math.max(1, Math.ceil(3 * sigma));
  const kern: number[] = [];
  let tot = 0;
  for (let i = -r; i <= r; i++) {
    const v = Math.exp(-(i * i) / (2 * sigma * sigma));
    kern.push(v);
    tot += v;
  }
  for (let i = 0; i < kern.length; i++) kern[i] /= tot;
  const tmp = new Float32Array(src.length);
  const out = new Float32Array(src.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let k = 0; k < c; k++) {
        let s = 0;
        for (let i = -r; i <= r; i++) s += kern[i + r] * src[(y * w + Math.min(w - 1, Math.max(0, x + i))) * c + k];
        tmp[(y * w + x) * c + k] = s;
      }
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let k = 0; k < c; k++) {
        let s = 0;
        for (let i = -r; i <= r; i++) s += kern[i + r] * tmp[(Math.min(h - 1, Math.max(0, y + i)) * w + x) * c + k];
        out[(y * w + x) * c + k] = s;
      }
  return out;
}

/**
 * Apply `p` to an image `[H, W, C]` in [0, 1]; returns a new array of the same shape.
 * `noiseSeed` seeds the noise (ignored when `p.noiseStd` is 0).
 */
export function applyShift(image: Float32Array, shape: readonly [number, number, number], p: ShiftParams, noiseSeed = 0): Float32Array {
  const [H, W, C] = shape;
  if (image.length !== H * W * C) throw new Error(`applyShift: image has ${image.length} values, shape ${shape.join('x')} needs ${H * W * C}`);
  let img = image;
  if (p.resolutionScale < 1) {
    const h = Math.max(1, Math.round(H * p.resolutionScale));
    const w = Math.max(1, Math.round(W * p.resolutionScale));
    img = resizeBilinear(resizeBilinear(img, H, W, C, h, w), h, w, C, H, W);
  }
  img = p.blurSigma > 0 ? gaussianBlur(img, H, W, C, p.blurSigma) : img.slice();
  const meanGain = p.gain.reduce((a, b) => a + b, 0) / p.gain.length;
  const noise = p.noiseStd > 0 ? createRng(noiseSeed) : null;
  for (let i = 0; i < img.length; i++) {
    const k = i % C;
    const g = C === 1 ? meanGain : p.gain[k % p.gain.length];
    let v = img[i] * g;
    v = (v - 0.5) * p.contrast + 0.5 + p.brightness;
    v = Math.pow(Math.min(1, Math.max(0, v)), p.gamma);
    if (noise) v += noise.normal(0, p.noiseStd);
    img[i] = Math.min(1, Math.max(0, v));
  }
  return img;
}

/** A site's view whose `load` applies the site's transform (masks untouched). */
export class ShiftedDataset implements Dataset {
  readonly length: number;
  readonly task: Dataset['task'];
  readonly classNames: readonly string[];
  readonly maskClasses: readonly string[];
  readonly name: string;

  constructor(
    readonly base: Dataset,
    readonly params: ShiftParams,
    private readonly noiseSeed: number,
  ) {
    this.length = base.length;
    this.task = base.task;
    this.classNames = base.classNames;
    this.maskClasses = base.maskClasses;
    this.name = `${base.name}+shift`;
  }

  info(i: number): SampleInfo {
    return this.base.info(i);
  }

  async load(i: number): Promise<Sample> {
    const s = await this.base.load(i);
    const image = applyShift(s.image, s.shape, this.params, hashSeed(`${this.noiseSeed}:${s.id}`));
    return { ...s, image, meta: { ...s.meta, featureShift: this.params } };
  }
}

/** Wrap any partitioner with per-site acquisition shifts. */
export class FeatureShift implements SitePartitioner {
  readonly scheme: string;
  readonly seed: number;
  readonly ranges: ShiftRanges;
  private readonly explicit?: readonly ShiftParams[];
  private readonly identity: ReadonlySet<number>;

  constructor(
    readonly inner: SitePartitioner,
    opts: FeatureShiftOptions = {},
  ) {
    const o = 'FeatureShift';
    if (!inner || typeof inner.assign !== 'function') throw new Error(`${o}: 'inner' must be a partitioner`);
    this.scheme = `${inner.scheme}+feature-shift`;
    this.seed = opts.seed ?? 42;
    if (!Number.isFinite(this.seed)) throw new Error(`${o}: 'seed' must be finite`);
    this.ranges = { ...DEFAULT_SHIFT_RANGES, ...(opts.ranges ?? {}) } as ShiftRanges;
    for (const [k, r] of Object.entries(this.ranges) as [keyof ShiftRanges, [number, number]][]) {
      if (!Array.isArray(r) || r.length !== 2 || !(r[0] <= r[1]) || !r.every(Number.isFinite)) {
        throw new Error(`${o}: range '${k}' must be [lo, hi] with lo <= hi, got ${JSON.stringify(r)}`);
      }
    }
    const pos = (k: keyof ShiftRanges) => this.ranges[k][0] > 0;
    if (!pos('gamma')) throw new Error(`${o}: gamma range must be > 0`);
    if (!(this.ranges.resolutionScale[0] > 0 && this.ranges.resolutionScale[1] <= 1)) {
      throw new Error(`${o}: resolutionScale range must lie in (0, 1]`);
    }
    if (this.ranges.blurSigma[0] < 0 || this.ranges.noiseStd[0] < 0) throw new Error(`${o}: blurSigma and noiseStd must be >= 0`);
    this.explicit = opts.params;
    this.identity = new Set(opts.identitySites ?? []);
  }

  /** The inner partitioner's assignment (unchanged). */
  assign(input: PartitionInput | Dataset): number[][] {
    return this.inner.assign(input);
  }

  /** Transform parameters of site `site` (deterministic in seed and site). */
  params(site: number): ShiftParams {
    if (!Number.isInteger(site) || site < 0) throw new Error(`FeatureShift: site must be an integer >= 0, got ${site}`);
    if (this.identity.has(site)) return { ...IDENTITY_SHIFT, gain: [1, 1, 1] };
    if (this.explicit) {
      const p = this.explicit[site];
      if (!p) throw new Error(`FeatureShift: no explicit params for site ${site} (${this.explicit.length} given)`);
      return p;
    }
    return drawShiftParams(createRng(this.seed).fork(`site:${site}`), this.ranges);
  }

  /** Each site's samples, transformed on load. */
  sites(dataset: Dataset): ShiftedDataset[] {
    return this.assign(dataset).map(
      (idx, s) =>
        new ShiftedDataset(new SubsetDataset(dataset, idx, `${dataset.name}[site ${s}]`), this.params(s), hashSeed(`${this.seed}:noise:${s}`)),
    );
  }
}

/** Wrap `inner` with per-site acquisition shifts. */
export function featureShift(inner: SitePartitioner, opts: FeatureShiftOptions = {}): FeatureShift {
  return new FeatureShift(inner, opts);
}
