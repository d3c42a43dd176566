import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/backend/index';
import { syntheticSites } from '../../../src/data/synthetic';
import { InMemoryDataset } from '../../../src/data/types';
import { createModel } from '../../../src/models/registry';
import { trainProbe } from '../../../src/fl/privacy/probe';
import { extractAttackFeatures, resolveTapLayer, siteInferenceAttack } from '../../../src/fl/privacy/site-inference';

const spatial = (shape: (number | null)[]) => shape.slice(1, -1).reduce<number>((a, b) => a * (b as number), 1);

test('probe: logistic regression separates linearly separable classes; MLP learns XOR; seeded', async () => {
  await initBackend('wasm', { log: () => {} });
  const before = tf.memory().numTensors;
  // 3 classes at (0,0), (4,0), (0,4) with small offsets
  const pts: number[] = [];
  const y: number[] = [];
  const centres = [[0, 0], [4, 0], [0, 4]];
  for (let k = 0; k < 3; k++) for (let i = 0; i < 6; i++) {
    pts.push(centres[k][0] + ((i % 3) - 1) * 0.3, centres[k][1] + (Math.floor(i / 3) - 0.5) * 0.3);
    y.push(k);
  }
  const lr = trainProbe(Float32Array.from(pts), 18, y, 3, { epochs: 150 });
  assert.equal(Array.from(lr.predict(Float32Array.from(pts), 18)), y);
  const p = lr.predictProba(Float32Array.of(4, 0), 1);
  assert.ok(Math.abs(p[0] + p[1] + p[2] - 1) < 1e-5 && p[1] > 0.8, `probabilities ${Array.from(p)}`);
  // XOR: not linearly separable -> logistic regression cannot, an MLP can
  const xor = Float32Array.of(0, 0, 0, 1, 1, 0, 1, 1);
  const yx = [0, 1, 1, 0];
  const lin = trainProbe(xor, 4, yx, 2, { epochs: 200 });
  const linAcc = Array.from(lin.predict(xor, 4)).filter((v, i) => v === yx[i]).length;
  assert.ok(linAcc < 4, 'a linear model cannot fit XOR');
  const mlp = trainProbe(xor, 4, yx, 2, { hidden: 16, epochs: 300, l2: 0, seed: 1 });
  assert.equal(Array.from(mlp.predict(xor, 4)), yx);
  const mlp2 = trainProbe(xor, 4, yx, 2, { hidden: 16, epochs: 300, l2: 0, seed: 1 });
  assert.equal(mlp.weights.map((w) => Array.from(w)), mlp2.weights.map((w) => Array.from(w)));
  assert.is(tf.memory().numTensors, before, 'no tensor leak');
  assert.throws(() => trainProbe(xor, 4, [0, 1, 2, 0], 2), /labels\[2\]/);
});

test('resolveTapLayer: bottleneck = deepest smallest-resolution layer; split; output; unknown names', async () => {
  await initBackend('wasm', { log: () => {} });
  for (const name of ['unet', 'segnet', 'cgnet']) {
    const model = createModel(name, { inputShape: [32, 32, 3], numClasses: 1, width: 4, seed: 0 });
    try {
      const b = resolveTapLayer(model);
      const shape = model.getLayer(b).outputShape as (number | null)[];
      const min = Math.min(...model.layers.map((l) => l.outputShape as (number | null)[]).filter((s) => Array.isArray(s) && s.length === 4 && !Array.isArray(s[0])).map(spatial));
      assert.is(spatial(shape), min, `${name}: ${b} has the smallest resolution`);
      assert.ok(spatial(shape) < 32 * 32, `${name}: bottleneck is downsampled`);
      assert.is(resolveTapLayer(model, 'output'), 'output');
    } finally {
      model.dispose();
    }
  }
  const unet = createModel('unet', { inputShape: [32, 32, 3], numClasses: 1, width: 4, seed: 0 });
  try {
    assert.is(resolveTapLayer(unet, 'split'), 'enc1_2_relu');
    assert.is(resolveTapLayer(unet, 'enc1_2_relu'), 'enc1_2_relu');
    assert.throws(() => resolveTapLayer(unet, 'nope'), /no layer 'nope'.*bottleneck/);
  } finally {
    unet.dispose();
  }
});

