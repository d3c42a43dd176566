/**
 * A fused training-mode BatchNorm (Ioffe & Szegedy 2015, arXiv:1502.03167)
 * for tfjs-layers' `BatchNormalization` layer.
 *
 * In training, tfjs-layers normalises with `tf.moments` + `tf.batchNorm` and
 * lets autodiff differentiate the whole chain: the backward pass then runs
 * ~20 full-size kernels per BN layer (the `FusedBatchNorm` gradient tiles
 * `1/sqrt(var)` to the input's size with a slow `Tile`, the two `Mean`
 * gradients multiply by a tensor of ones, ...). On the wasm backend that made
 * BN backward as expensive as the convolutions around it.
 *
 * {@link batchNormTraining} computes the same forward values and the closed-form
 * gradient of the batch statistics in one custom-gradient op (channels-last):
 *
 * ```
 * xc = x - mean, r = 1/sqrt(var + eps), N = elements per channel
 * dbeta = sum(dy), dgamma = sum(dy * xc) * r
 * dx = dy * (gamma r) - xc * (gamma r^3 sum(dy * xc) / N) - gamma r sum(dy) / N
 * ```
 *
 * {@link registerFusedBatchNormTraining} patches the layer's `call` so that,
 * in training with channels-last normalisation, it uses this op; the
 * moving-average update is tfjs-layers' own formula
 * (`moving -= (moving - batchStat) * (1 - momentum)`, biased variance; one
 * kernel for both statistics on wasm, bit-identical).
 * Inference and every other configuration keep the original code. The values
 * are the same up to float rounding; only the number of kernels differs.
 *
 * On the wasm backend with medfl's native kernels, forward and backward are
 * one kernel each (./native-batchnorm: three and two passes over x).
 */
import * as tf from '@tensorflow/tfjs';
import { BN_MOVING_STATS_KERNEL, BN_TRAIN_GRAD_KERNEL, BN_TRAIN_KERNEL, nativeBatchNormAvailable } from './native-batchnorm';

/** Result of {@link batchNormTraining}. */
export interface BatchNormTrainingResult {
  /** Normalised, scaled and shifted input (same shape as x). */
  y: tf.Tensor;
  /** Per-channel batch mean `[C]` (not differentiable). */
  mean: tf.Tensor1D;
  /** Per-channel biased batch variance `[C]` (not differentiable). */
  variance: tf.Tensor1D;
}

/**
 * Training-mode batch normalisation over every axis but the last:
 * `y = gamma (x - mean) / sqrt(var + eps) + beta` with the batch statistics,
 * differentiable in x, gamma and beta (gradient through the statistics
 * included). `gamma` / `beta` `[C]` may be null (scale 1 / shift 0).
 * `mean` / `variance` are returned for moving averages and must be disposed
 * by the caller (they are outside any tidy scope the op runs in).
 */
export function batchNormTraining(x: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null, epsilon: number): BatchNormTrainingResult {
  if (x.rank < 2) throw new Error(`batchNormTraining: x must have rank >= 2 (channels last), got shape [${x.shape.join(', ')}]`);
  const C = x.shape[x.rank - 1];
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const count = x.size / C;
  let mean: tf.Tensor1D | null = null;
  let variance: tf.Tensor1D | null = null;
  const inputs: tf.Tensor[] = [x];
  if (gamma) inputs.push(gamma);
  if (beta) inputs.push(beta);
  const native = x.dtype === 'float32' && nativeBatchNormAvailable();
  const op = tf.customGrad((...args: unknown[]) => {
    const save = args[args.length - 1] as (ts: tf.Tensor[]) => void;
    const xs = args[0] as tf.Tensor;
    const g = gamma ? (args[1] as tf.Tensor) : null;
    const b = beta ? (args[gamma ? 2 : 1] as tf.Tensor) : null;
    if (native) {
      const kIn: Record<string, tf.Tensor> = { x: xs };
      if (g) kIn.gamma = g;
      if (b) kIn.beta = b;
      const [y, m, v] = tf.engine().runKernel(BN_TRAIN_KERNEL, kIn, { epsilon } as unknown as tf.NamedAttrMap) as tf.Tensor[];
      mean = tf.keep(m as tf.Tensor1D);
      variance = tf.keep(v as tf.Tensor1D);
      // Clones share the data: the caller may dispose mean / variance before the backward pass.
      save(g ? [xs, tf.clone(m), tf.clone(v), g] : [xs, tf.clone(m), tf.clone(v)]);
      const gradFunc = (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]): tf.Tensor[] => {
        const gIn: Record<string, tf.Tensor> = { dy: dy as tf.Tensor, x: saved[0], mean: saved[1], variance: saved[2] };
        if (g) gIn.gamma = saved[3];
        const [dx, dgamma, dbeta] = tf.engine().runKernel(BN_TRAIN_GRAD_KERNEL, gIn, { epsilon } as unknown as tf.NamedAttrMap) as tf.Tensor[];
        const grads: tf.Tensor[] = [dx];
        if (gamma) grads.push(dgamma);
        else dgamma.dispose();
        if (beta) grads.push(dbeta);
        else dbeta.dispose();
        return grads;
      };
      return { value: y, gradFunc };
    }
    const m = tf.mean(xs, axes) as tf.Tensor1D;
    const xc = tf.sub(xs, m);
    const v = tf.mean(tf.square(xc), axes) as tf.Tensor1D;
    const r = tf.rsqrt(tf.add(v, epsilon));
    const a = g ? tf.mul(g, r) : r;
    const y = tf.batchNorm(xs, m, v, b ?? undefined, g ?? undefined, epsilon);
    mean = tf.keep(m);
    variance = tf.keep(v);
    save([xc, r, a]);
    const gradFunc = (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]): tf.Tensor[] => {
      const d = dy as tf.Tensor;
      const [xcS, rS, aS] = saved;
      const sumDy = tf.sum(d, axes);
      const sumDyXc = tf.sum(tf.mul(d, xcS), axes);
      // dx = dy*a - xc * (a r^2 sum(dy xc) / N) - a sum(dy) / N
      const coefXc = tf.div(tf.mul(tf.mul(aS, tf.square(rS)), sumDyXc), -count);
      const shift = tf.div(tf.mul(aS, sumDy), -count);
      const dx = tf.add(tf.add(tf.mul(d, aS), tf.mul(xcS, coefXc)), shift);
      const grads: tf.Tensor[] = [dx];
      if (gamma) grads.push(tf.mul(sumDyXc, rS));
      if (beta) grads.push(sumDy);
      return grads;
    };
    return { value: y, gradFunc };
  });
  const y = (op as (...ts: tf.Tensor[]) => tf.Tensor)(...inputs);
  return { y, mean: mean as unknown as tf.Tensor1D, variance: variance as unknown as tf.Tensor1D };
}

