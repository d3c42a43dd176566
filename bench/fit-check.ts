/**
 * Does a model train at a given size / batch within tfjs-wasm's 4 GiB heap?
 * Runs `steps` training steps (sigmoid cross-entropy, medfl's Adam), with
 * gradient accumulation over micro-batches when asked, and prints the wasm
 * heap size, the engine's peak live bytes and the seconds per step:
 *   npx tsx bench/fit-check.ts [model=unet] [size=256] [batch=8] [width=paper] [microBatch=0 (off)] [steps=1]
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { createAdam } from '../src/backend/adam';
import { createModel } from '../src/models/registry';
import { resolveBenchWidth, parseBenchWidth } from '../src/bench';
import { accumulatedStep } from '../src/train/loop';

async function main(): Promise<void> {
  const [name = 'unet', sizeS = '256', batchS = '8', widthS = 'paper', microS = '0', stepsS = '1'] = process.argv.slice(2);
  const size = Number(sizeS);
  const batch = Number(batchS);
  const micro = Number(microS);
  await initBackend('wasm', { log: () => {} });
  const width = resolveBenchWidth(name, parseBenchWidth(widthS));
  const model = createModel(name, { inputShape: [size, size, 3], numClasses: 1, outputActivation: 'none', width, seed: 1 });
  const opt = createAdam(1e-3);
  const x = tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const y = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([batch, size, size, 1], 0, 1, 'float32', 2), 0.5), 'float32'));
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const lossOf = (xs: tf.Tensor4D, ys: tf.Tensor) => tf.losses.sigmoidCrossEntropy(ys, model.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar;
  const heap = () => ((tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength / 2 ** 20).toFixed(0);
  console.log(`${name} w${width} ${size}px batch ${batch} micro ${micro || 'off'}: params ${model.countParams()}, heap ${heap()} MiB`);
  for (let s = 0; s < Number(stepsS); s++) {
    const t0 = performance.now();
    const info = await tf.profile(() => {
      if (micro > 0 && micro < batch) {
        console.log(`loss ${accumulatedStep(opt, vars, x, y, micro, lossOf).toFixed(5)}`);
      } else {
        const l = opt.minimize(() => lossOf(x, y), true, vars)!;
        console.log(`loss ${l.dataSync()[0].toFixed(5)}`);
        l.dispose();
      }
    });
    console.log(`step ${s}: ${((performance.now() - t0) / 1000).toFixed(1)} s, peak ${(info.peakBytes / 2 ** 20).toFixed(0)} MiB, heap ${heap()} MiB, tensors ${tf.memory().numTensors}`);
  }
}
main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
