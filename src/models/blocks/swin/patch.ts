/**
 * Patch layers of Swin-Unet (Cao et al. 2021, arXiv:2105.05537; official code
 * HuCaoFighting/Swin-Unet, `swin_transformer_unet_skip_expand_decoder_sys.py`):
 * patch embedding, patch merging (encoder 2x down) and patch expanding
 * (decoder 2x / final 4x up). All tensors are NHWC token maps `[N, H, W, C]`
 * (the official code keeps `[B, L, C]` and views it as `[B, H, W, C]`; the
 * two are the same memory layout). Serializable, re-applicable tfjs layers.
 */
import * as tf from '@tensorflow/tfjs';
import type { Initializer } from '../init';
import { LAYER_NORM_EPSILON, defaultTruncNormal, deserializeInit, layerNorm, linear, serializeInit } from './ops';

/** Base tfjs layer arguments (name, trainable, ...). */
export type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;
type Shape = Array<number | null>;

function single(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(inputs) ? inputs[0] : inputs;
}

function singleShape(inputShape: Shape | Shape[], who: string): Shape {
  const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
  if (s.length !== 4) throw new Error(`${who}: expected a 4-D NHWC input, got shape ${JSON.stringify(s)}`);
  return s;
}

function channels(s: Shape, who: string): number {
  const c = s[3];
  if (c === null || c === undefined) throw new Error(`${who}: the channel dimension must be known`);
  return c;
}

const mul = (d: number | null, k: number): number | null => (d === null ? null : d * k);

/** Options of {@link PatchEmbed}. */
export interface PatchEmbedArgs extends LayerArgs {
  /** Embedding dimension C (paper: 96). */
  embedDim: number;
  /** Patch side p (default 4, as the paper). */
  patchSize?: number;
  /** LayerNorm epsilon (default 1e-5, PyTorch's). */
  epsilon?: number;
  /** Initializer of the `[p*p*Cin, C]` projection (default: unseeded truncated normal 0.02). */
  kernelInitializer?: Initializer | tf.serialization.ConfigDict;
}

/**
 * Patch embedding: non-overlapping `p x p` patches -> linear embedding C ->
 * LayerNorm (official `PatchEmbed` with `patch_norm=True`: a stride-p conv,
 * which is the same map as flattening each patch and applying one matrix).
 * Input `[N, H, W, Cin]`, output `[N, H/p, W/p, C]`. Patch vectors are
 * flattened in (row, col, channel) order, a fixed re-indexing of the conv kernel.
 */
export class PatchEmbed extends tf.layers.Layer {
  static className = 'MedflSwinPatchEmbed';
  readonly embedDim: number;
  readonly patchSize: number;
  readonly epsilon: number;
  private readonly kernelInit: Initializer;
  private kernel?: tf.LayerVariable;
  private bias?: tf.LayerVariable;
  private gamma?: tf.LayerVariable;
  private beta?: tf.LayerVariable;

  constructor(args: PatchEmbedArgs) {
    super(args);
    this.embedDim = args.embedDim;
    this.patchSize = args.patchSize ?? 4;
    this.epsilon = args.epsilon ?? LAYER_NORM_EPSILON;
    this.kernelInit = deserializeInit(args.kernelInitializer, defaultTruncNormal);
    if (!Number.isInteger(this.embedDim) || this.embedDim < 1) {
      throw new Error(`PatchEmbed: embedDim must be a positive integer, got ${args.embedDim}`);
    }
  }

  override build(inputShape: Shape | Shape[]): void {
    const s = singleShape(inputShape, 'PatchEmbed');
    const p = this.patchSize;
    for (const d of [s[1], s[2]]) {
      if (d !== null && d % p !== 0) throw new Error(`PatchEmbed: input size ${d} is not divisible by patch size ${p}`);
    }
    const cin = channels(s, 'PatchEmbed');
    this.kernel = this.addWeight('kernel', [p * p * cin, this.embedDim], 'float32', this.kernelInit);
    this.bias = this.addWeight('bias', [this.embedDim], 'float32', tf.initializers.zeros());
    this.gamma = this.addWeight('norm_gamma', [this.embedDim], 'float32', tf.initializers.ones());
    this.beta = this.addWeight('norm_beta', [this.embedDim], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = singleShape(inputShape, 'PatchEmbed');
    const p = this.patchSize;
    return [s[0], s[1] === null ? null : s[1] / p, s[2] === null ? null : s[2] / p, this.embedDim];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const [n, h, w, c] = x.shape as [number, number, number, number];
      const p = this.patchSize;
      const rows = tf.reshape(x, [n * (h / p), p, w / p, p * c]);
      const patches = tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [n, h / p, w / p, p * p * c]);
      const y = linear(patches, this.kernel!.read(), this.bias!.read());
      return layerNorm(y, this.gamma!.read(), this.beta!.read(), this.epsilon);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      embedDim: this.embedDim,
      patchSize: this.patchSize,
      epsilon: this.epsilon,
      kernelInitializer: serializeInit(this.kernelInit),
    };
  }
}

/** Options of {@link PatchMerging}. */
export interface PatchMergingArgs extends LayerArgs {
  /** LayerNorm epsilon (default 1e-5). */
  epsilon?: number;
  /** Initializer of the `[4C, 2C]` reduction (default: unseeded truncated normal 0.02). */
  kernelInitializer?: Initializer | tf.serialization.ConfigDict;
}

