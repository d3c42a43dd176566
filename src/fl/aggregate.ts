/**
 * Pure aggregation maths on plain `Float32Array[]` weight lists (one array
 * per model weight, `model.weights` order). Nothing here holds state between
 * calls except the explicit {@link WeightedAverager} accumulator; nothing
 * touches tfjs.
 *
 * - FedAvg: McMahan et al. 2017, arXiv:1602.05629 (sample-count weighting).
 * - FedBN: Li et al. 2021, arXiv:2102.07623 (BatchNorm kept local).
 * - FedAvgM: Hsu et al. 2019, arXiv:1909.06335; FedAdam: Reddi et al. 2021,
 *   "Adaptive Federated Optimization", arXiv:2003.00295 (Algorithm 2).
 * - Clipping + Gaussian noise of an update: the Gaussian mechanism as used by
 *   DP-FedAvg (McMahan et al. 2018, arXiv:1710.06963).
 */
import { createRng } from '../util/rng';
import type { ServerOptimizerConfig, ServerOptimizerName } from './types';
import type { WeightSpec } from '../models/weights';

/** One client's contribution: its weights after local training and its number of training samples. */
export interface ClientUpdate {
  weights: readonly Float32Array[];
  numSamples: number;
}

function checkSameLayout(ref: readonly Float32Array[], w: readonly Float32Array[], who: string): void {
  if (w.length !== ref.length) throw new Error(`${who}: update has ${w.length} arrays, expected ${ref.length}`);
  w.forEach((a, i) => {
    if (a.length !== ref[i].length) throw new Error(`${who}: array ${i} has ${a.length} elements, expected ${ref[i].length}`);
  });
}

/**
 * Running sample-weighted average: `add` each client's weights as they
 * arrive, `result()` gives sum_k n_k w_k / sum_k n_k. Memory is one float64
 * sum per weight, whatever the number of clients (float64 so the order of
 * additions barely matters).
 */
export class WeightedAverager {
  private sums: Float64Array[] | null = null;
  private total = 0;
  private count = 0;

  /** Add one update with weight `numSamples` (> 0). */
  add(weights: readonly Float32Array[], numSamples: number): void {
    if (!(numSamples > 0) || !Number.isFinite(numSamples)) {
      throw new Error(`WeightedAverager.add: numSamples must be a positive number, got ${numSamples}`);
    }
    if (!this.sums) this.sums = weights.map((w) => new Float64Array(w.length));
    else checkSameLayout(this.sums as unknown as Float32Array[], weights, 'WeightedAverager.add');
    const sums = this.sums;
    weights.forEach((w, i) => {
      const s = sums[i];
      for (let j = 0; j < w.length; j++) s[j] += numSamples * w[j];
    });
    this.total += numSamples;
    this.count++;
  }

  /** Number of updates added. */
  get size(): number {
    return this.count;
  }

  /** Sum of the sample weights added. */
  get totalSamples(): number {
    return this.total;
  }

  /** The weighted average (fresh arrays). Throws when nothing was added. */
  result(): Float32Array[] {
    if (!this.sums) throw new Error('WeightedAverager.result: no update was added');
    const t = this.total;
    return this.sums.map((s) => {
      const out = new Float32Array(s.length);
      for (let j = 0; j < s.length; j++) out[j] = s[j] / t;
      return out;
    });
  }
}

/**
 * FedAvg (arXiv:1602.05629, Algorithm 1): w = sum_k (n_k / n) w_k.
 * Throws on an empty list, mismatched layouts or non-positive sample counts.
 */
export function fedAvg(updates: readonly ClientUpdate[]): Float32Array[] {
  if (updates.length === 0) throw new Error('fedAvg: no updates');
  const acc = new WeightedAverager();
  for (const u of updates) acc.add(u.weights, u.numSamples);
  return acc.result();
}

/**
 * Which weights are shared (aggregated) across sites. With `fedbn` (FedBN,
 * arXiv:2102.07623) every weight of a BatchNormalization layer (gamma, beta,
 * moving mean and variance) stays local: `false` in the mask. Otherwise all `true`.
 */
export function sharedWeightMask(specs: readonly Pick<WeightSpec, 'layerClass'>[], fedbn: boolean): boolean[] {
  return specs.map((s) => !(fedbn && s.layerClass === 'BatchNormalization'));
}

/** Take `shared` entries from `global` and the others from `local` (FedBN's site model). */
export function mergeShared(global: readonly Float32Array[], local: readonly Float32Array[], shared: readonly boolean[]): Float32Array[] {
  checkSameLayout(global, local, 'mergeShared');
  return global.map((g, i) => (shared[i] ? g : local[i]));
}

/** Element-wise a + b (e.g. start weights + an update). */
export function add(a: readonly Float32Array[], b: readonly Float32Array[]): Float32Array[] {
  checkSameLayout(a, b, 'add');
  return a.map((x, i) => {
    const out = new Float32Array(x.length);
    const y = b[i];
    for (let j = 0; j < x.length; j++) out[j] = x[j] + y[j];
    return out;
  });
}

