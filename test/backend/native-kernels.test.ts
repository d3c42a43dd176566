/**
 * medfl's native WebAssembly SIMD kernels (src/backend/native): the embedded
 * binary matches its C source, and Conv2D / Conv2DBackpropFilter /
 * BatchNorm-training kernels match plain float64 reference loops on random
 * shapes (strides, dilations, 'same' / 'valid' / explicit padding, channel
 * counts that are and are not multiples of 4, the register-tile remainders).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { nativeKernels, nativeKernelsVariant, setNativeKernelsEnabled, setRelaxedSimd } from '../../src/backend/native';
import { KERNELS_SOURCE_SHA256, KERNELS_WASM_BASE64, KERNELS_WASM_RELAXED_BASE64 } from '../../src/backend/native/kernels-wasm';
import { BN_TRAIN_GRAD_KERNEL, BN_TRAIN_KERNEL } from '../../src/backend/native-batchnorm';
import { nativeConv2D, setNativeConvForward } from '../../src/backend/native-conv';
import { geluNative, nativeGeluAvailable } from '../../src/backend/native-gelu';
import { nativeAddonInfo, setNativeAddonEnabled, setNativeAddonIsa, setNativeThreads, type AddonIsa } from '../../src/backend/addon';
import { layerNormNative, nativeLayerNormAvailable } from '../../src/backend/native-layernorm';
import { convInfoFromAttrs, type WasmBackendLike } from '../../src/backend/wasm-util';
import { createRng, onBackend, randomValues, relErr } from './helpers';

interface ConvCase {
  N: number; H: number; W: number; C: number; K: number; KH: number; KW: number;
  s: [number, number]; d: [number, number]; pad: 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
}

/** Tiny-channel shapes of the zoo (DUCK-Net's 2-channel full-resolution convs, 1-channel heads). */
const TINY_CASES: ConvCase[] = [
  { N: 2, H: 9, W: 11, C: 2, K: 2, KH: 3, KW: 3, s: [1, 1], d: [1, 1], pad: 'same' },
  { N: 1, H: 7, W: 13, C: 3, K: 1, KH: 1, KW: 6, s: [1, 1], d: [1, 1], pad: 'same' },
  { N: 2, H: 10, W: 10, C: 2, K: 3, KH: 3, KW: 3, s: [1, 1], d: [2, 2], pad: 'same' },
  { N: 1, H: 6, W: 9, C: 7, K: 2, KH: 6, KW: 1, s: [1, 1], d: [1, 1], pad: 'same' },
];

function randomConvCases(seed: number, count: number): ConvCase[] {
  const rng = createRng(seed);
  const out: ConvCase[] = [...TINY_CASES];
  while (out.length < count) {
    const KH = rng.intBetween(1, 5);
    const KW = rng.intBetween(1, 5);
    const strided = rng.bernoulli(0.4);
    const s: [number, number] = strided ? [rng.intBetween(1, 3), rng.intBetween(1, 3)] : [1, 1];
    const d: [number, number] = rng.bernoulli(0.4) ? [rng.intBetween(1, 3), rng.intBetween(1, 3)] : [1, 1];
    const kind = rng.int(3);
    const pad: ConvCase['pad'] = kind === 0 ? 'same' : kind === 1 ? 'valid'
      : [[0, 0], [rng.int(3), rng.int(3)], [rng.int(3), rng.int(3)], [0, 0]];
    const c: ConvCase = {
      N: rng.intBetween(1, 2), H: rng.intBetween(1, 13), W: rng.intBetween(1, 13),
      C: rng.choice([1, 2, 3, 4, 5, 8, 9, 16]), K: rng.choice([1, 3, 4, 5, 8, 12, 16, 20]), KH, KW, s, d, pad,
    };
    const [oh, ow] = outHW(c);
    if (oh >= 1 && ow >= 1) out.push(c);
  }
  return out;
}

/** Output size and top/left padding, TensorFlow's rules. */
function geometry(c: ConvCase): { oh: number; ow: number; pt: number; pl: number } {
  const ekh = (c.KH - 1) * c.d[0] + 1;
  const ekw = (c.KW - 1) * c.d[1] + 1;
  if (c.pad === 'same') {
    const oh = Math.ceil(c.H / c.s[0]);
    const ow = Math.ceil(c.W / c.s[1]);
    const ph = Math.max(0, (oh - 1) * c.s[0] + ekh - c.H);
    const pw = Math.max(0, (ow - 1) * c.s[1] + ekw - c.W);
    return { oh, ow, pt: Math.floor(ph / 2), pl: Math.floor(pw / 2) };
  }
  const [pt, pb, pl, pr] = c.pad === 'valid' ? [0, 0, 0, 0] : [c.pad[1][0], c.pad[1][1], c.pad[2][0], c.pad[2][1]];
  return { oh: Math.floor((c.H + pt + pb - ekh) / c.s[0]) + 1, ow: Math.floor((c.W + pl + pr - ekw) / c.s[1]) + 1, pt, pl };
}
function outHW(c: ConvCase): [number, number] {
  const g = geometry(c);
  return [g.oh, g.ow];
}

