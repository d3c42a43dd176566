import * as tf from '@tensorflow/tfjs';
import type { ModelSpec, OutputActivation, ResolvedModelOptions } from './types';
import { SeededInit } from './blocks/init';
import { resnetBackbone, type ResidualBlockKind } from './blocks/resnet';
import { refineNetBlock, residualConvUnit, type RefineNormalization } from './blocks/refine';

/** Extra RefineNet options beyond {@link ResolvedModelOptions} (used by {@link buildRefineNet}). */
export interface RefineNetOptions {
  /** Residual block kind of the backbone. Default `'bottleneck'` (ResNet-50/101/152 blocks). */
  block?: ResidualBlockKind;
  /** Blocks per backbone stage. Default {@link REFINENET_DEFAULT_BLOCKS}; paper: ResNet-101 `[3, 4, 23, 3]` / ResNet-152 `[3, 8, 36, 3]`. */
  blocks?: readonly [number, number, number, number];
  /** Pooling stages of each chained residual pooling (paper figure: 2). Default 2. */
  crpStages?: number;
  /**
   * Normalization in the RefineNet part (`adapt*` convs and blocks): `'batch'` (default, a
   * departure: BN after every conv, needed to train from scratch) or `'none'` (the paper).
   */
  normalization?: RefineNormalization;
}

/**
 * Default backbone depth: one bottleneck per stage (a "ResNet-14"), CPU-friendly: the
 * RefineNet decoder at OS4 dominates the cost (~0.45 s per Adam step, batch 8 at 64x64 on wasm, width 8).
 */
export const REFINENET_DEFAULT_BLOCKS = [1, 1, 1, 1] as const;

/** Final activation layer named `output` ('none' = linear). */
function outputActivationLayer(x: tf.SymbolicTensor, activation: OutputActivation): tf.SymbolicTensor {
  const act = activation === 'none' ? 'linear' : activation;
  return tf.layers.activation({ activation: act, name: 'output' }).apply(x) as tf.SymbolicTensor;
}

/**
 * Build 4-cascaded RefineNet (Lin et al. 2017, arXiv:1611.06612). Input `[N, H, W, C]` =
 * `opts.inputShape` (H, W divisible by 32), output `[N, H, W, numClasses]`.
 * See {@link refinenet} for the layout and departures.
 */
export function buildRefineNet(opts: ResolvedModelOptions, extra: RefineNetOptions = {}): tf.LayersModel {
  const init = new SeededInit(opts.seed);
  const w = opts.width;
  const [h, wd] = opts.inputShape;
  if (h % 32 !== 0 || wd % 32 !== 0) {
    throw new Error(`src/models/refinenet.ts: input ${h}x${wd} must be divisible by 32 (the backbone's output stride)`);
  }
  const input = tf.input({ shape: opts.inputShape, name: 'input' });
  const backbone = resnetBackbone(input, {
    width: w,
    block: extra.block ?? 'bottleneck',
    blocks: extra.blocks ?? REFINENET_DEFAULT_BLOCKS,
    outputStride: 32,
    init,
  });
  // Dimension adaptation of each backbone feature (paper: 512 channels for RefineNet-4, 256 for the rest).
  const pathChannels = [4 * w, 4 * w, 4 * w, 8 * w];
  const normalization = extra.normalization ?? 'batch';
  const adapted = backbone.stages.map((f, i) => {
    const name = `adapt${i + 1}_conv`;
    const y = tf.layers
      .conv2d({ filters: pathChannels[i], kernelSize: 3, padding: 'same', useBias: normalization === 'none', kernelInitializer: init.he(), name })
      .apply(f) as tf.SymbolicTensor;
    if (normalization === 'none') return y;
    return tf.layers.batchNormalization({ axis: -1, epsilon: 1e-5, name: `${name}_bn` }).apply(y) as tf.SymbolicTensor;
  });
  const blockOpts = { init, crpStages: extra.crpStages, normalization };
  let r = refineNetBlock([adapted[3]], { ...blockOpts, name: 'refine4' });
  r = refineNetBlock([r, adapted[2]], { ...blockOpts, name: 'refine3' });
  r = refineNetBlock([r, adapted[1]], { ...blockOpts, name: 'refine2' });
  r = refineNetBlock([r, adapted[0]], { ...blockOpts, name: 'refine1' });
  r = residualConvUnit(r, { init, normalization, name: 'final_rcu1' });
  r = residualConvUnit(r, { init, normalization, name: 'final_rcu2' });
  let y = tf.layers
    .conv2d({ filters: opts.numClasses, kernelSize: 1, kernelInitializer: init.glorot(), name: 'classifier' })
    .apply(r) as tf.SymbolicTensor;
  y = tf.layers.upSampling2d({ size: [4, 4], interpolation: 'bilinear', name: 'upsample' }).apply(y) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: outputActivationLayer(y, opts.outputActivation), name: 'refinenet' });
}

