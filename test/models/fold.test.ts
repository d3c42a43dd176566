/**
 * BatchNorm folding (src/models/fold): the folded inference copy predicts what
 * the original predicts (float32 rounding), folds every conv -> BN pair of a
 * U-Net / DeepLabV3 / SegNet, leaves the original untouched and leaks nothing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { createModel } from '../../src/models/registry';
import { foldBatchNorm } from '../../src/models/fold';
import { createRng } from '../../src/util/rng';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

/** Give every BatchNorm non-trivial statistics and affine weights (seeded). */
function randomiseBatchNorms(model: tf.LayersModel, seed: number): void {
  const rng = createRng(seed);
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const vals = layer.getWeights().map((w) => {
      const a = new Float32Array(w.size);
      for (let i = 0; i < w.size; i++) a[i] = rng.uniform(0.5, 1.5);
      return tf.tensor(a, w.shape);
    });
    // order: gamma, beta, moving_mean, moving_variance (those present)
    const shifted = vals.map((v, i) => (i === 1 || i === 2 ? tf.tidy(() => tf.sub(v, 1)) : v));
    layer.setWeights(shifted);
    tf.dispose([...vals, ...shifted]);
  }
}

for (const [name, width, size] of [['unet', 4, 32], ['deeplabv3', 4, 32], ['segnet', 4, 32]] as [string, number, number][]) {
  test(`foldBatchNorm(${name}): same predictions, every conv -> BN folded, original unchanged, no leaks`, async () => {
    const model = createModel(name, { inputShape: [size, size, 3], numClasses: 1, outputActivation: 'none', width, seed: 3 });
    randomiseBatchNorms(model, 9);
    const x = tf.randomUniform([2, size, size, 3], 0, 1, 'float32', 4);
    const before = tf.memory().numTensors;
    const ref = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync().slice());
    const { model: folded, folded: pairs } = await foldBatchNorm(model);
    try {
      const bns = model.layers.filter((l) => l.getClassName() === 'BatchNormalization').length;
      assert.ok(pairs.length > 0 && pairs.length <= bns, `${pairs.length} of ${bns}`);
      assert.is(folded.layers.filter((l) => l.getClassName() === 'BatchNormalization').length, bns - pairs.length);
      const got = tf.tidy(() => (folded.predict(x) as tf.Tensor).dataSync().slice());
      let maxDiff = 0;
      let maxRef = 0;
      for (let i = 0; i < ref.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(got[i] - ref[i]));
        maxRef = Math.max(maxRef, Math.abs(ref[i]));
      }
      assert.ok(maxDiff / (1 + maxRef) < 1e-4, `${name}: ${maxDiff} (max ${maxRef})`);
      const again = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync().slice());
      assert.equal(Array.from(again), Array.from(ref), 'original unchanged');
    } finally {
      folded.dispose();
    }
    assert.is(tf.memory().numTensors, before, 'no tensors left');
    x.dispose();
    model.dispose();
  });
}

test.run();
