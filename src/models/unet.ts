import * as tf from '@tensorflow/tfjs';
import type { ModelSpec, ResolvedModelOptions } from './types';
import { SeededInit } from './blocks/init';
import { classifierHead, doubleConv, upConv } from './blocks/conv';

/** Channel multipliers of the five U-Net levels (level 5 = bottleneck): `w, 2w, 4w, 8w, 16w`. */
export const UNET_WIDTH_MULTIPLIERS = [1, 2, 4, 8, 16] as const;

/**
 * Build the U-Net graph (encoder, bottleneck, decoder) and return the decoder's
 * full-resolution feature map `[N, H, W, width]`; `build` adds the classifier.
 */
function unetFeatures(input: tf.SymbolicTensor, width: number, init: SeededInit): tf.SymbolicTensor {
  const skips: tf.SymbolicTensor[] = [];
  let x = input;
  for (let level = 1; level <= 4; level++) {
    x = doubleConv(x, `enc${level}`, width * UNET_WIDTH_MULTIPLIERS[level - 1], init);
    skips.push(x);
    x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `enc${level}_pool` }).apply(x) as tf.SymbolicTensor;
  }
  x = doubleConv(x, 'bott', width * UNET_WIDTH_MULTIPLIERS[4], init);
  for (let level = 4; level >= 1; level--) {
    const filters = width * UNET_WIDTH_MULTIPLIERS[level - 1];
    const up = upConv(x, `dec${level}_up`, filters, init);
    const cat = tf.layers.concatenate({ axis: -1, name: `dec${level}_concat` }).apply([skips[level - 1], up]) as tf.SymbolicTensor;
    x = doubleConv(cat, `dec${level}`, filters, init);
  }
  return x;
}

/**
 * U-Net (Ronneberger, Fischer & Brox 2015, arXiv:1505.04597).
 *
 * Architecture (NHWC, input `[N, H, W, C]`, `w = width`):
 * - encoder levels 1..4: double conv (two `3x3 conv -> BN -> ReLU`) with `w, 2w, 4w, 8w`
 *   channels (layers `enc{l}_1_*`, `enc{l}_2_*`), each followed by 2x2 max-pool `enc{l}_pool`;
 * - bottleneck: double conv with `16w` channels at `H/16` (`bott_*`);
 * - decoder levels 4..1: 2x2 stride-2 transposed conv halving the channels (`dec{l}_up`),
 *   concatenation `[skip, upsampled]` (`dec{l}_concat`, four skip connections), double conv (`dec{l}_*`);
 * - head: 1x1 conv to `numClasses` (`head`) + output activation.
 *
 * Output `[N, H, W, numClasses]`. `paperWidth` 64 gives the paper's 64..1024 channels
 * (31.0M parameters at 3 input channels); `defaultWidth` 4 (4..64 channels, 0.12M) keeps a
 * batch-8 64x64 training step around half a CPU-second on the wasm backend.
 * Parameters (bias-free convs before BN, BN has 4 values per channel, 2 of them trainable):
 * `sum over double convs of 9*cin*cout + 9*cout*cout + 8*cout` plus `4*cin*cout + cout` per
 * transposed conv and `w*numClasses + numClasses` for the head (see the model test).
 *
 * Departures from the paper:
 * - 'same' padding instead of the paper's unpadded ('valid') convs, so no cropping of the
 *   skip connections is needed and the output has the input's size (the paper's 572 -> 388);
 * - BatchNorm after every 3x3 conv (not in the 2015 paper; present in MedSegNet10's and most
 *   modern implementations, e.g. milesial/Pytorch-UNet), hence bias-free 3x3 convs;
 * - the paper's dropout at the end of the contracting path is omitted (no stochastic layers);
 * - trained from scratch with He-normal init (the paper also uses a Gaussian with std sqrt(2/N)).
 *
 * Split points (MedSegNet10 / SplitFed style): client front = first encoder level (cut after
 * `enc1_2_relu`); U-shaped body ends at the level-2 decoder output `dec2_2_relu`, so the client
 * back holds `dec1_up`, the level-1 skip concatenation, `dec1` and the head.
 */
export const unet: ModelSpec = {
  name: 'unet',
  displayName: 'U-Net',
  capabilities: {
    divisibleBy: 16,
    minSize: 16,
    defaultWidth: 4,
    paperWidth: 64,
    split: { twoPart: 'enc1_2_relu', uShaped: ['enc1_2_relu', 'dec2_2_relu'] },
    paper: 'Ronneberger et al. 2015, arXiv:1505.04597',
  },
  build(opts: ResolvedModelOptions): tf.LayersModel {
    const init = new SeededInit(opts.seed);
    const input = tf.input({ shape: opts.inputShape, name: 'input' });
    const features = unetFeatures(input, opts.width, init);
    const output = classifierHead(features, opts.numClasses, opts.outputActivation, init, 1);
    return tf.model({ inputs: input, outputs: output, name: 'unet' });
  },
};
