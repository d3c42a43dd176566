import * as tf from '@tensorflow/tfjs';
import type { SeededInit } from './init';

/**
 * ResNet-style backbone shared by DeepLabV3, DeepLabV3+ and RefineNet.
 *
 * He et al. 2016, "Deep Residual Learning for Image Recognition", arXiv:1512.03385,
 * with the atrous (dilated) variant of Chen et al. 2017 (DeepLabV3, arXiv:1706.05587 §3.2):
 * to reach an output stride of 16 (or 8) the stride of the last stage (last two
 * stages) is replaced by a dilation rate, so the receptive field keeps growing while
 * the feature map stops shrinking.
 *
 * Layout (NHWC, input `[N, H, W, C]`):
 * - stem: 7x7 conv stride 2 (`width` channels) -> BN -> ReLU -> 3x3 max-pool stride 2: `[N, H/4, W/4, width]`
 * - stage 1 (`layer1`, "res2", output stride 4), stride 1
 * - stage 2 (`layer2`, "res3", output stride 8), stride 2
 * - stage 3 (`layer3`, "res4", output stride 16), stride 2, or dilation 2 at outputStride 8
 * - stage 4 (`layer4`, "res5", output stride 32), stride 2, or dilation 2 (OS16) / 4 (OS8)
 *
 * Channels: stage `s` (1..4) has `planes = width * 2^(s-1)`; a `basic` block outputs
 * `planes` channels, a `bottleneck` block (1x1 -> 3x3 -> 1x1, expansion 4) outputs
 * `4 * planes`. With `width = 64` and bottlenecks this is exactly ResNet-50/101:
 * 64 (stem), 256, 512, 1024, 2048.
 *
 * Departures from the paper's ResNet: trained from scratch (no ImageNet weights);
 * the stride of a bottleneck sits on its 3x3 conv (the "v1.5" placement used by
 * torchvision and most DeepLab re-implementations) rather than on the first 1x1;
 * depth is a parameter (`blocks`), the models default to a shallow variant.
 */

/** Residual block kind: two 3x3 convs (ResNet-18/34) or 1x1-3x3-1x1 with expansion 4 (ResNet-50+). */
export type ResidualBlockKind = 'basic' | 'bottleneck';

/** Options of {@link resnetBackbone}. */
export interface ResNetOptions {
  /** Stem channels; stage `s` uses `width * 2^(s-1)` planes. ResNet paper: 64. */
  width: number;
  /** Residual block kind. */
  block: ResidualBlockKind;
  /** Number of blocks per stage (4 stages). ResNet-50: `[3, 4, 6, 3]`, ResNet-101: `[3, 4, 23, 3]`, ResNet-18: `[2, 2, 2, 2]`. */
  blocks: readonly [number, number, number, number];
  /** Ratio input size / output feature size: 32 (plain ResNet), 16 or 8 (atrous). */
  outputStride: 8 | 16 | 32;
  /**
   * DeepLabV3 "multi-grid" unit rates of the last stage (§4.2): block `i` of stage 4 uses
   * dilation `stageRate * multiGrid[i % multiGrid.length]`. Default `[1]` (no multi-grid).
   * The paper's best setting is `[1, 2, 4]`.
   */
  multiGrid?: readonly number[];
  /** Seeded initializers (one stream per layer). */
  init: SeededInit;
  /** Prefix of every layer name (default `''`, names look like `layer2_b1_conv1`). */
  prefix?: string;
}

/** What {@link resnetBackbone} returns: the stem and the four stage outputs. */
export interface ResNetFeatures {
  /** Stem output after max-pool, `[N, H/4, W/4, width]`. */
  stem: tf.SymbolicTensor;
  /** Stage outputs `[layer1, layer2, layer3, layer4]` (res2..res5). */
  stages: [tf.SymbolicTensor, tf.SymbolicTensor, tf.SymbolicTensor, tf.SymbolicTensor];
  /** Name of the layer producing each stage output (a ReLU, single output tensor). */
  stageNames: [string, string, string, string];
  /** Name of the stem's max-pool layer. */
  stemName: string;
  /** Output stride of each stage output, e.g. `[4, 8, 16, 16]` at outputStride 16. */
  strides: [number, number, number, number];
  /** Dilation rate of each stage (the last stage's before multi-grid), e.g. `[1, 1, 1, 2]` at OS16. */
  dilations: [number, number, number, number];
  /** Channels of each stage output. */
  channels: [number, number, number, number];
}

