/**
 * Convolutions on medfl's native WebAssembly SIMD kernels (./native): direct
 * NHWC loops with register tiles, used for tfjs-wasm's `Conv2D` and
 * `FusedConv2D` (forward), `Conv2DBackpropFilter`, and `Conv2DBackpropInput`
 * (./conv-backprop: a forward conv with the flipped filter at stride 1, the
 * scatter kernel below otherwise).
 *
 * Forward and filter gradient first copy the input into a zero-padded scratch
 * buffer (one pass; skipped when no padding is needed), so the inner loops
 * have no bounds checks; the forward pass also packs the filter into panels
 * of 8 (or 4, zero-padded) output channels. Any stride, dilation and 'same' /
 * 'valid' / explicit padding; NHWC float32 only.
 *
 * Measured against tfjs-wasm's XNNPACK path at batch 8 (bench/micro-native.ts):
 * forward ~1.5x faster on the 8-256-channel layers of the zoo, filter
 * gradient 3-5x faster than im2col + GEMM; 30-50 GFLOP/s with the relaxed
 * SIMD build.
 */
import * as tf from '@tensorflow/tfjs';
import { convPanelFloats, heapPtr, nativeKernels, type NativeKernels } from './native';
import { callWasmKernel, convInfoFromAttrs, type Conv2DInfo, type KernelArgs, type WasmBackendLike } from './wasm-util';

/** Padded extent the conv reads, and where the input sits in it. */
interface PaddedInput {
  /** Buffer to read (the input itself, or a padded scratch copy). */
  buf: tf.TensorInfo;
  Hb: number;
  Wb: number;
  /** True when `buf` is a scratch tensor the caller must dispose. */
  scratch: boolean;
}

function paddedInput(backend: WasmBackendLike, k: NativeKernels, x: tf.TensorInfo, ci: Conv2DInfo): PaddedInput {
  const N = ci.batchSize;
  const { inHeight: H, inWidth: W, inChannels: C } = ci;
  const Hb = (ci.outHeight - 1) * ci.strideHeight + (ci.filterHeight - 1) * ci.dilationHeight + 1;
  const Wb = (ci.outWidth - 1) * ci.strideWidth + (ci.filterWidth - 1) * ci.dilationWidth + 1;
  const pt = ci.padInfo.top;
  const pl = ci.padInfo.left;
  if (pt === 0 && pl === 0 && Hb <= H && Wb <= W) return { buf: x, Hb: H, Wb: W, scratch: false };
  const xp = backend.makeOutput([N, Hb, Wb, C], 'float32');
  k.pad_nhwc(heapPtr(backend, x), heapPtr(backend, xp), N, H, W, C, Hb, Wb, pt, pl);
  return { buf: xp, Hb, Wb, scratch: true };
}

/**
 * `y = conv2d(x, filter)` with geometry `ci`, on the native kernels. With
 * `flipped` (only where `k.conv_fwd_flipped` exists, i.e. the addon), `filter`
 * is the [KH, KW, K, C] filter whose flipped, tap-transposed copy the conv uses.
 */
export function nativeConv2D(backend: WasmBackendLike, k: NativeKernels, x: tf.TensorInfo, filter: tf.TensorInfo, ci: Conv2DInfo, flipped = false): tf.TensorInfo {
  const out = backend.makeOutput([ci.batchSize, ci.outHeight, ci.outWidth, ci.outChannels], 'float32');
  if (ci.outHeight * ci.outWidth * ci.batchSize === 0 || ci.outChannels === 0) return out;
  const p = paddedInput(backend, k, x, ci);
  const fwd = flipped ? k.conv_fwd_flipped : k.conv_fwd;
  if (!fwd) throw new Error('nativeConv2D: flipped filters need the native addon (conv_fwd_flipped)');
  // The wasm kernel packs the filter into heap scratch; the addon uses its own.
  const panels = backend.makeOutput([k.conv_fwd_flipped ? 1 : convPanelFloats(ci.filterHeight, ci.filterWidth, ci.inChannels, ci.outChannels)], 'float32');
  fwd(
    heapPtr(backend, p.buf), ci.batchSize, p.Hb, p.Wb, ci.inChannels,
    heapPtr(backend, filter), ci.filterHeight, ci.filterWidth, ci.outChannels,
    ci.strideHeight, ci.strideWidth, ci.dilationHeight, ci.dilationWidth,
    heapPtr(backend, out), ci.outHeight, ci.outWidth, heapPtr(backend, panels),
  );
  backend.disposeData(panels.dataId);
  if (p.scratch) backend.disposeData(p.buf.dataId);
  return out;
}

