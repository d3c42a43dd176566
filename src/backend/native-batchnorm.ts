/**
 * Training-mode BatchNorm forward and backward as two wasm kernels each
 * (`MedflBatchNormTrain`, `MedflBatchNormTrainGrad`, registered for 'wasm'),
 * on medfl's native SIMD kernels (./native). Used by
 * {@link ./batchnorm-training!batchNormTraining} on the wasm backend.
 *
 * Same formulas as the tensor-op path (Ioffe & Szegedy 2015,
 * arXiv:1502.03167), channels last, x viewed as `[P, C]`:
 *
 * ```
 * forward:  mean = sum x / P, var = sum (x - mean)^2 / P (two passes), r = 1/sqrt(var + eps)
 *           y = x a + (beta - mean a), a = gamma r                      (one pass)
 * backward: Sdy = sum dy, Sdyxc = sum dy (x - mean)                      (one pass)
 *           dx = dy a + x k1 + (k2 - mean k1), k1 = -a r^2 Sdyxc / P, k2 = -a Sdy / P   (one pass)
 *           dgamma = Sdyxc r, dbeta = Sdy
 * ```
 *
 * Sums are accumulated in float32 over blocks of 256 rows and in float64
 * across blocks; the per-channel coefficients are computed in float64 and
 * rounded once. Versus the op-by-op path (~5 full-size kernels forward and
 * ~8 backward, plus a saved centred copy of x), this reads x three times
 * forward and twice backward and saves nothing but x and the statistics.
 */
import * as tf from '@tensorflow/tfjs';
import { heapF64, heapPtr, nativeKernels, requireNativeKernels, tileInto, tileWidth } from './native';
import type { KernelArgs, WasmBackendLike } from './wasm-util';

/** Kernel names registered for 'wasm'. */
export const BN_TRAIN_KERNEL = 'MedflBatchNormTrain';
export const BN_TRAIN_GRAD_KERNEL = 'MedflBatchNormTrainGrad';
/** Moving-average update of both BatchNorm statistics in one kernel (no tape node saves anything). */
export const BN_MOVING_STATS_KERNEL = 'MedflBatchNormMovingStats';

interface Heap {
  f32(info: tf.TensorInfo): Float32Array;
  f64(info: tf.TensorInfo, n: number): Float64Array;
}

function heap(backend: WasmBackendLike): Heap {
  return {
    f32: (info) => backend.typedArrayFromHeap(info) as Float32Array,
    f64: (info, n) => heapF64(backend, info, n),
  };
}

/** Float64 scratch of n values (allocated as 2n float32: tfjs' heap allocations are 8-byte aligned). */
function f64Scratch(backend: WasmBackendLike, n: number): tf.TensorInfo {
  return backend.makeOutput([2 * Math.max(1, n)], 'float32');
}

/**
 * Inputs `x` [..., C], optional `gamma`, `beta` [C]; attrs `epsilon`.
 * Outputs `[y, mean, variance]`.
 */
function bnTrainWasm(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const k = requireNativeKernels(backend, BN_TRAIN_KERNEL);
  const { x, gamma, beta } = args.inputs;
  const eps = Number(args.attrs?.epsilon);
  const C = x.shape[x.shape.length - 1];
  const P = tf.util.sizeFromShape(x.shape) / C;
  const y = backend.makeOutput([...x.shape], 'float32');
  const mean = backend.makeOutput([C], 'float32');
  const variance = backend.makeOutput([C], 'float32');
  const W = tileWidth(C);
  const acc = f64Scratch(backend, C);
  const part = backend.makeOutput([W], 'float32');
  const coef = backend.makeOutput([2 * W], 'float32');
  const h = heap(backend);
  k.chan_sum(heapPtr(backend, x), P, C, 0, heapPtr(backend, acc), heapPtr(backend, part));
  const m = h.f64(acc, C).map((s) => s / P);
  h.f32(mean).set(m);
  const cp = heapPtr(backend, coef);
  tileInto(h.f32(coef).subarray(0, W), h.f32(mean), C); // the mean, tiled, for the variance pass
  k.chan_sum(heapPtr(backend, x), P, C, cp, heapPtr(backend, acc), heapPtr(backend, part));
  const varD = h.f64(acc, C).map((s) => s / P);
  h.f32(variance).set(varD);
  const g = gamma ? h.f32(gamma) : null;
  const b = beta ? h.f32(beta) : null;
  const cv = h.f32(coef);
  const vF = h.f32(variance);
  const mF = h.f32(mean);
  const a = new Float32Array(C);
  const shift = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const ac = (g ? g[c] : 1) / Math.sqrt(vF[c] + eps); // float64, rounded once when stored
    a[c] = ac;
    shift[c] = (b ? b[c] : 0) - mF[c] * ac;
  }
  tileInto(cv.subarray(0, W), a, C);
  tileInto(cv.subarray(W, 2 * W), shift, C);
  k.chan_affine(heapPtr(backend, x), cp, 0, 0, cp + 4 * W, P, C, heapPtr(backend, y));
  for (const t of [acc, part, coef]) backend.disposeData(t.dataId);
  return [y, mean, variance];
}

