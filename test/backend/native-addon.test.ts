/**
 * medfl's native CPU addon (src/backend/addon): its conv forward, filter
 * gradient, input gradient and matrix product match float64 references at
 * every ISA level the CPU offers (AVX-512, AVX2 + FMA, baseline) and with 1
 * or 3 threads, on shapes that hit the register tiles, their remainders and
 * channel counts that are not multiples of the vector width; results are
 * identical for any thread count; the heap is re-fetched after growth; and
 * switching it off gives the wasm kernels back. Without a built addon (no
 * compiler at install) only the fallback is checked.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { nativeAddonInfo, setNativeAddonEnabled, setNativeAddonIsa, setNativeThreads, type AddonIsa } from '../../src/backend/addon';
import { nativeKernels } from '../../src/backend/native';
import { BN_TRAIN_GRAD_KERNEL, BN_TRAIN_KERNEL } from '../../src/backend/native-batchnorm';
import { createRng, randomValues, relErr } from './helpers';

interface Case { N: number; H: number; W: number; C: number; K: number; KH: number; KW: number; s: number; d: number; pad: 'same' | 'valid' }

function geometry(c: Case): { oh: number; ow: number; pt: number; pl: number } {
  const ekh = (c.KH - 1) * c.d + 1;
  const ekw = (c.KW - 1) * c.d + 1;
  if (c.pad === 'same') {
    const oh = Math.ceil(c.H / c.s);
    const ow = Math.ceil(c.W / c.s);
    return { oh, ow, pt: Math.floor(Math.max(0, (oh - 1) * c.s + ekh - c.H) / 2), pl: Math.floor(Math.max(0, (ow - 1) * c.s + ekw - c.W) / 2) };
  }
  return { oh: Math.floor((c.H - ekh) / c.s) + 1, ow: Math.floor((c.W - ekw) / c.s) + 1, pt: 0, pl: 0 };
}

function forEachTap(c: Case, fn: (xb: number, yb: number, wb: number) => void): void {
  const { oh, ow, pt, pl } = geometry(c);
  for (let n = 0; n < c.N; n++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let ky = 0; ky < c.KH; ky++) {
          const iy = oy * c.s + ky * c.d - pt;
          if (iy < 0 || iy >= c.H) continue;
          for (let kx = 0; kx < c.KW; kx++) {
            const ix = ox * c.s + kx * c.d - pl;
            if (ix < 0 || ix >= c.W) continue;
            fn(((n * c.H + iy) * c.W + ix) * c.C, ((n * oh + oy) * ow + ox) * c.K, (ky * c.KW + kx) * c.C * c.K);
          }
        }
}

/** Random shapes with channel counts around the 4 / 8 / 16-float vectors and their 2-vector panels. */
function cases(seed: number, count: number): Case[] {
  const rng = createRng(seed);
  const out: Case[] = [
    { N: 2, H: 13, W: 29, C: 32, K: 64, KH: 3, KW: 3, s: 1, d: 1, pad: 'same' },
    { N: 1, H: 9, W: 27, C: 16, K: 48, KH: 3, KW: 3, s: 2, d: 1, pad: 'same' },
    { N: 2, H: 8, W: 8, C: 64, K: 32, KH: 2, KW: 2, s: 2, d: 1, pad: 'valid' },
    { N: 1, H: 11, W: 30, C: 3, K: 16, KH: 3, KW: 3, s: 1, d: 1, pad: 'same' },
    { N: 1, H: 12, W: 26, C: 40, K: 1, KH: 1, KW: 1, s: 1, d: 1, pad: 'same' },
    { N: 2, H: 7, W: 9, C: 24, K: 32, KH: 1, KW: 1, s: 1, d: 1, pad: 'same' }, // 1 x 1: the filter gradient as one matrix product
    { N: 3, H: 5, W: 6, C: 7, K: 48, KH: 1, KW: 1, s: 1, d: 1, pad: 'valid' },
    { N: 1, H: 3, W: 70, C: 8, K: 64, KH: 3, KW: 3, s: 1, d: 1, pad: 'same' }, // 64-channel panels, long rows (6 x 4 filter-gradient tiles)
    { N: 2, H: 2, W: 67, C: 5, K: 128, KH: 3, KW: 2, s: 1, d: 1, pad: 'same' },
    { N: 1, H: 5, W: 21, C: 17, K: 17, KH: 3, KW: 3, s: 1, d: 1, pad: 'same' }, // DUCK-Net's 17 n channels: wide vectors + a tail
    { N: 1, H: 4, W: 19, C: 34, K: 68, KH: 3, KW: 3, s: 1, d: 1, pad: 'same' },
  ];
  while (out.length < count) {
    const c: Case = {
      N: rng.intBetween(1, 2), H: rng.intBetween(1, 14), W: rng.intBetween(1, 30),
      C: rng.choice([1, 3, 4, 8, 12, 16, 20, 24, 32, 36, 48, 64]), K: rng.choice([1, 2, 4, 5, 8, 12, 16, 17, 20, 24, 32, 34, 40, 48, 64, 68, 72]),
      KH: rng.intBetween(1, 3), KW: rng.intBetween(1, 3), s: rng.bernoulli(0.3) ? 2 : 1, d: rng.bernoulli(0.2) ? 2 : 1,
      pad: rng.bernoulli(0.7) ? 'same' : 'valid',
    };
    if (c.s > 1 && c.d > 1) c.d = 1; // tfjs-core refuses both
    const g = geometry(c);
    if (g.oh >= 1 && g.ow >= 1) out.push(c);
  }
  return out;
}

