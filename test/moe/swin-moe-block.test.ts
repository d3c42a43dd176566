import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { SwinBlock } from '../../src/models/blocks/swin';
import { SwinMoEBlock, buildM4oESwin, modalityOneHot, setRouting, type MoEGate } from '../../src/moe';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

const maxDiff = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

const C = 16;
const X_SHAPE = [2, 8, 8, C];

/** Build a SwinMoEBlock on a symbolic [x, route] and return it. */
function moeBlock(numExperts: number, opts: { shift?: number; gate?: MoEGate; topK?: number; seed?: number; routing?: 'soft' | 'hard' } = {}): SwinMoEBlock {
  const block = new SwinMoEBlock({
    numHeads: 2,
    windowSize: 4,
    shiftSize: opts.shift ?? 0,
    numExperts,
    gate: opts.gate,
    topK: opts.topK,
    routing: opts.routing,
    initSeed: opts.seed ?? 3,
  });
  block.apply([tf.input({ shape: [8, 8, C] }), tf.input({ shape: [numExperts] })]);
  return block;
}

/** name (without layer prefix / uniquifying suffix) -> LayerVariable */
function byName(layer: tf.layers.Layer): Map<string, tf.LayerVariable> {
  return new Map(layer.weights.map((w) => [w.name.split('/').pop()!.replace(/_\d+$/, ''), w]));
}

const run = (block: SwinMoEBlock, x: tf.Tensor, route: tf.Tensor): tf.Tensor[] => block.apply([x, route]) as tf.Tensor[];

for (const shift of [0, 2]) {
  test(`one expert (paper gate) equals the plain SwinBlock exactly when it copies its MLP weights (shift ${shift})`, () => {
    const before = tf.memory().numTensors;
    const plain = new SwinBlock({ numHeads: 2, windowSize: 4, shiftSize: shift, qkvInitializer: tf.initializers.truncatedNormal({ stddev: 0.2, seed: 1 }) });
    plain.apply(tf.input({ shape: [8, 8, C] }));
    // random non-trivial values for every plain weight (norms, biases too)
    tf.tidy(() => plain.weights.forEach((w, i) => w.write(tf.randomNormal(w.shape as number[], 0, 0.3, 'float32', 100 + i))));
    const moe = moeBlock(1, { shift });
    const src = byName(plain);
    const dst = byName(moe);
    for (const [name, w] of dst) {
      const from = src.get(name.replace(/^expert0_/, ''));
      if (name.startsWith('gate_')) continue;
      assert.ok(from, `no plain weight for ${name}`);
      w.write(from!.read());
    }
    tf.tidy(() => {
      const x = tf.randomNormal(X_SHAPE, 0, 1, 'float32', 5);
      const route = modalityOneHot([0, 0], 1);
      const want = plain.apply(x) as tf.Tensor;
      const [got, stats] = run(moe, x, route);
      assert.is(maxDiff(got, want), 0, 'soft output');
      assert.equal(Array.from(stats.dataSync()), [1, 1, 1, 1, 1, 1]);
      moe.routing = 'hard';
      assert.is(maxDiff(run(moe, x, route)[0], want), 0, 'hard output');
    });
    plain.dispose();
    moe.dispose();
    assert.is(tf.memory().numTensors, before, 'leak');
  });
}

test('soft paper gate: per-sample mixing weights sum to 1, top-k stats keep k experts per token', () => {
  const dense = moeBlock(3);
  const sparse = moeBlock(3, { topK: 1 });
  // make the gate decisive so top-1 differs from dense
  tf.tidy(() => {
    byName(sparse).get('gate_kernel')!.write(tf.randomNormal([C, 3], 0, 2, 'float32', 9));
  });
  tf.tidy(() => {
    const x = tf.randomNormal(X_SHAPE, 0, 1, 'float32', 6);
    const route = modalityOneHot([0, 2], 3);
    const [, s] = run(dense, x, route);
    const sums = tf.sum(tf.slice(s, [0, 0], [-1, 3]), 1).dataSync();
    for (const v of sums) assert.ok(Math.abs(v - 1) < 1e-5, `sum ${v}`);
    const [, st] = run(sparse, x, route);
    // top-1: the mixing-weight row equals the top-1 assignment fractions
    const v = st.dataSync();
    for (let n = 0; n < 2; n++) for (let e = 0; e < 3; e++) assert.ok(Math.abs(v[n * 9 + e] - v[n * 9 + 6 + e]) < 1e-5, `n${n} e${e}`);
  });
  dense.dispose();
  sparse.dispose();
});

