/**
 * Fast conv2d gradient kernels for tfjs' WebAssembly backend (float32, NHWC).
 *
 * With medfl's native SIMD kernels available (the default, ./native-conv):
 * `Conv2DBackpropFilter` is one native filter-gradient kernel, strided
 * `Conv2DBackpropInput` one native scatter kernel, and the stride-1 input
 * gradient below a (native) forward conv with the flipped filter. The
 * XNNPACK compositions described next are the fallback (MEDFL_NATIVE=0, no
 * WebAssembly SIMD) and what `setFilterGradMode('im2col' | 'conv')` selects.
 *
 * tfjs-wasm 4.x ships no `Conv2DBackpropFilter` and a naive direct-loop
 * `Conv2DBackpropInput`; its `BatchMatMul` is fast (XNNPACK GEMM) only without
 * transposes, and its forward `Conv2D` is XNNPACK. Both gradients are mapped
 * onto those fast paths:
 *
 * - `Conv2DBackpropFilter`, dy at most 16x16 pixels or filters of >= 25 taps:
 *   one forward XNNPACK conv of x^T `[Cin, H, W, N]` with dy^T `[OH, OW, N,
 *   Cout]` as the filter (stride and dilation swapped), transposed back.
 * - `Conv2DBackpropFilter`, otherwise: `dW[K, Cout] = colsT[K, M] x dy[M, Cout]`, with
 *   `K = KH*KW*Cin`, `M = N*OH*OW`, and `colsT` the *transposed* im2col matrix
 *   written by JS straight into the wasm heap (so no transpose flag is
 *   needed), chunked over M so the column buffer stays <= 16 MiB. Honours an
 *   optional `dilations` attribute (medfl's dilated-conv gradient uses it).
 * - `Conv2DBackpropInput`, stride 1: a forward XNNPACK convolution of dy with
 *   the spatially flipped, in/out-swapped filter (the transposed convolution
 *   identity), dy zero-padded by `effK - 1 - pad` (via 'same' when that is
 *   what 'same' gives, else the `PadV2` kernel and 'valid': numeric padding
 *   is avoided because tfjs-wasm's Conv2D mishandles it).
 * - `Conv2DBackpropInput`, stride > 1 (and any padding the flip trick cannot
 *   express), dilation 1: sub-pixel decomposition. The input positions split
 *   into stride_h*stride_w phases; each phase is reached only by every
 *   stride-th filter tap and its gradient is one stride-1 forward XNNPACK conv
 *   of a zero-padded / cropped copy of dy with that flipped sub-filter,
 *   copied into dx with a stride.
 * - Otherwise (dilated with such padding): col2im, `dCols[M, K] = dy[M, Cout]
 *   x W^T[Cout, K]` (XNNPACK) followed by a JS scatter-add of the columns into dx.
 *
 * Every intermediate is released with `backend.disposeData`.
 */
import * as tf from '@tensorflow/tfjs';
import { heapPtr, nativeKernels } from './native';
import { nativeConv2D, nativeConv2DFilterGrad, nativeConv2DInputGrad } from './native-conv';
import {
  assertNHWC,
  callWasmKernel,
  convInfoFromAttrs,
  f32,
  matMulXnn,
  reshaped,
  scratch,
  type Conv2DInfo,
  type KernelArgs,
  type WasmBackendLike,
} from './wasm-util';

/** Default float32 elements of a column buffer per chunk (16 MiB). */
const DEFAULT_COLS_CHUNK = 4 * 1024 * 1024;
let COLS_CHUNK_ELEMENTS = DEFAULT_COLS_CHUNK;

/**
 * Set the column-buffer chunk size (float32 elements; default 4Mi = 16 MiB)
 * of the conv gradient kernels, e.g. small in tests to exercise chunking.
 * Returns the previous value. `undefined` restores the default.
 */