/** Element-wise a - b. */
export function subtract(a: readonly Float32Array[], b: readonly Float32Array[]): Float32Array[] {
  checkSameLayout(a, b, 'subtract');
  return a.map((x, i) => {
    const out = new Float32Array(x.length);
    const y = b[i];
    for (let j = 0; j < x.length; j++) out[j] = x[j] - y[j];
    return out;
  });
}

/** State of a server optimizer, carried across rounds (and checkpointed). */
export interface ServerOptimizerState {
  /** Rounds applied so far. */
  step: number;
  /** First moment / momentum buffer (absent before the first step and for 'none'). */
  m?: Float32Array[];
  /** Second moment (FedAdam). */
  v?: Float32Array[];
}

/** Server optimizer options with defaults applied. */
export interface ResolvedServerOptimizer {
  name: ServerOptimizerName;
  learningRate: number;
  momentum: number;
  beta1: number;
  beta2: number;
  tau: number;
  /** FedAdam: Flower's bias-corrected server step (eta_norm). */
  biasCorrection: boolean;
}

/** Flower's defaults (flwr.serverapp.strategy, 1.2x): eta, beta1, beta2, tau per optimizer. */
const SERVER_DEFAULTS: Record<ServerOptimizerName, { learningRate: number; momentum: number; beta1: number; beta2: number; tau: number }> = {
  none: { learningRate: 1, momentum: 0, beta1: 0, beta2: 0, tau: 1e-3 },
  fedavgm: { learningRate: 1, momentum: 0, beta1: 0, beta2: 0, tau: 1e-3 },
  fedadam: { learningRate: 0.1, momentum: 0, beta1: 0.9, beta2: 0.99, tau: 1e-3 },
  fedyogi: { learningRate: 0.01, momentum: 0, beta1: 0.9, beta2: 0.99, tau: 1e-3 },
  fedadagrad: { learningRate: 0.1, momentum: 0, beta1: 0, beta2: 0, tau: 1e-3 },
};

