/**
 * Adam (Kingma & Ba 2014, arXiv:1412.6980) with tfjs' exact update, fused
 * into one pass per variable on the WebAssembly backend.
 *
 * `tf.train.adam` runs ~16 small kernels per variable and step (two moment
 * updates, bias corrections, sqrt, epsilon, scaling, assignment); for the
 * many small variables of a segmentation network that dispatch cost
 * dominates. {@link FusedAdamOptimizer} is a `tf.AdamOptimizer` whose
 * `applyGradients`, on 'wasm', reads gradient, moments and weights straight
 * from the wasm heap and writes the three new tensors in one pass: the
 * native addon's threaded kernel where it is loaded (src/backend/addon),
 * else a tiny WebAssembly SIMD kernel (assembled at runtime, sharing
 * tfjs-wasm's memory) for groups of 4 and a JS loop for the rest (and
 * everywhere when the engine lacks SIMD). Both reproduce tfjs' float32 arithmetic operation by
 * operation (same order, float32 rounding after each step), i.e. per element:
 *
 * ```
 * m' = b1 m + (1 - b1) g            v' = b2 v + (1 - b2) g^2
 * w' = w + (-lr) * (m' / (1 - b1^t)) / (sqrt(v' / (1 - b2^t)) + eps)
 * ```
 *
 * with epsilon *outside* the square root and the bias corrections applied to
 * the moments (tfjs' placement, not the paper's folded step size), eps
 * defaulting to the backend's epsilon (1e-7 for float32). State (moment
 * variables, `accBeta1/2`, iterations), `getWeights` / `setWeights`,
 * `getConfig` and serialisation are inherited unchanged, so a fused and a
 * plain tfjs Adam are interchangeable mid-training. Other backends run the
 * inherited implementation.
 */
import * as tf from '@tensorflow/tfjs';
import type { WasmBackendLike } from './wasm-util';
import { nativeAddon } from './addon';

/** The private state of `tf.AdamOptimizer` this subclass updates. */
interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  accumulatedSecondMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  incrementIterations(): void;
}

interface WasmBackendWithIds extends WasmBackendLike {
  dataIdMap: { has(dataId: object): boolean };
}

const fr = Math.fround;

/** `{ name, tensor }` pairs as `Optimizer.applyGradients` accepts them. */
export interface NamedGradient {
  name: string;
  tensor: tf.Tensor;
}

/** The parts of the global `WebAssembly` object used here (the project compiles without DOM typings). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: abstract new (...args: never[]) => object;
}
const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/**
 * `adam(g, m, v, w, m2, v2, w2 byte offsets, n, b1, b2, c1, c2, o1, o2, eps, negLr)`:
 * the SIMD kernel (updates n & ~3 elements, returns nothing) or the native
 * addon's (all n, over its threads; returns n).
 */
type SimdAdam = (...args: number[]) => number | void;

/** LEB128 of an unsigned integer. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function name(s: string): number[] {
  return [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
}

/**
 * A 4-lane WebAssembly SIMD Adam update over the tfjs-wasm heap, assembled
 * here byte by byte (no toolchain needed): for i in [0, n & ~3)
 * `m2 = m*b1 + g*c1; v2 = v*b2 + (g*g)*c2; w2 = ((m2/o1) / (sqrt(v2/o2) + eps)) * negLr + w`
 * in IEEE float32, i.e. exactly tfjs' kernel sequence. The n % 4 tail is
 * left to the caller. Null when the engine rejects the module (no SIMD).
 */
function assembleSimdAdam(memory: object): SimdAdam | null {
  if (!WA) return null;
  const I32 = 0x7f;
  const F32 = 0x7d;
  const V128 = 0x7b;
  const get = (i: number) => [0x20, i];
  const set = (i: number) => [0x21, i];
  const simd = (op: number) => [0xfd, ...uleb(op)];
  const load = [...simd(0x00), 2, 0];
  const store = [...simd(0x0b), 2, 0];
  const [splat, sqrt, add, mul, div] = [0x13, 0xe3, 0xe4, 0xe6, 0xe7].map(simd);
  const I = 16; // byte counter
  const END = 17;
  const [B1, B2, C1, C2, O1, O2, EPS, LR, G, M, V] = [18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28];
  const at = (ptrParam: number) => [...get(ptrParam), ...get(I), 0x6a];
  const code = [
    ...[B1, B2, C1, C2, O1, O2, EPS, LR].flatMap((l, k) => [...get(8 + k), ...splat, ...set(l)]),
    ...get(7), 0x41, 0x7c /* -4 */, 0x71, 0x41, 2, 0x74, ...set(END),
    0x02, 0x40, 0x03, 0x40,
    ...get(I), ...get(END), 0x4f, 0x0d, 1,
    ...at(0), ...load, ...set(G),
    ...at(1), ...load, ...get(B1), ...mul, ...get(G), ...get(C1), ...mul, ...add, ...set(M),
    ...at(2), ...load, ...get(B2), ...mul, ...get(G), ...get(G), ...mul, ...get(C2), ...mul, ...add, ...set(V),
    ...at(4), ...get(M), ...store,
    ...at(5), ...get(V), ...store,
    ...at(6),
    ...get(M), ...get(O1), ...div,
    ...get(V), ...get(O2), ...div, ...sqrt, ...get(EPS), ...add,
    ...div, ...get(LR), ...mul,
    ...at(3), ...load, ...add,
    ...store,
    ...get(I), 0x41, 16, 0x6a, ...set(I),
    0x0c, 0,
    0x0b, 0x0b, 0x0b,
  ];
  const body = [2, 2, I32, 11, V128, ...code];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 16, ...Array(8).fill(I32), ...Array(8).fill(F32), 0]),
    ...section(2, [1, ...name('env'), ...name('memory'), 0x02, 0x00, 0x00]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name('adam'), 0x00, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ];
  try {
    const mod = new WA.Module(new Uint8Array(bytes));
    const inst = new WA.Instance(mod, { env: { memory } });
    return inst.exports.adam as SimdAdam;
  } catch {
    return null;
  }
}