export function setConvColumnChunk(elements?: number): number {
  const prev = COLS_CHUNK_ELEMENTS;
  if (elements !== undefined && (!Number.isInteger(elements) || elements < 1)) {
    throw new Error(`setConvColumnChunk: expected a positive integer, got ${elements}`);
  }
  COLS_CHUNK_ELEMENTS = elements ?? DEFAULT_COLS_CHUNK;
  return prev;
}

function isEmpty(shape: number[]): boolean {
  return shape.some((d) => d === 0);
}

/**
 * A zero tensor: the gradient when dy is empty (e.g. tfjs sizes numeric
 * padding with the filter height on both axes, so a 5x1 filter on a narrow
 * input can give zero output columns). XNNPACK rejects empty operands.
 */
function zeros(backend: WasmBackendLike, shape: number[]): tf.TensorInfo {
  return scratch(backend, [...shape], (v) => v.fill(0));
}

let forceCol2Im = false;

/**
 * Route strided conv input gradients through the old col2im kernel instead
 * of the per-phase convolutions (for benchmarks and cross-checks). Returns
 * the previous setting.
 */
export function setStridedBackpropCol2Im(on: boolean): boolean {
  const prev = forceCol2Im;
  forceCol2Im = on;
  return prev;
}

function convInfo(xShape: number[], filterShape: number[], attrs: Record<string, unknown>): Conv2DInfo {
  return convInfoFromAttrs(xShape, filterShape, attrs, false);
}

/**
 * For output rows `[r0, r0 + rows)` (row = (n*OH + oh)*OW + ow) and filter tap
 * `(kh, kw)`, write into `src[r]` the flat offset of the input pixel the tap
 * reads, or -1 when it falls into the padding.
 */
