/**
 * `Add` of a per-channel vector (a bias: `x[..., C] + b[C]`) on medfl's native
 * kernels.
 *
 * Inside a gradient tape tfjs-core runs a conv layer's bias as a broadcasting
 * `Add`, which tfjs-wasm computes with a generic broadcast loop: ~8 ns per
 * element, 2 ms for DUCK-Net's [8,128,128,2] activations (50 of them per
 * step). The native `chan_affine` adds the tiled bias 4-wide (any C), one
 * pass. Same single float32 addition per element, so the values are
 * identical. Every other `Add` goes to tfjs-wasm's kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { heapPtr, nativeKernels, tileInto, tileWidth } from './native';
import type { KernelArgs, WasmBackendLike } from './wasm-util';

/** True when `b` is a per-channel vector for `a`: size C = a's last dim, shape [C] or [1, ..., 1, C] of rank <= a's. */
function isChannelVector(a: tf.TensorInfo, b: tf.TensorInfo): boolean {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 1 || rb > ra) return false;
  const C = a.shape[ra - 1];
  return b.shape[rb - 1] === C && b.shape.slice(0, -1).every((d) => d === 1);
}

/** True when both are float32 of one shape. */
function sameShapeF32(a: tf.TensorInfo, b: tf.TensorInfo): boolean {
  return a.dtype === 'float32' && b.dtype === 'float32' && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}

/**
 * `a + b` (op 0) or `a * b` (op 1) of same-shape float32 tensors on the
 * native addon's threaded pass (one IEEE operation per element: the values
 * of tfjs-wasm's kernels), or null where the addon is not loaded.
 */
function sameShapeBinary(args: KernelArgs, op: 0 | 1): tf.TensorInfo | null {
  const { a, b } = args.inputs;
  if (!sameShapeF32(a, b)) return null;
  const k = nativeKernels(args.backend);
  if (!k?.ew_binary) return null;
  const backend = args.backend as WasmBackendLike;
  const out = backend.makeOutput([...a.shape], 'float32');
  const n = tf.util.sizeFromShape(a.shape);
  if (n > 0) k.ew_binary(heapPtr(backend, a), heapPtr(backend, b), heapPtr(backend, out), n, op);
  return out;
}

/** tfjs-wasm's `Multiply`, replaced for same-shape float32 tensors by the addon's threaded pass. */
export function makeMultiplyWasm(original: tf.KernelFunc): (args: KernelArgs) => unknown {
  return (args: KernelArgs) => sameShapeBinary(args, 1) ?? original(args as unknown as Parameters<tf.KernelFunc>[0]);
}

/**
 * tfjs-wasm's `Add`, replaced for float32 `x[..., C] + b[C]` (either order),
 * and for same-shape float32 tensors (residual and skip connections) by the
 * addon's threaded pass.
 */
export function makeAddWasm(original: tf.KernelFunc): (args: KernelArgs) => unknown {
  return (args: KernelArgs) => {
    const same = sameShapeBinary(args, 0);
    if (same) return same;
    const { a, b } = args.inputs;
    let x: tf.TensorInfo | null = null;
    let bias: tf.TensorInfo | null = null;
    if (a.dtype === 'float32' && b.dtype === 'float32') {
      if (isChannelVector(a, b)) [x, bias] = [a, b];
      else if (isChannelVector(b, a)) [x, bias] = [b, a];
    }
    const k = x ? nativeKernels(args.backend) : null;
    if (!k || !x || !bias) return original(args as unknown as Parameters<tf.KernelFunc>[0]);
    const backend = args.backend as WasmBackendLike;
    const C = x.shape[x.shape.length - 1];
    const P = tf.util.sizeFromShape(x.shape) / Math.max(1, C);
    const out = backend.makeOutput([...x.shape], 'float32');
    if (P * C === 0) return out;
    const tiled = backend.makeOutput([tileWidth(C)], 'float32');
    tileInto(backend.typedArrayFromHeap(tiled) as Float32Array, backend.typedArrayFromHeap(bias) as Float32Array, C);
    k.chan_affine(heapPtr(backend, x), 0, 0, 0, heapPtr(backend, tiled), P, C, heapPtr(backend, out));
    backend.disposeData(tiled.dataId);
    return out;
  };
}