/** `dW[KH,KW,C,K]` of a conv with geometry `ci`, from its input `x` and output gradient `dy`. */
export function nativeConv2DFilterGrad(backend: WasmBackendLike, k: NativeKernels, x: tf.TensorInfo, dy: tf.TensorInfo, ci: Conv2DInfo): tf.TensorInfo {
  const out = backend.makeOutput([ci.filterHeight, ci.filterWidth, ci.inChannels, ci.outChannels], 'float32');
  const p = paddedInput(backend, k, x, ci);
  k.conv_dw(
    heapPtr(backend, p.buf), ci.batchSize, p.Hb, p.Wb, ci.inChannels,
    heapPtr(backend, dy), ci.outHeight, ci.outWidth, ci.outChannels,
    ci.filterHeight, ci.filterWidth, ci.strideHeight, ci.strideWidth, ci.dilationHeight, ci.dilationWidth,
    heapPtr(backend, out),
  );
  if (p.scratch) backend.disposeData(p.buf.dataId);
  return out;
}

/**
 * The network's forward `Conv2D` / `FusedConv2D` on the native kernel (default
 * on; `MEDFL_NATIVE_CONV_FORWARD=0` restores tfjs-wasm's XNNPACK forward).
 *
 * Both kernels must take the same path: tfjs-core runs `fused.conv2d` as one
 * `FusedConv2D` outside gradient tapes and as `Conv2D` + `Add` + activation
 * inside them, and split learning computes a part's forward pass outside the
 * tape and its gradients inside. When the two disagreed in rounding (native
 * vs XNNPACK), BatchNorm over tiny activations (batch 2, 1x1 at the bottom of
 * DUCK-Net) amplified the difference into a 10% gradient mismatch between
 * split and unsplit networks.
 */
let nativeConvForward = process.env.MEDFL_NATIVE_CONV_FORWARD !== '0';

/** Switch the forward `Conv2D` / `FusedConv2D` between native and XNNPACK; returns the previous setting. */
export function setNativeConvForward(on: boolean): boolean {
  const prev = nativeConvForward;
  nativeConvForward = on;
  return prev;
}

