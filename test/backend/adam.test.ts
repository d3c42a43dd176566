/**
 * createAdam / FusedAdamOptimizer: the same trajectory as tfjs' own Adam
 * (wasm and cpu), a hand-computed first step, state interchange with
 * tf.train.adam, and no leaks.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { adamSimdAvailable, createAdam, disposeAdamSnapshot, FusedAdamOptimizer, restoreAdam, snapshotAdam, type NamedGradient } from '../../src/backend/adam';
import { nativeAddonInfo, setNativeAddonEnabled, setNativeThreads } from '../../src/backend/addon';
import { createRng, randomValues, relErr } from './helpers';

// [301, 221]: 66521 elements, several of the native addon's blocks (split over its threads) and a tail.
const SHAPES = [[3, 3, 4, 5], [5], [1], [7, 2], [301, 221]];

/** Run `steps` Adam steps on fresh variables with seeded gradients; returns weights and moments. */
function trajectory(opt: tf.Optimizer, steps: number, seed: number, lr = 0.01): Float32Array[] {
  const rng = createRng(seed);
  const vars = SHAPES.map((s, i) => tf.variable(tf.tensor(randomValues(rng, s.reduce((a, b) => a * b, 1)), s), true, `adamtest_${seed}_${i}_${Math.floor(lr * 1e6)}_${opt.constructor.name}`));
  for (let t = 0; t < steps; t++) {
    const grads: NamedGradient[] = vars.map((v) => ({ name: v.name, tensor: tf.tensor(randomValues(rng, v.size), v.shape) }));
    // Some entries exactly zero and some large, to exercise eps and scaling.
    opt.applyGradients(grads);
    tf.dispose(grads.map((g) => g.tensor));
  }
  const out = vars.map((v) => Float32Array.from(v.dataSync() as Float32Array));
  tf.dispose(vars);
  return out;
}

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test('fused Adam on wasm reproduces tf.train.adam on wasm bit for bit over 6 steps', async () => {
  await tf.setBackend('wasm');
  // Node 20 has wasm SIMD: the bulk goes through the runtime-assembled kernel, tails through JS.
  assert.ok(adamSimdAvailable());
  for (const [lr, seed] of [[0.01, 1], [1e-3, 2], [0.5, 3]]) {
    const a = createAdam(lr);
    const b = tf.train.adam(lr);
    const fa = trajectory(a, 6, seed, lr);
    const fb = trajectory(b, 6, seed, lr);
    for (let i = 0; i < fa.length; i++) assert.equal(Array.from(fa[i]), Array.from(fb[i]), `var ${i} lr ${lr}`);
    a.dispose();
    b.dispose();
  }
});

test('native addon Adam (1 and 2 threads) = the WebAssembly SIMD kernel, bit for bit', async () => {
  await tf.setBackend('wasm');
  if (!nativeAddonInfo().loaded) {
    console.log('  (native addon not built: skipped)');
    return;
  }
  const run = (addon: boolean, threads: number) => {
    const prevOn = setNativeAddonEnabled(addon);
    const prevT = setNativeThreads(threads);
    try {
      const opt = createAdam(0.01);
      const out = trajectory(opt, 4, 7);
      opt.dispose();
      return out;
    } finally {
      setNativeAddonEnabled(prevOn);
      setNativeThreads(prevT);
    }
  };
  const wasm = run(false, 1);
  for (const threads of [1, 2]) {
    const native = run(true, threads);
    for (let i = 0; i < wasm.length; i++) assert.equal(Array.from(native[i]), Array.from(wasm[i]), `var ${i}, ${threads} thread(s)`);
  }
});

test('on wasm the fused update runs no per-variable kernels (only the two accBeta products)', async () => {
  await tf.setBackend('wasm');
  const rng = createRng(9);
  const vars = SHAPES.map((s, i) => tf.variable(tf.tensor(randomValues(rng, s.reduce((a, b) => a * b, 1)), s), true, `adam_prof_${i}`));
  const grads = vars.map((v) => ({ name: v.name, tensor: tf.tensor(randomValues(rng, v.size), v.shape) }));
  const fused = createAdam(0.01);
  const plain = tf.train.adam(0.01);
  fused.applyGradients(grads); // creates the moments
  plain.applyGradients(grads);
  // tf.profile returns one shared object: read each count before the next profile.
  const fusedKernels = (await tf.profile(() => fused.applyGradients(grads))).kernels.map((k) => k.name);
  const plainCount = (await tf.profile(() => plain.applyGradients(grads))).kernels.length;
  assert.equal(fusedKernels, ['Multiply', 'Multiply']);
  assert.ok(plainCount >= 10 * vars.length, `tfjs Adam ran ${plainCount} kernels`);
  fused.dispose();
  plain.dispose();
  tf.dispose([...vars, ...grads.map((g) => g.tensor)]);
});

test('fused Adam on wasm matches tfjs Adam on the cpu backend (custom betas / epsilon)', async () => {
  await tf.setBackend('wasm');
  const a = createAdam(0.02, 0.8, 0.95, 1e-4);
  const fa = trajectory(a, 5, 7, 0.02);
  a.dispose();
  await tf.setBackend('cpu');
  const b = tf.train.adam(0.02, 0.8, 0.95, 1e-4);
  const fb = trajectory(b, 5, 7, 0.02);
  b.dispose();
  await tf.setBackend('wasm');
  for (let i = 0; i < fa.length; i++) assert.ok(relErr(fa[i], fb[i]) < 1e-6, `var ${i}: ${relErr(fa[i], fb[i])}`);
});

