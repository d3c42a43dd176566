/**
 * medfl's replacement wasm kernels (Conv2DBackpropInput, Concat, SplitV,
 * MaxPoolGrad) and the chunked paths of the conv gradients, each against the
 * CPU backend's own kernels on random shapes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend, setConvColumnChunk, WASM_OVERRIDE_KERNELS } from '../../src/backend';
import { setFilterGradMode } from '../../src/backend/conv-backprop';
import { createRng, randomValues, relErr, onBackend } from './helpers';
import type { Rng } from '../../src/util/rng';

type PadOpt = 'same' | 'valid' | number;

interface ConvCase {
  N: number; H: number; W: number; C: number; O: number; KH: number; KW: number; s: number; pad: PadOpt;
}

/** Random dilation-1 conv cases (numeric pads only where the output size is integral). */
function convCases(rng: Rng, count: number, maxHW = 13): ConvCase[] {
  const out: ConvCase[] = [];
  while (out.length < count) {
    const c: ConvCase = {
      N: rng.intBetween(1, 3), H: rng.intBetween(3, maxHW), W: rng.intBetween(3, maxHW), C: rng.intBetween(1, 6), O: rng.intBetween(1, 6),
      KH: rng.intBetween(1, 4), KW: rng.intBetween(1, 4), s: rng.intBetween(1, 3), pad: rng.choice(['same', 'valid', 0, 1, 2] as PadOpt[]),
    };
    if (typeof c.pad === 'number') {
      const okH = c.H + 2 * c.pad - c.KH >= 0 && (c.H + 2 * c.pad - c.KH) % c.s === 0;
      const okW = c.W + 2 * c.pad - c.KW >= 0 && (c.W + 2 * c.pad - c.KW) % c.s === 0;
      if (!okH || !okW) continue;
    }
    if (c.pad === 'valid' && (c.KH > c.H || c.KW > c.W)) continue;
    out.push(c);
  }
  return out;
}

function dyShape(c: ConvCase): number[] {
  const info = tf.backend_util.computeConv2DInfo([c.N, c.H, c.W, c.C], [c.KH, c.KW, c.C, c.O], c.s, 1, c.pad as 'same');
  return info.outShape;
}

