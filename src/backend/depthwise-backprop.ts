/**
 * Depthwise conv2d gradients for tfjs' WebAssembly backend (float32, NHWC,
 * channel multiplier 1, any stride / dilation / padding), which tfjs-wasm
 * 4.x does not ship:
 *
 * - input gradient, stride 1: the transposed-convolution identity, i.e. one
 *   forward XNNPACK `DepthwiseConv2dNative` of (zero-padded) dy with the
 *   spatially flipped filter at the same dilation (see ./conv-backprop
 *   `correlateFlipped`). Other strides: a direct scatter, one pass per
 *   filter tap over contiguous runs of output pixels.
 * - filter gradient: x and dy transposed to channels-first, then per
 *   (channel, tap) dot products of contiguous row runs, accumulated in float64.
 *
 * Shapes: x / dx `[N, H, W, C]`, dy `[N, OH, OW, C]`, filter `[KH, KW, C, 1]`.
 * The multiplier > 1 case stays in ./wasm-kernels (generic loops).
 */
import * as tf from '@tensorflow/tfjs';
import { correlateFlipped, flipPads } from './conv-backprop';
import { callWasmKernel, f32, scratch, type Conv2DInfo, type WasmBackendLike } from './wasm-util';

/** Output columns `[lo, hi)` whose input column `ow*s + off` lies in `[0, size)`. */
function validRange(off: number, stride: number, size: number, outSize: number): [number, number] {
  const lo = Math.min(outSize, Math.max(0, Math.ceil(-off / stride)));
  const hi = Math.max(lo, Math.min(outSize, Math.floor((size - 1 - off) / stride) + 1));
  return [lo, hi];
}

/**
 * dW `[KH, KW, C, 1]` of a multiplier-1 depthwise conv: x and dy are first
 * transposed to channels-first (tfjs-wasm `Transpose`), so that every
 * (channel, tap) is a sum of dot products of contiguous row runs with a
 * scalar float64 accumulator.
 */
export function depthwiseFilterGradM1(backend: WasmBackendLike, x: tf.TensorInfo, dy: tf.TensorInfo, ci: Conv2DInfo, filterShape: number[]): tf.TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = ci;
  const KH = ci.filterHeight;
  const KW = ci.filterWidth;
  const sh = ci.strideHeight;
  const sw = ci.strideWidth;
  const xT = callWasmKernel('Transpose', backend, { x }, { perm: [3, 0, 1, 2] });
  const gT = callWasmKernel('Transpose', backend, { x: dy }, { perm: [3, 0, 1, 2] });
  const xv = f32(backend, xT);
  const g = f32(backend, gT);
  const acc = new Float64Array(KH * KW * C);
  const ranges = Array.from({ length: KW }, (_, kw) => validRange(kw * ci.dilationWidth - ci.padInfo.left, sw, W, OW));
  for (let c = 0; c < C; c++) {
    for (let kh = 0; kh < KH; kh++) {
      const ihOff = kh * ci.dilationHeight - ci.padInfo.top;
      for (let kw = 0; kw < KW; kw++) {
        const iwOff = kw * ci.dilationWidth - ci.padInfo.left;
        const [lo, hi] = ranges[kw];
        if (hi === lo) continue;
        let sum = 0;
        for (let n = 0; n < N; n++) {
          const xPlane = (c * N + n) * H;
          const gPlane = (c * N + n) * OH;
          for (let oh = 0; oh < OH; oh++) {
            const ih = oh * sh + ihOff;
            if (ih < 0 || ih >= H) continue;
            let xo = (xPlane + ih) * W + lo * sw + iwOff;
            const yo = (gPlane + oh) * OW;
            if (sw === 1) {
              for (let ow = lo; ow < hi; ow++, xo++) sum += xv[xo] * g[yo + ow];
            } else {
              for (let ow = lo; ow < hi; ow++, xo += sw) sum += xv[xo] * g[yo + ow];
            }
          }
        }
        acc[(kh * KW + kw) * C + c] = sum;
      }
    }
  }
  backend.disposeData(xT.dataId);
  backend.disposeData(gT.dataId);
  return scratch(backend, [...filterShape], (v) => v.set(acc));
}

/** dx `[N, H, W, C]` of a multiplier-1 depthwise conv. */
export function depthwiseInputGradM1(backend: WasmBackendLike, dy: tf.TensorInfo, filter: tf.TensorInfo, ci: Conv2DInfo, inputShape: number[]): tf.TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = ci;
  const KH = ci.filterHeight;
  const KW = ci.filterWidth;
  const sh = ci.strideHeight;
  const sw = ci.strideWidth;
  if (sh === 1 && sw === 1) {
    const pads = flipPads(ci);
    if (pads) {
      const flipped = scratch(backend, [KH, KW, C, 1], (v) => {
        const w = f32(backend, filter);
        for (let kh = 0; kh < KH; kh++) {
          for (let kw = 0; kw < KW; kw++) {
            const s = ((KH - 1 - kh) * KW + (KW - 1 - kw)) * C;
            v.set(w.subarray(s, s + C), (kh * KW + kw) * C);
          }
        }
      });
      const dx = correlateFlipped(backend, 'DepthwiseConv2dNative', dy, flipped, ci, pads);
      backend.disposeData(flipped.dataId);
      return dx;
    }
  }
  const wv = f32(backend, filter);
  const g = f32(backend, dy);
  const acc = new Float32Array(N * H * W * C);
  const xStep = sw * C;
  for (let kh = 0; kh < KH; kh++) {
    const ihOff = kh * ci.dilationHeight - ci.padInfo.top;
    for (let kw = 0; kw < KW; kw++) {
      const iwOff = kw * ci.dilationWidth - ci.padInfo.left;
      const [lo, hi] = validRange(iwOff, sw, W, OW);
      if (hi === lo) continue;
      const t = (kh * KW + kw) * C;
      for (let n = 0; n < N; n++) {
        for (let oh = 0; oh < OH; oh++) {
          const ih = oh * sh + ihOff;
          if (ih < 0 || ih >= H) continue;
          let xo = ((n * H + ih) * W + lo * sw + iwOff) * C;
          let yo = ((n * OH + oh) * OW + lo) * C;
          for (let ow = lo; ow < hi; ow++, xo += xStep, yo += C) {
            for (let c = 0; c < C; c++) acc[xo + c] += g[yo + c] * wv[t + c];
          }
        }
      }
    }
  }
  return scratch(backend, [...inputShape], (v) => v.set(acc));
}
