/**
 * MaxPoolGrad on wasm (CPU ms per call, min of 7): RefineNet's 5x5 stride-1
 * chained-residual pools and a U-Net 2x2/2 pool.  npx tsx bench/micro-maxpool.ts
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { cpuMs } from '../src/bench';

async function main(): Promise<void> {
  await initBackend('wasm', { log: () => {} });
  for (const [N, H, C, K, s] of [[8, 32, 32, 5, 1], [8, 16, 32, 5, 1], [8, 128, 16, 2, 2]]) {
    const x = tf.randomNormal([N, H, H, C]) as tf.Tensor4D;
    const y = tf.maxPool(x, K, s, 'same');
    const dy = tf.randomNormal(y.shape);
    const t: number[] = [];
    for (let i = 0; i < 7; i++) {
      const a = cpuMs();
      tf.tidy(() => { (tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: K, strides: s, pad: 'same' } as unknown as tf.NamedAttrMap) as tf.Tensor).dataSync(); });
      t.push(cpuMs() - a);
    }
    console.log(`MaxPoolGrad [${N},${H},${H},${C}] ${K}x${K}/${s}: ${Math.min(...t).toFixed(2)} ms`);
    tf.dispose([x, y, dy]);
  }
}
main();
