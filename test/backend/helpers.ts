import * as tf from '@tensorflow/tfjs';
import { createRng, Rng } from '../../src/util/rng';

/** Random float32 values in [-1, 1). */
export function randomValues(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

/** Max |a-b| / (1 + max|b|): scale-aware error between two arrays. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < a.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    maxRef = Math.max(maxRef, Math.abs(b[i]));
  }
  return maxDiff / (1 + maxRef);
}

/** Run `fn` on `backend` and return its tensors' data as plain arrays (no tensors left behind). */
export async function onBackend(backend: string, fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(fn);
  const data = outs.map((t) => t.dataSync() as Float32Array).map((d) => Float32Array.from(d));
  tf.dispose(outs);
  return data;
}

export { createRng };
