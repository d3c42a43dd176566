import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { medfl } from './helpers';
import { SHARED_DATA } from '../data/helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-methods-'));

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test.after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Run `medfl <cmd> argv`, capturing its lines. */
function run(cmd: string, argv: string[]): Promise<{ code: number; text: string }> {
  return medfl([cmd, ...argv]);
}

const TINY = ['--quick', '--size', '16', '--epochs', '1'];

test('medmerge --quick (embedded, segmentation): table of MedMerge and every baseline; --json rows; no leaks', async () => {
  const file = path.join(tmp, 'sub', 'medmerge.json');
  const before = tf.memory().numTensors;
  const { code, text } = await run('medmerge', [...TINY, '--samples', '8', '--width', '2', '--json', file]);
  assert.is(code, 0, text);
  assert.is(tf.memory().numTensors, before, 'no leaked tensors');
  for (const row of ['ft (src 0)', 'ft (src 1)', 'lp-ft (src 0)', 'lp-ft (src 1)', 'uniform', 'task-arithmetic', 'medmerge']) {
    assert.ok(text.includes(`\n${row.padEnd(19)} |`), `table row '${row}'`);
  }
  assert.match(text, /method\s+\| LP dice \| LP iou \| FT dice \| FT iou/);
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.is(json.command, 'medmerge');
  assert.is(json.task, 'segmentation');
  assert.equal(json.rows.map((r: { method: string; source?: number }) => `${r.method}${r.source ?? ''}`), ['ft0', 'ft1', 'lp-ft0', 'lp-ft1', 'uniform', 'task-arithmetic', 'medmerge']);
  // 8 images, 50 % test split of the target site
  for (const r of json.rows) {
    assert.is(r.final.images, json.target.test);
    assert.ok(r.score >= 0 && r.score <= 1 && r.score === r.final.dice);
  }
  assert.is(json.target.train + json.target.test, 8);
  assert.equal(fs.readdirSync(path.dirname(file)), ['medmerge.json'], 'no temp file left behind');
});

test('medmerge --task classification prints accuracy / macro-F1 columns', async () => {
  const { code, text } = await run('medmerge', [...TINY, '--task', 'classification', '--samples', '12', '--width', '2']);
  assert.is(code, 0, text);
  assert.match(text, /LP accuracy \| LP macroF1 \| FT accuracy \| FT macroF1/);
  assert.match(text, /\nmedmerge\s+\|/);
});

test('medforge --quick --mode both: versions per site, plugins, single-site + FedAvg with bytes', async () => {
  const file = path.join(tmp, 'medforge.json');
  const before = tf.memory().numTensors;
  const { code, text } = await run('medforge', [...TINY, '--samples', '6', '--sites', '2', '--budget', '3', '--width', '2', '--rank', '1', '--json', file]);
  assert.is(code, 0, text);
  assert.is(tf.memory().numTensors, before, 'no leaked tensors');
  for (const row of ['v0 (base)', 'fusion v1 (+site-0)', 'fusion v2 (+site-1)', 'mixture v2 (+site-1)', 'plugin site-0 alone', 'single-site site-1', 'FedAvg (1 rounds)']) {
    assert.ok(text.includes(`\n${row}`), `table row '${row}'`);
  }
  const params = Number(/\((\d+) params\)/.exec(text)?.[1]);
  assert.ok(params > 0);
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  const fedavg = json.baselines.rows.find((r: { label: string }) => r.label.startsWith('FedAvg'));
  // full model down + up, float32, 2 sites, 1 round
  assert.is(fedavg.bytes, 2 * params * 4 * 2 * 1);
  for (const mode of ['fusion', 'mixture']) {
    const vs = json.medforge[mode].versions;
    assert.equal(vs.map((v: { contributor: string | null }) => v.contributor), [null, 'site-0', 'site-1']);
    const pushed = json.medforge[mode].bytes.reduce((a: number, b: { plugin: number; synthetic: number }) => a + b.plugin + b.synthetic, 0);
    assert.is(vs[2].bytes.cumulative, pushed);
    assert.ok(pushed < fedavg.bytes, 'MedForge pushes less than FedAvg here');
  }
});