/** Visit every (output pixel, tap, in-bounds input pixel): fn(xIndex base, yIndex base, filter tap base). */
function forEachTap(c: ConvCase, fn: (xb: number, yb: number, wb: number) => void): void {
  const { oh, ow, pt, pl } = geometry(c);
  for (let n = 0; n < c.N; n++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let ky = 0; ky < c.KH; ky++) {
          const iy = oy * c.s[0] + ky * c.d[0] - pt;
          if (iy < 0 || iy >= c.H) continue;
          for (let kx = 0; kx < c.KW; kx++) {
            const ix = ox * c.s[1] + kx * c.d[1] - pl;
            if (ix < 0 || ix >= c.W) continue;
            fn(((n * c.H + iy) * c.W + ix) * c.C, ((n * oh + oy) * ow + ox) * c.K, (ky * c.KW + kx) * c.C * c.K);
          }
        }
}

function refConv(c: ConvCase, x: Float32Array, w: Float32Array): Float64Array {
  const [oh, ow] = outHW(c);
  const y = new Float64Array(c.N * oh * ow * c.K);
  forEachTap(c, (xb, yb, wb) => {
    for (let ci = 0; ci < c.C; ci++) for (let k = 0; k < c.K; k++) y[yb + k] += x[xb + ci] * w[wb + ci * c.K + k];
  });
  return y;
}

function refFilterGrad(c: ConvCase, x: Float32Array, dy: Float32Array): Float64Array {
  const dw = new Float64Array(c.KH * c.KW * c.C * c.K);
  forEachTap(c, (xb, yb, wb) => {
    for (let ci = 0; ci < c.C; ci++) for (let k = 0; k < c.K; k++) dw[wb + ci * c.K + k] += x[xb + ci] * dy[yb + k];
  });
  return dw;
}

const attrsOf = (c: ConvCase) => ({ strides: c.s, pad: c.pad, dilations: c.d, dataFormat: 'NHWC', dimRoundingMode: undefined });

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test('the embedded wasm binary was built from the committed kernels.c', () => {
  const src = fs.readFileSync(path.join(__dirname, '../../src/backend/native/kernels.c'));
  assert.is(crypto.createHash('sha256').update(src).digest('hex'), KERNELS_SOURCE_SHA256, 'run `npm run build:wasm` after editing kernels.c');
  assert.ok(nativeKernels(tf.backend()), 'the kernels compile and bind to the wasm heap here');
});

test('both embedded builds export every kernel the loader binds', () => {
  const expected = [
    'avg_pool_grad', 'bias_act', 'bn_grad_sums', 'chan_affine', 'chan_sum', 'conv_dw', 'conv_dx_scatter', 'conv_fwd', 'dw_conv_dw', 'gelu_bwd', 'gelu_fwd',
    'layer_norm_bwd', 'layer_norm_fwd', 'matmul', 'max_pool_grad', 'pad_nhwc', 'prelu_grad', 'relu_grad', 'transpose_taps',
  ];
  const prev = setRelaxedSimd(true);
  nativeKernelsVariant(); // sets the engine flag relaxed SIMD needs on Node 20
  setRelaxedSimd(prev);
  const WA = (globalThis as unknown as { WebAssembly: { Module: { new (b: Uint8Array): object; exports(m: object): { name: string }[] } } }).WebAssembly;
  for (const b64 of [KERNELS_WASM_BASE64, KERNELS_WASM_RELAXED_BASE64]) {
    const names = WA.Module.exports(new WA.Module(Buffer.from(b64, 'base64'))).map((e) => e.name).sort();
    assert.equal(names, expected);
  }
});

test('both builds (plain SIMD128 and relaxed SIMD) run here and agree with the float64 reference', () => {
  const cases = randomConvCases(27, 12);
  const results: Record<string, Float32Array[]> = {};
  const prev = setRelaxedSimd(false);
  try {
    for (const relaxed of [false, true]) {
      setRelaxedSimd(relaxed);
      const variant = nativeKernelsVariant();
      assert.ok(variant !== null, 'the kernels compile');
      if (!relaxed) assert.is(variant, 'simd');
      results[variant!] = cases.map((c) => tf.tidy(() => {
        const xt = tf.tensor4d(randomValues(createRng(1), c.N * c.H * c.W * c.C), [c.N, c.H, c.W, c.C]);
        const ft = tf.tensor4d(randomValues(createRng(2), c.KH * c.KW * c.C * c.K), [c.KH, c.KW, c.C, c.K]);
        const be = tf.backend() as unknown as WasmBackendLike;
        const info = nativeConv2D(be, nativeKernels(be)!, xt, ft, convInfoFromAttrs(xt.shape, ft.shape, attrsOf(c), false));
        return Float32Array.from(tf.engine().makeTensorFromTensorInfo(info).dataSync());
      }));
    }
  } finally {
    setRelaxedSimd(prev);
  }
  // Node >= 20 accepts relaxed SIMD (Node 20 behind the flag the loader sets).
  assert.ok(results['relaxed-simd'], `relaxed build in use on Node ${process.version}`);
  cases.forEach((c, i) => {
    const ref = refConv(c, randomValues(createRng(1), c.N * c.H * c.W * c.C), randomValues(createRng(2), c.KH * c.KW * c.C * c.K));
    for (const v of Object.keys(results)) assert.ok(relErr(results[v][i], ref) < 1e-5, `${v} ${JSON.stringify(c)}`);
  });
});

