/**
 * Small differentiable building blocks shared by the Swin layers: LayerNorm,
 * a linear map over the last axis, exact GELU, and (de)serialisation of
 * initializers for the custom layers' configs. Tensors are channels-last.
 */
import * as tf from '@tensorflow/tfjs';
import type { Initializer } from '../init';
import { geluNative, nativeGeluAvailable } from '../../../backend/native-gelu';
import { layerNormNative, nativeLayerNormAvailable } from '../../../backend/native-layernorm';
import { nativeKernels } from '../../../backend/native';

/** PyTorch's `nn.LayerNorm` epsilon (tfjs' layerNormalization defaults to 1e-3). */
export const LAYER_NORM_EPSILON = 1e-5;

/**
 * LayerNorm over the last axis: `(x - mean) / sqrt(var + eps) * gamma + beta`
 * (biased variance, as PyTorch). Hand-written gradient (fewer kernels than
 * autodiff): with `xhat` the normalised input and `g = dy * gamma`,
 * `dx = rstd * (g - mean(g) - xhat * mean(g * xhat))`, `dgamma = sum(dy * xhat)`,
 * `dbeta = sum(dy)` over all but the last axis. On the wasm backend with
 * medfl's native kernels: one kernel forward and one backward (same formulas,
 * see backend/native-layernorm).
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon = LAYER_NORM_EPSILON): tf.Tensor {
  // On wasm: one native kernel each way (./backend/native-layernorm), same formulas.
  const C = x.shape[x.rank - 1];
  if (x.dtype === 'float32' && gamma.size === C && beta.size === C && nativeLayerNormAvailable()) {
    return tf.tidy(() => layerNormNative(x, tf.reshape(gamma, [C]), tf.reshape(beta, [C]), epsilon));
  }
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xx, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const axis = xx.rank - 1;
    const mean = tf.mean(xx, axis, true);
    const centred = tf.sub(xx, mean);
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centred), axis, true), epsilon));
    const xhat = tf.mul(centred, rstd);
    save([xhat, rstd, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, rs, gm] = saved;
        const lead = Array.from({ length: axis }, (_, i) => i);
        const gy = tf.mul(dy, gm);
        const inner = tf.sub(tf.sub(gy, tf.mean(gy, axis, true)), tf.mul(xh, tf.mean(tf.mul(gy, xh), axis, true)));
        return [tf.mul(inner, rs), tf.sum(tf.mul(dy, xh), lead), tf.sum(dy, lead)];
      },
    };
  });
  return tf.tidy(() => op(x, gamma, beta));
}

/** Swap the last two axes (explicit transpose: tfjs-wasm's own transposed matMul is ~10x slower). */
export function swapLastAxes(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  perm[t.rank - 2] = t.rank - 1;
  perm[t.rank - 1] = t.rank - 2;
  return tf.transpose(t, perm);
}

/**
 * Whether transposed matrix products can be left to the matMul flags: on the
 * wasm backend with medfl's native kernels (./backend/native-matmul reads
 * either operand transposed in place, as fast as untransposed), and on
 * tfjs-node. tfjs-wasm's own and the CPU backend's transposed paths are an
 * order of magnitude slower: there an explicit transpose goes first.
 */
function transposedMatMulIsFast(): boolean {
  const b = tf.getBackend();
  return b === 'tensorflow' || (b === 'wasm' && nativeKernels(tf.backend()) !== null);
}

/** `a^T b` (`ta`) / `a b^T` (`tb`) of same-batch matrices, by flags or explicit transposes (see {@link transposedMatMulIsFast}). */
function matMulT(a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean): tf.Tensor {
  if (transposedMatMulIsFast()) return tf.matMul(a, b, ta, tb);
  return tf.matMul(ta ? swapLastAxes(a) : a, tb ? swapLastAxes(b) : b);
}

/**
 * `a @ b` (or `a @ b^T` with `transposeB`) for same-rank, same-batch
 * `a [..., m, k]`, `b [..., k, n]` (`[..., n, k]`), whose gradient avoids slow
 * transposed products (see {@link matMulT}). Same values as `tf.matMul`.
 */
export function matMulFast(a: tf.Tensor, b: tf.Tensor, transposeB = false): tf.Tensor {
  return transposeB ? matMulNTOp(a, b) : matMulOp(a, b);
}

const matMulOp = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [matMulT(dy, saved[1], false, true), matMulT(saved[0], dy, true, false)],
  };
}) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** `a @ b^T`: d a = dy b, d b = dy^T a. */
const matMulNTOp = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: matMulT(a, b, false, true),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.matMul(dy, saved[1]), matMulT(dy, saved[0], true, false)],
  };
}) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** `x [m, k] @ w [k, n] + b [n]` with the gradient of {@link matMulFast}. */
const matMulBiasFast = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.fused.matMul({ a: x, b: w, bias: b }),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [matMulT(dy, saved[1], false, true), matMulT(saved[0], dy, true, false), tf.sum(dy, 0)],
  };
}) as (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/**
 * `x @ kernel (+ bias)` over the last axis of any-rank `x`; kernel `[Cin, Cout]`.
 * Gradients via explicit transposes (see {@link matMulFast}).
 */
export function linear(x: tf.Tensor, kernel: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const cin = x.shape[x.rank - 1];
    const cout = kernel.shape[1] as number;
    const flat = tf.reshape(x, [-1, cin]);
    const y = bias ? matMulBiasFast(flat, kernel, bias) : matMulFast(flat, kernel);
    return tf.reshape(y, [...x.shape.slice(0, -1), cout]);
  });
}

/**
 * Exact GELU `x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))` (PyTorch `nn.GELU()`
 * default). Departure: on the wasm and CPU backends erf is tfjs'
 * approximation (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7), not
 * PyTorch's exact erf (tfjs-node uses TensorFlow's).
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  // On wasm: one native kernel each way (./backend/native-gelu), same formula and erf.
  if (x.dtype === 'float32' && nativeGeluAvailable()) return geluNative(x);
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

/** An initializer as `{ className, config }` for a layer config. */
export function serializeInit(init: Initializer): tf.serialization.ConfigDict {
  return { className: init.getClassName(), config: init.getConfig() };
}

/**
 * Rebuild an initializer from {@link serializeInit}'s output (any class
 * registered with `tf.serialization`, e.g. TruncatedNormal, GlorotUniform),
 * an `Initializer` instance (returned as is) or undefined (-> `fallback`).
 */
export function deserializeInit(value: unknown, fallback: () => Initializer): Initializer {
  if (value === undefined || value === null) return fallback();
  if (value instanceof tf.serialization.Serializable) return value as Initializer;
  const dict = value as { className?: unknown; config?: unknown };
  if (typeof dict.className !== 'string') {
    throw new Error(`swin ops: cannot read initializer ${JSON.stringify(value)}; expected { className, config }`);
  }
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[dict.className];
  if (!entry) throw new Error(`swin ops: unknown initializer class '${dict.className}'`);
  const [cls, fromConfig] = entry;
  return fromConfig(cls, (dict.config ?? {}) as tf.serialization.ConfigDict) as Initializer;
}

/** Default initializer of Swin linear weights and the relative bias table (official: trunc_normal std 0.02, unseeded). */
export const defaultTruncNormal = (): Initializer => tf.initializers.truncatedNormal({ stddev: 0.02 });
