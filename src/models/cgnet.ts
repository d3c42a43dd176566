/**
 * CGNet, the Context Guided Network (Wu et al. 2018, arXiv:1811.08201; official
 * code github.com/wutianyiRosun/CGNet `model/CGNet.py`, `Context_Guided_Network`).
 * One of the ten MedSegNet10 architectures (arXiv:2503.20830).
 */
import * as tf from '@tensorflow/tfjs';
import { SeededInit } from './blocks/init';
import {
  ChannelSlice,
  bnPrelu,
  contextGuidedBlock,
  contextGuidedDownBlock,
  convBnPrelu,
  inputInjection,
} from './blocks/context-guided';
import type { ModelSpec, ResolvedModelOptions } from './types';

type Sym = tf.SymbolicTensor;

/** The paper's stage-1 width (CGNet_M3N21: 32 / 64 / 128 channels). */
const PAPER_WIDTH = 32;

/** CGNet builder options: the zoo options plus the stage depths. */
export interface CgnetOptions extends ResolvedModelOptions {
  /** M: CG blocks in stage 2, the down-sampling block included (>= 2). Default {@link cgnetDepth}. */
  blocksStage2?: number;
  /** N: CG blocks in stage 3, the down-sampling block included (>= 2). Default {@link cgnetDepth}. */
  blocksStage3?: number;
}

/**
 * Default stage depths for a width: the paper's M=3, N=21 (CGNet_M3N21) when
 * `width >= 32` (the paper's width), else M=3, N=9: a shallower stage 3 for CPU
 * training (the paper ablates M and N and settles on M3N21).
 */
export function cgnetDepth(width: number): { blocksStage2: number; blocksStage3: number } {
  return width >= PAPER_WIDTH ? { blocksStage2: 3, blocksStage3: 21 } : { blocksStage2: 3, blocksStage3: 9 };
}

/**
 * Build CGNet. Input `[N,H,W,C]` (H, W multiples of 8), output `[N,H,W,numClasses]`.
 *
 * Channels derive from `width` = w (paper 32):
 * - stage 1 (1/2 res): three 3x3 conv-BN-PReLU with w channels, the first
 *   strided (`stage1_conv{1,2,3}`); concatenated with the input injected at 1/2
 *   res (`inject1`, 3x3/2 average pooling) -> `stage1_cat` (w + C), BN-PReLU.
 * - stage 2 (1/4 res): a down-sampling CG block then M-1 CG blocks, 2w channels,
 *   f_sur dilation 2, f_glo reduction 8 (`stage2_block{1..M}`); concatenation of
 *   the last block, the first block and the input injected at 1/4 res
 *   (`inject2`) -> `stage2_cat` (4w + C), BN-PReLU.
 * - stage 3 (1/8 res): a down-sampling CG block then N-1 CG blocks, 4w channels,
 *   dilation 4, reduction 16 (`stage3_block{1..N}`); concatenation of the first
 *   and last block -> `stage3_cat` (8w), BN-PReLU (`stage3_bn`, `stage3_act`).
 * - `classifier`: 1x1 conv (no bias) to numClasses; `upsample`: bilinear x8 to
 *   the input size; `output_act`: the output activation (absent for 'none').
 *
 * Departures from the paper / released code:
 * - trained from scratch (no pretraining is used by the paper either);
 * - default depth M=3, N=9 below the paper width (see {@link cgnetDepth});
 * - the 1/4-res injection is computed as one more pooling of the 1/2-res
 *   injection sliced back out of `stage1_cat` — numerically identical to the
 *   code's two poolings of the input, and it makes `stage1_cat` a single-tensor
 *   split cut (note: the server then receives a 1/2-res copy of the image, an
 *   inherent property of CGNet's input injection);
 * - tfjs bilinear up-sampling uses the legacy (non-half-pixel) sampling grid,
 *   PyTorch `align_corners=False` uses half-pixel centres;
 * - no optional Dropout2d(0.1) before the classifier (the code's `dropout_flag`,
 *   off by default there too); block-level departures: see blocks/context-guided.ts.
 */
