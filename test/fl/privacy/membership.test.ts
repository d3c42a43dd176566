import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/backend/index';
import { syntheticSites } from '../../../src/data/synthetic';
import { toBatch } from '../../../src/data/batch';
import { createModel } from '../../../src/models/registry';
import { trainSegmentation } from '../../../src/train';
import { bceDiceLoss } from '../../../src/metrics/losses';
import { createRng } from '../../../src/util/rng';
import { lossThresholdAttack, membershipInferenceAttack, perSampleLosses } from '../../../src/fl/privacy/membership';

const close = (a: number, b: number, tol = 1e-9, msg = '') => assert.ok(Math.abs(a - b) <= tol, `${msg} expected ${b}, got ${a}`);

// members 0.1 0.2 0.5 / non-members 0.3 0.6 0.7, sorted by loss: M M N M N N
// AUC: member-below-non-member pairs 3 + 3 + 2 = 8 of 9.
// (FPR, TPR) after each loss: (0,1/3) (0,2/3) (1/3,2/3) (1/3,1) (2/3,1) (1,1)
// accuracy (tp + tn)/6: 4/6 5/6 4/6 5/6 4/6 3/6 -> best 5/6, first at t = 0.2
// advantage max(TPR - FPR) = 2/3; TPR@FPR<=0.01 = 2/3; TPR@FPR<=0.34 = 1
test('lossThresholdAttack: hand-computed fixture', () => {
  const r = lossThresholdAttack([0.1, 0.2, 0.5], [0.3, 0.6, 0.7], [0.01, 0.1, 0.34]);
  close(r.auc, 8 / 9);
  close(r.attackAccuracy, 5 / 6);
  close(r.threshold, 0.2);
  close(r.advantage, 2 / 3);
  assert.equal(r.tprAtFpr.map((p) => p.fpr), [0.01, 0.1, 0.34]);
  close(r.tprAtFpr[0].tpr, 2 / 3);
  close(r.tprAtFpr[1].tpr, 2 / 3);
  close(r.tprAtFpr[2].tpr, 1);
  close(r.meanMemberLoss, 0.8 / 3);
  close(r.meanNonMemberLoss, 1.6 / 3);
  assert.is(r.numMembers, 3);
  assert.is(r.numNonMembers, 3);
});

// ties: members 0.5 0.5 / non-members 0.5 1.0. AUC = (0.5 + 0.5 + 1 + 1) / 4 = 3/4.
// The tie group enters at once: (FPR, TPR) (0,0) -> (1/2, 1) -> (1, 1).
// accuracy 2/4, 3/4, 2/4 -> 3/4 at t = 0.5; advantage 1/2; TPR@FPR<=0.1 = 0.
test('lossThresholdAttack: ties enter together', () => {
  const r = lossThresholdAttack([0.5, 0.5], [0.5, 1.0], [0.1]);
  close(r.auc, 0.75);
  close(r.attackAccuracy, 0.75);
  close(r.threshold, 0.5);
  close(r.advantage, 0.5);
  close(r.tprAtFpr[0].tpr, 0);
});

test('lossThresholdAttack: perfectly separated, inverted and identical losses', () => {
  const sep = lossThresholdAttack([0.1, 0.2], [0.3, 0.4, 0.5]);
  close(sep.auc, 1);
  close(sep.attackAccuracy, 1);
  close(sep.advantage, 1);
  close(sep.tprAtFpr[0].tpr, 1);
  const inv = lossThresholdAttack([0.9, 0.8], [0.1, 0.2]);
  close(inv.auc, 0);
  close(inv.attackAccuracy, 0.5); // best is "nobody is a member"
  assert.is(inv.threshold, -Infinity);
  close(inv.advantage, 0);
  const same = lossThresholdAttack([1, 1, 1], [1, 1]);
  close(same.auc, 0.5);
  close(same.advantage, 0);
});

test('lossThresholdAttack: invariant to the order of the inputs', () => {
  const rng = createRng(9);
  const m = Array.from({ length: 30 }, () => rng.normal(0, 1));
  const n = Array.from({ length: 25 }, () => rng.normal(0.5, 1));
  const a = lossThresholdAttack(m, n);
  const b = lossThresholdAttack(rng.shuffle([...m]), rng.shuffle([...n]));
  close(a.meanMemberLoss, b.meanMemberLoss, 1e-12);
  close(a.meanNonMemberLoss, b.meanNonMemberLoss, 1e-12);
  assert.equal({ ...a, meanMemberLoss: 0, meanNonMemberLoss: 0 }, { ...b, meanMemberLoss: 0, meanNonMemberLoss: 0 });
});

