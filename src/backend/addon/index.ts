/**
 * medfl's native CPU addon (`build/medfl_native.node`, built from
 * ./addon.c + ./kernels.c by scripts/build-addon.js at `npm install` /
 * `npm ci`): the conv forward, filter gradient, input-gradient scatter,
 * depthwise forward and filter gradient, matrix product, padding and
 * filter-transpose kernels of src/backend/native,
 * and its memory-bound BatchNorm / bias / ReLU- and PReLU-gradient passes and Adam update (bit-identical) compiled from C
 * with AVX-512 / AVX2 + FMA / baseline SIMD chosen at run time, on a pthread
 * pool, working in place on the tfjs-wasm heap.
 *
 * The addon exports the same functions, with the same arguments (byte offsets
 * into tfjs' heap), as the wasm module of src/backend/native, which overlays
 * them on its wasm exports ({@link overlayAddon}); everything else in tfjs
 * is untouched. Where the addon was not built or cannot load (no compiler at
 * install, another platform), or with `MEDFL_NATIVE_ADDON=0` (or
 * {@link setNativeAddonEnabled}(false)), the wasm SIMD kernels run instead.
 *
 * Threads: `MEDFL_THREADS` if set, else `os.availableParallelism()`
 * ({@link setNativeThreads} changes it). Work is split by output elements and
 * each element is accumulated in one fixed order, so results are the same for
 * any thread count (bit for bit); they differ from the wasm kernels (and
 * between AVX-512/AVX2 and the baseline build) at float32 rounding level
 * (fused multiply-adds, other summation blocking).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Instruction-set level the addon's kernels run with. */
export type AddonIsa = 'avx512' | 'avx2' | 'baseline';

/** The kernels the addon provides (signatures as src/backend/native's `NativeKernels`). */
export const ADDON_KERNELS = [
  'conv_fwd', 'conv_fwd_flipped', 'conv_dw', 'conv_dx_scatter', 'matmul', 'pad_nhwc', 'transpose_taps', 'chan_sum', 'bn_grad_sums', 'chan_affine', 'chan_norm', 'relu_grad', 'bias_act', 'max_pool_grad', 'adam', 'dwconv_fwd', 'dw_conv_dw', 'ew_binary', 'unpool2x2', 'gelu_fwd', 'gelu_bwd', 'copy_runs', 'prelu_grad',
] as const;
type AddonKernelName = (typeof ADDON_KERNELS)[number];

interface AddonModule extends Record<AddonKernelName, (...args: number[]) => number | undefined> {
  setHeap(buf: ArrayBuffer): void;
  setThreads(n: number): void;
  threads(): number;
  isa(): AddonIsa;
  setIsa(isa: AddonIsa): AddonIsa;
}

/** What {@link nativeAddonInfo} reports. */
export interface NativeAddonInfo {
  /** The addon loaded (it may still be switched off, see `enabled`). */
  loaded: boolean;
  /** Switched on (default unless MEDFL_NATIVE_ADDON=0). */
  enabled: boolean;
  /** Path looked at. */
  path: string;
  /** ISA level in use (null when not loaded). */
  isa: AddonIsa | null;
  /** Threads of its pool. */
  threads: number;
  /** Why it is not loaded. */
  reason?: string;
}

let enabled = process.env.MEDFL_NATIVE_ADDON !== '0';
let mod: AddonModule | null | undefined;
let loadError: string | undefined;
let threads = defaultThreads();

/** `MEDFL_THREADS` when set to a positive integer, else `os.availableParallelism()` (at least 1). */
function defaultThreads(): number {
  const env = process.env.MEDFL_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`MEDFL_THREADS: expected a positive integer, got '${env}'`);
    return n;
  }
  const osx = os as unknown as { availableParallelism?: () => number };
  return Math.max(1, osx.availableParallelism ? osx.availableParallelism() : os.cpus().length);
}

/** Path of the built addon (the same from src/ and from the compiled dist/). */
export function nativeAddonPath(): string {
  const candidates = [path.resolve(__dirname, '../../../build/medfl_native.node'), path.resolve(__dirname, '../../../../build/medfl_native.node')];
  return candidates.find((p) => fs.existsSync(p)) ?? candidates[0];
}

function load(): AddonModule | null {
  if (mod !== undefined) return mod;
  mod = null;
  const p = nativeAddonPath();
  if (!fs.existsSync(p)) {
    loadError = `${p} not built (npm run build:addon)`;
    return mod;
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const m = require(p) as AddonModule;
    if (ADDON_KERNELS.some((k) => typeof m[k] !== 'function')) throw new Error('it lacks kernels (rebuild: npm run build:addon)');
    m.setThreads(threads);
    mod = m;
  } catch (e) {
    loadError = `${p} failed to load: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
  }
  return mod;
}

/** Turn the addon on or off (default on unless MEDFL_NATIVE_ADDON=0); returns the previous setting. Takes effect at the next kernel lookup. */
export function setNativeAddonEnabled(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

/** The loaded addon when it is switched on, else null. */
export function nativeAddon(): AddonModule | null {
  return enabled ? load() : null;
}

/**
 * Threads for the addon's kernels (default `MEDFL_THREADS` or
 * `os.availableParallelism()`); returns the previous count. Results do not
 * depend on it.
 */
export function setNativeThreads(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`setNativeThreads: expected a positive integer, got ${n}`);
  const prev = threads;
  threads = n;
  mod?.setThreads(n);
  return prev;
}

/** Threads the addon's kernels use. */
export function nativeThreads(): number {
  return threads;
}

/**
 * Cap the addon's instruction set ('avx512' | 'avx2' | 'baseline'; the CPU's
 * best is the default): for tests and A/B benchmarks. Returns the level now
 * in use (never above what the CPU supports), or null without the addon.
 */
export function setNativeAddonIsa(isa: AddonIsa): AddonIsa | null {
  const m = load();
  return m ? m.setIsa(isa) : null;
}

/** Whether the addon is built, loaded and switched on, its ISA and threads. */
export function nativeAddonInfo(): NativeAddonInfo {
  const m = load();
  return { loaded: m !== null, enabled, path: nativeAddonPath(), isa: m ? m.isa() : null, threads, ...(m ? {} : { reason: loadError }) };
}

/**
 * `kernels` (the wasm module's exports) with the addon's kernels in place of
 * the wasm ones, bound to `memory` (tfjs-wasm's `WebAssembly.Memory`): each
 * call hands the addon the heap's current ArrayBuffer when it changed (heap
 * growth detaches the old one). Returns `kernels` itself without the addon.
 */
export function overlayAddon<T extends object>(kernels: T, memory: { buffer: ArrayBuffer }): T {
  const m = nativeAddon();
  if (!m) return kernels;
  let buf: ArrayBuffer | null = null;
  const out: Record<string, unknown> = { ...(kernels as Record<string, unknown>) };
  for (const name of ADDON_KERNELS) {
    const f = m[name];
    out[name] = (...args: number[]) => {
      const b = memory.buffer;
      if (b !== buf) {
        m.setHeap(b);
        buf = b;
      }
      return f(...args);
    };
  }
  return out as T;
}
