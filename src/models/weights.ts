/**
 * Model weights, two ways:
 *
 * - as plain `Float32Array[]` (one array per entry of `model.weights`,
 *   trainable and non-trainable alike: BatchNorm moving statistics included),
 *   the currency of aggregation, checkpoints and worker messages
 *   ({@link getWeights}, {@link setWeights}, ...). Arrays are copies: they
 *   never alias tensor memory;
 * - as live entries of a built model ({@link weightEntries}), with the
 *   mechanism MedMerge (merged kernels computed from learnable coefficients)
 *   and MedForge (base + LoRA delta) use to run ANY architecture of the zoo
 *   with weights that are tensor expressions of other variables, so gradients
 *   reach those variables ({@link withWeights}).
 *
 * How {@link withWeights} works: every tfjs-layers weight is a `LayerVariable`
 * whose `read()` returns its field `val` (a `tf.Variable`, see ./graph).
 * It swaps `val` for a computed tensor while a forward pass runs and restores
 * it afterwards, so the recorded ops go through the computed tensor (gradient
 * tape included) and the model's own variables are never written. This
 * touches one tfjs-layers internal field (stable in the pinned tfjs 4.22); the
 * tests pin the behaviour (exact outputs, non-zero gradients).
 *
 * Caveat: layers that WRITE a substituted weight (BatchNorm moving statistics
 * in training mode) must not have that weight substituted; callers substitute
 * only trainable weights (kernels, biases, BN gamma/beta, LayerNorm params).
 */
import * as tf from '@tensorflow/tfjs';
import { layersOf, variablesOf, type LayerLike, type LayerVariableLike } from './graph';

export type { LayerVariableLike } from './graph';

/** One weight of a model, with where it lives and its channel axis. */
export interface WeightEntry {
  /** Index in `model.weights` (stable across clones of one architecture). */
  index: number;
  /** Layer name. */
  layer: string;
  /** tfjs class name of the layer, e.g. 'Conv2D', 'Dense', 'BatchNormalization'. */
  layerClass: string;
  /** Weight role: 'kernel', 'bias', 'gamma', 'beta', 'depthwise_kernel', 'moving_mean', ... */
  role: string;
  shape: number[];
  trainable: boolean;
  /**
   * The axis that indexes OUTPUT channels (the "kernel" of MedMerge's
   * per-kernel coefficients): last axis for Conv2D `[kh,kw,cin,cout]`, Dense
   * `[in,out]`, biases and BN vectors; axis 2 for Conv2DTranspose
   * `[kh,kw,cout,cin]` and for depthwise kernels `[kh,kw,cin,mult]` (one
   * coefficient per input channel, its `mult` filters share it).
   */
  channelAxis: number;
  /** Size of `channelAxis`. */
  channels: number;
  variable: LayerVariableLike;
}

/**
 * The layer owning each weight variable of `model` (a layer used twice is
 * listed once; the last layer holding a variable wins).
 */
function ownerLayers(model: tf.LayersModel): Map<LayerVariableLike, LayerLike> {
  const out = new Map<LayerVariableLike, LayerLike>();
  for (const l of layersOf(model)) for (const w of l.weights) out.set(w, l);
  return out;
}

function roleOf(v: LayerVariableLike, layer: string): string {
  const n = v.originalName ?? v.name;
  const parts = n.split('/');
  const last = parts[parts.length - 1].replace(/_\d+$/, '');
  return last || layer;
}

function axisOf(layerClass: string, role: string, rank: number): number {
  if (rank === 0) return -1;
  if (layerClass === 'Conv2DTranspose' && role === 'kernel' && rank === 4) return 2;
  if (role === 'depthwise_kernel' && rank === 4) return 2;
  return rank - 1;
}

/**
 * Every weight of `model` in `model.weights` order (each layer's weights in
 * creation order), with its layer, role and output-channel axis.
 * Shared layers (one layer used twice) are listed once.
 */
export function weightEntries(model: tf.LayersModel): WeightEntry[] {
  const owners = ownerLayers(model);
  return variablesOf(model).map((v, index) => {
    const l = owners.get(v);
    const owner = l ? { layer: l.name, layerClass: l.getClassName() } : { layer: '?', layerClass: '?' };
    const role = roleOf(v, owner.layer);
    const shape = [...v.shape];
    const channelAxis = axisOf(owner.layerClass, role, shape.length);
    return {
      index,
      layer: owner.layer,
      layerClass: owner.layerClass,
      role,
      shape,
      trainable: v.trainable,
      channelAxis,
      channels: channelAxis < 0 ? 1 : shape[channelAxis],
      variable: v,
    };
  });
}

/**
 * Run `fn` while the weights in `replacements` (weight index -> tensor of
 * the same shape) stand in for the model's own values. Restores the
 * originals even when `fn` throws. The replacement tensors are NOT disposed
 * (create them inside the caller's tidy / gradient scope).
 */
export function withWeights<T>(entries: readonly WeightEntry[], replacements: ReadonlyMap<number, tf.Tensor>, fn: () => T): T {
  const saved: { v: LayerVariableLike; val: tf.Variable | tf.Tensor }[] = [];
  try {
    for (const [index, t] of replacements) {
      const e = entries[index];
      if (!e) throw new Error(`withWeights: no weight with index ${index} (model has ${entries.length})`);
      if (!tf.util.arraysEqual(e.shape, t.shape)) {
        throw new Error(`withWeights: weight '${e.variable.name}' has shape [${e.shape}] but its replacement is [${t.shape}]`);
      }
      saved.push({ v: e.variable, val: e.variable.val });
      e.variable.val = t;
    }
    return fn();
  } finally {
    for (let i = saved.length - 1; i >= 0; i--) saved[i].v.val = saved[i].val;
  }
}

