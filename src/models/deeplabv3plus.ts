import * as tf from '@tensorflow/tfjs';
import type { ModelSpec, ResolvedModelOptions } from './types';
import { SeededInit } from './blocks/init';
import { deepLabEncoder, outputActivationLayer, type DeepLabOptions } from './deeplabv3';

/** Conv (no bias) -> BN -> ReLU with names `<name>_conv`, `<name>_bn`, `<name>_relu`. */
function convBnRelu(x: tf.SymbolicTensor, filters: number, kernelSize: number, init: SeededInit, name: string): tf.SymbolicTensor {
  let y = tf.layers
    .conv2d({ filters, kernelSize, padding: 'same', useBias: false, kernelInitializer: init.he(), name: `${name}_conv` })
    .apply(x) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization({ axis: -1, epsilon: 1e-5, name: `${name}_bn` }).apply(y) as tf.SymbolicTensor;
  return tf.layers.reLU({ name: `${name}_relu` }).apply(y) as tf.SymbolicTensor;
}

/** Channels of the reduced low-level feature: paper 48 at width 64, i.e. `max(1, round(0.75 * width))`. */
export function lowLevelChannels(width: number): number {
  return Math.max(1, Math.round(0.75 * width));
}

/**
 * Build DeepLabV3+ (Chen et al. 2018, arXiv:1802.02611). Input `[N, H, W, C]` = `opts.inputShape`,
 * output `[N, H, W, numClasses]`. `extra` tunes the shared DeepLabV3 encoder (backbone depth,
 * output stride, ASPP rates). See {@link deeplabv3plus} for the layout and departures.
 */
export function buildDeepLabV3Plus(opts: ResolvedModelOptions, extra: DeepLabOptions = {}): tf.LayersModel {
  const init = new SeededInit(opts.seed);
  const w = opts.width;
  const input = tf.input({ shape: opts.inputShape, name: 'input' });
  const { encoded, lowLevel, outputStride } = deepLabEncoder(input, opts, init, extra);
  // Decoder (paper §3.1, Fig. 2): encoder features upsampled to output stride 4.
  const up = outputStride / 4;
  const high = tf.layers
    .upSampling2d({ size: [up, up], interpolation: 'bilinear', name: 'dec_up' })
    .apply(encoded) as tf.SymbolicTensor;
  const low = convBnRelu(lowLevel, lowLevelChannels(w), 1, init, 'dec_low');
  let y = tf.layers.concatenate({ axis: -1, name: 'dec_concat' }).apply([high, low]) as tf.SymbolicTensor;
  y = convBnRelu(y, 4 * w, 3, init, 'dec_conv1');
  y = convBnRelu(y, 4 * w, 3, init, 'dec_conv2');
  y = tf.layers
    .conv2d({ filters: opts.numClasses, kernelSize: 1, kernelInitializer: init.glorot(), name: 'classifier' })
    .apply(y) as tf.SymbolicTensor;
  y = tf.layers.upSampling2d({ size: [4, 4], interpolation: 'bilinear', name: 'upsample' }).apply(y) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: outputActivationLayer(y, opts.outputActivation), name: 'deeplabv3plus' });
}

/**
 * DeepLabV3+ (Chen, Zhu, Papandreou, Schroff, Adam 2018, "Encoder-Decoder with Atrous
 * Separable Convolution for Semantic Image Segmentation", arXiv:1802.02611), as listed in
 * MedSegNet10 (arXiv:2503.20830).
 *
 * Layout (NHWC, `width` = w): the DeepLabV3 encoder of `deeplabv3.ts` (ResNet-style backbone at
 * output stride 16 + ASPP, `aspp_proj_relu` `[N, H/16, W/16, 4w]`), then the decoder:
 * - `dec_up`: bilinear x4 of the encoder output -> `[N, H/4, W/4, 4w]`;
 * - `dec_low`: 1x1 conv -> BN -> ReLU of the stage-1 (OS4) feature `layer1_out` to 0.75w
 *   channels (48 at w = 64);
 * - `dec_concat`, then two 3x3 conv -> BN -> ReLU with 4w channels (`dec_conv1`, `dec_conv2`);
 * - `classifier` 1x1 to numClasses, `upsample` bilinear x4, `output` activation.
 * With w = 64 the channels are the paper's (ResNet 64..2048, ASPP/decoder 256, low-level 48).
 *
 * Split points: client front = stem + stage 1 (`layer1_out`); U-shaped server body = stages
 * 2-4 + ASPP (`aspp_proj_relu`); client back = the decoder (the low-level skip from the front
 * stays on the client) + classifier.
 *
 * Departures: the paper's main backbone is a modified Aligned Xception with depthwise-separable
 * convs (also in ASPP and decoder); we use the ResNet backbone with plain convs, for which the
 * paper also reports results (ResNet-101, Table 3); trained from scratch (no ImageNet weights);
 * default depth two bottlenecks per stage; ASPP rates rescaled to the feature-map size, and
 * all the other DeepLabV3 departures (see `deeplabv3.ts`). At output stride 8 the encoder
 * is upsampled x2 instead of x4 so it meets the OS4 feature.
 */
export const deeplabv3plus: ModelSpec = {
  name: 'deeplabv3plus',
  displayName: 'DeepLabV3+',
  capabilities: {
    divisibleBy: 16,
    minSize: 32,
    defaultWidth: 8,
    paperWidth: 64,
    split: { twoPart: 'layer1_out', uShaped: ['layer1_out', 'aspp_proj_relu'] },
    paper: 'Chen et al. 2018, arXiv:1802.02611',
  },
  build: (opts) => buildDeepLabV3Plus(opts),
};