test('native conv forward kernel matches a float64 reference (80 random shapes incl. strides + dilations, explicit padding)', () => {
  const rng = createRng(7);
  for (const c of randomConvCases(11, 80)) {
    const x = randomValues(rng, c.N * c.H * c.W * c.C);
    const w = randomValues(rng, c.KH * c.KW * c.C * c.K);
    const got = tf.tidy(() => {
      // Called directly: tfjs-core's conv2d refuses strides > 1 together with dilations > 1.
      const xt = tf.tensor4d(x, [c.N, c.H, c.W, c.C]);
      const ft = tf.tensor4d(w, [c.KH, c.KW, c.C, c.K]);
      const be = tf.backend() as unknown as WasmBackendLike;
      const info = nativeConv2D(be, nativeKernels(be)!, xt, ft, convInfoFromAttrs(xt.shape, ft.shape, attrsOf(c), false));
      const y = tf.engine().makeTensorFromTensorInfo(info);
      return y.dataSync().slice();
    });
    const [oh, ow] = outHW(c);
    assert.is(got.length, c.N * oh * ow * c.K, JSON.stringify(c));
    assert.ok(relErr(got, refConv(c, x, w)) < 1e-5, `${JSON.stringify(c)}: ${relErr(got, refConv(c, x, w))}`);
  }
});

test('native Conv2DBackpropFilter matches a float64 reference (80 random shapes incl. strides + dilations)', () => {
  const rng = createRng(8);
  for (const c of randomConvCases(12, 80)) {
    const x = randomValues(rng, c.N * c.H * c.W * c.C);
    const [oh, ow] = outHW(c);
    const dy = randomValues(rng, c.N * oh * ow * c.K);
    const got = tf.tidy(() => {
      const g = tf.engine().runKernel('Conv2DBackpropFilter', { x: tf.tensor4d(x, [c.N, c.H, c.W, c.C]), dy: tf.tensor4d(dy, [c.N, oh, ow, c.K]) },
        { ...attrsOf(c), filterShape: [c.KH, c.KW, c.C, c.K] } as unknown as tf.NamedAttrMap) as tf.Tensor;
      return g.dataSync().slice();
    });
    assert.ok(relErr(got, refFilterGrad(c, x, dy)) < 1e-5, `${JSON.stringify(c)}: ${relErr(got, refFilterGrad(c, x, dy))}`);
  }
});

function refInputGrad(c: ConvCase, dy: Float32Array, w: Float32Array): Float64Array {
  const dx = new Float64Array(c.N * c.H * c.W * c.C);
  forEachTap(c, (xb, yb, wb) => {
    for (let ci = 0; ci < c.C; ci++) for (let k = 0; k < c.K; k++) dx[xb + ci] += dy[yb + k] * w[wb + ci * c.K + k];
  });
  return dx;
}

test('Conv2DBackpropInput (native scatter when strided, flipped native conv at stride 1) matches a float64 reference (80 shapes)', () => {
  const rng = createRng(13);
  let strided = 0;
  for (const c of randomConvCases(14, 80)) {
    const w = randomValues(rng, c.KH * c.KW * c.C * c.K);
    const [oh, ow] = outHW(c);
    const dy = randomValues(rng, c.N * oh * ow * c.K);
    if (c.s[0] > 1 || c.s[1] > 1) strided++;
    const got = tf.tidy(() => {
      const g = tf.engine().runKernel('Conv2DBackpropInput', { dy: tf.tensor4d(dy, [c.N, oh, ow, c.K]), filter: tf.tensor4d(w, [c.KH, c.KW, c.C, c.K]) },
        { ...attrsOf(c), inputShape: [c.N, c.H, c.W, c.C] } as unknown as tf.NamedAttrMap) as tf.Tensor;
      return g.dataSync().slice();
    });
    assert.ok(relErr(got, refInputGrad(c, dy, w)) < 1e-5, `${JSON.stringify(c)}: ${relErr(got, refInputGrad(c, dy, w))}`);
  }
  assert.ok(strided >= 20, `strided cases: ${strided}`);
});

