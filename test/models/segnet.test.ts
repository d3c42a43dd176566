import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { segnet, SEGNET_STAGE_CONVS } from '../../src/models/segnet';
import { MaxUnpool2D, maxPoolArgmaxMask2x2, maxUnpool2x2 } from '../../src/models/blocks/unpool';
import { nativeAddonInfo, setNativeAddonEnabled, setNativeThreads } from '../../src/backend/addon';
import { nativeUnpoolAvailable } from '../../src/backend/native-unpool';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

/** Interleave per-channel row-major H x W grids into an NHWC [1, H, W, C] tensor. */
function nhwc(channels: number[][][]): tf.Tensor4D {
  const h = channels[0].length;
  const w = channels[0][0].length;
  const data: number[] = [];
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (const ch of channels) data.push(ch[i][j]);
  return tf.tensor4d(data, [1, h, w, channels.length]);
}

// Channel 0 has ties: window (0,1) all zeros -> top-left; (1,0) three 7s -> top-left;
// (1,1) two 9s on the anti-diagonal -> the first in row-major order (top-right).
const X0 = [
  [1, 5, 0, 0],
  [3, 2, 0, 0],
  [7, 7, 2, 9],
  [7, 1, 9, 4],
];
const X1 = [
  [-1, -5, 4, 8],
  [-3, -2, 6, 1],
  [0, 1, 5, 5],
  [2, 3, 5, 6],
];
const MASK0 = [
  [0, 1, 1, 0],
  [0, 0, 0, 0],
  [1, 0, 0, 1],
  [0, 0, 0, 0],
];
const MASK1 = [
  [1, 0, 0, 1],
  [0, 0, 0, 0],
  [0, 0, 0, 0],
  [0, 1, 0, 1],
];
const V0 = [
  [10, 20],
  [30, 40],
];
const V1 = [
  [-1, -2],
  [-3, -4],
];
const OUT0 = [
  [0, 10, 20, 0],
  [0, 0, 0, 0],
  [30, 0, 0, 40],
  [0, 0, 0, 0],
];
const OUT1 = [
  [-1, 0, 0, -2],
  [0, 0, 0, 0],
  [0, 0, 0, 0],
  [0, -3, 0, -4],
];

test('argmax mask: one position per 2x2 window, ties -> first in row-major order', () => {
  const before = tf.memory().numTensors;
  const x = nhwc([X0, X1]);
  const mask = maxPoolArgmaxMask2x2(x);
  const expected = nhwc([MASK0, MASK1]);
  assert.equal(Array.from(mask.dataSync()), Array.from(expected.dataSync()));
  tf.dispose([x, mask, expected]);
  assert.is(tf.memory().numTensors, before, 'no tensor leak');
});

test('unpooling writes each value at its window maximum and zeros elsewhere', () => {
  const before = tf.memory().numTensors;
  const x = nhwc([X0, X1]);
  const v = nhwc([V0, V1]);
  const y = maxUnpool2x2(x, v);
  const expected = nhwc([OUT0, OUT1]);
  assert.equal(y.shape, [1, 4, 4, 2]);
  assert.equal(Array.from(y.dataSync()), Array.from(expected.dataSync()));
  tf.dispose([x, v, y, expected]);
  assert.is(tf.memory().numTensors, before, 'no tensor leak');
});

test('gradients: d/dvalues picks the upstream gradient at the max position, d/dpre = 0', () => {
  const before = tf.memory().numTensors;
  const x = nhwc([X0, X1]);
  const v = nhwc([V0, V1]);
  // Upstream weights W[h, w, c] = (4h + w) * 2 + c + 1 (the NHWC flat index + 1).
  const W = tf.tidy(() => tf.range(1, 33).reshape([1, 4, 4, 2]));
  const [dx, dv] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(maxUnpool2x2(a as tf.Tensor4D, b as tf.Tensor4D), W)))([x, v]);
  // Max positions: c0 (0,1) (0,2) (2,0) (2,3) -> W 3, 5, 17, 23; c1 (0,0) (0,3) (3,1) (3,3) -> W 2, 8, 28, 32.
  assert.equal(Array.from(dv.dataSync()), [3, 2, 5, 8, 17, 28, 23, 32]);
  assert.equal(Array.from(dx.dataSync()), new Array(32).fill(0));
  tf.dispose([x, v, W, dx, dv]);
  assert.is(tf.memory().numTensors, before, 'no tensor leak');
});

test('native unpooling (addon, 1 and 3 threads) = the composed tfjs ops: forward and value gradient, ties included', () => {
  if (tf.getBackend() !== 'wasm' || !nativeAddonInfo().loaded) return;
  const [N, H, W, C] = [2, 10, 14, 5];
  // Values on a coarse grid after a ReLU: many ties inside windows (zeros and repeated maxima).
  const x = tf.tidy(() => tf.relu(tf.round(tf.randomUniform([N, H, W, C], -3, 3, 'float32', 7))) as tf.Tensor4D);
  const v = tf.randomNormal([N, H / 2, W / 2, C], 0, 1, 'float32', 8) as tf.Tensor4D;
  const wUp = tf.randomNormal([N, H, W, C], 0, 1, 'float32', 9);
  const run = (on: boolean, threads: number) => {
    const prevOn = setNativeAddonEnabled(on);
    const prevT = setNativeThreads(threads);
    try {
      assert.is(nativeUnpoolAvailable(), on);
      return tf.tidy(() => {
        const y = maxUnpool2x2(x, v);
        const dv = tf.grad((b: tf.Tensor) => tf.sum(tf.mul(maxUnpool2x2(x, b as tf.Tensor4D), wUp)))(v);
        return [Array.from(y.dataSync()), Array.from(dv.dataSync())];
      });
    } finally {
      setNativeAddonEnabled(prevOn);
      setNativeThreads(prevT);
    }
  };
  const composed = run(false, 1);
  for (const threads of [1, 3]) {
    const native = run(true, threads);
    native.forEach((got, i) => got.forEach((g, j) => assert.ok(g === composed[i][j], `${i ? 'gradient' : 'forward'} element ${j}: ${g} vs ${composed[i][j]}`)));
  }
  tf.dispose([x, v, wUp]);
});

