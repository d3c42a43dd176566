/**
 * Per-token linear and LayerNorm layers on NHWC token maps `[N, H, W, C]`
 * (PyTorch `nn.Linear` / `nn.LayerNorm` applied to `[B, L, C]` tokens), used by
 * Swin-Unet (arXiv:2105.05537) for the skip-fusion linears, the two standalone
 * norms and the head. They replace `tf.layers.dense` / `tf.layers.layerNormalization`
 * for speed on the wasm backend: tfjs' LayerNormalization gradient goes through
 * Tile (thousands of Slice/Add kernels) and its Dense gradient uses transposed
 * matMuls, both an order of magnitude slower than {@link linear} / {@link layerNorm}.
 */
import * as tf from '@tensorflow/tfjs';
import type { Initializer } from '../init';
import { LAYER_NORM_EPSILON, defaultTruncNormal, deserializeInit, layerNorm, linear, serializeInit } from './ops';
import type { LayerArgs } from './patch';

type Shape = Array<number | null>;

function lastDim(inputShape: Shape | Shape[], who: string): { shape: Shape; c: number } {
  const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
  const c = shape[shape.length - 1];
  if (c === null || c === undefined) throw new Error(`${who}: the last (channel) dimension must be known, got ${JSON.stringify(shape)}`);
  return { shape, c };
}

/** Options of {@link TokenLinear}. */
export interface TokenLinearArgs extends LayerArgs {
  /** Output channels. */
  units: number;
  /** Add a bias (default true, as `nn.Linear`). */
  useBias?: boolean;
  /** Kernel initializer (default: unseeded truncated normal 0.02). Bias starts at 0. */
  kernelInitializer?: Initializer | tf.serialization.ConfigDict;
}

/** `y = x @ W (+ b)` over the last axis: `[..., Cin]` -> `[..., units]`. */
export class TokenLinear extends tf.layers.Layer {
  static className = 'MedflSwinLinear';
  readonly units: number;
  readonly useBias: boolean;
  private readonly kernelInit: Initializer;
  private kernel?: tf.LayerVariable;
  private bias?: tf.LayerVariable;

  constructor(args: TokenLinearArgs) {
    super(args);
    this.units = args.units;
    this.useBias = args.useBias ?? true;
    this.kernelInit = deserializeInit(args.kernelInitializer, defaultTruncNormal);
    if (!Number.isInteger(this.units) || this.units < 1) {
      throw new Error(`TokenLinear: units must be a positive integer, got ${args.units}`);
    }
  }

  override build(inputShape: Shape | Shape[]): void {
    const { c } = lastDim(inputShape, 'TokenLinear');
    this.kernel = this.addWeight('kernel', [c, this.units], 'float32', this.kernelInit);
    if (this.useBias) this.bias = this.addWeight('bias', [this.units], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const { shape } = lastDim(inputShape, 'TokenLinear');
    return [...shape.slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      return linear(x, this.kernel!.read(), this.bias?.read());
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), units: this.units, useBias: this.useBias, kernelInitializer: serializeInit(this.kernelInit) };
  }
}

/** Options of {@link TokenLayerNorm}. */
export interface TokenLayerNormArgs extends LayerArgs {
  /** Epsilon (default 1e-5, PyTorch's). */
  epsilon?: number;
}

/** LayerNorm over the last axis with learned gamma (1) and beta (0); shape unchanged. */
export class TokenLayerNorm extends tf.layers.Layer {
  static className = 'MedflSwinLayerNorm';
  readonly epsilon: number;
  private gamma?: tf.LayerVariable;
  private beta?: tf.LayerVariable;

  constructor(args: TokenLayerNormArgs = {}) {
    super(args);
    this.epsilon = args.epsilon ?? LAYER_NORM_EPSILON;
  }

  override build(inputShape: Shape | Shape[]): void {
    const { c } = lastDim(inputShape, 'TokenLayerNorm');
    this.gamma = this.addWeight('gamma', [c], 'float32', tf.initializers.ones());
    this.beta = this.addWeight('beta', [c], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return lastDim(inputShape, 'TokenLayerNorm').shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      return layerNorm(x, this.gamma!.read(), this.beta!.read(), this.epsilon);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon };
  }
}

/** Register {@link TokenLinear} and {@link TokenLayerNorm} with tfjs serialization (idempotent). */
export function registerSwinTokenLayers(): void {
  tf.serialization.registerClass(TokenLinear);
  tf.serialization.registerClass(TokenLayerNorm);
}
registerSwinTokenLayers();
