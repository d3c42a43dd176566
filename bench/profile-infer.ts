/**
 * Per-kernel CPU-time profile of inference (`predict` of the BatchNorm-folded
 * copy, as `medfl bench` times it):
 *   npx tsx bench/profile-infer.ts [model=unet] [size=128] [batch=4] [width] [steps=5]   (env TOP=n, NOFOLD=1, WALL=1 for wall-clock times)
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { createModel } from '../src/models/registry';
import { foldBatchNorm } from '../src/models/fold';
import { cpuMs as cpuClock, withKernelTimings } from '../src/bench';

/** WALL=1: wall-clock times (to see what threads save), else process CPU time. */
const cpuMs: () => number = process.env.WALL ? () => performance.now() : cpuClock;

async function main(): Promise<void> {
  const [name = 'unet', sizeS = '128', batchS = '4', widthS, stepsS = '5'] = process.argv.slice(2);
  const size = Number(sizeS);
  const batch = Number(batchS);
  const steps = Number(stepsS);
  await initBackend(undefined, { log: () => {} });
  const model = createModel(name, { inputShape: [size, size, 3], numClasses: 1, outputActivation: 'none', width: widthS ? Number(widthS) : undefined, seed: 1 });
  const m = process.env.NOFOLD ? model : (await foldBatchNorm(model)).model;
  const x = tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', 1);
  const step = () => tf.tidy(() => { (m.predict(x) as tf.Tensor).dataSync(); });
  step();
  step();
  const c0 = cpuMs();
  const { timings } = withKernelTimings(() => {
    for (let i = 0; i < steps; i++) step();
  }, undefined, cpuMs);
  const total = (cpuMs() - c0) / steps;
  console.log(`${name} inference ${size}x${size} batch ${batch}: ${total.toFixed(1)} cpu-ms/batch, ${((batch * 1000) / total).toFixed(1)} img/s`);
  for (const t of timings.slice(0, Number(process.env.TOP ?? 20))) {
    console.log(`${t.kernel.padEnd(36)} ${(t.ms / steps).toFixed(2).padStart(9)} ms ${String(t.calls / steps).padStart(6)} calls ${((100 * t.ms) / steps / total).toFixed(1).padStart(5)}%`);
  }
}
main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
