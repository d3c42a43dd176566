/**
 * The runner as an attacker and a careless user would drive it: names and
 * labels that escape the results folder, an unvalidated quick block, a
 * corrupt image in a training split, two runners on one experiment.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { initBackend } from '../../src/backend';
import { ConfigError, validateExperiment } from '../../src/experiment/config';
import { runExperiment, runExperimentConfig } from '../../src/experiment/runner';
import { acquireRunLock } from '../../src/fl/results';

const tiny = {
  name: 'tiny',
  data: { source: 'synthetic', sites: 2, samplesPerSite: 6, size: 16 },
  model: { name: 'unet', width: 2 },
  strategies: [{ name: 'local' }],
  budget: { rounds: 1, batchSize: 4 },
};

function problems(raw: unknown, quick = false): string[] {
  try {
    validateExperiment(raw, 'x.json', { quick });
  } catch (e) {
    assert.instance(e, ConfigError);
    return (e as ConfigError).problems;
  }
  return [];
}

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test('names and labels that would leave the results folder are refused, also through the quick block', () => {
  assert.ok(problems({ ...tiny, name: '../../victim' }).some((m) => /^name: "\.\.\/\.\.\/victim" is not a safe folder name/.test(m)));
  assert.ok(problems({ ...tiny, strategies: [{ name: 'local', label: '.' }] }).some((m) => /label: "\." is not a safe label/.test(m)));
  assert.ok(problems({ ...tiny, quick: { name: '../../victim' } }).some((m) => /name: "\.\.\/\.\.\/victim" is not a safe folder name.*\(with the quick overrides\)/.test(m)));
  assert.ok(problems({ ...tiny, quick: { name: '../../victim' } }, true).some((m) => /^name: "\.\.\/\.\.\/victim"/.test(m)));
  assert.ok(problems({ ...tiny, quick: { strategies: [{ name: 'local', label: '../../y' }] } }).some((m) => /not a safe label/.test(m)));
});

test('the quick block is validated like the rest: unknown keys and bad values', () => {
  assert.ok(problems({ ...tiny, quick: { bogus: 1 } }).some((m) => /^quick\.bogus: unknown key/.test(m)));
  assert.ok(problems({ ...tiny, quick: { budget: { rounds: 0 } } }).some((m) => /budget\.rounds: must be >= 1, got 0 \(with the quick overrides\)/.test(m)));
  assert.ok(problems({ ...tiny, quick: { data: { samplesPerSite: 'x' } } }, true).some((m) => /^data\.samplesPerSite: expected an integer/.test(m)));
  assert.equal(problems({ ...tiny, quick: { budget: { rounds: 1 } } }), []);
});

test('a config that escapes despite validation (built by hand) is refused before anything is written', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-esc-'));
  const results = path.join(root, 'results');
  fs.mkdirSync(results);
  try {
    const cfg = validateExperiment(tiny);
    await runExperimentConfig({ ...cfg, name: '../victim' }, { resultsDir: results, log: () => {} }).then(
      () => assert.unreachable('must refuse'),
      (e: Error) => assert.match(e.message, /would write outside the results folder/),
    );
    await runExperimentConfig({ ...cfg, strategies: [{ ...cfg.strategies[0], label: '../../victim' }] }, { resultsDir: results, log: () => {} }).then(
      () => assert.unreachable('must refuse'),
      (e: Error) => assert.match(e.message, /would write outside the results folder/),
    );
    assert.equal(fs.readdirSync(root).sort(), ['results']);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('two runners on one experiment: the second is refused while the first holds the folder', async () => {
  const results = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-lock2-'));
  try {
    const release = acquireRunLock(path.join(results, 'tiny'));
    await runExperimentConfig(validateExperiment(tiny), { resultsDir: results, log: () => {} }).then(
      () => assert.unreachable('must refuse'),
      (e: Error) => assert.match(e.message, /in use by process/),
    );
    release();
    const run = await runExperimentConfig(validateExperiment(tiny), { resultsDir: results, log: () => {} });
    assert.is(run.rows.length, 1);
  } finally {
    fs.rmSync(results, { recursive: true, force: true });
  }
});

test('a corrupt image in the training data: drops printed, summary and report flag it, the run fails naming the file', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-corrupt-'));
  try {
    const images = path.join(root, 'data', 'images');
    const masks = path.join(root, 'data', 'masks');
    fs.mkdirSync(images, { recursive: true });
    fs.mkdirSync(masks, { recursive: true });
    for (let k = 0; k < 8; k++) {
      const name = `img${k}`;
      const px = Buffer.alloc(16 * 16 * 3, 40 + 20 * k);
      await sharp(px, { raw: { width: 16, height: 16, channels: 3 } }).png().toFile(path.join(images, `${name}.png`));
      const m = Buffer.alloc(16 * 16, 0);
      for (let i = 0; i < 64; i++) m[i] = 255;
      await sharp(m, { raw: { width: 16, height: 16, channels: 1 } }).png().toFile(path.join(masks, `${name}.png`));
    }
    // every image of the second half is corrupt: the site that gets them fails whenever it trains
    for (let k = 4; k < 8; k++) fs.writeFileSync(path.join(images, `img${k}.png`), 'not a png');
    const exp = {
      name: 'corrupt',
      data: { source: 'folder', images: 'data/images', masks: 'data/masks', size: 16 },
      partition: { scheme: 'natural-id', column: 'half' },
      model: { name: 'unet', width: 2 },
      strategies: [{ name: 'fedavg' }, { name: 'centralized' }],
      budget: { rounds: 2, batchSize: 4 },
    };
    void exp;
    fs.mkdirSync(path.join(root, 'experiments'));
    const iid = { ...exp, partition: { scheme: 'iid', sites: 2 } };
    fs.writeFileSync(path.join(root, 'experiments', 'corrupt.json'), JSON.stringify(iid));
    const lines: string[] = [];
    const results = path.join(root, 'results');
    const err = await runExperiment(path.join(root, 'experiments', 'corrupt.json'), { resultsDir: results, log: (l) => lines.push(l) }).then(
      () => null,
      (e: Error) => e,
    );
    assert.ok(err, 'the run fails');
    assert.match(err!.message, /img[4-7]\.png/, 'the message names the corrupt file');
    assert.ok(lines.some((l) => /dropped: .*img[4-7]\.png/.test(l)), 'drops are printed\n' + lines.join('\n') + '\nERR ' + err!.stack);
    const summary = JSON.parse(fs.readFileSync(path.join(results, 'corrupt', 'summary.json'), 'utf8'));
    assert.ok(summary.rows.some((r: { failed?: string }) => r.failed && /img[4-7]\.png/.test(r.failed)));
    assert.match(fs.readFileSync(path.join(results, 'corrupt', 'report.html'), 'utf8'), /site failures:/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test.run();
