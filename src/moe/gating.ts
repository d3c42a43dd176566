/**
 * Gating maths of the M4oE mixture-of-experts layers (Jiang & Shen 2024,
 * arXiv:2405.09446; official code JefferyJiang-YF/M4oE, mirrored as
 * csyfjiang/M4oE, `networks/swin_transformer_moe_decoder_encoder.py`):
 * routing weights, top-k masking with renormalisation, the per-sample routing
 * statistics every MoE layer emits, and the load-balancing auxiliary losses.
 *
 * Everything here is pure: tensors in, tensors out, inside `tf.tidy`.
 *
 * Routing statistics (the second output of every MoE layer, see
 * {@link MOE_STAT_GROUPS}): `[N, 3E]` per sample = three blocks of E values,
 * each a mean over the sample's tokens (Swin) or the sample itself (conv):
 * - `weights` (cols 0..E-1): the weights that actually mix the experts (after top-k renormalisation);
 * - `probs` (cols E..2E-1): the full softmax router probabilities (before top-k);
 * - `top1` (cols 2E..3E-1): fraction of tokens whose largest probability is expert e.
 * Under hard routing all three are the sample's one-hot route; for the released
 * code's channel gate (which weighs no expert) all three are uniform 1/E.
 */
import * as tf from '@tensorflow/tfjs';

/** Names of the three E-wide blocks of a routing-statistics row, in order. */
export const MOE_STAT_GROUPS = ['weights', 'probs', 'top1'] as const;

/** Load-balancing auxiliary loss flavour (see {@link loadBalancingLoss}). */
export type BalanceLoss = 'cv' | 'switch';

/** `f(x)` in the forward pass, zero gradient to `x` (the ops inside are not taped). */
function noGrad(f: (x: tf.Tensor) => tf.Tensor): (x: tf.Tensor) => tf.Tensor {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const x = args[0] as tf.Tensor;
    return { value: f(x), gradFunc: (dy: tf.Tensor) => [tf.zerosLike(x)] };
  }) as (x: tf.Tensor) => tf.Tensor;
  return (x) => tf.tidy(() => op(x));
}

/** Lower-triangular `[E, E]` constant: `[e', e] = 1` when `e' < e` (tie-break by index). */
function earlierIndex(e: number): tf.Tensor2D {
  const v = new Float32Array(e * e);
  for (let a = 0; a < e; a++) for (let b = 0; b < e; b++) v[a * e + b] = a < b ? 1 : 0;
  return tf.tensor2d(v, [e, e]);
}

/** Throw unless `k` is an integer in `[1, numExperts]`. */
export function checkTopK(k: number, numExperts: number): void {
  if (!Number.isInteger(k) || k < 1 || k > numExperts) {
    throw new Error(`moe gating: topK must be an integer in [1, ${numExperts}] (the number of experts), got ${k}`);
  }
}

/**
 * 0/1 mask of the `k` largest entries along the last axis (ties broken by the
 * lower expert index, so exactly `k` ones per row). Shape of `probs`. No gradient.
 */
export function topKMask(probs: tf.Tensor, k: number): tf.Tensor {
  checkTopK(k, probs.shape[probs.rank - 1]);
  const e = probs.shape[probs.rank - 1];
  return noGrad((p) => {
    if (k === e) return tf.onesLike(p);
    const row = tf.expandDims(p, -1); // [..., E(e), 1]
    const col = tf.expandDims(p, -2); // [..., 1, E(e')]
    // rank_e = #{e' : p_e' > p_e} + #{e' < e : p_e' == p_e}
    const greater = tf.cast(tf.greater(col, row), 'float32');
    const ties = tf.mul(tf.cast(tf.equal(col, row), 'float32'), tf.transpose(earlierIndex(e)));
    const rank = tf.sum(tf.add(greater, ties), -1);
    return tf.cast(tf.less(rank, k), 'float32');
  })(probs);
}

/**
 * Routing weights from router logits `[..., E]`: `softmax(logits)` (the paper's
 * soft gate, Shazeer et al. 2017 arXiv:1701.06538 without noise), then, when
 * `topK < E`, only the k largest kept and renormalised to sum 1
 * (`w = p * mask / sum(p * mask)`; gradients flow through the kept probabilities).
 * Returns `{ probs, weights }`, both `[..., E]`.
 */
export function routingWeights(logits: tf.Tensor, topK?: number): { probs: tf.Tensor; weights: tf.Tensor } {
  return tf.tidy(() => {
    const e = logits.shape[logits.rank - 1];
    const probs = tf.softmax(logits, -1);
    const k = topK ?? e;
    checkTopK(k, e);
    if (k === e) return { probs, weights: probs };
    const kept = tf.mul(probs, topKMask(probs, k));
    return { probs, weights: tf.div(kept, tf.sum(kept, -1, true)) };
  });
}