test('lossThresholdAttack / membershipInferenceAttack: errors', async () => {
  assert.throws(() => lossThresholdAttack([], [1]), /members and non-members/);
  assert.throws(() => lossThresholdAttack([1], [NaN]), /NaN/);
  assert.throws(() => lossThresholdAttack([1], [2], [2]), /fpr levels/);
  await initBackend('wasm', { log: () => {} });
  const model = createModel('unet', { inputShape: [32, 32, 3], numClasses: 1, width: 2, seed: 0 });
  try {
    let msg = '';
    try {
      await membershipInferenceAttack(model, [0, 1], [2, 3]);
    } catch (e) {
      msg = (e as Error).message;
    }
    assert.match(msg, /options\.data/);
  } finally {
    model.dispose();
  }
});

test('perSampleLosses equals the loss of each image run alone', async () => {
  await initBackend('wasm', { log: () => {} });
  const data = syntheticSites({ sites: 1, samplesPerSite: 5, size: 32, seed: 2 });
  const model = createModel('unet', { inputShape: [32, 32, 3], numClasses: 1, width: 2, seed: 3 });
  try {
    const before = tf.memory().numTensors;
    const losses = await perSampleLosses(model, data, [4, 0, 2], { batchSize: 2 });
    assert.is(tf.memory().numTensors, before, 'no tensor leak');
    const loss = bceDiceLoss();
    const direct = [4, 0, 2].map((i) =>
      tf.tidy(() => {
        const { x, y } = toBatch([data.get(i)]);
        return loss(y, model.predict(x) as tf.Tensor).dataSync()[0];
      }),
    );
    losses.forEach((l, k) => close(l, direct[k], 1e-5, `image ${k}`));
    assert.ok(Math.abs(losses[0] - losses[1]) > 1e-6, 'images differ');
  } finally {
    model.dispose();
  }
});

test('membership AUC ~ 0.5 on two random halves of unseen data', async () => {
  await initBackend('wasm', { log: () => {} });
  const data = syntheticSites({ sites: 2, samplesPerSite: 40, size: 32, heterogeneity: 0.5, seed: 11 });
  const model = createModel('unet', { inputShape: [32, 32, 3], numClasses: 1, width: 2, seed: 4 });
  try {
    const perm = createRng(5).permutation(data.length);
    const before = tf.memory().numTensors;
    const r = await membershipInferenceAttack(model, perm.slice(0, 40), perm.slice(40), { data });
    assert.is(tf.memory().numTensors, before, 'no tensor leak');
    assert.is(r.memberLosses.length, 40);
    // null sd of the AUC for 40 vs 40 is sqrt(81 / (12 * 1600)) = 0.065
    assert.ok(Math.abs(r.auc - 0.5) < 0.15, `AUC ${r.auc} should be near 0.5`);
    console.log(`    [measured] random halves: AUC ${r.auc.toFixed(3)}, adv ${r.advantage.toFixed(3)}`);
    assert.ok(r.advantage < 0.4, `advantage ${r.advantage}`);
  } finally {
    model.dispose();
  }
});

test('membership AUC > 0.5 for a tiny model overfitted on a few images', async () => {
  await initBackend('wasm', { log: () => {} });
  const data = syntheticSites({ sites: 1, samplesPerSite: 24, size: 32, heterogeneity: 0, seed: 5 });
  const model = createModel('unet', { inputShape: [32, 32, 3], numClasses: 1, width: 4, seed: 1 });
  try {
    const members = [0, 1, 2, 3];
    const nonMembers = Array.from({ length: 20 }, (_, i) => i + 4);
    await trainSegmentation(model, data, { epochs: 20, batchSize: 4, learningRate: 1e-2, indices: members, seed: 1 });
    const before = tf.memory().numTensors;
    const r = await membershipInferenceAttack(model, members, nonMembers, { data });
    assert.is(tf.memory().numTensors, before, 'no tensor leak');
    assert.ok(r.meanMemberLoss < r.meanNonMemberLoss, `member loss ${r.meanMemberLoss} < non-member ${r.meanNonMemberLoss}`);
    assert.ok(r.auc > 0.8, `AUC ${r.auc} should be well above 0.5`);
    assert.ok(r.attackAccuracy > 20 / 24, `attack accuracy ${r.attackAccuracy} beats "all non-members"`);
    console.log(`    [measured] overfit membership: AUC ${r.auc.toFixed(3)}, acc ${r.attackAccuracy.toFixed(3)}, adv ${r.advantage.toFixed(3)}, loss ${r.meanMemberLoss.toFixed(3)} vs ${r.meanNonMemberLoss.toFixed(3)}`);
    // a Dataset works as member source too
    const r2 = await membershipInferenceAttack(model, data.subset(members), data.subset(nonMembers));
    close(r2.auc, r.auc, 1e-12);
  } finally {
    model.dispose();
  }
});

test.run();
