/**
 * `BatchMatMul` and `_FusedMatMul` for tfjs-wasm on medfl's native kernels.
 *
 * tfjs-wasm uses XNNPACK only for a single, untransposed product; batched or
 * transposed products (attention scores `Q K^T`, `attn V`, and every matmul
 * gradient) fall to a scalar blocked loop, which made matrix products ~45%
 * of a Swin-UNet training step. The native kernel takes A row-major or
 * transposed in place (strided reads), packs B (either layout) into
 * contiguous panels of 8 columns, broadcasts a batch of one, and tiles 4 rows
 * x 8 columns. `_FusedMatMul` adds the bias and a ReLU in place; other fused
 * activations, broadcasts across unequal batch shapes and non-float32 inputs
 * go to tfjs-wasm's kernels.
 */
import * as tf from '@tensorflow/tfjs';
import { heapPtr, nativeKernels, type NativeKernels } from './native';
import type { KernelArgs, WasmBackendLike } from './wasm-util';

interface Plan {
  batch: number;
  batchA: number;
  batchB: number;
  M: number;
  K: number;
  N: number;
  outShape: number[];
}

function plan(a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean): Plan | null {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return null;
  const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const Ka = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (Ka !== Kb) return null; // let tfjs raise its own error
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
  let outer: number[];
  try {
    outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    return null;
  }
  if (tf.util.sizeFromShape(outer) !== Math.max(batchA, batchB)) return null;
  return { batch: Math.max(batchA, batchB), batchA, batchB, M, K: Ka, N, outShape: [...outer, M, N] };
}

function run(backend: WasmBackendLike, k: NativeKernels, a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean, p: Plan): tf.TensorInfo {
  const { M, K, N } = p;
  const out = backend.makeOutput(p.outShape, 'float32');
  if (p.batch * M * N === 0) return out;
  const panels = backend.makeOutput([Math.max(1, K * Math.ceil(N / 8) * 8)], 'float32');
  k.matmul(
    heapPtr(backend, a), p.batchA === 1 ? 0 : M * K, transposeA ? 1 : K, transposeA ? M : 1,
    heapPtr(backend, b), p.batchB === 1 ? 0 : K * N, transposeB ? 1 : 0, heapPtr(backend, panels),
    heapPtr(backend, out), p.batch, M, K, N,
  );
  backend.disposeData(panels.dataId);
  return out;
}

/** tfjs-wasm's `BatchMatMul`, replaced (falls back to `original` where the native kernel does not apply). */
export function makeBatchMatMulWasm(original: tf.KernelFunc): (args: KernelArgs) => unknown {
  return (args: KernelArgs) => {
    const { a, b } = args.inputs;
    const transposeA = args.attrs?.transposeA === true;
    const transposeB = args.attrs?.transposeB === true;
    const k = a.dtype === 'float32' && b.dtype === 'float32' ? nativeKernels(args.backend) : null;
    const p = k ? plan(a, b, transposeA, transposeB) : null;
    if (!k || !p) return original(args as unknown as Parameters<tf.KernelFunc>[0]);
    return run(args.backend as WasmBackendLike, k, a, b, transposeA, transposeB, p);
  };
}

/** tfjs-wasm's `_FusedMatMul`, replaced for linear / ReLU activations with a bias of shape [N] (or none). */
export function makeFusedMatMulWasm(original: tf.KernelFunc): (args: KernelArgs) => unknown {
  return (args: KernelArgs) => {
    const { a, b, bias, preluActivationWeights } = args.inputs;
    const attrs = args.attrs ?? {};
    const act = (attrs.activation as string | undefined) ?? 'linear';
    const transposeA = attrs.transposeA === true;
    const transposeB = attrs.transposeB === true;
    const k = a.dtype === 'float32' && b.dtype === 'float32' && !preluActivationWeights && (act === 'linear' || act === 'relu') ? nativeKernels(args.backend) : null;
    const p = k ? plan(a, b, transposeA, transposeB) : null;
    const biasOk = !bias || (bias.dtype === 'float32' && p !== null && tf.util.sizeFromShape(bias.shape) === p.N && bias.shape[bias.shape.length - 1] === p.N);
    if (!k || !p || !biasOk) return original(args as unknown as Parameters<tf.KernelFunc>[0]);
    const backend = args.backend as WasmBackendLike;
    const out = run(backend, k, a, b, transposeA, transposeB, p);
    if (bias || act === 'relu') k.bias_act(heapPtr(backend, out), p.batch * p.M, p.N, bias ? heapPtr(backend, bias) : 0, act === 'relu' ? 1 : 0);
    return out;
  };
}