test("code gate = softmax over CHANNELS times the SUM of the experts (released MoEFFN_Gating)", () => {
  const code = moeBlock(2, { gate: 'code' });
  const cw = byName(code);
  assert.equal(cw.get('gate_kernel')!.shape, [C, C]);
  // same attention / experts in a second block whose experts output 0 -> gives y = x + attn
  const zeroExperts = moeBlock(2, { gate: 'paper' });
  const paper = moeBlock(2, { gate: 'paper' });
  for (const target of [zeroExperts, paper]) {
    for (const [name, w] of byName(target)) if (!name.startsWith('gate_')) w.write(cw.get(name)!.read());
  }
  const b = tf.tidy(() => tf.randomNormal([C], 0, 1, 'float32', 11));
  tf.tidy(() => {
    for (const [name, w] of byName(zeroExperts)) if (/expert\d_fc2/.test(name)) w.write(tf.zerosLike(w.read()));
    // paper gate zeroed -> weights 1/2 each -> paper - y = (e0 + e1) / 2
    byName(paper).get('gate_kernel')!.write(tf.zeros([C, 2]));
    // code gate: kernel 0, bias b -> g = softmax(b) on every token
    cw.get('gate_kernel')!.write(tf.zeros([C, C]));
    cw.get('gate_bias')!.write(b);
  });
  tf.tidy(() => {
    const x = tf.randomNormal(X_SHAPE, 0, 1, 'float32', 8);
    const route = modalityOneHot([1, 0], 2);
    const [y] = run(zeroExperts, x, route);
    const [p] = run(paper, x, route);
    const [c, stats] = run(code, x, route);
    const sumExperts = tf.mul(tf.sub(p, y), 2);
    const want = tf.add(y, tf.mul(tf.softmax(b), sumExperts));
    assert.ok(maxDiff(c, want) < 1e-5, `code gate ${maxDiff(c, want)}`);
    assert.ok(maxDiff(sumExperts, tf.zerosLike(sumExperts)) > 1e-3, 'experts are not trivially zero');
    assert.equal(Array.from(stats.dataSync()), new Array(12).fill(0.5), 'uniform utilization');
  });
  assert.throws(() => new SwinMoEBlock({ numHeads: 1, windowSize: 4, numExperts: 2, gate: 'code', topK: 1 }), /needs gate 'paper'/);
  tf.dispose(b);
  [code, zeroExperts, paper].forEach((l) => l.dispose());
});

function gradsOf(block: SwinMoEBlock, x: tf.Tensor, route: tf.Tensor): Map<string, Float32Array | null> {
  const named = byName(block);
  const vars = [...named.values()].map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => {
    const [out] = run(block, x, route);
    return tf.sum(tf.mul(out, tf.randomNormal(out.shape, 0, 1, 'float32', 4))) as tf.Scalar;
  }, vars);
  const out = new Map<string, Float32Array | null>();
  for (const [name, w] of named) {
    const g = grads[(w.read() as tf.Variable).name];
    out.set(name, g ? (g.dataSync() as Float32Array) : null);
  }
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

const isZero = (g: Float32Array | null): boolean => g === null || g.every((v) => v === 0);
const finiteNonZero = (g: Float32Array | null): boolean => g !== null && g.every(Number.isFinite) && g.some((v) => v !== 0);

