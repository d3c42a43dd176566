/**
 * 3x3 'same' convolutions at a few (batch, side, C, K) shapes: forward, filter
 * gradient, input gradient (stride 1, and stride 2 by scatter) on the wasm
 * kernels ('wasm'), the native addon with 1 thread ('a1') and 2 ('a2'),
 * interleaved twice; GFLOP/s from wall time and (in brackets) CPU time:
 *   npx tsx bench/micro-addon.ts         (env SHAPES='N,H,C,K;N,H,C,K')
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { setNativeAddonEnabled, setNativeThreads, nativeAddonInfo } from '../src/backend/addon';
import { cpuMs } from '../src/bench/kernel-profiler';
async function main(): Promise<void> {
  await initBackend('wasm', { log: () => {} });
  console.log(nativeAddonInfo());
  const shapes = (process.env.SHAPES ?? '4,128,64,64;4,32,256,256;4,16,512,512').split(';').map((s) => s.split(',').map(Number));
  for (const [N, H, C, K] of shapes) {
    const x = tf.randomUniform([N, H, H, C]);
    const w = tf.randomUniform([3, 3, C, K]);
    const dy = tf.randomUniform([N, H, H, K]);
    const flop = 2 * N * H * H * C * K * 9;
    const ops: [string, () => tf.Tensor][] = [
      ['fwd', () => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')],
      ['dW', () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, filterShape: [3, 3, C, K] } as any) as tf.Tensor],
      ['dX', () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, inputShape: [N, H, H, C] } as any) as tf.Tensor],
      ['dXs2', () => tf.engine().runKernel('Conv2DBackpropInput', { dy: tf.slice(dy, [0, 0, 0, 0], [N, H / 2, H / 2, K]), filter: w }, { strides: 2, pad: 'same', dataFormat: 'NHWC', dilations: 1, inputShape: [N, H, H, C] } as any) as tf.Tensor],
    ];
    for (const [name, fn] of ops) {
      const res: string[] = [];
      for (const mode of ['wasm', 'a1', 'a2', 'wasm', 'a1', 'a2']) {
        setNativeAddonEnabled(mode !== 'wasm');
        if (mode !== 'wasm') setNativeThreads(mode === 'a1' ? 1 : 2);
        tf.tidy(() => { fn().dataSync(); });
        const c0 = cpuMs(), w0 = performance.now();
        const reps = 2;
        for (let i = 0; i < reps; i++) tf.tidy(() => { fn().dataSync(); });
        const wall = (performance.now() - w0) / reps, cpu = (cpuMs() - c0) / reps;
        const f = name === 'dXs2' ? flop / 4 : flop;
        res.push(`${mode} ${(f / wall / 1e6).toFixed(0)}GF/s(cpu ${(f / cpu / 1e6).toFixed(0)})`);
      }
      console.log(`N${N} H${H} C${C} K${K} ${name}: ${res.join('  ')}`);
    }
    tf.dispose([x, w, dy]);
  }
}
main();