/** One-hot `[..., E]` of the argmax along the last axis (first index on ties). No gradient. */
export function argmaxOneHot(probs: tf.Tensor): tf.Tensor {
  const e = probs.shape[probs.rank - 1];
  return noGrad((p) => (e === 1 ? tf.onesLike(p) : tf.oneHot(tf.argMax(p, -1), e).toFloat()))(probs);
}

/**
 * Per-sample routing statistics `[N, 3E]` (see the module doc) from per-token
 * `probs` and `weights` of shape `[N, ..., E]` (any number of token axes, or none).
 */
export function routingStats(probs: tf.Tensor, weights: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const n = probs.shape[0];
    const e = probs.shape[probs.rank - 1];
    const mean = (t: tf.Tensor): tf.Tensor => tf.mean(tf.reshape(t, [n, -1, e]), 1);
    return tf.concat([mean(weights), mean(probs), mean(argmaxOneHot(probs))], 1) as tf.Tensor2D;
  });
}

/** Statistics `[N, 3E]` of a fixed per-sample routing `route [N, E]` (hard routing, or uniform). */
export function fixedRoutingStats(route: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => tf.concat([route, route, route], 1) as tf.Tensor2D);
}

/** Split routing statistics `[..., 3E]` into its three `[..., E]` blocks. */
export function splitStats(stats: tf.Tensor): { weights: tf.Tensor; probs: tf.Tensor; top1: tf.Tensor } {
  const last = stats.shape[stats.rank - 1];
  if (last % 3 !== 0) throw new Error(`moe gating: routing statistics must have 3E columns, got ${last}`);
  const [weights, probs, top1] = tf.split(stats, 3, -1);
  return { weights, probs, top1 };
}

/**
 * Squared coefficient of variation `var(v) / mean(v)^2` along the last axis
 * (population variance, + 1e-10 in the denominator as Shazeer et al.'s
 * `cv_squared`). 0 iff all entries are equal.
 */
export function cvSquared(v: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(v, -1);
    return tf.div(variance, tf.add(tf.square(mean), 1e-10));
  });
}

/**
 * Load-balancing auxiliary loss of a batch from routing statistics `[N, 3E]`
 * (one MoE layer) or `[N, L, 3E]` (L layers; the loss is the mean over layers).
 *
 * - `'cv'` (default; Shazeer et al. 2017, arXiv:1701.06538, "importance" loss
 *   without its weight): importance `I_e = sum over the batch's tokens of the
 *   mixing weight of e` (here the sum of the per-sample means, which is
 *   proportional because every sample has the same token count), loss
 *   `CV(I)^2 = var(I) / mean(I)^2`. Minimum 0 for perfectly uniform importance.
 *   E.g. importance (3, 1) -> var 1 / mean^2 4 = 0.25.
 * - `'switch'` (Fedus et al. 2021, arXiv:2101.03961, eq. 4 without alpha):
 *   `E * sum_e f_e * P_e`, f_e = fraction of tokens whose top-1 expert is e,
 *   P_e = mean router probability of e (full softmax, before top-k). Minimum 1
 *   under uniform routing; only P carries a gradient.
 *
 * Multiply by a coefficient yourself (the trainer's `balanceWeight`, default 0.01).
 * Under hard routing / the code's channel gate the statistics are constant
 * and the loss has no gradient. Returns a scalar.
 */
export function loadBalancingLoss(stats: tf.Tensor, kind: BalanceLoss = 'cv'): tf.Scalar {
  if (stats.rank !== 2 && stats.rank !== 3) {
    throw new Error(`moe gating: routing statistics must be [N, 3E] or [N, L, 3E], got [${stats.shape.join(', ')}]`);
  }
  if (kind !== 'cv' && kind !== 'switch') throw new Error(`moe gating: balance loss must be 'cv' or 'switch', got '${String(kind)}'`);
  return tf.tidy(() => {
    const s = stats.rank === 2 ? tf.expandDims(stats, 1) : stats; // [N, L, 3E]
    const { weights, probs, top1 } = splitStats(s);
    const e = weights.shape[2] as number;
    let perLayer: tf.Tensor;
    if (kind === 'cv') {
      perLayer = cvSquared(tf.sum(weights, 0)); // [L]
    } else {
      perLayer = tf.mul(e, tf.sum(tf.mul(tf.mean(top1, 0), tf.mean(probs, 0)), -1)); // [L]
    }
    return tf.mean(perLayer) as tf.Scalar;
  });
}

/**
 * One-hot route matrix `[N, E]` (float32) from integer modality / expert ids
 * (each in `[0, E)`): the second input of the M4oE models.
 */
export function modalityOneHot(ids: readonly number[], numModalities: number): tf.Tensor2D {
  const v = new Float32Array(ids.length * numModalities);
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= numModalities) {
      throw new Error(`moe: modality id ${id} (sample ${i}) is out of range [0, ${numModalities})`);
    }
    v[i * numModalities + id] = 1;
  });
  return tf.tensor2d(v, [ids.length, numModalities]);
}
