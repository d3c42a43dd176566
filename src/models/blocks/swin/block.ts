/**
 * Swin Transformer block (Liu et al. 2021, arXiv:2103.14030; as used by
 * Swin-Unet, Cao et al. 2021, arXiv:2105.05537, official code
 * HuCaoFighting/Swin-Unet `SwinTransformerBlock` + `WindowAttention` + `Mlp`)
 * as one serializable tfjs layer on NHWC token maps `[N, H, W, C]`.
 */
import * as tf from '@tensorflow/tfjs';
import type { Initializer } from '../init';
import {
  type EffectiveWindow,
  cyclicShift,
  effectiveWindow,
  relativePositionOneHot,
  shiftedWindowMask,
  windowPartition,
  windowReverse,
} from './geometry';
import {
  LAYER_NORM_EPSILON,
  defaultTruncNormal,
  deserializeInit,
  gelu,
  layerNorm,
  linear,
  matMulFast,
  serializeInit,
} from './ops';
import type { LayerArgs } from './patch';

type Shape = Array<number | null>;
type InitArg = Initializer | tf.serialization.ConfigDict;

function transposeMatrix(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

/** Options of {@link SwinBlock}. */
export interface SwinBlockArgs extends LayerArgs {
  /** Attention heads (must divide the channel count C). */
  numHeads: number;
  /** Requested window side M (paper: 7). Clamped to the grid when the grid's smaller side is `<= M`. */
  windowSize: number;
  /** Requested cyclic shift: 0 = W-MSA, M/2 = SW-MSA (official: `window_size // 2` in odd blocks). Default 0. */
  shiftSize?: number;
  /** MLP hidden = floor(C * mlpRatio). Default 4. */
  mlpRatio?: number;
  /** Stochastic depth rate of both residual branches (training only). Default 0 (deterministic). */
  dropPath?: number;
  /** Seed of the drop-path masks (each training call advances it). Default 0. */
  dropPathSeed?: number;
  /** LayerNorm epsilon (default 1e-5, PyTorch's). */
  epsilon?: number;
  /** Additive mask value between tokens of different regions (official: -100). */
  maskValue?: number;
  /** Initializers (default: unseeded truncated normal 0.02 each, the official init; biases 0, norms 1/0). */
  qkvInitializer?: InitArg;
  projInitializer?: InitArg;
  fc1Initializer?: InitArg;
  fc2Initializer?: InitArg;
  /** Initializer of the `(2M-1)^2 x heads` relative position bias table. */
  biasTableInitializer?: InitArg;
}

/**
 * Swin block: `x + WMSA(LN(x))` then `x + MLP(LN(x))` (MLP: linear C -> rC,
 * exact GELU, linear rC -> C). The attention runs in M x M windows
 * (`[N * nW, M*M, C]`), with `q k^T * d^-0.5 + B` where B is a learned
 * relative position bias gathered from a `(2M-1)^2 x heads` table by the
 * relative position index (done with a constant one-hot matMul so that its
 * gradient exists on every backend). With `shiftSize > 0` the map is
 * cyclically shifted by `-shift` first, the SW-MSA mask (0 / -100) stops
 * attention between tokens that were not adjacent before the shift, and the
 * shift is undone afterwards.
 *
 * Input / output `[N, H, W, C]`; H and W must be divisible by the effective
 * window (see {@link effectiveWindow}). The layer may be re-applied to any grid
 * with the same effective window (the bias table size depends on it).
 * Departures: no attention / projection dropout (official default 0);
 * drop path off by default (official `drop_path_rate` 0.1, config 0.2).
 */
export class SwinBlock extends tf.layers.Layer {
  static className = 'MedflSwinBlock';
  readonly numHeads: number;
  readonly windowSize: number;
  readonly shiftSize: number;
  readonly mlpRatio: number;
  readonly dropPath: number;
  readonly dropPathSeed: number;
  readonly epsilon: number;
  readonly maskValue: number;
  private readonly inits: Record<'qkv' | 'proj' | 'fc1' | 'fc2' | 'table', Initializer>;
  private effective?: EffectiveWindow;
  private oneHotT?: Float32Array;
  private readonly masks = new Map<string, Float32Array>();
  private dropCalls = 0;
  private w: Record<string, tf.LayerVariable> = {};

  constructor(args: SwinBlockArgs) {
    super(args);
    this.numHeads = args.numHeads;
    this.windowSize = args.windowSize;
    this.shiftSize = args.shiftSize ?? 0;
    this.mlpRatio = args.mlpRatio ?? 4;
    this.dropPath = args.dropPath ?? 0;
    this.dropPathSeed = args.dropPathSeed ?? 0;
    this.epsilon = args.epsilon ?? LAYER_NORM_EPSILON;
    this.maskValue = args.maskValue ?? -100;
    if (!Number.isInteger(this.numHeads) || this.numHeads < 1) {
      throw new Error(`SwinBlock: numHeads must be a positive integer, got ${args.numHeads}`);
    }
    if (!Number.isInteger(this.windowSize) || this.windowSize < 1) {
      throw new Error(`SwinBlock: windowSize must be a positive integer, got ${args.windowSize}`);
    }
    if (!(this.dropPath >= 0 && this.dropPath < 1)) {
      throw new Error(`SwinBlock: dropPath must be in [0, 1), got ${args.dropPath}`);
    }
    this.inits = {
      qkv: deserializeInit(args.qkvInitializer, defaultTruncNormal),
      proj: deserializeInit(args.projInitializer, defaultTruncNormal),
      fc1: deserializeInit(args.fc1Initializer, defaultTruncNormal),
      fc2: deserializeInit(args.fc2Initializer, defaultTruncNormal),
      table: deserializeInit(args.biasTableInitializer, defaultTruncNormal),
    };
  }

  /** Window and shift this block uses (known after build). */
  get effectiveWindow(): EffectiveWindow | undefined {
    return this.effective;
  }

  override build(inputShape: Shape | Shape[]): void {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const [, h, w, c] = s;
    if (s.length !== 4 || h === null || w === null || c === null) {
      throw new Error(`SwinBlock: expected a 4-D NHWC input with known H, W, C, got ${JSON.stringify(s)}`);
    }
    if (c % this.numHeads !== 0) {
      throw new Error(`SwinBlock: channels ${c} are not divisible by numHeads ${this.numHeads}`);
    }
    this.effective = effectiveWindow(h, w, this.windowSize, this.shiftSize);
    const m = this.effective.window;
    const hidden = Math.floor(c * this.mlpRatio);
    const zeros = tf.initializers.zeros();
    const add = (name: string, shape: number[], init: Initializer): void => {
      this.w[name] = this.addWeight(name, shape, 'float32', init);
    };
    add('norm1_gamma', [c], tf.initializers.ones());
    add('norm1_beta', [c], zeros);
    add('qkv_kernel', [c, 3 * c], this.inits.qkv);
    add('qkv_bias', [3 * c], zeros);
    add('relative_position_bias_table', [(2 * m - 1) * (2 * m - 1), this.numHeads], this.inits.table);
    add('proj_kernel', [c, c], this.inits.proj);
    add('proj_bias', [c], zeros);
    add('norm2_gamma', [c], tf.initializers.ones());
    add('norm2_beta', [c], zeros);
    add('fc1_kernel', [c, hidden], this.inits.fc1);
    add('fc1_bias', [hidden], zeros);
    add('fc2_kernel', [hidden, c], this.inits.fc2);
    add('fc2_bias', [c], zeros);
    this.oneHotT = transposeMatrix(relativePositionOneHot(m), m * m * m * m, (2 * m - 1) * (2 * m - 1));
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
  }

  /** Window attention on `[B*nW, N, C]` windows of a `h x w` grid (mask applied when shifted). */
  private attention(windows: tf.Tensor, h: number, w: number, m: number, shift: number): tf.Tensor {
    return windowAttention(windows, {
      h, w, m, shift,
      numHeads: this.numHeads,
      oneHotT: this.oneHotT!,
      masks: this.masks,
      maskValue: this.maskValue,
      ...attentionWeights(this.w),
    });
  }

  private dropPathBranch(branch: tf.Tensor, training: boolean): tf.Tensor {
    if (!training || this.dropPath === 0) return branch;
    const keep = 1 - this.dropPath;
    this.dropCalls += 1;
    const seed = (this.dropPathSeed * 1000003 + this.dropCalls) % 2147483647;
    const u = tf.randomUniform([branch.shape[0], 1, 1, 1], 0, 1, 'float32', seed);
    return tf.mul(branch, tf.div(tf.floor(tf.add(u, keep)), keep));
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown> = {}): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const [, h, w] = x.shape as [number, number, number, number];
      const eff = effectiveWindow(h, w, this.windowSize, this.shiftSize);
      if (eff.window !== this.effective!.window) {
        throw new Error(
          `SwinBlock '${this.name}': built for window ${this.effective!.window}, but a ${h}x${w} grid needs window ${eff.window}`,
        );
      }
      const { window: m, shift } = eff;
      const training = kwargs.training === true;
      const normed = layerNorm(x, this.w.norm1_gamma.read(), this.w.norm1_beta.read(), this.epsilon);
      const shifted = shift > 0 ? cyclicShift(normed, -shift, -shift) : normed;
      const attnWindows = this.attention(windowPartition(shifted, m), h, w, m, shift);
      const merged = windowReverse(attnWindows, m, h, w);
      const unshifted = shift > 0 ? cyclicShift(merged, shift, shift) : merged;
      const y = tf.add(x, this.dropPathBranch(unshifted, training));
      const hidden = gelu(linear(layerNorm(y, this.w.norm2_gamma.read(), this.w.norm2_beta.read(), this.epsilon),
        this.w.fc1_kernel.read(), this.w.fc1_bias.read()));
      const mlp = linear(hidden, this.w.fc2_kernel.read(), this.w.fc2_bias.read());
      return tf.add(y, this.dropPathBranch(mlp, training));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      windowSize: this.windowSize,
      shiftSize: this.shiftSize,
      mlpRatio: this.mlpRatio,
      dropPath: this.dropPath,
      dropPathSeed: this.dropPathSeed,
      epsilon: this.epsilon,
      maskValue: this.maskValue,
      qkvInitializer: serializeInit(this.inits.qkv),
      projInitializer: serializeInit(this.inits.proj),
      fc1Initializer: serializeInit(this.inits.fc1),
      fc2Initializer: serializeInit(this.inits.fc2),
      biasTableInitializer: serializeInit(this.inits.table),
    };
  }
}

