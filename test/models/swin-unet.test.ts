import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import {
  PatchEmbed,
  PatchExpand,
  PatchMerging,
  SwinBlock,
  TokenLayerNorm,
  TokenLinear,
  cyclicShift,
  effectiveWindow,
  layerNorm,
  matMulFast,
  relativePositionIndex,
  shiftedWindowMask,
  windowPartition,
  windowReverse,
} from '../../src/models/blocks/swin';
import { SeededInit } from '../../src/models/blocks/init';
import { buildSwinUnet, swinHeads, swinUnet, swinUnetWindows } from '../../src/models/swin-unet';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, label: string): void => {
  assert.is(a.length, b.length, `${label}: length`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  assert.ok(worst <= tol, `${label}: max |diff| ${worst} > ${tol}`);
};

const leakFree = async (label: string, f: () => Promise<void> | void): Promise<void> => {
  const before = tf.memory().numTensors;
  await f();
  assert.is(tf.memory().numTensors, before, `${label}: tensor leak`);
};

// ---------------------------------------------------------------- geometry

test('window partition places token (b, y, x) at window (b, y/M, x/M), slot (y%M, x%M); reverse is the identity', async () => {
  await leakFree('partition', () => {
    const [b, h, w, c, m] = [2, 4, 6, 3, 2];
    const vals = Float32Array.from({ length: b * h * w * c }, (_, i) => i);
    const x = tf.tensor4d(vals, [b, h, w, c]);
    const win = windowPartition(x, m);
    assert.equal(win.shape, [b * (h / m) * (w / m), m * m, c]);
    const wd = win.dataSync();
    const nWw = w / m;
    for (const [bb, y, xx, cc] of [[0, 0, 0, 0], [0, 1, 3, 2], [1, 3, 5, 1], [1, 2, 4, 0], [0, 3, 0, 2]]) {
      const window = bb * (h / m) * nWw + Math.floor(y / m) * nWw + Math.floor(xx / m);
      const slot = (y % m) * m + (xx % m);
      assert.is(wd[(window * m * m + slot) * c + cc], vals[((bb * h + y) * w + xx) * c + cc], `token ${[bb, y, xx, cc]}`);
    }
    const back = windowReverse(win, m, h, w);
    assert.equal(back.shape, [b, h, w, c]);
    assert.equal(Array.from(back.dataSync()), Array.from(vals));
    tf.dispose([x, win, back]);
  });
});

test('cyclicShift follows torch.roll and is undone by the opposite shift', async () => {
  await leakFree('roll', () => {
    // 1 x 3 x 4 x 1 map with values 10*y + x.
    const x = tf.tensor4d([0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23], [1, 3, 4, 1]);
    const s = cyclicShift(x, -1, -1); // torch.roll(x, (-1, -1)): out[y][x] = in[y+1][x+1]
    assert.equal(Array.from(s.dataSync()), [11, 12, 13, 10, 21, 22, 23, 20, 1, 2, 3, 0]);
    const back = cyclicShift(s, 1, 1);
    assert.equal(Array.from(back.dataSync()), Array.from(x.dataSync()));
    tf.dispose([x, s, back]);
  });
});

test('relative position index for M = 2 matches the hand computation', () => {
  // tokens 0:(0,0) 1:(0,1) 2:(1,0) 3:(1,1); index = (dy + 1) * 3 + (dx + 1).
  assert.equal(Array.from(relativePositionIndex(2)), [4, 3, 1, 0, 5, 4, 2, 1, 7, 6, 4, 3, 8, 7, 5, 4]);
  const idx3 = relativePositionIndex(3);
  assert.is(idx3.length, 81);
  assert.is(Math.max(...idx3), 24); // (2M - 1)^2 - 1
  assert.is(idx3[0 * 9 + 8], 0); // (0,0) vs (2,2): dy = dx = -2
  assert.is(idx3[8 * 9 + 0], 24);
});

test('SW-MSA mask on a 4x4 grid, window 2, shift 1 blocks exactly the cross-region pairs', () => {
  // After rolling by (-1, -1), shifted row 3 / column 3 are original row 0 / column 0 (wrapped).
  // Window 0 (rows 0-1, cols 0-1): no wrap -> all allowed.
  // Window 1 (cols 2-3): col 3 is wrapped -> {t0, t2} | {t1, t3}.
  // Window 2 (rows 2-3): row 3 is wrapped -> {t0, t1} | {t2, t3}.
  // Window 3: both -> each token alone.
  const allowed = [
    [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]],
    [[1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1]],
    [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]],
    [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
  ];
  const expected = allowed.flat(2).map((a) => (a ? 0 : -100));
  assert.equal(Array.from(shiftedWindowMask(4, 4, 2, 1)), expected);
  assert.ok(shiftedWindowMask(4, 4, 2, 0).every((v) => v === 0), 'no shift, no mask');
});

