/**
 * Engine selection. medfl trains on whatever tfjs backend loads, in this order:
 *
 * 1. `@tensorflow/tfjs-node-gpu` (CUDA) and 2. `@tensorflow/tfjs-node` (native
 *    TensorFlow): optional accelerators, loaded only when the user installed
 *    them (their install downloads a native library, so they are never hard
 *    dependencies);
 * 3. `wasm`: `@tensorflow/tfjs-backend-wasm` (the default here), with medfl's
 *    gradient kernels registered (it ships without Conv2DBackpropFilter and the
 *    depthwise backprops); its heaviest kernels run natively (AVX-512 / AVX2,
 *    threads) where the addon built at install loads (./addon;
 *    `MEDFL_NATIVE_ADDON=0` keeps the WebAssembly ones, `MEDFL_THREADS=n`);
 * 4. `cpu`: plain JavaScript, >100x slower for conv training; only used when
 *    asked for or when nothing else loads.
 *
 * `MEDFL_BACKEND=wasm|cpu|tensorflow` forces one. Every backend also gets
 * dilation-capable conv gradients (see ./dilated-gradients) and a fused
 * training-mode BatchNorm for tfjs-layers (see ./batchnorm-training), and
 * tfjs-core's gradient tape filter in linear time (see ./tape-gradients).
 * {@link createAdam} (./adam) is tfjs' Adam with a fused update on wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { registerWasmGradientKernels } from './wasm-kernels';
import { registerDilatedConvGradients } from './dilated-gradients';
import { registerFusedBatchNormTraining } from './batchnorm-training';
import { installLinearTapeFilter } from './tape-gradients';

/** Names accepted by {@link initBackend} and `MEDFL_BACKEND`. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

const VALID: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

/** What {@link initBackend} settled on. */
export interface BackendInfo {
  /** The tfjs backend name now active ('tensorflow', 'wasm' or 'cpu'). */
  name: BackendName;
  /** Which package provided it, e.g. '@tensorflow/tfjs-node-gpu'. */
  provider: string;
  /** Backends that were tried and failed, with the reason. */
  skipped: { name: string; reason: string }[];
}

let active: BackendInfo | null = null;
let pending: Promise<BackendInfo> | null = null;

function tryRequire(id: string): string | null {
  try {
    // Loaded dynamically on purpose: optional accelerators.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    require(id);
    return null;
  } catch (e) {
    return e instanceof Error ? e.message.split('\n')[0] : String(e);
  }
}

async function activate(name: BackendName): Promise<boolean> {
  try {
    return (await tf.setBackend(name)) && tf.getBackend() === name;
  } catch {
    return false;
  }
}

async function select(preferred: BackendName | undefined, log: (msg: string) => void): Promise<BackendInfo> {
  const skipped: { name: string; reason: string }[] = [];
  const order: BackendName[] = preferred ? [preferred] : ['tensorflow', 'wasm', 'cpu'];
  for (const name of order) {
    if (name === 'tensorflow') {
      for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
        const err = tryRequire(pkg);
        if (err !== null) {
          skipped.push({ name: pkg, reason: `not installed or failed to load (${err})` });
          continue;
        }
        if (tf.findBackend('tensorflow') && (await activate('tensorflow'))) {
          return done({ name, provider: pkg, skipped }, log);
        }
        skipped.push({ name: pkg, reason: 'loaded but did not register a usable tensorflow backend' });
      }
    } else if (name === 'wasm') {
      const err = tryRequire('@tensorflow/tfjs-backend-wasm');
      if (err !== null) {
        skipped.push({ name: 'wasm', reason: err });
        continue;
      }
      registerWasmGradientKernels();
      if (await activate('wasm')) return done({ name, provider: '@tensorflow/tfjs-backend-wasm', skipped }, log);
      skipped.push({ name: 'wasm', reason: 'setBackend("wasm") failed' });
    } else {
      if (await activate('cpu')) return done({ name, provider: '@tensorflow/tfjs (cpu)', skipped }, log);
      skipped.push({ name: 'cpu', reason: 'setBackend("cpu") failed' });
    }
  }
  const detail = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  throw new Error(`medfl: no tfjs backend could be initialised (${preferred ? `requested '${preferred}'` : 'tried tensorflow, wasm, cpu'}): ${detail}`);
}

function done(info: BackendInfo, log: (msg: string) => void): BackendInfo {
  // After the accelerator attempts: loading @tensorflow/tfjs-node brings its own
  // tfjs-core copy, which re-registers tfjs' (dilation-less) gradients globally.
  registerDilatedConvGradients();
  registerFusedBatchNormTraining();
  installLinearTapeFilter();
  active = info;
  log(`[medfl] backend: ${info.name} (${info.provider})`);
  return info;
}

/** Parse a backend name (from an argument or `MEDFL_BACKEND`); throws listing valid names. */
export function parseBackendName(value: string, source = 'backend'): BackendName {
  const v = value.trim().toLowerCase();
  if ((VALID as readonly string[]).includes(v)) return v as BackendName;
  throw new Error(`${source}: unknown backend '${value}'. Valid: ${VALID.join(', ')}`);
}

/**
 * Pick and activate the training engine (see module doc for the order).
 * `preferred` (or env `MEDFL_BACKEND`) forces one backend and fails if it cannot load.
 * Idempotent: later calls return the first result (a different `preferred`
 * switches backend). Logs the chosen name once through `options.log`
 * (default `console.log`; pass `() => {}` to silence).
 */
export async function initBackend(
  preferred?: BackendName,
  options: { log?: (msg: string) => void } = {},
): Promise<BackendInfo> {
  const log = options.log ?? ((m: string) => console.log(m));
  const env = process.env.MEDFL_BACKEND;
  const want = preferred ?? (env ? parseBackendName(env, 'MEDFL_BACKEND') : undefined);
  if (active && (!want || active.name === want)) {
    registerDilatedConvGradients(); // re-asserts the gradients if another tfjs-core copy replaced them
    if (tf.getBackend() !== active.name) await tf.setBackend(active.name);
    return active;
  }
  if (pending) {
    const info = await pending;
    if (!want || info.name === want) return info;
  }
  pending = select(want, log);
  try {
    return await pending;
  } finally {
    pending = null;
  }
}

/** The backend chosen by {@link initBackend}, or null before it ran. */
export function currentBackend(): BackendInfo | null {
  return active;
}

export { registerWasmGradientKernels, WASM_GRADIENT_KERNELS, WASM_OVERRIDE_KERNELS } from './wasm-kernels';
export { setConvColumnChunk } from './conv-backprop';
export { registerDilatedConvGradients, dilateFilter } from './dilated-gradients';
export { registerFusedBatchNormTraining, batchNormTraining, type BatchNormTrainingResult } from './batchnorm-training';
export { createAdam, FusedAdamOptimizer, adamSimdAvailable, snapshotAdam, restoreAdam, disposeAdamSnapshot, type AdamSnapshot } from './adam';
export { installLinearTapeFilter, uninstallLinearTapeFilter } from './tape-gradients';
export {
  setNativeAddonEnabled, setNativeThreads, nativeThreads, nativeAddonInfo, setNativeAddonIsa, type NativeAddonInfo, type AddonIsa,
} from './addon';