const attrs = (c: Case) => ({ strides: c.s, pad: c.pad, dilations: c.d, dataFormat: 'NHWC' });

/** [forward, filter gradient, input gradient] of one case on the active kernels. */
function runCase(c: Case, x: Float32Array, w: Float32Array, dy: Float32Array): Float32Array[] {
  const { oh, ow } = geometry(c);
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, [c.N, c.H, c.W, c.C]);
    const wt = tf.tensor4d(w, [c.KH, c.KW, c.C, c.K]);
    const dyt = tf.tensor4d(dy, [c.N, oh, ow, c.K]);
    const y = tf.engine().runKernel('Conv2D', { x: xt, filter: wt }, attrs(c) as unknown as tf.NamedAttrMap) as tf.Tensor;
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x: xt, dy: dyt }, { ...attrs(c), filterShape: [c.KH, c.KW, c.C, c.K] } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy: dyt, filter: wt }, { ...attrs(c), inputShape: [c.N, c.H, c.W, c.C] } as unknown as tf.NamedAttrMap) as tf.Tensor;
    return [y, dw, dx].map((t) => Float32Array.from(t.dataSync()));
  });
}

function reference(c: Case, x: Float32Array, w: Float32Array, dy: Float32Array): Float64Array[] {
  const { oh, ow } = geometry(c);
  const y = new Float64Array(c.N * oh * ow * c.K);
  const dw = new Float64Array(w.length);
  const dx = new Float64Array(x.length);
  forEachTap(c, (xb, yb, wb) => {
    for (let ci = 0; ci < c.C; ci++)
      for (let k = 0; k < c.K; k++) {
        y[yb + k] += x[xb + ci] * w[wb + ci * c.K + k];
        dw[wb + ci * c.K + k] += x[xb + ci] * dy[yb + k];
        dx[xb + ci] += dy[yb + k] * w[wb + ci * c.K + k];
      }
  });
  return [y, dw, dx];
}

const info = () => nativeAddonInfo();
const LEVELS: AddonIsa[] = ['avx512', 'avx2', 'baseline'];

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test.after(() => {
  setNativeAddonEnabled(process.env.MEDFL_NATIVE_ADDON !== '0');
  if (info().loaded) setNativeAddonIsa('avx512');
});

test('the addon is built and loads here (unless switched off), or the wasm kernels stand in', () => {
  const i = info();
  if (process.env.MEDFL_NATIVE_ADDON === '0') {
    assert.is(i.enabled, false);
  } else if (!i.loaded) {
    console.warn(`[native-addon.test] addon not available, only the wasm fallback is tested: ${i.reason}`);
  } else {
    assert.ok(['avx512', 'avx2', 'baseline'].includes(i.isa!), String(i.isa));
    assert.ok(i.threads >= 1);
  }
  assert.ok(nativeKernels(tf.backend()), 'some native kernels (addon or wasm) are bound');
});

