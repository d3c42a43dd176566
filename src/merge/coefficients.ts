/**
 * Per-channel merge coefficients of MedMerge (Almakky / Nasirisarvi et al.,
 * arXiv:2403.11646): pure tensor maths, no model state.
 *
 * For K source weights `W_k` of one layer and a coefficient matrix
 * `a [K, C]` over that weight's output channels (see `WeightEntry.channelAxis`):
 * `W = sum_k a[k, c] * W_k[..., c, ...]`.
 *
 * Parametrisations (logits `z [K, C]` are what is learned):
 * - 'sigmoid' (K = 2 only; the paper's two-model case): `a_0 = sigmoid(z_0)`,
 *   `a_1 = 1 - a_0` (z_1 unused), so each merged kernel is a convex
 *   combination; z = 0 gives 0.5 / 0.5.
 * - 'softmax' (any K): `a[:, c] = softmax_k(z[:, c])`; convex per channel;
 *   z = 0 gives 1/K each. Identical to 'sigmoid' for K = 2 up to the
 *   re-parametrisation `sigmoid(z0 - z1)`.
 * - 'independent-sigmoid': `a_k = sigmoid(z_k)` independently (not
 *   normalised; lets the merge scale a channel); z = 0 gives 0.5 each.
 *
 * Departure: the official MedMerge code (BioMedIA-MBZUAI/MedMerge) was not
 * available to us; the paper describes two models and learnable
 * kernel-level weights kept in [0, 1]. 'sigmoid' is our reading of it for
 * two models, 'softmax' its K-model generalisation (default for K > 2).
 */
import * as tf from '@tensorflow/tfjs';
import { broadcastChannels } from '../models/weights';

/** How coefficient logits map to merge weights (see module doc). */
export type CoefficientParametrization = 'sigmoid' | 'softmax' | 'independent-sigmoid';

/** Default parametrisation for K source models: 'sigmoid' for 2, 'softmax' otherwise. */
export function defaultParametrization(k: number): CoefficientParametrization {
  return k === 2 ? 'sigmoid' : 'softmax';
}

/**
 * Merge weights `a [K, C]` from logits `z [K, C]` (differentiable).
 * Throws for 'sigmoid' with K != 2.
 */
export function coefficientsFromLogits(z: tf.Tensor2D, p: CoefficientParametrization): tf.Tensor2D {
  const K = z.shape[0];
  return tf.tidy(() => {
    if (p === 'sigmoid') {
      if (K !== 2) throw new Error(`coefficientsFromLogits: 'sigmoid' needs exactly 2 source models, got ${K}; use 'softmax'`);
      const a0 = tf.sigmoid(tf.slice(z, [0, 0], [1, -1]));
      return tf.concat([a0, tf.sub(1, a0)], 0) as tf.Tensor2D;
    }
    if (p === 'softmax') return tf.transpose(tf.softmax(tf.transpose(z))) as tf.Tensor2D;
    if (p === 'independent-sigmoid') return tf.sigmoid(z) as tf.Tensor2D;
    throw new Error(`coefficientsFromLogits: unknown parametrization '${String(p)}' (valid: sigmoid, softmax, independent-sigmoid)`);
  });
}

/**
 * Logits that give merge weights `a [K, C]` under `p` (inverse of
 * {@link coefficientsFromLogits}; weights are clipped to (1e-6, 1 - 1e-6)).
 */
export function logitsFromCoefficients(a: readonly (readonly number[])[], p: CoefficientParametrization): number[][] {
  const clip = (v: number) => Math.min(1 - 1e-6, Math.max(1e-6, v));
  const logit = (v: number) => Math.log(clip(v) / (1 - clip(v)));
  if (p === 'softmax') return a.map((row) => row.map((v) => Math.log(clip(v))));
  if (p === 'sigmoid') return [a[0].map(logit), a[0].map(() => 0)];
  return a.map((row) => row.map(logit));
}

/**
 * `sum_k a[k, :] * W_k` with `a [K, C]` broadcast along `axis` of every `W_k`
 * (all of one shape; `C` = size of `axis`, or 1 for a scalar per model).
 */
export function mergeTensors(ws: readonly tf.Tensor[], a: tf.Tensor2D, axis: number): tf.Tensor {
  if (ws.length === 0) throw new Error('mergeTensors: no tensors');
  if (a.shape[0] !== ws.length) throw new Error(`mergeTensors: ${ws.length} tensors but coefficients for ${a.shape[0]} models`);
  return tf.tidy(() => {
    const rank = ws[0].rank;
    let out: tf.Tensor | null = null;
    ws.forEach((w, k) => {
      const row = tf.squeeze(tf.slice(a, [k, 0], [1, -1]), [0]);
      const c = row.size === 1 ? tf.reshape(row, []) : broadcastChannels(row, rank, axis);
      const term = tf.mul(w, c);
      out = out ? tf.add(out, term) : term;
    });
    return out as unknown as tf.Tensor;
  });
}
