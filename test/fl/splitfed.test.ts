/**
 * SplitFed through the round loop: with one client, SFLV1 and SFLV2 equal
 * centralized training of the unsplit model on the same batches (two-part and
 * u-shaped); the message log never carries labels or the output in the
 * u-shaped layout; byte counts equal tensor sizes; Dice improves on the
 * synthetic multi-site data.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { createModel } from '../../src/models/registry';
import { trainSegmentation, evaluateSegmentation } from '../../src/train';
import { runFederated } from '../../src/fl/rounds';
import { roundSeed } from '../../src/fl/strategy';
import { byteCount, getWeights, maxAbsDiff } from '../../src/models/weights';
import { smpDiceLoss } from '../../src/metrics/losses';
import type { LoggedSplitMessage } from '../../src/fl/splitfed';
import { tinyConfig, tinySites } from './helpers';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

const rel = (a: Float32Array[], b: Float32Array[]) => {
  let num = 0;
  let den = 0;
  a.forEach((x, i) => x.forEach((v, j) => {
    num += (v - b[i][j]) ** 2;
    den += b[i][j] ** 2;
  }));
  return Math.sqrt(num / den);
};

test('one client: SFLV1 and SFLV2 equal centralized training of the unsplit model (two-part and u-shaped)', async () => {
  const [site] = tinySites(1, 8);
  const model = createModel('unet', { inputShape: [16, 16, 3], numClasses: 1, width: 2, seed: 5 });
  const init = getWeights(model);
  await trainSegmentation(model, site.train, { epochs: 2, batchSize: 4, learningRate: 1e-3, seed: roundSeed(5, 0, site.name) });
  const ref = getWeights(model);
  model.dispose();
  const before = tf.memory().numTensors;
  for (const mode of ['two-part', 'u-shaped'] as const) {
    for (const variant of ['v1', 'v2'] as const) {
      const res = await runFederated(tinyConfig({ name: 'splitfed', mode, variant }, { localEpochs: 2 }), [site]);
      const d = maxAbsDiff(res.globalWeights, ref);
      assert.ok(d < 1e-4 && rel(res.globalWeights, ref) < 1e-5, `${mode} ${variant}: max diff ${d}, rel ${rel(res.globalWeights, ref)}`);
      assert.ok(maxAbsDiff(res.globalWeights, init) > 1e-3, 'weights moved');
    }
  }
  assert.is(tf.memory().numTensors, before, 'no tensor leak');
});

test("loss 'dice' (smp soft Dice) reaches every client: FedAvg and SplitFed u-shaped with one client equal trainSegmentation with smpDiceLoss", async () => {
  const [site] = tinySites(1, 8);
  const model = createModel('unet', { inputShape: [16, 16, 3], numClasses: 1, width: 2, seed: 5 });
  const init = getWeights(model);
  await trainSegmentation(model, site.train, { epochs: 2, batchSize: 4, learningRate: 1e-3, seed: roundSeed(5, 0, site.name), loss: smpDiceLoss() });
  const ref = getWeights(model);
  model.dispose();
  const bce = await runFederated(tinyConfig({ name: 'fedavg' }, { localEpochs: 2 }), [site]);
  assert.ok(maxAbsDiff(bce.globalWeights, ref) > 1e-4, 'the default loss (BCE + Dice) trains differently');
  for (const strategy of [{ name: 'fedavg' }, { name: 'splitfed', mode: 'u-shaped', variant: 'v1' }] as const) {
    const res = await runFederated(tinyConfig(strategy, { localEpochs: 2, loss: 'dice' }), [site]);
    const d = maxAbsDiff(res.globalWeights, ref);
    assert.ok(d < 1e-4 && rel(res.globalWeights, ref) < 1e-5, `${strategy.name}: max diff ${d}`);
    assert.ok(maxAbsDiff(res.globalWeights, init) > 1e-3, 'weights moved');
  }
  const err = await runFederated(tinyConfig({ name: 'fedavg' }, { loss: 'focal' as never }), [site]).then(() => null, (e: Error) => e);
  assert.match(String(err?.message), /loss must be one of 'bce-dice', 'dice'/);
});

test('u-shaped never sends labels or the output; two-part sends labels; bytes = tensor sizes', async () => {
  const sites = tinySites(2, 8);
  for (const mode of ['u-shaped', 'two-part'] as const) {
    const log: LoggedSplitMessage[] = [];
    const res = await runFederated(tinyConfig({ name: 'splitfed', mode, variant: 'v2' }), sites, undefined, { onSplitMessage: (m) => log.push(m) });
    assert.ok(log.length > 0);
    for (const m of log) {
      assert.is(m.bytes, m.shape.reduce((a, b) => a * b, 1) * 4, `${m.kind} ${m.name}`);
      assert.is.not(m.name, 'output');
    }
    const labels = log.filter((m) => m.kind === 'labels');
    const names = new Set(log.map((m) => `${m.direction}:${m.kind}:${m.name}`));
    if (mode === 'u-shaped') {
      assert.is(labels.length, 0, 'labels stay on the client');
      // Unet's declared u-shaped cut: front ends at enc1_2_relu, body at dec2_2_relu.
      assert.equal([...names].sort(), ['down:activation:dec2_2_relu', 'down:gradient:enc1_2_relu', 'up:activation:enc1_2_relu', 'up:gradient:dec2_2_relu']);
      assert.ok(!log.some((m) => m.shape[m.shape.length - 1] === 1 && m.shape[1] === 16 && m.direction === 'up'), 'no [N,16,16,1] prediction goes up');
    } else {
      assert.ok(labels.length > 0 && labels.every((m) => m.direction === 'up'));
      assert.equal([...names].sort(), ['down:gradient:enc1_2_relu', 'up:activation:enc1_2_relu', 'up:labels:labels']);
    }
    // Per-site bytes of the round = messages of that site + client weights both ways.
    const r = res.records[0];
    const m = createModel('unet', { inputShape: [16, 16, 3], numClasses: 1, width: 2 });
    const all = byteCount(getWeights(m));
    m.dispose();
    for (const s of sites) {
      const up = log.filter((x) => x.site === s.name && x.direction === 'up').reduce((a, x) => a + x.bytes, 0);
      const down = log.filter((x) => x.site === s.name && x.direction === 'down').reduce((a, x) => a + x.bytes, 0);
      const clientBytes = r.bytes.down[s.name] - down;
      assert.is(r.bytes.up[s.name] - up, clientBytes, 'client part sent up = received');
      assert.ok(clientBytes > 0 && clientBytes < all, `client part ${clientBytes} < whole model ${all}`);
    }
  }
});

test('two clients: v1 differs from v2 (server part shared sequentially)', async () => {
  const sites = tinySites(2, 8);
  const v1 = await runFederated(tinyConfig({ name: 'splitfed', variant: 'v1' }), sites);
  const v2 = await runFederated(tinyConfig({ name: 'splitfed', variant: 'v2' }), sites);
  const fed = await runFederated(tinyConfig({ name: 'fedavg' }), sites);
  assert.ok(maxAbsDiff(v1.globalWeights, v2.globalWeights) > 1e-5);
  assert.ok(maxAbsDiff(v1.globalWeights, fed.globalWeights) < 1e-4, 'SFLV1 with per-client server copies is FedAvg of the whole model');
});

test('short SplitFed (u-shaped, v2) on synthetic multi-site data improves Dice', async () => {
  const sites = tinySites(2, 12, 32);
  const res = await runFederated(
    { ...tinyConfig({ name: 'splitfed', mode: 'u-shaped', variant: 'v2' }, { rounds: 4, localEpochs: 3, learningRate: 1e-2, seed: 3 }, 32), model: { name: 'unet', inputShape: [32, 32, 3], width: 4 }, evaluation: { every: 4 } },
    sites,
  );
  const init = createModel('unet', { inputShape: [32, 32, 3], numClasses: 1, width: 4, seed: 3 });
  let d0 = 0;
  let n0 = 0;
  for (const s of sites) {
    const e = (await evaluateSegmentation(init, s.test)).overall;
    d0 += e.dice * e.images;
    n0 += e.images;
  }
  init.dispose();
  assert.ok(res.summary.final.pooled!.dice > d0 / n0 + 0.15, `${res.summary.final.pooled!.dice} vs ${d0 / n0}`);
  assert.is(res.records.filter((r) => r.test).length, 1, 'evaluated only at the last round (every = 4)');
});

test.run();
