/**
 * Bad input, one table: config -> the message fragment the user sees -> and
 * nothing written outside the results folder (nor any run state inside it
 * when the config is refused before training). Then: a corrected config runs
 * in the folder a refused one left.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../src/backend';
import { runExperiment } from '../../src/experiment/runner';

const base = {
  name: 'bad',
  data: { source: 'synthetic', sites: 2, samplesPerSite: 6, size: 16 },
  model: { name: 'unet', width: 2 },
  strategies: [{ name: 'fedavg' }],
  budget: { rounds: 2, batchSize: 4 },
};

/** [what, config, message fragment] */
const cases: [string, Record<string, unknown>, RegExp][] = [
  ['experiment name escaping the results folder', { ...base, name: '../../victim' }, /name: "\.\.\/\.\.\/victim" is not a safe folder name/],
  ['strategy label escaping / replacing the folder', { ...base, strategies: [{ name: 'fedavg', label: '../../../y' }] }, /label: "\.\.\/\.\.\/\.\.\/y" is not a safe label/],
  ['label "."', { ...base, strategies: [{ name: 'fedavg', label: '.' }] }, /label: "\." is not a safe label/],
  ['escape through the quick block', { ...base, quick: { name: '../../victim' } }, /is not a safe folder name.*with the quick overrides/],
  ['unknown key in the quick block', { ...base, quick: { bogus: 1 } }, /quick\.bogus: unknown key/],
  ['server optimizer that does not exist', { ...base, strategies: [{ name: 'fedavg', serverOptimizer: { name: 'fedsgd' } }] }, /serverOptimizer\.name: unknown value "fedsgd"/],
  ['IIL with rounds != 1', { ...base, strategies: [{ name: 'iil' }] }, /single pass \(rounds must be 1, got 2\)/],
  ['image size the model cannot take', { ...base, data: { ...base.data, size: 40 } }, /data\.size: unet: input height 40 must be divisible by 16 \(nearest valid: /],
  ['iid without sites', { ...base, partition: { scheme: 'iid' } }, /partition\.sites: required for scheme 'iid'/],
  ['NIfTI volume entry of the wrong shape', { ...base, data: { source: 'nifti', volumes: [{ img: 'a.nii' }], size: 16 } }, /data\.volumes\[0\]\.image: required/],
  ['a split cut that is no layer of the model', { ...base, strategies: [{ name: 'fedavg' }, { name: 'splitfed', mode: 'two-part', cut: 'no_such_layer' }] }, /cannot run \(nothing was trained\):[\s\S]*strategy 'splitfed-v1-two-part' with unet-w2:.*no_such_layer/],
  ['dropout schedule naming a site that does not exist', { ...base, dropout: { sites: { '1': ['site-7'] } } }, /unknown site 'site-7' \(sites: site-0, site-1\)/],
  ['dropout schedule with a round outside the run', { ...base, dropout: { sites: { '5': ['site-0'] } } }, /dropout\.sites\.5: not a round of this run/],
  ['dropout probability out of range', { ...base, dropout: { probability: 2 } }, /dropout\.probability: must be <= 1, got 2/],
  ['unknown strategy option', { ...base, strategies: [{ name: 'fedavg', muu: 0.1 }] }, /strategies\[0\]\.muu: unknown key/],
];

function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(path.relative(dir, p));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

for (const [what, config, fragment] of cases) {
  test(`bad input: ${what}`, async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-bad-'));
    try {
      fs.mkdirSync(path.join(root, 'experiments'));
      fs.mkdirSync(path.join(root, 'victim'));
      fs.writeFileSync(path.join(root, 'victim', 'summary.json'), 'precious');
      const file = path.join(root, 'experiments', 'bad.json');
      fs.writeFileSync(file, JSON.stringify(config));
      const before = listTree(root);
      const results = path.join(root, 'experiments', 'results');
      const err = await runExperiment(file, { resultsDir: results, log: () => {} }).then(
        () => null,
        (e: Error) => e,
      );
      assert.ok(err, 'refused');
      assert.match(err!.message, fragment);
      const after = listTree(root).filter((p) => !p.startsWith(path.join('experiments', 'results')));
      assert.equal(after, before, 'nothing written outside the results folder');
      assert.is(fs.readFileSync(path.join(root, 'victim', 'summary.json'), 'utf8'), 'precious');
      const state = fs.existsSync(results) ? listTree(results).filter((p) => !p.endsWith('.medfl.lock') && !/^[^/]+$/.test(p)) : [];
      assert.equal(state, [], 'no run state left: a corrected config can use the folder');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
}

test('a run refused before training leaves nothing that makes the corrected config fail', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-fix-'));
  try {
    fs.mkdirSync(path.join(root, 'experiments'));
    const file = path.join(root, 'experiments', 'bad.json');
    const results = path.join(root, 'results');
    fs.writeFileSync(file, JSON.stringify({ ...base, strategies: [{ name: 'splitfed', mode: 'two-part', cut: 'no_such_layer' }], budget: { rounds: 1, batchSize: 4 } }));
    await runExperiment(file, { resultsDir: results, log: () => {} }).then(() => assert.unreachable(), () => undefined);
    fs.writeFileSync(file, JSON.stringify({ ...base, strategies: [{ name: 'splitfed', mode: 'two-part' }], budget: { rounds: 1, batchSize: 4 } }));
    const run = await runExperiment(file, { resultsDir: results, log: () => {} });
    assert.equal(run.rows.map((r) => r.strategy), ['splitfed-v1-two-part']);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test.run();
