/**
 * LoRA plugin modules for MedForge (Tan et al., arXiv:2502.16055; LoRA: Hu
 * et al., arXiv:2106.09685): a low-rank update of the base model's dense and
 * convolution kernels, trained locally with the base FROZEN. Only the
 * plugin (and a small synthetic set, ./distill) leaves a site.
 *
 * For a kernel `W0` of shape `[..., cout]` (Dense `[in, out]`, Conv2D
 * `[kh, kw, cin, cout]`, Conv2DTranspose `[kh, kw, cout', cin']`):
 * `W = W0 + (alpha / r) * reshape(down @ up, shape)` with
 * `down [prod(shape[:-1]), r]` and `up [r, shape[-1]]`.
 * For Conv2D this is PEFT's conv LoRA (lora_A = a kh x kw conv cin -> r,
 * lora_B = a 1x1 conv r -> cout, delta = B @ A): `delta[kh,kw,cin,cout] =
 * sum_r down[(kh,kw,cin), r] * up[r, cout]`. `down` starts
 * uniform(+-1/sqrt(fan_in)) (PEFT's kaiming-uniform(a = sqrt 5) bound),
 * `up` starts at ZERO, so a fresh plugin equals the base exactly.
 *
 * The official code (TanZheling/MedForge_official) puts LoRA (r = 16,
 * alpha = 16, dropout 0.1) on the q / v projections and the visual
 * projection of a CLIP ViT; here every Dense / Conv2D / Conv2DTranspose
 * kernel is a target by default (`targets`), with no LoRA dropout.
 * Depthwise kernels and biases / norms are not adapted.
 */
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../util/rng';
import { weightEntries, withWeights, type WeightEntry } from '../models/weights';

const TARGET_CLASSES = new Set(['Dense', 'Conv2D', 'Conv2DTranspose']);

/** Options of {@link LoraPlugin.create}. */
export interface LoraOptions {
  /** Rank r (default 4). */
  rank?: number;
  /** Scaling numerator: delta is multiplied by alpha / r (default = rank, i.e. scale 1, as the code's r = alpha = 16). */
  alpha?: number;
  /** Layer names to adapt, or a predicate on the weight; default every Dense / Conv2D / Conv2DTranspose kernel. */
  targets?: readonly string[] | ((e: WeightEntry) => boolean);
  /** Seeds the `down` initialisation (default 0). */
  seed?: number;
}

/** One adapted kernel as plain arrays (what leaves a site). */
export interface LoraFactorState {
  /** Weight index in the base model (`model.weights`). */
  index: number;
  layer: string;
  /** Kernel shape. */
  shape: number[];
  /** `[fanIn, r]` row-major, fanIn = prod(shape[:-1]). */
  down: Float32Array;
  /** `[r, cout]` row-major. */
  up: Float32Array;
}

/** A plugin as plain arrays: rank, alpha and the factors of every adapted kernel. */
export interface PluginState {
  rank: number;
  alpha: number;
  factors: LoraFactorState[];
}

/** Parameters of a plugin (`down` + `up` sizes). */
export function pluginParameterCount(p: PluginState): number {
  return p.factors.reduce((s, f) => s + f.down.length + f.up.length, 0);
}

/** Bytes a plugin takes on the wire: float32 parameters x 4 (rank / alpha / indices not counted). */
export function pluginBytes(p: PluginState): number {
  return pluginParameterCount(p) * 4;
}

/** Kernels of `base` a plugin adapts under `targets` (see {@link LoraOptions}). */
export function loraTargets(base: tf.LayersModel, targets?: LoraOptions['targets']): WeightEntry[] {
  const entries = weightEntries(base);
  const pick =
    typeof targets === 'function'
      ? targets
      : Array.isArray(targets)
        ? (e: WeightEntry) => targets.includes(e.layer) && e.role === 'kernel'
        : (e: WeightEntry) => TARGET_CLASSES.has(e.layerClass) && e.role === 'kernel';
  const out = entries.filter((e) => e.trainable && e.shape.length >= 2 && pick(e));
  if (Array.isArray(targets)) {
    for (const name of targets) {
      if (!out.some((e) => e.layer === name)) throw new Error(`loraTargets: layer '${name}' has no adaptable kernel in model '${base.name}'`);
    }
  }
  return out;
}

/** A trainable LoRA plugin attached to a frozen base model. Call {@link dispose} when done. */
export class LoraPlugin {
  readonly rank: number;
  readonly alpha: number;
  /** alpha / rank. */
  readonly scale: number;
  /** Base weight entries (indices refer to these). */
  readonly entries: WeightEntry[];
  readonly factors: { index: number; layer: string; shape: number[]; down: tf.Variable; up: tf.Variable }[];

  private constructor(rank: number, alpha: number, entries: WeightEntry[], factors: LoraPlugin['factors']) {
    this.rank = rank;
    this.alpha = alpha;
    this.scale = alpha / rank;
    this.entries = entries;
    this.factors = factors;
  }