/** Output channels of each stage for a given `width` and block kind (see {@link resnetBackbone}). */
export function resnetChannels(width: number, block: ResidualBlockKind): [number, number, number, number] {
  const e = block === 'bottleneck' ? 4 : 1;
  return [width * e, width * 2 * e, width * 4 * e, width * 8 * e];
}

/**
 * Strides and dilations of the four stages for an output stride (DeepLabV3 §3.2).
 * Returns per stage `{ stride, dilation }`; the product of the strides times 4 (stem) is `outputStride`.
 */
export function resnetStageSchedule(outputStride: 8 | 16 | 32): { stride: number; dilation: number }[] {
  if (outputStride === 32) return [{ stride: 1, dilation: 1 }, { stride: 2, dilation: 1 }, { stride: 2, dilation: 1 }, { stride: 2, dilation: 1 }];
  if (outputStride === 16) return [{ stride: 1, dilation: 1 }, { stride: 2, dilation: 1 }, { stride: 2, dilation: 1 }, { stride: 1, dilation: 2 }];
  if (outputStride === 8) return [{ stride: 1, dilation: 1 }, { stride: 2, dilation: 1 }, { stride: 1, dilation: 2 }, { stride: 1, dilation: 4 }];
  throw new Error(`src/models/blocks/resnet.ts: outputStride must be 8, 16 or 32, got ${String(outputStride)}`);
}

/** Conv (no bias) -> BatchNorm, optional ReLU. Names `<name>` and `<bnName>` (+ `<reluName>`). */
function convBn(
  x: tf.SymbolicTensor,
  filters: number,
  kernelSize: number,
  strides: number,
  dilation: number,
  init: SeededInit,
  names: { conv: string; bn: string; relu?: string },
): tf.SymbolicTensor {
  let y = tf.layers
    .conv2d({
      filters,
      kernelSize,
      strides,
      dilationRate: dilation,
      padding: 'same',
      useBias: false,
      kernelInitializer: init.he(),
      name: names.conv,
    })
    .apply(x) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization({ axis: -1, epsilon: 1e-5, name: names.bn }).apply(y) as tf.SymbolicTensor;
  if (names.relu) y = tf.layers.reLU({ name: names.relu }).apply(y) as tf.SymbolicTensor;
  return y;
}

/**
 * One residual block (He et al. 2016, arXiv:1512.03385, post-activation "v1").
 * `basic`: conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN, + shortcut, ReLU.
 * `bottleneck`: conv1x1 -> BN -> ReLU -> conv3x3(stride, dilation) -> BN -> ReLU -> conv1x1(4*planes) -> BN, + shortcut, ReLU.
 * The shortcut is the identity, or 1x1 conv(stride) -> BN when the shape changes.
 * Layer names: `<name>_conv1`, `<name>_bn1`, ..., `<name>_down_conv`, `<name>_add`, and the final
 * ReLU `<name>_out` (or `opts.outName`).
 */
