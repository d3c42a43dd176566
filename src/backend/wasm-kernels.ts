/**
 * Gradient kernels the WebAssembly backend of tfjs 4.x lacks, registered for
 * 'wasm' so convolutional networks can be trained on it:
 *
 * - `Conv2DBackpropFilter`: im2col (written straight into the wasm heap) +
 *   the backend's own `BatchMatMul` kernel (cols^T x dy), chunked over output
 *   rows so the column buffer stays bounded. Honours an extra, optional
 *   `dilations` attribute (medfl's dilated-conv gradient uses it).
 * - `DepthwiseConv2dNativeBackpropFilter` / `DepthwiseConv2dNativeBackpropInput`:
 *   direct loops over the heap (memory-bound ops; a matmul would not help),
 *   with strides, dilations and 'same' / 'valid' / explicit padding.
 * - `UnsortedSegmentSum`: needed by the gradient of `gather` (e.g. relative
 *   position bias tables in Swin blocks).
 *
 * Intermediates created here are released with `backend.disposeData`.
 * All kernels are float32 NHWC only and say so when given anything else.
 */
import * as tf from '@tensorflow/tfjs';

type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/** The subset of the wasm backend's API these kernels use. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** Float32 elements of im2col buffer per chunk (16 MiB). */
const COLS_CHUNK_ELEMENTS = 4 * 1024 * 1024;

function f32(backend: WasmBackendLike, info: tf.TensorInfo): Float32Array {
  const arr = backend.typedArrayFromHeap(info);
  if (!(arr instanceof Float32Array)) {
    throw new Error(`medfl wasm kernel: expected a float32 tensor, got ${info.dtype}`);
  }
  return arr;
}