/** Valid server optimizer names. */
export const SERVER_OPTIMIZERS: readonly ServerOptimizerName[] = ['none', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad'];

/**
 * Fill the defaults of a server optimizer. They are Flower's (FedAvgM:
 * server_learning_rate 1, server_momentum 0; FedAdam: eta 0.1, beta_1 0.9,
 * beta_2 0.99, tau 1e-3, bias-corrected step; FedYogi: eta 0.01, beta_1 0.9,
 * beta_2 0.99, tau 1e-3; FedAdagrad: eta 0.1, beta_1 0, tau 1e-3).
 */
export function resolveServerOptimizer(cfg?: ServerOptimizerConfig): ResolvedServerOptimizer {
  const name = cfg?.name ?? 'none';
  if (!SERVER_OPTIMIZERS.includes(name)) {
    throw new Error(`serverOptimizer.name must be one of ${SERVER_OPTIMIZERS.join(', ')}, got '${name}'`);
  }
  const d = SERVER_DEFAULTS[name];
  const r: ResolvedServerOptimizer = {
    name,
    learningRate: cfg?.learningRate ?? d.learningRate,
    momentum: cfg?.momentum ?? d.momentum,
    beta1: cfg?.beta1 ?? d.beta1,
    beta2: cfg?.beta2 ?? d.beta2,
    tau: cfg?.tau ?? d.tau,
    biasCorrection: cfg?.biasCorrection ?? name === 'fedadam',
  };
  for (const [k, v] of Object.entries(r)) {
    if (k !== 'name' && k !== 'biasCorrection' && !(typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
      throw new Error(`serverOptimizer.${k} must be a finite number >= 0, got ${v}`);
    }
  }
  return r;
}

/**
 * Apply the server optimizer to the trainable entries (`apply[i]`) of the
 * global model, given the averaged pseudo-gradient `delta = average - global`
 * (Reddi et al., arXiv:2003.00295, Algorithm 2, as Flower's FedOpt family):
 *
 * - 'none':       x <- x + delta (= the average; plain FedAvg)
 * - 'fedavgm':    m <- beta m + delta;  x <- x + eta m   (Hsu et al., arXiv:1909.06335)
 * - 'fedadam':    m <- b1 m + (1-b1) delta;  v <- b2 v + (1-b2) delta^2
 * - 'fedyogi':    m as Adam;  v <- v - (1-b2) delta^2 sign(v - delta^2)
 * - 'fedadagrad': m as Adam;  v <- v + delta^2
 *   then x <- x + eta_t m / (sqrt(v) + tau), with v starting at 0 and
 *   eta_t = eta, or for FedAdam with `biasCorrection` (Flower's default)
 *   eta sqrt(1 - b2^(t+1)) / (1 - b1^(t+1)) where t is the 1-based round.
 *
 * Entries with `apply[i] === false` (BatchNorm moving statistics) are set to
 * x + delta (plain average): momentum on a variance could make it negative.
 * Pure: returns fresh arrays and a fresh state.
 */
export function serverUpdate(
  global: readonly Float32Array[],
  delta: readonly Float32Array[],
  state: ServerOptimizerState,
  opt: ResolvedServerOptimizer,
  apply: readonly boolean[] = global.map(() => true),
): { weights: Float32Array[]; state: ServerOptimizerState } {
  checkSameLayout(global, delta, 'serverUpdate');
  const adaptive = opt.name === 'fedadam' || opt.name === 'fedyogi' || opt.name === 'fedadagrad';
  const m = opt.name === 'none' ? undefined : global.map((g, i) => (state.m ? Float32Array.from(state.m[i]) : new Float32Array(g.length)));
  const v = adaptive ? global.map((g, i) => (state.v ? Float32Array.from(state.v[i]) : new Float32Array(g.length))) : undefined;
  const t = state.step + 1;
  const eta = opt.biasCorrection ? (opt.learningRate * Math.sqrt(1 - opt.beta2 ** (t + 1))) / (1 - opt.beta1 ** (t + 1)) : opt.learningRate;
  const weights = global.map((g, i) => {
    const d = delta[i];
    const out = new Float32Array(g.length);
    if (opt.name === 'none' || !apply[i]) {
      for (let j = 0; j < g.length; j++) out[j] = g[j] + d[j];
      return out;
    }
    const mi = (m as Float32Array[])[i];
    if (opt.name === 'fedavgm') {
      for (let j = 0; j < g.length; j++) {
        mi[j] = opt.momentum * mi[j] + d[j];
        out[j] = g[j] + opt.learningRate * mi[j];
      }
      return out;
    }
    const vi = (v as Float32Array[])[i];
    for (let j = 0; j < g.length; j++) {
      const d2 = d[j] * d[j];
      mi[j] = opt.beta1 * mi[j] + (1 - opt.beta1) * d[j];
      if (opt.name === 'fedadam') vi[j] = opt.beta2 * vi[j] + (1 - opt.beta2) * d2;
      else if (opt.name === 'fedyogi') vi[j] = vi[j] - (1 - opt.beta2) * d2 * Math.sign(vi[j] - d2);
      else vi[j] = vi[j] + d2;
      out[j] = g[j] + (eta * mi[j]) / (Math.sqrt(vi[j]) + opt.tau);
    }
    return out;
  });
  return { weights, state: { step: state.step + 1, m, v } };
}

/**
 * Apply `reduce` to every coordinate's values across equally laid-out weight
 * lists, sorted ascending (float64), e.g. a median or a trimmed mean. Pure.
 */
export function reduceSortedCoordinates(lists: readonly (readonly Float32Array[])[], reduce: (sorted: Float64Array) => number, who = 'reduceSortedCoordinates'): Float32Array[] {
  if (lists.length === 0) throw new Error(`${who}: no weight lists`);
  for (const l of lists) checkSameLayout(lists[0], l, who);
  const n = lists.length;
  const column = new Float64Array(n);
  return lists[0].map((first, i) => {
    const out = new Float32Array(first.length);
    for (let j = 0; j < first.length; j++) {
      for (let k = 0; k < n; k++) column[k] = lists[k][i][j];
      column.sort();
      out[j] = reduce(column);
    }
    return out;
  });
}

/** Global L2 norm over all arrays. */
export function l2Norm(update: readonly Float32Array[]): number {
  let s = 0;
  for (const a of update) for (let j = 0; j < a.length; j++) s += a[j] * a[j];
  return Math.sqrt(s);
}

/** Options of {@link clipAndNoise}. */
export interface ClipNoiseOptions {
  /** Clip norm C (> 0): the update is scaled by min(1, C / ||update||_2). */
  clipNorm: number;
  /** Noise multiplier sigma (>= 0): adds N(0, (sigma C)^2) to every element. Default 0. */
  noiseMultiplier?: number;
  /** Seeds the noise. */
  seed: number | string;
}

/**
 * Clip an update (typically a client delta w_k - w_global) to global L2
 * norm C and add Gaussian noise of std sigma*C (the Gaussian mechanism of
 * DP-FedAvg, arXiv:1710.06963). Pure and seeded; returns the new update, the
 * norm before clipping and the scale applied. Accounting (epsilon) is not done here.
 */
export function clipAndNoise(update: readonly Float32Array[], options: ClipNoiseOptions): { update: Float32Array[]; norm: number; scale: number } {
  const C = options.clipNorm;
  const sigma = options.noiseMultiplier ?? 0;
  if (!(C > 0) || !Number.isFinite(C)) throw new Error(`clipAndNoise: clipNorm must be a finite number > 0, got ${C}`);
  if (!(sigma >= 0) || !Number.isFinite(sigma)) throw new Error(`clipAndNoise: noiseMultiplier must be a finite number >= 0, got ${sigma}`);
  const norm = l2Norm(update);
  const scale = norm > C ? C / norm : 1;
  const rng = createRng(options.seed);
  const std = sigma * C;
  const out = update.map((a) => {
    const o = new Float32Array(a.length);
    for (let j = 0; j < a.length; j++) o[j] = a[j] * scale + (std > 0 ? rng.normal(0, std) : 0);
    return o;
  });
  return { update: out, norm, scale };
}