/** The fields of tfjs-layers' BatchNormalization instance the patch reads. */
type LayerVariableLike = { read(): tf.Tensor; write(v: tf.Tensor): void };

interface BatchNormLayerLike {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma?: { read(): tf.Tensor } | null;
  beta?: { read(): tf.Tensor } | null;
  movingMean: LayerVariableLike;
  movingVariance: LayerVariableLike;
}

/**
 * tfjs-layers' moving averages `s -= (s - batchStat) * decay` for the mean and
 * variance: one kernel on wasm (same bits, see ./native-batchnorm), the three
 * tensor ops per statistic elsewhere.
 */
function updateMovingStats(movingMean: LayerVariableLike, movingVariance: LayerVariableLike, mean: tf.Tensor, variance: tf.Tensor, decay: number): void {
  tf.tidy(() => {
    if (tf.getBackend() === 'wasm' && tf.getKernel(BN_MOVING_STATS_KERNEL, 'wasm')) {
      const [m, v] = tf.engine().runKernel(
        BN_MOVING_STATS_KERNEL,
        { movingMean: movingMean.read(), movingVariance: movingVariance.read(), mean, variance },
        { decay } as unknown as tf.NamedAttrMap,
      ) as tf.Tensor[];
      movingMean.write(m);
      movingVariance.write(v);
      return;
    }
    for (const [s, stat] of [[movingMean, mean], [movingVariance, variance]] as const) {
      const orig = s.read();
      s.write(tf.sub(orig, tf.mul(tf.sub(orig, stat), decay)));
    }
  });
}

type CallFn = (this: BatchNormLayerLike, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

let patched = false;

/**
 * Make every tfjs-layers `BatchNormalization` layer use {@link batchNormTraining}
 * in training mode when it normalises the last axis of a float32 input.
 * Idempotent; affects all backends (the numbers are unchanged). Returns
 * false when the layer class could not be found (then nothing is patched).
 */
export function registerFusedBatchNormTraining(): boolean {
  if (patched) return true;
  const map = tf.serialization.SerializationMap.getMap().classNameMap as Record<string, [unknown, unknown] | undefined>;
  const cls = map.BatchNormalization?.[0] as { prototype: { call: CallFn } } | undefined;
  if (!cls || typeof cls.prototype.call !== 'function') return false;
  const original = cls.prototype.call;
  cls.prototype.call = function patchedCall(this: BatchNormLayerLike, inputs, kwargs) {
    const training = kwargs != null && kwargs.training === true;
    const input = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : null) : inputs;
    if (!training || input == null || input.dtype !== 'float32' || input.rank < 2) return original.call(this, inputs, kwargs);
    const axis = this.axis >= 0 ? this.axis : this.axis + input.rank;
    if (axis !== input.rank - 1) return original.call(this, inputs, kwargs);
    return tf.tidy(() => {
      const gamma = this.scale && this.gamma ? this.gamma.read() : null;
      const beta = this.center && this.beta ? this.beta.read() : null;
      const { y, mean, variance } = batchNormTraining(input, gamma, beta, this.epsilon);
      const decay = 1 - this.momentum;
      updateMovingStats(this.movingMean, this.movingVariance, mean, variance, decay);
      tf.dispose([mean, variance]);
      return y;
    });
  };
  patched = true;
  return true;
}