function tapOffsets(ci: Conv2DInfo, kh: number, kw: number, r0: number, rows: number, src: Int32Array): void {
  const { inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = ci;
  const perImage = OH * OW;
  let n = Math.floor(r0 / perImage);
  const rem = r0 - n * perImage;
  let oh = Math.floor(rem / OW);
  let ow = rem - oh * OW;
  const offH = kh * ci.dilationHeight - ci.padInfo.top;
  const offW = kw * ci.dilationWidth - ci.padInfo.left;
  for (let r = 0; r < rows; r++) {
    const ih = oh * ci.strideHeight + offH;
    const iw = ow * ci.strideWidth + offW;
    src[r] = ih < 0 || ih >= H || iw < 0 || iw >= W ? -1 : ((n * H + ih) * W + iw) * C;
    if (++ow === OW) {
      ow = 0;
      if (++oh === OH) {
        oh = 0;
        n++;
      }
    }
  }
}

/** Rows shorter than this are copied element by element (copyWithin has a per-call cost). */
const COPY_WITHIN_MIN = 24;

/**
 * Fill the transposed im2col matrix `colsT` (`K x rows`, K = KH*KW*Cin in
 * (kh, kw, ci) order; rows = output rows `[g0, g0 + groups)` of OW pixels,
 * g = n*OH + oh) from the channels-first input `xT` `[C, N, H, W]`: for a
 * fixed tap and channel each output row reads one run of input row `ih`
 * (contiguous for stride 1), zero where the tap falls into the padding.
 * `heap` is a Float32Array over the whole wasm memory; `xBase` / `colsBase`
 * are the tensors' element offsets in it.
 */
function im2colT(heap: Float32Array, xBase: number, colsBase: number, ci: Conv2DInfo, g0: number, groups: number): void {
  const { batchSize: N, inChannels: C, inHeight: H, inWidth: W, outHeight: OH, outWidth: OW } = ci;
  const sh = ci.strideHeight;
  const sw = ci.strideWidth;
  const rows = groups * OW;
  for (let kh = 0; kh < ci.filterHeight; kh++) {
    const ihOff = kh * ci.dilationHeight - ci.padInfo.top;
    for (let kw = 0; kw < ci.filterWidth; kw++) {
      const iwOff = kw * ci.dilationWidth - ci.padInfo.left;
      // Output columns whose input column iw = ow*sw + iwOff lies in [0, W).
      const owLo = Math.min(OW, Math.max(0, Math.ceil(-iwOff / sw)));
      const owHi = Math.max(owLo, Math.min(OW, Math.floor((W - 1 - iwOff) / sw) + 1));
      const run = owHi - owLo;
      for (let c = 0; c < C; c++) {
        let dst = colsBase + ((kh * ci.filterWidth + kw) * C + c) * rows;
        let n = Math.floor(g0 / OH);
        let oh = g0 - n * OH;
        for (let g = 0; g < groups; g++, dst += OW) {
          const ih = oh * sh + ihOff;
          if (ih < 0 || ih >= H || run === 0) {
            heap.fill(0, dst, dst + OW);
          } else {
            if (owLo > 0) heap.fill(0, dst, dst + owLo);
            if (owHi < OW) heap.fill(0, dst + owHi, dst + OW);
            const src = xBase + ((c * N + n) * H + ih) * W + owLo * sw + iwOff;
            const d = dst + owLo;
            if (sw === 1 && run >= COPY_WITHIN_MIN) {
              heap.copyWithin(d, src, src + run);
            } else {
              for (let k = 0, s = src; k < run; k++, s += sw) heap[d + k] = heap[s];
            }
          }
          if (++oh === OH) {
            oh = 0;
            n++;
          }
        }
      }
    }
  }
}

/** A Float32Array over the whole wasm heap and a tensor's element offset in it. */
function heapOf(backend: WasmBackendLike, info: tf.TensorInfo): { heap: Float32Array; base: number } {
  const v = f32(backend, info);
  return { heap: new Float32Array(v.buffer), base: v.byteOffset >> 2 };
}

/**
 * dW as one forward XNNPACK convolution: with the batch as channels,
 * `dW[kh, kw, ci, co] = sum_{oh, ow, n} X'[ci, kh*d + oh*s - pad, kw*d + ow*s - pad, n] F[oh, ow, n, co]`
 * where `X' = x^T [Cin, H, W, N]` (zero-padded / cropped to exactly the rows
 * read) and `F = dy^T [OH, OW, N, Cout]`, i.e. a 'valid' conv of X' with
 * filter F, stride = the original dilation, dilation = the original stride,
 * whose `[Cin, KH, KW, Cout]` output is transposed to the filter layout.
 */
function backpropFilterByConv(backend: WasmBackendLike, x: tf.TensorInfo, dy: tf.TensorInfo, ci: Conv2DInfo, filterShape: number[]): tf.TensorInfo {
  const { inHeight: H, inWidth: W, inChannels: Cin, outHeight: OH, outWidth: OW } = ci;
  const KH = ci.filterHeight;
  const KW = ci.filterWidth;
  const dh = ci.dilationHeight;
  const dw = ci.dilationWidth;
  const sh = ci.strideHeight;
  const sw = ci.strideWidth;
  const top = ci.padInfo.top;
  const left = ci.padInfo.left;
  // Rows / columns of x read by some (tap, output) pair, relative to -pad.
  const LH = (KH - 1) * dh + (OH - 1) * sh + 1;
  const LW = (KW - 1) * dw + (OW - 1) * sw + 1;
  const bottom = LH - top - H;
  const right = LW - left - W;
  const dispose: tf.TensorInfo[] = [];
  let xT = callWasmKernel('Transpose', backend, { x }, { perm: [3, 1, 2, 0] });
  dispose.push(xT);
  if (top > 0 || left > 0 || bottom > 0 || right > 0) {
    xT = callWasmKernel('PadV2', backend, { x: xT }, { paddings: [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]], constantValue: 0 });
    dispose.push(xT);
  }
  if (bottom < 0 || right < 0) {
    xT = callWasmKernel('Slice', backend, { x: xT }, { begin: [0, 0, 0, 0], size: [Cin, LH, LW, ci.batchSize] });
    dispose.push(xT);
  }
  const f = callWasmKernel('Transpose', backend, { x: dy }, { perm: [1, 2, 0, 3] });
  dispose.push(f);
  const y = callWasmKernel('Conv2D', backend, { x: xT, filter: f }, {
    strides: [dh, dw], pad: 'valid', dilations: [sh, sw], dataFormat: 'NHWC', dimRoundingMode: undefined,
  });
  dispose.push(y);
  const out = callWasmKernel('Transpose', backend, { x: y }, { perm: [1, 2, 0, 3] });
  for (const t of dispose) backend.disposeData(t.dataId);
  if (out.shape.join() !== filterShape.join()) throw new Error(`Conv2DBackpropFilter (medfl wasm): internal shape [${out.shape}] != [${filterShape}]`);
  return out;
}