function assertNHWC(kernel: string, dataFormat: unknown): void {
  if (dataFormat != null && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernel} (medfl wasm): only NHWC is supported, got dataFormat '${String(dataFormat)}'`);
  }
}

function dilationPair(d: unknown): [number, number] {
  if (d == null) return [1, 1];
  if (typeof d === 'number') return [d, d];
  const arr = d as number[];
  return [arr[0], arr[1]];
}

/** A view of an existing tensor's data under another (same-size) shape. */
function reshaped(info: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/**
 * Fill `cols` (rows x K, K = KH*KW*Cin, column order kh, kw, ci) with the
 * input patches of output rows [r0, r0 + rows) (row = (n*OH + oh)*OW + ow).
 */
function im2col(x: Float32Array, cols: Float32Array, ci: Conv2DInfo, r0: number, rows: number): void {
  const { inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = ci;
  const KH = ci.filterHeight;
  const KW = ci.filterWidth;
  const sh = ci.strideHeight;
  const sw = ci.strideWidth;
  const dh = ci.dilationHeight;
  const dw = ci.dilationWidth;
  const pt = ci.padInfo.top;
  const pl = ci.padInfo.left;
  const K = KH * KW * C;
  const perImage = OH * OW;
  for (let r = 0; r < rows; r++) {
    const row = r0 + r;
    const n = Math.floor(row / perImage);
    const rem = row - n * perImage;
    const oh = Math.floor(rem / OW);
    const ow = rem - oh * OW;
    let dst = r * K;
    for (let kh = 0; kh < KH; kh++) {
      const ih = oh * sh + kh * dh - pt;
      if (ih < 0 || ih >= H) {
        cols.fill(0, dst, dst + KW * C);
        dst += KW * C;
        continue;
      }
      const rowBase = (n * H + ih) * W;
      for (let kw = 0; kw < KW; kw++) {
        const iw = ow * sw + kw * dw - pl;
        if (iw < 0 || iw >= W) {
          cols.fill(0, dst, dst + C);
        } else {
          const src = (rowBase + iw) * C;
          if (C >= 16) {
            cols.set(x.subarray(src, src + C), dst);
          } else {
            for (let c = 0; c < C; c++) cols[dst + c] = x[src + c];
          }
        }
        dst += C;
      }
    }
  }
}

interface KernelArgs {
  inputs: Record<string, tf.TensorInfo>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}

function conv2DBackpropFilterWasm(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, dy } = args.inputs;
  const attrs = args.attrs ?? {};
  assertNHWC('Conv2DBackpropFilter', attrs.dataFormat);
  const filterShape = attrs.filterShape as [number, number, number, number];
  const ci = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    attrs.strides as [number, number] | number,
    dilationPair(attrs.dilations),
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    false,
    'channelsLast',
  );
  const K = ci.filterHeight * ci.filterWidth * ci.inChannels;
  const Cout = ci.outChannels;
  const M = ci.batchSize * ci.outHeight * ci.outWidth;
  const matMul = tf.getKernel('BatchMatMul', 'wasm');
  if (!matMul) throw new Error('Conv2DBackpropFilter (medfl wasm): BatchMatMul kernel not found');

  const chunkRows = Math.max(1, Math.min(M, Math.floor(COLS_CHUNK_ELEMENTS / K)));
  const out = backend.makeOutput([...filterShape], 'float32');
  let acc: Float32Array | null = chunkRows < M ? new Float32Array(K * Cout) : null;
  for (let r0 = 0; r0 < M; r0 += chunkRows) {
    const rows = Math.min(chunkRows, M - r0);
    const cols = backend.makeOutput([1, rows, K], 'float32');
    let dyChunk: tf.TensorInfo;
    let ownDy = false;
    if (rows === M) {
      dyChunk = reshaped(dy, [1, M, Cout]);
    } else {
      dyChunk = backend.makeOutput([1, rows, Cout], 'float32');
      ownDy = true;
    }
    // Views are taken after every allocation: heap growth detaches old views.
    const xv = f32(backend, x);
    im2col(xv, f32(backend, cols), ci, r0, rows);
    if (ownDy) {
      const dyv = f32(backend, dy);
      f32(backend, dyChunk).set(dyv.subarray(r0 * Cout, (r0 + rows) * Cout));
    }
    const prod = matMul.kernelFunc({
      inputs: { a: cols, b: dyChunk },
      backend: backend as unknown as tf.KernelBackend,
      attrs: { transposeA: true, transposeB: false },
    }) as tf.TensorInfo;
    const pv = f32(backend, prod);
    if (acc === null) {
      f32(backend, out).set(pv);
    } else {
      for (let i = 0; i < acc.length; i++) acc[i] += pv[i];
    }
    backend.disposeData(prod.dataId);
    backend.disposeData(cols.dataId);
    if (ownDy) backend.disposeData(dyChunk.dataId);
  }
  if (acc !== null) {
    f32(backend, out).set(acc);
    acc = null;
  }
  return out;
}

function depthwiseInfo(
  xShape: number[],
  filterShape: number[],
  attrs: Record<string, unknown>,
): Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as [number, number] | number,
    dilationPair(attrs.dilations),
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    true,
    'channelsLast',
  );
}

/**
 * Walk every (output position, filter tap) pair of a depthwise conv whose
 * input position is inside the image, calling `fn(xBase, dyBase, wBase)`
 * with the flat offsets of the input pixel, output pixel and filter tap.
 */
function forEachDepthwiseTap(ci: Conv2DInfo, fn: (xBase: number, dyBase: number, wBase: number) => void): void {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: Cout } = ci;
  const KH = ci.filterHeight;
  const KW = ci.filterWidth;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const dyBase = ((n * OH + oh) * OW + ow) * Cout;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * ci.strideHeight + kh * ci.dilationHeight - ci.padInfo.top;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * ci.strideWidth + kw * ci.dilationWidth - ci.padInfo.left;
            if (iw < 0 || iw >= W) continue;
            fn(((n * H + ih) * W + iw) * C, dyBase, (kh * KW + kw) * Cout);
          }
        }
      }
    }
  }
}

function depthwiseBackpropFilterWasm(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, dy } = args.inputs;
  const attrs = args.attrs ?? {};
  const filterShape = attrs.filterShape as number[];
  const ci = depthwiseInfo(x.shape, filterShape, attrs);
  const C = ci.inChannels;
  const mult = ci.outChannels / C;
  const out = backend.makeOutput([...filterShape], 'float32');
  const acc = new Float32Array(filterShape.reduce((a, b) => a * b, 1));
  const xv = f32(backend, x);
  const dyv = f32(backend, dy);
  if (mult === 1) {
    forEachDepthwiseTap(ci, (xb, yb, wb) => {
      for (let c = 0; c < C; c++) acc[wb + c] += xv[xb + c] * dyv[yb + c];
    });
  } else {
    forEachDepthwiseTap(ci, (xb, yb, wb) => {
      for (let c = 0; c < C; c++) {
        const xval = xv[xb + c];
        const o = c * mult;
        for (let m = 0; m < mult; m++) acc[wb + o + m] += xval * dyv[yb + o + m];
      }
    });
  }
  f32(backend, out).set(acc);
  return out;
}

function depthwiseBackpropInputWasm(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { dy, filter } = args.inputs;
  const attrs = args.attrs ?? {};
  const inputShape = attrs.inputShape as number[];
  const ci = depthwiseInfo(inputShape, filter.shape, attrs);
  const C = ci.inChannels;
  const mult = ci.outChannels / C;
  const out = backend.makeOutput([...inputShape], 'float32');
  const acc = new Float32Array(inputShape.reduce((a, b) => a * b, 1));
  const dyv = f32(backend, dy);
  const wv = f32(backend, filter);
  if (mult === 1) {
    forEachDepthwiseTap(ci, (xb, yb, wb) => {
      for (let c = 0; c < C; c++) acc[xb + c] += dyv[yb + c] * wv[wb + c];
    });
  } else {
    forEachDepthwiseTap(ci, (xb, yb, wb) => {
      for (let c = 0; c < C; c++) {
        const o = c * mult;
        let s = 0;
        for (let m = 0; m < mult; m++) s += dyv[yb + o + m] * wv[wb + o + m];
        acc[xb + c] += s;
      }
    });
  }
  f32(backend, out).set(acc);
  return out;
}

function unsortedSegmentSumWasm(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, segmentIds } = args.inputs;
  const numSegments = (args.attrs ?? {}).numSegments as number;
  if (x.dtype !== 'float32') {
    throw new Error(`UnsortedSegmentSum (medfl wasm): only float32 data is supported, got ${x.dtype}`);
  }
  const idRank = segmentIds.shape.length;
  const outShape = [numSegments, ...x.shape.slice(idRank)];
  const inner = x.shape.slice(idRank).reduce((a, b) => a * b, 1);
  const nIds = segmentIds.shape.reduce((a, b) => a * b, 1);
  const out = backend.makeOutput(outShape, 'float32');
  const acc = new Float32Array(numSegments * inner);
  const xv = f32(backend, x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  for (let i = 0; i < nIds; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue; // TF drops out-of-range ids
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) acc[dst + j] += xv[src + j];
  }
  f32(backend, out).set(acc);
  return out;
}

/** Kernel names this module registers for 'wasm'. */
export const WASM_GRADIENT_KERNELS = [
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'UnsortedSegmentSum',
] as const;

const KERNELS: Record<(typeof WASM_GRADIENT_KERNELS)[number], (args: KernelArgs) => tf.TensorInfo> = {
  Conv2DBackpropFilter: conv2DBackpropFilterWasm,
  DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilterWasm,
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInputWasm,
  UnsortedSegmentSum: unsortedSegmentSumWasm,
};

/**
 * Register medfl's gradient kernels for the 'wasm' backend. Idempotent: a
 * kernel already registered (by an earlier call or a future tfjs) is left alone.
 * Returns the names it registered now.
 */
export function registerWasmGradientKernels(): string[] {
  const added: string[] = [];
  for (const name of WASM_GRADIENT_KERNELS) {
    if (tf.getKernel(name, 'wasm')) continue;
    tf.registerKernel({
      kernelName: name,
      backendName: 'wasm',
      kernelFunc: KERNELS[name] as unknown as tf.KernelFunc,
    });
    added.push(name);
  }
  return added;
}