export function buildCgnet(options: CgnetOptions): tf.LayersModel {
  const { inputShape, numClasses, outputActivation, width, seed } = options;
  const depth = cgnetDepth(width);
  const m = options.blocksStage2 ?? depth.blocksStage2;
  const n = options.blocksStage3 ?? depth.blocksStage3;
  for (const [label, value] of [['blocksStage2', m], ['blocksStage3', n]] as const) {
    if (!Number.isInteger(value) || value < 2) {
      throw new Error(`cgnet.ts: ${label} must be an integer >= 2 (down-sampling block + CG blocks), got ${value}`);
    }
  }
  const [h, w, c] = inputShape;
  if (h % 8 !== 0 || w % 8 !== 0) {
    throw new Error(`cgnet.ts: input height and width must be multiples of 8, got ${h}x${w}`);
  }
  const init = new SeededInit(seed);
  const input = tf.input({ shape: inputShape, name: 'input' });

  // Stage 1 + first input injection.
  let x = convBnPrelu(input, { filters: width, kernel: 3, stride: 2, name: 'stage1_conv1', init });
  x = convBnPrelu(x, { filters: width, kernel: 3, name: 'stage1_conv2', init });
  x = convBnPrelu(x, { filters: width, kernel: 3, name: 'stage1_conv3', init });
  const inj1 = inputInjection(input, 'inject1');
  const cat1 = tf.layers.concatenate({ axis: -1, name: 'stage1_cat' }).apply([x, inj1]) as Sym;
  const inj1Again = new ChannelSlice({ begin: width, size: c, name: 'inject2_slice' }).apply(cat1) as Sym;
  const inj2 = inputInjection(inj1Again, 'inject2');

  // Stage 2.
  const s2 = 2 * width;
  const down2 = contextGuidedDownBlock(bnPrelu(cat1, 'stage2_in'), { channels: s2, dilation: 2, reduction: 8, name: 'stage2_block1', init });
  let y = down2;
  for (let i = 2; i <= m; i++) {
    y = contextGuidedBlock(y, { channels: s2, dilation: 2, reduction: 8, name: `stage2_block${i}`, init });
  }
  const cat2 = tf.layers.concatenate({ axis: -1, name: 'stage2_cat' }).apply([y, down2, inj2]) as Sym;

  // Stage 3.
  const s3 = 4 * width;
  const down3 = contextGuidedDownBlock(bnPrelu(cat2, 'stage3_in'), { channels: s3, dilation: 4, reduction: 16, name: 'stage3_block1', init });
  let z = down3;
  for (let i = 2; i <= n; i++) {
    z = contextGuidedBlock(z, { channels: s3, dilation: 4, reduction: 16, name: `stage3_block${i}`, init });
  }
  const cat3 = tf.layers.concatenate({ axis: -1, name: 'stage3_cat' }).apply([down3, z]) as Sym;
  const features = bnPrelu(cat3, 'stage3');

  // Head: 1x1 classifier, bilinear x8 to the input size.
  let out = tf.layers
    .conv2d({ filters: numClasses, kernelSize: 1, useBias: false, kernelInitializer: init.he(), name: 'classifier' })
    .apply(features) as Sym;
  out = tf.layers.upSampling2d({ size: [8, 8], interpolation: 'bilinear', name: 'upsample' }).apply(out) as Sym;
  if (outputActivation !== 'none') {
    out = tf.layers.activation({ activation: outputActivation, name: 'output_act' }).apply(out) as Sym;
  }
  return tf.model({ inputs: input, outputs: out, name: 'cgnet' });
}

/**
 * CGNet (Wu et al. 2018, arXiv:1811.08201) in the zoo.
 * `width` = stage-1 channels (stages: w, 2w, 4w). defaultWidth 8 (M3N9, CPU-friendly),
 * paperWidth 32 (CGNet_M3N21). Input sides multiples of 8, at least 16.
 * Split: client front = stage 1 + 1/2-res injection (`stage1_cat`); U-shaped
 * client back = classifier + up-sampling (server body ends at `stage3_act`).
 * See {@link buildCgnet} for the structure and every departure.
 */
export const cgnet: ModelSpec = {
  name: 'cgnet',
  displayName: 'CGNet',
  capabilities: {
    divisibleBy: 8,
    minSize: 16,
    defaultWidth: 8,
    paperWidth: PAPER_WIDTH,
    split: { twoPart: 'stage1_cat', uShaped: ['stage1_cat', 'stage3_act'] },
    paper: 'Wu et al. 2018, arXiv:1811.08201',
  },
  build(options: ResolvedModelOptions): tf.LayersModel {
    return buildCgnet(options);
  },
};
