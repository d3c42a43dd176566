/**
 * THE evaluation loop: batches of samples -> predict (inside `tf.tidy`) ->
 * outputs read back as plain arrays -> metric accumulation. Segmentation,
 * task (classification / segmentation) and M4oE evaluation all run it.
 *
 * Memory: the prediction runs in a tidy scope, its kept outputs are read and
 * disposed before the next batch; only plain arrays reach `accumulate`.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset, Sample } from '../data/types';
import { chunk } from '../data/batch';
import { probabilitiesToClassMap } from '../metrics/confusion';
import { loadFrom } from './loop';

/** A model output read back from the engine: values and shape (e.g. `[N,H,W,K]` probabilities). */
export interface ReadOutput {
  values: Float32Array;
  shape: number[];
}

/** Options of {@link evaluateBatches}. */
export interface EvaluateBatchesOptions {
  /** Default 16. */
  batchSize?: number;
  /** Restrict to these sample indices, visited in this order (default: all, in order). */
  indices?: readonly number[];
  /**
   * Predict a batch: return the tensors to read back. Runs inside `tf.tidy`,
   * so intermediate tensors (inputs included) are freed.
   */
  predict: (samples: readonly Sample[], indices: readonly number[]) => tf.Tensor[];
  /** Accumulate one batch's outputs (same order as `predict` returned them). */
  accumulate: (samples: readonly Sample[], outputs: ReadOutput[], indices: readonly number[]) => void;
}

/**
 * Run `predict` over `data` in consecutive chunks of `batchSize` (no
 * shuffling) and hand every batch's outputs to `accumulate`. Returns the
 * number of images evaluated.
 */
export async function evaluateBatches(data: Dataset | readonly Sample[], options: EvaluateBatchesOptions): Promise<number> {
  const indices = options.indices ? [...options.indices] : Array.from({ length: data.length }, (_, i) => i);
  let n = 0;
  for (const idx of chunk(indices, options.batchSize ?? 16)) {
    const samples = await loadFrom(data, idx);
    const kept = tf.tidy(() => options.predict(samples, idx));
    const outputs = kept.map((t) => ({ values: t.dataSync() as Float32Array, shape: t.shape }));
    tf.dispose(kept);
    options.accumulate(samples, outputs, idx);
    n += samples.length;
  }
  return n;
}

/** Images `[N, H, W, C]` of samples sharing one shape (checked; `owner` names the caller in the error). */
export function stackImages(samples: readonly Sample[], owner = 'stackImages'): tf.Tensor4D {
  if (samples.length === 0) throw new Error(`${owner}: no samples`);
  const [h, w, c] = samples[0].shape;
  const n = h * w * c;
  const out = new Float32Array(n * samples.length);
  samples.forEach((s, i) => {
    if (s.shape[0] !== h || s.shape[1] !== w || s.shape[2] !== c) {
      throw new Error(`${owner}: sample '${s.id}' has shape [${s.shape}] but the batch is [${h},${w},${c}]; all images must share one size`);
    }
    out.set(s.image, i * n);
  });
  return tf.tensor4d(out, [samples.length, h, w, c]);
}

/**
 * Turn per-pixel probabilities `[N, H, W, K]` (K = 1: sigmoid, thresholded at
 * `threshold`, default 0.5; K >= 2: argmax) into class maps and call
 * `update(sample, prediction (H*W class map), [H, W])` for every sample, after
 * checking it has a mask (`owner` names the caller in the error).
 */
export function forEachPrediction(
  probs: ReadOutput,
  samples: readonly Sample[],
  update: (sample: Sample & { mask: Uint8Array }, prediction: Uint8Array, hw: [number, number]) => void,
  options: { threshold?: number; owner: string },
): void {
  const [, H, W] = probs.shape;
  const pred = probabilitiesToClassMap(probs.values, probs.shape as [number, number, number, number], { threshold: options.threshold ?? 0.5 });
  samples.forEach((s, i) => {
    if (!s.mask) throw new Error(`${options.owner}: sample '${s.id}' has no mask`);
    update(s as Sample & { mask: Uint8Array }, pred.subarray(i * H * W, (i + 1) * H * W), [H, W]);
  });
}
