import * as tf from '@tensorflow/tfjs';
import type { ModelSpec, ResolvedModelOptions } from './types';
import { SeededInit } from './blocks/init';
import { classifierHead, convBnRelu } from './blocks/conv';
import { MaxUnpool2D } from './blocks/unpool';

/** Convs per encoder stage of the VGG16 encoder (SegNet §3): 2, 2, 3, 3, 3. */
export const SEGNET_STAGE_CONVS = [2, 2, 3, 3, 3] as const;
/** Channel multipliers of the five encoder stages: `w, 2w, 4w, 8w, 8w` (VGG16: 64..512). */
export const SEGNET_WIDTH_MULTIPLIERS = [1, 2, 4, 8, 8] as const;

/**
 * SegNet (Badrinarayanan, Kendall & Cipolla 2015/2017, arXiv:1511.00561).
 *
 * Architecture (NHWC, input `[N, H, W, C]`, `w = width`):
 * - encoder = the 13 conv layers of VGG16: stages s = 1..5 with 2, 2, 3, 3, 3
 *   `3x3 conv -> BN -> ReLU` (`enc{s}_{i}_*`) of `w, 2w, 4w, 8w, 8w` channels, each stage
 *   followed by a 2x2 / stride-2 max-pool `enc{s}_pool` (output stride 32);
 * - decoder = mirror image: stage s = 5..1 starts with index-based max-unpooling
 *   `dec{s}_unpool` (custom layer `MedflMaxUnpool2D`, inputs `[enc{s} pre-pool tensor,
 *   decoder tensor]`: each value goes back to the position of its encoder window's maximum,
 *   zeros elsewhere — see `blocks/unpool.ts`), then the mirrored convs `dec{s}_{i}_*`; the last
 *   conv of a stage outputs the next (shallower) stage's channels, like conv4_1_D (512 -> 256);
 *   stage 1 has one `3x3 conv -> BN -> ReLU` (w) and then the classifier;
 * - classifier: 3x3 conv to `numClasses` (`head`, as SegNet's conv1_1_D) + output activation
 *   (the paper's soft-max for `softmax`).
 * Output `[N, H, W, numClasses]`; `paperWidth` 64 gives VGG16's 64..512 channels (29.5M
 * parameters, the paper's 29.5M); `defaultWidth` 4 is the CPU-friendly size.
 *
 * Index reuse: the pre-pool encoder tensor of every stage is an input of the matching unpool
 * layer, so the "pooling indices" are a skip connection of the graph (they are recomputed from
 * it as a constant mask; no gradient flows through them, as with SegNet's stored indices).
 *
 * Departures: trained from scratch (no ImageNet VGG16 weights); the argmax is recomputed from
 * the pre-pool activations instead of stored (identical result; ties -> first position in
 * row-major order); the SegNet-Bayesian dropout is not included.
 *
 * Split points: front = first encoder stage (cut after `enc1_2_relu`, the tensor that is both
 * pooled and reused by `dec1_unpool`); U-shaped body ends at `dec2_2_relu`; the client back
 * holds `dec1_unpool` (with the index tensor from the front), `dec1_1_*` and the head.
 */
export const segnet: ModelSpec = {
  name: 'segnet',
  displayName: 'SegNet',
  capabilities: {
    divisibleBy: 32,
    minSize: 32,
    defaultWidth: 4,
    paperWidth: 64,
    split: { twoPart: 'enc1_2_relu', uShaped: ['enc1_2_relu', 'dec2_2_relu'] },
    paper: 'Badrinarayanan et al. 2015, arXiv:1511.00561',
  },
  build(opts: ResolvedModelOptions): tf.LayersModel {
    const init = new SeededInit(opts.seed);
    const w = opts.width;
    const input = tf.input({ shape: opts.inputShape, name: 'input' });
    const prePool: tf.SymbolicTensor[] = [];
    let x: tf.SymbolicTensor = input;
    for (let s = 1; s <= 5; s++) {
      const filters = w * SEGNET_WIDTH_MULTIPLIERS[s - 1];
      for (let i = 1; i <= SEGNET_STAGE_CONVS[s - 1]; i++) x = convBnRelu(x, `enc${s}_${i}`, { filters, init });
      prePool.push(x);
      x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `enc${s}_pool` }).apply(x) as tf.SymbolicTensor;
    }
    for (let s = 5; s >= 1; s--) {
      x = new MaxUnpool2D({ name: `dec${s}_unpool` }).apply([prePool[s - 1], x]) as tf.SymbolicTensor;
      const n = s === 1 ? 1 : SEGNET_STAGE_CONVS[s - 1];
      for (let i = 1; i <= n; i++) {
        const last = i === n && s > 1;
        const filters = w * SEGNET_WIDTH_MULTIPLIERS[last ? s - 2 : s - 1];
        x = convBnRelu(x, `dec${s}_${i}`, { filters, init });
      }
    }
    const output = classifierHead(x, opts.numClasses, opts.outputActivation, init, 3);
    return tf.model({ inputs: input, outputs: output, name: 'segnet' });
  },
};