export function residualBlock(
  x: tf.SymbolicTensor,
  opts: { block: ResidualBlockKind; planes: number; stride: number; dilation: number; init: SeededInit; name: string; outName?: string },
): tf.SymbolicTensor {
  const { block, planes, stride, dilation, init, name } = opts;
  const inChannels = x.shape[x.shape.length - 1] as number;
  const outChannels = block === 'bottleneck' ? planes * 4 : planes;
  let y: tf.SymbolicTensor;
  if (block === 'basic') {
    y = convBn(x, planes, 3, stride, dilation, init, { conv: `${name}_conv1`, bn: `${name}_bn1`, relu: `${name}_relu1` });
    y = convBn(y, planes, 3, 1, dilation, init, { conv: `${name}_conv2`, bn: `${name}_bn2` });
  } else {
    y = convBn(x, planes, 1, 1, 1, init, { conv: `${name}_conv1`, bn: `${name}_bn1`, relu: `${name}_relu1` });
    y = convBn(y, planes, 3, stride, dilation, init, { conv: `${name}_conv2`, bn: `${name}_bn2`, relu: `${name}_relu2` });
    y = convBn(y, outChannels, 1, 1, 1, init, { conv: `${name}_conv3`, bn: `${name}_bn3` });
  }
  let shortcut = x;
  if (stride !== 1 || inChannels !== outChannels) {
    shortcut = convBn(x, outChannels, 1, stride, 1, init, { conv: `${name}_down_conv`, bn: `${name}_down_bn` });
  }
  const sum = tf.layers.add({ name: `${name}_add` }).apply([y, shortcut]) as tf.SymbolicTensor;
  return tf.layers.reLU({ name: opts.outName ?? `${name}_out` }).apply(sum) as tf.SymbolicTensor;
}

/**
 * Apply a ResNet-style backbone to `input` (`[N, H, W, C]`, H and W divisible by
 * `min(outputStride, 32)`). Returns the stem and the four stage outputs with their names,
 * strides and channels. Layer names: `stem_conv`, `stem_bn`, `stem_relu`, `stem_pool`,
 * `layer{s}_b{i}_*` (s = 1..4, i = 1..blocks[s-1]); stage `s` ends at the ReLU `layer{s}_out`
 * (the last block's output, whatever the depth, so split points do not depend on `blocks`).
 * See the module comment for the channel and stride layout.
 */
export function resnetBackbone(input: tf.SymbolicTensor, opts: ResNetOptions): ResNetFeatures {
  const { width, block, blocks, outputStride, init } = opts;
  const prefix = opts.prefix ?? '';
  const multiGrid = opts.multiGrid ?? [1];
  if (!Number.isInteger(width) || width < 1) {
    throw new Error(`src/models/blocks/resnet.ts: width must be a positive integer, got ${String(width)}`);
  }
  if (blocks.length !== 4 || !blocks.every((b) => Number.isInteger(b) && b >= 1)) {
    throw new Error(`src/models/blocks/resnet.ts: blocks must be 4 positive integers, got ${JSON.stringify(blocks)}`);
  }
  if (multiGrid.length === 0 || !multiGrid.every((r) => Number.isInteger(r) && r >= 1)) {
    throw new Error(`src/models/blocks/resnet.ts: multiGrid must be non-empty positive integers, got ${JSON.stringify(multiGrid)}`);
  }
  const schedule = resnetStageSchedule(outputStride);

  let x = convBn(input, width, 7, 2, 1, init, { conv: `${prefix}stem_conv`, bn: `${prefix}stem_bn`, relu: `${prefix}stem_relu` });
  const stemName = `${prefix}stem_pool`;
  x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: stemName }).apply(x) as tf.SymbolicTensor;
  const stem = x;

  const stages: tf.SymbolicTensor[] = [];
  const stageNames: string[] = [];
  const strides: number[] = [];
  let os = 4;
  for (let s = 0; s < 4; s++) {
    const { stride, dilation } = schedule[s];
    const planes = width * 2 ** s;
    for (let i = 0; i < blocks[s]; i++) {
      const grid = s === 3 ? multiGrid[i % multiGrid.length] : 1;
      const name = `${prefix}layer${s + 1}_b${i + 1}`;
      const outName = i === blocks[s] - 1 ? `${prefix}layer${s + 1}_out` : undefined;
      x = residualBlock(x, { block, planes, stride: i === 0 ? stride : 1, dilation: dilation * grid, init, name, outName });
      if (outName) stageNames.push(outName);
    }
    os *= stride;
    stages.push(x);
    strides.push(os);
  }
  return {
    stem,
    stemName,
    stages: stages as ResNetFeatures['stages'],
    stageNames: stageNames as ResNetFeatures['stageNames'],
    strides: strides as ResNetFeatures['strides'],
    dilations: schedule.map((d) => d.dilation) as ResNetFeatures['dilations'],
    channels: resnetChannels(width, block),
  };
}
