/**
 * Validation in runFederated: the per-site validation loss of what each site
 * deploys (per-image training loss, mean per site, then mean over sites),
 * model selection by the lowest mean validation loss (weights, per-site
 * weights and final test scores of the kept round), the convergence flag,
 * learning-rate schedules through the clients, and per-batch progress.
 *
 * Fixture for selection: a scripted strategy object that trains nothing and
 * sets the global weights of round r to a chosen candidate, so the losses
 * of every round are computed here beforehand and the best round is known.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { runFederated, validationPlateaued, type ClientProgress } from '../../src/fl/rounds';
import { localLearningRate, resolveRunConfig, roundTrainSettings } from '../../src/fl/strategy';
import { createModel } from '../../src/models/registry';
import { maxAbsDiff, setWeights } from '../../src/models/weights';
import { evaluateLoss, evaluateSegmentation, learningRateAt } from '../../src/train';
import { bestAtRoundOne, candidatesOf, scale, scripted, tinyConfig, tinySites, validationSites } from './helpers';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test('evaluateLoss: per-image mean, independent of the batch size, no tensor left behind', async () => {
  const [site] = validationSites();
  const model = createModel('unet', { inputShape: [16, 16, 3], numClasses: 1, width: 2, seed: 3 });
  const before = tf.memory().numTensors;
  const whole = await evaluateLoss(model, site.train, { batchSize: 16 });
  const single: number[] = [];
  for (let i = 0; i < site.train.length; i++) single.push((await evaluateLoss(model, site.train, { batchSize: 1, indices: [i] })).loss);
  assert.is(tf.memory().numTensors, before);
  assert.is(whole.images, site.train.length);
  const mean = single.reduce((a, b) => a + b, 0) / single.length;
  assert.ok(Math.abs(whole.loss - mean) < 1e-6, `${whole.loss} vs ${mean}`);
  assert.ok(Math.abs((await evaluateLoss(model, site.train, { batchSize: 4 })).loss - whole.loss) < 1e-6);
  model.dispose();
});

test('validationPlateaued: the documented rule on hand-made curves', () => {
  const rows: [number[], number, number, boolean][] = [
    [[1, 0.8, 0.7], 3, 0.01, false], // not more than `patience` values
    [[1, 0.8, 0.7, 0.69], 3, 0.01, false], // min(last 3) = 0.69 vs min(before) = 1: improved
    [[1, 0.5, 0.499, 0.498, 0.4975], 3, 0.01, true], // 0.5 - 0.4975 = 0.0025 <= 0.005
    [[1, 0.5, 0.499, 0.498, 0.494], 3, 0.01, false], // 0.006 > 0.005
    [[1, 0.5, 0.6, 0.7, 0.8], 3, 0.01, true], // got worse: plateau
    [[1, 0.5, 0.6, NaN, 0.8, 0.9], 3, 0, true], // NaN skipped: before [1, 0.5], last [0.6, 0.8, 0.9]
    [[2, 1.9], 1, 0.1, true], // 0.1 <= 0.2
  ];
  for (const [l, p, d, want] of rows) assert.is(validationPlateaued(l, p, d), want, JSON.stringify([l, p, d]));
});

test('validation loss per site of what it deploys; the kept model is the lowest mean (weights, site weights, final test scores)', async () => {
  const sites = validationSites();
  const { candidates, losses, perSite } = await candidatesOf(sites);
  const order = bestAtRoundOne(losses);
  assert.ok(Math.min(...order.slice(1).map((k, i) => Math.abs(losses[k] - losses[order[i]]))) > 0.01, `distinct losses ${losses}`);
  const cfg = tinyConfig(scripted(candidates, order, sites[1].name), { rounds: 4, convergence: { patience: 2 } });
  const res = await runFederated(cfg, sites);
  res.records.forEach((r, k) => {
    const want = perSite[order[k]];
    assert.ok(Math.abs(r.validationLoss![sites[0].name] - want[0]) < 1e-6 && Math.abs(r.validationLoss![sites[1].name] - want[1]) < 1e-6, `round ${k}: ${JSON.stringify(r.validationLoss)} vs ${want}`);
    assert.ok(Math.abs(r.meanValidationLoss! - (want[0] + want[1]) / 2) < 1e-6);
  });
  const s = res.summary;
  assert.is(s.selection, 'best-validation-loss');
  assert.is(s.keptRound, 1);
  assert.is(s.keptValidationLoss, res.records[1].meanValidationLoss);
  assert.equal(s.final.test, res.records[1].test);
  assert.equal(s.final.pooled, res.records[1].pooled);
  assert.is(maxAbsDiff(res.globalWeights, candidates[order[1]]), 0);
  assert.is(maxAbsDiff(res.siteWeights[sites[1].name], scale(candidates[order[1]], 0.9)), 0);
  // final scores are the kept model's test scores
  const model = createModel('unet', { inputShape: [16, 16, 3], numClasses: 1, width: 2, seed: 5 });
  setWeights(model, scale(candidates[order[1]], 0.9));
  const direct = (await evaluateSegmentation(model, sites[1].test, { groupBy: '\u0000none' })).overall;
  model.dispose();
  assert.equal(s.final.test![sites[1].name], direct);
  // patience 2: the last two rounds did not beat round 1 -> converged
  assert.is(s.converged, true);
  assert.is(s.ranOutOfBudget, false);
  // patience 3: round 1 (within the last 3) improved on round 0 by more than 1%
  const expect3 = validationPlateaued(res.records.map((r) => r.meanValidationLoss!), 3, 0.01);
  assert.is(expect3, (losses[order[0]] - losses[order[1]]) <= 0.01 * losses[order[0]]);
  const res3 = await runFederated({ ...cfg, convergence: { patience: 3 } }, sites);
  assert.is(res3.summary.converged, expect3);
  assert.is(res3.summary.ranOutOfBudget, !expect3);

  // selection 'last': the last round's weights and scores, the same curve
  const last = await runFederated({ ...cfg, selection: 'last' }, sites);
  assert.is(last.summary.selection, 'last');
  assert.is(last.summary.keptRound, 3);
  assert.equal(last.summary.final.test, last.records[3].test);
  assert.is(maxAbsDiff(last.globalWeights, candidates[order[3]]), 0);
  assert.equal(last.records.map((r) => r.meanValidationLoss), res.records.map((r) => r.meanValidationLoss));
});

test('only evaluated rounds have a validation loss and can be kept (evaluation.every 2)', async () => {
  const sites = validationSites();
  const { candidates, losses } = await candidatesOf(sites);
  const order = bestAtRoundOne(losses); // best at round 1 (evaluated), round 0 and 2 not evaluated
  const swapped = [order[1], order[0], order[2], order[3]]; // best at round 0 (not evaluated)
  const res = await runFederated(tinyConfig(scripted(candidates, swapped, sites[1].name), { rounds: 4, evaluation: { every: 2 } }), sites);
  assert.equal(res.records.map((r) => r.meanValidationLoss !== undefined), [false, true, false, true]);
  const keep = losses[swapped[1]] <= losses[swapped[3]] ? 1 : 3;
  assert.is(res.summary.keptRound, keep);
  assert.is(maxAbsDiff(res.globalWeights, candidates[swapped[keep]]), 0);
  assert.is(res.summary.converged, false, 'two evaluated rounds are not more than patience 3');
});

test('without validation: selection last, no validation fields; bad combinations are refused', async () => {
  const plain = tinySites(2, 6);
  const res = await runFederated(tinyConfig({ name: 'fedavg' }), plain);
  assert.is(res.summary.selection, 'last');
  assert.is(res.summary.keptRound, 0);
  assert.is(res.summary.converged, undefined);
  assert.is(res.records[0].validationLoss, undefined);
  assert.not.ok('meanValidationLoss' in res.records[0]);
  const refuse = async (p: Promise<unknown>, re: RegExp) =>
    p.then(
      () => assert.unreachable('should throw'),
      (e) => assert.match(String(e), re),
    );
  await refuse(runFederated(tinyConfig({ name: 'fedavg' }, { selection: 'best-validation-loss' }), plain), /selection 'best-validation-loss' needs validation splits/);
  const sites = validationSites();
  await refuse(runFederated(tinyConfig({ name: 'fedavg' }), [sites[0], { ...sites[1], validation: undefined }]), new RegExp(`sites '${sites[1].name}' have no validation split but the others do`));
  await refuse(runFederated(tinyConfig({ name: 'fedavg' }, { selection: 'best' as never }), sites), /selection must be 'best-validation-loss' or 'last'/);
  await refuse(runFederated(tinyConfig({ name: 'fedavg' }, { convergence: { patience: 0 } }), sites), /convergence.patience must be an integer >= 1/);
  await refuse(runFederated(tinyConfig({ name: 'fedavg' }, { convergence: { minRelativeImprovement: -1 } }), sites), /minRelativeImprovement must be a number >= 0/);
  await refuse(runFederated(tinyConfig({ name: 'fedavg' }, { learningRateSchedule: { name: 'exp' } as never }), sites), /unknown schedule "exp"; valid: constant, cosine, poly, step/);
});

test('learning-rate schedule: the client epoch index is round * localEpochs + e of rounds * localEpochs', () => {
  const cfg = resolveRunConfig(tinyConfig({ name: 'fedavg' }, { rounds: 3, localEpochs: 2, learningRate: 0.01, learningRateSchedule: { name: 'step', stepEpochs: 3, gamma: 0.5 } }));
  const rates = [0, 1, 2].map((r) => {
    const f = localLearningRate(roundTrainSettings(cfg, r))!;
    return [f(0), f(1)];
  });
  // global epochs 0..5: 0.01 x3, 0.005 x3
  assert.equal(rates, [[0.01, 0.01], [0.01, 0.005], [0.005, 0.005]]);
  const cos = resolveRunConfig(tinyConfig({ name: 'fedavg' }, { rounds: 2, localEpochs: 2, learningRateSchedule: { name: 'cosine' } }));
  assert.is(localLearningRate(roundTrainSettings(cos, 1))!(1), learningRateAt({ name: 'cosine' }, 1e-3, 3, 4));
  assert.is(localLearningRate(roundTrainSettings(resolveRunConfig(tinyConfig({ name: 'fedavg' })), 0)), undefined, 'constant: the optimizer keeps its rate');
});

test('learning-rate schedule in runs: constant = no schedule (bit for bit), a no-op step too; cosine changes fedavg and splitfed', async () => {
  const sites = tinySites(2, 6);
  for (const strategy of [{ name: 'fedavg' }, { name: 'splitfed', variant: 'v1' }] as const) {
    const cfg = tinyConfig(strategy, { rounds: 2, localEpochs: 2 });
    const none = await runFederated(cfg, sites);
    const constant = await runFederated({ ...cfg, learningRateSchedule: { name: 'constant' } }, sites);
    const noop = await runFederated({ ...cfg, learningRateSchedule: { name: 'step', stepEpochs: 1, gamma: 1 } }, sites);
    const cosine = await runFederated({ ...cfg, learningRateSchedule: { name: 'cosine' } }, sites);
    assert.is(maxAbsDiff(constant.globalWeights, none.globalWeights), 0, `${strategy.name}: constant`);
    assert.is(maxAbsDiff(noop.globalWeights, none.globalWeights), 0, `${strategy.name}: gamma 1`);
    assert.ok(maxAbsDiff(cosine.globalWeights, none.globalWeights) > 0, `${strategy.name}: cosine changes the run`);
  }
});

test('onProgress: every batch of every client, in order, for in-process clients, centralized and splitfed', async () => {
  const sites = tinySites(2, 10); // 25% test: 7-8 train images per site, batch 4
  const expected = (names: string[], sizes: number[], rounds: number, epochs: number) => {
    const out: Omit<ClientProgress, 'seconds' | 'loss'>[] = [];
    for (let round = 0; round < rounds; round++) {
      names.forEach((site, k) => {
        const batches = Math.ceil(sizes[k] / 4);
        for (let epoch = 0; epoch < epochs; epoch++) {
          for (let batch = 0; batch < batches; batch++) out.push({ round, site, epoch, batch, batches, images: Math.min(4, sizes[k] - 4 * batch) });
        }
      });
    }
    return out;
  };
  const names = sites.map((s) => s.name);
  const sizes = sites.map((s) => s.train.length);
  for (const strategy of [{ name: 'fedavg' }, { name: 'splitfed', variant: 'v2' }, { name: 'centralized' }] as const) {
    const seen: ClientProgress[] = [];
    const before = tf.memory().numTensors;
    await runFederated(tinyConfig(strategy, { rounds: 2, localEpochs: 2 }), sites, undefined, { onProgress: (p) => seen.push(p) });
    assert.is(tf.memory().numTensors, before);
    for (const p of seen) assert.ok(Number.isFinite(p.loss) && p.seconds >= 0, JSON.stringify(p));
    const got = seen.map(({ seconds: _s, loss: _l, ...rest }) => rest);
    if (strategy.name === 'centralized') {
      assert.equal(got, expected(['pooled'], [sizes[0] + sizes[1]], 2, 2));
    } else if (strategy.name === 'splitfed') {
      // v2 visits the sites in a seeded order per round: compare per round as multisets of sites
      assert.equal(got.length, expected(names, sizes, 2, 2).length);
      for (const n of names) assert.equal(got.filter((p) => p.site === n), expected(names, sizes, 2, 2).filter((p) => p.site === n));
    } else {
      assert.equal(got, expected(names, sizes, 2, 2));
    }
  }
});

test.run();
