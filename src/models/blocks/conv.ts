import * as tf from '@tensorflow/tfjs';
import type { OutputActivation } from '../types';
import type { SeededInit } from './init';

/**
 * Convolution building blocks shared by the U-Net family, SegNet and SUNet.
 *
 * Every helper takes a symbolic NHWC tensor `[N, H, W, C]`, creates named tfjs
 * layers with seeded initializers and returns the new symbolic tensor, so models
 * are plain functional graphs (`tf.input` -> `layer.apply` -> `tf.model`).
 *
 * BatchNorm settings follow PyTorch's defaults (momentum 0.1 there = 0.9 here,
 * epsilon 1e-5), which is what the reference implementations of every paper
 * in the zoo were trained with (tfjs' own defaults are 0.99 / 1e-3).
 */

/** Moving-average momentum of every BatchNorm layer (PyTorch 0.1 == tfjs 0.9). */
export const BN_MOMENTUM = 0.9;
/** Epsilon of every BatchNorm layer (PyTorch default). */
export const BN_EPSILON = 1e-5;

type Sym = tf.SymbolicTensor;

/** A BatchNorm layer over the channel axis with the zoo's settings. */
export function batchNorm(name: string): tf.layers.Layer {
  return tf.layers.batchNormalization({ axis: -1, momentum: BN_MOMENTUM, epsilon: BN_EPSILON, name });
}

/** Options of {@link convBnRelu}. */
export interface ConvBnReluOptions {
  /** Output channels. */
  filters: number;
  /** Square kernel size. Default 3. */
  kernelSize?: number;
  /** Stride. Default 1. */
  strides?: number;
  /** Dilation (atrous) rate. Default 1. */
  dilationRate?: number;
  /** Apply ReLU after BN. Default true (false gives conv -> BN only). */
  relu?: boolean;
  /** Seeded initializers (one stream per layer). */
  init: SeededInit;
}

/**
 * `conv (no bias, 'same' padding, He init) -> BatchNorm -> ReLU`.
 * Layers: `${name}_conv`, `${name}_bn`, `${name}_relu`. The conv has no bias
 * because the BN shift makes it redundant (as in torchvision / most U-Net ports).
 * Shape: `[N, H, W, Cin]` -> `[N, H/strides, W/strides, filters]`.
 */
export function convBnRelu(x: Sym, name: string, opts: ConvBnReluOptions): Sym {
  const conv = tf.layers.conv2d({
    filters: opts.filters,
    kernelSize: opts.kernelSize ?? 3,
    strides: opts.strides ?? 1,
    dilationRate: opts.dilationRate ?? 1,
    padding: 'same',
    useBias: false,
    kernelInitializer: opts.init.he(),
    name: `${name}_conv`,
  });
  let y = conv.apply(x) as Sym;
  y = batchNorm(`${name}_bn`).apply(y) as Sym;
  if (opts.relu ?? true) y = tf.layers.reLU({ name: `${name}_relu` }).apply(y) as Sym;
  return y;
}

/**
 * Pre-activation `BatchNorm -> ReLU` (ResNet v2 / SUNet ordering).
 * Layers: `${name}_bn`, `${name}_relu`. Shape unchanged.
 */
export function bnRelu(x: Sym, name: string): Sym {
  const y = batchNorm(`${name}_bn`).apply(x) as Sym;
  return tf.layers.reLU({ name: `${name}_relu` }).apply(y) as Sym;
}

/**
 * U-Net "double conv": two `3x3 conv -> BN -> ReLU`, both with `filters` channels
 * and 'same' padding (Ronneberger et al. 2015, arXiv:1505.04597, with the BatchNorm
 * that modern ports add). Layers `${name}_1_*` and `${name}_2_*`; the block's output
 * layer is `${name}_2_relu`. Shape: `[N, H, W, Cin]` -> `[N, H, W, filters]`.
 */
export function doubleConv(x: Sym, name: string, filters: number, init: SeededInit): Sym {
  const y = convBnRelu(x, `${name}_1`, { filters, init });
  return convBnRelu(y, `${name}_2`, { filters, init });
}

/**
 * Plain convolution with bias (no BN, no activation) and 'same' padding:
 * projections, classifiers, transposed-conv replacements.
 */
export function conv(
  x: Sym,
  name: string,
  opts: { filters: number; kernelSize?: number; strides?: number; dilationRate?: number; useBias?: boolean; init: SeededInit },
): Sym {
  return tf.layers
    .conv2d({
      filters: opts.filters,
      kernelSize: opts.kernelSize ?? 1,
      strides: opts.strides ?? 1,
      dilationRate: opts.dilationRate ?? 1,
      padding: 'same',
      useBias: opts.useBias ?? true,
      kernelInitializer: opts.init.he(),
      name,
    })
    .apply(x) as Sym;
}

/**
 * 2x upsampling by a learned transposed convolution (kernel `kernelSize`, stride 2,
 * 'same' padding, with bias): `[N, H, W, Cin]` -> `[N, 2H, 2W, filters]`. Layer `name`.
 */
export function upConv(x: Sym, name: string, filters: number, init: SeededInit, kernelSize = 2): Sym {
  return tf.layers
    .conv2dTranspose({ filters, kernelSize, strides: 2, padding: 'same', useBias: true, kernelInitializer: init.he(), name })
    .apply(x) as Sym;
}

/**
 * Segmentation classifier: a `kernelSize` conv to `numClasses` channels (Glorot init,
 * with bias) named `head`, followed by the requested activation as layer
 * `head_sigmoid` / `head_softmax` (softmax over the channel axis). With `'none'`
 * the `head` conv is the output (logits).
 */
export function classifierHead(
  x: Sym,
  numClasses: number,
  activation: OutputActivation,
  init: SeededInit,
  kernelSize = 1,
): Sym {
  const logits = tf.layers
    .conv2d({ filters: numClasses, kernelSize, padding: 'same', useBias: true, kernelInitializer: init.glorot(), name: 'head' })
    .apply(x) as Sym;
  return applyOutputActivation(logits, activation);
}

/** Apply `activation` as a named layer (`head_sigmoid` / `head_softmax`); identity for `'none'`. */
export function applyOutputActivation(logits: Sym, activation: OutputActivation): Sym {
  if (activation === 'none') return logits;
  if (activation === 'softmax') return tf.layers.softmax({ axis: -1, name: 'head_softmax' }).apply(logits) as Sym;
  return tf.layers.activation({ activation: 'sigmoid', name: 'head_sigmoid' }).apply(logits) as Sym;
}
