import * as tf from '@tensorflow/tfjs';
import type { SeededInit } from './init';

/**
 * Atrous Spatial Pyramid Pooling with image-level features (DeepLabV3, Chen et al. 2017,
 * arXiv:1706.05587 §3.3), as also used by DeepLabV3+ (arXiv:1802.02611).
 *
 * Input `[N, h, w, Cin]` (the backbone output at output stride 16 or 8); branches, each
 * `filters` channels, conv (no bias) -> BN -> ReLU:
 * - `aspp_b0`: 1x1 conv;
 * - `aspp_b1..b{k}`: 3x3 conv with dilation `rates[i]`;
 * - `aspp_pool` (image pooling): global average pool -> 1x1 conv -> BN -> ReLU -> bilinear
 *   upsampling back to `h x w` (the value is constant over space for each channel);
 * then concatenation (`aspp_concat`, `(k + 2) * filters` channels) -> 1x1 conv `filters`
 * -> BN -> ReLU (`aspp_proj_*`). Output `[N, h, w, filters]`.
 *
 * Departures: the paper's released code uses `align_corners=True` bilinear resizing; tfjs
 * `upSampling2d` resizes with half-pixel-free, non-aligned corners (only matters for the
 * decoder, image pooling upsamples a 1x1 map where both agree). The dropout after the
 * projection found in re-implementations (0.1 in the released code, 0.5 in torchvision) is
 * not in the paper's text and is left out (it would make outputs non-deterministic).
 * The image-pooling BN normalizes over the batch only (spatial size is 1): with batch
 * size 1 in training it outputs its bias (as in the paper's code).
 */

/** Options of {@link aspp}. */
export interface AsppOptions {
  /** Channels of every branch and of the projection. Paper: 256. */
  filters: number;
  /** Dilation rates of the 3x3 branches. Paper: `[6, 12, 18]` at output stride 16, `[12, 24, 36]` at 8. */
  rates: readonly number[];
  /** Seeded initializers. */
  init: SeededInit;
  /** Include the image-pooling branch (default `true`). */
  imagePooling?: boolean;
  /** Layer-name prefix (default `'aspp'`). */
  name?: string;
}

/** The paper's ASPP rates at output stride 16 for a 513x513 crop, i.e. a 33x33 feature map. */
export const PAPER_ATROUS_RATES = [6, 12, 18] as const;

/** Feature-map side the paper's rates were chosen for (513 / 16 rounded up). */
export const PAPER_FEATURE_SIZE = 33;

/**
 * Default atrous rates for a feature map of side `featureSize` (the smaller of h, w).
 *
 * DeepLabV3 §3.3 observes that when the rate approaches the feature-map size a 3x3 atrous
 * filter degenerates into a 1x1 filter (only its centre tap sees valid data). The paper's
 * rates `[6, 12, 18]` belong to a 33x33 map; at 64 px input (4x4 map) they would make all
 * three branches 1x1 convs. We keep the paper's ratio rate / map size:
 * `r_i = max(1, round(paperRate_i * featureSize / 33))`, then force strictly increasing
 * rates (`r_i >= r_{i-1} + 1`) so the branches stay distinct.
 * Examples: 4 -> `[1, 2, 3]`, 8 -> `[1, 3, 4]`, 16 -> `[3, 6, 9]`, 33 -> `[6, 12, 18]`.
 */
export function defaultAtrousRates(featureSize: number): number[] {
  if (!Number.isFinite(featureSize) || featureSize < 1) {
    throw new Error(`src/models/blocks/aspp.ts: featureSize must be >= 1, got ${String(featureSize)}`);
  }
  const rates: number[] = [];
  for (const paper of PAPER_ATROUS_RATES) {
    let r = Math.max(1, Math.round((paper * featureSize) / PAPER_FEATURE_SIZE));
    if (rates.length > 0 && r <= rates[rates.length - 1]) r = rates[rates.length - 1] + 1;
    rates.push(r);
  }
  return rates;
}

function convBnRelu(
  x: tf.SymbolicTensor,
  filters: number,
  kernelSize: number,
  dilation: number,
  init: SeededInit,
  name: string,
): tf.SymbolicTensor {
  let y = tf.layers
    .conv2d({ filters, kernelSize, dilationRate: dilation, padding: 'same', useBias: false, kernelInitializer: init.he(), name: `${name}_conv` })
    .apply(x) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization({ axis: -1, epsilon: 1e-5, name: `${name}_bn` }).apply(y) as tf.SymbolicTensor;
  return tf.layers.reLU({ name: `${name}_relu` }).apply(y) as tf.SymbolicTensor;
}

/**
 * Apply ASPP to `x` (`[N, h, w, Cin]`, static h and w). Returns `[N, h, w, filters]`.
 * Layer names (prefix `aspp`): `aspp_b0_conv`, `aspp_b{i}_conv` (rate `rates[i-1]`),
 * `aspp_pool_gap`, `aspp_pool_reshape`, `aspp_pool_conv`, `aspp_pool_bn`, `aspp_pool_relu`,
 * `aspp_pool_up`, `aspp_concat`, `aspp_proj_conv`, `aspp_proj_bn`, `aspp_proj_relu`.
 */
export function aspp(x: tf.SymbolicTensor, opts: AsppOptions): tf.SymbolicTensor {
  const { filters, rates, init } = opts;
  const name = opts.name ?? 'aspp';
  const imagePooling = opts.imagePooling ?? true;
  const [, h, w, c] = x.shape;
  if (typeof h !== 'number' || typeof w !== 'number' || typeof c !== 'number') {
    throw new Error(`src/models/blocks/aspp.ts: input needs static [h, w, C], got ${JSON.stringify(x.shape)}`);
  }
  if (!Number.isInteger(filters) || filters < 1) {
    throw new Error(`src/models/blocks/aspp.ts: filters must be a positive integer, got ${String(filters)}`);
  }
  if (!rates.every((r) => Number.isInteger(r) && r >= 1)) {
    throw new Error(`src/models/blocks/aspp.ts: rates must be positive integers, got ${JSON.stringify(rates)}`);
  }

  const branches: tf.SymbolicTensor[] = [convBnRelu(x, filters, 1, 1, init, `${name}_b0`)];
  rates.forEach((rate, i) => branches.push(convBnRelu(x, filters, 3, rate, init, `${name}_b${i + 1}`)));
  if (imagePooling) {
    let p = tf.layers.globalAveragePooling2d({ name: `${name}_pool_gap` }).apply(x) as tf.SymbolicTensor;
    p = tf.layers.reshape({ targetShape: [1, 1, c], name: `${name}_pool_reshape` }).apply(p) as tf.SymbolicTensor;
    p = convBnRelu(p, filters, 1, 1, init, `${name}_pool`);
    p = tf.layers.upSampling2d({ size: [h, w], interpolation: 'bilinear', name: `${name}_pool_up` }).apply(p) as tf.SymbolicTensor;
    branches.push(p);
  }
  let y = branches.length > 1 ? (tf.layers.concatenate({ axis: -1, name: `${name}_concat` }).apply(branches) as tf.SymbolicTensor) : branches[0];
  return convBnRelu(y, filters, 1, 1, init, `${name}_proj`);
}