test('engine Conv2D / FusedConv2D (native) match the CPU backend; FusedConv2D outside a tape equals Conv2D + Add + activation inside one, bit for bit', async () => {
  const rng = createRng(21);
  const acts = ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const;
  const cases = randomConvCases(22, 24).filter((c) => c.s[0] === 1 && c.s[1] === 1 || c.d[0] === 1 && c.d[1] === 1);
  assert.ok(cases.length >= 15);
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i];
    const act = acts[i % acts.length];
    const x = randomValues(rng, c.N * c.H * c.W * c.C);
    const w = randomValues(rng, c.KH * c.KW * c.C * c.K);
    const b = randomValues(rng, c.K);
    const alpha = Float32Array.from(randomValues(rng, c.K), (v) => 0.2 + 0.1 * v);
    const broadcastBias = i % 5 === 4; // a [1, 1, 1, K] bias instead of [K]
    const run = (): tf.Tensor[] => {
      const xt = tf.tensor4d(x, [c.N, c.H, c.W, c.C]);
      const ft = tf.tensor4d(w, [c.KH, c.KW, c.C, c.K]);
      const bt = broadcastBias ? tf.tensor4d(b, [1, 1, 1, c.K]) : tf.tensor1d(b);
      const plain = tf.conv2d(xt, ft, c.s, c.pad, 'NHWC', c.d);
      const fused = tf.fused.conv2d({ x: xt, filter: ft, strides: c.s, pad: c.pad, dilations: c.d, bias: bt, activation: act,
        preluActivationWeights: act === 'prelu' ? tf.tensor1d(alpha) : undefined, leakyreluAlpha: 0.15 });
      return [plain, fused];
    };
    const label = `${JSON.stringify(c)} ${act}${broadcastBias ? ' (broadcast bias)' : ''}`;
    const [plainW, fusedW] = await onBackend('wasm', run);
    // Inside a gradient tape tfjs-core runs the fused op unfused (Conv2D, Add, activation).
    let inTape = new Float32Array(0);
    tf.tidy(() => {
      const ft = tf.tensor4d(w, [c.KH, c.KW, c.C, c.K]);
      const bt = broadcastBias ? tf.tensor4d(b, [1, 1, 1, c.K]) : tf.tensor1d(b);
      const prelu = act === 'prelu' ? tf.tensor1d(alpha) : undefined;
      tf.grad((xt: tf.Tensor) => {
        const f = tf.fused.conv2d({ x: xt as tf.Tensor4D, filter: ft, strides: c.s, pad: c.pad, dilations: c.d, bias: bt, activation: act,
          preluActivationWeights: prelu, leakyreluAlpha: 0.15 });
        inTape = Float32Array.from(f.dataSync());
        return tf.sum(f);
      })(tf.tensor4d(x, [c.N, c.H, c.W, c.C]));
    });
    assert.equal(Array.from(fusedW), Array.from(inTape), `${label}: fused (no tape) vs unfused (tape) differ`);
    const [plainC, fusedC] = await onBackend('cpu', run);
    await tf.setBackend('wasm');
    assert.ok(relErr(plainW, plainC) < 1e-5, `${label}: conv2d vs cpu ${relErr(plainW, plainC)}`);
    assert.ok(relErr(fusedW, fusedC) < 1e-5, `${label}: fused vs cpu ${relErr(fusedW, fusedC)}`);
  }
});

test('with the native kernels switched off, Conv2D falls back to tfjs-wasm (same values)', () => {
  const rng = createRng(9);
  const c: ConvCase = { N: 2, H: 9, W: 7, C: 6, K: 8, KH: 3, KW: 3, s: [1, 1], d: [1, 1], pad: 'same' };
  const x = randomValues(rng, c.N * c.H * c.W * c.C);
  const w = randomValues(rng, 9 * c.C * c.K);
  const run = () => tf.tidy(() => tf.conv2d(tf.tensor4d(x, [2, 9, 7, 6]), tf.tensor4d(w, [3, 3, 6, 8]), 1, 'same').dataSync().slice());
  const on = run();
  const prev = setNativeKernelsEnabled(false);
  try {
    assert.is(nativeKernels(tf.backend()), null);
    const off = run();
    assert.ok(relErr(on, off) < 1e-6, `native vs XNNPACK ${relErr(on, off)}`);
    assert.ok(relErr(off, refConv(c, x, w)) < 1e-5);
  } finally {
    setNativeKernelsEnabled(prev);
  }
  // The forward alone can go back to XNNPACK too (MEDFL_NATIVE_CONV_FORWARD=0).
  const prevFwd = setNativeConvForward(false);
  try {
    assert.ok(relErr(run(), refConv(c, x, w)) < 1e-5);
  } finally {
    setNativeConvForward(prevFwd);
  }
});

/** Float64 BatchNorm training forward / backward over x[P, C]. */
function refBatchNorm(x: Float32Array, dy: Float32Array, gamma: Float32Array | null, beta: Float32Array | null, C: number, eps: number) {
  const P = x.length / C;
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  for (let i = 0; i < x.length; i++) mean[i % C] += x[i] / P;
  for (let i = 0; i < x.length; i++) variance[i % C] += (x[i] - mean[i % C]) ** 2 / P;
  const r = Array.from(variance, (v) => 1 / Math.sqrt(v + eps));
  const y = new Float64Array(x.length);
  const sDy = new Float64Array(C);
  const sDyXhat = new Float64Array(C);
  for (let i = 0; i < x.length; i++) {
    const c = i % C;
    const xhat = (x[i] - mean[c]) * r[c];
    y[i] = (gamma ? gamma[c] : 1) * xhat + (beta ? beta[c] : 0);
    sDy[c] += dy[i];
    sDyXhat[c] += dy[i] * xhat;
  }
  // dx = gamma r (dy - sum(dy)/P - xhat sum(dy xhat)/P)
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = i % C;
    const xhat = (x[i] - mean[c]) * r[c];
    dx[i] = (gamma ? gamma[c] : 1) * r[c] * (dy[i] - sDy[c] / P - (xhat * sDyXhat[c]) / P);
  }
  return { y, mean, variance, dx, dgamma: sDyXhat, dbeta: sDy };
}

