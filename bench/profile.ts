/**
 * Per-kernel CPU-time profile of training steps (forward + backward + Adam)
 * on the current backend:
 *   npx tsx bench/profile.ts [model=unet] [size=64] [batch=8] [width] [steps=5]
 * env TOP=n rows (default 25); PHASES=1 also splits forward / backward / Adam;
 * WALL=1 times wall clock instead (with MEDFL_THREADS=2: which kernels run on one core).
 * Times are process CPU time (robust on a shared machine) and inclusive
 * (kernels calling kernels count them too).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { createAdam } from '../src/backend/adam';
import { createModel } from '../src/models/registry';
import { cpuMs as cpuClock, withKernelTimings } from '../src/bench';

/** WALL=1: wall-clock times (to see what threads save), else process CPU time. */
const cpuMs: () => number = process.env.WALL ? () => performance.now() : cpuClock;

async function main(): Promise<void> {
  const [name = 'unet', sizeS = '64', batchS = '8', widthS, stepsS = '5'] = process.argv.slice(2);
  const size = Number(sizeS);
  const batch = Number(batchS);
  const steps = Number(stepsS);
  await initBackend(undefined, { log: () => {} });
  const model = createModel(name, { inputShape: [size, size, 3], numClasses: 1, outputActivation: 'none', width: widthS ? Number(widthS) : undefined, seed: 1 });
  const opt: tf.Optimizer = process.env.TFJS_ADAM ? tf.train.adam(1e-3) : createAdam(1e-3);
  const x = tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', 1);
  const y = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([batch, size, size, 1], 0, 1, 'float32', 2), 0.5), 'float32'));
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const loss = () => tf.losses.sigmoidCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar;
  const step = () => {
    const l = opt.minimize(loss, true, vars);
    l?.dataSync();
    l?.dispose();
  };
  step();
  step();
  if (process.env.PHASES) {
    const ph = { fwd: 0, grads: 0, adam: 0 };
    for (let i = 0; i < steps; i++) {
      let a = cpuMs();
      tf.tidy(() => { (model.apply(x, { training: true }) as tf.Tensor).dataSync(); });
      ph.fwd += cpuMs() - a;
      a = cpuMs();
      const { value, grads } = tf.variableGrads(loss, vars);
      value.dataSync();
      ph.grads += cpuMs() - a;
      a = cpuMs();
      opt.applyGradients(grads);
      tf.dispose([value, ...Object.values(grads)]);
      ph.adam += cpuMs() - a;
    }
    console.log(`phases (cpu-ms/step): forward ${(ph.fwd / steps).toFixed(1)}, forward+backward ${(ph.grads / steps).toFixed(1)}, adam ${(ph.adam / steps).toFixed(1)}`);
  }
  const c0 = cpuMs();
  const w0 = performance.now();
  const { timings } = withKernelTimings(() => {
    for (let i = 0; i < steps; i++) step();
  }, undefined, cpuMs);
  const total = (cpuMs() - c0) / steps;
  const wall = (performance.now() - w0) / steps;
  console.log(`${name} ${size}x${size} batch ${batch} params ${model.countParams()} backend ${tf.getBackend()}: ${total.toFixed(1)} cpu-ms/step (wall ${wall.toFixed(1)}), ${((batch * 1000) / total).toFixed(1)} img/s`);
  for (const t of timings.slice(0, Number(process.env.TOP ?? 25))) {
    console.log(`${t.kernel.padEnd(36)} ${(t.ms / steps).toFixed(2).padStart(9)} ms ${String(t.calls / steps).padStart(6)} calls ${((100 * t.ms) / steps / total).toFixed(1).padStart(5)}%`);
  }
  tf.dispose([x, y]);
  opt.dispose();
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
