import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { validateExperiment, ConfigError, mergeDeep } from '../../src/experiment/config';

const good = {
  name: 'fedavg-vs-local',
  seed: 3,
  data: { source: 'synthetic', task: 'polyp', sites: 4, samplesPerSite: 40, size: 64 },
  partition: { scheme: 'natural-id', column: 'site' },
  model: { name: 'unet', width: 4 },
  strategies: [{ name: 'centralized' }, { name: 'fedavg', mu: 0.01 }, { name: 'splitfed', variant: 'v1', mode: 'u-shaped' }],
  budget: { rounds: 3, localEpochs: 1 },
  quick: { data: { samplesPerSite: 8, size: 32 }, budget: { rounds: 1 } },
};

function problems(raw: unknown, quick = false): string[] {
  try {
    validateExperiment(raw, 'experiments/x.json', { quick });
    return [];
  } catch (e) {
    assert.instance(e, ConfigError);
    assert.match((e as Error).message, /^experiments\/x\.json: invalid experiment config/);
    return (e as ConfigError).problems;
  }
}

test('a valid config gets defaults and strategy labels', () => {
  const c = validateExperiment(good, 'x.json');
  assert.is(c.seeds[0], 3);
  assert.is(c.split.testFraction, 0.25);
  assert.is(c.budgets[0].batchSize, 8);
  assert.equal(c.strategies.map((s) => s.label), ['centralized', 'fedavg-prox0.01', 'splitfed-v1-u-shaped']);
});

test('one label rule: FedAvg and FedProx side by side get distinct labels; labels are safe folder names', () => {
  const c = validateExperiment({ ...good, strategies: [{ name: 'fedavg' }, { name: 'fedavg', mu: 0.01 }, { name: 'fedprox', mu: 0.1 }, { name: 'fedyogi' }] }, 'x.json');
  assert.equal(c.strategies.map((s) => s.label), ['fedavg', 'fedavg-prox0.01', 'fedprox-mu0.1', 'fedyogi']);
  assert.ok(problems({ ...good, strategies: [{ name: 'fedavg', label: '../../victim' }] }).some((m) => /strategies\[0\]\.label: "\.\.\/\.\.\/victim" is not a safe label/.test(m)));
  assert.ok(problems({ ...good, strategies: [{ name: 'fedavg', serverOptimizer: { name: 'fedsgd' } }] }).some((m) => /strategies\[0\]\.serverOptimizer\.name: unknown value "fedsgd"/.test(m)));
});

test('--quick merges the quick overrides deeply', () => {
  const c = validateExperiment(good, 'x.json', { quick: true });
  assert.is(c.datasets[0].samplesPerSite, 8);
  assert.is(c.datasets[0].size, 32);
  assert.is(c.datasets[0].sites, 4, 'untouched keys survive');
  assert.is(c.budgets[0].rounds, 1);
  assert.is(c.budgets[0].localEpochs, 1);
});

const bad: [string, unknown, RegExp][] = [
  ['unknown top-level key', { ...good, rounds: 3 }, /^rounds: unknown key \(valid keys here: name, description/],
  ['unknown nested key', { ...good, data: { ...good.data, sitez: 4 } }, /^data\.sitez: unknown key \(valid keys here: source, size, channels, limit, label, task, sites/],
  ['wrong type', { ...good, data: { ...good.data, sites: 'four' } }, /^data\.sites: expected an integer, got string "four"/],
  ['non-integer', { ...good, budget: { rounds: 2.5 } }, /^budget\.rounds: expected an integer, got number 2\.5/],
  ['out of range', { ...good, partition: { scheme: 'dirichlet', alpha: 0 } }, /^partition\.alpha: must be > 0, got 0/],
  ['unknown model lists valid names', { ...good, model: { name: 'resnet' } }, /^model\.name: unknown value "resnet"\. Valid: unet, segnet, deeplabv3, deeplabv3plus, refinenet, cgnet, sunet, duck-net, attention-unet, swin-unet/],
  ['unknown strategy lists valid names', { ...good, strategies: [{ name: 'fedsgd' }] }, /^strategies\[0\]\.name: unknown strategy "fedsgd"\. Valid: centralized, local, fedavg, fedprox, fedavgm, fedadam, fedyogi, fedadagrad, iil, ciil, splitfed, fedmedian, fedtrimmedavg, krum/],
  ['strategy option of another strategy', { ...good, strategies: [{ name: 'local', mu: 0.1 }] }, /^strategies\[0\]\.mu: unknown key/],
  ['missing required', { ...good, model: undefined }, /^model: required/],
  ['unknown data source', { ...good, data: { source: 'imagenet' } }, /^data\.source: unknown value "imagenet"\. Valid: synthetic, kvasir/],
  ['duplicate labels', { ...good, strategies: [{ name: 'local' }, { name: 'local' }] }, /duplicate strategy label 'local'/],
  ['source-specific required key', { ...good, data: { source: 'kvasir' } }, /^data\.root: required/],
  ['empty strategies', { ...good, strategies: [] }, /^strategies: expected at least one strategy/],
];

for (const [label, raw, re] of bad) {
  test(`rejects: ${label}`, () => {
    const p = problems(raw);
    assert.ok(p.some((m) => re.test(m)), `problems: ${JSON.stringify(p)}`);
  });
}

test('every problem is reported at once', () => {
  const p = problems({ name: 1, data: { source: 'synthetic', sites: 0 }, model: { name: 'x' }, strategies: 'fedavg' });
  assert.ok(p.length >= 4, JSON.stringify(p));
});

test('mergeDeep merges objects and replaces arrays', () => {
  assert.equal(mergeDeep({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, e: 2 }), { a: { b: 1, c: [3] }, d: 1, e: 2 });
});

test.run();