test('native BatchNorm training kernels match float64 formulas (C = 1, 3, 4, 8, 13; > 256-row blocks; with / without gamma, beta)', () => {
  const rng = createRng(10);
  const eps = 1e-3;
  for (const [shape, affine] of [[[2, 5, 7, 3], true], [[3, 11, 13, 4], true], [[700, 8], false], [[2, 9, 9, 13], true], [[600, 1], true]] as [number[], boolean][]) {
    const C = shape[shape.length - 1];
    const n = shape.reduce((a, b) => a * b, 1);
    const x = Float32Array.from(randomValues(rng, n), (v) => 3 * v + 2);
    const dy = randomValues(rng, n);
    const gamma = affine ? Float32Array.from(randomValues(rng, C), (v) => v + 1.5) : null;
    const beta = affine ? randomValues(rng, C) : null;
    const ref = refBatchNorm(x, dy, gamma, beta, C, eps);
    const got = tf.tidy(() => {
      const xt = tf.tensor(x, shape);
      const ins: Record<string, tf.Tensor> = { x: xt };
      if (gamma) ins.gamma = tf.tensor1d(gamma);
      if (beta) ins.beta = tf.tensor1d(beta);
      const [y, m, v] = tf.engine().runKernel(BN_TRAIN_KERNEL, ins, { epsilon: eps } as unknown as tf.NamedAttrMap) as tf.Tensor[];
      const gIns: Record<string, tf.Tensor> = { dy: tf.tensor(dy, shape), x: xt, mean: m, variance: v };
      if (gamma) gIns.gamma = ins.gamma;
      const [dx, dg, db] = tf.engine().runKernel(BN_TRAIN_GRAD_KERNEL, gIns, { epsilon: eps } as unknown as tf.NamedAttrMap) as tf.Tensor[];
      return [y, m, v, dx, dg, db].map((t) => t.dataSync().slice());
    });
    const label = `${JSON.stringify(shape)} affine=${affine}`;
    assert.ok(relErr(got[0], ref.y) < 2e-5, `y ${label} ${relErr(got[0], ref.y)}`);
    assert.ok(relErr(got[1], ref.mean) < 1e-6, `mean ${label}`);
    assert.ok(relErr(got[2], ref.variance) < 1e-6, `variance ${label}`);
    assert.ok(relErr(got[3], ref.dx) < 2e-5, `dx ${label} ${relErr(got[3], ref.dx)}`);
    assert.ok(relErr(got[4], ref.dgamma) < 2e-5, `dgamma ${label}`);
    assert.ok(relErr(got[5], ref.dbeta) < 2e-5, `dbeta ${label}`);
  }
});

test('depthwise filter gradient (multiplier 1, native) matches a float64 reference (60 shapes incl. strides + dilations)', () => {
  const rng = createRng(15);
  for (const c0 of randomConvCases(16, 60)) {
    const c = { ...c0, K: c0.C };
    const x = randomValues(rng, c.N * c.H * c.W * c.C);
    const [oh, ow] = outHW(c);
    const dy = randomValues(rng, c.N * oh * ow * c.C);
    const ref = new Float64Array(c.KH * c.KW * c.C);
    // depthwise: channel ci reads only channel ci; the filter tap base is (ky*KW+kx)*C*K with K = C, so divide by C.
    forEachTap(c, (xb, yb, wb) => {
      for (let ci = 0; ci < c.C; ci++) ref[wb / c.C + ci] += x[xb + ci] * dy[yb + ci];
    });
    const got = tf.tidy(() => {
      const g = tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x: tf.tensor4d(x, [c.N, c.H, c.W, c.C]), dy: tf.tensor4d(dy, [c.N, oh, ow, c.C]) },
        { ...attrsOf(c), filterShape: [c.KH, c.KW, c.C, 1] } as unknown as tf.NamedAttrMap) as tf.Tensor;
      return g.dataSync().slice();
    });
    assert.ok(relErr(got, ref) < 1e-5, `${JSON.stringify(c)}: ${relErr(got, ref)}`);
  }
});

test('PReLU gradient (native, per-channel alpha) matches a float64 reference; other alpha shapes use tfjs', () => {
  const rng = createRng(17);
  for (const shape of [[2, 6, 5, 8], [3, 7, 7, 5], [600, 3]]) {
    const C = shape[shape.length - 1];
    const n = shape.reduce((a, b) => a * b, 1);
    const x = randomValues(rng, n);
    x[0] = 0; // tfjs' convention: x = 0 takes the alpha branch
    const dy = randomValues(rng, n);
    const alpha = Float32Array.from(randomValues(rng, C), (v) => 0.25 + 0.1 * v);
    const dx = new Float64Array(n);
    const da = new Float64Array(C);
    for (let i = 0; i < n; i++) {
      const c = i % C;
      dx[i] = x[i] > 0 ? dy[i] : alpha[c] * dy[i];
      if (!(x[i] > 0)) da[c] += dy[i] * x[i];
    }
    const alphaShape = shape.length === 4 ? [1, 1, C] : [C];
    const got = tf.tidy(() => {
      const xt = tf.tensor(x, shape);
      const at = tf.tensor(alpha, alphaShape);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.prelu(a, b), tf.tensor(dy, shape))))([xt, at]);
      return g.map((t) => t.dataSync().slice());
    });
    assert.ok(relErr(got[0], dx) < 1e-6, `dx ${JSON.stringify(shape)}`);
    assert.ok(relErr(got[1], da) < 1e-5, `dalpha ${JSON.stringify(shape)}: ${relErr(got[1], da)}`);
  }
  // A scalar slope is not per-channel: tfjs' own gradient runs.
  const g = tf.tidy(() => tf.grad((a: tf.Tensor) => tf.sum(tf.prelu(a, tf.scalar(0.5))))(tf.tensor([-1, 2, -3])).dataSync().slice());
  assert.equal(Array.from(g), [0.5, 1, 0.5]);
});

