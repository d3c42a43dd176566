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

/** Multiply-add flops (x2) of a dense conv kernel call, else 0. */
function convFlops(kernel: string, args: Parameters<tf.KernelFunc>[0]): number {
  const sh = (n: string) => (args.inputs as Record<string, tf.TensorInfo | undefined>)[n]?.shape;
  const a = (args.attrs ?? {}) as Record<string, unknown>;
  const size = (s?: number[]) => (s ? s.reduce((p, q) => p * q, 1) : 0);
  if (kernel === 'Conv2D' || kernel === 'FusedConv2D') { const f = sh('filter')!; return convOut(args) * 2 * f[0] * f[1] * f[2]; }
  if (kernel === 'Conv2DBackpropInput') { const f = sh('filter')!; return 2 * size(sh('dy')) * f[0] * f[1] * f[2]; }
  if (kernel === 'Conv2DBackpropFilter') { const fs = a.filterShape as number[]; return 2 * size(sh('dy')) * fs[0] * fs[1] * fs[2]; }
  if (kernel === 'BatchMatMul' || kernel === '_FusedMatMul') {
    const A = sh('a')!;
    const B = sh('b')!;
    const m = a.transposeA ? A[A.length - 1] : A[A.length - 2];
    const k = a.transposeA ? A[A.length - 2] : A[A.length - 1];
    const n = a.transposeB ? B[B.length - 2] : B[B.length - 1];
    return 2 * Math.max(size(A.slice(0, -2)), size(B.slice(0, -2))) * m * k * n;
  }
  return 0;
}
function convOut(args: Parameters<tf.KernelFunc>[0]): number {
  const x = (args.inputs as Record<string, tf.TensorInfo>).x.shape;
  const f = (args.inputs as Record<string, tf.TensorInfo>).filter.shape;
  const a = (args.attrs ?? {}) as Record<string, unknown>;
  const d = (a.dilations ?? 1) as number | number[];
  const ci = tf.backend_util.computeConv2DInfo(x as [number, number, number, number], f as [number, number, number, number], a.strides as [number, number], d as [number, number], a.pad as 'same', undefined, false, 'channelsLast');
  return ci.batchSize * ci.outHeight * ci.outWidth * ci.outChannels;
}

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
  const rows = new Map<string, { ms: number; calls: number; flops: number }>();
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
          const tr = a.transposeA || a.transposeB ? ` tA=${a.transposeA ? 1 : 0} tB=${a.transposeB ? 1 : 0}` : '';
          const key = `${cfg.kernelName} ${shapes}${tr} s=${JSON.stringify(a.strides)} d=${JSON.stringify(a.dilations)} p=${JSON.stringify(a.pad)}${a.begin ? " begin=" + JSON.stringify(a.begin) + " size=" + JSON.stringify(a.size) : ""}${a.paddings ? " pads=" + JSON.stringify(a.paddings) : ""}${a.inputShape ? ' in=' + JSON.stringify(a.inputShape) : ''}${a.activation ? ' act=' + a.activation : ''}`;
          const e = rows.get(key) ?? { ms: 0, calls: 0, flops: 0 };
          e.ms += performance.now() - t0; e.calls++; e.flops += convFlops(cfg.kernelName, args); rows.set(key, e);
        }
      }
    }) as tf.KernelFunc;
  });
  const steps = Number(process.env.STEPS ?? 3);
  for (let i = 0; i < steps; i++) step();
  configs.forEach((cfg, i) => { cfg.kernelFunc = origs[i]; });
  for (const e of rows.values()) { e.ms /= steps; e.calls /= steps; e.flops /= steps; }
  const sorted = [...rows.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = sorted.reduce((a, [, v]) => a + v.ms, 0);
  for (const [k, v] of sorted.slice(0, Number(process.env.TOP ?? 40))) {
    const gf = v.flops > 0 ? `${(v.flops / v.ms / 1e6).toFixed(1).padStart(5)} GF/s` : '          ';
    console.log(`${v.ms.toFixed(1).padStart(7)} ms ${String(v.calls).padStart(3)}x ${gf}  ${k}`);
  }
  console.log(`${total.toFixed(1).padStart(7)} ms total`);
}
main().catch((e) => { console.error(e); process.exit(1); });
