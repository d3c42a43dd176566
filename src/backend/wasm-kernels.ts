/**
 * Kernels medfl registers for tfjs' WebAssembly backend so convolutional
 * networks train on it, and train fast:
 *
 * Missing in tfjs-wasm 4.x ({@link WASM_GRADIENT_KERNELS}):
 * - `Conv2DBackpropFilter`: medfl's native filter-gradient kernel, or
 *   (fallback) transposed im2col written straight into the wasm heap +
 *   XNNPACK GEMM (see ./conv-backprop). Honours an extra, optional
 *   `dilations` attribute (medfl's dilated-conv gradient uses it).
 * - `DepthwiseConv2dNativeBackpropFilter` / `DepthwiseConv2dNativeBackpropInput`:
 *   multiplier 1 via ./depthwise-backprop (stride-1 input gradient as an
 *   XNNPACK depthwise conv with the flipped filter, per-tap run loops
 *   otherwise); other multipliers by direct loops over the heap. Strides,
 *   dilations and 'same' / 'valid' / explicit padding.
 * - `UnsortedSegmentSum`: needed by the gradient of `gather` (e.g. relative
 *   position bias tables in Swin blocks).
 *
 * Replaced because tfjs-wasm's own is slow ({@link WASM_OVERRIDE_KERNELS}):
 * - `Conv2D`, `FusedConv2D`, `BatchMatMul`, `_FusedMatMul` (linear / ReLU),
 *   `Sum` over all axes but the last: medfl's native SIMD kernels
 *   (./native-conv, ./native-matmul, ./native-reduce), tfjs-wasm's own
 *   otherwise.
 * - `Conv2DBackpropInput` (a naive direct C++ loop upstream): a native
 *   forward conv with the flipped filter for stride 1, a native scatter
 *   otherwise (XNNPACK conv / col2im + GEMM when the native kernels are off;
 *   see ./conv-backprop).
 * - `Concat` / `SplitV`: run-length copies on the heap instead of one
 *   `subarray().set()` per pixel; `Slice` / `PadV2`: the same box copy
 *   (tfjs-wasm's copy element by element) (see ./layout-kernels).
 * - `MaxPoolGrad`: one native pass, 4 channels at a time, routing to the first
 *   maximum (a JS loop for NaN windows; see ./pool-grad).
 * - `Identity` and same-dtype `Cast`: share the input's data (reference count)
 *   instead of copying it.
 * - `AvgPoolGrad`: one native scatter pass (see ./pool-grad).
 * - `Add` of a per-channel bias `x[..., C] + b[C]`: one native pass; `Add` /
 *   `Multiply` of same-shape tensors: the addon's threaded pass (./native-bias).
 * - `DepthwiseConv2dNative` / `FusedDepthwiseConv2D` (multiplier 1): the
 *   native addon's threaded kernel when it is loaded (XNNPACK otherwise).
 *
 * Also registered: `MedflBatchNormTrain` / `MedflBatchNormTrainGrad`
 * (./native-batchnorm), `MedflPreluGrad` and `MedflReluGrad` with the `Prelu`
 * and `Relu` gradients routed through them on wasm (./native-prelu,
 * ./native-relu), `MedflGelu` / `MedflGeluGrad` (./native-gelu) and
 * `MedflLayerNorm` / `MedflLayerNormGrad` (./native-layernorm) and
 * `MedflUnpool2x2` / `MedflUnpool2x2Grad` (./native-unpool, addon only).
 *
 * Intermediates created here are released with `backend.disposeData`.
 * All kernels are float32 NHWC only and say so when given anything else.
 */
