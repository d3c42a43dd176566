import * as tf from '@tensorflow/tfjs';
import type { SeededInit } from './init';

/**
 * RefineNet building blocks (Lin et al. 2017, "RefineNet: Multi-Path Refinement Networks
 * for High-Resolution Semantic Segmentation", arXiv:1611.06612 §3.2, Fig. 3).
 *
 * All blocks are NHWC.
 * - RCU (residual conv unit): `x + conv3x3(ReLU(conv3x3(ReLU(x))))`, same shape as `x`.
 * - Multi-resolution fusion: per path a 3x3 conv to the smallest channel count among the
 *   paths, bilinear upsampling to the largest resolution, element-wise sum.
 * - Chained residual pooling (CRP): `r = ReLU(x)`, then a chain of
 *   `{5x5 max-pool stride 1 'same' -> 3x3 conv}` where each stage takes the previous
 *   stage's output, and every stage output is added to the running sum `r + p1 + p2 + ...`.
 * - RefineNet block: 2 RCUs per input path -> fusion -> CRP -> 1 output RCU.
 *
 * Normalization (`RefineNormalization`): the paper removes batch normalization from these
 * blocks because it fine-tunes an ImageNet-pretrained backbone with small batches.
 * - `'none'` (the paper): convs without BN; RCU convs have a bias, fusion and CRP convs
 *   do not (only linear transforms, as in the released code). Trained from scratch with
 *   Adam, a stack of ~20 un-normalized residual units is unstable (the first update
 *   moves every branch the same way and the logits blow up), so each RCU's last conv is
 *   zero-initialised (the unit starts as the identity; Fixup, arXiv:1901.09321) and
 *   the CRP convs start from a small truncated normal (std 0.01).
 * - `'batch'` (default in the models, a departure): every conv is followed by BN (conv
 *   without bias); the BN after each RCU's last conv starts with gamma = 0 (identity
 *   start, Goyal et al. 2017, arXiv:1706.02677). Trains reliably from scratch.
 *
 * Other departures: the number of CRP stages is an option (paper figure: 2; later released
 * models use 4); bilinear upsampling is tfjs `upSampling2d` (legacy TF1 resize, corners
 * not aligned).
 */

/** Normalization inside RefineNet blocks: `'none'` = the paper, `'batch'` = BN after every conv. */
export type RefineNormalization = 'none' | 'batch';

/** Common options of the RefineNet blocks. */
export interface RefineBlockOptions {
  /** Seeded initializers. */
  init: SeededInit;
  /** Layer-name prefix. */
  name: string;
  /** Normalization (default `'batch'`; the paper: `'none'`). */
  normalization?: RefineNormalization;
}

type KernelInit = 'he' | 'glorot' | 'zeros' | 'small';

/** 3x3 'same' conv, optionally followed by BN (`<name>_bn`); returns the last tensor. */
function conv3x3(
  x: tf.SymbolicTensor,
  filters: number,
  o: { init: SeededInit; name: string; norm: RefineNormalization; kernel: KernelInit; bias: boolean; gammaZero?: boolean },
): tf.SymbolicTensor {
  const { init, name, norm } = o;
  // With BN the "start as identity" job moves to the BN's gamma, so the kernel stays random.
  const kernel = norm === 'batch' && o.kernel !== 'glorot' ? 'he' : o.kernel;
  const kernelInitializer =
    kernel === 'zeros' ? tf.initializers.zeros() : kernel === 'he' ? init.he() : kernel === 'small' ? init.truncNormal(0.01) : init.glorot();
  let y = tf.layers
    .conv2d({ filters, kernelSize: 3, padding: 'same', useBias: norm === 'none' && o.bias, kernelInitializer, name })
    .apply(x) as tf.SymbolicTensor;
  if (norm === 'batch') {
    y = tf.layers
      .batchNormalization({ axis: -1, epsilon: 1e-5, gammaInitializer: o.gammaZero ? 'zeros' : 'ones', name: `${name}_bn` })
      .apply(y) as tf.SymbolicTensor;
  }
  return y;
}

function channelsOf(x: tf.SymbolicTensor, where: string): number {
  const c = x.shape[x.shape.length - 1];
  if (typeof c !== 'number') throw new Error(`src/models/blocks/refine.ts: ${where} needs a static channel count, got ${JSON.stringify(x.shape)}`);
  return c;
}

function normOf(opts: RefineBlockOptions): RefineNormalization {
  const n = opts.normalization ?? 'batch';
  if (n !== 'none' && n !== 'batch') {
    throw new Error(`src/models/blocks/refine.ts: normalization must be 'none' or 'batch', got '${String(n)}'`);
  }
  return n;
}

/**
 * Residual conv unit (RCU): ReLU -> conv3x3 -> ReLU -> conv3x3 -> + identity (BN after each
 * conv with `'batch'`). Input and output `[N, h, w, C]`. Layer names `<name>_relu1`,
 * `<name>_conv1` (`_bn1`... as `<name>_conv1_bn`), `<name>_relu2`, `<name>_conv2`, `<name>_add` (the output).
 */
export function residualConvUnit(x: tf.SymbolicTensor, opts: RefineBlockOptions): tf.SymbolicTensor {
  const { init, name } = opts;
  const norm = normOf(opts);
  const c = channelsOf(x, 'residualConvUnit');
  let y = tf.layers.reLU({ name: `${name}_relu1` }).apply(x) as tf.SymbolicTensor;
  y = conv3x3(y, c, { init, norm, name: `${name}_conv1`, kernel: 'he', bias: true });
  y = tf.layers.reLU({ name: `${name}_relu2` }).apply(y) as tf.SymbolicTensor;
  y = conv3x3(y, c, { init, norm, name: `${name}_conv2`, kernel: 'zeros', bias: true, gammaZero: true });
  return tf.layers.add({ name: `${name}_add` }).apply([y, x]) as tf.SymbolicTensor;
}