function runBackpropKernels(c: ConvCase, dyv: Float32Array, wv: Float32Array, xv: Float32Array): () => tf.Tensor[] {
  return () => {
    const dy = tf.tensor(dyv, dyShape(c));
    const common = { strides: c.s, pad: c.pad, dataFormat: 'NHWC' };
    const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: tf.tensor4d(wv, [c.KH, c.KW, c.C, c.O]) }, {
      ...common, inputShape: [c.N, c.H, c.W, c.C],
    } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x: tf.tensor4d(xv, [c.N, c.H, c.W, c.C]), dy }, {
      ...common, filterShape: [c.KH, c.KW, c.C, c.O],
    } as unknown as tf.NamedAttrMap) as tf.Tensor;
    return [dx, dw];
  };
}

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test('the replacement kernels are registered for wasm', () => {
  assert.equal([...WASM_OVERRIDE_KERNELS].sort(), ['Add', 'AvgPoolGrad', 'BatchMatMul', 'Cast', 'Concat', 'Conv2D', 'Conv2DBackpropInput', 'FusedConv2D', 'Identity', 'MaxPoolGrad', 'PadV2', 'Slice', 'SplitV', 'Sum', '_FusedMatMul', 'FusedBatchNorm', 'Mean', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2D', 'Multiply'].sort());
  for (const k of WASM_OVERRIDE_KERNELS) assert.ok(tf.getKernel(k, 'wasm'), k);
});

test('Conv2DBackpropInput / BackpropFilter kernels match CPU incl. numeric padding (50 random shapes, kernels called directly)', async () => {
  const rng = createRng(21);
  let flipCases = 0;
  let col2imCases = 0;
  for (const c of convCases(rng, 50)) {
    const dyv = randomValues(rng, dyShape(c).reduce((a, b) => a * b, 1));
    const wv = randomValues(rng, c.KH * c.KW * c.C * c.O);
    const xv = randomValues(rng, c.N * c.H * c.W * c.C);
    if (c.s === 1) flipCases++;
    else col2imCases++;
    const cpu = await onBackend('cpu', runBackpropKernels(c, dyv, wv, xv));
    const wasm = await onBackend('wasm', runBackpropKernels(c, dyv, wv, xv));
    assert.ok(relErr(wasm[0], cpu[0]) < 1e-5, `dx ${JSON.stringify(c)}`);
    assert.ok(relErr(wasm[1], cpu[1]) < 1e-5, `dW ${JSON.stringify(c)}`);
  }
  assert.ok(flipCases > 5 && col2imCases > 5, `both dx paths exercised (${flipCases} stride-1, ${col2imCases} strided)`);
  await tf.setBackend('wasm');
});

test('conv gradient kernels give the same result when chunked into tiny column buffers', async () => {
  const rng = createRng(22);
  const prev = setConvColumnChunk(37);
  const prevMode = setFilterGradMode('im2col'); // small shapes would otherwise take the transposed-conv path
  try {
    for (const c of convCases(rng, 25, 16)) {
      const dyv = randomValues(rng, dyShape(c).reduce((a, b) => a * b, 1));
      const wv = randomValues(rng, c.KH * c.KW * c.C * c.O);
      const xv = randomValues(rng, c.N * c.H * c.W * c.C);
      const cpu = await onBackend('cpu', runBackpropKernels(c, dyv, wv, xv));
      const wasm = await onBackend('wasm', runBackpropKernels(c, dyv, wv, xv));
      assert.ok(relErr(wasm[0], cpu[0]) < 1e-5, `dx ${JSON.stringify(c)}`);
      assert.ok(relErr(wasm[1], cpu[1]) < 1e-5, `dW ${JSON.stringify(c)}`);
    }
  } finally {
    setConvColumnChunk(prev);
    setFilterGradMode(prevMode);
  }
  assert.throws(() => setConvColumnChunk(0), /positive integer/);
  await tf.setBackend('wasm');
});

test('Concat and SplitV on wasm match CPU (random ranks, axes, dtypes)', async () => {
  const rng = createRng(23);
  for (let t = 0; t < 40; t++) {
    const rank = rng.intBetween(1, 4);
    const base = Array.from({ length: rank }, () => rng.intBetween(1, 5));
    const axis = rng.intBetween(0, rank - 1);
    const dtype = rng.choice(['float32', 'int32', 'bool'] as const);
    const parts = Array.from({ length: rng.intBetween(1, 4) }, () => {
      const shape = [...base];
      shape[axis] = rng.intBetween(0, 40); // 0 = empty input, > 32 = copyWithin runs
      const vals = randomValues(rng, shape.reduce((a, b) => a * b, 1)).map((v) => (dtype === 'float32' ? v : dtype === 'int32' ? Math.round(v * 100) : v > 0 ? 1 : 0));
      return { shape, vals };
    });
    const total = parts.reduce((a, p) => a + p.shape[axis], 0);
    if (total === 0) continue;
    const sizes = [rng.intBetween(0, total)];
    sizes.push(total - sizes[0]);
    const run = () => {
      const ts = parts.map((p) => tf.tensor(p.vals, p.shape, dtype));
      const cat = tf.concat(ts, axis);
      const pieces = tf.split(tf.cast(cat, 'float32'), sizes, axis);
      return [tf.cast(cat, 'float32'), ...pieces];
    };
    const cpu = await onBackend('cpu', run);
    const wasm = await onBackend('wasm', run);
    cpu.forEach((ref, i) => assert.equal(Array.from(wasm[i]), Array.from(ref), `case ${t} output ${i} (${dtype}, axis ${axis})`));
  }
  await tf.setBackend('wasm');
});

test('Concat and SplitV of NHWC activations along channels (large enough for the native addon\'s run copy) match CPU, float32 and int32', async () => {
  const rng = createRng(24);
  for (const [dtype, chans] of [['float32', [32, 35, 3]], ['int32', [16, 48]], ['float32', [1, 64]]] as const) {
    const parts = chans.map((c) => {
      const shape = [2, 17, 19, c];
      const vals = randomValues(rng, shape.reduce((a, b) => a * b, 1)).map((v) => (dtype === 'float32' ? v : Math.round(v * 100)));
      return { shape, vals };
    });
    const total = chans.reduce((a, b) => a + b, 0);
    const run = () => {
      const cat = tf.concat(parts.map((p) => tf.tensor(p.vals, p.shape, dtype)), 3);
      return [cat, ...tf.split(cat, [7, total - 7], 3)].map((t) => tf.cast(t, 'float32'));
    };
    const cpu = await onBackend('cpu', run);
    const wasm = await onBackend('wasm', run);
    cpu.forEach((ref, i) => assert.equal(Array.from(wasm[i]), Array.from(ref), `${dtype} ${chans.join('+')} output ${i}`));
  }
  await tf.setBackend('wasm');
});

test('Slice and PadV2 on wasm match CPU (random ranks 1..5, boxes, dtypes, fill values)', async () => {
  const rng = createRng(41);
  for (let i = 0; i < 60; i++) {
    const rank = rng.intBetween(1, 5);
    const shape = Array.from({ length: rank }, () => rng.intBetween(1, 6));
    const dtype = rng.choice(['float32', 'float32', 'int32', 'bool'] as const);
    const n = shape.reduce((a, b) => a * b, 1);
    const vals = Array.from({ length: n }, () => (dtype === 'bool' ? rng.int(2) : dtype === 'int32' ? rng.intBetween(-50, 50) : rng.uniform(-1, 1)));
    const begin = shape.map((d) => rng.int(d));
    const box = shape.map((d, j) => (rng.bernoulli(0.2) ? -1 : rng.intBetween(0, d - begin[j])));
    const paddings = shape.map(() => [rng.intBetween(0, 2), rng.intBetween(0, 2)] as [number, number]);
    const value = dtype === 'bool' ? 1 : rng.intBetween(-3, 3);
    const run = () => {
      const x = tf.tensor(vals, shape, dtype);
      return [tf.slice(x, begin, box), tf.pad(x, paddings, value)];
    };
    const cpu = await onBackend('cpu', run);
    const wasm = await onBackend('wasm', run);
    const label = JSON.stringify({ shape, dtype, begin, box, paddings, value });
    assert.equal(Array.from(wasm[0]), Array.from(cpu[0]), `slice ${label}`);
    assert.equal(Array.from(wasm[1]), Array.from(cpu[1]), `pad ${label}`);
  }
});

test('MaxPoolGrad on wasm matches CPU (30 random pools: sizes 1..3, strides 1..3, same/valid)', async () => {
  const rng = createRng(24);
  for (let t = 0; t < 30; t++) {
    const N = rng.intBetween(1, 2);
    const H = rng.intBetween(2, 9);
    const W = rng.intBetween(2, 9);
    const C = rng.choice([1, 2, 3, 4, 5, 8, 11]);
    const k = rng.intBetween(1, 3);
    const s = rng.intBetween(1, 3);
    const pad = rng.choice(['same', 'valid'] as const);
    if (pad === 'valid' && (k > H || k > W)) continue;
    const xv = randomValues(rng, N * H * W * C);
    const run = () => {
      const x = tf.tensor4d(xv, [N, H, W, C]);
      const f = (a: tf.Tensor) => {
        const y = tf.maxPool(a as tf.Tensor4D, k, s, pad);
        return tf.sum(tf.mul(y, tf.sin(tf.range(0, y.size).reshape(y.shape))));
      };
      return [tf.grad(f)(x)];
    };
    const cpu = await onBackend('cpu', run);
    const wasm = await onBackend('wasm', run);
    assert.ok(relErr(wasm[0], cpu[0]) < 1e-6, `case ${JSON.stringify({ N, H, W, C, k, s, pad })}`);
  }
  await tf.setBackend('wasm');
});

test('MaxPoolGrad on wasm matches CPU on wide channel counts and overlapping 5x5 windows (the chained pooling of RefineNet, 16-wide vectors + tails)', async () => {
  const rng = createRng(26);
  for (const [N, H, W, C, k, s, pad] of [[2, 9, 11, 32, 5, 1, 'same'], [1, 8, 8, 48, 2, 2, 'valid'], [2, 7, 6, 19, 3, 1, 'same'], [1, 10, 9, 64, 5, 1, 'same'], [3, 6, 6, 40, 3, 2, 'same']] as [number, number, number, number, number, number, 'same' | 'valid'][]) {
    const xv = randomValues(rng, N * H * W * C);
    const run = () => {
      const x = tf.tensor4d(xv, [N, H, W, C]);
      const f = (a: tf.Tensor) => {
        const y = tf.maxPool(a as tf.Tensor4D, k, s, pad);
        return tf.sum(tf.mul(y, tf.sin(tf.range(0, y.size).reshape(y.shape))));
      };
      return [tf.grad(f)(x)];
    };
    const cpu = await onBackend('cpu', run);
    const wasm = await onBackend('wasm', run);
    assert.ok(relErr(wasm[0], cpu[0]) < 1e-6, `case ${JSON.stringify({ N, H, W, C, k, s, pad })}`);
  }
  await tf.setBackend('wasm');
});

test('AvgPoolGrad on wasm (native) matches CPU (30 random pools incl. overlapping windows, same/valid, odd channels)', async () => {
  const rng = createRng(25);
  let n = 0;
  while (n < 30) {
    const N = rng.intBetween(1, 2);
    const H = rng.intBetween(2, 9);
    const W = rng.intBetween(2, 9);
    const C = rng.choice([1, 3, 4, 5, 8, 11]);
    const k = rng.intBetween(1, 3);
    const s = rng.intBetween(1, 3);
    const pad = rng.choice(['same', 'valid'] as const);
    if (pad === 'valid' && (k > H || k > W)) continue;
    n++;
    const xv = randomValues(rng, N * H * W * C);
    const run = () => {
      const x = tf.tensor4d(xv, [N, H, W, C]);
      return [tf.grad((a: tf.Tensor) => {
        const y = tf.avgPool(a as tf.Tensor4D, k, s, pad);
        return tf.sum(tf.mul(y, tf.sin(tf.range(0, y.size).reshape(y.shape))));
      })(x)];
    };
    const cpu = await onBackend('cpu', run);
    const wasm = await onBackend('wasm', run);
    assert.ok(relErr(wasm[0], cpu[0]) < 1e-6, `case ${JSON.stringify({ N, H, W, C, k, s, pad })}: ${relErr(wasm[0], cpu[0])}`);
  }
  await tf.setBackend('wasm');
});

test('Cast to the same dtype shares the data on wasm; real conversions still convert', () => {
  const be = tf.backend() as unknown as { numDataIds(): number };
  const a = tf.tensor1d([1.5, -2.5, 3]);
  const d0 = be.numDataIds();
  const same = tf.engine().runKernel('Cast', { x: a }, { dtype: 'float32' }) as tf.Tensor; // the kernel itself (tf.cast clones first)
  assert.is(be.numDataIds(), d0, 'no new buffer');
  a.dispose();
  assert.equal(Array.from(same.dataSync()), [1.5, -2.5, 3]);
  const ints = tf.engine().runKernel('Cast', { x: same }, { dtype: 'int32' }) as tf.Tensor;
  assert.is(ints.dtype, 'int32');
  assert.equal(Array.from(ints.dataSync()), [1, -2, 3]);
  tf.dispose([same, ints]);
});

test('MaxPoolGrad sends the gradient to the first maximum of a window (hand fixture)', async () => {
  const [dx] = await onBackend('wasm', () => {
    // One 2x2 window with a tie between positions 0 and 3: the first wins.
    const x = tf.tensor4d([5, 1, 2, 5], [1, 2, 2, 1]);
    return [tf.grad((a: tf.Tensor) => tf.mul(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid'), 3).sum())(x)];
  });
  assert.equal(Array.from(dx), [3, 0, 0, 0]);
});

test('MaxPoolGrad with many ties, 8 and 13 channels (native 4-wide path + tail): exactly the CPU backend', async () => {
  const rng = createRng(32);
  for (const C of [8, 13]) {
    const xv = Float32Array.from({ length: 2 * 9 * 9 * C }, () => Math.round(rng.uniform(0, 3)));
    const run = () => {
      const x = tf.tensor4d(xv, [2, 9, 9, C]);
      return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 5, 1, 'same'), tf.range(1, 2 * 9 * 9 * C + 1).reshape([2, 9, 9, C]))))(x)];
    };
    const cpu = await onBackend('cpu', run);
    const wasm = await onBackend('wasm', run);
    assert.equal(Array.from(wasm[0]), Array.from(cpu[0]), `C=${C}`);
  }
  await tf.setBackend('wasm');
});

