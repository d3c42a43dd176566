/**
 * PReLU gradient in one pass on medfl's native wasm kernels.
 *
 * tfjs-core differentiates `Prelu` with `greater`, two `where`s, two
 * multiplications, a `zerosLike` and a `sum` (~7 full-size kernels); CGNet
 * has a PReLU after almost every convolution, which made this ~20% of its
 * training step on wasm. `MedflPreluGrad` (registered for 'wasm') computes
 *
 * ```
 * dx = dy where x > 0, alpha dy elsewhere;   dalpha[c] = sum over x <= 0 of dy x
 * ```
 *
 * (tfjs' convention at x = 0) for a per-channel slope (alpha of size C,
 * broadcast over every axis but the last, e.g. tf.layers.prelu with
 * `sharedAxes: [1, 2]`). {@link registerNativePreluGradient} replaces the
 * `Prelu` gradient with one that uses it on the wasm backend and falls back to
 * tfjs' original gradient for every other case (backend, dtype, alpha shape).
 */
import * as tf from '@tensorflow/tfjs';
import { heapF64, heapPtr, nativeKernels, requireNativeKernels } from './native';
import type { KernelArgs, WasmBackendLike } from './wasm-util';

/** Kernel name registered for 'wasm'. */
export const PRELU_GRAD_KERNEL = 'MedflPreluGrad';

/** Inputs `dy`, `x` [..., C], `alpha` (size C). Outputs `[dx, dalpha]` (dalpha shaped like alpha). */
function preluGradWasm(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const k = requireNativeKernels(backend, PRELU_GRAD_KERNEL);
  const { dy, x, alpha } = args.inputs;
  const C = x.shape[x.shape.length - 1];
  const P = tf.util.sizeFromShape(x.shape) / C;
  const dx = backend.makeOutput([...x.shape], 'float32');
  const dalpha = backend.makeOutput([...alpha.shape], 'float32');
  const acc = backend.makeOutput([2 * C], 'float32');
  const part = backend.makeOutput([C], 'float32');
  k.prelu_grad(heapPtr(backend, dy), heapPtr(backend, x), heapPtr(backend, alpha), P, C, heapPtr(backend, dx), heapPtr(backend, acc), heapPtr(backend, part));
  (backend.typedArrayFromHeap(dalpha) as Float32Array).set(heapF64(backend, acc, C));
  backend.disposeData(acc.dataId);
  backend.disposeData(part.dataId);
  return [dx, dalpha];
}

let registered = false;

/** Register `MedflPreluGrad` for 'wasm' and route the `Prelu` gradient through it there (idempotent). */
export function registerNativePreluGradient(): void {
  if (registered) return;
  const original = tf.getGradient('Prelu');
  if (!original) return;
  if (!tf.getKernel(PRELU_GRAD_KERNEL, 'wasm')) {
    tf.registerKernel({ kernelName: PRELU_GRAD_KERNEL, backendName: 'wasm', kernelFunc: preluGradWasm as unknown as tf.KernelFunc });
  }
  tf.registerGradient({
    kernelName: 'Prelu',
    inputsToSave: original.inputsToSave ?? ['x', 'alpha'],
    outputsToSave: original.outputsToSave,
    gradFunc: (dy, saved, attrs) => {
      const [x, alpha] = saved;
      const d = dy as tf.Tensor;
      const C = x.shape[x.rank - 1];
      const perChannel = alpha.size === C && alpha.shape[alpha.rank - 1] === C && alpha.rank <= x.rank;
      if (!perChannel || x.dtype !== 'float32' || tf.getBackend() !== 'wasm' || !nativeKernels(tf.backend())) {
        return original.gradFunc(dy, saved, attrs);
      }
      // Computed here, not inside the thunks: tfjs runs each thunk in its own
      // tidy, which would dispose the output the first thunk does not return.
      const [dx, dalpha] = tf.engine().runKernel(PRELU_GRAD_KERNEL, { dy: d, x, alpha }) as tf.Tensor[];
      return { x: () => dx, alpha: () => dalpha };
    },
  });
  registered = true;
}
