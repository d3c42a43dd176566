/**
 * Micro-benchmark of conv kernels on the current backend (CPU ms per call,
 * median of repeats): forward conv2d, its input gradient and filter gradient.
 *   npx tsx bench/micro.ts
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { cpuMs } from '../src/bench';

function med(fn: () => void, n = 7): number {
  fn();
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = cpuMs();
    fn();
    t.push(cpuMs() - a);
  }
  return t.sort((a, b) => a - b)[n >> 1];
}

async function main(): Promise<void> {
  await initBackend(undefined, { log: () => {} });
  const shapes: [number, number, number, number, number][] = [
    [8, 128, 4, 4, 3], [8, 128, 8, 4, 3], [8, 64, 8, 8, 3], [8, 32, 16, 16, 3], [8, 16, 32, 32, 3], [8, 8, 64, 64, 3], [8, 128, 32, 32, 3],
  ];
  console.log('N  HW  Cin Cout K | fwd  dx  dW (ms) | GFLOP/s fwd');
  for (const [N, HW, C, O, K] of shapes) {
    const x = tf.randomNormal([N, HW, HW, C]) as tf.Tensor4D;
    const w = tf.randomNormal([K, K, C, O]) as tf.Tensor4D;
    const dy = tf.randomNormal([N, HW, HW, O]) as tf.Tensor4D;
    const fwd = med(() => tf.tidy(() => { tf.conv2d(x, w, 1, 'same').dataSync(); }));
    const dx = med(() => tf.tidy(() => { tf.conv2dTranspose(dy, w, [N, HW, HW, C], 1, 'same').dataSync(); }));
    const dw = med(() => tf.tidy(() => {
      (tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [K, K, C, O], dilations: 1 } as unknown as tf.NamedAttrMap) as tf.Tensor).dataSync();
    }));
    const gflop = (2 * N * HW * HW * K * K * C * O) / 1e9;
    console.log(`${N} ${HW} ${C} ${O} ${K} | ${fwd.toFixed(2)} ${dx.toFixed(2)} ${dw.toFixed(2)} | ${(gflop / (fwd / 1000)).toFixed(1)} ${(gflop / (dx / 1000)).toFixed(1)} ${(gflop / (dw / 1000)).toFixed(1)}`);
    tf.dispose([x, w, dy]);
  }
}
main();
