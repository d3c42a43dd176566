import * as tf from '@tensorflow/tfjs';
import type { ModelSpec, ResolvedModelOptions } from './types';
import { SeededInit } from './blocks/init';
import { classifierHead, convBnRelu, doubleConv, upConv } from './blocks/conv';
import { attentionGate } from './blocks/attention-gate';

/** Channel multipliers of the five levels (level 5 = bottleneck): `w, 2w, 4w, 8w, 16w`, as U-Net. */
export const ATTENTION_UNET_WIDTH_MULTIPLIERS = [1, 2, 4, 8, 16] as const;

/**
 * Names of the layers whose outputs are the attention coefficients `alpha` of the gates on
 * the skips of levels 1..4 (index 0 = level 1, full resolution). Each output is
 * `[N, H / 2^(l-1), W / 2^(l-1), 1]` with values in [0, 1] — the spatial size of its skip.
 */
export const ATTENTION_UNET_ALPHA_LAYERS = ['att1_alpha', 'att2_alpha', 'att3_alpha', 'att4_alpha'] as const;

/**
 * Attention U-Net (Oktay et al. 2018, "Attention U-Net: Learning Where to Look for the
 * Pancreas", arXiv:1804.03999), 2D.
 *
 * Architecture (NHWC, input `[N, H, W, C]`, `w = width`): the U-Net of `unet.ts`
 * (double `3x3 conv -> BN -> ReLU` blocks with `w, 2w, 4w, 8w` channels, 2x2 max-pool,
 * `16w` bottleneck `bott_*`, 2x2 stride-2 transposed-conv upsampling, 1x1 head) where every
 * skip connection passes through an additive attention gate (`blocks/attention-gate.ts`)
 * before the concatenation:
 * - level 4 gate `att4`: gating signal = bottleneck after the 1x1 `conv -> BN -> ReLU`
 *   gating transform `gating_*` (official code's `UnetGridGatingSignal`);
 * - level `l < 4` gate `att{l}`: gating signal = decoder output of level `l + 1` (`dec{l+1}_2_relu`),
 *   i.e. the coarser decoder level, as in the paper's Fig. 1;
 * - intermediate channels of a gate = skip channels / 2 (official code), at least 1;
 * - decoder level `l`: `dec{l}_up` (transposed conv of the coarser features), `dec{l}_concat`
 *   `[gated skip, upsampled]`, double conv `dec{l}_*`.
 * Attention coefficients: layers {@link ATTENTION_UNET_ALPHA_LAYERS}.
 *
 * `paperWidth` 64 = the U-Net channel plan MedSegNet10 uses (the official 2D code divides the
 * U-Net widths by `feature_scale = 4`, i.e. width 16). `defaultWidth` 4 is the CPU-friendly size.
 *
 * Departures: gates on all four skips (the official 2D/3D code leaves the full-resolution
 * skip ungated); no deep supervision; 'same' padding; BatchNorm in every conv block; gate
 * details as documented in `attentionGate` (no output `W` transform); trained from scratch.
 *
 * Split points: front = first encoder level (`enc1_2_relu`); U-shaped body ends at
 * `dec2_2_relu`; the client back holds gate `att1`, `dec1_*` and the head.
 */
export const attentionUnet: ModelSpec = {
  name: 'attention-unet',
  displayName: 'Attention U-Net',
  capabilities: {
    divisibleBy: 16,
    minSize: 16,
    defaultWidth: 4,
    paperWidth: 64,
    split: { twoPart: 'enc1_2_relu', uShaped: ['enc1_2_relu', 'dec2_2_relu'] },
    paper: 'Oktay et al. 2018, arXiv:1804.03999',
  },
  build(opts: ResolvedModelOptions): tf.LayersModel {
    const init = new SeededInit(opts.seed);
    const w = opts.width;
    const m = ATTENTION_UNET_WIDTH_MULTIPLIERS;
    const input = tf.input({ shape: opts.inputShape, name: 'input' });
    const skips: tf.SymbolicTensor[] = [];
    let x: tf.SymbolicTensor = input;
    for (let level = 1; level <= 4; level++) {
      x = doubleConv(x, `enc${level}`, w * m[level - 1], init);
      skips.push(x);
      x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `enc${level}_pool` }).apply(x) as tf.SymbolicTensor;
    }
    x = doubleConv(x, 'bott', w * m[4], init);
    let gate = convBnRelu(x, 'gating', { filters: w * m[4], kernelSize: 1, init });
    for (let level = 4; level >= 1; level--) {
      const filters = w * m[level - 1];
      const { gated } = attentionGate(skips[level - 1], gate, `att${level}`, {
        interChannels: Math.max(1, Math.floor(filters / 2)),
        init,
      });
      const up = upConv(x, `dec${level}_up`, filters, init);
      const cat = tf.layers.concatenate({ axis: -1, name: `dec${level}_concat` }).apply([gated, up]) as tf.SymbolicTensor;
      x = doubleConv(cat, `dec${level}`, filters, init);
      gate = x;
    }
    const output = classifierHead(x, opts.numClasses, opts.outputActivation, init, 1);
    return tf.model({ inputs: input, outputs: output, name: 'attention_unet' });
  },
};
