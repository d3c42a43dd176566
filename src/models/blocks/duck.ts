/**
 * DUCK block and residual block of DUCK-Net (Dumitru et al. 2023,
 * arXiv:2311.02239; official code github.com/RazvanDu/DUCK-Net,
 * `CustomLayers/ConvBlock2D.py`, `duckv2_conv2D_block`).
 *
 * The DUCK block normalises its input (BatchNorm) and runs six parallel branches
 * on it, all with `filters` output channels:
 * 1. widescope: three 3x3 conv-ReLU-BN with dilation 1, 2, 3;
 * 2. midscope: two 3x3 conv-ReLU-BN with dilation 1, 2;
 * 3-5. one, two and three chained residual blocks;
 * 6. separated: 1xN conv-ReLU-BN then Nx1 conv-ReLU-BN, N = 6 (the code's `size=6`);
 * the branch outputs are summed and batch-normalised.
 *
 * Every conv has a bias and ReLU (Keras `Conv2D(..., activation='relu')`) and is
 * followed by BatchNorm (Keras defaults: momentum 0.99, epsilon 1e-3).
 * Departure: kernels are He-normal from the caller's {@link SeededInit} (the code
 * uses he_uniform). Even kernels (N = 6) use TF 'same' padding like the code
 * (2 before, 3 after). Tensors are NHWC.
 */
import * as tf from '@tensorflow/tfjs';
import type { SeededInit } from './init';

type Sym = tf.SymbolicTensor;

/** Separated-branch kernel length N of the released code (`size=6`). */
export const DUCK_SEPARATED_SIZE = 6;

function apply(layer: tf.layers.Layer, x: Sym | Sym[]): Sym {
  return layer.apply(x) as Sym;
}

function bn(x: Sym, name: string): Sym {
  return apply(tf.layers.batchNormalization({ axis: -1, epsilon: 1e-3, momentum: 0.99, name }), x);
}

/** Conv (bias, ReLU, 'same') then BatchNorm: layers `${name}` and `${name}_bn`. */
function convReluBn(
  x: Sym,
  filters: number,
  kernel: [number, number],
  dilation: number,
  name: string,
  init: SeededInit,
): Sym {
  const y = apply(
    tf.layers.conv2d({
      filters,
      kernelSize: kernel,
      padding: 'same',
      dilationRate: dilation,
      activation: 'relu',
      kernelInitializer: init.he(),
      name,
    }),
    x,
  );
  return bn(y, `${name}_bn`);
}

/** Options shared by the DUCK-Net blocks. */
export interface DuckBlockOptions {
  /** Output channels of every branch (and of the block). */
  filters: number;
  /** Layer-name prefix. */
  name: string;
  init: SeededInit;
  /** Separated-branch kernel length N (1xN then Nx1). Default 6 (the released code). */
  separatedSize?: number;
}

/**
 * DUCK-Net residual block (`resnet_conv2D_block`): a 1x1 conv-ReLU shortcut
 * (`${name}_skip`) plus two 3x3 conv-ReLU-BN (`${name}_conv1`, `${name}_conv2`),
 * added (`${name}_add`) and batch-normalised (`${name}_bn_out`).
 * `[N,H,W,Cin] -> [N,H,W,filters]`.
 */
export function duckResidualBlock(x: Sym, o: DuckBlockOptions): Sym {
  const skip = apply(
    tf.layers.conv2d({ filters: o.filters, kernelSize: 1, activation: 'relu', kernelInitializer: o.init.he(), name: `${o.name}_skip` }),
    x,
  );
  let y = convReluBn(x, o.filters, [3, 3], 1, `${o.name}_conv1`, o.init);
  y = convReluBn(y, o.filters, [3, 3], 1, `${o.name}_conv2`, o.init);
  const sum = apply(tf.layers.add({ name: `${o.name}_add` }), [y, skip]);
  return bn(sum, `${o.name}_bn_out`);
}

/** `repeat` chained residual blocks named `${name}_r1`, `${name}_r2`, ... */
export function duckResidualChain(x: Sym, repeat: number, o: DuckBlockOptions): Sym {
  let y = x;
  for (let i = 1; i <= repeat; i++) y = duckResidualBlock(y, { ...o, name: `${o.name}_r${i}` });
  return y;
}

/**
 * The DUCK block. `[N,H,W,Cin] -> [N,H,W,filters]`.
 * Layers: `${name}_bn_in`; branches `${name}_wide_conv{1,2,3}` (dilation 1,2,3),
 * `${name}_mid_conv{1,2}` (dilation 1,2), `${name}_res1_r1`, `${name}_res2_r{1,2}`,
 * `${name}_res3_r{1,2,3}`, `${name}_sep_conv1xN` (kernel 1xN), `${name}_sep_convNx1`
 * (kernel Nx1) — each conv followed by `<conv>_bn`; the branch sum
 * `${name}_sum` (six inputs, in that order) and `${name}_bn_out` (the output).
 */
export function duckBlock(x: Sym, o: DuckBlockOptions): Sym {
  const n = o.separatedSize ?? DUCK_SEPARATED_SIZE;
  if (!Number.isInteger(o.filters) || o.filters < 1 || !Number.isInteger(n) || n < 1) {
    throw new Error(`duck.ts: block ${o.name} needs positive integer filters and separatedSize, got ${o.filters}, ${n}`);
  }
  const f = o.filters;
  const xin = bn(x, `${o.name}_bn_in`);

  let wide = xin;
  for (const d of [1, 2, 3]) wide = convReluBn(wide, f, [3, 3], d, `${o.name}_wide_conv${d}`, o.init);

  let mid = xin;
  for (const d of [1, 2]) mid = convReluBn(mid, f, [3, 3], d, `${o.name}_mid_conv${d}`, o.init);

  const res1 = duckResidualChain(xin, 1, { ...o, name: `${o.name}_res1` });
  const res2 = duckResidualChain(xin, 2, { ...o, name: `${o.name}_res2` });
  const res3 = duckResidualChain(xin, 3, { ...o, name: `${o.name}_res3` });

  let sep = convReluBn(xin, f, [1, n], 1, `${o.name}_sep_conv1xN`, o.init);
  sep = convReluBn(sep, f, [n, 1], 1, `${o.name}_sep_convNx1`, o.init);

  const sum = apply(tf.layers.add({ name: `${o.name}_sum` }), [wide, mid, res1, res2, res3, sep]);
  return bn(sum, `${o.name}_bn_out`);
}