let filterGradMode: 'auto' | 'im2col' | 'conv' = 'auto';

/**
 * Force the filter-gradient algorithm ('im2col' GEMM or 'conv' = one
 * transposed XNNPACK convolution; 'auto' picks per shape). For benchmarks
 * and cross-checks; returns the previous mode.
 */
export function setFilterGradMode(mode: 'auto' | 'im2col' | 'conv'): 'auto' | 'im2col' | 'conv' {
  const prev = filterGradMode;
  filterGradMode = mode;
  return prev;
}

/** `Conv2DBackpropFilter` for 'wasm' (see module doc). */
export function conv2DBackpropFilterWasm(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, dy } = args.inputs;
  const attrs = args.attrs ?? {};
  assertNHWC('Conv2DBackpropFilter', attrs.dataFormat);
  const filterShape = attrs.filterShape as [number, number, number, number];
  const ci = convInfo(x.shape, filterShape, attrs);
  if (isEmpty(dy.shape) || isEmpty(x.shape)) return zeros(backend, filterShape);
  const native = filterGradMode === 'auto' && x.dtype === 'float32' && dy.dtype === 'float32' ? nativeKernels(backend) : null;
  if (native) return nativeConv2DFilterGrad(backend, native, x, dy, ci);
  // Without the native kernels (MEDFL_NATIVE=0 or no SIMD). Measured (bench/micro-filtergrad.ts): the transposed conv wins while dy's
  // spatial extent (its filter size) is small or the filter is large (7x7 stems).
  const byConv = filterGradMode === 'conv' || (filterGradMode === 'auto' && (ci.outHeight * ci.outWidth <= 256 || ci.filterHeight * ci.filterWidth >= 25));
  if (byConv) return backpropFilterByConv(backend, x, dy, ci, filterShape);
  const K = ci.filterHeight * ci.filterWidth * ci.inChannels;
  const Cout = ci.outChannels;
  const OW = ci.outWidth;
  const totalGroups = ci.batchSize * ci.outHeight;
  const M = totalGroups * OW;
  const groupsPerChunk = Math.max(1, Math.min(totalGroups, Math.floor(COLS_CHUNK_ELEMENTS / (K * OW))));
  const xT = callWasmKernel('Transpose', backend, { x }, { perm: [3, 0, 1, 2] });
  const out = backend.makeOutput([...filterShape], 'float32');
  let acc: Float32Array | null = null;
  for (let g0 = 0; g0 < totalGroups; g0 += groupsPerChunk) {
    const groups = Math.min(groupsPerChunk, totalGroups - g0);
    const rows = groups * OW;
    const r0 = g0 * OW;
    const colsT = backend.makeOutput([1, K, rows], 'float32');
    // A fresh copy of dy's rows: the matmul caches its packed operator on b's id.
    const dyChunk = scratch(backend, [1, rows, Cout], (v) => v.set(f32(backend, dy).subarray(r0 * Cout, (r0 + rows) * Cout)));
    const xs = heapOf(backend, xT);
    im2colT(xs.heap, xs.base, heapOf(backend, colsT).base, ci, g0, groups);
    const prod = matMulXnn(backend, colsT, dyChunk);
    const pv = f32(backend, prod);
    if (rows === M) {
      f32(backend, out).set(pv);
    } else {
      if (acc === null) acc = new Float32Array(K * Cout);
      for (let i = 0; i < acc.length; i++) acc[i] += pv[i];
    }
    backend.disposeData(prod.dataId);
    backend.disposeData(colsT.dataId);
    backend.disposeData(dyChunk.dataId);
  }
  backend.disposeData(xT.dataId);
  if (acc !== null) f32(backend, out).set(acc);
  return out;
}