/** Register {@link SwinBlock} with tfjs serialization (idempotent). */
export function registerSwinBlock(): void {
  tf.serialization.registerClass(SwinBlock);
}
registerSwinBlock();

/** The attention weights of a Swin-style layer's weight table (`qkv_*`, `proj_*`, bias table). */
export function attentionWeights(
  w: Record<string, tf.LayerVariable>,
): Pick<WindowAttentionParams, 'qkvKernel' | 'qkvBias' | 'projKernel' | 'projBias' | 'biasTable'> {
  return {
    qkvKernel: w.qkv_kernel.read(),
    qkvBias: w.qkv_bias.read(),
    projKernel: w.proj_kernel.read(),
    projBias: w.proj_bias.read(),
    biasTable: w.relative_position_bias_table.read(),
  };
}

/** Inputs of {@link windowAttention}. */
export interface WindowAttentionParams {
  /** Token grid and window size / cyclic shift. */
  h: number;
  w: number;
  m: number;
  shift: number;
  numHeads: number;
  /** `relativePositionOneHot(m)` transposed, `[(2m-1)^2, m^4]`. */
  oneHotT: Float32Array;
  /** Cache of shifted-window masks per grid size (owned by the calling layer). */
  masks: Map<string, Float32Array>;
  maskValue: number;
  qkvKernel: tf.Tensor;
  qkvBias: tf.Tensor;
  projKernel: tf.Tensor;
  projBias: tf.Tensor;
  /** Relative position bias table `[(2m-1)^2, heads]`. */
  biasTable: tf.Tensor;
}