function nativeForwardFor(args: KernelArgs): NativeKernels | null {
  const { x, filter } = args.inputs;
  const fmt = args.attrs?.dataFormat;
  if (!nativeConvForward || x.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  if (fmt != null && fmt !== 'NHWC' && fmt !== 'channelsLast') return null;
  return nativeKernels(args.backend);
}

/**
 * tfjs-wasm's `Conv2D`, replaced: float32 NHWC convolutions run on the native
 * kernels when they are available (see {@link setNativeConvForward});
 * everything else on tfjs-wasm's original XNNPACK kernel.
 */
export function makeConv2DWasm(original: tf.KernelFunc): (args: KernelArgs) => unknown {
  return (args: KernelArgs) => {
    const k = nativeForwardFor(args);
    if (!k) return original(args as unknown as Parameters<tf.KernelFunc>[0]);
    const { x, filter } = args.inputs;
    const ci = convInfoFromAttrs(x.shape, filter.shape, args.attrs ?? {}, false);
    return nativeConv2D(args.backend as WasmBackendLike, k, x, filter, ci);
  };
}

/** The unfused kernel tfjs-core applies for each fused activation (tfjs-core's `applyActivation`). */
const ACTIVATION_KERNELS: Record<string, string> = { elu: 'Elu', relu6: 'Relu6', sigmoid: 'Sigmoid', leakyrelu: 'LeakyRelu', prelu: 'Prelu' };

/** The conv a fused kernel wraps: its forward pass on the native kernels, and its geometry. */
interface FusedConvParts {
  info(x: tf.TensorInfo, filter: tf.TensorInfo, attrs: Record<string, unknown>): Conv2DInfo;
  conv(backend: WasmBackendLike, k: NativeKernels, x: tf.TensorInfo, filter: tf.TensorInfo, ci: Conv2DInfo): tf.TensorInfo;
  /** Native kernels when this call can run on them, else null (tfjs-wasm's original kernel runs). */
  kernels(args: KernelArgs): NativeKernels | null;
}

/**
 * A fused conv kernel (conv + bias + activation, used outside gradient tapes)
 * that computes exactly what its unfused conv + `Add` + activation compute
 * inside a tape: the native conv, then the bias and linear / ReLU in place
 * (one pass), or the other activations through tfjs-wasm's own unfused
 * kernels. Bias of any broadcastable shape.
 */
function makeFusedWasm(parts: FusedConvParts, original: tf.KernelFunc): (args: KernelArgs) => unknown {
  return (args: KernelArgs) => {
    const attrs = args.attrs ?? {};
    const act = (attrs.activation as string | undefined) ?? 'linear';
    const { x, filter, bias, preluActivationWeights } = args.inputs;
    const k = parts.kernels(args);
    const actKernel = ACTIVATION_KERNELS[act];
    if (!k || (act !== 'linear' && act !== 'relu' && !actKernel) || (bias && bias.dtype !== 'float32')) {
      return original(args as unknown as Parameters<tf.KernelFunc>[0]);
    }
    const backend = args.backend as WasmBackendLike;
    let y = parts.conv(backend, k, x, filter, parts.info(x, filter, attrs));
    const K = y.shape[y.shape.length - 1];
    const rows = tf.util.sizeFromShape(y.shape) / Math.max(1, K);
    const channelBias = bias != null && tf.util.sizeFromShape(bias.shape) === K && bias.shape[bias.shape.length - 1] === K;
    if (bias && !channelBias) {
      const sum = callWasmKernel('Add', backend, { a: y, b: bias }, {});
      backend.disposeData(y.dataId);
      y = sum;
    }
    const relu = act === 'relu';
    if (channelBias || relu) k.bias_act(heapPtr(backend, y), rows, K, channelBias ? heapPtr(backend, bias!) : 0, relu ? 1 : 0);
    if (actKernel) {
      const inputs: Record<string, tf.TensorInfo> = { x: y };
      if (act === 'prelu') {
        if (!preluActivationWeights) throw new Error("medfl fused conv: activation 'prelu' needs preluActivationWeights");
        inputs.alpha = preluActivationWeights;
      }
      const z = callWasmKernel(actKernel, backend, inputs, act === 'leakyrelu' ? { alpha: attrs.leakyreluAlpha ?? 0.2 } : {});
      backend.disposeData(y.dataId);
      y = z;
    }
    return y;
  };
}

/** tfjs-wasm's `FusedConv2D`, replaced (see {@link makeFusedWasm}): the native conv when {@link makeConv2DWasm} would use it. */
export function makeFusedConv2DWasm(original: tf.KernelFunc): (args: KernelArgs) => unknown {
  return makeFusedWasm({ info: (x, f, attrs) => convInfoFromAttrs(x.shape, f.shape, attrs, false), conv: nativeConv2D, kernels: nativeForwardFor }, original);
}

/**
 * `y[N,Ho,Wo,C]` of a depthwise conv (channel multiplier 1) with geometry
 * `ci` on the native addon's kernel (`k.dwconv_fwd`), over the zero-padded
 * input.
 */
export function nativeDepthwiseConv2D(backend: WasmBackendLike, k: NativeKernels, x: tf.TensorInfo, filter: tf.TensorInfo, ci: Conv2DInfo): tf.TensorInfo {
  if (!k.dwconv_fwd) throw new Error('nativeDepthwiseConv2D: needs the native addon (dwconv_fwd)');
  const out = backend.makeOutput([ci.batchSize, ci.outHeight, ci.outWidth, ci.outChannels], 'float32');
  if (ci.outHeight * ci.outWidth * ci.batchSize * ci.outChannels === 0) return out;
  const p = paddedInput(backend, k, x, ci);
  k.dwconv_fwd(
    heapPtr(backend, p.buf), ci.batchSize, p.Hb, p.Wb, ci.inChannels, heapPtr(backend, filter), ci.filterHeight, ci.filterWidth,
    ci.strideHeight, ci.strideWidth, ci.dilationHeight, ci.dilationWidth, heapPtr(backend, out), ci.outHeight, ci.outWidth,
  );
  if (p.scratch) backend.disposeData(p.buf.dataId);
  return out;
}

/**
 * Native kernels for a depthwise forward call: with the addon (tfjs-wasm's
 * XNNPACK depthwise conv is single-threaded; the wasm SIMD module has no
 * depthwise forward, so without the addon XNNPACK runs), float32 NHWC,
 * channel multiplier 1, and {@link setNativeConvForward} on.
 */
function nativeDepthwiseFor(args: KernelArgs): NativeKernels | null {
  const { x, filter } = args.inputs;
  const fmt = args.attrs?.dataFormat;
  if (!nativeConvForward || x.dtype !== 'float32' || filter.dtype !== 'float32' || filter.shape[3] !== 1) return null;
  if (fmt != null && fmt !== 'NHWC' && fmt !== 'channelsLast') return null;
  const k = nativeKernels(args.backend);
  return k?.dwconv_fwd ? k : null;
}

/**
 * tfjs-wasm's `DepthwiseConv2dNative`, replaced: multiplier-1 float32 NHWC
 * depthwise convs run on the native addon's threaded kernel when it is
 * loaded; everything else on tfjs-wasm's XNNPACK kernel. Also the stride-1
 * depthwise input gradient (a forward conv with the flipped filter, see
 * ./depthwise-backprop).
 */
export function makeDepthwiseConv2DWasm(original: tf.KernelFunc): (args: KernelArgs) => unknown {
  return (args: KernelArgs) => {
    const k = nativeDepthwiseFor(args);
    if (!k) return original(args as unknown as Parameters<tf.KernelFunc>[0]);
    const { x, filter } = args.inputs;
    return nativeDepthwiseConv2D(args.backend as WasmBackendLike, k, x, filter, convInfoFromAttrs(x.shape, filter.shape, args.attrs ?? {}, true));
  };
}

/** tfjs-wasm's `FusedDepthwiseConv2D`, replaced like `FusedConv2D`, so fused and unfused depthwise convs agree bit for bit. */
export function makeFusedDepthwiseConv2DWasm(original: tf.KernelFunc): (args: KernelArgs) => unknown {
  return makeFusedWasm({ info: (x, f, attrs) => convInfoFromAttrs(x.shape, f.shape, attrs, true), conv: nativeDepthwiseConv2D, kernels: nativeDepthwiseFor }, original);
}

/**
 * `dx[N,H,W,C]` of a conv with geometry `ci` from `dy` and the filter, by
 * scatter: each dy pixel adds `W[ky,kx] dy` to the input pixels its taps read
 * (any stride, dilation and padding). Used for strided convolutions (and
 * `Conv2DTranspose`'s forward pass), where the stride-1 flipped-filter
 * identity does not apply.
 */
export function nativeConv2DInputGrad(backend: WasmBackendLike, k: NativeKernels, dy: tf.TensorInfo, filter: tf.TensorInfo, ci: Conv2DInfo): tf.TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outChannels: K, filterHeight: KH, filterWidth: KW } = ci;
  const dx = backend.makeOutput([N, H, W, C], 'float32');
  if (N * H * W * C === 0) return dx;
  const wt = backend.makeOutput([KH, KW, K, C], 'float32');
  k.transpose_taps(heapPtr(backend, filter), KH * KW, C, K, heapPtr(backend, wt));
  k.conv_dx_scatter(
    heapPtr(backend, dy), N, ci.outHeight, ci.outWidth, K, heapPtr(backend, wt), KH, KW, C,
    ci.strideHeight, ci.strideWidth, ci.dilationHeight, ci.dilationWidth, ci.padInfo.top, ci.padInfo.left,
    heapPtr(backend, dx), H, W,
  );
  backend.disposeData(wt.dataId);
  return dx;
}

/** Depthwise (channel multiplier 1) filter gradient `[KH,KW,C,1]` with geometry `ci` (computed for depthwise). */
export function nativeDepthwiseFilterGrad(backend: WasmBackendLike, k: NativeKernels, x: tf.TensorInfo, dy: tf.TensorInfo, ci: Conv2DInfo): tf.TensorInfo {
  const out = backend.makeOutput([ci.filterHeight, ci.filterWidth, ci.inChannels, 1], 'float32');
  const p = paddedInput(backend, k, x, ci);
  k.dw_conv_dw(
    heapPtr(backend, p.buf), ci.batchSize, p.Hb, p.Wb, ci.inChannels, heapPtr(backend, dy), ci.outHeight, ci.outWidth,
    ci.filterHeight, ci.filterWidth, ci.strideHeight, ci.strideWidth, ci.dilationHeight, ci.dilationWidth, heapPtr(backend, out),
  );
  if (p.scratch) backend.disposeData(p.buf.dataId);
  return out;
}