/** Zero-padding [top, bottom, left, right] of dy for the stride-1 transposed-conv identity, or null when negative. */
export function flipPads(ci: Conv2DInfo): [number, number, number, number] | null {
  const effH = ci.effectiveFilterHeight;
  const effW = ci.effectiveFilterWidth;
  const top = effH - 1 - ci.padInfo.top;
  const left = effW - 1 - ci.padInfo.left;
  const bottom = ci.inHeight + effH - 1 - ci.outHeight - top;
  const right = ci.inWidth + effW - 1 - ci.outWidth - left;
  return Math.min(top, left, bottom, right) < 0 ? null : [top, bottom, left, right];
}

/** dx by a forward XNNPACK conv of (padded) dy with the flipped filter (stride 1). */
function backpropInputByFlip(backend: WasmBackendLike, dy: tf.TensorInfo, filter: tf.TensorInfo, ci: Conv2DInfo, pads: [number, number, number, number]): tf.TensorInfo {
  const { filterHeight: KH, filterWidth: KW, inChannels: Cin, outChannels: Cout } = ci;
  // flipped[kh, kw, co, ci] = W[KH-1-kh, KW-1-kw, ci, co]: tap t = kh*KW + kw of the
  // flipped filter is tap T-1-t of W, transposed (one native call per tap when available).
  const nk = filter.dtype === 'float32' ? nativeKernels(backend) : null;
  if (nk?.conv_fwd_flipped) return correlateFlipped(backend, 'Conv2D', dy, filter, ci, pads, true);
  if (nk) {
    const T = KH * KW;
    const flippedN = backend.makeOutput([KH, KW, Cout, Cin], 'float32');
    const src = heapPtr(backend, filter);
    const dst = heapPtr(backend, flippedN);
    for (let t = 0; t < T; t++) nk.transpose_taps(src + 4 * (T - 1 - t) * Cin * Cout, 1, Cin, Cout, dst + 4 * t * Cin * Cout);
    const dxN = correlateFlipped(backend, 'Conv2D', dy, flippedN, ci, pads);
    backend.disposeData(flippedN.dataId);
    return dxN;
  }
  const flipped = scratch(backend, [KH, KW, Cout, Cin], (v) => {
    const w = f32(backend, filter);
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        const s = ((KH - 1 - kh) * KW + (KW - 1 - kw)) * Cin * Cout;
        const d = (kh * KW + kw) * Cout * Cin;
        for (let i = 0; i < Cin; i++) {
          for (let o = 0; o < Cout; o++) v[d + o * Cin + i] = w[s + i * Cout + o];
        }
      }
    }
  });
  const dx = correlateFlipped(backend, 'Conv2D', dy, flipped, ci, pads);
  backend.disposeData(flipped.dataId);
  return dx;
}

/**
 * Stride-1 forward conv (`Conv2D` or `DepthwiseConv2dNative`, XNNPACK) of dy,
 * zero-padded by `pads` = [top, bottom, left, right], with an already flipped
 * filter at the dilations of `ci`: the transposed-convolution identity.
 * Uses 'same' when that is the padding, else `PadV2` + 'valid' (tfjs-wasm
 * mishandles explicit numeric padding). `unflipped`: `flipped` is instead the
 * conv's own filter, flipped inside the native addon's kernel (no copy).
 */