test('BatchMatMul / _FusedMatMul (native) match a float64 reference: transposes, broadcast batches, tails, K blocks, narrow N, bias + relu', () => {
  const rng = createRng(18);
  for (let t = 0; t < 48; t++) {
    // The last 8: K beyond one 256-deep block (blocked accumulation), narrow N (A^T path).
    const big = t >= 40;
    const mv = t === 47; // A^T times a vector, 16-row passes + tail rows
    const M = mv ? 37 : big ? rng.intBetween(3, 21) : rng.intBetween(1, 13);
    const K = big ? rng.intBetween(257, 700) : rng.intBetween(1, 11);
    const N = mv ? 1 : big ? rng.choice([1, 2, 3, 4, 7, 9, 16]) : rng.intBetween(1, 19);
    const tA = mv || rng.bernoulli(0.5);
    const tB = rng.bernoulli(0.5);
    const batch = rng.intBetween(1, 3);
    const bcast = rng.int(3); // 0: both batched, 1: a has batch 1, 2: b is rank 2
    const aShape = [bcast === 1 ? 1 : batch, ...(tA ? [K, M] : [M, K])];
    const bShape = bcast === 2 ? (tB ? [N, K] : [K, N]) : [batch, ...(tB ? [N, K] : [K, N])];
    const av = randomValues(rng, aShape.reduce((x, y) => x * y, 1));
    const bv = randomValues(rng, bShape.reduce((x, y) => x * y, 1));
    const bias = randomValues(rng, N);
    const aAt = (bi: number, i: number, k: number) => av[(aShape[0] === 1 ? 0 : bi) * M * K + (tA ? k * M + i : i * K + k)];
    const bAt = (bi: number, k: number, j: number) => bv[(bcast === 2 ? 0 : bi) * K * N + (tB ? j * K + k : k * N + j)];
    const ref = new Float64Array(batch * M * N);
    const refFused = new Float64Array(batch * M * N);
    for (let bi = 0; bi < batch; bi++)
      for (let i = 0; i < M; i++)
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += aAt(bi, i, k) * bAt(bi, k, j);
          ref[(bi * M + i) * N + j] = s;
          refFused[(bi * M + i) * N + j] = Math.max(0, s + bias[j]);
        }
    const [plain, fused] = tf.tidy(() => {
      const a = tf.tensor(av, aShape);
      const b = tf.tensor(bv, bShape);
      const p = tf.matMul(a, b, tA, tB);
      const f = tf.fused.matMul({ a, b, transposeA: tA, transposeB: tB, bias: tf.tensor1d(bias), activation: 'relu' });
      return [p.dataSync().slice(), f.dataSync().slice()];
    });
    const label = JSON.stringify({ M, K, N, tA, tB, batch, bcast });
    assert.ok(relErr(plain, ref) < 1e-5, `matMul ${label}: ${relErr(plain, ref)}`);
    assert.ok(relErr(fused, refFused) < 1e-5, `fused ${label}: ${relErr(fused, refFused)}`);
  }
});

test('Sum over all axes but the last (native) matches float64 sums; other reductions unchanged', () => {
  const rng = createRng(19);
  for (const [shape, keepDims] of [[[2, 5, 7, 6], false], [[700, 3], true], [[3, 4, 8], false], [[9, 1], false]] as [number[], boolean][]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const C = shape[shape.length - 1];
    const v = randomValues(rng, n);
    const ref = new Float64Array(C);
    for (let i = 0; i < n; i++) ref[i % C] += v[i];
    const axes = shape.slice(0, -1).map((_, i) => i);
    const s = tf.tidy(() => tf.sum(tf.tensor(v, shape), axes, keepDims));
    const got = s.dataSync().slice();
    const gotShape = s.shape;
    s.dispose();
    assert.equal(gotShape, keepDims ? [...axes.map(() => 1), C] : [C]);
    assert.ok(relErr(got, ref) < 1e-6, `${JSON.stringify(shape)}: ${relErr(got, ref)}`);
  }
  // Regression: with clang's auto-vectoriser on, V8 11 (Node 20) optimised code
  // lost the last channels of C = 6 after many calls with other C.
  for (let i = 0; i < 2000; i++) tf.tidy(() => tf.sum(tf.ones([40, i % 2 ? 3 : 8]), 0));
  const six = tf.tidy(() => Array.from(tf.sum(tf.ones([15, 6]), 0).dataSync()));
  assert.equal(six, [15, 15, 15, 15, 15, 15]);
  const inner = tf.tidy(() => Array.from(tf.sum(tf.tensor2d([[1, 2, 3], [4, 5, 6]]), 1).dataSync()));
  assert.equal(inner, [6, 15]);
  const all = tf.tidy(() => tf.sum(tf.tensor2d([[1, 2, 3], [4, 5, 6]])).dataSync()[0]);
  assert.is(all, 21);
});