test('effective window: official clamp when the grid is not larger than the window', () => {
  const table: Array<[[number, number, number, number], [number, number]]> = [
    [[16, 16, 4, 2], [4, 2]],
    [[4, 4, 4, 2], [4, 0]],
    [[2, 2, 4, 2], [2, 0]],
    [[7, 7, 7, 3], [7, 0]],
    [[14, 14, 7, 3], [7, 3]],
  ];
  for (const [[h, w, m, s], [em, es]] of table) assert.equal(effectiveWindow(h, w, m, s), { window: em, shift: es });
  assert.throws(() => effectiveWindow(12, 12, 5, 2), /not divisible by window 5/);
});

test('window choice and heads: paper 224 -> 7 with heads 3/6/12/24; 64 -> 4,4,4,2; 128 -> 4', () => {
  // Per stage: the largest window <= 7 tiling the grid (H/4) / 2^s.
  const windows: Array<[[number, number], number[]]> = [
    [[224, 224], [7, 7, 7, 7]], // grids 56, 28, 14, 7
    [[64, 64], [4, 4, 4, 2]], // grids 16, 8, 4, 2
    [[128, 128], [4, 4, 4, 4]], // 32, 16, 8, 4
    [[96, 96], [6, 6, 6, 3]], // 24, 12, 6, 3
    [[160, 160], [5, 5, 5, 5]], // 40, 20, 10, 5
    [[288, 288], [6, 6, 6, 3]], // 72, 36, 18, 9
    [[64, 128], [4, 4, 4, 2]], // (16, 32), (8, 16), (4, 8), (2, 4)
    [[96, 160], [4, 4, 2, 1]], // (24, 40), (12, 20), (6, 10), (3, 5)
  ];
  for (const [[h, w], m] of windows) assert.equal(swinUnetWindows([h, w, 1]), m, `size ${h}x${w}`);
  assert.equal(swinUnetWindows([224, 224, 3], 7), [7, 7, 7, 7]);
  assert.throws(() => swinUnetWindows([64, 64, 3], 3), /window 3 does not tile/);
  assert.equal([96, 192, 384, 768].map((d) => swinHeads(d)), [3, 6, 12, 24]);
  assert.equal([32, 64, 128, 256].map((d) => swinHeads(d)), [1, 2, 4, 8]);
  assert.equal([24, 48, 8, 40].map((d) => swinHeads(d)), [1, 2, 1, 1]);
});

// ---------------------------------------------------------------- attention vs reference

/** Plain LayerNorm over the last axis, written out. */
function refNorm(x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  const mean = tf.mean(x, 1, true);
  const varc = tf.mean(tf.square(tf.sub(x, mean)), 1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(varc, 1e-5))), g), b) as tf.Tensor2D;
}

/**
 * Reference Swin block on ONE image, as full attention over all tokens of the
 * ORIGINAL map: token p may attend to q iff they lie in the same shifted window
 * piece, i.e. floor((y + M - s) / M) and floor((x + M - s) / M) agree (the
 * paper's Fig. 2 partition; s = 0 gives the regular windows); the relative bias
 * is table[(dy + M - 1)(2M - 1) + dx + M - 1] with original coordinates.
 */