/**
 * Patch merging (official `PatchMerging`): concatenate each 2x2 neighbourhood
 * in the official order `[x(0,0), x(1,0), x(0,1), x(1,1)]` ((row, col) offsets)
 * -> LayerNorm(4C) -> linear 4C -> 2C without bias.
 * Input `[N, H, W, C]` (H, W even), output `[N, H/2, W/2, 2C]`.
 */
export class PatchMerging extends tf.layers.Layer {
  static className = 'MedflSwinPatchMerging';
  readonly epsilon: number;
  private readonly kernelInit: Initializer;
  private kernel?: tf.LayerVariable;
  private gamma?: tf.LayerVariable;
  private beta?: tf.LayerVariable;

  constructor(args: PatchMergingArgs = {}) {
    super(args);
    this.epsilon = args.epsilon ?? LAYER_NORM_EPSILON;
    this.kernelInit = deserializeInit(args.kernelInitializer, defaultTruncNormal);
  }

  override build(inputShape: Shape | Shape[]): void {
    const s = singleShape(inputShape, 'PatchMerging');
    for (const d of [s[1], s[2]]) {
      if (d !== null && d % 2 !== 0) throw new Error(`PatchMerging: token grid side ${d} must be even`);
    }
    const c = channels(s, 'PatchMerging');
    this.gamma = this.addWeight('norm_gamma', [4 * c], 'float32', tf.initializers.ones());
    this.beta = this.addWeight('norm_beta', [4 * c], 'float32', tf.initializers.zeros());
    this.kernel = this.addWeight('reduction_kernel', [4 * c, 2 * c], 'float32', this.kernelInit);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = singleShape(inputShape, 'PatchMerging');
    const half = (d: number | null): number | null => (d === null ? null : d / 2);
    return [s[0], half(s[1]), half(s[2]), 2 * channels(s, 'PatchMerging')];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const [n, h, w, c] = x.shape as [number, number, number, number];
      // [n*h/2, dy, w/2, dx, c] -> [n*h/2, w/2, dx, dy, c]: channel block (dx*2 + dy).
      const split = tf.reshape(x, [n * (h / 2), 2, w / 2, 2, c]);
      const merged = tf.reshape(tf.transpose(split, [0, 2, 3, 1, 4]), [n, h / 2, w / 2, 4 * c]);
      return linear(layerNorm(merged, this.gamma!.read(), this.beta!.read(), this.epsilon), this.kernel!.read());
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon, kernelInitializer: serializeInit(this.kernelInit) };
  }
}

/** Options of {@link PatchExpand}. */
export interface PatchExpandArgs extends LayerArgs {
  /** Upsampling factor s (2 in the decoder, 4 for the final expansion). */
  scale: number;
  /** Output channels o (official: C/2 for s = 2, C for s = 4). */
  outDim: number;
  /** LayerNorm epsilon (default 1e-5). */
  epsilon?: number;
  /** Initializer of the `[C, s*s*o]` expansion (default: unseeded truncated normal 0.02). */
  kernelInitializer?: Initializer | tf.serialization.ConfigDict;
}

/**
 * Patch expanding (official `PatchExpand` / `FinalPatchExpand_X4`): linear
 * C -> s*s*o without bias, rearrange `(p1 p2 o)` channels into an s x s block
 * (einops `b h w (p1 p2 c) -> b (h p1) (w p2) c`) -> LayerNorm(o).
 * Input `[N, H, W, C]`, output `[N, sH, sW, o]`.
 */
export class PatchExpand extends tf.layers.Layer {
  static className = 'MedflSwinPatchExpand';
  readonly scale: number;
  readonly outDim: number;
  readonly epsilon: number;
  private readonly kernelInit: Initializer;
  private kernel?: tf.LayerVariable;
  private gamma?: tf.LayerVariable;
  private beta?: tf.LayerVariable;

  constructor(args: PatchExpandArgs) {
    super(args);
    this.scale = args.scale;
    this.outDim = args.outDim;
    this.epsilon = args.epsilon ?? LAYER_NORM_EPSILON;
    this.kernelInit = deserializeInit(args.kernelInitializer, defaultTruncNormal);
    for (const [label, v] of [['scale', this.scale], ['outDim', this.outDim]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`PatchExpand: ${label} must be a positive integer, got ${v}`);
    }
  }

  override build(inputShape: Shape | Shape[]): void {
    const c = channels(singleShape(inputShape, 'PatchExpand'), 'PatchExpand');
    const s = this.scale;
    this.kernel = this.addWeight('expand_kernel', [c, s * s * this.outDim], 'float32', this.kernelInit);
    this.gamma = this.addWeight('norm_gamma', [this.outDim], 'float32', tf.initializers.ones());
    this.beta = this.addWeight('norm_beta', [this.outDim], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = singleShape(inputShape, 'PatchExpand');
    return [s[0], mul(s[1], this.scale), mul(s[2], this.scale), this.outDim];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const [n, h, w] = x.shape as [number, number, number, number];
      const s = this.scale;
      const o = this.outDim;
      const y = tf.reshape(linear(x, this.kernel!.read()), [n * h, w, s, s * o]);
      const up = tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [n, h * s, w * s, o]);
      return layerNorm(up, this.gamma!.read(), this.beta!.read(), this.epsilon);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      scale: this.scale,
      outDim: this.outDim,
      epsilon: this.epsilon,
      kernelInitializer: serializeInit(this.kernelInit),
    };
  }
}

/** Register the patch layers with tfjs serialization (idempotent). */
export function registerSwinPatchLayers(): void {
  for (const cls of [PatchEmbed, PatchMerging, PatchExpand]) tf.serialization.registerClass(cls);
}
registerSwinPatchLayers();
