/**
 * `Sum` over every axis but the last (per-channel sums: bias and BatchNorm /
 * LayerNorm-affine gradients) on medfl's native kernels.
 *
 * tfjs-wasm reduces only innermost axes: for this case it first transposes
 * the whole tensor to channels-first (a strided full copy), then sums rows,
 * ~25 ms for an [8,128,128,32] gradient here. The native `chan_sum` reads the
 * tensor once, accumulating float32 partials over 256 rows into float64
 * totals. Every other reduction goes to tfjs-wasm's kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { heapF64, heapPtr, nativeKernels, tileWidth } from './native';
import type { KernelArgs, WasmBackendLike } from './wasm-util';

/** tfjs-wasm's `Sum`, replaced for float32 sums over all axes but the last. */
export function makeSumWasm(original: tf.KernelFunc): (args: KernelArgs) => unknown {
  return (args: KernelArgs) => {
    const { x } = args.inputs;
    const rank = x.shape.length;
    const k = x.dtype === 'float32' && rank >= 2 ? nativeKernels(args.backend) : null;
    if (!k) return original(args as unknown as Parameters<tf.KernelFunc>[0]);
    const axes = tf.util.parseAxisParam(args.attrs?.axis as number | number[], x.shape);
    const sorted = [...new Set(axes)].sort((a, b) => a - b);
    if (sorted.length !== rank - 1 || sorted.some((a, i) => a !== i)) return original(args as unknown as Parameters<tf.KernelFunc>[0]);
    const backend = args.backend as WasmBackendLike;
    const C = x.shape[rank - 1];
    const P = tf.util.sizeFromShape(x.shape) / C;
    const outShape = args.attrs?.keepDims === true ? [...Array(rank - 1).fill(1), C] : [C];
    const out = backend.makeOutput(outShape, 'float32');
    const acc = backend.makeOutput([2 * Math.max(1, C)], 'float32');
    const part = backend.makeOutput([Math.max(1, tileWidth(C))], 'float32');
    k.chan_sum(heapPtr(backend, x), P, C, 0, heapPtr(backend, acc), heapPtr(backend, part));
    (backend.typedArrayFromHeap(out) as Float32Array).set(heapF64(backend, acc, C));
    backend.disposeData(acc.dataId);
    backend.disposeData(part.dataId);
    return out;
  };
}

/**
 * tfjs-wasm's `Mean`, replaced for float32 means over every axis but the last
 * (per-channel) or every axis but the first and the last (global average
 * pooling of NHWC maps: CGNet's context vectors, DeepLab's image pooling):
 * per image one native `chan_sum` (float64 totals) divided by the count,
 * instead of tfjs-wasm's transpose + reduce. Equal to tfjs' float32 mean up to
 * its summation rounding. Other means go to tfjs-wasm's kernel.
 */
export function makeMeanWasm(original: tf.KernelFunc): (args: KernelArgs) => unknown {
  return (args: KernelArgs) => {
    const { x } = args.inputs;
    const rank = x.shape.length;
    const k = x.dtype === 'float32' && rank >= 2 ? nativeKernels(args.backend) : null;
    if (!k) return original(args as unknown as Parameters<tf.KernelFunc>[0]);
    const axes = [...new Set(tf.util.parseAxisParam(args.attrs?.axis as number | number[], x.shape))].sort((a, b) => a - b);
    const allButLast = axes.length === rank - 1 && axes.every((a, i) => a === i);
    const spatial = rank >= 3 && axes.length === rank - 2 && axes.every((a, i) => a === i + 1);
    if (!allButLast && !spatial) return original(args as unknown as Parameters<tf.KernelFunc>[0]);
    const backend = args.backend as WasmBackendLike;
    const C = x.shape[rank - 1];
    const N = spatial ? x.shape[0] : 1;
    const P = tf.util.sizeFromShape(x.shape) / Math.max(1, C * N);
    const keep = args.attrs?.keepDims === true;
    const outShape = spatial ? (keep ? [N, ...Array(rank - 2).fill(1), C] : [N, C]) : keep ? [...Array(rank - 1).fill(1), C] : [C];
    const out = backend.makeOutput(outShape, 'float32');
    if (N * C === 0) return out;
    if (P === 0) return original(args as unknown as Parameters<tf.KernelFunc>[0]);
    const acc = backend.makeOutput([2 * Math.max(1, C)], 'float32');
    const part = backend.makeOutput([Math.max(1, tileWidth(C))], 'float32');
    const base = heapPtr(backend, x);
    const results = new Float32Array(N * C);
    for (let n = 0; n < N; n++) {
      k.chan_sum(base + 4 * n * P * C, P, C, 0, heapPtr(backend, acc), heapPtr(backend, part));
      const sums = heapF64(backend, acc, C);
      for (let c = 0; c < C; c++) results[n * C + c] = sums[c] / P;
    }
    (backend.typedArrayFromHeap(out) as Float32Array).set(results);
    backend.disposeData(acc.dataId);
    backend.disposeData(part.dataId);
    return out;
  };
}