import * as tf from '@tensorflow/tfjs';
import { conv2DBackpropFilterWasm, conv2DBackpropInputWasm } from './conv-backprop';
import { makeConcatWasm, makePadV2Wasm, makeSliceWasm, makeSplitVWasm } from './layout-kernels';
import { makeAvgPoolGradWasm, maxPoolGradWasm } from './pool-grad';
import { makeConv2DWasm, makeDepthwiseConv2DWasm, makeFusedConv2DWasm, makeFusedDepthwiseConv2DWasm, nativeDepthwiseFilterGrad } from './native-conv';
import { nativeKernels } from './native';
import { registerNativePreluGradient } from './native-prelu';
import { registerNativeReluGradient } from './native-relu';
import { makeAddWasm, makeFusedBatchNormWasm, makeMultiplyWasm } from './native-bias';
import { registerNativeGeluKernels } from './native-gelu';
import { registerNativeLayerNormKernels } from './native-layernorm';
import { registerNativeUnpoolKernels } from './native-unpool';
import { makeBatchMatMulWasm, makeFusedMatMulWasm } from './native-matmul';
import { makeMeanWasm, makeSumWasm } from './native-reduce';
import { registerNativeBatchNormKernels } from './native-batchnorm';
import { depthwiseFilterGradM1, depthwiseInputGradM1 } from './depthwise-backprop';
import { convInfoFromAttrs, f32, type Conv2DInfo, type KernelArgs, type WasmBackendLike } from './wasm-util';