/**
 * (Shifted-)window multi-head self-attention with relative position bias
 * (Liu et al. 2021, arXiv:2103.14030, eq. 4) on `[B*nW, m*m, C]` windows:
 * softmax(Q K^T / sqrt(d) + B (+ mask)) V, then the output projection. Shared
 * by the Swin block and the M4oE Swin-MoE block.
 */
export function windowAttention(windows: tf.Tensor, p: WindowAttentionParams): tf.Tensor {
  const [bw, n, c] = windows.shape as [number, number, number];
  const heads = p.numHeads;
  const d = c / heads;
  const nW = (p.h / p.m) * (p.w / p.m);
  const qkv = linear(windows, p.qkvKernel, p.qkvBias);
  const split = tf.transpose(tf.reshape(qkv, [bw, n, 3 * heads, d]), [0, 2, 1, 3]);
  const [q, k, v] = tf.split(split, 3, 1);
  let attn = matMulFast(tf.mul(q, d ** -0.5), k, true); // q k^T: [bw, heads, n, n]
  const t = (2 * p.m - 1) * (2 * p.m - 1);
  const oneHotT = tf.tensor2d(p.oneHotT, [t, n * n]);
  const bias = tf.reshape(matMulFast(tf.transpose(p.biasTable), oneHotT), [heads, n, n]);
  if (p.shift > 0) {
    const key = `${p.h}x${p.w}`;
    let maskArr = p.masks.get(key);
    if (!maskArr) {
      maskArr = shiftedWindowMask(p.h, p.w, p.m, p.shift, p.maskValue);
      p.masks.set(key, maskArr);
    }
    const mask = tf.tensor4d(maskArr, [nW, 1, n, n]);
    const biasMask = tf.reshape(tf.add(bias, mask), [nW * heads, n, n]);
    attn = tf.reshape(tf.add(tf.reshape(attn, [bw / nW, nW * heads, n, n]), biasMask), [bw, heads, n, n]);
  } else {
    attn = tf.add(attn, bias);
  }
  const out = matMulFast(tf.softmax(attn), v); // [bw, heads, n, d]
  const merged = tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [bw, n, c]);
  return linear(merged, p.projKernel, p.projBias);
}