test('MaxPoolGrad with ties, NaN and a 5x5 stride-1 pool matches CPU', async () => {
  const rng = createRng(31);
  // Values on a coarse grid (many ties) plus a few NaN.
  const xv = Float32Array.from({ length: 2 * 9 * 9 * 3 }, () => Math.round(rng.uniform(0, 4)));
  xv[5] = NaN;
  xv[100] = NaN;
  const run = () => {
    const x = tf.tensor4d(xv, [2, 9, 9, 3]);
    return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 5, 1, 'same'), tf.range(1, 2 * 9 * 9 * 3 + 1).reshape([2, 9, 9, 3]))))(x)];
  };
  const cpu = await onBackend('cpu', run);
  const wasm = await onBackend('wasm', run);
  // Ties go to the first maximum exactly as on CPU; only windows holding one of the two NaN may route differently
  // (NaN ordering is backend-defined), and every window still sends its gradient to exactly one entry.
  let same = 0;
  for (let i = 0; i < cpu[0].length; i++) if (cpu[0][i] === wasm[0][i]) same++;
  assert.ok(same >= cpu[0].length - 12, `${cpu[0].length - same} entries differ`);
  const total = (a: Float32Array) => a.reduce((s, v) => s + v, 0);
  assert.is(total(wasm[0]), total(cpu[0]));
});