/**
 * tfjs-wasm's inference `FusedBatchNorm`, replaced for float32 `x[..., C]`
 * with per-channel statistics (shape [C] or [1, ..., 1, C]): two native
 * per-channel passes, `t = x + (-mean)` (exactly `x - mean`) and
 * `y = t * (scale / sqrt(variance + eps)) + offset`, instead of tfjs-wasm's
 * generic broadcast loop (23% of CGNet's inference time). Equal to tfjs'
 * `(x - mean) * scale / sqrt(variance + eps) + offset` up to float32 rounding
 * of the folded factor. Other shapes and dtypes go to tfjs-wasm's kernel.
 */
export function makeFusedBatchNormWasm(original: tf.KernelFunc): (args: KernelArgs) => unknown {
  return (args: KernelArgs) => {
    const { x, mean, variance, offset, scale } = args.inputs;
    const vecs = [mean, variance, offset, scale].filter((t): t is tf.TensorInfo => t != null);
    const ok = x.dtype === 'float32' && x.shape.length >= 1 && mean && variance && vecs.every((t) => t.dtype === 'float32' && isChannelVector(x, t));
    const k = ok ? nativeKernels(args.backend) : null;
    if (!k || !ok) return original(args as unknown as Parameters<tf.KernelFunc>[0]);
    const backend = args.backend as WasmBackendLike;
    const C = x.shape[x.shape.length - 1];
    const P = tf.util.sizeFromShape(x.shape) / Math.max(1, C);
    const out = backend.makeOutput([...x.shape], 'float32');
    if (P * C === 0) return out;
    const eps = (args.attrs?.varianceEpsilon as number | undefined) ?? 1e-3;
    const W = tileWidth(C);
    const negMean = new Float32Array(C);
    const factor = new Float32Array(C);
    const shift = new Float32Array(C);
    const m = backend.typedArrayFromHeap(mean) as Float32Array;
    const v = backend.typedArrayFromHeap(variance) as Float32Array;
    const s = scale ? (backend.typedArrayFromHeap(scale) as Float32Array) : null;
    const o = offset ? (backend.typedArrayFromHeap(offset) as Float32Array) : null;
    for (let c = 0; c < C; c++) {
      negMean[c] = -m[c];
      factor[c] = (s ? s[c] : 1) / Math.sqrt(Math.fround(v[c] + eps));
      shift[c] = o ? o[c] : 0;
    }
    const t1 = backend.makeOutput([W], 'float32');
    const t2 = backend.makeOutput([W], 'float32');
    const t3 = backend.makeOutput([W], 'float32');
    tileInto(backend.typedArrayFromHeap(t1) as Float32Array, negMean, C);
    tileInto(backend.typedArrayFromHeap(t2) as Float32Array, factor, C);
    tileInto(backend.typedArrayFromHeap(t3) as Float32Array, shift, C);
    if (k.chan_norm) {
      // the native addon: both passes in one, same float32 operations
      k.chan_norm(heapPtr(backend, x), heapPtr(backend, t1), heapPtr(backend, t2), heapPtr(backend, t3), P, C, heapPtr(backend, out));
    } else {
      const centred = backend.makeOutput([...x.shape], 'float32');
      k.chan_affine(heapPtr(backend, x), 0, 0, 0, heapPtr(backend, t1), P, C, heapPtr(backend, centred));
      k.chan_affine(heapPtr(backend, centred), heapPtr(backend, t2), 0, 0, heapPtr(backend, t3), P, C, heapPtr(backend, out));
      backend.disposeData(centred.dataId);
    }
    for (const t of [t1, t2, t3]) backend.disposeData(t.dataId);
    return out;
  };
}