test('conv forward / filter gradient / input gradient match float64 references at every ISA level, 1 and 3 threads', () => {
  if (!info().loaded) return;
  const prevOn = setNativeAddonEnabled(true);
  const prevT = setNativeThreads(1);
  const levels = new Set<AddonIsa>();
  try {
    for (const level of LEVELS) {
      const got = setNativeAddonIsa(level)!;
      if (levels.has(got)) continue; // the CPU lacks this level
      levels.add(got);
      for (const threads of [1, 3]) {
        setNativeThreads(threads);
        const rng = createRng(31);
        for (const c of cases(32, 40)) {
          const { oh, ow } = geometry(c);
          const x = randomValues(rng, c.N * c.H * c.W * c.C);
          const w = randomValues(rng, c.KH * c.KW * c.C * c.K);
          const dy = randomValues(rng, c.N * oh * ow * c.K);
          const got3 = runCase(c, x, w, dy);
          const ref = reference(c, x, w, dy);
          ['forward', 'filter grad', 'input grad'].forEach((what, i) => {
            const e = relErr(got3[i], ref[i]);
            assert.ok(e < 1e-5, `${level} ${threads} threads ${what} ${JSON.stringify(c)}: ${e}`);
          });
        }
      }
    }
  } finally {
    setNativeThreads(prevT);
    setNativeAddonEnabled(prevOn);
    setNativeAddonIsa('avx512');
  }
  assert.ok(levels.size >= 1);
});

test('results are bit-identical for 1, 2 and 3 threads (conv, gradients, matmul)', () => {
  if (!info().loaded) return;
  const prevOn = setNativeAddonEnabled(true);
  const prevT = setNativeThreads(1);
  try {
    const c: Case = { N: 3, H: 19, W: 21, C: 48, K: 40, KH: 3, KW: 3, s: 1, d: 1, pad: 'same' };
    const rng = createRng(5);
    const { oh, ow } = geometry(c);
    const x = randomValues(rng, c.N * c.H * c.W * c.C);
    const w = randomValues(rng, c.KH * c.KW * c.C * c.K);
    const dy = randomValues(rng, c.N * oh * ow * c.K);
    const a = randomValues(rng, 3 * 37 * 70);
    const b = randomValues(rng, 70 * 45);
    const mm = () => tf.tidy(() => Float32Array.from(tf.matMul(tf.tensor3d(a, [3, 37, 70]), tf.tensor2d(b, [70, 45])).dataSync()));
    const base = [...runCase(c, x, w, dy), mm()];
    for (const threads of [2, 3]) {
      setNativeThreads(threads);
      const again = [...runCase(c, x, w, dy), mm()];
      again.forEach((v, i) => assert.equal(Array.from(v), Array.from(base[i]), `output ${i} with ${threads} threads`));
    }
  } finally {
    setNativeThreads(prevT);
    setNativeAddonEnabled(prevOn);
  }
});

/** [forward, filter gradient, input gradient] of a multiplier-1 depthwise case (K = C) on the active kernels. */
function runDepthwise(c: Case, x: Float32Array, w: Float32Array, dy: Float32Array): Float32Array[] {
  const { oh, ow } = geometry(c);
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, [c.N, c.H, c.W, c.C]);
    const wt = tf.tensor4d(w, [c.KH, c.KW, c.C, 1]);
    const dyt = tf.tensor4d(dy, [c.N, oh, ow, c.C]);
    const at = { strides: [c.s, c.s], pad: c.pad, dilations: [c.d, c.d], dataFormat: 'NHWC' };
    const y = tf.engine().runKernel('DepthwiseConv2dNative', { x: xt, filter: wt }, at as unknown as tf.NamedAttrMap) as tf.Tensor;
    const dw = tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x: xt, dy: dyt }, { ...at, filterShape: [c.KH, c.KW, c.C, 1] } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const dx = tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy: dyt, filter: wt }, { ...at, inputShape: [c.N, c.H, c.W, c.C] } as unknown as tf.NamedAttrMap) as tf.Tensor;
    return [y, dw, dx].map((t) => Float32Array.from(t.dataSync()));
  });
}

function depthwiseReference(c: Case, x: Float32Array, w: Float32Array, dy: Float32Array): Float64Array[] {
  const { oh, ow } = geometry(c);
  const y = new Float64Array(c.N * oh * ow * c.C);
  const dw = new Float64Array(w.length);
  const dx = new Float64Array(x.length);
  // forEachTap's offsets assume K output channels per input one: with K = 1 they index [.., C] activations and [KH, KW, C] filters.
  forEachTap({ ...c, K: 1 }, (xb, yb0, wb) => {
    const yb = yb0 * c.C;
    for (let ci = 0; ci < c.C; ci++) {
      y[yb + ci] += x[xb + ci] * w[wb + ci];
      dw[wb + ci] += x[xb + ci] * dy[yb + ci];
      dx[xb + ci] += dy[yb + ci] * w[wb + ci];
    }
  });
  return [y, dw, dx];
}

