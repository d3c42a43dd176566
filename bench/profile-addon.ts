/**
 * CPU time per native kernel (addon or wasm: whatever src/backend/native
 * binds) in one training step at 128 px, batch 4:
 *   npx tsx bench/profile-addon.ts [model=unet] [width=64]      (MEDFL_THREADS=1 for single-thread figures)
 */
import * as tf from '@tensorflow/tfjs';
import { cpuMs } from '../src/bench/kernel-profiler';
import { initBackend } from '../src/backend';
import { createAdam } from '../src/backend/adam';
import { createModel } from '../src/models/registry';
import { nativeKernels } from '../src/backend/native';
async function main() {
  await initBackend('wasm', { log: () => {} });
  const [name = 'unet', w = '64'] = process.argv.slice(2);
  const model = createModel(name, { inputShape: [128, 128, 3], numClasses: 1, outputActivation: 'none', width: Number(w), seed: 1 });
  const opt = createAdam(1e-3);
  const x = tf.randomUniform([4, 128, 128, 3]);
  const y = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([4, 128, 128, 1]), 0.5), 'float32'));
  const vars = model.trainableWeights.map((v) => v.read() as tf.Variable);
  const step = () => { const l = opt.minimize(() => tf.losses.sigmoidCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true, vars); l!.dataSync(); l!.dispose(); };
  step();
  const k = nativeKernels(tf.backend()) as unknown as Record<string, (...a: number[]) => unknown>;
  const t: Record<string, [number, number]> = {};
  for (const n of Object.keys(k)) { const f = k[n]; k[n] = (...a: number[]) => { const t0 = cpuMs(); const r = f(...a); const e = t[n] ?? (t[n] = [0, 0]); e[0] += cpuMs() - t0; e[1]++; return r; }; }
  const t0 = cpuMs(); step(); const tot = cpuMs() - t0;
  console.log(`${name} step ${tot.toFixed(0)} ms cpu`);
  for (const [n, [ms, c]] of Object.entries(t).sort((a, b) => b[1][0] - a[1][0])) console.log(`${n.padEnd(18)} ${ms.toFixed(1).padStart(8)} ms ${String(c).padStart(5)} calls ${(100 * ms / tot).toFixed(1)}%`);
}
main();
