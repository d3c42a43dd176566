/**
 * Faster `Concat` / `SplitV` / `Slice` / `PadV2` for tfjs' WebAssembly backend.
 *
 * tfjs-wasm 4.x concatenates with one `subarray` + `set` per (outer index,
 * input) and splits through its generic `Slice`; along the channel axis of an
 * NHWC activation (U-Net skip connections, their gradients) that is one tiny
 * copy per pixel, dominated by call overhead. These versions copy short runs
 * element by element and long runs with `copyWithin` on the wasm heap; where
 * the native addon is loaded, Concat / SplitV of 4-byte types (4096 elements
 * or more) run as its threaded run copy instead.
 * Strings (and anything but float32 / int32 / bool) go to the original kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { nativeKernels } from './native';
import type { KernelArgs, WasmBackendLike } from './wasm-util';

/** Runs shorter than this are copied element by element. */
const COPY_WITHIN_MIN = 32;

type Heap = Float32Array | Int32Array | Uint8Array;

function heapView(backend: WasmBackendLike, info: tf.TensorInfo): { heap: Heap; base: number } {
  const v = backend.typedArrayFromHeap(info);
  const bytes = v.BYTES_PER_ELEMENT;
  const heap = v instanceof Float32Array ? new Float32Array(v.buffer) : v instanceof Int32Array ? new Int32Array(v.buffer) : new Uint8Array(v.buffer);
  return { heap, base: v.byteOffset / bytes };
}

/** The native addon's threaded run copy (4-byte elements; byte offsets), where it is loaded. */
type NativeRuns = (src: number, srcStride: number, dst: number, dstStride: number, len: number, outer: number) => void;

/** The addon's `copy_runs` for 4-byte heaps, else null. */
function nativeRuns(backend: WasmBackendLike, heap: Heap): NativeRuns | null {
  if (heap.BYTES_PER_ELEMENT !== 4) return null;
  const k = nativeKernels(backend);
  return k?.copy_runs ? k.copy_runs.bind(k) : null;
}

/**
 * Copy `outer` runs of `len` elements (src stride `srcStride`, dst stride
 * `dstStride`) inside the heap: through `native` (the addon) when given and
 * at least 4096 elements move, else in JS.
 */
function copyRuns(heap: Heap, src: number, srcStride: number, dst: number, dstStride: number, len: number, outer: number, native?: NativeRuns | null): void {
  if (native && len * outer >= 4096) {
    native(src * 4, srcStride, dst * 4, dstStride, len, outer);
    return;
  }
  if (len >= COPY_WITHIN_MIN) {
    for (let b = 0; b < outer; b++) heap.copyWithin(dst + b * dstStride, src + b * srcStride, src + b * srcStride + len);
    return;
  }
  for (let b = 0; b < outer; b++) {
    let s = src + b * srcStride;
    let d = dst + b * dstStride;
    for (let k = 0; k < len; k++) heap[d++] = heap[s++];
  }
}

const NUMERIC = new Set(['float32', 'int32', 'bool']);

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Build a `Concat` kernel that falls back to `original` for strings. */
export function makeConcatWasm(original: tf.KernelFunc): (args: KernelArgs) => tf.TensorInfo {
  return (args) => {
    const inputs = args.inputs as unknown as tf.TensorInfo[];
    if (!NUMERIC.has(inputs[0].dtype)) return original(args as never) as tf.TensorInfo;
    const backend = args.backend as WasmBackendLike;
    const axis = tf.util.parseAxisParam((args.attrs ?? {}).axis as number, inputs[0].shape)[0];
    tf.backend_util.assertParamsConsistent(inputs.map((t) => t.shape), axis);
    const outShape = tf.backend_util.computeOutShape(inputs.map((t) => t.shape), axis);
    const live = inputs.filter((t) => size(t.shape) > 0);
    const out = backend.makeOutput(outShape, inputs[0].dtype);
    if (size(outShape) === 0) return out;
    const outer = size(live[0].shape.slice(0, axis));
    const inners = live.map((t) => size(t.shape.slice(axis)));
    const total = inners.reduce((a, b) => a + b, 0);
    const o = heapView(backend, out);
    const native = nativeRuns(backend, o.heap);
    let offset = 0;
    live.forEach((t, i) => {
      const v = heapView(backend, t);
      copyRuns(o.heap, v.base, inners[i], o.base + offset, total, inners[i], outer, native);
      offset += inners[i];
    });
    return out;
  };
}

