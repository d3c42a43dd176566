/**
 * The experiment runner end to end on a tiny config: run folder contents,
 * atomic outputs, resume (a second run reloads instead of retraining and gives
 * the same rows), refusing a different config in the same folder, and the
 * shipped experiment configs all validate.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../src/backend';
import { validateExperiment, loadExperiment } from '../../src/experiment/config';
import { runExperimentConfig } from '../../src/experiment/runner';
import { compareRuns } from '../../src/experiment/compare';

const tiny = {
  name: 'tiny',
  seed: 0,
  data: { source: 'synthetic', task: 'polyp', sites: 2, samplesPerSite: 6, size: 32 },
  partition: { scheme: 'natural-id', column: 'site' },
  model: { name: 'unet', width: 2 },
  strategies: [{ name: 'fedavg' }, { name: 'splitfed', variant: 'v2', mode: 'u-shaped' }],
  budget: { rounds: 2, localEpochs: 1, batchSize: 4 },
  privacy: { siteInference: true },
};

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test('run folder holds config, per-strategy runs, summary and report; a re-run resumes to the same rows', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-runner-'));
  const cfg = validateExperiment(tiny, 'tiny.json');
  const lines: string[] = [];
  const first = await runExperimentConfig(cfg, { resultsDir: dir, log: (l) => lines.push(l) });
  const run = path.join(dir, 'tiny');
  for (const f of ['experiment.json', 'summary.csv', 'summary.json', 'report.html', 'fedavg/rounds.jsonl', 'fedavg/summary.json', 'splitfed-v2-u-shaped/config.json']) {
    assert.ok(fs.existsSync(path.join(run, f)), `${f} written`);
  }
  assert.not.ok(fs.readdirSync(run).some((f) => f.includes('.tmp')), 'no temp files left');
  const csv = fs.readFileSync(path.join(run, 'summary.csv'), 'utf8').trim().split('\n');
  assert.is(csv.length, 3, 'header + one row per strategy');
  assert.match(csv[0], /^cell,data,model,strategy,seed,fold,budget,dice_site-0,dice_site-1,pooled_dice,dice_image_lo,dice_image_hi/);
  assert.ok(lines.some((l) => /ETA/.test(l)), 'progress with ETA');
  assert.ok(first.rows.every((r) => Number.isFinite(r.siteAttackAccuracy)), 'site attack ran');
  assert.match(fs.readFileSync(path.join(run, 'report.html'), 'utf8'), /Pooled held-out Dice per round/);
  const second = await runExperimentConfig(cfg, { resultsDir: dir, log: () => {} });
  assert.equal(second.rows.map((r) => r.pooledDice), first.rows.map((r) => r.pooledDice), 'resume gives the same results');
  const other = validateExperiment({ ...tiny, seed: 5 }, 'tiny.json');
  let msg = '';
  try {
    await runExperimentConfig(other, { resultsDir: dir, log: () => {} });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.match(msg, /holds a run of a different config/);
  assert.match(compareRuns([run]), /fedavg/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('every shipped experiment config validates (normal and --quick)', () => {
  const dir = path.resolve(__dirname, '../../experiments');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 5, `configs found: ${files}`);
  for (const f of files) {
    const c = loadExperiment(path.join(dir, f));
    const q = loadExperiment(path.join(dir, f), { quick: true });
    assert.ok(c.strategies.length > 0 && q.strategies.length > 0, f);
    assert.is(c.name, path.basename(f, '.json'), `${f}: name matches the file name`);
  }
});

test.run();
