/**
 * medfl's own WebAssembly SIMD kernels (src/backend/native/kernels.c), bound
 * to tfjs-backend-wasm's linear memory so they read and write tensors in
 * place.
 *
 * Why: in tfjs-wasm 4.22 every convolution goes through XNNPACK's generic
 * indirect-GEMM path, which runs the small-channel convolutions of
 * segmentation networks at 3-10 GFLOP/s on this machine, and the filter
 * gradient had to be composed from transposes + im2col + GEMM. Direct NHWC
 * kernels with register tiles of 4 pixels x 8 channels (or 8 x 4) reach
 * 15-38 GFLOP/s on the same shapes (bench/micro-native.ts). The binary is
 * built by `npm run build:wasm` (clang, committed as base64), so installing
 * medfl needs no C toolchain.
 *
 * Two builds are embedded: plain SIMD128 and relaxed SIMD (the tiles'
 * multiply-accumulate as `f32x4.relaxed_madd`, an FMA on x86 with FMA3,
 * ~25% faster conv / matmul tiles here). The relaxed one is used where the
 * engine accepts it (see {@link nativeKernelsVariant}; `MEDFL_RELAXED_SIMD=0`
 * forces the plain one). Fused and unfused multiply-adds round differently
 * in the last bit, so results can differ across machines at float32
 * rounding level; on one machine they are deterministic.
 *
 * Pointers are byte offsets into tfjs' heap; the kernels allocate nothing.
 *
 * Where medfl's native CPU addon is built and switched on (../addon), its
 * conv, matmul and padding kernels (AVX-512 / AVX2, threads) replace the wasm
 * ones of the same name in the object {@link nativeKernels} returns; the
 * callers do not change.
 * `MEDFL_NATIVE=0` (or {@link setNativeKernelsEnabled}(false)) turns them off,
 * which restores the XNNPACK / composed paths (for A/B benchmarks and
 * equivalence tests).
 */
import type * as tf from '@tensorflow/tfjs';
import { KERNELS_WASM_BASE64, KERNELS_WASM_RELAXED_BASE64 } from './kernels-wasm';
import { nativeAddon, overlayAddon } from '../addon';