test('first step by hand: w - lr * sign-like step, eps outside the sqrt', async () => {
  await tf.setBackend('wasm');
  // t = 1: m = (1-b1) g, v = (1-b2) g^2, mHat = g, vHat = g^2 -> w' = w - lr g / (|g| + eps).
  const w = tf.variable(tf.tensor1d([1, -2, 0.5, 3]), true, 'adam_hand_w');
  const opt = createAdam(0.1, 0.9, 0.999, 0.5);
  const g = tf.tensor1d([2, -0.5, 0, 1]);
  opt.applyGradients([{ name: w.name, tensor: g }]);
  const got = Array.from(w.dataSync());
  // eps = 0.5 makes its placement visible: 1 - 0.1*2/2.5, -2 + 0.1*0.5/1, 0.5 - 0, 3 - 0.1*1/1.5.
  const want = [1 - 0.08, -2 + 0.05, 0.5, 3 - 0.1 / 1.5];
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-6, `w[${i}] = ${got[i]}, want ${want[i]}`);
  tf.dispose([w, g]);
  opt.dispose();
});

test('state is interchangeable with tf.train.adam (getWeights / setWeights mid-training)', async () => {
  await tf.setBackend('wasm');
  const rng = createRng(5);
  const init = randomValues(rng, 12);
  const grads = Array.from({ length: 6 }, () => randomValues(rng, 12));
  const run = async (switchAt: number): Promise<number[]> => {
    const v = tf.variable(tf.tensor2d(init, [3, 4]), true, `adam_switch_${switchAt}`);
    let opt: tf.Optimizer = createAdam(0.05);
    for (let t = 0; t < grads.length; t++) {
      if (t === switchAt) {
        const state = await opt.getWeights();
        const next = tf.train.adam(0.05);
        await next.setWeights(state);
        opt = next;
      }
      const g = tf.tensor2d(grads[t], [3, 4]);
      opt.applyGradients({ [v.name]: g });
      g.dispose();
    }
    const out = Array.from(v.dataSync());
    v.dispose();
    return out;
  };
  const straight = await run(-1);
  const switched = await run(3);
  assert.equal(switched, straight);
});

test('fused Adam trains a layers model through minimize, and leaks nothing', async () => {
  await tf.setBackend('wasm');
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, padding: 'same', kernelInitializer: tf.initializers.glorotUniform({ seed: 11 }) }),
      tf.layers.conv2d({ filters: 1, kernelSize: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 12 }) }),
    ],
  });
  const x = tf.randomNormal([2, 6, 6, 2], 0, 1, 'float32', 3);
  const y = tf.randomNormal([2, 6, 6, 1], 0, 1, 'float32', 4);
  const opt = createAdam(0.05);
  assert.ok(opt instanceof FusedAdamOptimizer && opt instanceof tf.AdamOptimizer);
  const loss = () => tf.losses.meanSquaredError(y, model.apply(x) as tf.Tensor) as tf.Scalar;
  const first = tf.tidy(() => loss().dataSync()[0]);
  opt.minimize(loss);
  const before = tf.memory();
  for (let i = 0; i < 20; i++) opt.minimize(loss);
  const after = tf.memory();
  assert.is(after.numTensors, before.numTensors);
  assert.is(after.numDataBuffers, before.numDataBuffers);
  const last = tf.tidy(() => loss().dataSync()[0]);
  assert.ok(last < first * 0.7, `loss ${first} -> ${last}`);
  assert.is(opt.iterations, 21);
  opt.dispose();
  model.dispose();
  tf.dispose([x, y]);
});

test('snapshot / restore: undoing steps gives bit-identical state (moments, iterations, bias accumulators); no leak', async () => {
  await initBackend('wasm', { log: () => {} });
  const rng = createRng(7);
  const w0 = randomValues(rng, 257);
  const grads = [0, 1, 2, 3, 4].map(() => randomValues(rng, 257));
  const run = async (detour: boolean): Promise<Float32Array> => {
    const v = tf.variable(tf.tensor1d(w0), true, `snap-${detour}`);
    let opt = createAdam(0.01);
    const step = (g: Float32Array) => tf.tidy(() => opt.applyGradients([{ name: v.name, tensor: tf.tensor1d(g) }]));
    step(grads[0]);
    step(grads[1]);
    if (detour) {
      const tensors = tf.memory().numTensors;
      const snap = await snapshotAdam(opt);
      const saved = v.clone();
      step(grads[4]); // a step that is undone
      const restored = await restoreAdam(snap, opt);
      opt.dispose();
      opt = restored;
      v.assign(saved);
      saved.dispose();
      disposeAdamSnapshot(snap);
      assert.is(tf.memory().numTensors, tensors, 'snapshot and restore leak nothing');
    }
    step(grads[2]);
    step(grads[3]);
    const out = v.dataSync().slice() as Float32Array;
    opt.dispose();
    v.dispose();
    return out;
  };
  assert.equal(Array.from(await run(true)), Array.from(await run(false)));
});

test.run();
