/**
 * Strided conv input gradient: per-phase XNNPACK convs vs the col2im scatter
 * (CPU ms per call, min of 9 interleaved runs):  npx tsx bench/micro-strided.ts
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { setStridedBackpropCol2Im } from '../src/backend/conv-backprop';
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
  await initBackend('wasm', { log: () => {} });
  // [N, H, Cin, Cout, K, stride, pad]
  const shapes: [number, number, number, number, number, number, 'same' | 'valid'][] = [
    [8, 128, 3, 8, 7, 2, 'same'], [8, 32, 8, 16, 3, 2, 'same'], [8, 16, 8, 8, 3, 2, 'same'], [8, 16, 32, 32, 3, 2, 'same'],
    [8, 16, 64, 128, 1, 2, 'same'], [8, 34, 35, 32, 3, 2, 'valid'], [8, 64, 16, 32, 3, 2, 'same'],
  ];
  console.log('N H Cin Cout K s pad | col2im phases (ms)');
  for (const [N, H, C, O, K, s, pad] of shapes) {
    const w = tf.randomNormal([K, K, C, O]) as tf.Tensor4D;
    const info = tf.backend_util.computeConv2DInfo([N, H, H, C], [K, K, C, O], s, 1, pad);
    const dy = tf.randomNormal(info.outShape) as tf.Tensor4D;
    const run = () => tf.tidy(() => { tf.conv2dTranspose(dy, w, [N, H, H, C], s, pad).dataSync(); });
    const ta: number[] = [];
    const tb: number[] = [];
    for (let i = 0; i < 9; i++) {
      setStridedBackpropCol2Im(true);
      ta.push(med(run, 1));
      setStridedBackpropCol2Im(false);
      tb.push(med(run, 1));
    }
    const a = Math.min(...ta);
    const b = Math.min(...tb);
    console.log(`${N} ${H} ${C} ${O} ${K} ${s} ${pad} | ${a.toFixed(2)} ${b.toFixed(2)}  x${(a / b).toFixed(1)}`);
    tf.dispose([w, dy]);
  }
}
main();