test('ReLU gradient (native, one pass) equals tfjs-core\'s dy * step(x) on the CPU backend, signed zeros and NaN included', async () => {
  const rng = createRng(23);
  for (const n of [1, 3, 4, 37, 4096]) {
    const x = randomValues(rng, n);
    const dy = randomValues(rng, n);
    if (n > 4) {
      x[1] = 0; x[2] = -0; x[3] = NaN; dy[4] = -dy[4]; x[4] = -Math.abs(x[4]); // -dy * 0 = -0
    }
    const run = (): tf.Tensor[] => [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), tf.tensor1d(dy))))(tf.tensor1d(x))];
    const [w] = await onBackend('wasm', run);
    const [c] = await onBackend('cpu', run);
    await tf.setBackend('wasm');
    for (let i = 0; i < n; i++) assert.ok(Object.is(w[i], c[i]), `n=${n} i=${i}: x=${x[i]} dy=${dy[i]}: wasm ${w[i]} vs cpu ${c[i]}`);
  }
});

test('per-channel bias Add (native, any C) equals the CPU backend bit for bit; other Adds unchanged', async () => {
  const rng = createRng(24);
  for (const [shape, biasShape, swap] of [
    [[2, 5, 3, 2], [2], false], [[7, 3], [3], true], [[3, 4, 4], [1, 1, 4], false], [[1, 6, 5], [5], false],
    [[2, 9, 1], [1], true], [[4, 2, 2, 8], [1, 1, 1, 8], false], [[5, 13], [13], false],
  ] as [number[], number[], boolean][]) {
    const xv = randomValues(rng, shape.reduce((a, b) => a * b, 1));
    const bv = randomValues(rng, biasShape.reduce((a, b) => a * b, 1));
    const run = (): tf.Tensor[] => {
      const x = tf.tensor(xv, shape);
      const b = tf.tensor(bv, biasShape);
      return [swap ? tf.add(b, x) : tf.add(x, b)];
    };
    const [w] = await onBackend('wasm', run);
    const [c] = await onBackend('cpu', run);
    await tf.setBackend('wasm');
    assert.equal(Array.from(w), Array.from(c), `${JSON.stringify(shape)} + ${JSON.stringify(biasShape)}`);
  }
  const other = tf.tidy(() => Array.from(tf.add(tf.tensor2d([[1, 2, 3], [4, 5, 6]]), tf.tensor2d([[10], [20]])).dataSync()));
  assert.equal(other, [11, 12, 13, 24, 25, 26]);
  const ints = tf.tidy(() => Array.from(tf.add(tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32'), tf.tensor1d([5, 6], 'int32')).dataSync()));
  assert.equal(ints, [6, 8, 8, 10]);
});

test('native GELU forward and gradient match the composed exact GELU (x/2 (1 + erf(x/sqrt2))) on the CPU backend (wasm kernels, and the addon at every ISA level on 2 threads)', async () => {
  const rng = createRng(25);
  const x = Float32Array.from(randomValues(rng, 20011), (v) => 6 * v); // several of the addon's blocks and a tail
  x.set([0, -0, 1e-8, -1e-8, 9, -9, 30, -30, 100, -100], 0);
  const dy = randomValues(rng, x.length);
  const composed = (): tf.Tensor[] => {
    const f = (t: tf.Tensor) => tf.mul(tf.mul(t, 0.5), tf.add(1, tf.erf(tf.mul(t, Math.SQRT1_2))));
    const xt = tf.tensor1d(x);
    return [f(xt), tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), tf.tensor1d(dy))))(xt)];
  };
  const [yc, gc] = await onBackend('cpu', composed);
  await tf.setBackend('wasm');
  assert.ok(nativeGeluAvailable());
  const variants: Array<[string, () => void]> = [['wasm kernels', () => setNativeAddonEnabled(false)]];
  if (nativeAddonInfo().loaded) {
    for (const isa of ['avx512', 'avx2', 'baseline'] as AddonIsa[]) variants.push([`addon ${isa}`, () => { setNativeAddonEnabled(true); setNativeAddonIsa(isa); }]);
  }
  const prevOn = setNativeAddonEnabled(true);
  const prevT = setNativeThreads(2);
  try {
    for (const [name, use] of variants) {
      use();
      const [yn, gn] = tf.tidy(() => {
        const xt = tf.tensor1d(x);
        return [geluNative(xt).dataSync().slice(), tf.grad((t: tf.Tensor) => tf.sum(tf.mul(geluNative(t), tf.tensor1d(dy))))(xt).dataSync().slice()];
      });
      for (let i = 0; i < x.length; i++) {
        assert.ok(Math.abs(yn[i] - yc[i]) <= 1e-6 * (1 + Math.abs(yc[i])), `${name}: gelu(${x[i]}): native ${yn[i]} vs ${yc[i]}`);
        assert.ok(Math.abs(gn[i] - gc[i]) <= 2e-6 * (1 + Math.abs(gc[i])), `${name}: gelu'(${x[i]}) dy=${dy[i]}: native ${gn[i]} vs ${gc[i]}`);
      }
      assert.is(yn[0], 0, name);
      assert.is(yn[8], 100, name);
      assert.ok(Math.abs(yn[9]) < 1e-30, `${name}: gelu(-100) = -0 / tiny`);
    }
  } finally {
    setNativeAddonEnabled(prevOn);
    setNativeThreads(prevT);
    if (nativeAddonInfo().loaded) setNativeAddonIsa('avx512');
  }
});

