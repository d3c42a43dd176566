/**
 * LayerNorm over the last axis (PyTorch's `nn.LayerNorm`: biased variance,
 * eps inside the square root) as one native wasm kernel forward and one
 * backward, for the Swin layers.
 *
 * Composed from tensor ops, a LayerNorm is ~8 kernels forward (two `Mean`s,
 * `Sub`, `Square`, `Add`, `Rsqrt`, `Mul`s) and ~10 backward; Swin-UNet has
 * ~40 per step. `MedflLayerNorm` returns `[y, xhat, rstd]` (rows of x
 * normalised in two float32 passes); `MedflLayerNormGrad` takes `dy`, `xhat`,
 * `rstd`, `gamma` and returns `[dx, dgamma, dbeta]` with
 * `dx = rstd (g - mean(g) - xhat mean(g xhat))`, `g = dy gamma`, and the
 * column sums `dgamma = sum dy xhat`, `dbeta = sum dy` accumulated in float64
 * (the BatchNorm sums kernel). {@link layerNormNative} is the differentiable
 * op; {@link nativeLayerNormAvailable} says when it can run.
 */
import * as tf from '@tensorflow/tfjs';
import { heapF64, heapPtr, nativeKernels, requireNativeKernels, tileWidth } from './native';
import type { KernelArgs, WasmBackendLike } from './wasm-util';

export const LAYER_NORM_KERNEL = 'MedflLayerNorm';
export const LAYER_NORM_GRAD_KERNEL = 'MedflLayerNormGrad';

function layerNormWasm(args: KernelArgs): tf.TensorInfo[] {
  const k = requireNativeKernels(args.backend, LAYER_NORM_KERNEL);
  const backend = args.backend as WasmBackendLike;
  const { x, gamma, beta } = args.inputs;
  const C = x.shape[x.shape.length - 1];
  const R = tf.util.sizeFromShape(x.shape) / C;
  const y = backend.makeOutput([...x.shape], 'float32');
  const xhat = backend.makeOutput([...x.shape], 'float32');
  const rstd = backend.makeOutput([R], 'float32');
  k.layer_norm_fwd(heapPtr(backend, x), R, C, heapPtr(backend, gamma), heapPtr(backend, beta), Number(args.attrs?.epsilon),
    heapPtr(backend, y), heapPtr(backend, xhat), heapPtr(backend, rstd));
  return [y, xhat, rstd];
}

function layerNormGradWasm(args: KernelArgs): tf.TensorInfo[] {
  const k = requireNativeKernels(args.backend, LAYER_NORM_GRAD_KERNEL);
  const backend = args.backend as WasmBackendLike;
  const { dy, xhat, rstd, gamma } = args.inputs;
  const C = xhat.shape[xhat.shape.length - 1];
  const R = tf.util.sizeFromShape(xhat.shape) / C;
  const dx = backend.makeOutput([...xhat.shape], 'float32');
  const dgamma = backend.makeOutput([C], 'float32');
  const dbeta = backend.makeOutput([C], 'float32');
  k.layer_norm_bwd(heapPtr(backend, dy), heapPtr(backend, xhat), heapPtr(backend, rstd), heapPtr(backend, gamma), R, C, heapPtr(backend, dx));
  // Column sums: sum dy (dbeta) and sum dy (xhat - 0) (dgamma), float64 accumulators.
  const W = tileWidth(C);
  const acc = backend.makeOutput([4 * C], 'float32');
  const part = backend.makeOutput([2 * W], 'float32');
  const zeros = backend.makeOutput([W], 'float32');
  (backend.typedArrayFromHeap(zeros) as Float32Array).fill(0);
  const accP = heapPtr(backend, acc);
  k.bn_grad_sums(heapPtr(backend, dy), heapPtr(backend, xhat), heapPtr(backend, zeros), R, C, accP, accP + 8 * C, heapPtr(backend, part));
  const sums = heapF64(backend, acc, 2 * C);
  (backend.typedArrayFromHeap(dbeta) as Float32Array).set(sums.subarray(0, C));
  (backend.typedArrayFromHeap(dgamma) as Float32Array).set(sums.subarray(C, 2 * C));
  for (const t of [acc, part, zeros]) backend.disposeData(t.dataId);
  return [dx, dgamma, dbeta];
}

/** Register `MedflLayerNorm` / `MedflLayerNormGrad` for 'wasm' (idempotent). */
export function registerNativeLayerNormKernels(): void {
  if (!tf.getKernel(LAYER_NORM_KERNEL, 'wasm')) {
    tf.registerKernel({ kernelName: LAYER_NORM_KERNEL, backendName: 'wasm', kernelFunc: layerNormWasm as unknown as tf.KernelFunc });
  }
  if (!tf.getKernel(LAYER_NORM_GRAD_KERNEL, 'wasm')) {
    tf.registerKernel({ kernelName: LAYER_NORM_GRAD_KERNEL, backendName: 'wasm', kernelFunc: layerNormGradWasm as unknown as tf.KernelFunc });
  }
}

/** True when {@link layerNormNative} can run (wasm backend with medfl's native kernels). */
export function nativeLayerNormAvailable(): boolean {
  return tf.getBackend() === 'wasm' && tf.getKernel(LAYER_NORM_KERNEL, 'wasm') !== undefined && nativeKernels(tf.backend()) !== null;
}

/** LayerNorm of float32 `x [..., C]` with `gamma`, `beta` `[C]` on the native kernels, differentiable in all three. */
export function layerNormNative(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xx, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [y, xhat, rstd] = tf.engine().runKernel(LAYER_NORM_KERNEL, { x: xx, gamma: g, beta: b }, { epsilon } as unknown as tf.NamedAttrMap) as tf.Tensor[];
    save([xhat, rstd, g]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, rs, gm] = saved;
        return tf.engine().runKernel(LAYER_NORM_GRAD_KERNEL, { dy, xhat: xh, rstd: rs, gamma: gm }) as tf.Tensor[];
      },
    };
  });
  return op(x, gamma, beta);
}