function referenceBlock(x: tf.Tensor3D, wts: Record<string, tf.Tensor>, heads: number, m: number, s: number): tf.Tensor3D {
  const [h, w, c] = x.shape;
  const l = h * w;
  const d = c / heads;
  const group = (v: number): number => Math.floor((v + m - s) / m);
  const table = wts.relative_position_bias_table.arraySync() as number[][];
  const xs = tf.reshape(x, [l, c]) as tf.Tensor2D;
  const qkv = tf.add(tf.matMul(refNorm(xs, wts.norm1_gamma, wts.norm1_beta), wts.qkv_kernel as tf.Tensor2D), wts.qkv_bias);
  const headOut: tf.Tensor[] = [];
  for (let hd = 0; hd < heads; hd++) {
    const q = tf.slice(qkv, [0, hd * d], [l, d]);
    const k = tf.slice(qkv, [0, c + hd * d], [l, d]);
    const v = tf.slice(qkv, [0, 2 * c + hd * d], [l, d]);
    const extra = new Float32Array(l * l);
    for (let p = 0; p < l; p++) {
      const [yp, xp] = [Math.floor(p / w), p % w];
      for (let r = 0; r < l; r++) {
        const [yr, xr] = [Math.floor(r / w), r % w];
        const same = group(yp) === group(yr) && group(xp) === group(xr);
        extra[p * l + r] = same ? table[(yp - yr + m - 1) * (2 * m - 1) + (xp - xr + m - 1)][hd] : -1e9;
      }
    }
    const scores = tf.add(tf.div(tf.matMul(q, tf.transpose(k)), Math.sqrt(d)), tf.tensor2d(extra, [l, l]));
    headOut.push(tf.matMul(tf.softmax(scores), v));
  }
  const attn = tf.add(tf.matMul(tf.concat(headOut, 1) as tf.Tensor2D, wts.proj_kernel as tf.Tensor2D), wts.proj_bias);
  const y = tf.add(xs, attn) as tf.Tensor2D;
  const hid = tf.add(tf.matMul(refNorm(y, wts.norm2_gamma, wts.norm2_beta), wts.fc1_kernel as tf.Tensor2D), wts.fc1_bias);
  const act = tf.mul(tf.mul(hid, 0.5), tf.add(1, tf.erf(tf.div(hid, Math.SQRT2))));
  const out = tf.add(y, tf.add(tf.matMul(act as tf.Tensor2D, wts.fc2_kernel as tf.Tensor2D), wts.fc2_bias));
  return tf.reshape(out, [h, w, c]) as tf.Tensor3D;
}

function namedWeights(layer: tf.layers.Layer): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const v of layer.weights) out[v.name.split('/').pop()!.replace(/_\d+$/, '')] = v.read();
  return out;
}

for (const [label, shift, zeroTable] of [
  ['W-MSA, zero relative bias', 0, true],
  ['W-MSA, learned relative bias', 0, false],
  ['SW-MSA (shift 1), zero relative bias', 1, true],
  ['SW-MSA (shift 1), learned relative bias', 1, false],
] as const) {
  test(`Swin block equals full attention restricted to (shifted) windows: ${label}`, async () => {
    await leakFree(label, () => {
      const init = new SeededInit(7);
      const blk = new SwinBlock({
        name: `ref_block_${shift}_${zeroTable}`,
        numHeads: 2,
        windowSize: 2,
        shiftSize: shift,
        qkvInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed: 1 }),
        projInitializer: init.glorot(),
        fc1Initializer: init.glorot(),
        fc2Initializer: init.glorot(),
        biasTableInitializer: zeroTable ? tf.initializers.zeros() : tf.initializers.randomNormal({ stddev: 1, seed: 3 }),
      });
      const x = tf.randomNormal([2, 4, 4, 4], 0, 1, 'float32', 11) as tf.Tensor4D;
      const y = blk.apply(x) as tf.Tensor;
      assert.equal(blk.effectiveWindow, { window: 2, shift });
      const wts = namedWeights(blk);
      const ref = tf.tidy(() => tf.stack([0, 1].map((i) => referenceBlock(tf.squeeze(tf.slice(x, [i], [1]), [0]) as tf.Tensor3D, wts, 2, 2, shift))));
      close(y.dataSync(), ref.dataSync(), 2e-4, label);
      tf.dispose([x, y, ref]);
      blk.dispose();
    });
  });
}