function depthwiseCases(seed: number, count: number): Case[] {
  const rng = createRng(seed);
  const out: Case[] = [
    { N: 2, H: 16, W: 16, C: 32, K: 32, KH: 3, KW: 3, s: 1, d: 2, pad: 'same' }, // CGNet's dilated surrounding context
    { N: 1, H: 9, W: 27, C: 17, K: 17, KH: 3, KW: 3, s: 1, d: 1, pad: 'same' },
    { N: 2, H: 10, W: 11, C: 48, K: 48, KH: 3, KW: 3, s: 2, d: 1, pad: 'same' },
    { N: 1, H: 7, W: 30, C: 3, K: 3, KH: 5, KW: 5, s: 1, d: 1, pad: 'valid' },
  ];
  while (out.length < count) {
    const C = rng.choice([1, 3, 4, 8, 11, 16, 20, 32, 35, 40, 64]);
    const c: Case = {
      N: rng.intBetween(1, 2), H: rng.intBetween(1, 14), W: rng.intBetween(1, 30), C, K: C,
      KH: rng.intBetween(1, 3), KW: rng.intBetween(1, 3), s: rng.bernoulli(0.3) ? 2 : 1, d: rng.bernoulli(0.3) ? 2 : 1,
      pad: rng.bernoulli(0.7) ? 'same' : 'valid',
    };
    if (c.s > 1 && c.d > 1) c.d = 1;
    const g = geometry(c);
    if (g.oh >= 1 && g.ow >= 1) out.push(c);
  }
  return out;
}

test('depthwise forward / filter gradient / input gradient on the addon match float64 references (every ISA level, 1 and 3 threads) and do not depend on the thread count', () => {
  if (!info().loaded) return;
  const prevOn = setNativeAddonEnabled(true);
  const prevT = setNativeThreads(1);
  const levels = new Set<AddonIsa>();
  try {
    for (const level of LEVELS) {
      const got = setNativeAddonIsa(level)!;
      if (levels.has(got)) continue;
      levels.add(got);
      const rng = createRng(41);
      for (const c of depthwiseCases(42, 30)) {
        const { oh, ow } = geometry(c);
        const x = randomValues(rng, c.N * c.H * c.W * c.C);
        const w = randomValues(rng, c.KH * c.KW * c.C);
        const dy = randomValues(rng, c.N * oh * ow * c.C);
        const ref = depthwiseReference(c, x, w, dy);
        setNativeThreads(1);
        const one = runDepthwise(c, x, w, dy);
        ['forward', 'filter grad', 'input grad'].forEach((what, i) => {
          const e = relErr(one[i], ref[i]);
          assert.ok(e < 1e-5, `${level} ${what} ${JSON.stringify(c)}: ${e}`);
        });
        setNativeThreads(3);
        const three = runDepthwise(c, x, w, dy);
        three.forEach((v, i) => assert.equal(Array.from(v), Array.from(one[i]), `${level} output ${i} with 3 threads ${JSON.stringify(c)}`));
      }
    }
  } finally {
    setNativeThreads(prevT);
    setNativeAddonEnabled(prevOn);
    setNativeAddonIsa('avx512');
  }
  assert.ok(levels.size >= 1);
});

test('fused depthwise conv (bias + ReLU, outside a tape) equals depthwise conv + bias + ReLU (inside one) bit for bit', () => {
  const rng = createRng(43);
  const x = tf.tensor4d(randomValues(rng, 2 * 12 * 13 * 24), [2, 12, 13, 24]);
  const w = tf.tensor4d(randomValues(rng, 3 * 3 * 24), [3, 3, 24, 1]);
  const b = tf.tensor1d(randomValues(rng, 24));
  const fused = tf.fused.depthwiseConv2d({ x, filter: w, strides: 1, pad: 'same', dilations: 2, bias: b, activation: 'relu' });
  const unfused = tf.relu(tf.add(tf.depthwiseConv2d(x, w, 1, 'same', 'NHWC', 2), b));
  assert.equal(Array.from(fused.dataSync()), Array.from(unfused.dataSync()));
  tf.dispose([x, w, b, fused, unfused]);
});

