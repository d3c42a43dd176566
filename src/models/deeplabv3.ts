import * as tf from '@tensorflow/tfjs';
import type { ModelSpec, OutputActivation, ResolvedModelOptions } from './types';
import { SeededInit } from './blocks/init';
import { resnetBackbone, type ResidualBlockKind } from './blocks/resnet';
import { aspp, defaultAtrousRates } from './blocks/aspp';

/** Extra DeepLabV3 / V3+ options beyond {@link ResolvedModelOptions} (used by {@link buildDeepLabV3}). */
export interface DeepLabOptions {
  /** Residual block kind of the backbone. Default `'bottleneck'` (ResNet-50/101 blocks). */
  block?: ResidualBlockKind;
  /** Blocks per backbone stage. Default {@link DEEPLAB_DEFAULT_BLOCKS}; the paper: `[3, 4, 23, 3]` (ResNet-101) or `[3, 4, 6, 3]` (ResNet-50). */
  blocks?: readonly [number, number, number, number];
  /** Backbone output stride, 16 (default, paper's training setting) or 8. */
  outputStride?: 8 | 16;
  /**
   * Dilation rates of the three 3x3 ASPP branches. Default `defaultAtrousRates(min(H, W) / outputStride)`
   * (paper `[6, 12, 18]` rescaled to the feature-map size, see `blocks/aspp.ts`), e.g. `[1, 2, 3]` at 64 px.
   */
  atrousRates?: readonly number[];
  /** Multi-grid unit rates of the last stage (paper's best: `[1, 2, 4]`). Default `[1]` (none). */
  multiGrid?: readonly number[];
}

/**
 * Default backbone depth: two bottlenecks per stage (a "ResNet-26": 8 bottlenecks instead of
 * ResNet-50's 16), CPU-friendly (~0.2 s per Adam step, batch 8 at 64x64 on wasm, width 8).
 */
export const DEEPLAB_DEFAULT_BLOCKS = [2, 2, 2, 2] as const;

/** Final activation layer named `output` ('none' = linear), shared by DeepLabV3 and V3+. */
export function outputActivationLayer(x: tf.SymbolicTensor, activation: OutputActivation): tf.SymbolicTensor {
  const act = activation === 'none' ? 'linear' : activation;
  return tf.layers.activation({ activation: act, name: 'output' }).apply(x) as tf.SymbolicTensor;
}

/** Validate and fill the DeepLab-specific options for an input of `[H, W, C]`. */
export function resolveDeepLabOptions(inputShape: [number, number, number], extra: DeepLabOptions = {}) {
  const outputStride = extra.outputStride ?? 16;
  if (outputStride !== 8 && outputStride !== 16) {
    throw new Error(`src/models/deeplabv3.ts: outputStride must be 8 or 16, got ${String(outputStride)}`);
  }
  const [h, w] = inputShape;
  if (h % outputStride !== 0 || w % outputStride !== 0) {
    throw new Error(`src/models/deeplabv3.ts: input ${h}x${w} must be divisible by the output stride ${outputStride}`);
  }
  const featureSize = Math.min(h, w) / outputStride;
  return {
    block: extra.block ?? 'bottleneck',
    blocks: extra.blocks ?? DEEPLAB_DEFAULT_BLOCKS,
    outputStride,
    atrousRates: extra.atrousRates ?? defaultAtrousRates(featureSize),
    multiGrid: extra.multiGrid ?? [1],
  };
}

/**
 * Build the DeepLabV3 encoder (backbone + ASPP) on `input`; returns the ASPP output
 * (`[N, H/os, W/os, 4 * width]`, layer `aspp_proj_relu`) and the OS4 low-level feature
 * (`layer1_out`, used by DeepLabV3+).
 */