test('matMulFast has the values and gradients of tf.matMul', async () => {
  await leakFree('matMulFast', () => {
    const a = tf.randomNormal([2, 3, 4, 5], 0, 1, 'float32', 1);
    const b = tf.randomNormal([2, 3, 5, 6], 0, 1, 'float32', 2);
    const w = tf.randomNormal([2, 3, 4, 6], 0, 1, 'float32', 3);
    const loss = (f: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor) => (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(f(x, y), w));
    const [ga, gb] = tf.grads(loss(matMulFast))([a, b]);
    const [ra, rb] = tf.grads(loss((x, y) => tf.matMul(x, y)))([a, b]);
    const v1 = matMulFast(a, b);
    const v2 = tf.matMul(a, b);
    close(v1.dataSync(), v2.dataSync(), 1e-5, 'value');
    close(ga.dataSync(), ra.dataSync(), 1e-5, 'grad a');
    close(gb.dataSync(), rb.dataSync(), 1e-5, 'grad b');
    tf.dispose([a, b, w, ga, gb, ra, rb, v1, v2]);
  });
});

test('layerNorm: values and hand-written gradients equal autodiff of the plain formula', async () => {
  await leakFree('layerNorm', () => {
    const x = tf.randomNormal([2, 3, 4, 5], 1, 2, 'float32', 1);
    const g = tf.randomNormal([5], 1, 0.5, 'float32', 2);
    const b = tf.randomNormal([5], 0, 0.5, 'float32', 3);
    const w = tf.randomNormal([2, 3, 4, 5], 0, 1, 'float32', 4);
    const plain = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor): tf.Tensor => {
      const mean = tf.mean(xx, -1, true);
      const v = tf.mean(tf.square(tf.sub(xx, mean)), -1, true);
      return tf.add(tf.mul(tf.div(tf.sub(xx, mean), tf.sqrt(tf.add(v, 1e-5))), gg), bb);
    };
    const obj = (f: typeof plain) => (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(f(xx, gg, bb), w));
    const got = tf.tidy(() => tf.grads(obj((xx, gg, bb) => layerNorm(xx, gg, bb)))([x, g, b]));
    const want = tf.tidy(() => tf.grads(obj(plain))([x, g, b]));
    got.forEach((t, i) => close(t.dataSync(), want[i].dataSync(), 1e-4, `grad ${i}`));
    const v1 = layerNorm(x, g, b);
    const v2 = tf.tidy(() => plain(x, g, b));
    close(v1.dataSync(), v2.dataSync(), 1e-5, 'value');
    tf.dispose([x, g, b, w, ...got, ...want, v1, v2]);
  });
});

// ---------------------------------------------------------------- layers: shapes, configs, save/load