export function correlateFlipped(
  backend: WasmBackendLike,
  kernel: 'Conv2D' | 'DepthwiseConv2dNative',
  dy: tf.TensorInfo,
  flipped: tf.TensorInfo,
  ci: Conv2DInfo,
  pads: [number, number, number, number],
  unflipped = false,
): tf.TensorInfo {
  const [top, bottom, left, right] = pads;
  const dil = [ci.dilationHeight, ci.dilationWidth];
  const effH = ci.effectiveFilterHeight;
  const effW = ci.effectiveFilterWidth;
  // What 'same' would pad for a stride-1 conv of dy (output = dy's size).
  const sameTop = Math.floor((effH - 1) / 2);
  const sameLeft = Math.floor((effW - 1) / 2);
  const isSame =
    ci.outHeight === ci.inHeight && ci.outWidth === ci.inWidth &&
    top === sameTop && bottom === effH - 1 - sameTop && left === sameLeft && right === effW - 1 - sameLeft;
  let input = dy;
  let padded: tf.TensorInfo | null = null;
  if (!isSame && (top | bottom | left | right) !== 0) {
    padded = callWasmKernel('PadV2', backend, { x: dy }, { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 });
    input = padded;
  }
  const convAttrs = { strides: [1, 1], pad: isSame ? 'same' : 'valid', dilations: dil, dataFormat: 'NHWC', dimRoundingMode: undefined };
  const nk = kernel === 'Conv2D' && input.dtype === 'float32' ? nativeKernels(backend) : null;
  // unflipped: `flipped` is the conv's own [KH, KW, Cin, Cout] filter, flipped inside the addon's kernel.
  const fshape = unflipped ? [flipped.shape[0], flipped.shape[1], flipped.shape[3], flipped.shape[2]] : flipped.shape;
  if (unflipped && !nk?.conv_fwd_flipped) throw new Error('correlateFlipped: an unflipped filter needs the native addon');
  const dx = nk
    ? nativeConv2D(backend, nk, input, flipped, convInfoFromAttrs(input.shape, fshape, convAttrs, false), unflipped)
    : callWasmKernel(kernel, backend, { x: input, filter: flipped }, convAttrs);
  if (padded) backend.disposeData(padded.dataId);
  return dx;
}

/** dx by col2im: dCols = dy x W^T (XNNPACK), scattered back into the image. */
function backpropInputByCol2Im(backend: WasmBackendLike, dy: tf.TensorInfo, filter: tf.TensorInfo, ci: Conv2DInfo, inputShape: number[]): tf.TensorInfo {
  const { filterHeight: KH, filterWidth: KW, inChannels: C, outChannels: Cout } = ci;
  const K = KH * KW * C;
  const M = ci.batchSize * ci.outHeight * ci.outWidth;
  // wT[co, k] = W[k, co]; shared by every chunk (its packed operator is reused).
  const wT = scratch(backend, [1, Cout, K], (v) => {
    const w = f32(backend, filter);
    for (let k = 0; k < K; k++) for (let o = 0; o < Cout; o++) v[o * K + k] = w[k * Cout + o];
  });
  const acc = new Float32Array(inputShape.reduce((a, b) => a * b, 1));
  const chunkRows = Math.max(1, Math.min(M, Math.floor(COLS_CHUNK_ELEMENTS / K)));
  const src = new Int32Array(chunkRows);
  for (let r0 = 0; r0 < M; r0 += chunkRows) {
    const rows = Math.min(chunkRows, M - r0);
    let dyChunk: tf.TensorInfo;
    let own = false;
    if (rows === M) {
      dyChunk = reshaped(dy, [1, M, Cout]);
    } else {
      dyChunk = scratch(backend, [1, rows, Cout], (v) => v.set(f32(backend, dy).subarray(r0 * Cout, (r0 + rows) * Cout)));
      own = true;
    }
    const cols = matMulXnn(backend, dyChunk, wT);
    const cv = f32(backend, cols);
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        tapOffsets(ci, kh, kw, r0, rows, src);
        const kBase = (kh * KW + kw) * C;
        for (let r = 0; r < rows; r++) {
          const s = src[r];
          if (s < 0) continue;
          const b = r * K + kBase;
          for (let c = 0; c < C; c++) acc[s + c] += cv[b + c];
        }
      }
    }
    backend.disposeData(cols.dataId);
    if (own) backend.disposeData(dyChunk.dataId);
  }
  backend.disposeData(wT.dataId);
  const out = backend.makeOutput([...inputShape], 'float32');
  f32(backend, out).set(acc);
  return out;
}

