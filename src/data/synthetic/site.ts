/**
 * Per-site ("scanner" / acquisition) effects of the synthetic generator:
 * the resolved {@link SiteProfile} of each site, how profiles are drawn from a
 * seed and a heterogeneity level, and {@link applySiteEffects}, which turns a
 * clean scene into what that site's device would record.
 *
 * The effects follow the usual sources of feature shift between hospitals in
 * federated medical imaging (FedBN, Li et al. 2021, arXiv:2102.07623;
 * FedDG, Liu et al. 2021, arXiv:2103.06030): colour cast, tone curve,
 * optical blur, sensor noise, acquisition resolution and vignetting.
 */
import type { Rng } from '../../util/rng';
import { fillNormal, gaussianBlur, resizeBilinear, smoothstep } from './raster';

/**
 * The resolved parameters of one synthetic site. Obtain them with
 * `siteProfiles(options)`, edit them, and pass them back as `sites` to
 * override any of them. A profile with every effect at its neutral value
 * (gain 1, offset 0, gamma 1, contrast 1, brightness 0, blur 0, speckle 0,
 * resolution 1, vignette 0) leaves the scene unchanged apart from `noise`.
 */
export interface SiteProfile {
  /** Site name, used as `meta.site` (default `site-<k>`, k from 0). */
  name: string;
  /** Number of images generated for this site (integer >= 0). */
  samples: number;
  /** Class proportions of this site (non-negative, sum 1; length = number of classes). */
  classMix: number[];
  /** Per-channel RGB multiplicative colour cast (1 = none), > 0. */
  gain: [number, number, number];
  /** Per-channel RGB additive offset (0 = none). */
  offset: [number, number, number];
  /** Tone curve exponent: v -> v^gamma (1 = none), > 0. */
  gamma: number;
  /** Contrast factor around 0.5 (1 = none), > 0. */
  contrast: number;
  /** Additive brightness (0 = none). */
  brightness: number;
  /** Gaussian optical blur, sigma as a fraction of the shorter image side (0 = none). */
  blur: number;
  /** Standard deviation of additive Gaussian sensor noise (>= 0). */
  noise: number;
  /** Standard deviation of multiplicative (speckle) noise, v -> v (1 + speckle N(0,1)) (>= 0). */
  speckle: number;
  /** Acquisition resolution relative to the output, in (0, 1]: images are down- then up-sampled (1 = none). */
  resolution: number;
  /** Extra radial vignetting strength in [0, 1] (0 = none). */
  vignette: number;
}

const TONE_STEPS = 1024;

/** Noise level every site has even at heterogeneity 0. */
export const BASE_NOISE_LEVEL = 0.01;

/**
 * Draw the imaging parameters of one site. Every random number is drawn
 * whatever `heterogeneity` is and then scaled by it, so profiles vary
 * smoothly with it and at 0 all sites are identical.
 */
export function drawSiteEffects(
  rng: Rng,
  heterogeneity: number,
): Omit<SiteProfile, 'name' | 'samples' | 'classMix'> {
  const hz = heterogeneity;
  const z = (): number => Math.max(-2.5, Math.min(2.5, rng.normal()));
  const gain: [number, number, number] = [1 + hz * 0.13 * z(), 1 + hz * 0.13 * z(), 1 + hz * 0.13 * z()];
  const offset: [number, number, number] = [hz * 0.04 * z(), hz * 0.04 * z(), hz * 0.04 * z()];
  const gamma = Math.exp(hz * 0.25 * z());
  const contrast = Math.exp(hz * 0.18 * z());
  const brightness = hz * 0.06 * z();
  const blurOn = rng.next();
  const blurAmt = rng.next();
  const noise = BASE_NOISE_LEVEL + hz * 0.04 * rng.next();
  const speckleOn = rng.next();
  const speckleAmt = rng.next();
  const resolution = 1 - hz * 0.65 * rng.next();
  const vignette = hz * 0.6 * rng.next();
  return {
    gain,
    offset,
    gamma,
    contrast,
    brightness,
    blur: blurOn < 0.6 ? hz * 0.018 * blurAmt : 0,
    noise,
    speckle: speckleOn < 0.5 ? hz * 0.15 * speckleAmt : 0,
    resolution,
    vignette,
  };
}

/**
 * Check a user-supplied profile; throws an Error naming the site, the field,
 * the value and the expected range.
 */
