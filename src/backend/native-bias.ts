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

/** tfjs-wasm's `Add`, replaced for float32 `x[..., C] + b[C]` (either order). */
export function makeAddWasm(original: tf.KernelFunc): (args: KernelArgs) => unknown {
  return (args: KernelArgs) => {
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