test('same-shape Add / Multiply on the addon (1 and 3 threads) equal tfjs-wasm\'s kernels bit for bit', () => {
  if (!info().loaded) return;
  const rng = createRng(44);
  const n = 3 * 70001; // several of the addon's blocks and a partial one
  const a = randomValues(rng, n);
  const b = randomValues(rng, n);
  b[5] = Number.NaN;
  b[6] = Number.POSITIVE_INFINITY;
  a[7] = -0;
  const run = (on: boolean, threads: number) => {
    const prevOn = setNativeAddonEnabled(on);
    const prevT = setNativeThreads(threads);
    try {
      return tf.tidy(() => {
        const ta = tf.tensor3d(a, [3, 70001, 1]);
        const tb = tf.tensor3d(b, [3, 70001, 1]);
        return [tf.add(ta, tb), tf.mul(ta, tb)].map((t) => Float32Array.from(t.dataSync()));
      });
    } finally {
      setNativeAddonEnabled(prevOn);
      setNativeThreads(prevT);
    }
  };
  const off = run(false, 1);
  for (const threads of [1, 3]) {
    const on = run(true, threads);
    on.forEach((v, i) => {
      assert.ok(v.every((x, j) => Object.is(x, off[i][j])), `${i ? 'Multiply' : 'Add'} with ${threads} thread(s)`);
    });
  }
});

test('PReLU gradients (x and per-channel alpha) on the addon (1 and 3 threads) equal the wasm kernel bit for bit', () => {
  if (!info().loaded) return;
  const rng = createRng(45);
  for (const C of [32, 35]) {
    const P = 2 * 700 + 13; // several 256-row blocks and a partial one
    const x = randomValues(rng, P * C);
    const dy = randomValues(rng, P * C);
    const alpha = randomValues(rng, C);
    for (let i = 0; i < 50; i++) x[i * 7] = 0; // x = 0 counts as not positive
    const run = (on: boolean, threads: number) => {
      const prevOn = setNativeAddonEnabled(on);
      const prevT = setNativeThreads(threads);
      try {
        return tf.tidy(() => {
          const xt = tf.tensor2d(x, [P, C]);
          const at = tf.tensor1d(alpha);
          const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.prelu(a, b), tf.tensor2d(dy, [P, C]))))([xt, at]);
          return g.map((t) => Float32Array.from(t.dataSync()));
        });
      } finally {
        setNativeAddonEnabled(prevOn);
        setNativeThreads(prevT);
      }
    };
    const wasm = run(false, 1);
    for (const threads of [1, 3]) {
      run(true, threads).forEach((v, i) => assert.equal(Array.from(v), Array.from(wasm[i]), `C ${C}, ${i ? 'dalpha' : 'dx'}, ${threads} thread(s)`));
    }
  }
});

test('BatchMatMul on the addon matches a float64 reference (transposes, broadcast batch, column tails)', () => {
  if (!info().loaded) return;
  const prevOn = setNativeAddonEnabled(true);
  try {
    const rng = createRng(41);
    for (let t = 0; t < 30; t++) {
      const M = rng.intBetween(1, 40);
      const K = rng.intBetween(1, 80);
      const N = rng.choice([1, 3, 5, 8, 15, 16, 17, 31, 32, 33, 48, 70]);
      const tA = rng.bernoulli(0.5);
      const tB = rng.bernoulli(0.5);
      const batch = rng.intBetween(1, 3);
      const av = randomValues(rng, batch * M * K);
      const bv = randomValues(rng, K * N);
      const got = tf.tidy(() => Float32Array.from(tf.matMul(tf.tensor3d(av, tA ? [batch, K, M] : [batch, M, K]), tf.tensor2d(bv, tB ? [N, K] : [K, N]), tA, tB).dataSync()));
      const ref = new Float64Array(batch * M * N);
      for (let bi = 0; bi < batch; bi++)
        for (let i = 0; i < M; i++)
          for (let j = 0; j < N; j++) {
            let s = 0;
            for (let k = 0; k < K; k++) s += av[bi * M * K + (tA ? k * M + i : i * K + k)] * bv[tB ? j * K + k : k * N + j];
            ref[(bi * M + i) * N + j] = s;
          }
      assert.ok(relErr(got, ref) < 1e-5, `${JSON.stringify({ M, K, N, tA, tB, batch })}: ${relErr(got, ref)}`);
    }
  } finally {
    setNativeAddonEnabled(prevOn);
  }
});