let simdFor: { memory: object; fn: SimdAdam | null } | null = null;

/** The SIMD kernel bound to the wasm backend's memory, or null. */
function simdAdam(backend: unknown): SimdAdam | null {
  const memory = (backend as { wasm?: { asm?: { memory?: unknown } } }).wasm?.asm?.memory;
  if (!WA || !(memory instanceof WA.Memory)) return null;
  if (!simdFor || simdFor.memory !== memory) simdFor = { memory, fn: process.env.MEDFL_ADAM_NO_SIMD ? null : assembleSimdAdam(memory) };
  return simdFor.fn;
}

/**
 * The update kernel for this step: the native addon's (same arithmetic, all
 * elements, on its threads) when it is loaded and switched on, else the
 * WebAssembly SIMD one, else null (JS loop).
 */
function adamKernel(backend: unknown): SimdAdam | null {
  const simd = simdAdam(backend);
  const addon = process.env.MEDFL_ADAM_NO_SIMD ? null : nativeAddon();
  const memory = (backend as { wasm?: { asm?: { memory?: { buffer: ArrayBuffer } } } }).wasm?.asm?.memory;
  if (!addon || !memory) return simd;
  return (...args: number[]) => {
    addon.setHeap(memory.buffer); // the heap may have grown (detaching the old buffer) since the last kernel
    return addon.adam(...args);
  };
}

