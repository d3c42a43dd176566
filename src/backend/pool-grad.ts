/**
 * `MaxPoolGrad` for tfjs' WebAssembly backend: routes each output gradient to
 * the first maximum of its pooling window (row-major window order, as tfjs'
 * CPU backend does), in one pass over the windows with the channel loop
 * innermost (NHWC-contiguous). tfjs-wasm's own C++ kernel is several times
 * slower on the 2x2/stride-2 pools of U-Net style encoders.
 * Shapes: input `[N, H, W, C]`, dy `[N, OH, OW, C]` -> dx `[N, H, W, C]`.
 */
import * as tf from '@tensorflow/tfjs';
import { f32, type KernelArgs, type WasmBackendLike } from './wasm-util';

/** `MaxPoolGrad` for 'wasm' (float32). */
export function maxPoolGradWasm(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { dy, input } = args.inputs;
  const attrs = args.attrs ?? {};
  const pi = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize as [number, number] | number,
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = pi;
  const KH = pi.effectiveFilterHeight;
  const KW = pi.effectiveFilterWidth;
  const acc = new Float32Array(N * H * W * C);
  const best = new Float32Array(C);
  const pos = new Int32Array(C);
  const x = f32(backend, input);
  const g = f32(backend, dy);
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * pi.strideHeight - pi.padInfo.top;
      const hLo = Math.max(0, h0);
      const hHi = Math.min(H, h0 + KH);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = ow * pi.strideWidth - pi.padInfo.left;
        const wLo = Math.max(0, w0);
        const wHi = Math.min(W, w0 + KW);
        best.fill(-Infinity);
        pos.fill(-1);
        for (let ih = hLo; ih < hHi; ih++) {
          for (let iw = wLo; iw < wHi; iw++) {
            const base = ((n * H + ih) * W + iw) * C;
            for (let c = 0; c < C; c++) {
              const v = x[base + c];
              if (v > best[c] || pos[c] < 0) {
                best[c] = v;
                pos[c] = base;
              }
            }
          }
        }
        const gBase = ((n * OH + oh) * OW + ow) * C;
        for (let c = 0; c < C; c++) if (pos[c] >= 0) acc[pos[c] + c] += g[gBase + c];
      }
    }
  }
  const out = backend.makeOutput([...input.shape], 'float32');
  f32(backend, out).set(acc);
  return out;
}
