/**
 * medfl's native conv kernels vs tfjs-wasm's own paths (XNNPACK forward,
 * composed filter gradient) on the zoo's conv shapes, 3x3 'same', batch 8:
 *   npx tsx bench/micro-native.ts
 * CPU milliseconds per call (median of 5) and GFLOP/s.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { setNativeKernelsEnabled } from '../src/backend/native';
import { cpuMs } from '../src/bench';

const SHAPES: [number, number, number, number][] = [
  [128, 128, 4, 4], [128, 128, 8, 4], [64, 64, 8, 8], [32, 32, 16, 16], [16, 16, 32, 32], [8, 8, 64, 64], [16, 16, 64, 32], [128, 128, 3, 4], [8, 8, 256, 32],
];

function median(fn: () => void, reps = 5): number {
  fn();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c = cpuMs();
    fn();
    t.push(cpuMs() - c);
  }
  return t.sort((a, b) => a - b)[Math.floor(reps / 2)];
}

async function main(): Promise<void> {
  await initBackend('wasm', { log: () => {} });
  console.log('shape (H W Cin Cout)   fwd native  fwd tfjs   dW native  dW tfjs   (ms; GFLOP/s native)');
  for (const [H, W, C, K] of SHAPES) {
    const x = tf.randomNormal([8, H, W, C], 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, C, K], 0, 1, 'float32', 2) as tf.Tensor4D;
    const dy = tf.randomNormal([8, H, W, K], 0, 1, 'float32', 3) as tf.Tensor4D;
    const fwd = () => tf.tidy(() => { tf.conv2d(x, w, 1, 'same').dataSync(); });
    const dW = () => tf.tidy(() => {
      (tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, C, K] } as unknown as tf.NamedAttrMap) as tf.Tensor).dataSync();
    });
    const r: number[] = [];
    for (const on of [true, false]) {
      setNativeKernelsEnabled(on);
      r.push(median(fwd), median(dW));
    }
    setNativeKernelsEnabled(true);
    const gf = (2 * 8 * H * W * C * K * 9) / 1e6;
    console.log(`${[H, W, C, K].join(' ').padEnd(20)} ${r[0].toFixed(2).padStart(10)} ${r[2].toFixed(2).padStart(9)} ${r[1].toFixed(2).padStart(11)} ${r[3].toFixed(2).padStart(8)}   (${(gf / r[0]).toFixed(1)}; ${(gf / r[1]).toFixed(1)})`);
    tf.dispose([x, w, dy]);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