/** Exports of kernels.c (all pointers are byte offsets into tfjs' heap). */
export interface NativeKernels {
  /** xp[N,Hp,Wp,C] = zero-padded x[N,H,W,C] placed at (pt, pl), cropped to the padded extent. */
  pad_nhwc(x: number, xp: number, N: number, H: number, W: number, C: number, Hp: number, Wp: number, pt: number, pl: number): void;
  /** Direct conv over a padded buffer xb[N,Hb,Wb,C] with filter w[KH,KW,C,K] into y[N,Ho,Wo,K]; wpk: {@link convPanelFloats} floats of scratch. */
  conv_fwd(xb: number, N: number, Hb: number, Wb: number, C: number, w: number, KH: number, KW: number, K: number,
    sh: number, sw: number, dh: number, dw: number, y: number, Ho: number, Wo: number, wpk: number): void;
  /**
   * Addon only (absent on the wasm module): conv_fwd with the filter given as
   * [KH,KW,K,C] and used flipped and tap-transposed (tap t, input c, output k
   * reads w[T-1-t, k, c]), i.e. the stride-1 input gradient of a conv with
   * that filter without materialising the flipped copy.
   */
  conv_fwd_flipped?(xb: number, N: number, Hb: number, Wb: number, C: number, w: number, KH: number, KW: number, K: number,
    sh: number, sw: number, dh: number, dw: number, y: number, Ho: number, Wo: number, wpk: number): void;
  /** Addon only: out[P,C] = (x + negMean) * factor + shift in one pass (vectors tiled); equals chan_affine's two passes bit for bit. */
  chan_norm?(x: number, negMean: number, factor: number, shift: number, P: number, C: number, out: number): void;
  /** Filter gradient out[KH,KW,C,K] from a padded buffer xb[N,Hb,Wb,C] and dy[N,Ho,Wo,K]. */
  conv_dw(xb: number, N: number, Hb: number, Wb: number, C: number, dy: number, Ho: number, Wo: number, K: number,
    KH: number, KW: number, sh: number, sw: number, dh: number, dw: number, out: number): void;
  /** wt[t, k, c] = w[t, c, k] for T taps. */
  transpose_taps(w: number, T: number, C: number, K: number, wt: number): void;
  /** Input gradient dx[N,H,W,C] (zeroed first) by scatter from dy[N,Ho,Wo,K] and tap-transposed filter wt[KH,KW,K,C]. */
  conv_dx_scatter(dy: number, N: number, Ho: number, Wo: number, K: number, wt: number, KH: number, KW: number, C: number,
    sh: number, sw: number, dh: number, dw: number, pt: number, pl: number, dx: number, H: number, W: number): void;
  /**
   * Addon only: depthwise (multiplier 1) forward y[N,Ho,Wo,C] over a padded
   * buffer xb[N,Hb,Wb,C] with filter w[KH,KW,C] (taps summed in order).
   */
  dwconv_fwd?(xb: number, N: number, Hb: number, Wb: number, C: number, w: number, KH: number, KW: number,
    sh: number, sw: number, dh: number, dw: number, y: number, Ho: number, Wo: number): void;
  /**
   * Addon only: SegNet 2x2 max-unpooling of x[N,H,W,C] (H, W even): bwd 0,
   * out[N,H,W,C] from v[N,H/2,W/2,C]; bwd 1, v is dy[N,H,W,C] and out is
   * dv[N,H/2,W/2,C] (see src/models/blocks/unpool.ts).
   */
  unpool2x2?(x: number, v: number, out: number, N: number, H: number, W: number, C: number, bwd: number): void;
  /** Addon only: `outer` runs of `len` 4-byte elements from src (byte offset; run stride srcStride elements) to dst (dstStride), threaded. */
  copy_runs?(src: number, srcStride: number, dst: number, dstStride: number, len: number, outer: number): void;
  /** Addon only: out = a + b (op 0) or a * b (op 1) over n floats (same shapes), threaded. */
  ew_binary?(a: number, b: number, out: number, n: number, op: number): void;
  /** Depthwise (multiplier 1) filter gradient out[KH,KW,C] from a padded buffer xb[N,Hb,Wb,C] and dy[N,Ho,Wo,C]. */
  dw_conv_dw(xb: number, N: number, Hb: number, Wb: number, C: number, dy: number, Ho: number, Wo: number, KH: number, KW: number,
    sh: number, sw: number, dh: number, dw: number, out: number): void;
  /** PReLU gradient: dx[P,C], float64 dalpha sums acc[C]; part: C float32 scratch. */
  prelu_grad(dy: number, x: number, alpha: number, P: number, C: number, dx: number, acc: number, part: number): void;
  /** out[b] = A[b] B[b] (A strided: element (i,k) at a + i*ars + k*acs; B K x N, or N x K when transB; batch strides 0 broadcast; bp: K*ceil(N/8)*8 floats of scratch). */
  matmul(a: number, aStride: number, ars: number, acs: number, b: number, bStride: number, transB: number, bp: number, out: number,
    batch: number, M: number, K: number, N: number): void;
  /** x[r, j] = act(x[r, j] + bias[j]) (bias 0: none; relu 1: ReLU). */
  bias_act(x: number, R: number, N: number, bias: number, relu: number): void;
  /** Max-pool gradient into dx (zeroed first) routed to the first window entry equal to the pooled y; returns the (window, channel) pairs with none (NaN). */
  max_pool_grad(x: number, y: number, dy: number, N: number, H: number, W: number, C: number, OH: number, OW: number, KH: number, KW: number,
    sh: number, sw: number, pt: number, pl: number, dx: number): number;
  /** Average-pool gradient dx (zeroed first) = mult * sum of dy over the windows covering each input pixel. */
  avg_pool_grad(dy: number, N: number, H: number, W: number, C: number, OH: number, OW: number, KH: number, KW: number,
    sh: number, sw: number, pt: number, pl: number, mult: number, dx: number): void;
  /** LayerNorm over the last axis of x[R, C]: y, xhat [R, C] and rstd [R]. */
  layer_norm_fwd(x: number, R: number, C: number, gamma: number, beta: number, eps: number, y: number, xhat: number, rstd: number): void;
  /** LayerNorm input gradient dx [R, C] from dy, xhat, rstd, gamma. */
  layer_norm_bwd(dy: number, xhat: number, rstd: number, gamma: number, R: number, C: number, dx: number): void;
  /** Exact GELU y = 0.5 x (1 + erf(x / sqrt 2)) over n floats (tfjs' erf approximation). */
  gelu_fwd(x: number, y: number, n: number): void;
  /** GELU gradient dx = dy (Phi(x) + x phi(x)) over n floats. */
  gelu_bwd(dy: number, x: number, dx: number, n: number): void;
  /** ReLU gradient over n floats: dx = dy where x > 0, dy * 0 elsewhere, NaN where x is NaN. */
  relu_grad(dy: number, x: number, dx: number, n: number): void;
  /** Per-channel sums of x[P,C] (or of (x - sub)^2, sub tiled) into float64 acc[C]; part: {@link tileWidth}(C) float32 scratch. */
  chan_sum(x: number, P: number, C: number, sub: number, acc: number, part: number): void;
  /** BatchNorm backward sums: acc[C] = sum dy, acc2[C] = sum dy (x - mean), float64; mean tiled; part: 2 tileWidth(C) float32. */
  bn_grad_sums(dy: number, x: number, mean: number, P: number, C: number, acc: number, acc2: number, part: number): void;
  /** out[P,C] = a sa[c] + shift[c] (+ b sb[c] when b != 0; sa = 0: a + shift); sa, sb, shift tiled. */
  chan_affine(a: number, sa: number, b: number, sb: number, shift: number, P: number, C: number, out: number): void;
}

interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: abstract new (...args: never[]) => object;
}
const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

let enabled = process.env.MEDFL_NATIVE !== '0';
let relaxedWanted = process.env.MEDFL_RELAXED_SIMD !== '0';
let compiled: { module: object; variant: NativeVariant } | null | undefined;
let bound: { memory: object; kernels: NativeKernels; addon: boolean } | null = null;

/** Which build of the kernels runs: with relaxed SIMD (FMA multiply-accumulate) or plain SIMD128. */
export type NativeVariant = 'relaxed-simd' | 'simd';

/** Turn medfl's native kernels on or off (default on unless MEDFL_NATIVE=0); returns the previous setting. */
export function setNativeKernelsEnabled(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

/** Whether the native kernels are switched on (they may still be unavailable, see {@link nativeKernels}). */
export function nativeKernelsEnabled(): boolean {
  return enabled;
}

/**
 * Prefer the relaxed-SIMD build (default, unless MEDFL_RELAXED_SIMD=0) or
 * force the plain SIMD128 one (A/B benchmarks, tests); returns the previous
 * preference. Takes effect at the next {@link nativeKernels} call.
 */
export function setRelaxedSimd(on: boolean): boolean {
  const prev = relaxedWanted;
  if (on !== relaxedWanted) {
    relaxedWanted = on;
    compiled = undefined;
    bound = null;
  }
  return prev;
}

/** The build the kernels run with (null when they cannot run here). */
export function nativeKernelsVariant(): NativeVariant | null {
  return compile()?.variant ?? null;
}

/**
 * Whether this engine validates relaxed-SIMD code. Node >= 22 does by
 * default; Node 20 (V8 11.3) has it behind --experimental-wasm-relaxed-simd,
 * which is set here: the flag only widens what the wasm validator accepts,
 * for modules compiled afterwards (tfjs-wasm's own is unaffected).
 */
function relaxedAccepted(bytes: Uint8Array): boolean {
  if (!WA) return false;
  if (WA.validate(bytes)) return true;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    (require('v8') as { setFlagsFromString(flags: string): void }).setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    return false;
  }
  return WA.validate(bytes);
}