/**
 * Inputs `dy`, `x` [..., C], `mean`, `variance`, optional `gamma` [C];
 * attrs `epsilon`. Outputs `[dx, dgamma, dbeta]`.
 */
function bnTrainGradWasm(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const k = requireNativeKernels(backend, BN_TRAIN_GRAD_KERNEL);
  const { dy, x, mean, variance, gamma } = args.inputs;
  const eps = Number(args.attrs?.epsilon);
  const C = x.shape[x.shape.length - 1];
  const P = tf.util.sizeFromShape(x.shape) / C;
  const dx = backend.makeOutput([...x.shape], 'float32');
  const dgamma = backend.makeOutput([C], 'float32');
  const dbeta = backend.makeOutput([C], 'float32');
  const W = tileWidth(C);
  const acc = f64Scratch(backend, 2 * C);
  const part = backend.makeOutput([2 * W], 'float32');
  const coef = backend.makeOutput([3 * W], 'float32');
  const accP = heapPtr(backend, acc);
  const cp = heapPtr(backend, coef);
  const h = heap(backend);
  tileInto(h.f32(coef).subarray(0, W), h.f32(mean), C); // the mean, tiled
  k.bn_grad_sums(heapPtr(backend, dy), heapPtr(backend, x), cp, P, C, accP, accP + 8 * C, heapPtr(backend, part));
  const sums = h.f64(acc, 2 * C);
  const g = gamma ? h.f32(gamma) : null;
  const mF = h.f32(mean);
  const vF = h.f32(variance);
  const cv = h.f32(coef);
  const dg = h.f32(dgamma);
  const db = h.f32(dbeta);
  const sa = new Float32Array(C);
  const sb = new Float32Array(C);
  const shift = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const r = 1 / Math.sqrt(vF[c] + eps);
    const a = (g ? g[c] : 1) * r;
    const sDy = sums[c];
    const sDyXc = sums[C + c];
    const k1 = (-a * r * r * sDyXc) / P;
    const k2 = (-a * sDy) / P;
    sa[c] = a;
    sb[c] = k1;
    shift[c] = k2 - mF[c] * k1;
    dg[c] = sDyXc * r;
    db[c] = sDy;
  }
  tileInto(cv.subarray(0, W), sa, C);
  tileInto(cv.subarray(W, 2 * W), sb, C);
  tileInto(cv.subarray(2 * W, 3 * W), shift, C);
  k.chan_affine(heapPtr(backend, dy), cp, heapPtr(backend, x), cp + 4 * W, cp + 8 * W, P, C, heapPtr(backend, dx));
  for (const t of [acc, part, coef]) backend.disposeData(t.dataId);
  return [dx, dgamma, dbeta];
}

/**
 * Inputs `movingMean`, `movingVariance`, `mean`, `variance` [C]; attr `decay`.
 * Outputs `[m', v']` with tfjs-layers' update `s' = s - (s - batch) decay`,
 * float32-rounded after each operation exactly as the three tensor ops would
 * (`sub`, `mul` by the float32 scalar `decay`, `sub`): the same bits, one
 * kernel call instead of six per layer (and no tape node with saved inputs
 * when it runs inside a gradient tape).
 */
function bnMovingStatsWasm(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const { movingMean, movingVariance, mean, variance } = args.inputs;
  const d = Math.fround(Number(args.attrs?.decay));
  const fr = Math.fround;
  const outs = [[movingMean, mean], [movingVariance, variance]].map(([s, b]) => {
    const o = backend.makeOutput([...s.shape], 'float32');
    const sv = backend.typedArrayFromHeap(s) as Float32Array;
    const bv = backend.typedArrayFromHeap(b) as Float32Array;
    const ov = backend.typedArrayFromHeap(o) as Float32Array;
    for (let i = 0; i < ov.length; i++) ov[i] = fr(sv[i] - fr(fr(sv[i] - bv[i]) * d));
    return o;
  });
  return outs;
}

/** Register the kernels for 'wasm' (idempotent). */
export function registerNativeBatchNormKernels(): void {
  if (!tf.getKernel(BN_TRAIN_KERNEL, 'wasm')) {
    tf.registerKernel({ kernelName: BN_TRAIN_KERNEL, backendName: 'wasm', kernelFunc: bnTrainWasm as unknown as tf.KernelFunc });
  }
  if (!tf.getKernel(BN_TRAIN_GRAD_KERNEL, 'wasm')) {
    tf.registerKernel({ kernelName: BN_TRAIN_GRAD_KERNEL, backendName: 'wasm', kernelFunc: bnTrainGradWasm as unknown as tf.KernelFunc });
  }
  if (!tf.getKernel(BN_MOVING_STATS_KERNEL, 'wasm')) {
    tf.registerKernel({ kernelName: BN_MOVING_STATS_KERNEL, backendName: 'wasm', kernelFunc: bnMovingStatsWasm as unknown as tf.KernelFunc });
  }
}

/** True when the native BatchNorm kernels can run on the current backend. */
export function nativeBatchNormAvailable(): boolean {
  return tf.getBackend() === 'wasm' && nativeKernels(tf.backend()) !== null && tf.getKernel(BN_TRAIN_KERNEL, 'wasm') !== undefined;
}