export function validateSiteProfile(p: SiteProfile, index: number, numClasses: number): void {
  const where = `syntheticSites: sites[${index}]${p && typeof p.name === 'string' ? ` ('${p.name}')` : ''}`;
  const bad = (field: string, value: unknown, expected: string): never => {
    throw new Error(`${where}.${field} = ${JSON.stringify(value)} (expected ${expected})`);
  };
  if (p === null || typeof p !== 'object') throw new Error(`${where} must be a SiteProfile object, got ${String(p)}`);
  if (typeof p.name !== 'string' || p.name.length === 0) bad('name', p.name, 'a non-empty string');
  if (!Number.isInteger(p.samples) || p.samples < 0) bad('samples', p.samples, 'an integer >= 0');
  if (!Array.isArray(p.classMix) || p.classMix.length !== numClasses) {
    bad('classMix', p.classMix, `an array of ${numClasses} class proportions`);
  }
  if (p.classMix.some((x) => !(x >= 0) || !Number.isFinite(x)) || !(p.classMix.reduce((a, b) => a + b, 0) > 0)) {
    bad('classMix', p.classMix, 'finite non-negative proportions with a positive sum');
  }
  const triple = (field: 'gain' | 'offset', positive: boolean): void => {
    const t = p[field];
    if (!Array.isArray(t) || t.length !== 3 || t.some((x) => !Number.isFinite(x) || (positive && !(x > 0)))) {
      bad(field, t, positive ? 'three finite numbers > 0' : 'three finite numbers');
    }
  };
  triple('gain', true);
  triple('offset', false);
  const num = (field: keyof SiteProfile, ok: (x: number) => boolean, expected: string): void => {
    const x = p[field] as number;
    if (typeof x !== 'number' || !Number.isFinite(x) || !ok(x)) bad(field, x, expected);
  };
  num('gamma', (x) => x > 0, 'a number > 0');
  num('contrast', (x) => x > 0, 'a number > 0');
  num('brightness', () => true, 'a finite number');
  num('blur', (x) => x >= 0, 'a number >= 0');
  num('noise', (x) => x >= 0, 'a number >= 0');
  num('speckle', (x) => x >= 0, 'a number >= 0');
  num('resolution', (x) => x > 0 && x <= 1, 'a number in (0, 1]');
  num('vignette', (x) => x >= 0 && x <= 1, 'a number in [0, 1]');
}

/**
 * Apply a site's acquisition effects to a clean RGB scene, in camera order:
 * optical blur -> resolution loss (area-smoothed down-sampling, bilinear
 * up-sampling) -> vignetting -> colour cast `gain * v + offset` -> gamma ->
 * contrast around 0.5 + brightness (tone curve tabulated at 1/1024 steps,
 * linearly interpolated) -> speckle and Gaussian noise -> clamp to
 * [0, 1]. `rgb` is interleaved `[H, W, 3]` and is not modified; `rng` feeds
 * the noise only.
 */
export function applySiteEffects(rgb: Float32Array, h: number, w: number, profile: SiteProfile, rng: Rng): Float32Array {
  const s = Math.min(h, w);
  let img = gaussianBlur(rgb, h, w, 3, profile.blur * s);
  if (profile.resolution < 0.999) {
    const h2 = Math.max(4, Math.round(h * profile.resolution));
    const w2 = Math.max(4, Math.round(w * profile.resolution));
    if (h2 < h || w2 < w) {
      const factor = Math.max(h / h2, w / w2);
      const pre = gaussianBlur(img, h, w, 3, 0.5 * (factor - 1) + 0.1);
      img = resizeBilinear(resizeBilinear(pre, h, w, 3, h2, w2), h2, w2, 3, h, w);
    }
  }
  const out = new Float32Array(h * w * 3);
  const { gain, offset, gamma, contrast, brightness, noise, speckle, vignette } = profile;
  const nNoise = noise > 0 ? fillNormal(rng, new Float32Array(h * w * 3)) : null;
  const nSpeckle = speckle > 0 ? fillNormal(rng, new Float32Array(h * w * 3)) : null;
  const ss = smoothstep;
  // Tone curve v -> (v^gamma - 0.5) * contrast + 0.5 + brightness as a 1025-entry table.
  const lut = new Float32Array(TONE_STEPS + 2);
  for (let k = 0; k <= TONE_STEPS; k++) lut[k] = (Math.pow(k / TONE_STEPS, gamma) - 0.5) * contrast + 0.5 + brightness;
  lut[TONE_STEPS + 1] = lut[TONE_STEPS];
  for (let y = 0; y < h; y++) {
    const v = (y + 0.5 - h / 2) / s;
    for (let x = 0; x < w; x++) {
      const u = (x + 0.5 - w / 2) / s;
      const vig = vignette > 0 ? 1 - vignette * ss(0.2, 0.72, Math.sqrt(u * u + v * v)) : 1;
      const i = (y * w + x) * 3;
      for (let c = 0; c < 3; c++) {
        let val = img[i + c] * vig * gain[c] + offset[c];
        val = (val < 0 ? 0 : val > 1 ? 1 : val) * TONE_STEPS;
        const k = Math.floor(val);
        val = lut[k] + (lut[k + 1] - lut[k]) * (val - k);
        if (nSpeckle !== null) val *= 1 + speckle * nSpeckle[i + c];
        if (nNoise !== null) val += noise * nNoise[i + c];
        out[i + c] = val < 0 ? 0 : val > 1 ? 1 : val;
      }
    }
  }
  return out;
}
