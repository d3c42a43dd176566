/**
 * Small helpers shared by medfl's wasm kernels: typed views of the wasm heap,
 * scratch tensors, and calls into the backend's own kernels.
 *
 * Heap views are taken *after* every allocation: an allocation may grow the
 * wasm memory, which detaches every earlier view.
 */
import * as tf from '@tensorflow/tfjs';

/** Conv geometry as computed by tfjs. */
export type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/** The subset of the wasm backend's API medfl's kernels use. */
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** Arguments every kernel function receives. */
export interface KernelArgs {
  inputs: Record<string, tf.TensorInfo>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}

/** Float32 view of a tensor's heap memory; throws for other dtypes. */
export function f32(backend: WasmBackendLike, info: tf.TensorInfo): Float32Array {
  const arr = backend.typedArrayFromHeap(info);
  if (!(arr instanceof Float32Array)) {
    throw new Error(`medfl wasm kernel: expected a float32 tensor, got ${info.dtype}`);
  }
  return arr;
}

/** Throw unless the data format is NHWC (or unset). */
export function assertNHWC(kernel: string, dataFormat: unknown): void {
  if (dataFormat != null && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernel} (medfl wasm): only NHWC is supported, got dataFormat '${String(dataFormat)}'`);
  }
}

/** `[dh, dw]` from a number, a pair, or nothing (1). */
export function dilationPair(d: unknown): [number, number] {
  if (d == null) return [1, 1];
  if (typeof d === 'number') return [d, d];
  const arr = d as number[];
  return [arr[0], arr[1]];
}

/**
 * Conv geometry (NHWC) from a gradient kernel's attributes (`strides`,
 * `dilations`, `pad`, `dimRoundingMode`); `depthwise` for the depthwise kernels.
 */
export function convInfoFromAttrs(xShape: number[], filterShape: number[], attrs: Record<string, unknown>, depthwise: boolean): Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as [number, number] | number,
    dilationPair(attrs.dilations),
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    depthwise,
    'channelsLast',
  );
}

/** A view of an existing tensor's data under another (same-size) shape. */
export function reshaped(info: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/** Run another kernel registered for 'wasm' (e.g. BatchMatMul, Conv2D). */
export function callWasmKernel(
  name: string,
  backend: WasmBackendLike,
  inputs: Record<string, tf.TensorInfo>,
  attrs: Record<string, unknown>,
): tf.TensorInfo {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`medfl wasm kernel: the wasm backend has no '${name}' kernel`);
  return k.kernelFunc({
    inputs: inputs as unknown as tf.NamedTensorInfoMap,
    backend: backend as unknown as tf.KernelBackend,
    attrs: attrs as unknown as tf.NamedAttrMap,
  }) as tf.TensorInfo;
}

/**
 * `out[1, rows, n] = a[1, rows, k] x b[1, k, n]` through the wasm backend's
 * XNNPACK fully-connected path (taken only without transposes and batch 1).
 *
 * tfjs-wasm caches the packed XNNPACK operator on `b`'s tensor id, without
 * the shape, until `b` is disposed: `b` must therefore be a scratch tensor
 * owned by the caller (never a user tensor that might later be reused as a
 * matmul weight of another shape) and is disposed by the caller.
 */
export function matMulXnn(backend: WasmBackendLike, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
  return callWasmKernel('BatchMatMul', backend, { a, b }, { transposeA: false, transposeB: false });
}

/** Allocate a float32 scratch tensor and fill it through `fill(view)`. */
export function scratch(backend: WasmBackendLike, shape: number[], fill: (view: Float32Array) => void): tf.TensorInfo {
  const t = backend.makeOutput(shape, 'float32');
  fill(f32(backend, t));
  return t;
}