test('MaxUnpool2D: shape checks, getConfig and save/load round trip', async () => {
  const inp = tf.input({ shape: [4, 4, 2] });
  const pooled = tf.layers.maxPooling2d({ poolSize: 2, name: 'p' }).apply(inp) as tf.SymbolicTensor;
  const mixed = tf.layers.conv2d({ filters: 2, kernelSize: 1, name: 'c', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(pooled) as tf.SymbolicTensor;
  const layer = new MaxUnpool2D({ name: 'un' });
  const out = layer.apply([inp, mixed]) as tf.SymbolicTensor;
  assert.equal(out.shape, [null, 4, 4, 2]);
  assert.is(layer.getConfig().name, 'un');
  assert.is(MaxUnpool2D.className, 'MedflMaxUnpool2D');
  const model = tf.model({ inputs: inp, outputs: out });
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  assert.ok(saved && JSON.stringify(saved.modelTopology).includes('MedflMaxUnpool2D'));
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
  const x = nhwc([X0, X1]);
  const a = model.predict(x) as tf.Tensor;
  const b = loaded.predict(x) as tf.Tensor;
  assert.equal(Array.from(a.dataSync()), Array.from(b.dataSync()));
  tf.dispose([x, a, b]);
  model.dispose();
  loaded.dispose();
  // Wrong shapes are rejected with a message naming the expectation.
  const odd = tf.input({ shape: [5, 4, 2] });
  const half = tf.input({ shape: [2, 2, 2] });
  assert.throws(() => new MaxUnpool2D({ name: 'bad' }).apply([odd, half]), /even H, W/);
});

test('SegNet: VGG16 stage layout and every unpool reuses its encoder stage', () => {
  const m = segnet.build({ inputShape: [32, 32, 1], numClasses: 1, outputActivation: 'sigmoid', width: 1, seed: 0 });
  for (let s = 1; s <= 5; s++) {
    const convs = m.layers.filter((l) => new RegExp(`^enc${s}_\\d+_conv$`).test(l.name));
    assert.is(convs.length, SEGNET_STAGE_CONVS[s - 1], `stage ${s}`);
    const unpool = m.getLayer(`dec${s}_unpool`);
    assert.is(unpool.getClassName(), 'MedflMaxUnpool2D');
    const inbound = unpool.inboundNodes[0].inboundLayers.map((l) => l.name);
    assert.is(inbound[0], `enc${s}_${SEGNET_STAGE_CONVS[s - 1]}_relu`);
    assert.is(inbound[1], s === 5 ? 'enc5_pool' : `dec${s + 1}_${SEGNET_STAGE_CONVS[s]}_relu`);
  }
  // Channels w, 2w, 4w, 8w, 8w (VGG16 64..512 at width 64); mirrored decoder.
  assert.equal([1, 2, 3, 4, 5].map((s) => (m.getLayer(`enc${s}_1_conv`).outputShape as number[])[3]), [1, 2, 4, 8, 8]);
  assert.equal((m.getLayer('dec4_3_relu').outputShape as number[])[3], 4);
  assert.equal((m.getLayer('dec2_2_relu').outputShape as number[])[3], 1);
  m.dispose();
});

test('SegNet: unpooled decoder maps are nonzero only at encoder window maxima', () => {
  const before = tf.memory().numTensors;
  const m = segnet.build({ inputShape: [32, 32, 3], numClasses: 2, outputActivation: 'softmax', width: 2, seed: 4 });
  const names: string[] = [];
  for (let s = 1; s <= 5; s++) names.push(`enc${s}_${SEGNET_STAGE_CONVS[s - 1]}_relu`, `dec${s}_unpool`);
  const probe = tf.model({ inputs: m.inputs, outputs: names.map((n) => m.getLayer(n).output as tf.SymbolicTensor) });
  const x = tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 9);
  const outs = probe.predict(x) as tf.Tensor[];
  for (let s = 0; s < 5; s++) {
    const [, h, w, c] = outs[2 * s].shape;
    const pre = outs[2 * s].dataSync();
    const un = outs[2 * s + 1].dataSync();
    assert.equal(outs[2 * s + 1].shape, outs[2 * s].shape);
    let windowsWithValue = 0;
    for (let i = 0; i < h; i += 2)
      for (let j = 0; j < w; j += 2)
        for (let k = 0; k < c; k++) {
          const idx = [0, 1].flatMap((di) => [0, 1].map((dj) => ((i + di) * w + (j + dj)) * c + k));
          const max = Math.max(...idx.map((q) => pre[q]));
          const nonzero = idx.filter((q) => un[q] !== 0);
          assert.ok(nonzero.length <= 1, `stage ${s + 1}: at most one value per window`);
          if (nonzero.length === 1) {
            windowsWithValue++;
            assert.is(pre[nonzero[0]], max, `stage ${s + 1}: value sits at the window maximum`);
          }
        }
    assert.ok(windowsWithValue > 0, `stage ${s + 1}: some values were unpooled`);
  }
  tf.dispose([x, ...outs]);
  m.dispose();
  assert.is(tf.memory().numTensors, before, 'no tensor leak');
});

test.run();
