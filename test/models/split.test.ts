/**
 * splitModel / splitStep on a small hand-built U-shaped network (conv, BN,
 * pooling, skip concatenations crossing the cuts): the parts compose to the
 * original, split gradients equal unsplit ones, and the message log holds
 * exactly what crosses client/server (labels never go up in U-shaped mode).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { splitModel, splitStep, type SplitNetwork } from '../../src/models/split';
import { relErr } from '../backend/helpers';

function tinyUNet(seed = 1): tf.LayersModel {
  let s = seed;
  const init = () => tf.initializers.glorotUniform({ seed: s++ });
  const conv = (name: string, f: number) => tf.layers.conv2d({ name, filters: f, kernelSize: 3, padding: 'same', kernelInitializer: init() });
  const x = tf.input({ shape: [16, 16, 2], name: 'image' });
  const e1 = tf.layers.reLU({ name: 'e1_relu' }).apply(tf.layers.batchNormalization({ name: 'e1_bn' }).apply(conv('e1_conv', 4).apply(x))) as tf.SymbolicTensor;
  const p1 = tf.layers.maxPooling2d({ name: 'p1', poolSize: 2 }).apply(e1) as tf.SymbolicTensor;
  const e2 = conv('e2_conv', 6).apply(p1) as tf.SymbolicTensor;
  const p2 = tf.layers.maxPooling2d({ name: 'p2', poolSize: 2 }).apply(e2) as tf.SymbolicTensor;
  const b = conv('bottom', 8).apply(p2) as tf.SymbolicTensor;
  const u2 = tf.layers.upSampling2d({ name: 'u2', size: [2, 2] }).apply(b) as tf.SymbolicTensor;
  const d2 = conv('d2_conv', 6).apply(tf.layers.concatenate({ name: 'd2_cat' }).apply([u2, e2])) as tf.SymbolicTensor;
  const u1 = tf.layers.upSampling2d({ name: 'u1', size: [2, 2] }).apply(d2) as tf.SymbolicTensor;
  const d1 = conv('d1_conv', 4).apply(tf.layers.concatenate({ name: 'd1_cat' }).apply([u1, e1])) as tf.SymbolicTensor;
  const out = tf.layers.conv2d({ name: 'head', filters: 1, kernelSize: 1, activation: 'sigmoid', kernelInitializer: init() }).apply(d1) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: out, name: 'tiny' });
}

const bce = (yt: tf.Tensor, yp: tf.Tensor) => tf.losses.sigmoidCrossEntropy(yt, tf.log(tf.div(tf.clipByValue(yp, 1e-6, 1 - 1e-6), tf.sub(1, tf.clipByValue(yp, 1e-6, 1 - 1e-6))))) as tf.Scalar;

function compose(net: SplitNetwork, x: tf.Tensor): tf.Tensor {
  const avail = new Map<string, tf.Tensor>([['input', x]]);
  let out: tf.Tensor | null = null;
  for (const part of net.parts) {
    const res = part.model.apply(part.inputs.map((n) => avail.get(n)!), { training: true }) as tf.Tensor | tf.Tensor[];
    const list = Array.isArray(res) ? res : [res];
    list.forEach((t, i) => (part.outputs[i] === 'output' ? (out = t) : avail.set(part.outputs[i], t)));
  }
  return out!;
}

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

for (const mode of ['two-part', 'u-shaped'] as const) {
  test(`${mode}: parts compose to the model and split gradients equal unsplit`, () => {
    const model = tinyUNet();
    const cut = mode === 'two-part' ? 'e1_relu' : (['e1_relu', 'd2_conv'] as [string, string]);
    const net = splitModel(model, { mode, cut });
    assert.is(net.parts.length, mode === 'two-part' ? 2 : 3);
    const x = tf.randomUniform([3, 16, 16, 2], 0, 1, 'float32', 7);
    const y = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([3, 16, 16, 1], 0, 1, 'float32', 8), 0.5), 'float32'));
    const ref = tf.tidy(() => model.apply(x, { training: true }) as tf.Tensor);
    const comp = tf.tidy(() => compose(net, x));
    assert.ok(relErr(comp.dataSync(), ref.dataSync()) < 1e-6, 'forward equal');
    const before = tf.memory().numTensors;
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const unsplit = tf.variableGrads(() => bce(y, model.apply(x, { training: true }) as tf.Tensor), vars);
    const split = splitStep(net, x, y, bce);
    assert.ok(Math.abs(split.loss - unsplit.value.dataSync()[0]) < 1e-5, 'loss equal');
    for (const v of vars) {
      const a = split.grads[v.name];
      assert.ok(a, `split gradient for ${v.name}`);
      assert.ok(relErr(a.dataSync(), unsplit.grads[v.name].dataSync()) < 1e-4, `grad ${v.name}`);
    }
    assert.is(Object.keys(split.grads).length, vars.length);
    tf.dispose([unsplit.value, ...Object.values(unsplit.grads), ...Object.values(split.grads)]);
    assert.is(tf.memory().numTensors, before, 'splitStep leaks no tensors');
    // Messages: what crosses client/server, with exact byte counts.
    const up = split.messages.filter((m) => m.direction === 'up');
    for (const m of split.messages) assert.is(m.bytes, m.shape.reduce((p, q) => p * q, 1) * 4);
    if (mode === 'u-shaped') {
      assert.not.ok(up.some((m) => m.kind === 'labels'), 'labels never leave the client');
      const names = split.messages.map((m) => `${m.direction}:${m.kind}:${m.name}`).sort();
      assert.equal(names, ['down:activation:d2_conv', 'down:gradient:e1_relu', 'up:activation:e1_relu', 'up:gradient:d2_conv'].sort());
      const local = net.boundaries.filter((b) => !b.communicated).map((b) => b.name);
      assert.equal(local, ['e1_relu'], 'skip from front to back stays local');
    } else {
      const names = split.messages.map((m) => `${m.direction}:${m.kind}:${m.name}`).sort();
      assert.equal(names, ['down:gradient:e1_relu', 'up:activation:e1_relu', 'up:labels:labels']);
    }
    tf.dispose([x, y, ref, comp]);
  });
}

test('splitModel errors name the problem', () => {
  const model = tinyUNet();
  assert.throws(() => splitModel(model, { mode: 'two-part', cut: 'nope' }), /no layer named 'nope'/);
  assert.throws(() => splitModel(model, { mode: 'two-part', cut: 'head' }), /server part empty/);
  assert.throws(() => splitModel(model, { mode: 'u-shaped', cut: ['d2_conv', 'e1_relu'] }), /does not depend/);
});

test.run();