/** `tf.AdamOptimizer` with a fused, bit-compatible update on 'wasm' (see module doc). */
export class FusedAdamOptimizer extends tf.AdamOptimizer {
  /** Same arguments and defaults as `tf.train.adam`. */
  constructor(learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon: number | null = null) {
    super(learningRate, beta1, beta2, epsilon as number);
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedGradient[]): void {
    const self = this as unknown as AdamInternals;
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    const gradOf = (i: number, name: string): tf.Tensor | undefined =>
      Array.isArray(variableGradients) ? variableGradients[i].tensor : variableGradients[name];
    const registered = tf.engine().registeredVariables;
    const backend = tf.backend() as unknown as WasmBackendWithIds;
    const onWasm =
      tf.getBackend() === 'wasm' &&
      typeof backend.typedArrayFromHeap === 'function' &&
      names.every((name, i) => {
        const g = gradOf(i, name);
        const w = registered[name];
        return w != null && w.dtype === 'float32' && (g == null || (g.dtype === 'float32' && backend.dataIdMap.has(g.dataId) && g.size === w.size));
      });
    if (!onWasm) {
      super.applyGradients(variableGradients as Parameters<tf.AdamOptimizer['applyGradients']>[0]);
      return;
    }
    const b1 = fr(self.beta1);
    const b2 = fr(self.beta2);
    const c1 = fr(1 - self.beta1);
    const c2 = fr(1 - self.beta2);
    const eps = fr(self.epsilon);
    const negLr = fr(-self.learningRate);
    const acc1 = (self.accBeta1.dataSync() as Float32Array)[0];
    const acc2 = (self.accBeta2.dataSync() as Float32Array)[0];
    const oneMinusAcc1 = fr(1 - acc1);
    const oneMinusAcc2 = fr(1 - acc2);
    const kernel = adamKernel(backend);
    const engine = tf.engine() as unknown as { makeTensorFromTensorInfo(info: tf.TensorInfo): tf.Tensor };
    tf.tidy(() => {
      names.forEach((name, i) => {
        const value = registered[name];
        if (self.accumulatedFirstMoment[i] == null) {
          self.accumulatedFirstMoment[i] = { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        }
        if (self.accumulatedSecondMoment[i] == null) {
          self.accumulatedSecondMoment[i] = { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        }
        const grad = gradOf(i, name);
        if (grad == null) return;
        const mVar = (self.accumulatedFirstMoment[i] as { variable: tf.Variable }).variable;
        const vVar = (self.accumulatedSecondMoment[i] as { variable: tf.Variable }).variable;
        const shape = [...value.shape];
        const mOut = backend.makeOutput(shape, 'float32');
        const vOut = backend.makeOutput(shape, 'float32');
        const wOut = backend.makeOutput(shape, 'float32');
        // Views only after every allocation (growing the heap detaches views).
        const g = backend.typedArrayFromHeap(grad) as Float32Array;
        const m = backend.typedArrayFromHeap(mVar) as Float32Array;
        const v = backend.typedArrayFromHeap(vVar) as Float32Array;
        const w = backend.typedArrayFromHeap(value) as Float32Array;
        const m2 = backend.typedArrayFromHeap(mOut) as Float32Array;
        const v2 = backend.typedArrayFromHeap(vOut) as Float32Array;
        const w2 = backend.typedArrayFromHeap(wOut) as Float32Array;
        let k0 = 0;
        if (kernel && w.length >= 4) {
          const done = kernel(g.byteOffset, m.byteOffset, v.byteOffset, w.byteOffset, m2.byteOffset, v2.byteOffset, w2.byteOffset, w.length, b1, b2, c1, c2, oneMinusAcc1, oneMinusAcc2, eps, negLr);
          k0 = typeof done === 'number' ? done : w.length & ~3;
        }
        for (let k = k0; k < w.length; k++) {
          const gk = g[k];
          const mk = fr(fr(m[k] * b1) + fr(gk * c1));
          const vk = fr(fr(v[k] * b2) + fr(fr(gk * gk) * c2));
          m2[k] = mk;
          v2[k] = vk;
          const mHat = fr(mk / oneMinusAcc1);
          const vHat = fr(vk / oneMinusAcc2);
          const step = fr(fr(mHat / fr(fr(Math.sqrt(vHat)) + eps)) * negLr);
          w2[k] = step + w[k];
        }
        mVar.assign(engine.makeTensorFromTensorInfo(mOut));
        vVar.assign(engine.makeTensorFromTensorInfo(vOut));
        value.assign(engine.makeTensorFromTensorInfo(wOut));
      });
      self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
    });
    self.incrementIterations();
  }
}

/** Whether the fused update runs its WebAssembly SIMD kernel on the active backend (false off 'wasm'). */
export function adamSimdAvailable(): boolean {
  return tf.getBackend() === 'wasm' && simdAdam(tf.backend()) !== null;
}

/**
 * Adam with tfjs' semantics and defaults (`tf.train.adam(learningRate = 1e-3,
 * beta1 = 0.9, beta2 = 0.999, epsilon = backend epsilon)`), fused on 'wasm'
 * (see {@link FusedAdamOptimizer}). Use it wherever medfl builds an Adam.
 */
export function createAdam(learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon?: number): tf.AdamOptimizer {
  return new FusedAdamOptimizer(learningRate, beta1, beta2, epsilon ?? null);
}

/** A copy of an Adam optimizer's whole state (moments, iterations, bias-correction accumulators), independent of the optimizer. */
export interface AdamSnapshot {
  /** `optimizer.getWeights()` with every tensor cloned. */
  weights: { name: string; tensor: tf.Tensor }[];
  accBeta1: number;
  accBeta2: number;
}

/** Copy the state of `opt` (e.g. before a step that may have to be undone). Dispose with {@link disposeAdamSnapshot}. */
export async function snapshotAdam(opt: tf.AdamOptimizer): Promise<AdamSnapshot> {
  const self = opt as unknown as AdamInternals;
  const current = await opt.getWeights();
  const weights = current.map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
  // getWeights makes a new scalar for the iteration count (the moments are the optimizer's own variables)
  tf.dispose(current.filter((w) => !(w.tensor instanceof tf.Variable)).map((w) => w.tensor));
  return { weights, accBeta1: (self.accBeta1.dataSync() as Float32Array)[0], accBeta2: (self.accBeta2.dataSync() as Float32Array)[0] };
}

/** Free the tensors of a snapshot. */
export function disposeAdamSnapshot(s: AdamSnapshot): void {
  tf.dispose(s.weights.map((w) => w.tensor));
}

/**
 * A new optimizer (same hyper-parameters as `like`) holding exactly the state
 * of `snapshot`, bit for bit: tfjs' `setWeights` recomputes the bias-correction
 * accumulators as beta^(t+1), which can differ in the last bit from the
 * running products a training run holds, so they are restored from the
 * snapshot. The snapshot stays valid (and must still be disposed).
 */
export async function restoreAdam(snapshot: AdamSnapshot, like: tf.AdamOptimizer): Promise<tf.AdamOptimizer> {
  const l = like as unknown as AdamInternals;
  const opt = createAdam(l.learningRate, l.beta1, l.beta2, l.epsilon);
  const copies = snapshot.weights.map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
  try {
    // setWeights makes variables that share the copies' data (reference-counted), so the copies can go.
    await opt.setWeights(copies);
  } finally {
    tf.dispose(copies.map((c) => c.tensor));
  }
  const self = opt as unknown as AdamInternals;
  tf.tidy(() => {
    self.accBeta1.assign(tf.scalar(snapshot.accBeta1));
    self.accBeta2.assign(tf.scalar(snapshot.accBeta2));
  });
  return opt;
}