test('patch layers: hand-checked rearrangements (merging order, expanding layout, embedding flatten order)', async () => {
  await leakFree('patch layers', () => {
    // LayerNorm of two channels (v, 0) with v > 0 is (1, -1) (up to eps).
    const n1 = 1 / Math.sqrt(1 + 4e-5);

    // PatchMerging: 4x4x1 map with values 1..16 row-major. Top-left 2x2 = [[1, 2], [5, 6]]; the official
    // concat order is (0,0), (1,0), (0,1), (1,1) = [1, 5, 2, 6]. A reduction keeping channels 0 and 1
    // then yields the normalised 1 and 5 (a row-major order would give 1 and 2 instead).
    const merge = new PatchMerging({ name: 'pm_check' });
    const x = tf.tensor4d(Float32Array.from({ length: 16 }, (_, i) => i + 1), [1, 4, 4, 1]);
    tf.dispose(merge.apply(x) as tf.Tensor);
    tf.tidy(() => merge.setWeights([tf.ones([4]), tf.zeros([4]), tf.tensor2d([1, 0, 0, 1, 0, 0, 0, 0], [4, 2])]));
    const y = merge.apply(x) as tf.Tensor;
    assert.equal(y.shape, [1, 2, 2, 2]);
    const v = [1, 5, 2, 6];
    const sd = Math.sqrt(v.reduce((acc, t) => acc + (t - 3.5) ** 2, 0) / 4 + 1e-5);
    close(Array.from(y.dataSync()).slice(0, 2), [(1 - 3.5) / sd, (5 - 3.5) / sd], 1e-5, 'merge order');

    // PatchExpand scale 2, outDim 2, identity expansion on a 1x2 map: channel block (p1 * 2 + p2) of
    // pixel (h, w) goes to output pixel (2h + p1, 2w + p2). Blocks hold (1, 0) or (0, 1).
    const expand = new PatchExpand({ name: 'pe_check', scale: 2, outDim: 2 });
    const inp = tf.tensor4d([1, 0, 1, 0, 0, 1, 0, 1, /* pixel 2 */ 0, 1, 0, 1, 1, 0, 1, 0], [1, 1, 2, 8]);
    tf.dispose(expand.apply(inp) as tf.Tensor);
    tf.tidy(() => expand.setWeights([tf.eye(8), tf.ones([2]), tf.zeros([2])]));
    const z = expand.apply(inp) as tf.Tensor;
    assert.equal(z.shape, [1, 2, 4, 2]);
    const P = [n1, -n1];
    const Q = [-n1, n1];
    // Row 0: pixel 1 blocks (0,0), (0,1) then pixel 2 blocks (0,0), (0,1); row 1: the (1, *) blocks.
    close(z.dataSync(), [...P, ...P, ...Q, ...Q, ...Q, ...Q, ...P, ...P], 1e-4, 'expand layout');

    // PatchEmbed, patch 2: patch [[1, 2], [3, 9]] flattens (row, col, channel) to [1, 2, 3, 9]; kernel rows
    // ([0,0], [1,0], [0,1], [0,0]) pick features (2, 3) -> LayerNorm -> (-1, 1).
    const embed = new PatchEmbed({ name: 'emb_check', embedDim: 2, patchSize: 2 });
    const img = tf.tensor4d([1, 2, 3, 9], [1, 2, 2, 1]);
    tf.dispose(embed.apply(img) as tf.Tensor);
    tf.tidy(() => embed.setWeights([tf.tensor2d([0, 0, 1, 0, 0, 1, 0, 0], [4, 2]), tf.zeros([2]), tf.ones([2]), tf.zeros([2])]));
    const e = embed.apply(img) as tf.Tensor;
    assert.equal(e.shape, [1, 1, 1, 2]);
    close(e.dataSync(), [-1, 1], 1e-4, 'embed flatten order');
    tf.dispose([x, y, inp, z, img, e]);
    for (const l of [merge, expand, embed]) l.dispose();
  });
});

const layerCases: Array<[string, () => tf.layers.Layer, number[]]> = [
  ['PatchEmbed', () => new PatchEmbed({ name: 'rt_embed', embedDim: 6, kernelInitializer: new SeededInit(1).glorot() }), [2, 8, 8, 3]],
  ['PatchMerging', () => new PatchMerging({ name: 'rt_merge', kernelInitializer: new SeededInit(2).truncNormal(0.02) }), [2, 4, 4, 6]],
  ['PatchExpand', () => new PatchExpand({ name: 'rt_expand', scale: 4, outDim: 3, kernelInitializer: new SeededInit(3).truncNormal(0.02) }), [2, 2, 2, 6]],
  ['SwinBlock', () => new SwinBlock({ name: 'rt_block', numHeads: 2, windowSize: 2, shiftSize: 1, biasTableInitializer: new SeededInit(4).truncNormal(1) }), [2, 4, 4, 6]],
  ['TokenLinear', () => new TokenLinear({ name: 'rt_linear', units: 5, kernelInitializer: new SeededInit(5).glorot() }), [2, 3, 3, 6]],
  ['TokenLayerNorm', () => new TokenLayerNorm({ name: 'rt_norm' }), [2, 3, 3, 6]],
];

