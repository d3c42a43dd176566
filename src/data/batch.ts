/**
 * Turning decoded samples into NHWC tensors for training and evaluation.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset, Sample } from './types';

/** How masks are encoded as targets. */
export type MaskEncoding = 'binary' | 'onehot';

/** A training batch. Caller disposes both tensors. */
export interface Batch {
  /** Images `[N, H, W, C]` float32 in [0, 1]. */
  x: tf.Tensor4D;
  /**
   * Targets: 'binary' -> `[N, H, W, 1]` float32 (foreground = mask > 0);
   * 'onehot' -> `[N, H, W, K]` float32 one-hot of the class map.
   */
  y: tf.Tensor4D;
}

/**
 * Stack samples into a {@link Batch}. All samples must share one shape and
 * have a mask. `numClasses` (with background) is required for 'onehot'.
 */
export function toBatch(samples: readonly Sample[], encoding: MaskEncoding = 'binary', numClasses = 2): Batch {
  if (samples.length === 0) throw new Error('toBatch: no samples');
  const [H, W, C] = samples[0].shape;
  const n = samples.length;
  const xs = new Float32Array(n * H * W * C);
  const K = encoding === 'binary' ? 1 : numClasses;
  const ys = new Float32Array(n * H * W * K);
  samples.forEach((s, i) => {
    if (s.shape[0] !== H || s.shape[1] !== W || s.shape[2] !== C) {
      throw new Error(`toBatch: sample '${s.id}' has shape [${s.shape}] but the batch is [${H},${W},${C}]; resize the dataset to one size`);
    }
    if (!s.mask) throw new Error(`toBatch: sample '${s.id}' has no mask`);
    xs.set(s.image, i * H * W * C);
    const off = i * H * W * K;
    const m = s.mask;
    if (encoding === 'binary') {
      for (let p = 0; p < H * W; p++) ys[off + p] = m[p] > 0 ? 1 : 0;
    } else {
      for (let p = 0; p < H * W; p++) {
        const c = m[p];
        if (c >= K) throw new Error(`toBatch: sample '${s.id}' has mask class ${c} but numClasses is ${K}`);
        ys[off + p * K + c] = 1;
      }
    }
  });
  return { x: tf.tensor4d(xs, [n, H, W, C]), y: tf.tensor4d(ys, [n, H, W, K]) };
}

/** Load the samples at `indices` of a dataset (in order). */
export async function loadSamples(ds: Dataset, indices: readonly number[]): Promise<Sample[]> {
  const out: Sample[] = [];
  for (const i of indices) out.push(await ds.load(i));
  return out;
}

/** Split `indices` into consecutive chunks of at most `batchSize`. */
export function chunk<T>(items: readonly T[], batchSize: number): T[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += batchSize) out.push(items.slice(i, i + batchSize));
  return out;
}
