/**
 * SegNet's 2x2 max-unpooling (src/models/blocks/unpool.ts) as one native
 * addon pass forward and one backward, threaded.
 *
 * Composed from tensor ops, one unpooling is a max-pool, two nearest
 * upsamplings, an `Equal`, four slices, six products and three concats
 * forward and again the mask plus two reductions backward, all
 * single-threaded tfjs-wasm kernels: ~14% of a SegNet training step at paper
 * width on 2 threads. `MedflUnpool2x2` / `MedflUnpool2x2Grad` (registered
 * for 'wasm', run where the addon is loaded) compute the same float32 values
 * as the composed ops: the mask keeps the first (row-major) position equal to
 * the window maximum, the output is `v * mask`, the value gradient
 * `(dy00 m00 + dy10 m10) + (dy01 m01 + dy11 m11)`. Departure: a window whose
 * maximum is NaN gets an all-zero mask here, while the composed path follows
 * tfjs-wasm's max-pool NaN rule.
 */
import * as tf from '@tensorflow/tfjs';
import { heapPtr, nativeKernels } from './native';
import type { KernelArgs, WasmBackendLike } from './wasm-util';

export const UNPOOL_KERNEL = 'MedflUnpool2x2';
export const UNPOOL_GRAD_KERNEL = 'MedflUnpool2x2Grad';

function run(args: KernelArgs, bwd: 0 | 1): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const k = nativeKernels(backend);
  if (!k?.unpool2x2) throw new Error(`${bwd ? UNPOOL_GRAD_KERNEL : UNPOOL_KERNEL}: needs the native addon (check nativeUnpoolAvailable())`);
  const { x, v } = args.inputs;
  const [N, H, W, C] = x.shape;
  const out = backend.makeOutput(bwd ? [N, H / 2, W / 2, C] : [N, H, W, C], 'float32');
  if (N * H * W * C > 0) k.unpool2x2(heapPtr(backend, x), heapPtr(backend, v), heapPtr(backend, out), N, H, W, C, bwd);
  return out;
}

/** Register `MedflUnpool2x2` / `MedflUnpool2x2Grad` for 'wasm' (idempotent). */
export function registerNativeUnpoolKernels(): void {
  if (!tf.getKernel(UNPOOL_KERNEL, 'wasm')) tf.registerKernel({ kernelName: UNPOOL_KERNEL, backendName: 'wasm', kernelFunc: ((a: KernelArgs) => run(a, 0)) as unknown as tf.KernelFunc });
  if (!tf.getKernel(UNPOOL_GRAD_KERNEL, 'wasm')) tf.registerKernel({ kernelName: UNPOOL_GRAD_KERNEL, backendName: 'wasm', kernelFunc: ((a: KernelArgs) => run(a, 1)) as unknown as tf.KernelFunc });
}

/** True when the native unpooling can run: wasm backend with the native addon loaded and switched on. */
export function nativeUnpoolAvailable(): boolean {
  return tf.getBackend() === 'wasm' && tf.getKernel(UNPOOL_KERNEL, 'wasm') !== undefined && nativeKernels(tf.backend())?.unpool2x2 !== undefined;
}

/** `[N, H, W, C]` unpooled output of `v` `[N, H/2, W/2, C]` at the window maxima of `x` `[N, H, W, C]` (float32). */
export function unpoolNative(x: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D {
  return tf.engine().runKernel(UNPOOL_KERNEL, { x, v }) as tf.Tensor4D;
}

/** `[N, H/2, W/2, C]` gradient of the unpooled values from `dy` `[N, H, W, C]` (float32). */
export function unpoolGradNative(x: tf.Tensor4D, dy: tf.Tensor4D): tf.Tensor4D {
  return tf.engine().runKernel(UNPOOL_GRAD_KERNEL, { x, v: dy }) as tf.Tensor4D;
}