test('after the wasm heap grows (old buffer detached) the addon reads the new one', () => {
  if (!info().loaded) return;
  const prevOn = setNativeAddonEnabled(true);
  try {
    const c: Case = { N: 1, H: 10, W: 10, C: 16, K: 16, KH: 3, KW: 3, s: 1, d: 1, pad: 'same' };
    const rng = createRng(9);
    const x = randomValues(rng, 1600);
    const w = randomValues(rng, 9 * 256);
    const dy = randomValues(rng, 1600);
    const ref = reference(c, x, w, dy);
    runCase(c, x, w, dy);
    const heap = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength;
    const big = tf.zeros([Math.ceil(heap / 4) + (1 << 20)]); // forces growth
    try {
      const got = runCase(c, x, w, dy);
      got.forEach((g, i) => assert.ok(relErr(g, ref[i]) < 1e-5));
    } finally {
      big.dispose();
    }
  } finally {
    setNativeAddonEnabled(prevOn);
  }
});

test('BatchNorm training, its gradient, inference BatchNorm, ReLU gradient and bias + ReLU on the addon equal the wasm kernels bit for bit (1 and 3 threads)', () => {
  if (!info().loaded) return;
  const shapes: number[][] = [[2, 5, 7, 3], [3, 11, 13, 4], [700, 8], [2, 9, 9, 13], [600, 1], [4, 33, 35, 64], [1, 70, 70, 12]];
  const run = () => shapes.map((shape) => {
    const C = shape[shape.length - 1];
    const n = shape.reduce((a, b) => a * b, 1);
    const r = createRng(n + C);
    const x = Float32Array.from(randomValues(r, n), (v) => 3 * v + 2);
    const dy = randomValues(r, n);
    const gamma = Float32Array.from(randomValues(r, C), (v) => v + 1.5);
    const beta = randomValues(r, C);
    return tf.tidy(() => {
      const xt = tf.tensor(x, shape);
      const g = tf.tensor1d(gamma);
      const [y, m, v] = tf.engine().runKernel(BN_TRAIN_KERNEL, { x: xt, gamma: g, beta: tf.tensor1d(beta) }, { epsilon: 1e-3 } as unknown as tf.NamedAttrMap) as tf.Tensor[];
      const [dx, dg, db] = tf.engine().runKernel(BN_TRAIN_GRAD_KERNEL, { dy: tf.tensor(dy, shape), x: xt, mean: m, variance: v, gamma: g },
        { epsilon: 1e-3 } as unknown as tf.NamedAttrMap) as tf.Tensor[];
      const centred = tf.sub(xt, 2);
      const rg = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.relu(t), tf.tensor(dy, shape))))(centred);
      const fused = tf.fused.matMul({ a: tf.reshape(xt, [-1, C]), b: tf.eye(C), bias: tf.tensor1d(beta), activation: 'relu' });
      const inference = tf.batchNorm(xt, m, tf.add(v, 0.5), tf.tensor1d(beta), g, 1e-3); // addon: one pass; wasm: two
      return [y, m, v, dx, dg, db, rg, fused, inference].map((t) => Float32Array.from(t.dataSync()));
    });
  });
  const prevOn = setNativeAddonEnabled(false);
  const prevT = setNativeThreads(1);
  try {
    const wasm = run();
    for (const threads of [1, 3]) {
      setNativeAddonEnabled(true);
      setNativeThreads(threads);
      const addon = run();
      addon.forEach((outs, s) => outs.forEach((v, k) => assert.equal(Array.from(v), Array.from(wasm[s][k]), `shape ${JSON.stringify(shapes[s])} output ${k}, ${threads} threads`)));
    }
  } finally {
    setNativeAddonEnabled(prevOn);
    setNativeThreads(prevT);
  }
});

test('switched off, the wasm kernels run (same values within float32 rounding)', () => {
  const c: Case = { N: 2, H: 9, W: 17, C: 24, K: 40, KH: 3, KW: 3, s: 1, d: 1, pad: 'same' };
  const rng = createRng(12);
  const { oh, ow } = geometry(c);
  const x = randomValues(rng, c.N * c.H * c.W * c.C);
  const w = randomValues(rng, c.KH * c.KW * c.C * c.K);
  const dy = randomValues(rng, c.N * oh * ow * c.K);
  const prev = setNativeAddonEnabled(false);
  try {
    const k = nativeKernels(tf.backend());
    assert.ok(k);
    assert.is(typeof (k as unknown as { conv_fwd: unknown }).conv_fwd, 'function');
    const off = runCase(c, x, w, dy);
    const ref = reference(c, x, w, dy);
    off.forEach((g, i) => assert.ok(relErr(g, ref[i]) < 1e-5));
  } finally {
    setNativeAddonEnabled(prev);
  }
});

test.run();