/** Copy `len` float32 elements inside the heap (element loop for short runs). */
function copyRun(heap: Float32Array, src: number, dst: number, len: number): void {
  if (len >= COPY_WITHIN_MIN) heap.copyWithin(dst, src, src + len);
  else for (let k = 0; k < len; k++) heap[dst + k] = heap[src + k];
}

/** One stride phase along an axis: which taps reach it and which dy rows they read. */
interface Phase {
  /** Input positions of the phase: r, r + s, r + 2s, ... below the input size. */
  count: number;
  /** First filter tap reaching the phase; the others are k0 + s, k0 + 2s, ... */
  k0: number;
  /** Number of taps reaching the phase (0: the phase gets no gradient). */
  taps: number;
  /** dy index read by the first (flipped) tap for the phase's first position; may be < 0. */
  offset: number;
}

function phaseOf(r: number, stride: number, pad: number, size: number, kernel: number): Phase {
  const count = size > r ? Math.ceil((size - r) / stride) : 0;
  const k0 = (r + pad) % stride;
  const taps = k0 < kernel ? Math.ceil((kernel - k0) / stride) : 0;
  return { count, k0, taps, offset: (r + pad - k0) / stride - (taps - 1) };
}

/**
 * dx of a strided (dilation-1) conv by sub-pixel decomposition: for stride
 * (sh, sw) the input positions split into sh*sw phases (ih mod sh, iw mod sw);
 * each phase only receives the taps kh = kh0 + sh*j, and its gradient is a
 * stride-1 'valid' correlation of (zero-padded / cropped) dy with that
 * sub-filter flipped and in/out-swapped: one forward XNNPACK conv per phase,
 * then a strided copy into dx.
 */
