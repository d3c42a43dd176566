import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import {
  MoEConvMix,
  buildM4oESwin,
  buildMoeUnet,
  expertWeights,
  isGateWeight,
  modalityOneHot,
  moeLayers,
  setRouting,
} from '../../src/moe';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

const maxDiff = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
const MODS = [
  { name: 'polyp', numClasses: 1 },
  { name: 'lesion', numClasses: 3 },
];

test('per-modality heads have their own class counts and activations; stats [N, L, 3E]', () => {
  const before = tf.memory().numTensors;
  const unet = buildMoeUnet({ inputShape: [16, 16, 3], modalities: MODS, width: 2, seed: 1 });
  const swin = buildM4oESwin({ inputShape: [32, 32, 3], modalities: MODS, width: 8, depths: [1, 1, 1, 1], seed: 1 });
  assert.equal(unet.outputNames, ['head0_act', 'head1_act', 'moe_stats']);
  assert.equal(unet.inputNames, ['input', 'modality']);
  for (const [model, size, layers] of [[unet, 16, 9], [swin, 32, 7]] as const) {
    tf.tidy(() => {
      const x = tf.randomUniform([2, size, size, 3], 0, 1, 'float32', 1);
      const [a, b, s] = model.predict([x, modalityOneHot([0, 1], 2)]) as tf.Tensor[];
      assert.equal(a.shape, [2, size, size, 1]);
      assert.equal(b.shape, [2, size, size, 3]);
      assert.equal(s.shape, [2, layers, 6]);
      const av = a.dataSync();
      assert.ok(av.every((v) => v > 0 && v < 1), 'sigmoid head');
      const sums = tf.sum(b, -1).dataSync();
      assert.ok(sums.every((v) => Math.abs(v - 1) < 1e-5), 'softmax head');
    });
  }
  assert.is(moeLayers(unet).length, 9);
  assert.is(moeLayers(swin).length, 7);
  unet.dispose();
  swin.dispose();
  assert.is(tf.memory().numTensors, before, 'leak');
});

test('parameter count: MoE U-Net = shared U-Net + (E-1) expert double convs + gates (hand-computed)', () => {
  const E = 2;
  const w = 2;
  const moe = buildMoeUnet({ inputShape: [16, 16, 3], modalities: MODS, width: w });
  const shared = buildMoeUnet({ inputShape: [16, 16, 3], modalities: MODS, width: w, variant: 'shared' });
  assert.equal(shared.inputNames, ['input']);
  assert.equal(shared.outputNames, ['head0_act', 'head1_act']);
  // (cin, cout) of the nine double convs: enc1..4, bottleneck, dec4..1 (concat = skip + up)
  const blocks: Array<[number, number]> = [
    [3, w], [w, 2 * w], [2 * w, 4 * w], [4 * w, 8 * w], [8 * w, 16 * w],
    [16 * w, 8 * w], [8 * w, 4 * w], [4 * w, 2 * w], [2 * w, w],
  ];
  // double conv: 9 cin cout + 9 cout^2 (bias-free convs) + 2 BN x 4 cout; gate: cin E + E
  const doubleConv = blocks.reduce((a, [ci, co]) => a + 9 * ci * co + 9 * co * co + 8 * co, 0);
  const gates = blocks.reduce((a, [ci]) => a + ci * E + E, 0);
  assert.is(moe.countParams() - shared.countParams(), (E - 1) * doubleConv + gates);
  moe.dispose();
  shared.dispose();
});

test('MoEConvMix: hard routing returns the route expert per sample; paper soft = GAP-gated convex mix', () => {
  const before = tf.memory().numTensors;
  const mix = new MoEConvMix({ numExperts: 3, routing: 'hard', initSeed: 4 });
  tf.tidy(() => {
    const x = tf.randomNormal([2, 4, 4, 5], 0, 1, 'float32', 1);
    const ys = [0, 1, 2].map((e) => tf.randomNormal([2, 4, 4, 6], 0, 1, 'float32', 10 + e));
    const [out, stats] = mix.apply([x, modalityOneHot([2, 0], 3), ...ys]) as tf.Tensor[];
    assert.is(maxDiff(tf.slice(out, [0], [1]), tf.slice(ys[2], [0], [1])), 0);
    assert.is(maxDiff(tf.slice(out, [1], [1]), tf.slice(ys[0], [1], [1])), 0);
    assert.equal(Array.from(stats.dataSync()), [0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0]);
    mix.routing = 'soft';
    const [soft, st] = mix.apply([x, modalityOneHot([2, 0], 3), ...ys]) as tf.Tensor[];
    // recompute by hand: p = softmax(mean_hw(x) W + b); out = sum_e p_e y_e
    const [kernel, bias] = mix.getWeights();
    const p = tf.softmax(tf.add(tf.matMul(tf.mean(x, [1, 2]), kernel), bias));
    const want = tf.addN(ys.map((y, e) => tf.mul(y, tf.reshape(tf.slice(p, [0, e], [-1, 1]), [2, 1, 1, 1]))));
    assert.ok(maxDiff(soft, want) < 1e-5);
    assert.ok(maxDiff(tf.slice(st, [0, 0], [-1, 3]), p) < 1e-6, 'stats = gate probabilities');
  });
  mix.dispose();
  assert.is(tf.memory().numTensors, before, 'leak');
});

