/**
 * Model weights as plain `Float32Array[]` (one array per entry of
 * `model.weights`, trainable and non-trainable alike: BatchNorm moving
 * statistics included), the currency of aggregation, checkpoints and worker
 * messages. Arrays are copies: they never alias tensor memory.
 */
import * as tf from '@tensorflow/tfjs';

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
  const owner = new Map<string, { cls: string; layer: string }>();
  for (const layer of model.layers) {
    for (const w of layer.weights) owner.set(w.name, { cls: layer.getClassName(), layer: layer.name });
  }
  return model.weights.map((w) => {
    const o = owner.get(w.name);
    const shape = w.shape.map((d) => d ?? 0);
    return {
      name: w.name,
      shape,
      size: shape.reduce((a, b) => a * b, 1),
      trainable: w.trainable,
      layerClass: o?.cls ?? 'unknown',
      layer: o?.layer ?? 'unknown',
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
