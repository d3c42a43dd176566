/**
 * `MaxPoolGrad` for tfjs' WebAssembly backend: routes each output gradient to
 * the first maximum of its pooling window (row-major window order, as tfjs'
 * CPU backend does). With the forward output at hand (tfjs passes it), each
 * (window, channel) scans only until the first entry equal to the pooled
 * maximum; windows holding NaN fall back to the CPU backend's comparison
 * loop. tfjs-wasm's own C++ kernel is several times slower on the
 * 2x2/stride-2 pools of U-Net style encoders. With medfl's native kernels the
 * same routing runs 4 channels at a time (`max_pool_grad`, ./native): 5x5
 * stride-1 pools (RefineNet's chained residual pooling) cost ~5 ms per call
 * in the JS loop.
 * Shapes: input `[N, H, W, C]`, dy `[N, OH, OW, C]` -> dx `[N, H, W, C]`.
 */
import * as tf from '@tensorflow/tfjs';
import { heapPtr, nativeKernels } from './native';
import { f32, type KernelArgs, type WasmBackendLike } from './wasm-util';

/** Pooling geometry of a pool-gradient kernel's `input` and attributes (dilation 1). */
function poolInfo(input: tf.TensorInfo, attrs: Record<string, unknown>) {
  return tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize as [number, number] | number,
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
}

/** `MaxPoolGrad` for 'wasm' (float32). */
export function maxPoolGradWasm(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { dy, input } = args.inputs;
  const attrs = args.attrs ?? {};
  const pi = poolInfo(input, attrs);
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = pi;
  const KH = pi.effectiveFilterHeight;
  const KW = pi.effectiveFilterWidth;
  const pooled = args.inputs.output;
  const pooledOk = pooled != null && pooled.shape.length === 4 && pooled.shape.every((d, i) => d === dy.shape[i]);
  const k = pooledOk && input.dtype === 'float32' && dy.dtype === 'float32' ? nativeKernels(backend) : null;
  if (k) {
    const out = backend.makeOutput([...input.shape], 'float32');
    const missing = k.max_pool_grad(
      heapPtr(backend, input), heapPtr(backend, pooled!), heapPtr(backend, dy), N, H, W, C, OH, OW, KH, KW,
      pi.strideHeight, pi.strideWidth, pi.padInfo.top, pi.padInfo.left, heapPtr(backend, out),
    );
    if (missing === 0) return out;
    backend.disposeData(out.dataId); // NaN windows: the loop below resolves them as the CPU backend does
  }
  const acc = new Float32Array(N * H * W * C);
  const x = f32(backend, input);
  const g = f32(backend, dy);
  const y = pooledOk ? f32(backend, pooled!) : null;
  const best = new Float32Array(C);
  const pos = new Int32Array(C);
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * pi.strideHeight - pi.padInfo.top;
      const hLo = Math.max(0, h0);
      const hHi = Math.min(H, h0 + KH);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = ow * pi.strideWidth - pi.padInfo.left;
        const wLo = Math.max(0, w0);
        const wHi = Math.min(W, w0 + KW);
        const gBase = ((n * OH + oh) * OW + ow) * C;
        if (y !== null) {
          // The forward max is known: the first window entry equal to it wins.
          let missing = false;
          for (let c = 0; c < C; c++) {
            const m = y[gBase + c];
            let found = -1;
            for (let ih = hLo; ih < hHi && found < 0; ih++) {
              let b = ((n * H + ih) * W + wLo) * C + c;
              for (let iw = wLo; iw < wHi; iw++, b += C) {
                if (x[b] === m) {
                  found = b;
                  break;
                }
              }
            }
            if (found >= 0) acc[found] += g[gBase + c];
            else missing = true; // NaN windows: resolved below exactly as the CPU backend does
          }
          if (!missing) continue;
        }
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
        for (let c = 0; c < C; c++) {
          if (pos[c] < 0) continue;
          if (y !== null && x[pos[c] + c] === y[gBase + c]) continue; // already routed above
          acc[pos[c] + c] += g[gBase + c];
        }
      }
    }
  }
  const out = backend.makeOutput([...input.shape], 'float32');
  f32(backend, out).set(acc);
  return out;
}

/**
 * `AvgPoolGrad` for 'wasm' (float32) on the native kernel, with tfjs' CPU
 * backend's definition (the sum of dy over the windows covering a pixel times
 * the constant 1 / (KH KW)); tfjs-wasm's own takes ~3 ms on SUNet's
 * [8,32,32,32] 2x2 pool. Falls back to `original` without the native kernels.
 */
export function makeAvgPoolGradWasm(original: tf.KernelFunc): (args: KernelArgs) => unknown {
  return (args: KernelArgs) => {
    const backend = args.backend as WasmBackendLike;
    const { dy, input } = args.inputs;
    const k = dy.dtype === 'float32' && input.shape.length === 4 ? nativeKernels(backend) : null;
    if (!k) return original(args as unknown as Parameters<tf.KernelFunc>[0]);
    const attrs = args.attrs ?? {};
    const pi = poolInfo(input, attrs);
    const dx = backend.makeOutput([...input.shape], 'float32');
    k.avg_pool_grad(
      heapPtr(backend, dy), pi.batchSize, pi.inHeight, pi.inWidth, pi.inChannels, pi.outHeight, pi.outWidth,
      pi.effectiveFilterHeight, pi.effectiveFilterWidth, pi.strideHeight, pi.strideWidth, pi.padInfo.top, pi.padInfo.left,
      1 / (pi.filterHeight * pi.filterWidth), heapPtr(backend, dx),
    );
    return dx;
  };
}