/**
 * RefineNet, 4-cascaded (Lin, Milan, Shen, Reid 2017, "RefineNet: Multi-Path Refinement
 * Networks for High-Resolution Semantic Segmentation", arXiv:1611.06612, Fig. 2(c)), as listed
 * in MedSegNet10 (arXiv:2503.20830).
 *
 * Layout (NHWC, `width` = w):
 * - ResNet-style backbone (`blocks/resnet.ts`, output stride 32, bottlenecks): `layer1_out`..`layer4_out`
 *   at OS 4/8/16/32 with 4w/8w/16w/32w channels;
 * - `adapt{s}_conv`: 3x3 conv of each stage to 4w channels (8w for stage 4) = 256 (512) at w = 64;
 * - `refine4` = RefineNet([adapt4]); `refine{s}` = RefineNet([refine{s+1}, adapt{s}]) for s = 3, 2, 1,
 *   each: 2 RCUs per path, multi-resolution fusion (3x3 conv to the smaller channel count,
 *   bilinear upsampling x2, sum), chained residual pooling, output RCU (`blocks/refine.ts`);
 *   `refine1_out_add` is `[N, H/4, W/4, 4w]`;
 * - two more RCUs (`final_rcu1/2`), `classifier` 1x1, `upsample` bilinear x4, `output` activation.
 *
 * Split points: client front = stem + stage 1 (`layer1_out`); U-shaped server body = stages
 * 2-4 + RefineNet-4..2 (`refine2_out_add`); client back = RefineNet-1 (with the stage-1 skip,
 * which stays on the client) + final RCUs + classifier.
 *
 * Departures: trained from scratch (paper: ImageNet-pretrained ResNet-101/152); BatchNorm
 * after every conv of the RefineNet part by default (the paper removes BN; without it
 * the ~20 stacked residual units diverge under Adam from scratch: `{ normalization: 'none' }`
 * builds the paper's BN-free blocks, see `blocks/refine.ts`), with each RCU's last BN
 * starting at gamma = 0 (identity start) and `adapt*` convs followed by BN; default
 * depth one bottleneck per stage (`buildRefineNet(opts, { blocks: [3, 4, 23, 3] })` gives
 * ResNet-101 depth); no dropout; the backbone's stride sits on the bottleneck's 3x3 conv;
 * the paper's multi-scale input / test-time evaluation is not reproduced; bilinear resizes
 * are tfjs `upSampling2d` (corners not aligned).
 */
export const refinenet: ModelSpec = {
  name: 'refinenet',
  displayName: 'RefineNet',
  capabilities: {
    divisibleBy: 32,
    minSize: 32,
    defaultWidth: 8,
    paperWidth: 64,
    split: { twoPart: 'layer1_out', uShaped: ['layer1_out', 'refine2_out_add'] },
    paper: 'Lin et al. 2017, arXiv:1611.06612',
  },
  build: (opts) => buildRefineNet(opts),
};
