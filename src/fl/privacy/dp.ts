/**
 * Differential-privacy tools for model updates: clipping + Gaussian noise of
 * weight deltas (re-using {@link clipAndNoise} of ../aggregate, the Gaussian
 * mechanism of DP-FedAvg, McMahan et al. 2018, arXiv:1710.06963) and a small
 * Rényi-DP accountant for that mechanism composed over rounds.
 *
 * Accountant (what exactly is computed):
 * - the RDP of order alpha of ONE release of the (optionally Poisson-subsampled)
 *   Gaussian mechanism with L2 sensitivity 1 and noise std `noiseMultiplier`:
 *   - q = 1 (no subsampling): alpha / (2 sigma^2), any real alpha > 1
 *     (Mironov 2017, "Rényi Differential Privacy", arXiv:1702.07476, Prop. 7);
 *   - 0 < q < 1: the exact value for INTEGER alpha of the Sampled Gaussian
 *     Mechanism (Mironov, Talwar, Zhang 2019, arXiv:1908.10530, Sec. 3.3):
 *     log( sum_{k=0..alpha} C(alpha,k) (1-q)^(alpha-k) q^k exp((k^2-k)/(2 sigma^2)) ) / (alpha-1);
 *     fractional orders are not evaluated (the integer grid 2..256 is used), so
 *     epsilon can be slightly looser than Opacus/TF-Privacy, never smaller;
 * - composition over `steps` releases: RDP adds up (Mironov 2017, Prop. 1);
 * - conversion to (epsilon, delta): 'classic' eps = rdp + log(1/delta)/(alpha-1)
 *   (Mironov 2017, Prop. 3) or 'improved' (default)
 *   eps = rdp + log((alpha-1)/alpha) - (log delta + log alpha)/(alpha-1)
 *   (Balle et al. 2020, arXiv:1905.09982, Thm. 21; the rule Opacus uses),
 *   minimised over the orders.
 *
 * Limits: the "record" protected is whatever one clipped update stands for
 * (in FL: one client's whole contribution of a round, i.e. client-level DP;
 * not per-example DP, which needs per-example clipping as in DP-SGD). The
 * sensitivity must be expressed in the multiplier: with noise std sigma*C on a
 * sum of updates clipped to C and add/remove-one-client adjacency, use
 * `noiseMultiplier = sigma`; when each noisy update is seen on its own and
 * adjacency is replace-one (local DP of an update), the sensitivity is 2C, so
 * use `noiseMultiplier = sigma / 2`. Client sampling by the server must be
 * Poisson with rate q for the subsampled bound to hold (FedAvg's fixed-size
 * sampling is only approximately that).
 */
import { clipAndNoise, l2Norm, type ClipNoiseOptions } from '../aggregate';
import { createRng } from '../../util/rng';

export { clipAndNoise, l2Norm, type ClipNoiseOptions };

/** Options of {@link privatizeUpdate}. */
export interface PrivatizeOptions extends ClipNoiseOptions {
  /**
   * Which arrays of the update are clipped and noised (`true`); the others
   * are copied unchanged and take no part in the norm (e.g. BatchNorm moving
   * statistics, where noise could make a variance negative). Default: all.
   */
  mask?: readonly boolean[];
}

/** Result of {@link privatizeUpdate}. */
export interface PrivatizedUpdate {
  /** Same layout as the input (fresh arrays). */
  update: Float32Array[];
  /** L2 norm of the masked part before clipping. */
  norm: number;
  /** Scale applied by clipping, min(1, C / norm). */
  scale: number;
}

/**
 * Clip the masked arrays of `update` (a weight delta, `model.weights` order)
 * to global L2 norm C and add N(0, (sigma C)^2) to each of their elements
 * (via {@link clipAndNoise}); unmasked arrays are copied. Pure and seeded.
 */
export function privatizeUpdate(update: readonly Float32Array[], options: PrivatizeOptions): PrivatizedUpdate {
  const mask = options.mask ?? update.map(() => true);
  if (mask.length !== update.length) {
    throw new Error(`privatizeUpdate: mask has ${mask.length} entries but the update has ${update.length} arrays`);
  }
  const picked = update.filter((_, i) => mask[i]);
  const r = clipAndNoise(picked, { clipNorm: options.clipNorm, noiseMultiplier: options.noiseMultiplier, seed: options.seed });
  let k = 0;
  const out = update.map((a, i) => (mask[i] ? r.update[k++] : Float32Array.from(a)));
  return { update: out, norm: r.norm, scale: r.scale };
}

