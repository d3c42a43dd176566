/**
 * Every algorithm behind medfl's wasm conv / depthwise gradient kernels,
 * forced one at a time, against the CPU backend's kernels on random shapes:
 * strides 1..3, dilations 1..3, 'same' / 'valid' / numeric padding, channel
 * counts on both sides of the copy-run thresholds. Also: the first conv of a
 * network no longer computes its (unused) input gradient.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { setFilterGradMode, setStridedBackpropCol2Im } from '../../src/backend/conv-backprop';
import { setGenericDepthwiseGradients } from '../../src/backend/wasm-kernels';
import { setNativeKernelsEnabled } from '../../src/backend/native';
import { createRng, randomValues, relErr, onBackend } from './helpers';
import type { Rng } from '../../src/util/rng';

type PadOpt = 'same' | 'valid' | number;

interface Case {
  N: number; H: number; W: number; C: number; O: number; KH: number; KW: number; s: number; d: number; pad: PadOpt;
}

function randomCase(rng: Rng, wide: boolean, depthwise: boolean): Case | null {
  const c: Case = {
    N: rng.intBetween(1, 2), H: rng.intBetween(2, 12), W: rng.intBetween(2, 12),
    C: wide ? rng.intBetween(20, 40) : rng.intBetween(1, 5), O: wide ? rng.intBetween(20, 36) : rng.intBetween(1, 5),
    KH: rng.intBetween(1, 5), KW: rng.intBetween(1, 5), s: rng.intBetween(1, 3), d: 1,
    pad: rng.choice(['same', 'same', 'valid', 0, 1, 2] as PadOpt[]),
  };
  if (depthwise) c.O = c.C;
  if (c.s === 1) c.d = rng.intBetween(1, 3);
  const effH = (c.KH - 1) * c.d + 1;
  const effW = (c.KW - 1) * c.d + 1;
  if (typeof c.pad === 'number') {
    if (depthwise) return null;
    // tfjs needs an integral output size with numeric padding.
    if (c.H + 2 * c.pad - effH < 0 || (c.H + 2 * c.pad - effH) % c.s !== 0) return null;
    if (c.W + 2 * c.pad - effW < 0 || (c.W + 2 * c.pad - effW) % c.s !== 0) return null;
  }
  if (c.pad === 'valid' && (effH > c.H || effW > c.W)) return null;
  return c;
}

function cases(seed: number, count: number, depthwise = false): Case[] {
  const rng = createRng(seed);
  const out: Case[] = [];
  while (out.length < count) {
    const c = randomCase(rng, out.length % 3 === 2, depthwise);
    if (c) out.push(c);
  }
  return out;
}

function outShape(c: Case, depthwise: boolean): number[] {
  return tf.backend_util.computeConv2DInfo([c.N, c.H, c.W, c.C], [c.KH, c.KW, c.C, depthwise ? 1 : c.O], c.s, c.d, c.pad as 'same', undefined, depthwise).outShape;
}

/** dx and dW through the backprop kernels, called directly (dilations passed as attributes). */
function kernels(c: Case, depthwise: boolean, v: { x: Float32Array; w: Float32Array; dy: Float32Array }): () => tf.Tensor[] {
  return () => {
    const dy = tf.tensor(v.dy, outShape(c, depthwise));
    const fShape = [c.KH, c.KW, c.C, depthwise ? 1 : c.O];
    const common = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', dilations: c.d };
    const names = depthwise
      ? ['DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter']
      : ['Conv2DBackpropInput', 'Conv2DBackpropFilter'];
    const dx = tf.engine().runKernel(names[0], { dy, filter: tf.tensor(v.w, fShape) }, { ...common, inputShape: [c.N, c.H, c.W, c.C] } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const dw = tf.engine().runKernel(names[1], { x: tf.tensor(v.x, [c.N, c.H, c.W, c.C]), dy }, { ...common, filterShape: fShape } as unknown as tf.NamedAttrMap) as tf.Tensor;
    return [dx, dw];
  };
}

async function compare(seed: number, count: number, depthwise: boolean, configure: () => void): Promise<void> {
  const rng = createRng(seed + 1000);
  for (const c of cases(seed, count, depthwise)) {
    // The cpu backend has no dilated conv backprop kernels: fold the dilation into the filter there.
    if (c.d > 1) continue;
    const v = {
      x: randomValues(rng, c.N * c.H * c.W * c.C),
      w: randomValues(rng, c.KH * c.KW * c.C * (depthwise ? 1 : c.O)),
      dy: randomValues(rng, outShape(c, depthwise).reduce((a, b) => a * b, 1)),
    };
    const cpu = await onBackend('cpu', kernels(c, depthwise, v));
    configure();
    const wasm = await onBackend('wasm', kernels(c, depthwise, v));
    assert.ok(relErr(wasm[0], cpu[0]) < 1e-5, `dx ${JSON.stringify(c)}: ${relErr(wasm[0], cpu[0])}`);
    assert.ok(relErr(wasm[1], cpu[1]) < 1e-5, `dW ${JSON.stringify(c)}: ${relErr(wasm[1], cpu[1])}`);
  }
}

/** Dilated cases: gradients of sum(conv(x, w) * r) on wasm vs the CPU backend with the zero-inserted filter. */
async function compareDilated(seed: number, count: number, depthwise: boolean, configure: () => void): Promise<void> {
  const rng = createRng(seed + 2000);
  let seen = 0;
  for (const c of cases(seed, 8 * count, depthwise)) {
    // Forward convs with numeric padding run on wasm here (upstream heap bug): 'same' / 'valid' only.
    if (c.d === 1 || seen >= count || typeof c.pad === 'number') continue;
    seen++;
    const xv = randomValues(rng, c.N * c.H * c.W * c.C);
    const wv = randomValues(rng, c.KH * c.KW * c.C * (depthwise ? 1 : c.O));
    const run = (dilateOnCpu: boolean) => () => {
      const x = tf.tensor4d(xv, [c.N, c.H, c.W, c.C]);
      const w = tf.tensor4d(wv, [c.KH, c.KW, c.C, depthwise ? 1 : c.O]);
      return tf.grads((a: tf.Tensor, b: tf.Tensor) => {
        let f = b as tf.Tensor4D;
        let d = c.d;
        if (dilateOnCpu) {
          // Zero-insert the filter by hand: w_full[kh*d, kw*d] = w[kh, kw].
          const [KH, KW, I, O] = f.shape;
          const r = f.reshape([KH, 1, KW, 1, I, O]).pad([[0, 0], [0, c.d - 1], [0, 0], [0, c.d - 1], [0, 0], [0, 0]]);
          f = r.reshape([KH * c.d, KW * c.d, I, O]).slice([0, 0, 0, 0], [(KH - 1) * c.d + 1, (KW - 1) * c.d + 1, I, O]) as tf.Tensor4D;
          d = 1;
        }
        const y = depthwise ? tf.depthwiseConv2d(a as tf.Tensor4D, f, 1, c.pad as 'same', 'NHWC', d) : tf.conv2d(a as tf.Tensor4D, f, 1, c.pad as 'same', 'NHWC', d);
        return tf.sum(tf.mul(y, tf.sin(tf.range(0, y.size).reshape(y.shape))));
      })([x, w]);
    };
    const cpu = await onBackend('cpu', run(true));
    configure();
    const wasm = await onBackend('wasm', run(false));
    assert.ok(relErr(wasm[0], cpu[0]) < 1e-5, `dilated dx ${JSON.stringify(c)}`);
    assert.ok(relErr(wasm[1], cpu[1]) < 1e-5, `dilated dW ${JSON.stringify(c)}`);
  }
  assert.ok(seen >= count / 2, `dilated cases exercised: ${seen}`);
}

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test.after(() => {
  setNativeKernelsEnabled(true);
  setFilterGradMode('auto');
  setStridedBackpropCol2Im(false);
  setGenericDepthwiseGradients(false);
});

// The next two test the composed XNNPACK paths used when medfl's native kernels are off (MEDFL_NATIVE=0).
test('conv dx by stride phases and dW by transposed conv match CPU (60 shapes)', async () => {
  await compare(1, 60, false, () => {
    setNativeKernelsEnabled(false);
    setStridedBackpropCol2Im(false);
    setFilterGradMode('conv');
  });
});

test('conv dx by col2im and dW by im2col GEMM match CPU (60 shapes)', async () => {
  await compare(2, 60, false, () => {
    setNativeKernelsEnabled(false);
    setStridedBackpropCol2Im(true);
    setFilterGradMode('im2col');
  });
});

test('dilated conv gradients match CPU with each filter-gradient algorithm', async () => {
  for (const mode of ['conv', 'im2col'] as const) {
    await compareDilated(3, 12, false, () => setFilterGradMode(mode));
  }
  setFilterGradMode('auto');
});

test('depthwise gradients (multiplier 1): fast and generic paths match CPU, incl. dilation', async () => {
  for (const generic of [false, true]) {
    await compare(4, 30, true, () => setGenericDepthwiseGradients(generic));
    await compareDilated(5, 8, true, () => setGenericDepthwiseGradients(generic));
  }
  setGenericDepthwiseGradients(false);
});

test('the first (bias-free, linear) conv of a model computes no input gradient; values unchanged', async () => {
  await tf.setBackend('wasm');
  const x = tf.randomNormal([2, 12, 12, 3], 0, 1, 'float32', 1);
  const inp = tf.input({ shape: [12, 12, 3] });
  const h = tf.layers.conv2d({ filters: 4, kernelSize: 7, strides: 2, padding: 'same', useBias: false }).apply(inp) as tf.SymbolicTensor;
  const out = tf.layers.conv2d({ filters: 1, kernelSize: 3, padding: 'same' }).apply(tf.layers.reLU().apply(h) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const model = tf.model({ inputs: inp, outputs: out });
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const f = () => tf.sum(tf.square(model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar;
  const prof = await tf.profile(() => tf.dispose(tf.variableGrads(f, vars)));
  const kernelNames = prof.kernels.map((k) => k.name);
  // One dx for the second conv (its input comes from the first), none for the first.
  assert.is(kernelNames.filter((k) => k === 'Conv2DBackpropInput').length, 1);
  assert.is(kernelNames.filter((k) => k === 'Conv2DBackpropFilter').length, 2);
  // The gradient w.r.t. the image itself is still available when asked for.
  const [gx] = tf.grads((a: tf.Tensor) => tf.sum(tf.square(model.apply(a, { training: true }) as tf.Tensor)))([x]);
  await tf.setBackend('cpu');
  const xc = tf.tensor(x.dataSync(), x.shape);
  const gxCpu = tf.grads((a: tf.Tensor) => tf.sum(tf.square(model.apply(a, { training: true }) as tf.Tensor)))([xc])[0];
  const ref = Float32Array.from(gxCpu.dataSync());
  tf.dispose([xc, gxCpu]);
  await tf.setBackend('wasm');
  assert.ok(relErr(gx.dataSync(), ref) < 1e-4, 'image gradient matches cpu');
  tf.dispose([x, gx]);
  model.dispose();
});

test.run();
