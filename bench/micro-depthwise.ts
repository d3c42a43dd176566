/**
 * Depthwise conv gradients (multiplier 1): ./depthwise-backprop vs the generic
 * per-tap loops (CPU ms per call, min of 9 interleaved runs):
 *   npx tsx bench/micro-depthwise.ts
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { setGenericDepthwiseGradients } from '../src/backend/wasm-kernels';
import { cpuMs } from '../src/bench';

function once(fn: () => void): number {
  const a = cpuMs();
  fn();
  return cpuMs() - a;
}

async function main(): Promise<void> {
  await initBackend('wasm', { log: () => {} });
  // [N, H, C, K, stride, dilation]
  const shapes: [number, number, number, number, number, number][] = [
    [8, 16, 16, 3, 1, 1], [8, 16, 16, 3, 1, 4], [8, 32, 8, 3, 1, 2], [8, 64, 32, 3, 1, 1], [8, 32, 32, 3, 2, 1],
  ];
  console.log('N H C K s d | dx generic new | dW generic new (ms)');
  for (const [N, H, C, K, s, d] of shapes) {
    const x = tf.randomNormal([N, H, H, C]) as tf.Tensor4D;
    const w = tf.randomNormal([K, K, C, 1]) as tf.Tensor4D;
    const info = tf.backend_util.computeConv2DInfo([N, H, H, C], [K, K, C, 1], s, d, 'same', undefined, true);
    const dy = tf.randomNormal(info.outShape) as tf.Tensor4D;
    const attrs = { strides: s, pad: 'same', dilations: d } as const;
    const dx = () => tf.tidy(() => {
      (tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: w }, { ...attrs, inputShape: [N, H, H, C] } as unknown as tf.NamedAttrMap) as tf.Tensor).dataSync();
    });
    const dw = () => tf.tidy(() => {
      (tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: [K, K, C, 1] } as unknown as tf.NamedAttrMap) as tf.Tensor).dataSync();
    });
    const t = [[], [], [], []] as number[][];
    for (let i = 0; i < 9; i++) {
      setGenericDepthwiseGradients(true);
      t[0].push(once(dx));
      t[2].push(once(dw));
      setGenericDepthwiseGradients(false);
      t[1].push(once(dx));
      t[3].push(once(dw));
    }
    const m = t.map((a) => Math.min(...a).toFixed(2));
    console.log(`${N} ${H} ${C} ${K} ${s} ${d} | ${m[0]} ${m[1]} | ${m[2]} ${m[3]}`);
    tf.dispose([x, w, dy]);
  }
}
main();
