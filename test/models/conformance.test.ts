/**
 * One conformance suite run over every registered architecture
 * (segmentation_models.pytorch style): output shapes, input channels, a few
 * optimizer steps lower the loss, no tensor leak, save/load round trip, and
 * split learning (two-part and U-shaped) reproduces the unsplit network's
 * forward output and the gradient of every weight.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { MODEL_NAMES, createModel, getModelSpec } from '../../src/models/registry';
import { splitModel, splitStep, defaultCut } from '../../src/models/split';
import { binaryCrossEntropy } from '../../src/metrics/losses';
import { relErr } from '../backend/helpers';

/** Smallest square size an architecture accepts (fast tests). */
function smallSize(name: string): number {
  const c = getModelSpec(name).capabilities;
  let s = Math.max(c.minSize, c.divisibleBy);
  while (s % c.divisibleBy !== 0) s++;
  return s;
}

/** A second valid size, different from 64, for the shape check. */
function otherSize(name: string): [number, number] {
  const d = getModelSpec(name).capabilities.divisibleBy;
  const h = Math.max(smallSize(name), 64);
  return [h, h + d * Math.max(1, Math.ceil(32 / d))];
}

async function saveLoad(model: tf.LayersModel): Promise<tf.LayersModel> {
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return tf.loadLayersModel(tf.io.fromMemory(saved!));
}

const bce = binaryCrossEntropy();

// MEDFL_TEST_MODELS=unet,segnet restricts the suite while developing (CI runs all ten).
const NAMES = process.env.MEDFL_TEST_MODELS ? process.env.MEDFL_TEST_MODELS.split(',') : MODEL_NAMES;