for (const [label, make, shape] of layerCases) {
  test(`${label}: getConfig round trip, computeOutputShape and re-application to a new symbolic input`, async () => {
    await leakFree(label, () => {
      const layer = make();
      const x = tf.randomNormal(shape, 0, 1, 'float32', 9);
      const y = layer.apply(x) as tf.Tensor;
      assert.equal(layer.computeOutputShape([null, ...shape.slice(1)]), [null, ...y.shape.slice(1)]);
      const cfg = layer.getConfig();
      const cls = tf.serialization.SerializationMap.getMap().classNameMap[layer.getClassName()];
      assert.ok(cls, `${label} registered as ${layer.getClassName()}`);
      assert.ok(layer.getClassName().startsWith('Medfl'));
      const copy = cls[1](cls[0], cfg) as tf.layers.Layer;
      assert.equal(copy.getConfig(), cfg);
      const y2 = copy.apply(x) as tf.Tensor; // builds the copy with its own (same-seed) initializers
      copy.setWeights(layer.getWeights());
      const y3 = copy.apply(x) as tf.Tensor;
      close(y3.dataSync(), y.dataSync(), 1e-6, `${label} copy`);
      // Re-apply the ORIGINAL layer to a fresh symbolic input: weights are shared.
      const inp = tf.input({ shape: shape.slice(1) });
      const model = tf.model({ inputs: inp, outputs: layer.apply(inp) as tf.SymbolicTensor });
      const y4 = model.predict(x) as tf.Tensor;
      close(y4.dataSync(), y.dataSync(), 1e-6, `${label} re-applied`);
      assert.is(model.countParams(), layer.countParams());
      tf.dispose([x, y, y2, y3, y4]);
      model.dispose();
      layer.dispose();
      copy.dispose();
    });
  });
}

// ---------------------------------------------------------------- whole model

/** Parameters from the official code's layer list (hand-derived, independent of the builder). */
function swinUnetParams(c: number, cin: number, k: number, windows: number[], heads: number[]): number {
  const block = (d: number, s: number): number => 12 * d * d + 13 * d + (2 * windows[s] - 1) ** 2 * heads[s];
  const dims = [c, 2 * c, 4 * c, 8 * c];
  let p = 16 * cin * c + c + 2 * c; // patch embed + norm
  for (let s = 0; s < 3; s++) p += 2 * block(dims[s], s) + 8 * dims[s] + 8 * dims[s] * dims[s]; // stage + merge
  p += 2 * block(dims[3], 3) + 2 * dims[3]; // bottleneck + norm
  p += 2 * dims[3] * dims[3] + dims[3]; // bottleneck expand 8C -> 4C
  for (let s = 2; s >= 0; s--) {
    p += 2 * dims[s] * dims[s] + dims[s] + 2 * block(dims[s], s); // concat linear + blocks
    if (s > 0) p += 2 * dims[s] * dims[s] + dims[s]; // expand
  }
  return p + 2 * c + 16 * c * c + 2 * c + c * k; // norm_up, final x4 expand, head (no bias)
}

test('model: output shape/activation, parameter count formula, seeded, split points exist', async () => {
  await leakFree('model', () => {
    const m = buildSwinUnet({ inputShape: [64, 64, 1], numClasses: 3, outputActivation: 'softmax', width: 8, seed: 5 });
    // 64x64: grids 16, 8, 4, 2 -> effective windows 4, 4, 4, 2; width 8 -> heads 1, 1, 1, 2.
    assert.is(m.countParams(), swinUnetParams(8, 1, 3, [4, 4, 4, 2], [1, 1, 1, 2]));
    const x = tf.randomUniform([2, 64, 64, 1], 0, 1, 'float32', 3);
    const y = m.predict(x) as tf.Tensor;
    assert.equal(y.shape, [2, 64, 64, 3]);
    const sums = tf.sum(y, -1);
    close(sums.dataSync(), new Float32Array(2 * 64 * 64).fill(1), 1e-5, 'softmax sums');
    const again = buildSwinUnet({ inputShape: [64, 64, 1], numClasses: 3, outputActivation: 'softmax', width: 8, seed: 5 });
    const y2 = again.predict(x) as tf.Tensor;
    close(y2.dataSync(), y.dataSync(), 0, 'same seed, same weights');
    const names = new Set(m.layers.map((l) => l.name));
    assert.is(names.size, m.layers.length, 'unique layer names');
    const { twoPart, uShaped } = swinUnet.capabilities.split;
    for (const n of [twoPart, ...uShaped]) assert.ok(names.has(n), `split layer ${n}`);
    tf.dispose([x, y, y2, sums]);
    m.dispose();
    again.dispose();
  });
  // 224x224 (the paper's size): grids 56, 28, 14, 7 -> window 7 at every stage, last one unshifted.
  // (At width 96, 3 channels, 9 classes the same formula gives 27,168,900, i.e. Swin-Unet's 27.17M.)
  assert.throws(
    () => buildSwinUnet({ inputShape: [48, 48, 1], numClasses: 1, outputActivation: 'sigmoid', width: 8, seed: 0 }),
    /48x48 must be divisible by 32/,
  );
  const at224 = buildSwinUnet({ inputShape: [224, 224, 3], numClasses: 9, outputActivation: 'softmax', width: 8, seed: 0 });
  assert.is(at224.countParams(), swinUnetParams(8, 3, 9, [7, 7, 7, 7], [1, 1, 1, 2]));
  const bottleneck = at224.getLayer('bottleneck_block2') as SwinBlock;
  assert.equal(bottleneck.effectiveWindow, { window: 7, shift: 0 });
  assert.equal((at224.getLayer('enc3_block2') as SwinBlock).effectiveWindow, { window: 7, shift: 3 });
  at224.dispose();
});