  /** A fresh plugin for `base` (up = 0, so it equals the base). */
  static create(base: tf.LayersModel, options: LoraOptions = {}): LoraPlugin {
    const rank = options.rank ?? 4;
    const alpha = options.alpha ?? rank;
    if (!Number.isInteger(rank) || rank < 1) throw new Error(`LoraPlugin: rank must be an integer >= 1, got ${rank}`);
    if (!Number.isFinite(alpha)) throw new Error(`LoraPlugin: alpha must be finite, got ${alpha}`);
    const targets = loraTargets(base, options.targets);
    if (targets.length === 0) throw new Error(`LoraPlugin: model '${base.name}' has no Dense / Conv2D kernel to adapt`);
    const rng = createRng(options.seed ?? 0);
    const factors = targets.map((e) => {
      const cout = e.shape[e.shape.length - 1];
      const fanIn = e.shape.slice(0, -1).reduce((a, b) => a * b, 1);
      const bound = 1 / Math.sqrt(fanIn);
      const d = new Float32Array(fanIn * rank);
      for (let i = 0; i < d.length; i++) d[i] = rng.uniform(-bound, bound);
      const dt = tf.tensor2d(d, [fanIn, rank]);
      const ut = tf.zeros([rank, cout]);
      const f = { index: e.index, layer: e.layer, shape: [...e.shape], down: tf.variable(dt, true), up: tf.variable(ut, true) };
      tf.dispose([dt, ut]);
      return f;
    });
    return new LoraPlugin(rank, alpha, weightEntries(base), factors);
  }

  /** Trainable variables (`down`, `up` of every factor). */
  variables(): tf.Variable[] {
    return this.factors.flatMap((f) => [f.down, f.up]);
  }

  /** Base + delta for every adapted kernel (create inside a tidy / gradient scope). */
  effectiveWeights(): Map<number, tf.Tensor> {
    const out = new Map<number, tf.Tensor>();
    for (const f of this.factors) {
      const delta = tf.reshape(tf.mul(tf.matMul(f.down, f.up), this.scale), f.shape);
      out.set(f.index, tf.add(this.entries[f.index].variable.read(), delta));
    }
    return out;
  }

  /** Forward pass of base + plugin (base in inference mode: frozen, BN moving statistics). */
  forward(base: tf.LayersModel, x: tf.Tensor4D): tf.Tensor {
    return withWeights(this.entries, this.effectiveWeights(), () => base.apply(x, { training: false }) as tf.Tensor);
  }

  /** Copy out as plain arrays (what a site sends). */
  state(): PluginState {
    return {
      rank: this.rank,
      alpha: this.alpha,
      factors: this.factors.map((f) => ({
        index: f.index,
        layer: f.layer,
        shape: [...f.shape],
        down: (f.down.dataSync() as Float32Array).slice(),
        up: (f.up.dataSync() as Float32Array).slice(),
      })),
    };
  }

  /** Free the variables. */
  dispose(): void {
    for (const f of this.factors) {
      f.down.dispose();
      f.up.dispose();
    }
  }
}

/**
 * A combination of plugins, what the base is run with:
 * - 'factors': ONE low-rank plugin (e.g. the LoraHub-style weighted sum of
 *   plugins' `down` and `up` factors that the official MedForge code merges);
 * - 'delta': full per-kernel deltas (the paper's weighted sum of the
 *   plugins' weight updates `sum_i w_i * scale * down_i @ up_i`).
 */
export type ForgeDelta = { kind: 'factors'; plugin: PluginState } | { kind: 'delta'; deltas: Map<number, { shape: number[]; values: Float32Array }> };

/** Per-kernel weight update of a plugin as tensors (create inside a tidy). */
export function pluginDeltas(p: PluginState): Map<number, tf.Tensor> {
  const scale = p.alpha / p.rank;
  const out = new Map<number, tf.Tensor>();
  for (const f of p.factors) {
    const fanIn = f.down.length / p.rank;
    const cout = f.up.length / p.rank;
    const d = tf.matMul(tf.tensor2d(f.down, [fanIn, p.rank]), tf.tensor2d(f.up, [p.rank, cout]));
    out.set(f.index, tf.reshape(tf.mul(d, scale), f.shape));
  }
  return out;
}

/** Per-kernel deltas of a {@link ForgeDelta} as tensors (create inside a tidy). */
export function forgeDeltaTensors(d: ForgeDelta): Map<number, tf.Tensor> {
  if (d.kind === 'factors') return pluginDeltas(d.plugin);
  const out = new Map<number, tf.Tensor>();
  d.deltas.forEach((v, k) => out.set(k, tf.tensor(v.values, v.shape)));
  return out;
}

/** `W0 + delta` for the kernels a {@link ForgeDelta} touches (create inside a tidy). */
export function effectiveWeightsOf(entries: readonly WeightEntry[], d: ForgeDelta): Map<number, tf.Tensor> {
  const out = new Map<number, tf.Tensor>();
  forgeDeltaTensors(d).forEach((delta, index) => out.set(index, tf.add(entries[index].variable.read(), delta)));
  return out;
}

/** Predict with base + delta (inference mode); create inside a tidy. */
export function forwardWith(base: tf.LayersModel, entries: readonly WeightEntry[], d: ForgeDelta | null, x: tf.Tensor4D): tf.Tensor {
  if (!d) return base.apply(x, { training: false }) as tf.Tensor;
  return withWeights(entries, effectiveWeightsOf(entries, d), () => base.apply(x, { training: false }) as tf.Tensor);
}