function backpropInputByPhases(backend: WasmBackendLike, dy: tf.TensorInfo, filter: tf.TensorInfo, ci: Conv2DInfo, inputShape: number[]): tf.TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Cin, outHeight: OH, outWidth: OW, outChannels: Cout } = ci;
  const KH = ci.filterHeight;
  const KW = ci.filterWidth;
  const sh = ci.strideHeight;
  const sw = ci.strideWidth;
  const out = backend.makeOutput([...inputShape], 'float32');
  const phasesH = Array.from({ length: sh }, (_, r) => phaseOf(r, sh, ci.padInfo.top, H, KH));
  const phasesW = Array.from({ length: sw }, (_, r) => phaseOf(r, sw, ci.padInfo.left, W, KW));
  // Phases no tap reaches get a zero gradient.
  if (phasesH.some((p) => p.taps === 0) || phasesW.some((p) => p.taps === 0)) f32(backend, out).fill(0);
  for (let rh = 0; rh < sh; rh++) {
    const ph = phasesH[rh];
    for (let rw = 0; rw < sw; rw++) {
      const pw = phasesW[rw];
      if (ph.count === 0 || pw.count === 0 || ph.taps === 0 || pw.taps === 0) continue;
      const PH = ph.count + ph.taps - 1;
      const PW = pw.count + pw.taps - 1;
      // dyP[n, t, u, :] = dy[n, ph.offset + t, pw.offset + u, :] (zero outside dy).
      const dyP = backend.makeOutput([N, PH, PW, Cout], 'float32');
      {
        const d = heapOf(backend, dyP);
        const sIn = heapOf(backend, dy);
        const heap = d.heap;
        const uLo = Math.max(0, -pw.offset);
        const uHi = Math.max(uLo, Math.min(PW, OW - pw.offset));
        const rowLen = PW * Cout;
        for (let n = 0; n < N; n++) {
          for (let t = 0; t < PH; t++) {
            const dst = d.base + (n * PH + t) * rowLen;
            const oh = ph.offset + t;
            if (oh < 0 || oh >= OH || uHi === uLo) {
              heap.fill(0, dst, dst + rowLen);
              continue;
            }
            if (uLo > 0) heap.fill(0, dst, dst + uLo * Cout);
            if (uHi < PW) heap.fill(0, dst + uHi * Cout, dst + rowLen);
            const src = sIn.base + ((n * OH + oh) * OW + pw.offset + uLo) * Cout;
            copyRun(heap, src, dst + uLo * Cout, (uHi - uLo) * Cout);
          }
        }
      }
      // wP[j, i, co, c] = W[kh0 + sh*(Jh-1-j), kw0 + sw*(Jw-1-i), c, co]
      const wP = scratch(backend, [ph.taps, pw.taps, Cout, Cin], (v) => {
        const w = f32(backend, filter);
        for (let j = 0; j < ph.taps; j++) {
          const kh = ph.k0 + sh * (ph.taps - 1 - j);
          for (let i = 0; i < pw.taps; i++) {
            const kw = pw.k0 + sw * (pw.taps - 1 - i);
            const s0 = (kh * KW + kw) * Cin * Cout;
            const d0 = (j * pw.taps + i) * Cout * Cin;
            for (let c = 0; c < Cin; c++) for (let o = 0; o < Cout; o++) v[d0 + o * Cin + c] = w[s0 + c * Cout + o];
          }
        }
      });
      const res = callWasmKernel('Conv2D', backend, { x: dyP, filter: wP }, {
        strides: [1, 1], pad: 'valid', dilations: [1, 1], dataFormat: 'NHWC', dimRoundingMode: undefined,
      });
      backend.disposeData(dyP.dataId);
      backend.disposeData(wP.dataId);
      const r = heapOf(backend, res);
      const o = heapOf(backend, out);
      const heap = o.heap;
      for (let n = 0; n < N; n++) {
        for (let a = 0; a < ph.count; a++) {
          let src = r.base + (n * ph.count + a) * pw.count * Cin;
          let dst = o.base + ((n * H + rh + sh * a) * W + rw) * Cin;
          const step = sw * Cin;
          if (Cin >= COPY_WITHIN_MIN) {
            for (let b = 0; b < pw.count; b++, src += Cin, dst += step) heap.copyWithin(dst, src, src + Cin);
          } else {
            for (let b = 0; b < pw.count; b++, src += Cin, dst += step) for (let c = 0; c < Cin; c++) heap[dst + c] = heap[src + c];
          }
        }
      }
      backend.disposeData(res.dataId);
    }
  }
  return out;
}

/** `Conv2DBackpropInput` for 'wasm' (see module doc). */
export function conv2DBackpropInputWasm(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { dy, filter } = args.inputs;
  const attrs = args.attrs ?? {};
  assertNHWC('Conv2DBackpropInput', attrs.dataFormat);
  const inputShape = [...(attrs.inputShape as number[])];
  const ci = convInfo(inputShape, filter.shape, attrs);
  if (isEmpty(dy.shape) || isEmpty(inputShape)) return zeros(backend, inputShape);
  if (ci.strideHeight === 1 && ci.strideWidth === 1) {
    const pads = flipPads(ci);
    if (pads) return backpropInputByFlip(backend, dy, filter, ci, pads);
  }
  const native = !forceCol2Im && dy.dtype === 'float32' && filter.dtype === 'float32' ? nativeKernels(backend) : null;
  if (native) return nativeConv2DInputGrad(backend, native, dy, filter, ci);
  if (ci.dilationHeight === 1 && ci.dilationWidth === 1 && !forceCol2Im) return backpropInputByPhases(backend, dy, filter, ci, inputShape);
  return backpropInputByCol2Im(backend, dy, filter, ci, inputShape);
}