/** Options of {@link addGaussianNoise}. */
export interface NoiseOptions {
  /** Standard deviation of the noise (>= 0). */
  std: number;
  seed: number | string;
  /** Arrays that get noise (default: all); the others are copied. */
  mask?: readonly boolean[];
}

/**
 * Add i.i.d. N(0, std^2) to every element of the masked arrays (no
 * clipping): the server-side noise of central DP-FedAvg. Pure and seeded.
 */
export function addGaussianNoise(update: readonly Float32Array[], options: NoiseOptions): Float32Array[] {
  const std = options.std;
  if (!(std >= 0) || !Number.isFinite(std)) throw new Error(`addGaussianNoise: std must be a finite number >= 0, got ${std}`);
  const mask = options.mask ?? update.map(() => true);
  if (mask.length !== update.length) {
    throw new Error(`addGaussianNoise: mask has ${mask.length} entries but the update has ${update.length} arrays`);
  }
  const rng = createRng(options.seed);
  return update.map((a, i) => {
    const o = Float32Array.from(a);
    if (mask[i] && std > 0) for (let j = 0; j < o.length; j++) o[j] += rng.normal(0, std);
    return o;
  });
}

/** Default orders: 1.1..10.9 step 0.1 and 11..256 (fractional ones only used when q = 1). */
export const DEFAULT_RDP_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, i) => Math.round((1.1 + 0.1 * i) * 10) / 10),
  ...Array.from({ length: 246 }, (_, i) => 11 + i),
]);

function checkSigmaQ(sigma: number, q: number, where: string): void {
  if (!(sigma >= 0) || !Number.isFinite(sigma)) throw new Error(`${where}: noiseMultiplier must be a finite number >= 0, got ${sigma}`);
  if (!(q > 0 && q <= 1)) throw new Error(`${where}: samplingRate must be in (0, 1], got ${q}`);
}

function logSumExp(xs: readonly number[]): number {
  const m = Math.max(...xs);
  if (m === -Infinity) return -Infinity;
  if (m === Infinity) return Infinity;
  let s = 0;
  for (const x of xs) s += Math.exp(x - m);
  return m + Math.log(s);
}

/**
 * RDP of order `alpha` of one release of the Gaussian mechanism with L2
 * sensitivity 1, noise std `noiseMultiplier` and Poisson sampling rate
 * `samplingRate` (default 1). q = 1: alpha / (2 sigma^2) for any real alpha > 1.
 * q < 1: exact for integer alpha >= 2 (arXiv:1908.10530); throws for a
 * fractional alpha. sigma = 0 gives Infinity.
 */
export function gaussianRdp(alpha: number, noiseMultiplier: number, samplingRate = 1): number {
  const sigma = noiseMultiplier;
  const q = samplingRate;
  checkSigmaQ(sigma, q, 'gaussianRdp');
  if (!(alpha > 1) || !Number.isFinite(alpha)) throw new Error(`gaussianRdp: order alpha must be a finite number > 1, got ${alpha}`);
  if (sigma === 0) return Infinity;
  if (q === 1) return alpha / (2 * sigma * sigma);
  if (!Number.isInteger(alpha)) {
    throw new Error(`gaussianRdp: with samplingRate < 1 only integer orders are supported, got alpha = ${alpha}`);
  }
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const terms: number[] = [];
  let logBinom = 0; // log C(alpha, 0)
  for (let k = 0; k <= alpha; k++) {
    if (k > 0) logBinom += Math.log(alpha - k + 1) - Math.log(k);
    terms.push(logBinom + (alpha - k) * log1mQ + k * logQ + (k * k - k) / (2 * sigma * sigma));
  }
  return Math.max(0, logSumExp(terms) / (alpha - 1));
}

/** How RDP is turned into (epsilon, delta). */
export type RdpConversion = 'classic' | 'improved';

/**
 * Convert total RDP values (`rdp[i]` at `orders[i]`) to the smallest epsilon
 * at `delta` over the orders ('classic': Mironov 2017 Prop. 3;
 * 'improved': Balle et al. 2020 Thm. 21). Returns the epsilon and the order
 * attaining it (Infinity / NaN when every rdp is infinite).
 */
