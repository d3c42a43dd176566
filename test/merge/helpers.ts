import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index';
import { createRng } from '../../src/util/rng';

/** wasm backend, silent. */
export async function setup(): Promise<void> {
  await initBackend('wasm', { log: () => {} });
}

/** Seeded random images `[n, h, w, c]` in [0, 1). */
export function randomImages(seed: number, n: number, h: number, w: number, c: number): tf.Tensor4D {
  const rng = createRng(seed);
  const v = new Float32Array(n * h * w * c);
  for (let i = 0; i < v.length; i++) v[i] = rng.next();
  return tf.tensor4d(v, [n, h, w, c]);
}

/** Max absolute difference between two tensors' values. */
export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  if (x.length !== y.length) throw new Error(`size mismatch ${x.length} vs ${y.length}`);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

/** Output of `model.predict(x)` as a plain array (no tensor left behind). */
export function predictArray(model: tf.LayersModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array).slice();
}

/** Max |a - b| of two arrays. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`size mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