function modelGrads(model: tf.LayersModel, x: tf.Tensor, route: tf.Tensor): Map<tf.LayerVariable, Float32Array | null> {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => {
    const outs = model.apply([x, route], { training: true }) as tf.Tensor[];
    return tf.add(tf.mean(tf.square(outs[0])), tf.mean(tf.square(outs[1]))) as tf.Scalar;
  }, vars);
  const out = new Map<tf.LayerVariable, Float32Array | null>();
  model.trainableWeights.forEach((w, i) => {
    const g = grads[vars[i].name];
    out.set(w, g ? (g.dataSync() as Float32Array) : null);
  });
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

const isZero = (g: Float32Array | null | undefined): boolean => !g || g.every((v) => v === 0);
const finiteNonZero = (g: Float32Array | null | undefined): boolean => !!g && g.every(Number.isFinite) && g.some((v) => v !== 0);

test('model gradients: hard routing trains only the modality expert (phase 1); soft reaches gates and all experts (phase 2)', () => {
  const before = tf.memory().numTensors;
  const model = buildMoeUnet({ inputShape: [16, 16, 3], modalities: MODS, width: 2, seed: 5 });
  const x = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 2);
  const route = modalityOneHot([1, 1], 2);
  setRouting(model, 'hard');
  let g = modelGrads(model, x, route);
  const e0 = expertWeights(model, 0);
  const e1 = expertWeights(model, 1);
  assert.is(e0.length, 9 * 6, 'expert 0: 9 blocks x (2 conv kernels + 2 BN x gamma/beta)');
  for (const w of e0) assert.ok(isZero(g.get(w)), `${w.name} must get no gradient`);
  for (const w of model.trainableWeights.filter(isGateWeight)) assert.ok(isZero(g.get(w)), `${w.name} (gate) must get no gradient`);
  assert.ok(e1.filter((w) => /conv\/kernel/.test(w.name)).every((w) => finiteNonZero(g.get(w))), 'expert 1 kernels get gradients');
  setRouting(model, 'soft');
  g = modelGrads(model, x, route);
  const gates = model.trainableWeights.filter((w) => /gate_kernel/.test(w.name));
  assert.is(gates.length, 9);
  for (const w of gates) assert.ok(finiteNonZero(g.get(w)), `${w.name}`);
  for (const w of [...e0, ...e1].filter((v) => /conv\/kernel/.test(v.name))) assert.ok(finiteNonZero(g.get(w)), `${w.name}`);
  tf.dispose([x, route]);
  model.dispose();
  assert.is(tf.memory().numTensors, before, 'leak');
});

test('MoE U-Net save / load round trip gives identical outputs', async () => {
  const before = tf.memory().numTensors;
  const model = buildMoeUnet({ inputShape: [16, 16, 1], modalities: MODS, width: 2, gate: 'code', seed: 3 });
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
  const mixes = moeLayers(loaded);
  assert.is(mixes.length, 9);
  assert.ok(mixes.every((l) => l instanceof MoEConvMix && l.gate === 'code'));
  tf.tidy(() => {
    const x = tf.randomUniform([2, 16, 16, 1], 0, 1, 'float32', 3);
    const r = modalityOneHot([0, 1], 2);
    const a = model.predict([x, r]) as tf.Tensor[];
    const b = loaded.predict([x, r]) as tf.Tensor[];
    a.forEach((t, i) => assert.is(maxDiff(t, b[i]), 0, `output ${i}`));
  });
  model.dispose();
  loaded.dispose();
  assert.is(tf.memory().numTensors, before, 'leak');
});

test('errors: bad modalities / sizes', () => {
  assert.throws(() => buildMoeUnet({ inputShape: [16, 16, 3], modalities: [] }), /non-empty/);
  assert.throws(() => buildMoeUnet({ inputShape: [16, 16, 3], modalities: [{ name: 'a', numClasses: 1 }, { name: 'a', numClasses: 2 }] }), /'a' is repeated/);
  assert.throws(() => buildMoeUnet({ inputShape: [20, 16, 3], modalities: MODS }), /divisible by 16/);
  assert.throws(() => buildM4oESwin({ inputShape: [32, 32, 3], modalities: [{ name: 'a', numClasses: 0 }] }), /numClasses must be an integer >= 1/);
});

test.run();
