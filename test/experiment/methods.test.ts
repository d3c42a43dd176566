import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { medmergeCommand, medforgeCommand, m4oeCommand, repositoryRoot, sharedDataRoot } from '../../src/experiment/methods';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-methods-'));

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test.after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Run a handler, capturing its lines. */
async function run(cmd: (argv: string[], out?: (s: string) => void) => Promise<number>, argv: string[]): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await cmd(argv, (s) => lines.push(s));
  return { code, text: lines.join('\n') };
}

const TINY = ['--quick', '--size', '16', '--epochs', '1'];

test('medmerge --quick (embedded, segmentation): table of MedMerge and every baseline; --json rows; no leaks', async () => {
  const file = path.join(tmp, 'sub', 'medmerge.json');
  const before = tf.memory().numTensors;
  const { code, text } = await run(medmergeCommand, [...TINY, '--samples', '8', '--width', '2', '--json', file]);
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
  const { code, text } = await run(medmergeCommand, [...TINY, '--task', 'classification', '--samples', '12', '--width', '2']);
  assert.is(code, 0, text);
  assert.match(text, /LP accuracy \| LP macroF1 \| FT accuracy \| FT macroF1/);
  assert.match(text, /\nmedmerge\s+\|/);
});

test('medforge --quick --mode both: versions per site, plugins, single-site + FedAvg with bytes', async () => {
  const file = path.join(tmp, 'medforge.json');
  const before = tf.memory().numTensors;
  const { code, text } = await run(medforgeCommand, [...TINY, '--samples', '6', '--sites', '2', '--budget', '3', '--width', '2', '--rank', '1', '--json', file]);
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
  const { code, text } = await run(m4oeCommand, [...TINY, '--samples', '4', '--width', '2', '--json', file]);
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

const BAD: [string, (argv: string[], out?: (s: string) => void) => Promise<number>, string[], RegExp][] = [
  ['unknown option', medmergeCommand, ['--bogus'], /Unknown option '--bogus'/],
  ['bad --task', medmergeCommand, ['--task', 'detection'], /--task must be 'segmentation' or 'classification', got 'detection'/],
  ['U-Net size', medmergeCommand, ['--size', '40'], /--size 40: the U-Net needs a multiple of 16 \(nearest: 48\)/],
  ['bad --data', medforgeCommand, ['--data', 'cloud'], /--data must be 'embedded' or 'real', got 'cloud'/],
  ['bad --mode', medforgeCommand, ['--mode', 'merge'], /--mode must be 'fusion' or 'mixture' or 'both'/],
  ['--public-site without real data', medforgeCommand, ['--public-site', 'rosendahl'], /--public-site applies to --data real only/],
  ['negative seed', m4oeCommand, ['--seed=-1'], /--seed must be an integer >= 0, got '-1'/],
  ['swin size', m4oeCommand, ['--builder', 'swin', '--size', '48'], /the Swin-Unet needs a multiple of 32/],
  ['bad --builder', m4oeCommand, ['--builder', 'resnet'], /--builder must be 'unet' or 'swin'/],
  ['missing option value', m4oeCommand, ['--json'], /--json/],
];

for (const [name, cmd, argv, message] of BAD) {
  test(`usage error -> exit 2 with a message and the usage: ${name}`, async () => {
    const { code, text } = await run(cmd, argv);
    assert.is(code, 2, text);
    assert.match(text, message);
    assert.match(text, /usage: medfl (medmerge|medforge|m4oe)/);
  });
}

test('--data real with a missing folder fails (exit 1) naming the path', async () => {
  const missing = path.join(tmp, 'no-such-data');
  for (const cmd of [medmergeCommand, medforgeCommand, m4oeCommand]) {
    const { code, text } = await run(cmd, ['--data', 'real', '--data-root', missing, '--quick']);
    assert.is(code, 1, text);
    assert.ok(text.includes(path.join(missing, cmd === medforgeCommand ? 'ham10000' : 'kvasir-seg')), text);
    assert.match(text, /--data-root or MEDFL_SHARED_DATA/);
  }
});

test('--help prints the usage and exits 0', async () => {
  const { code, text } = await run(m4oeCommand, ['--help']);
  assert.is(code, 0);
  assert.match(text, /^usage: medfl m4oe/);
});

test('data root: --data-root > MEDFL_SHARED_DATA > <repo>/../shared/data', () => {
  const root = repositoryRoot();
  assert.is(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).name, 'medfl');
  assert.is(repositoryRoot(path.join(root, 'src', 'experiment')), root);
  const saved = process.env.MEDFL_SHARED_DATA;
  try {
    delete process.env.MEDFL_SHARED_DATA;
    assert.is(sharedDataRoot(), path.resolve(root, '..', 'shared', 'data'));
    process.env.MEDFL_SHARED_DATA = tmp;
    assert.is(sharedDataRoot(), tmp);
    assert.is(sharedDataRoot('rel/dir'), path.resolve('rel/dir'));
  } finally {
    if (saved === undefined) delete process.env.MEDFL_SHARED_DATA;
    else process.env.MEDFL_SHARED_DATA = saved;
  }
});

test.run();