test('extractAttackFeatures: dimensions and hand-checked output statistics', async () => {
  await initBackend('wasm', { log: () => {} });
  const data = syntheticSites({ sites: 2, samplesPerSite: 3, size: 32, seed: 1 });
  const model = createModel('unet', { inputShape: [32, 32, 3], numClasses: 1, width: 4, seed: 0 });
  try {
    const before = tf.memory().numTensors;
    const split = await extractAttackFeatures(model, data, { layer: 'split', batchSize: 4 });
    const C = (model.getLayer('enc1_2_relu').outputShape as number[])[3];
    assert.equal(split.tapShape, [32, 32, C]);
    assert.is(split.dim, 2 * C + 4);
    assert.is(split.n, 6);
    const avgOnly = await extractAttackFeatures(model, data, { layer: 'split', pooling: 'avg', outputStats: false });
    assert.is(avgOnly.dim, C);
    const out = await extractAttackFeatures(model, data, { layer: 'output', indices: [4] });
    assert.is(out.dim, 4);
    // output statistics of image 4 by hand: mean, std, max, fraction > 0.5
    const p = tf.tidy(() => (model.predict(tf.tensor4d(data.get(4).image, [1, 32, 32, 3])) as tf.Tensor).dataSync() as Float32Array);
    const m = p.reduce((a, b) => a + b, 0) / p.length;
    const sd = Math.sqrt(p.reduce((a, b) => a + (b - m) ** 2, 0) / p.length);
    const expected = [m, sd, Math.max(...p), p.filter((v) => v > 0.5).length / p.length];
    expected.forEach((v, i) => assert.ok(Math.abs(out.values[i] - v) < 1e-5, `stat ${i}: ${out.values[i]} vs ${v}`));
    // avg pooling of the split features by hand (image 0, channel 0)
    const act = tf.tidy(() => {
      const sub = tf.model({ inputs: model.inputs, outputs: model.getLayer('enc1_2_relu').output as tf.SymbolicTensor });
      return (sub.predict(tf.tensor4d(data.get(0).image, [1, 32, 32, 3])) as tf.Tensor).dataSync();
    });
    let s = 0;
    let mx = -Infinity;
    for (let i = 0; i < act.length; i += C) {
      s += act[i];
      mx = Math.max(mx, act[i]);
    }
    assert.ok(Math.abs(split.values[0] - s / (32 * 32)) < 1e-5, 'avg pool');
    assert.ok(Math.abs(split.values[C] - mx) < 1e-5, 'max pool');
    assert.is(tf.memory().numTensors, before, 'no tensor leak');
  } finally {
    model.dispose();
  }
});

test('site inference beats chance clearly under strong heterogeneity, ~chance when sites look alike', async () => {
  await initBackend('wasm', { log: () => {} });
  // randomly initialised U-Net: random conv features already separate scanner effects
  const model = createModel('unet', { inputShape: [32, 32, 3], numClasses: 1, width: 4, seed: 1 });
  try {
    const before = tf.memory().numTensors;
    const het = syntheticSites({ sites: 4, samplesPerSite: 24, size: 32, heterogeneity: 1, seed: 3, imagesPerPatient: 2 });
    const r1 = await siteInferenceAttack(model, het, { seed: 0 });
    const same = syntheticSites({ sites: 4, samplesPerSite: 24, size: 32, heterogeneity: 0, classMix: 'uniform', seed: 3, imagesPerPatient: 2 });
    const r0 = await siteInferenceAttack(model, same, { seed: 0 });
    assert.is(tf.memory().numTensors, before, 'no tensor leak');
    console.log(`    [measured] heterogeneity 1: acc ${r1.accuracy.toFixed(3)} (bal ${r1.balancedAccuracy.toFixed(3)}); heterogeneity 0: acc ${r0.accuracy.toFixed(3)} (bal ${r0.balancedAccuracy.toFixed(3)}); chance ${r1.chance.uniform}`);
    for (const r of [r0, r1]) {
      assert.equal(r.sites, ['site-0', 'site-1', 'site-2', 'site-3']);
      assert.is(r.numTrain + r.numTest, 96);
      assert.ok(Math.abs(r.numTrain / 96 - 0.3) <= 0.05, `attacker fraction ${r.numTrain / 96}`);
      assert.is(r.confusion.flat().reduce((a, b) => a + b, 0), r.numTest);
      assert.is(r.chance.uniform, 0.25);
      r.sites.forEach((s, k) => {
        const row = r.confusion[k];
        assert.ok(Math.abs(r.perSiteRecall[s] - row[k] / row.reduce((a, b) => a + b, 0)) < 1e-12);
      });
    }
    assert.ok(r1.accuracy > 0.6, `heterogeneity 1: accuracy ${r1.accuracy} should beat chance 0.25 clearly`);
    assert.ok(r1.balancedAccuracy > 0.6);
    // 67 held-out images, chance 0.25: sd of the accuracy under no signal ~ 0.053
    assert.ok(r0.accuracy < 0.4, `heterogeneity 0: accuracy ${r0.accuracy} should be near chance 0.25`);
    assert.ok(r1.accuracy - r0.accuracy > 0.3);
    // deterministic
    const again = await siteInferenceAttack(model, het, { seed: 0 });
    assert.equal(again.confusion, r1.confusion);
    // the split-learning client output leaks too; so does the output alone (weaker)
    const rs = await siteInferenceAttack(model, het, { layer: 'split', classifier: 'mlp', hidden: 8, seed: 0 });
    assert.ok(rs.accuracy > 0.6, `split-layer accuracy ${rs.accuracy}`);
    console.log(`    [measured] heterogeneity 1, split layer + MLP: acc ${rs.accuracy.toFixed(3)}`);
  } finally {
    model.dispose();
  }
});

