/**
 * Conv2DBackpropFilter: im2col + GEMM vs one transposed XNNPACK conv
 * (CPU ms per call, min of 7 interleaved runs):  npx tsx bench/micro-filtergrad.ts
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { setFilterGradMode } from '../src/backend/conv-backprop';
import { cpuMs } from '../src/bench';

function once(fn: () => void): number {
  const a = cpuMs();
  fn();
  return cpuMs() - a;
}

async function main(): Promise<void> {
  await initBackend('wasm', { log: () => {} });
  // [N, H, Cin, Cout, K, stride, dilation, pad]
  const shapes: [number, number, number, number, number, number, number, 'same' | 'valid'][] = [
    [8, 128, 3, 8, 7, 2, 1, 'same'], [8, 32, 32, 32, 3, 1, 1, 'same'], [8, 16, 32, 32, 3, 1, 1, 'same'], [8, 8, 256, 32, 3, 1, 1, 'same'],
    [8, 8, 256, 32, 3, 1, 3, 'same'], [8, 8, 160, 32, 1, 1, 1, 'same'], [8, 8, 32, 1, 1, 1, 1, 'valid'], [8, 32, 8, 32, 3, 1, 1, 'same'],
    [8, 128, 3, 16, 3, 1, 1, 'same'], [8, 64, 16, 32, 3, 2, 1, 'same'], [8, 128, 16, 16, 3, 1, 1, 'same'], [8, 4, 64, 64, 3, 1, 1, 'same'],
  ];
  console.log('N H Cin Cout K s d pad | im2col conv (ms)');
  for (const [N, H, C, O, K, s, d, pad] of shapes) {
    const x = tf.randomNormal([N, H, H, C]) as tf.Tensor4D;
    const info = tf.backend_util.computeConv2DInfo([N, H, H, C], [K, K, C, O], s, d, pad);
    const dy = tf.randomNormal(info.outShape) as tf.Tensor4D;
    const run = () => tf.tidy(() => {
      (tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: s, pad, dataFormat: 'NHWC', filterShape: [K, K, C, O], dilations: d } as unknown as tf.NamedAttrMap) as tf.Tensor).dataSync();
    });
    const t: number[][] = [[], []];
    for (let i = 0; i < 7; i++) {
      setFilterGradMode('im2col');
      t[0].push(once(run));
      setFilterGradMode('conv');
      t[1].push(once(run));
    }
    setFilterGradMode('auto');
    const [a, b] = t.map((v) => Math.min(...v));
    console.log(`${N} ${H} ${C} ${O} ${K} ${s} ${d} ${pad} | ${a.toFixed(2)} ${b.toFixed(2)}  x${(a / b).toFixed(1)}`);
    tf.dispose([x, dy]);
  }
}
main();