test('replacement kernels do not leak tensors or wasm buffers', async () => {
  await tf.setBackend('wasm');
  const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 2) as tf.Tensor4D;
  const wt = tf.randomNormal([2, 2, 4, 4], 0, 1, 'float32', 3) as tf.Tensor4D;
  const step = () =>
    tf.dispose(
      tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
        const y = tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same'));
        const p = tf.maxPool(y, 2, 2, 'valid');
        const u = tf.conv2dTranspose(p, c as tf.Tensor4D, [2, 8, 8, 4], 2, 'same');
        return tf.sum(tf.concat([u, y], -1));
      })([x, w, wt]),
    );
  step();
  const before = tf.memory();
  for (let i = 0; i < 3; i++) step();
  const after = tf.memory();
  assert.is(after.numTensors, before.numTensors);
  assert.is(after.numDataBuffers, before.numDataBuffers);
  tf.dispose([x, w, wt]);
});

test('inference FusedBatchNorm on wasm (native per-channel passes) matches the CPU backend; full-shape statistics use tfjs-wasm', async () => {
  const rng = createRng(61);
  for (const C of [1, 3, 4, 13, 64]) {
    const shape = [2, 5, 7, C];
    const n = 70 * C;
    const x = Float32Array.from({ length: n }, () => rng.uniform(-3, 5));
    const vec = (lo: number, hi: number) => Float32Array.from({ length: C }, () => rng.uniform(lo, hi));
    const [mean, variance, scale, offset] = [vec(-1, 2), vec(0.1, 3), vec(0.5, 1.5), vec(-1, 1)];
    const run = () => [
      tf.batchNorm(tf.tensor(x, shape), tf.tensor1d(mean), tf.tensor1d(variance), tf.tensor1d(offset), tf.tensor1d(scale), 1e-3),
      tf.batchNorm(tf.tensor(x, shape), tf.tensor1d(mean), tf.tensor1d(variance), undefined, undefined, 1e-3),
      tf.batchNorm(tf.tensor(x, shape), tf.tensor(x, shape), tf.onesLike(tf.tensor(x, shape)), tf.reshape(tf.tensor1d(offset), [1, 1, 1, C]), tf.reshape(tf.tensor1d(scale), [1, 1, 1, C]), 1e-3),
    ];
    const [cpu, wasm] = [await onBackend('cpu', run), await onBackend('wasm', run)];
    cpu.forEach((ref, i) => assert.ok(relErr(wasm[i], ref) < 1e-5, `C ${C} case ${i}: ${relErr(wasm[i], ref)}`));
  }
});

test('Mean over all axes but the last, or all but the first and last (native per-channel sums), matches the CPU backend; other means use tfjs-wasm', async () => {
  const rng = createRng(62);
  for (const shape of [[2, 5, 7, 3], [3, 4, 4, 13], [1, 9, 9, 64], [700, 8], [2, 3, 4, 5, 6]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = Float32Array.from({ length: n }, () => rng.uniform(-2, 3));
    const r = shape.length;
    const mid = Array.from({ length: r - 2 }, (_, i) => i + 1);
    const run = () => {
      const t = tf.tensor(x, shape);
      const outs = [tf.mean(t, Array.from({ length: r - 1 }, (_, i) => i)), tf.mean(t, Array.from({ length: r - 1 }, (_, i) => i), true), tf.mean(t, [r - 1])];
      if (r >= 3) outs.push(tf.mean(t, mid), tf.mean(t, mid, true));
      return outs;
    };
    const [cpu, wasm] = [await onBackend('cpu', run), await onBackend('wasm', run)];
    cpu.forEach((ref, i) => assert.ok(relErr(wasm[i], ref) < 1e-6, `${JSON.stringify(shape)} case ${i}: ${relErr(wasm[i], ref)}`));
  }
});

test.run();
