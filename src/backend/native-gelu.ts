/**
 * Exact GELU (`x Phi(x)`, PyTorch's `nn.GELU()` default) as one native wasm
 * kernel forward and one backward.
 *
 * Composed from tensor ops, GELU is `mul`, `mul`, `erf`, `add`, `mul`
 * forward and, through autodiff, ~8 kernels backward including `Exp` and
 * `Erf`, which tfjs-wasm evaluates with scalar libm calls (3-5 ms per call on
 * a Swin-UNet MLP activation of 1.5 M values). `MedflGelu` / `MedflGeluGrad`
 * (registered for 'wasm') do one 4-wide pass each, with tfjs' own erf
 * approximation (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7) and the
 * analytic derivative `Phi(x) + x phi(x)`. {@link geluNative} is the
 * differentiable op; {@link nativeGeluAvailable} says when it can run.
 */
import * as tf from '@tensorflow/tfjs';
import { heapPtr, nativeKernels, requireNativeKernels } from './native';
import type { KernelArgs, WasmBackendLike } from './wasm-util';

export const GELU_KERNEL = 'MedflGelu';
export const GELU_GRAD_KERNEL = 'MedflGeluGrad';

function geluWasm(args: KernelArgs): tf.TensorInfo {
  const k = requireNativeKernels(args.backend, GELU_KERNEL);
  const backend = args.backend as WasmBackendLike;
  const { x } = args.inputs;
  const y = backend.makeOutput([...x.shape], 'float32');
  k.gelu_fwd(heapPtr(backend, x), heapPtr(backend, y), tf.util.sizeFromShape(x.shape));
  return y;
}

function geluGradWasm(args: KernelArgs): tf.TensorInfo {
  const k = requireNativeKernels(args.backend, GELU_GRAD_KERNEL);
  const backend = args.backend as WasmBackendLike;
  const { dy, x } = args.inputs;
  const dx = backend.makeOutput([...x.shape], 'float32');
  k.gelu_bwd(heapPtr(backend, dy), heapPtr(backend, x), heapPtr(backend, dx), tf.util.sizeFromShape(x.shape));
  return dx;
}

/** Register `MedflGelu` / `MedflGeluGrad` for 'wasm' (idempotent). */
export function registerNativeGeluKernels(): void {
  if (!tf.getKernel(GELU_KERNEL, 'wasm')) tf.registerKernel({ kernelName: GELU_KERNEL, backendName: 'wasm', kernelFunc: geluWasm as unknown as tf.KernelFunc });
  if (!tf.getKernel(GELU_GRAD_KERNEL, 'wasm')) {
    tf.registerKernel({ kernelName: GELU_GRAD_KERNEL, backendName: 'wasm', kernelFunc: geluGradWasm as unknown as tf.KernelFunc });
  }
}

/** True when {@link geluNative} can run (wasm backend with medfl's native kernels). */
export function nativeGeluAvailable(): boolean {
  return tf.getBackend() === 'wasm' && tf.getKernel(GELU_KERNEL, 'wasm') !== undefined && nativeKernels(tf.backend()) !== null;
}

/** Exact GELU of float32 `x` (any shape) on the native kernels, differentiable. */
export const geluNative = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([x]);
  return {
    value: tf.engine().runKernel(GELU_KERNEL, { x }) as tf.Tensor,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.engine().runKernel(GELU_GRAD_KERNEL, { dy, x: saved[0] }) as tf.Tensor,
  };
}) as (x: tf.Tensor) => tf.Tensor;