/**
 * A new, independent model with the same architecture (via the JSON
 * topology, so registered custom layers work) and a copy of `model`'s
 * weights (including BatchNorm moving statistics).
 */
export async function cloneModel(model: tf.LayersModel): Promise<tf.LayersModel> {
  const topology = model.toJSON(null, false) as unknown as tf.io.ModelJSON['modelTopology'];
  const clone = await tf.models.modelFromJSON({ modelTopology: topology } as tf.io.ModelJSON);
  const weights = model.getWeights();
  clone.setWeights(weights);
  return clone;
}

/**
 * Reshape a per-channel vector `[C]` so it broadcasts along `axis` of a
 * tensor of rank `rank` (shape `[1,..,C,..,1]`).
 */
export function broadcastChannels(v: tf.Tensor, rank: number, axis: number): tf.Tensor {
  if (rank === 0) return tf.reshape(v, []);
  const shape = new Array<number>(rank).fill(1);
  shape[axis] = v.size;
  return tf.reshape(v, shape);
}

/** Number of float parameters of `entries` (sum of their sizes). */
export function countParameters(entries: readonly { shape: readonly number[] }[]): number {
  return entries.reduce((s, e) => s + e.shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * Copy the values of `tensors` (weight index -> tensor) into the model's own
 * variables (permanently). Tensors are not disposed.
 */
export function writeWeights(entries: readonly WeightEntry[], tensors: ReadonlyMap<number, tf.Tensor>): void {
  for (const [index, t] of tensors) {
    const e = entries[index];
    if (!e) throw new Error(`writeWeights: no weight with index ${index}`);
    e.variable.write(t);
  }
}

/** The architecture fingerprint `[role, shape]` per weight, for "same architecture" checks. */
export function architectureSignature(entries: readonly WeightEntry[]): string {
  return entries.map((e) => `${e.layerClass}:${e.role}:[${e.shape.join(',')}]`).join('|');
}

/** What is known about one entry of `model.weights`. */
export interface WeightSpec {
  /** Variable name (unique in the engine). */
  name: string;
  shape: number[];
  /** Elements. */
  size: number;
  trainable: boolean;
  /** Class name of the owning layer (e.g. 'BatchNormalization'). */
  layerClass: string;
  /** Owning layer name. */
  layer: string;
}

/** The weight specs of `model`, in `model.weights` order. */
export function weightSpecs(model: tf.LayersModel): WeightSpec[] {
  const owners = ownerLayers(model);
  return variablesOf(model).map((w) => {
    const o = owners.get(w);
    const shape = w.shape.map((d) => d ?? 0);
    return {
      name: w.name,
      shape,
      size: shape.reduce((a, b) => a * b, 1),
      trainable: w.trainable,
      layerClass: o?.getClassName() ?? 'unknown',
      layer: o?.name ?? 'unknown',
    };
  });
}

/** Copy every weight of `model` (incl. non-trainable) out as Float32Arrays. */
export function getWeights(model: tf.LayersModel): Float32Array[] {
  return model.weights.map((w) => Float32Array.from(w.read().dataSync() as Float32Array));
}

/** Write `weights` (as from {@link getWeights}) into `model`; checks count and sizes. */
export function setWeights(model: tf.LayersModel, weights: readonly Float32Array[]): void {
  const ws = model.weights;
  if (weights.length !== ws.length) {
    throw new Error(`setWeights: model '${model.name}' has ${ws.length} weights, got ${weights.length} arrays`);
  }
  const tensors = ws.map((w, i) => {
    const shape = w.shape.map((d) => d ?? 0);
    const size = shape.reduce((a, b) => a * b, 1);
    if (weights[i].length !== size) {
      throw new Error(`setWeights: weight '${w.name}' has ${size} elements [${shape}], got ${weights[i].length}`);
    }
    return tf.tensor(weights[i], shape, 'float32');
  });
  ws.forEach((w, i) => w.write(tensors[i]));
  tf.dispose(tensors);
}

/** Deep copy. */
export function cloneWeights(weights: readonly Float32Array[]): Float32Array[] {
  return weights.map((w) => Float32Array.from(w));
}

/** Bytes of float32 arrays on the wire: 4 bytes per element. */
export function byteCount(weights: readonly Float32Array[], mask?: readonly boolean[]): number {
  let n = 0;
  weights.forEach((w, i) => {
    if (!mask || mask[i]) n += w.length * 4;
  });
  return n;
}

/** Largest absolute element-wise difference between two weight lists (for tests and resume checks). */
export function maxAbsDiff(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: ${a.length} vs ${b.length} arrays`);
  let m = 0;
  a.forEach((x, i) => {
    if (x.length !== b[i].length) throw new Error(`maxAbsDiff: array ${i} has ${x.length} vs ${b[i].length} elements`);
    for (let j = 0; j < x.length; j++) m = Math.max(m, Math.abs(x[j] - b[i][j]));
  });
  return m;
}