test('siteInferenceAttack: input errors', async () => {
  await initBackend('wasm', { log: () => {} });
  const model = createModel('unet', { inputShape: [32, 32, 3], numClasses: 1, width: 2, seed: 1 });
  try {
    const one = syntheticSites({ sites: 1, samplesPerSite: 6, size: 32, seed: 1 });
    const two = syntheticSites({ sites: 2, samplesPerSite: 6, size: 32, seed: 1 });
    const msg = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    };
    assert.match(await msg(siteInferenceAttack(model, one)), /1 site\(s\)/);
    assert.match(await msg(siteInferenceAttack(model, two, { attackerFraction: 1 })), /attackerFraction/);
    assert.match(await msg(siteInferenceAttack(model, two, { siteKey: 'hospital' })), /meta\.hospital/);
    assert.match(await msg(siteInferenceAttack(model, two, { layer: 'zzz' })), /no layer 'zzz'/);
  } finally {
    model.dispose();
  }
});

test('siteInferenceAttack: one patient per site (CT volumes) falls back to per-sample grouping, with a note', async () => {
  await initBackend('wasm', { log: () => {} });
  const model = createModel('unet', { inputShape: [32, 32, 3], numClasses: 1, width: 2, seed: 1 });
  try {
    const before = tf.memory().numTensors;
    const base = syntheticSites({ sites: 2, samplesPerSite: 8, size: 32, heterogeneity: 1, seed: 2 });
    const relabel = (patient: (site: string) => string) =>
      new InMemoryDataset('volumes', base.samples.map((s) => ({ ...s, meta: { ...s.meta, patientId: patient(String(s.meta.site)) } })), base.task, base.classNames, base.maskClasses);
    const opts = { probe: { epochs: 50 }, seed: 0 };
    // (a) each site is one patient: a patient split puts a whole site on one side
    const perSite = await siteInferenceAttack(model, relabel((site) => `patient-of-${site}`), opts);
    // (b) every slice of both sites shares one patient: a patient split is impossible
    const single = await siteInferenceAttack(model, relabel(() => 'ct'), opts);
    for (const [r, why] of [[perSite, /left site\(s\) 'site-[01]'/], [single, /impossible/]] as const) {
      assert.is(r.grouping, 'sample');
      assert.match(r.groupingNote ?? '', why);
      assert.match(r.groupingNote ?? '', /per sample/);
      assert.is(r.numTrain + r.numTest, 16);
      for (const site of ['site-0', 'site-1']) {
        const c = r.siteCounts[site];
        assert.ok(c.train > 0 && c.test > 0, `${site}: ${c.train} train / ${c.test} test`);
        assert.is(c.train + c.test, 8);
      }
      assert.equal(r.confusion.map((row) => row.reduce((a, b) => a + b, 0)), [r.siteCounts['site-0'].test, r.siteCounts['site-1'].test]);
    }
    // the fallback split is the per-sample split: same as asking for one group per sample explicitly
    const explicit = await siteInferenceAttack(model, relabel(() => 'ct'), { ...opts, groupKey: (_info, i) => `#${i}` });
    assert.is(explicit.grouping, 'function');
    assert.is(explicit.groupingNote, undefined);
    assert.equal(explicit.siteCounts, single.siteCounts);
    assert.equal(explicit.confusion, single.confusion);
    // an explicit patient key is used as given (no fallback): a whole site lands on one side
    const strict = await siteInferenceAttack(model, relabel((site) => `patient-of-${site}`), { ...opts, groupKey: 'patientId' });
    assert.is(strict.grouping, 'patientId');
    assert.ok(Object.values(strict.siteCounts).some((c) => c.train === 0 || c.test === 0), 'explicit patient grouping keeps sites whole');
    // many patients per site: the default keeps patient grouping, no note
    const ok = await siteInferenceAttack(model, syntheticSites({ sites: 2, samplesPerSite: 8, size: 32, seed: 2, imagesPerPatient: 2 }), opts);
    assert.is(ok.grouping, 'patientId');
    assert.is(ok.groupingNote, undefined);
    assert.is(tf.memory().numTensors, before, 'no tensor leak');
  } finally {
    model.dispose();
  }
});

test.run();