test('model: save / load round trip gives identical outputs (all custom layers)', async () => {
  const before = tf.memory().numTensors;
  const m = buildSwinUnet({ inputShape: [32, 32, 2], numClasses: 1, outputActivation: 'sigmoid', width: 8, seed: 1 });
  const classes = new Set(m.layers.map((l) => l.getClassName()));
  for (const c of ['MedflSwinPatchEmbed', 'MedflSwinBlock', 'MedflSwinPatchMerging', 'MedflSwinPatchExpand', 'MedflSwinLinear', 'MedflSwinLayerNorm']) {
    assert.ok(classes.has(c), `model uses ${c}`);
  }
  let artifacts: tf.io.ModelArtifacts | undefined;
  await m.save(tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
  const x = tf.randomUniform([2, 32, 32, 2], 0, 1, 'float32', 4);
  const y1 = m.predict(x) as tf.Tensor;
  const y2 = loaded.predict(x) as tf.Tensor;
  close(y2.dataSync(), y1.dataSync(), 0, 'loaded model');
  tf.dispose([x, y1, y2]);
  m.dispose();
  loaded.dispose();
  assert.is(tf.memory().numTensors, before, 'no leak');
});

test('drop path: off at inference, stochastic only when training', async () => {
  await leakFree('drop path', () => {
    const mk = (rate: number) =>
      new SwinBlock({ name: `dp_${rate}`, numHeads: 1, windowSize: 2, dropPath: rate, dropPathSeed: 3, qkvInitializer: new SeededInit(1).glorot() });
    const a = mk(0.5);
    const b = mk(0);
    const x = tf.randomNormal([8, 4, 4, 4], 0, 1, 'float32', 2);
    const ya = a.apply(x) as tf.Tensor;
    tf.dispose(b.apply(x) as tf.Tensor);
    b.setWeights(a.getWeights());
    const yb = b.apply(x) as tf.Tensor;
    close(ya.dataSync(), yb.dataSync(), 0, 'inference ignores drop path');
    const yt = a.apply(x, { training: true }) as tf.Tensor;
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(yt, yb))));
    assert.ok(diff.dataSync()[0] > 1e-3, 'training applies drop path');
    tf.dispose([x, ya, yb, yt, diff]);
    a.dispose();
    b.dispose();
  });
});

test('a few Adam steps lower the loss (64x64, default width)', async () => {
  const m = buildSwinUnet({ inputShape: [64, 64, 1], numClasses: 1, outputActivation: 'sigmoid', width: swinUnet.capabilities.defaultWidth, seed: 2 });
  const x = tf.randomUniform([2, 64, 64, 1], 0, 1, 'float32', 5);
  const y = tf.tidy(() => tf.cast(tf.greater(x, 0.5), 'float32'));
  const opt = tf.train.adam(3e-3);
  const before = tf.memory().numTensors;
  const losses: number[] = [];
  for (let i = 0; i < 4; i++) {
    const l = opt.minimize(() => tf.losses.meanSquaredError(y, m.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
    losses.push(l.dataSync()[0]);
    l.dispose();
  }
  assert.ok(losses[3] < losses[0], `loss ${losses.join(' -> ')}`);
  assert.ok(tf.memory().numTensors - before <= 2 * m.trainableWeights.length, 'only optimizer slots added');
  tf.dispose([x, y]);
  opt.dispose();
  m.dispose();
});

test.run();
