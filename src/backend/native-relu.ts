/**
 * ReLU gradient in one pass on medfl's native wasm kernels.
 *
 * tfjs-core differentiates `Relu` as `dy * cast(step(x), 'float32')`: three
 * full-size kernels (and two full-size temporaries) after every ReLU of a
 * network. `MedflReluGrad` (registered for 'wasm') computes the same values
 * in one pass, bit for bit: `dy` where `x > 0`, `dy * 0` elsewhere (a signed
 * zero, as the product gives), NaN where `x` is NaN.
 * {@link registerNativeReluGradient} routes the `Relu` gradient through it on
 * the wasm backend and keeps tfjs' gradient everywhere else.
 */
import * as tf from '@tensorflow/tfjs';
import { heapPtr, nativeKernels, requireNativeKernels } from './native';
import type { KernelArgs, WasmBackendLike } from './wasm-util';

/** Kernel name registered for 'wasm'. */
export const RELU_GRAD_KERNEL = 'MedflReluGrad';

/** Inputs `dy`, `x` (same shape, float32). Output `dx`. */
function reluGradWasm(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const k = requireNativeKernels(backend, RELU_GRAD_KERNEL);
  const { dy, x } = args.inputs;
  const dx = backend.makeOutput([...x.shape], 'float32');
  k.relu_grad(heapPtr(backend, dy), heapPtr(backend, x), heapPtr(backend, dx), tf.util.sizeFromShape(x.shape));
  return dx;
}

let registered = false;

/** Register `MedflReluGrad` for 'wasm' and route the `Relu` gradient through it there (idempotent). */
export function registerNativeReluGradient(): void {
  if (registered) return;
  const original = tf.getGradient('Relu');
  if (!original) return;
  if (!tf.getKernel(RELU_GRAD_KERNEL, 'wasm')) {
    tf.registerKernel({ kernelName: RELU_GRAD_KERNEL, backendName: 'wasm', kernelFunc: reluGradWasm as unknown as tf.KernelFunc });
  }
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: original.inputsToSave ?? ['x'],
    outputsToSave: original.outputsToSave,
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const d = dy as tf.Tensor;
      const same = d.dtype === 'float32' && x.dtype === 'float32' && tf.util.arraysEqual(d.shape, x.shape);
      if (!same || tf.getBackend() !== 'wasm' || !nativeKernels(tf.backend())) return original.gradFunc(dy, saved, attrs);
      return { x: () => tf.engine().runKernel(RELU_GRAD_KERNEL, { dy: d, x }) as tf.Tensor };
    },
  });
  registered = true;
}