test('m4oe --quick: M4oE vs shared vs separate with params and expert utilisation', async () => {
  const file = path.join(tmp, 'm4oe.json');
  const before = tf.memory().numTensors;
  const { code, text } = await run('m4oe', [...TINY, '--samples', '4', '--width', '2', '--json', file]);
  assert.is(code, 0, text);
  assert.is(tf.memory().numTensors, before, 'no leaked tensors');
  assert.match(text, /\| method \| params \| Dice polyp \| Dice lesion \| mean Dice \| seconds \| expert utilization \|/);
  for (const m of ['m4oe', 'shared', 'separate']) assert.match(text, new RegExp(`\\n\\| ${m} \\| \\d+ \\|`));
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.equal(json.rows.map((r: { method: string }) => r.method), ['m4oe', 'shared', 'separate']);
  const [moe, shared, separate] = json.rows;
  assert.ok(moe.params > shared.params && separate.params > shared.params);
  for (const m of ['polyp', 'lesion']) {
    const u: number[] = moe.utilization[m];
    assert.is(u.length, 2);
    assert.ok(Math.abs(u[0] + u[1] - 1) < 1e-5, `${m} utilization sums to 1`);
  }
  assert.equal(json.modalities, [{ name: 'polyp', train: 4, test: 4 }, { name: 'lesion', train: 4, test: 4 }]);
});

const BAD: [string, string, string[], RegExp][] = [
  ['unknown option', 'medmerge', ['--bogus'], /unknown option --bogus\nvalid options: --task, --size, /],
  ['did you mean', 'medmerge', ['--lp-epoch', '2'], /unknown option --lp-epoch; did you mean --lp-epochs\?/],
  ['bad --task', 'medmerge', ['--task', 'detection'], /--task must be one of segmentation, classification; got 'detection'/],
  ['U-Net size', 'medmerge', ['--size', '40'], /: size 40: the U-Net needs a multiple of 16 \(nearest: 48\)/],
  ['classifier size', 'medforge', ['--task', 'classification', '--size', '18'], /size 18: the classifier needs a multiple of 4 \(nearest: 20\)/],
  ['bad --data', 'medforge', ['--data', 'cloud'], /--data must be one of embedded, real; got 'cloud'/],
  ['bad --mode', 'medforge', ['--mode', 'merge'], /--mode must be one of fusion, mixture, both; got 'merge'/],
  ['--public-site without real data', 'medforge', ['--public-site', 'rosendahl'], /--public-site applies to --data real only/],
  ['negative seed', 'm4oe', ['--seed=-1'], /--seed must be an integer >= 0, got -1/],
  ['negative seed, separate value', 'm4oe', ['--seed', '-1'], /--seed must be an integer >= 0, got -1/],
  ['swin size', 'm4oe', ['--builder', 'swin', '--size', '48'], /the Swin-Unet needs a multiple of 32/],
  ['bad --builder', 'm4oe', ['--builder', 'resnet'], /--builder must be one of unet, swin; got 'resnet'/],
  ['missing option value', 'm4oe', ['--json'], /--json needs a value \(FILE\)/],
  ['size below the minimum', 'm4oe', ['--size', '8'], /--size must be an integer >= 16, got 8/],
];

for (const [name, cmd, argv, message] of BAD) {
  test(`usage error -> exit 2 with a message and the --help hint: ${name}`, async () => {
    const { code, text } = await run(cmd, argv);
    assert.is(code, 2, text);
    assert.match(text, message);
    assert.match(text, new RegExp(`^medfl ${cmd}: `));
    assert.match(text, new RegExp(`run 'medfl ${cmd} --help'`));
  });
}

test('--data real with a missing folder fails (exit 1) naming the path', async () => {
  const missing = path.join(tmp, 'no-such-data');
  for (const cmd of ['medmerge', 'medforge', 'm4oe']) {
    const { code, text } = await run(cmd, ['--data', 'real', '--data-root', missing, '--quick']);
    assert.is(code, 1, text);
    assert.ok(text.includes(path.join(missing, cmd === 'medforge' ? 'ham10000' : 'kvasir-seg')), text);
    assert.match(text, /--data-root or MEDFL_SHARED_DATA/);
  }
});

if (fs.existsSync(path.join(SHARED_DATA, 'ham10000', 'HAM10000_metadata_subset_with_dataset.csv'))) {
  test('medforge --data real --public-site naming no HAM10000 source: exit 2 listing the sources', async () => {
    const { code, text } = await run('medforge', ['--data', 'real', '--data-root', SHARED_DATA, '--public-site', 'nope', '--quick']);
    assert.is(code, 2, text);
    assert.match(text, /publicSite 'nope' is not a HAM10000 source \(expected one of .*rosendahl/);
  });
}

test('--help prints the usage and exits 0', async () => {
  const { code, text } = await run('m4oe', ['--help']);
  assert.is(code, 0);
  assert.match(text, /^usage: medfl m4oe/);
  assert.match(text, /--phase1 N/);
});

test.run();
