/** Robust aggregators (hand-computed) and the FedAvg family through runFederated, against its clients' own updates. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { initBackend } from '../../src/backend/index';
import { coordinateMedian } from '../../src/fl/fedmedian';
import { trimmedMean } from '../../src/fl/trimmed-avg';
import { krumSelect } from '../../src/fl/krum';
import { runFederated } from '../../src/fl/rounds';
import { checkStrategyConfig, strategyLabel, strategyNames } from '../../src/fl/registry';
import { maxAbsDiff } from '../../src/models/weights';
import { WeightedAverager } from '../../src/fl/aggregate';
import { tinyConfig, tinySites } from './helpers';

const F = (...v: number[]) => Float32Array.from(v);
const lists = (...cols: number[][]) => cols.map((c) => [F(...c)]);

test('coordinate-wise median: odd and even counts (numpy semantics)', () => {
  assert.equal(Array.from(coordinateMedian(lists([1, 10], [3, -2], [2, 7]))[0]), [2, 7]);
  assert.equal(Array.from(coordinateMedian(lists([1, 10], [3, -2], [2, 7], [100, 0]))[0]), [2.5, 3.5]);
  assert.throws(() => coordinateMedian([]), /no weight lists/);
});

test('trimmed mean: floor(beta n) cut from each end (scipy trim_mean semantics)', () => {
  const five = lists([1], [2], [3], [4], [100]);
  // beta .2, n 5: cut 1 each end -> mean(2, 3, 4) = 3
  assert.equal(Array.from(trimmedMean(five, 0.2)[0]), [3]);
  // beta .1, n 5: cut 0 -> plain mean 22
  assert.equal(Array.from(trimmedMean(five, 0.1)[0]), [22]);
  assert.throws(() => trimmedMean(five, 0.5), /beta/);
});

test('Krum scores by hand; the outlier is never selected; Multi-Krum keeps the m best', () => {
  // points 0, 1, 2 and 10 on a line; n = 4, f = 1 -> n - f - 2 = 1 nearest neighbour
  const pts = lists([0], [1], [2], [10]);
  const k = krumSelect(pts, 1, 1);
  assert.equal(k.scores, [1, 1, 1, 64]);
  assert.equal(k.selected, [0], 'ties keep client order');
  // f = 0 -> 2 nearest: 0: 1 + 4 = 5; 1: 1 + 1 = 2; 2: 1 + 4 = 5; 10: 64 + 81 = 145
  const m = krumSelect(pts, 0, 2);
  assert.equal(m.scores, [5, 2, 5, 145]);
  assert.equal(m.selected, [1, 0]);
});

test('registry: built-ins listed, Flower aliases, one label rule', () => {
  for (const n of ['centralized', 'local', 'fedavg', 'fedprox', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad', 'iil', 'ciil', 'splitfed', 'fedmedian', 'fedtrimmedavg', 'krum']) {
    assert.ok(strategyNames().includes(n), n);
  }
  assert.is(strategyLabel({ name: 'splitfed' }), 'splitfed-v1-u-shaped');
  assert.is(strategyLabel({ name: 'fedavg', mu: 0.01 }), 'fedavg-prox0.01');
  assert.is(strategyLabel({ name: 'fedprox', mu: 0.01 }), 'fedprox-mu0.01');
  assert.is(strategyLabel({ name: 'fedavg', dp: { clipNorm: 1 } }), 'fedavg-dp-server');
  assert.is(strategyLabel({ name: 'krum', numNodesToSelect: 2 }), 'multikrum2');
  assert.is(strategyLabel({ name: 'fedavg', label: 'mine' }), 'mine');
  assert.match(checkStrategyConfig({ name: 'fedprox' }, 's').join(), /s\.mu: required/);
  assert.match(checkStrategyConfig({ name: 'fedavg', label: '../../x' }, 's').join(), /not a safe label/);
  assert.match(checkStrategyConfig({ name: 'fedavg', muu: 1 }, 's').join(), /s\.muu: unknown key/);
});

test('FedAvg family through runFederated = its aggregator applied to the clients trained from the same start and seeds', async () => {
  await initBackend('wasm', { log: () => {} });
  const sites = tinySites(3, 8);
  // 'local' for one round trains every site from the initial weights with the same seeds as any round-0 client
  const local = await runFederated(tinyConfig({ name: 'local' }), sites);
  const clients = sites.map((s) => local.siteWeights[s.name]);
  const avg = new WeightedAverager();
  sites.forEach((s, i) => avg.add(clients[i], s.train.length));
  const expected: [Record<string, unknown>, Float32Array[]][] = [
    [{ name: 'fedavg' }, avg.result()],
    [{ name: 'fedmedian' }, coordinateMedian(clients)],
    [{ name: 'fedtrimmedavg', beta: 0.34 }, trimmedMean(clients, 0.34)],
    [{ name: 'krum', numMaliciousNodes: 0 }, clients[krumSelect(clients, 0, 1).selected[0]]],
  ];
  for (const [strategy, want] of expected) {
    const res = await runFederated(tinyConfig(strategy as never), sites);
    const d = maxAbsDiff(res.globalWeights, want);
    assert.ok(d < 1e-6, `${strategy.name}: ${d}`);
    assert.is(res.records[0].strategy, strategy.name);
  }
});

test.run();