/**
 * Multi-resolution fusion. `paths[i]` is `[N, h_i, w_i, C_i]`; the largest `h, w` must be an
 * integer multiple of every path's. Output `[N, max h, max w, min C]`. A single path passes
 * through unchanged (paper). Layer names `<name>_p{i}_conv`, `<name>_p{i}_up` (only when
 * the path is smaller), `<name>_sum`.
 */
export function multiResolutionFusion(paths: tf.SymbolicTensor[], opts: RefineBlockOptions): tf.SymbolicTensor {
  const { init, name } = opts;
  const norm = normOf(opts);
  if (paths.length === 0) throw new Error('src/models/blocks/refine.ts: multiResolutionFusion needs at least one path, got 0');
  if (paths.length === 1) return paths[0];
  const channels = Math.min(...paths.map((p) => channelsOf(p, 'multiResolutionFusion')));
  const hs = paths.map((p) => p.shape[1] as number);
  const ws = paths.map((p) => p.shape[2] as number);
  const H = Math.max(...hs);
  const W = Math.max(...ws);
  const fused = paths.map((p, i) => {
    if (H % hs[i] !== 0 || W % ws[i] !== 0) {
      throw new Error(`src/models/blocks/refine.ts: ${name} path ${i + 1} size ${hs[i]}x${ws[i]} does not divide the largest ${H}x${W}`);
    }
    let y = conv3x3(p, channels, { init, norm, name: `${name}_p${i + 1}_conv`, kernel: 'glorot', bias: false });
    if (hs[i] !== H || ws[i] !== W) {
      y = tf.layers
        .upSampling2d({ size: [H / hs[i], W / ws[i]], interpolation: 'bilinear', name: `${name}_p${i + 1}_up` })
        .apply(y) as tf.SymbolicTensor;
    }
    return y;
  });
  return tf.layers.add({ name: `${name}_sum` }).apply(fused) as tf.SymbolicTensor;
}

/**
 * Chained residual pooling: `r = ReLU(x)`; `p_0 = r`; `p_k = conv3x3(maxPool5x5_s1(p_{k-1}))`;
 * output `r + p_1 + ... + p_stages`. Input and output `[N, h, w, C]`. `stages` default 2.
 * Layer names `<name>_relu`, `<name>_pool{k}`, `<name>_conv{k}`, `<name>_sum{k}` (the last is the output).
 */
export function chainedResidualPooling(x: tf.SymbolicTensor, opts: RefineBlockOptions & { stages?: number }): tf.SymbolicTensor {
  const { init, name } = opts;
  const norm = normOf(opts);
  const stages = opts.stages ?? 2;
  if (!Number.isInteger(stages) || stages < 1) {
    throw new Error(`src/models/blocks/refine.ts: CRP stages must be a positive integer, got ${String(stages)}`);
  }
  const c = channelsOf(x, 'chainedResidualPooling');
  const r = tf.layers.reLU({ name: `${name}_relu` }).apply(x) as tf.SymbolicTensor;
  let sum = r;
  let p = r;
  for (let k = 1; k <= stages; k++) {
    p = tf.layers.maxPooling2d({ poolSize: 5, strides: 1, padding: 'same', name: `${name}_pool${k}` }).apply(p) as tf.SymbolicTensor;
    p = conv3x3(p, c, { init, norm, name: `${name}_conv${k}`, kernel: 'small', bias: false });
    sum = tf.layers.add({ name: `${name}_sum${k}` }).apply([sum, p]) as tf.SymbolicTensor;
  }
  return sum;
}

/** Options of {@link refineNetBlock}. */
export interface RefineNetBlockOptions extends RefineBlockOptions {
  /** RCUs per input path (paper: 2). */
  rcusPerPath?: number;
  /** CRP stages (paper figure: 2). */
  crpStages?: number;
}

/**
 * One RefineNet block (Fig. 3): each input path -> `rcusPerPath` RCUs (at the path's own
 * channel count), multi-resolution fusion (to the smallest channel count, largest
 * resolution), chained residual pooling, one output RCU.
 * Output `[N, max h, max w, min C]`; its layer is `<name>_out_add`.
 * Sub-layer names: `<name>_p{i}_rcu{j}_*`, `<name>_mrf_*`, `<name>_crp_*`, `<name>_out_*`.
 */
export function refineNetBlock(inputs: tf.SymbolicTensor[], opts: RefineNetBlockOptions): tf.SymbolicTensor {
  const { init, name, normalization } = opts;
  const rcus = opts.rcusPerPath ?? 2;
  if (!Number.isInteger(rcus) || rcus < 0) {
    throw new Error(`src/models/blocks/refine.ts: rcusPerPath must be a non-negative integer, got ${String(rcus)}`);
  }
  const adapted = inputs.map((x, i) => {
    let y = x;
    for (let j = 1; j <= rcus; j++) y = residualConvUnit(y, { init, normalization, name: `${name}_p${i + 1}_rcu${j}` });
    return y;
  });
  const fused = multiResolutionFusion(adapted, { init, normalization, name: `${name}_mrf` });
  const pooled = chainedResidualPooling(fused, { init, normalization, name: `${name}_crp`, stages: opts.crpStages });
  return residualConvUnit(pooled, { init, normalization, name: `${name}_out` });
}