/** Build a `SplitV` kernel that falls back to `original` for strings. */
export function makeSplitVWasm(original: tf.KernelFunc): (args: KernelArgs) => tf.TensorInfo[] {
  return (args) => {
    const { x } = args.inputs;
    if (!NUMERIC.has(x.dtype)) return original(args as never) as tf.TensorInfo[];
    const backend = args.backend as WasmBackendLike;
    const attrs = args.attrs ?? {};
    const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, attrs.numOrSizeSplits as number[] | number, axis);
    const outer = size(x.shape.slice(0, axis));
    const innerUnit = size(x.shape.slice(axis + 1));
    const total = x.shape[axis] * innerUnit;
    const outs: tf.TensorInfo[] = [];
    let offset = 0;
    for (const s of sizes) {
      const shape = [...x.shape];
      shape[axis] = s;
      const out = backend.makeOutput(shape, x.dtype);
      const len = s * innerUnit;
      if (len > 0 && outer > 0) {
        const src = heapView(backend, x);
        const dst = heapView(backend, out);
        copyRuns(dst.heap, src.base + offset, total, dst.base, len, len, outer, nativeRuns(backend, dst.heap));
      }
      offset += len;
      outs.push(out);
    }
    return outs;
  };
}

/**
 * Copy the box `size` starting at `srcBegin` of a row-major `srcShape`
 * tensor to `dstBegin` of a row-major `dstShape` tensor (both in `heap`, at
 * element offsets `src` / `dst`). Trailing dimensions copied whole on both
 * sides merge into one contiguous run; the outer ones are walked with an
 * odometer.
 */
function copyBox(heap: Heap, src: number, srcShape: number[], srcBegin: number[], dst: number, dstShape: number[], dstBegin: number[], box: number[]): void {
  const rank = box.length;
  if (box.some((d) => d === 0)) return;
  if (rank === 0) {
    heap[dst] = heap[src];
    return;
  }
  let k = rank - 1;
  let inner = 1;
  while (k > 0 && box[k] === srcShape[k] && box[k] === dstShape[k]) {
    inner *= box[k];
    k--;
  }
  const run = box[k] * inner;
  const srcStrides = new Array<number>(rank);
  const dstStrides = new Array<number>(rank);
  let ss = 1;
  let ds = 1;
  for (let j = rank - 1; j >= 0; j--) {
    srcStrides[j] = ss;
    dstStrides[j] = ds;
    ss *= srcShape[j];
    ds *= dstShape[j];
  }
  let s0 = src;
  let d0 = dst;
  for (let j = 0; j < rank; j++) {
    s0 += srcBegin[j] * srcStrides[j];
    d0 += dstBegin[j] * dstStrides[j];
  }
  // Odometer over dims [0, k): one run per index tuple.
  const idx = new Array<number>(k).fill(0);
  let s = s0;
  let d = d0;
  for (;;) {
    copyRuns(heap, s, 0, d, 0, run, 1);
    let j = k - 1;
    while (j >= 0) {
      idx[j]++;
      s += srcStrides[j];
      d += dstStrides[j];
      if (idx[j] < box[j]) break;
      s -= box[j] * srcStrides[j];
      d -= box[j] * dstStrides[j];
      idx[j] = 0;
      j--;
    }
    if (j < 0) break;
  }
}

/** Build a `Slice` kernel (run-length heap copies) that falls back to `original` for strings. */
export function makeSliceWasm(original: tf.KernelFunc): (args: KernelArgs) => tf.TensorInfo {
  return (args) => {
    const { x } = args.inputs;
    if (!NUMERIC.has(x.dtype)) return original(args as never) as tf.TensorInfo;
    const backend = args.backend as WasmBackendLike;
    const attrs = args.attrs ?? {};
    const [begin, box] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, attrs.begin as number[], attrs.size as number[]);
    const out = backend.makeOutput([...box], x.dtype);
    if (size(box) === 0) return out;
    const src = heapView(backend, x);
    const dst = heapView(backend, out);
    copyBox(dst.heap, src.base, x.shape, begin, dst.base, box, box.map(() => 0), box);
    return out;
  };
}

/** Build a `PadV2` kernel (fill + run-length heap copies) that falls back to `original` for strings. */
export function makePadV2Wasm(original: tf.KernelFunc): (args: KernelArgs) => tf.TensorInfo {
  return (args) => {
    const { x } = args.inputs;
    if (!NUMERIC.has(x.dtype)) return original(args as never) as tf.TensorInfo;
    const backend = args.backend as WasmBackendLike;
    const attrs = args.attrs ?? {};
    const paddings = attrs.paddings as Array<[number, number]>;
    const value = (attrs.constantValue as number | undefined) ?? 0;
    const outShape = x.shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
    const out = backend.makeOutput(outShape, x.dtype);
    if (size(outShape) === 0) return out;
    const dst = heapView(backend, out);
    dst.heap.fill(value, dst.base, dst.base + size(outShape));
    if (size(x.shape) > 0) {
      const src = heapView(backend, x);
      copyBox(dst.heap, src.base, x.shape, x.shape.map(() => 0), dst.base, outShape, paddings.map((p) => p[0]), x.shape);
    }
    return out;
  };
}
