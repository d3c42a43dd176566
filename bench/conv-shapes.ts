/**
 * Per-call shapes and times of the conv kernels of training steps:
 *   npx tsx bench/conv-shapes.ts [model] [size] [batch]
 * env KERNELS=a,b (which kernels), STEPS=n (default 3; times are per step),
 * TOP=n rows. Wall-clock milliseconds (performance.now): process CPU time
 * comes in scheduler ticks (~4 ms here), too coarse for one kernel call; run
 * it on an otherwise idle machine.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { createAdam } from '../src/backend/adam';
import { createModel } from '../src/models/registry';

const WATCH = (process.env.KERNELS ?? 'Conv2DBackpropInput,Conv2DBackpropFilter,Conv2D,FusedConv2D,DepthwiseConv2dNativeBackpropInput,DepthwiseConv2dNativeBackpropFilter,DepthwiseConv2dNative,FusedDepthwiseConv2D,BatchMatMul').split(',');

async function main(): Promise<void> {
  const [name = 'deeplabv3', sizeS = '128', batchS = '8'] = process.argv.slice(2);
  const size = Number(sizeS);
  const batch = Number(batchS);
  await initBackend(undefined, { log: () => {} });
  const model = createModel(name, { inputShape: [size, size, 3], numClasses: 1, outputActivation: 'none', seed: 1 });
  const opt: tf.Optimizer = process.env.TFJS_ADAM ? tf.train.adam(1e-3) : createAdam(1e-3);
  const x = tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', 1);
  const y = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([batch, size, size, 1], 0, 1, 'float32', 2), 0.5), 'float32'));
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const loss = () => tf.losses.sigmoidCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar;
  const step = () => { const l = opt.minimize(loss, true, vars); l?.dataSync(); l?.dispose(); };
  step();
  const rows = new Map<string, { ms: number; calls: number }>();
  const configs = tf.getKernelsForBackend('wasm') as Array<tf.KernelConfig & { kernelFunc: tf.KernelFunc }>;
  let depth = 0;
  const origs = configs.map((c) => c.kernelFunc);
  configs.forEach((cfg, i) => {
    if (!WATCH.includes(cfg.kernelName)) return;
    const orig = origs[i];
    cfg.kernelFunc = ((args: Parameters<tf.KernelFunc>[0]) => {
      const t0 = performance.now();
      depth++;
      try { return orig(args); } finally {
        depth--;
        if (depth === 0) {
          const a = (args.attrs ?? {}) as Record<string, unknown>;
          const shapes = Object.entries(args.inputs).map(([k, v]) => v ? `${k}${JSON.stringify((v as tf.TensorInfo).shape)}` : "").join(' ');
          const key = `${cfg.kernelName} ${shapes} s=${JSON.stringify(a.strides)} d=${JSON.stringify(a.dilations)} p=${JSON.stringify(a.pad)}${a.begin ? " begin=" + JSON.stringify(a.begin) + " size=" + JSON.stringify(a.size) : ""}${a.paddings ? " pads=" + JSON.stringify(a.paddings) : ""}${a.inputShape ? ' in=' + JSON.stringify(a.inputShape) : ''}${a.activation ? ' act=' + a.activation : ''}`;
          const e = rows.get(key) ?? { ms: 0, calls: 0 };
          e.ms += performance.now() - t0; e.calls++; rows.set(key, e);
        }
      }
    }) as tf.KernelFunc;
  });
  const steps = Number(process.env.STEPS ?? 3);
  for (let i = 0; i < steps; i++) step();
  configs.forEach((cfg, i) => { cfg.kernelFunc = origs[i]; });
  for (const e of rows.values()) { e.ms /= steps; e.calls /= steps; }
  const sorted = [...rows.entries()].sort((a, b) => b[1].ms - a[1].ms);
  for (const [k, v] of sorted.slice(0, Number(process.env.TOP ?? 40))) console.log(`${v.ms.toFixed(1).padStart(7)} ms ${String(v.calls).padStart(3)}x  ${k}`);
}
main().catch((e) => { console.error(e); process.exit(1); });