for (const name of NAMES) {
  const t = suite(`conformance: ${name}`);
  t.before(async () => {
    await initBackend('wasm', { log: () => {} });
  });

  t('output shape [N,H,W,K] at 64x64 and at another size; 1 and 3 input channels', () => {
    const s64 = Math.max(64, smallSize(name));
    for (const [h, w, c, k] of [
      [s64, s64, 3, 1],
      [s64, s64, 1, 3],
      [...otherSize(name), 3, 2],
    ] as [number, number, number, number][]) {
      const model = createModel(name, { inputShape: [h, w, c], numClasses: k, seed: 3 });
      const y = tf.tidy(() => model.predict(tf.zeros([1, h, w, c])) as tf.Tensor);
      assert.equal(y.shape, [1, h, w, k], `${name} output at ${h}x${w}x${c}, K=${k}`);
      if (k > 1) {
        const sums = tf.tidy(() => tf.sum(y, -1).dataSync());
        assert.ok(Array.from(sums).every((v) => Math.abs(v - 1) < 1e-4), 'softmax output sums to 1');
      } else {
        const v = y.dataSync();
        assert.ok(Array.from(v).every((p) => p >= 0 && p <= 1), 'sigmoid output in [0,1]');
      }
      y.dispose();
      model.dispose();
    }
  });

  t('impossible shapes throw a clear error', () => {
    const c = getModelSpec(name).capabilities;
    const bad = smallSize(name) + (c.divisibleBy > 1 ? 1 : 0);
    if (c.divisibleBy > 1) {
      assert.throws(() => createModel(name, { inputShape: [bad, bad, 3], numClasses: 1 }), /divisible by/);
    }
    assert.throws(() => createModel(name, { inputShape: [64, 64, 3], numClasses: 0 }), /numClasses/);
  });

  t('same seed builds identical weights; a few Adam steps lower the loss; no tensor leak', () => {
    const s = smallSize(name);
    const a = createModel(name, { inputShape: [s, s, 3], numClasses: 1, seed: 5 });
    const b = createModel(name, { inputShape: [s, s, 3], numClasses: 1, seed: 5 });
    a.getWeights().forEach((w, i) => assert.ok(relErr(w.dataSync(), b.getWeights()[i].dataSync()) === 0, `weight ${i} equal`));
    b.dispose();
    const x = tf.randomUniform([2, s, s, 3], 0, 1, 'float32', 11);
    const y = tf.tidy(() => {
      // A learnable target: a disc in the centre of every image.
      const r = tf.range(0, s).sub(s / 2 - 0.5).square();
      const d = tf.add(r.reshape([s, 1]), r.reshape([1, s]));
      return tf.tile(tf.cast(tf.less(d, (s / 4) ** 2), 'float32').reshape([1, s, s, 1]), [2, 1, 1, 1]);
    });
    const opt = tf.train.adam(5e-3);
    const vars = a.trainableWeights.map((w) => w.read() as tf.Variable);
    const lossNow = () => tf.tidy(() => bce(y, a.apply(x, { training: true }) as tf.Tensor).dataSync()[0]);
    const first = lossNow();
    let counts: number[] = [];
    for (let i = 0; i < 6; i++) {
      const l = opt.minimize(() => bce(y, a.apply(x, { training: true }) as tf.Tensor), true, vars);
      l?.dispose();
      counts.push(tf.memory().numTensors);
    }
    const last = lossNow();
    assert.ok(last < first, `${name}: loss ${first} -> ${last} should decrease`);
    counts = counts.slice(1);
    assert.ok(counts.every((n) => n === counts[0]), `${name}: tensor count stable across steps: ${counts}`);
    opt.dispose();
    tf.dispose([x, y]);
    a.dispose();
  });

  t('save/load round trip gives identical outputs', async () => {
    const s = smallSize(name);
    const model = createModel(name, { inputShape: [s, s, 3], numClasses: 2, seed: 7 });
    const loaded = await saveLoad(model);
    const x = tf.randomUniform([1, s, s, 3], 0, 1, 'float32', 4);
    const [p, q] = tf.tidy(() => [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor]);
    assert.ok(relErr(q.dataSync(), p.dataSync()) < 1e-6, `${name}: loaded model reproduces outputs`);
    assert.is(loaded.countParams(), model.countParams());
    tf.dispose([x, p, q]);
    model.dispose();
    loaded.dispose();
  });

  for (const mode of ['two-part', 'u-shaped'] as const) {
    t(`split ${mode}: forward and every weight gradient equal the unsplit network`, () => {
      const s = smallSize(name);
      const model = createModel(name, { inputShape: [s, s, 3], numClasses: 1, seed: 9 });
      const net = splitModel(model, { mode, cut: defaultCut(getModelSpec(name), mode) });
      const x = tf.randomUniform([2, s, s, 3], 0, 1, 'float32', 21);
      const y = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([2, s, s, 1], 0, 1, 'float32', 22), 0.6), 'float32'));
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const before = tf.memory().numTensors;
      const ref = tf.variableGrads(() => bce(y, model.apply(x, { training: true }) as tf.Tensor), vars);
      const split = splitStep(net, x, y, bce);
      assert.ok(Math.abs(split.loss - ref.value.dataSync()[0]) < 1e-5 * (1 + Math.abs(split.loss)), `${name} ${mode}: loss`);
      let worst = 0;
      let worstName = '';
      for (const v of vars) {
        const g = split.grads[v.name];
        assert.ok(g, `${name} ${mode}: gradient for ${v.name}`);
        const e = relErr(g.dataSync(), ref.grads[v.name].dataSync());
        if (e > worst) {
          worst = e;
          worstName = v.name;
        }
      }
      assert.ok(worst < 1e-4, `${name} ${mode}: worst gradient mismatch ${worst} at ${worstName}`);
      // What crosses client <-> server is exactly what the message log says.
      for (const m of split.messages) assert.is(m.bytes, m.shape.reduce((p, q) => p * q, 1) * 4);
      if (mode === 'u-shaped') assert.not.ok(split.messages.some((m) => m.kind === 'labels'), 'labels stay on the client');
      tf.dispose([ref.value, ...Object.values(ref.grads), ...Object.values(split.grads)]);
      assert.is(tf.memory().numTensors, before, `${name} ${mode}: no tensor leak`);
      tf.dispose([x, y]);
      model.dispose();
    });
  }

  t.run();
}