export function deepLabEncoder(
  input: tf.SymbolicTensor,
  opts: ResolvedModelOptions,
  init: SeededInit,
  extra: DeepLabOptions = {},
): { encoded: tf.SymbolicTensor; lowLevel: tf.SymbolicTensor; outputStride: 8 | 16 } {
  const o = resolveDeepLabOptions(opts.inputShape, extra);
  const backbone = resnetBackbone(input, {
    width: opts.width,
    block: o.block,
    blocks: o.blocks,
    outputStride: o.outputStride,
    multiGrid: o.multiGrid,
    init,
  });
  const encoded = aspp(backbone.stages[3], { filters: 4 * opts.width, rates: o.atrousRates, init });
  return { encoded, lowLevel: backbone.stages[0], outputStride: o.outputStride };
}

/**
 * Build DeepLabV3 (Chen et al. 2017, arXiv:1706.05587). Input `[N, H, W, C]` = `opts.inputShape`,
 * output `[N, H, W, numClasses]`. See {@link deeplabv3} for the layout and departures.
 */
export function buildDeepLabV3(opts: ResolvedModelOptions, extra: DeepLabOptions = {}): tf.LayersModel {
  const init = new SeededInit(opts.seed);
  const input = tf.input({ shape: opts.inputShape, name: 'input' });
  const { encoded, outputStride } = deepLabEncoder(input, opts, init, extra);
  let y = tf.layers
    .conv2d({ filters: opts.numClasses, kernelSize: 1, kernelInitializer: init.glorot(), name: 'classifier' })
    .apply(encoded) as tf.SymbolicTensor;
  y = tf.layers
    .upSampling2d({ size: [outputStride, outputStride], interpolation: 'bilinear', name: 'upsample' })
    .apply(y) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: outputActivationLayer(y, opts.outputActivation), name: 'deeplabv3' });
}

/**
 * DeepLabV3 (Chen, Papandreou, Schroff, Adam 2017, "Rethinking Atrous Convolution for
 * Semantic Image Segmentation", arXiv:1706.05587), as listed in MedSegNet10 (arXiv:2503.20830).
 *
 * Layout (NHWC, input `[N, H, W, C]`, `width` = w):
 * - ResNet-style backbone (`blocks/resnet.ts`), bottleneck blocks, stem w, stage outputs
 *   4w (OS4), 8w (OS8), 16w (OS16), 32w (stride replaced by dilation 2: still OS16);
 * - ASPP (`blocks/aspp.ts`): 1x1 + three 3x3 atrous branches + image pooling, each 4w
 *   channels, concat (20w), 1x1 projection 4w -> BN -> ReLU (`aspp_proj_relu`, `[N, H/16, W/16, 4w]`);
 * - `classifier` 1x1 conv to numClasses, `upsample` bilinear x16, `output` activation.
 * With w = 64 (paperWidth) the channels are ResNet-50/101's 64..2048 and ASPP 256.
 *
 * Split points: client front = stem + stage 1 (`layer1_out`); U-shaped server body = stages
 * 2-4 + ASPP (`aspp_proj_relu`); client back = classifier + upsampling + activation.
 *
 * Departures: trained from scratch (paper: ImageNet/JFT-pretrained ResNet-101); default depth
 * is two bottlenecks per stage (`DEEPLAB_DEFAULT_BLOCKS`; `buildDeepLabV3(opts, { blocks: [3, 4, 23, 3] })`
 * gives ResNet-101 depth) and the spec's `paperWidth` gives the paper's channels only;
 * ASPP rates default to the paper's `[6, 12, 18]` rescaled to the feature-map size (a 33x33
 * map in the paper, 4x4 at 64 px: `[1, 2, 3]`; see `defaultAtrousRates`); no multi-grid by
 * default; no dropout; stride on the bottleneck's 3x3 conv; bilinear resize without aligned
 * corners (the released code aligns corners). Dilated convs need the dilation gradients
 * registered by `initBackend()` (src/backend) to train.
 */
export const deeplabv3: ModelSpec = {
  name: 'deeplabv3',
  displayName: 'DeepLabV3',
  capabilities: {
    divisibleBy: 16,
    minSize: 32,
    defaultWidth: 8,
    paperWidth: 64,
    split: { twoPart: 'layer1_out', uShaped: ['layer1_out', 'aspp_proj_relu'] },
    paper: 'Chen et al. 2017, arXiv:1706.05587',
  },
  build: (opts) => buildDeepLabV3(opts),
};