function depthwiseInfo(xShape: number[], filterShape: number[], attrs: Record<string, unknown>): Conv2DInfo {
  return convInfoFromAttrs(xShape, filterShape, attrs, true);
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

let genericDepthwise = false;

/**
 * Send multiplier-1 depthwise gradients through the generic per-tap loops
 * instead of ./depthwise-backprop (for cross-checks and benchmarks).
 * Returns the previous setting.
 */
export function setGenericDepthwiseGradients(on: boolean): boolean {
  const prev = genericDepthwise;
  genericDepthwise = on;
  return prev;
}

function depthwiseBackpropFilterWasm(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, dy } = args.inputs;
  const attrs = args.attrs ?? {};
  const filterShape = attrs.filterShape as number[];
  const ci = depthwiseInfo(x.shape, filterShape, attrs);
  const C = ci.inChannels;
  const mult = ci.outChannels / C;
  const native = mult === 1 && !genericDepthwise && x.dtype === 'float32' ? nativeKernels(backend) : null;
  if (native) return nativeDepthwiseFilterGrad(backend, native, x, dy, ci);
  if (mult === 1 && !genericDepthwise) return depthwiseFilterGradM1(backend, x, dy, ci, filterShape);
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
  if (mult === 1 && !genericDepthwise) return depthwiseInputGradM1(backend, dy, filter, ci, inputShape);
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

/** Kernel names tfjs-wasm lacks and this module registers for 'wasm'. */
export const WASM_GRADIENT_KERNELS = [
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'UnsortedSegmentSum',
] as const;

/** Kernel names tfjs-wasm has (slowly) and this module replaces for 'wasm'. */
export const WASM_OVERRIDE_KERNELS = [
  'Conv2D', 'FusedConv2D', 'BatchMatMul', '_FusedMatMul', 'Sum', 'Conv2DBackpropInput', 'Concat', 'SplitV', 'Slice', 'PadV2', 'MaxPoolGrad', 'AvgPoolGrad', 'Identity', 'Cast', 'Add',
  'FusedBatchNorm', 'Mean', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2D', 'Multiply',
] as const;

type MissingName = (typeof WASM_GRADIENT_KERNELS)[number];
type OverrideName = (typeof WASM_OVERRIDE_KERNELS)[number];

const KERNELS: Record<MissingName, (args: KernelArgs) => tf.TensorInfo> = {
  Conv2DBackpropFilter: conv2DBackpropFilterWasm,
  DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilterWasm,
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInputWasm,
  UnsortedSegmentSum: unsortedSegmentSumWasm,
};

/** Factories of the replacements, given tfjs-wasm's kernel (for fallbacks). */
const OVERRIDES: Record<OverrideName, (original: tf.KernelFunc) => (args: KernelArgs) => unknown> = {
  Conv2D: makeConv2DWasm,
  FusedConv2D: makeFusedConv2DWasm,
  BatchMatMul: makeBatchMatMulWasm,
  _FusedMatMul: makeFusedMatMulWasm,
  Sum: makeSumWasm,
  Conv2DBackpropInput: () => conv2DBackpropInputWasm,
  Concat: makeConcatWasm,
  SplitV: makeSplitVWasm,
  Slice: makeSliceWasm,
  PadV2: makePadV2Wasm,
  MaxPoolGrad: () => maxPoolGradWasm,
  AvgPoolGrad: makeAvgPoolGradWasm,
  Identity: makeIdentityWasm,
  Cast: makeCastWasm,
  Add: makeAddWasm,
  FusedBatchNorm: makeFusedBatchNormWasm,
  Mean: makeMeanWasm,
  DepthwiseConv2dNative: makeDepthwiseConv2DWasm,
  FusedDepthwiseConv2D: makeFusedDepthwiseConv2DWasm,
  Multiply: makeMultiplyWasm,
};

/**
 * `Cast` to the tensor's own dtype (tfjs-core's gradient of `Identity`, i.e.
 * of every tensor it saved for the backward pass) shares the data like
 * {@link makeIdentityWasm}; real conversions go to tfjs-wasm's kernel.
 */
function makeCastWasm(original: tf.KernelFunc): (args: KernelArgs) => unknown {
  const identity = makeIdentityWasm(original);
  return (args: KernelArgs) => (args.attrs?.dtype === args.inputs.x.dtype ? identity(args) : original(args as unknown as Parameters<tf.KernelFunc>[0]));
}

/**
 * `Identity` sharing the input's heap data (reference counted, as tfjs' CPU
 * and WebGL backends do) instead of tfjs-wasm's malloc + copy. tfjs-core
 * clones every tensor it saves for the backward pass through this kernel:
 * ~10 M floats copied per DeepLabV3 training step at 128x128. Tensors are
 * immutable (no kernel here writes into an input), so sharing is safe.
 */
function makeIdentityWasm(original: tf.KernelFunc): (args: KernelArgs) => unknown {
  return (args: KernelArgs) => {
    const { x } = args.inputs;
    const be = args.backend as unknown as { incRef(dataId: tf.DataId): void };
    if (x.dtype === 'string' || typeof be.incRef !== 'function') return original(args as unknown as Parameters<tf.KernelFunc>[0]);
    be.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/** Marks kernel functions installed by this module (idempotent registration). */
const MEDFL = Symbol.for('medfl.wasmKernel');

function install(name: string, fn: (args: KernelArgs) => unknown, replaced?: tf.KernelConfig): void {
  (fn as unknown as Record<symbol, boolean>)[MEDFL] = true;
  // Keep the replaced kernel's setup (e.g. binding its wasm function), which
  // the backend runs at initialisation: the replacement falls back to it.
  tf.registerKernel({
    kernelName: name, backendName: 'wasm', kernelFunc: fn as unknown as tf.KernelFunc,
    setupFunc: replaced?.setupFunc, disposeFunc: replaced?.disposeFunc,
  });
}

/**
 * Register medfl's kernels for the 'wasm' backend. Idempotent: a missing
 * kernel already registered (by an earlier call or a future tfjs) is left
 * alone; an override replaces tfjs-wasm's kernel once. Returns the names it
 * registered now.
 */
export function registerWasmGradientKernels(): string[] {
  const added: string[] = [];
  registerNativeBatchNormKernels();
  registerNativePreluGradient();
  registerNativeReluGradient();
  registerNativeGeluKernels();
  registerNativeLayerNormKernels();
  registerNativeUnpoolKernels();
  for (const name of WASM_GRADIENT_KERNELS) {
    if (tf.getKernel(name, 'wasm')) continue;
    install(name, KERNELS[name]);
    added.push(name);
  }
  for (const name of WASM_OVERRIDE_KERNELS) {
    const current = tf.getKernel(name, 'wasm');
    if (current && (current.kernelFunc as unknown as Record<symbol, boolean>)[MEDFL]) continue;
    const original: tf.KernelFunc =
      current?.kernelFunc ??
      (() => {
        throw new Error(`medfl wasm kernel: no original '${name}' kernel to fall back to`);
      });
    if (current) tf.unregisterKernel(name, 'wasm');
    install(name, OVERRIDES[name](original), current);
    added.push(name);
  }
  return added;
}