test('native LayerNorm forward and gradients (x, gamma, beta) match the composed formula on the CPU backend', async () => {
  const rng = createRng(28);
  for (const shape of [[3, 5, 7], [2, 4, 48], [600, 12], [1, 1, 3]]) {
    const C = shape[shape.length - 1];
    const n = shape.reduce((a, b) => a * b, 1);
    const xv = Float32Array.from(randomValues(rng, n), (v) => 3 * v + 0.7);
    const gv = Float32Array.from(randomValues(rng, C), (v) => 1 + 0.3 * v);
    const bv = randomValues(rng, C);
    const dyv = randomValues(rng, n);
    const composed = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const mean = tf.mean(x, -1, true);
      const xc = tf.sub(x, mean);
      return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), 1e-5))), g), b);
    };
    const run = (f: (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor) => (): tf.Tensor[] => {
      const args = [tf.tensor(xv, shape), tf.tensor1d(gv), tf.tensor1d(bv)];
      const y = f(args[0], args[1], args[2]);
      const grads = tf.grads((x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(x, g, b), tf.tensor(dyv, shape))))(args);
      return [y, ...grads];
    };
    const ref = await onBackend('cpu', run(composed));
    await tf.setBackend('wasm');
    assert.ok(nativeLayerNormAvailable());
    const got = await onBackend('wasm', run((x, g, b) => layerNormNative(x, g, b, 1e-5)));
    ['y', 'dx', 'dgamma', 'dbeta'].forEach((name, i) => assert.ok(relErr(got[i], ref[i]) < 2e-5, `${name} ${JSON.stringify(shape)}: ${relErr(got[i], ref[i])}`));
  }
});

test('Identity on wasm shares the heap data: clones outlive their source, no copy, no leak', () => {
  const be = tf.backend() as unknown as { numDataIds(): number };
  const d0 = be.numDataIds();
  const a = tf.tensor1d([1, 2, 3]);
  const b = tf.clone(a);
  assert.is(be.numDataIds(), d0 + 1, 'one heap buffer for both');
  a.dispose();
  assert.equal(Array.from(b.dataSync()), [1, 2, 3], 'the clone survives its source');
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.clone(v), v)))(b); // clone on a gradient path
  assert.equal(Array.from(g.dataSync()), [2, 4, 6]);
  tf.dispose([b, g]);
  assert.is(be.numDataIds(), d0);
});

test('native kernels release their scratch buffers (no tensors, no heap data ids left)', () => {
  const be = tf.backend() as unknown as { numDataIds(): number };
  const step = () => tf.tidy(() => {
    const x = tf.randomNormal([2, 10, 10, 4], 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 4, 8], 0, 1, 'float32', 2) as tf.Tensor4D;
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'))))([x, w]);
    const [y] = tf.engine().runKernel(BN_TRAIN_KERNEL, { x }, { epsilon: 1e-3 } as unknown as tf.NamedAttrMap) as tf.Tensor[];
    const dwf = tf.grad((f: tf.Tensor) => tf.sum(tf.depthwiseConv2d(x, f as tf.Tensor4D, 1, 'same')))(tf.ones([3, 3, 4, 1]));
    const pg = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.prelu(a, b)))([x, tf.fill([1, 1, 4], 0.2)]);
    const mm = tf.sum(tf.matMul(tf.ones([3, 5, 4]), tf.ones([3, 6, 4]), false, true), [0, 1]);
    const fused = tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', bias: tf.ones([8]), activation: 'relu' });
    const biasAdd = tf.add(x, tf.ones([4]));
    const ln = tf.grads((a: tf.Tensor, gm: tf.Tensor, bt: tf.Tensor) => tf.sum(layerNormNative(a, gm, bt, 1e-5)))([x, tf.ones([4]), tf.zeros([4])]);
    const ge = tf.grad((a: tf.Tensor) => tf.sum(geluNative(a)))(x);
    const re = tf.grad((a: tf.Tensor) => tf.sum(tf.relu(a)))(x);
    const mp = tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 3, 1, 'same')))(x);
    return tf.addN([tf.sum(g[0]), tf.sum(g[1]), tf.sum(y), tf.sum(dwf), tf.sum(pg[0]), tf.sum(pg[1]), tf.sum(mm), tf.sum(fused), tf.sum(biasAdd),
      ...ln.map((t) => tf.sum(t)), tf.sum(ge), tf.sum(re), tf.sum(mp)]).dataSync();
  });
  step();
  const t0 = tf.memory().numTensors;
  const d0 = be.numDataIds();
  for (let i = 0; i < 3; i++) step();
  assert.is(tf.memory().numTensors, t0);
  assert.is(be.numDataIds(), d0);
});

test.run();
