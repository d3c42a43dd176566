import * as tf from '@tensorflow/tfjs';
import type { SeededInit } from './init';

/**
 * Additive attention gate of Attention U-Net (Oktay et al. 2018, arXiv:1804.03999, §2 Eq. 1-2,
 * "grid attention" of the official code ozan-oktay/Attention-Gated-Networks, concatenation mode).
 *
 * Inputs: the skip features `x: [N, H, W, Cx]` and the gating signal
 * `g: [N, H/2, W/2, Cg]` from the next coarser level. Computation:
 * 1. `theta = Wx(x)`: 2x2 conv, stride 2, no bias, `interChannels` outputs -> `[N, H/2, W/2, F]`
 *    (the skip is strided down to the gating resolution, as in the paper / official code);
 * 2. `phi = Wg(g)`: 1x1 conv with bias (`b_g`) -> `[N, H/2, W/2, F]`;
 * 3. `q = psi(ReLU(theta + phi))`: 1x1 conv to one channel with bias (`b_psi`);
 * 4. `alpha_low = sigmoid(q)` in (0, 1), `[N, H/2, W/2, 1]`;
 * 5. `alpha = bilinear 2x resample(alpha_low)` -> `[N, H, W, 1]` (convex combination, stays in [0, 1]);
 * 6. output `x * alpha` (broadcast over channels) -> `[N, H, W, Cx]`.
 *
 * Layers: `${name}_wx`, `${name}_wg`, `${name}_add`, `${name}_relu`, `${name}_psi`,
 * `${name}_sigmoid`, `${name}_alpha` (the attention coefficients at the skip's size), `${name}_mul`.
 *
 * Departures from the official code: the extra output transform `W` (1x1 conv + BN on the
 * gated features) of `GridAttentionBlock` is omitted (it is not part of Eq. 1-2 of the paper);
 * tfjs' bilinear resampling uses the legacy TF pixel alignment (no half-pixel centres) where
 * PyTorch uses half-pixel centres; the gating signal must be exactly at half the skip's size
 * (the official code also resamples `phi` when sizes differ — not needed in a U-Net).
 */
export interface AttentionGateOptions {
  /** Intermediate channels `F` of `Wx` / `Wg` (official code: skip channels / 2). */
  interChannels: number;
  /** Seeded initializers (one stream per layer). */
  init: SeededInit;
}

/** Outputs of {@link attentionGate}. */
export interface AttentionGateResult {
  /** Gated skip `x * alpha`, `[N, H, W, Cx]` (layer `${name}_mul`). */
  gated: tf.SymbolicTensor;
  /** Attention coefficients `alpha` in [0, 1], `[N, H, W, 1]` (layer `${name}_alpha`). */
  alpha: tf.SymbolicTensor;
}

/** Apply an additive attention gate to skip `x` with gating signal `g` (see module doc). */
export function attentionGate(x: tf.SymbolicTensor, g: tf.SymbolicTensor, name: string, opts: AttentionGateOptions): AttentionGateResult {
  const [, hx, wx] = x.shape;
  const [, hg, wg] = g.shape;
  if (hx == null || wx == null || hg == null || wg == null || hx !== 2 * hg || wx !== 2 * wg) {
    throw new Error(
      `attentionGate '${name}' (src/models/blocks/attention-gate.ts): the gating signal must have half the ` +
        `skip's spatial size, got skip ${JSON.stringify(x.shape)} and gate ${JSON.stringify(g.shape)}`,
    );
  }
  if (!Number.isInteger(opts.interChannels) || opts.interChannels < 1) {
    throw new Error(`attentionGate '${name}': interChannels must be a positive integer, got ${opts.interChannels}`);
  }
  const F = opts.interChannels;
  const theta = tf.layers
    .conv2d({ filters: F, kernelSize: 2, strides: 2, padding: 'valid', useBias: false, kernelInitializer: opts.init.he(), name: `${name}_wx` })
    .apply(x) as tf.SymbolicTensor;
  const phi = tf.layers
    .conv2d({ filters: F, kernelSize: 1, padding: 'same', useBias: true, kernelInitializer: opts.init.he(), name: `${name}_wg` })
    .apply(g) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: `${name}_add` }).apply([theta, phi]) as tf.SymbolicTensor;
  const act = tf.layers.reLU({ name: `${name}_relu` }).apply(sum) as tf.SymbolicTensor;
  const q = tf.layers
    .conv2d({ filters: 1, kernelSize: 1, padding: 'same', useBias: true, kernelInitializer: opts.init.glorot(), name: `${name}_psi` })
    .apply(act) as tf.SymbolicTensor;
  const alphaLow = tf.layers.activation({ activation: 'sigmoid', name: `${name}_sigmoid` }).apply(q) as tf.SymbolicTensor;
  const alpha = tf.layers
    .upSampling2d({ size: [2, 2], interpolation: 'bilinear', name: `${name}_alpha` })
    .apply(alphaLow) as tf.SymbolicTensor;
  const gated = tf.layers.multiply({ name: `${name}_mul` }).apply([x, alpha]) as tf.SymbolicTensor;
  return { gated, alpha };
}