function compile(): { module: object; variant: NativeVariant } | null {
  if (compiled !== undefined) return compiled;
  compiled = null;
  if (!WA) return compiled;
  if (relaxedWanted) {
    const bytes = Buffer.from(KERNELS_WASM_RELAXED_BASE64, 'base64');
    try {
      if (relaxedAccepted(bytes)) compiled = { module: new WA.Module(bytes), variant: 'relaxed-simd' };
    } catch {
      compiled = null;
    }
  }
  if (!compiled) {
    try {
      compiled = { module: new WA.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64')), variant: 'simd' };
    } catch {
      compiled = null; // no SIMD128 / bulk memory in this engine
    }
  }
  return compiled;
}

/**
 * The kernels bound to `backend`'s memory (a tfjs-wasm backend), or null when
 * switched off, when the backend is not tfjs-wasm, or when this JavaScript
 * engine cannot compile WebAssembly SIMD.
 */
export function nativeKernels(backend: unknown): NativeKernels | null {
  if (!enabled) return null;
  const memory = (backend as { wasm?: { asm?: { memory?: unknown } } } | null)?.wasm?.asm?.memory;
  if (!WA || !(memory instanceof WA.Memory)) return null;
  const addon = nativeAddon() !== null;
  if (bound && bound.memory === memory && bound.addon === addon) return bound.kernels;
  const mod = compile();
  if (!mod) return null;
  const inst = new WA.Instance(mod.module, { env: { memory } });
  const wasmKernels = inst.exports as unknown as NativeKernels;
  bound = { memory, kernels: addon ? overlayAddon(wasmKernels, memory as { buffer: ArrayBuffer }) : wasmKernels, addon };
  return bound.kernels;
}

/**
 * Length W of the per-channel vectors the channel kernels (`chan_sum`,
 * `bn_grad_sums`, `chan_affine`) take: C when C % 4 == 0, else 4C (the vector
 * repeated 4 times), so they run 4-wide SIMD over groups of W / C rows.
 */
export function tileWidth(C: number): number {
  return C % 4 === 0 ? C : 4 * C;
}

/** Write `src` (C values) repeated to fill `dst` (tileWidth(C) values). */
export function tileInto(dst: Float32Array, src: ArrayLike<number>, C: number): void {
  for (let i = 0; i < dst.length; i++) dst[i] = src[i % C];
}

/** Floats of scratch `conv_fwd` needs to pack a [KH, KW, C, K] filter into panels of 8 (K % 8 == 0) or 4 channels. */
export function convPanelFloats(KH: number, KW: number, C: number, K: number): number {
  const bw = K % 8 === 0 ? 8 : 4;
  return Math.max(1, KH * KW * C * Math.ceil(K / bw) * bw);
}

/** {@link nativeKernels}, or an error naming the medfl kernel `name` that needs them. */
export function requireNativeKernels(backend: unknown, name: string): NativeKernels {
  const k = nativeKernels(backend);
  if (!k) throw new Error(`${name}: medfl's native wasm kernels are unavailable (MEDFL_NATIVE=0 or no WebAssembly SIMD)`);
  return k;
}

/** Byte offset of a tensor's data on the tfjs-wasm heap. */
export function heapPtr(backend: unknown, info: tf.TensorInfo): number {
  const rec = (backend as { dataIdMap: { get(id: object): { memoryOffset: number } | undefined } }).dataIdMap.get(info.dataId);
  if (!rec) throw new Error('medfl native kernel: tensor data is not on the wasm heap (disposed?)');
  return rec.memoryOffset;
}

/**
 * Float64 view of `n` values at a scratch tensor's heap offset (the native
 * kernels' float64 accumulators). Take it after the last allocation: heap
 * growth detaches earlier views.
 */
export function heapF64(backend: unknown, info: tf.TensorInfo, n: number): Float64Array {
  const buf = (backend as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer;
  return new Float64Array(buf, heapPtr(backend, info), n);
}