test('hard routing: each sample goes through its modality expert only; other experts and the gate get zero gradient', () => {
  const before = tf.memory().numTensors;
  const block = moeBlock(3, { routing: 'hard' });
  const single = moeBlock(1);
  const src = byName(block);
  tf.tidy(() => {
    const x = tf.randomNormal(X_SHAPE, 0, 1, 'float32', 12);
    for (const e of [0, 2]) {
      // single-expert reference with expert e's weights (and the shared attention)
      for (const [name, w] of byName(single)) {
        if (name.startsWith('gate_')) continue;
        w.write(src.get(name.replace(/^expert0_/, `expert${e}_`))!.read());
      }
      const [got, stats] = run(block, x, modalityOneHot([e, e], 3));
      const [want] = run(single, x, modalityOneHot([0, 0], 1));
      assert.ok(maxDiff(got, want) < 1e-6, `expert ${e}: ${maxDiff(got, want)}`);
      assert.equal(Array.from(stats.dataSync()).slice(0, 3), [0, 1, 2].map((k) => (k === e ? 1 : 0)));
    }
    const g = gradsOf(block, x, modalityOneHot([1, 1], 3));
    for (const [name, v] of g) {
      if (name.startsWith('gate_') || name.startsWith('expert0_') || name.startsWith('expert2_')) assert.ok(isZero(v), `${name} should get no gradient`);
      else if (name.startsWith('expert1_') || name === 'qkv_kernel') assert.ok(finiteNonZero(v), `${name} should get a gradient`);
    }
  });
  block.dispose();
  single.dispose();
  assert.is(tf.memory().numTensors, before, 'leak');
});

test('soft routing (phase 2): gradients reach the gate and every expert, finite and non-zero', () => {
  for (const gate of ['paper', 'code'] as const) {
    const block = moeBlock(3, { gate });
    tf.tidy(() => {
      const x = tf.randomNormal(X_SHAPE, 0, 1, 'float32', 13);
      const g = gradsOf(block, x, modalityOneHot([0, 1], 3));
      for (const name of ['gate_kernel', 'expert0_fc1_kernel', 'expert1_fc2_kernel', 'expert2_fc1_kernel', 'qkv_kernel']) {
        assert.ok(finiteNonZero(g.get(name)!), `${gate}: ${name}`);
      }
    });
    block.dispose();
  }
});

test('getConfig round trip and model save / load give identical outputs (routing kept)', async () => {
  const before = tf.memory().numTensors;
  const block = moeBlock(2, { gate: 'paper', topK: 1, routing: 'hard', shift: 2 });
  const cfg = block.getConfig();
  assert.is(cfg.gate, 'paper');
  assert.is(cfg.topK, 1);
  assert.is(cfg.routing, 'hard');
  const cls = tf.serialization.SerializationMap.getMap().classNameMap.MedflSwinMoEBlock;
  assert.ok(cls, 'registered');
  const copy = cls[1](cls[0], cfg) as SwinMoEBlock;
  assert.ok(copy instanceof SwinMoEBlock);
  assert.equal(copy.getConfig(), cfg);
  assert.is(copy.shiftSize, 2);
  block.dispose();

  const model = buildM4oESwin({
    inputShape: [32, 32, 3],
    modalities: [{ name: 'A', numClasses: 1 }, { name: 'B', numClasses: 3 }],
    width: 8,
    depths: [2, 1, 1, 1],
    seed: 2,
  });
  setRouting(model, 'hard');
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
  assert.ok(loaded.layers.some((l) => l instanceof SwinMoEBlock && l.routing === 'hard'));
  tf.tidy(() => {
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 3);
    const r = modalityOneHot([0, 1], 2);
    const a = model.predict([x, r]) as tf.Tensor[];
    const b = loaded.predict([x, r]) as tf.Tensor[];
    assert.is(a.length, 3);
    a.forEach((t, i) => assert.is(maxDiff(t, b[i]), 0, `output ${i}`));
  });
  model.dispose();
  loaded.dispose();
  assert.is(tf.memory().numTensors, before, 'leak');
});

test('errors: wrong route width, bad options', () => {
  const block = new SwinMoEBlock({ numHeads: 1, windowSize: 4, numExperts: 2 });
  assert.throws(() => block.apply([tf.input({ shape: [8, 8, 8] }), tf.input({ shape: [3] })]), /route must be \[N, 2\]/);
  assert.throws(() => new SwinMoEBlock({ numHeads: 1, windowSize: 4, numExperts: 0 }), /numExperts/);
  assert.throws(() => new SwinMoEBlock({ numHeads: 1, windowSize: 4, numExperts: 2, topK: 3 }), /topK must be an integer in \[1, 2\]/);
});

test.run();