export function rdpToEpsilon(
  orders: readonly number[],
  rdp: readonly number[],
  delta: number,
  conversion: RdpConversion = 'improved',
): { epsilon: number; order: number } {
  if (orders.length !== rdp.length || orders.length === 0) {
    throw new Error(`rdpToEpsilon: need as many rdp values as orders (>= 1), got ${rdp.length} and ${orders.length}`);
  }
  if (!(delta > 0 && delta < 1)) throw new Error(`rdpToEpsilon: delta must be in (0, 1), got ${delta}`);
  let best = Infinity;
  let order = NaN;
  orders.forEach((a, i) => {
    if (!(a > 1)) throw new Error(`rdpToEpsilon: orders must be > 1, got ${a}`);
    const r = rdp[i];
    const eps =
      conversion === 'classic'
        ? r + Math.log(1 / delta) / (a - 1)
        : r + Math.log((a - 1) / a) - (Math.log(delta) + Math.log(a)) / (a - 1);
    if (eps < best) {
      best = eps;
      order = a;
    }
  });
  return { epsilon: Math.max(0, best), order };
}

/** Options of {@link computeEpsilon}. */
export interface AccountantOptions {
  /** Noise std divided by the L2 sensitivity (see the module doc for what sensitivity to use). */
  noiseMultiplier: number;
  /** Number of composed releases (FL rounds), integer >= 0. */
  steps: number;
  /** Poisson sampling rate q of a record per release, in (0, 1]. Default 1 (no subsampling). */
  samplingRate?: number;
  /** Target delta, in (0, 1). Default 1e-5. */
  delta?: number;
  /** RDP orders (> 1). Default {@link DEFAULT_RDP_ORDERS} (only the integer ones when q < 1). */
  orders?: readonly number[];
  /** Default 'improved'. */
  conversion?: RdpConversion;
}

/** What {@link computeEpsilon} reports. */
export interface PrivacySpent {
  epsilon: number;
  delta: number;
  /** RDP order attaining the epsilon. */
  order: number;
  noiseMultiplier: number;
  steps: number;
  samplingRate: number;
  conversion: RdpConversion;
}

/**
 * (epsilon, delta) of `steps` compositions of the (subsampled) Gaussian
 * mechanism via RDP (see the module doc). With q = 1 and the 'classic'
 * conversion the analytic optimum alpha* = 1 + sqrt(2 sigma^2 log(1/delta) / T)
 * is added to the orders, so the result is the closed form
 * eps = T/(2 sigma^2) + sqrt(2 T log(1/delta)) / sigma.
 * steps = 0 gives 0; sigma = 0 (with steps > 0) gives Infinity.
 */
export function computeEpsilon(options: AccountantOptions): PrivacySpent {
  const sigma = options.noiseMultiplier;
  const q = options.samplingRate ?? 1;
  const delta = options.delta ?? 1e-5;
  const steps = options.steps;
  const conversion = options.conversion ?? 'improved';
  checkSigmaQ(sigma, q, 'computeEpsilon');
  if (!Number.isInteger(steps) || steps < 0) throw new Error(`computeEpsilon: steps must be an integer >= 0, got ${steps}`);
  if (!(delta > 0 && delta < 1)) throw new Error(`computeEpsilon: delta must be in (0, 1), got ${delta}`);
  if (conversion !== 'classic' && conversion !== 'improved') {
    throw new Error(`computeEpsilon: conversion must be 'classic' or 'improved', got '${String(conversion)}'`);
  }
  const base = { delta, noiseMultiplier: sigma, steps, samplingRate: q, conversion };
  if (steps === 0) return { ...base, epsilon: 0, order: NaN };
  if (sigma === 0) return { ...base, epsilon: Infinity, order: NaN };
  let orders = [...(options.orders ?? DEFAULT_RDP_ORDERS)];
  if (q < 1) orders = orders.filter((a) => Number.isInteger(a) && a >= 2);
  if (q === 1 && conversion === 'classic') orders.push(1 + Math.sqrt((2 * sigma * sigma * Math.log(1 / delta)) / steps));
  if (orders.length === 0) throw new Error('computeEpsilon: no usable RDP order (integer orders >= 2 are needed when samplingRate < 1)');
  const rdp = orders.map((a) => steps * gaussianRdp(a, sigma, q));
  const r = rdpToEpsilon(orders, rdp, delta, conversion);
  return { ...base, epsilon: r.epsilon, order: r.order };
}

/** Seed of client `key`'s noise in round `round` (distinct, reproducible streams). */
export function noiseSeed(seed: number | string, round: number, key: string): number {
  return createRng(seed).fork(`dp-noise:${round}:${key}`).nextUint32();
}
