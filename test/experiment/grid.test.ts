/**
 * Experiment grids: expansion (ids, seeds, splits, budgets), the same numbers
 * with --jobs 1 and --jobs 2, a partial grid completed by a re-run, a
 * crashing cell retried once, Ctrl-C stopping cleanly, and the summary's
 * intervals and paired comparisons.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { initBackend } from '../../src/backend';
import { validateExperiment } from '../../src/experiment/config';
import { expandGrid, sitesKey } from '../../src/experiment/grid';
import { runExperimentConfig } from '../../src/experiment/runner';
import { tInterval } from '../../src/metrics/statistics';
import { compareRuns } from '../../src/experiment/compare';
import { summarizeGrid } from '../../src/experiment/grid-summary';
import { buildExperimentSites } from '../../src/experiment/sites';

const grid = {
  name: 'grid',
  data: { source: 'synthetic', sites: 2, samplesPerSite: 8, size: 16 },
  model: { name: 'unet', width: 2 },
  strategies: [{ name: 'local' }, { name: 'fedavg' }],
  seeds: [0, 1, 2],
  budget: { rounds: 2, batchSize: 4 },
};

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test('grid expansion: one cell per strategy x seed; ids name what varies; splits shared unless resplit; budget lists', () => {
  const cells = expandGrid(validateExperiment(grid));
  assert.equal(cells.map((c) => c.id), ['local__s0', 'local__s1', 'local__s2', 'fedavg__s0', 'fedavg__s1', 'fedavg__s2']);
  assert.equal(new Set(cells.map(sitesKey)).size, 1, 'same splits in every cell');
  assert.equal(cells.map((c) => c.seed), [0, 1, 2, 0, 1, 2]);
  const re = expandGrid(validateExperiment({ ...grid, resplit: true }));
  assert.equal(new Set(re.map(sitesKey)).size, 3, 'resplit: one split per seed');
  const big = expandGrid(validateExperiment({ ...grid, models: [{ name: 'unet', width: 2 }, { name: 'attention-unet', width: 2 }], model: undefined, seeds: [7], budget: { rounds: [1, 2], batchSize: 4 }, data: [grid.data, { ...grid.data, label: 'other', sites: 3 }] }));
  assert.is(big.length, 2 * 2 * 2 * 2);
  assert.equal(big[0].id, 'synthetic__unet-w2__local__r1');
  assert.equal(big.at(-1)!.id, 'other__attention-unet-w2__fedavg__r2');
  assert.equal(expandGrid(validateExperiment({ ...grid, seeds: [0] }))[0].id, 'local', 'one seed, one model, one dataset: the strategy label, as before grids');
});

test('k-fold grid: one cell per fold, every test image in exactly one fold, pairs on (seed, fold)', async () => {
  const cfg = validateExperiment({ ...grid, seeds: [0], split: { folds: 3 } });
  const cells = expandGrid(cfg);
  assert.equal(cells.map((c) => c.id), ['local__f0', 'local__f1', 'local__f2', 'fedavg__f0', 'fedavg__f1', 'fedavg__f2']);
  const tests = await Promise.all(cells.slice(0, 3).map(async (c) => (await buildExperimentSites(c)).sites.flatMap((s) => Array.from({ length: s.test.length }, (_, i) => s.test.info(i).id))));
  const all = tests.flat();
  assert.is(new Set(all).size, all.length, 'no image tested twice');
  assert.is(all.length, 16, 'every image tested once over the folds');
  const rows = cells.map((c, i) => ({ ...c.dims, cell: c.id, pooledDice: 0.5 + 0.01 * i, pooledIou: 0.4, bytesPerRound: 0, seconds: 1, dicePerSite: {}, diceImageInterval: [0, 1] as [number, number], totalBytes: 0, keptRound: 0, siteAttackAccuracy: NaN, siteAttackChance: NaN, siteFailures: [] }));
  const s = summarizeGrid(rows);
  assert.equal(s.groups[0].folds, [0, 1, 2]);
  assert.is(s.comparisons[0].result.n, 3);
  assert.ok(Math.abs(s.comparisons[0].result.meanDifference + 0.03) < 1e-12, 'local - fedavg = -0.03 on every (seed, fold) pair');
});

test('grid config errors: duplicate seeds, both model and models, duplicate labels, empty lists', () => {
  const msg = (raw: unknown) => {
    try {
      validateExperiment(raw);
      return '';
    } catch (e) {
      return (e as Error).message;
    }
  };
  assert.match(msg({ ...grid, seeds: [1, 1] }), /seeds: duplicate seeds/);
  assert.match(msg({ ...grid, models: [{ name: 'unet' }] }), /give either "model" or "models"/);
  assert.match(msg({ ...grid, model: undefined, models: [{ name: 'unet' }, { name: 'unet' }] }), /duplicate model label 'unet'/);
  assert.match(msg({ ...grid, seeds: [] }), /seeds: expected at least one seed/);
  assert.match(msg({ ...grid, budget: { rounds: [] } }), /budget\.rounds: expected at least one value/);
  assert.match(msg({ ...grid, budget: { rounds: [2, 0] } }), /budget\[1\]\.rounds: must be >= 1/);
});

test('--jobs 1 and --jobs 2 give the same numbers; summary: t intervals over seeds and paired comparisons', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-grid-'));
  try {
    const cfg = validateExperiment(grid);
    const one = await runExperimentConfig(cfg, { resultsDir: path.join(root, 'j1'), jobs: 1, log: () => {} });
    const two = await runExperimentConfig(cfg, { resultsDir: path.join(root, 'j2'), jobs: 2, log: () => {} });
    assert.equal(two.rows.map((r) => r.pooledDice), one.rows.map((r) => r.pooledDice), 'bit-identical Dice per cell');
    assert.equal(two.rows.map((r) => r.diceImageInterval), one.rows.map((r) => r.diceImageInterval));
    const fed = one.summary.groups.find((g) => g.strategy === 'fedavg')!;
    const dices = one.rows.filter((r) => r.strategy === 'fedavg').map((r) => r.pooledDice);
    assert.equal(fed.seeds, [0, 1, 2]);
    assert.equal(fed.dice, tInterval(dices));
    const cmp = one.summary.comparisons;
    assert.is(cmp.length, 1);
    assert.equal([cmp[0].a, cmp[0].b, cmp[0].seeds], ['local', 'fedavg', [0, 1, 2]]);
    const diffs = one.rows.filter((r) => r.strategy === 'local').map((r, i) => r.pooledDice - dices[i]);
    assert.ok(Math.abs(cmp[0].result.meanDifference - diffs.reduce((a, b) => a + b, 0) / 3) < 1e-12);
    for (const r of one.rows) assert.ok(r.diceImageInterval[0] <= r.pooledDice + 1e-9 && r.pooledDice <= r.diceImageInterval[1] + 1e-9, 'per-image interval around the seed mean');
    const json = JSON.parse(fs.readFileSync(path.join(one.dir, 'summary.json'), 'utf8'));
    assert.is(json.groups.length, 2);
    assert.match(json.settings, /seeds: 0, 1, 2 \(splits of seed 0\)/);
    assert.match(fs.readFileSync(path.join(one.dir, 'report.html'), 'utf8'), /95% t interval over 3 seed/);
    const table = compareRuns([one.dir, two.dir]);
    assert.match(table, new RegExp(`fedavg\\s+3\\s+${fed.dice.mean.toFixed(3)} \\[${fed.dice.lower.toFixed(3)}, ${fed.dice.upper.toFixed(3)}\\]`), table);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('validation splits from the config: best-validation-loss selection and convergence in every row; schedules reach the clients', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-gridval-'));
  try {
    const raw = { ...grid, seeds: [0], strategies: [{ name: 'fedavg' }], data: { ...grid.data, samplesPerSite: 12 }, split: { testFraction: 0.25, validationFraction: 0.25 }, budget: { rounds: 3, batchSize: 4 } };
    const cfg = validateExperiment({ ...raw, learningRateSchedule: { name: 'cosine' } });
    const run = await runExperimentConfig(cfg, { resultsDir: path.join(root, 'a'), jobs: 1, log: () => {} });
    const r = run.rows[0];
    assert.ok(r.keptRound >= 0 && r.keptRound <= 2, `kept round ${r.keptRound}`);
    assert.type(r.converged, 'boolean');
    const summary = JSON.parse(fs.readFileSync(path.join(run.dir, 'fedavg', 'summary.json'), 'utf8'));
    assert.is(summary.selection, 'best-validation-loss');
    const constant = await runExperimentConfig(validateExperiment(raw), { resultsDir: path.join(root, 'b'), jobs: 1, log: () => {} });
    const lastLoss = (dir: string) => {
      const lines = fs.readFileSync(path.join(dir, 'fedavg', 'rounds.jsonl'), 'utf8').trim().split('\n');
      return JSON.stringify(JSON.parse(lines[lines.length - 1]).trainLoss);
    };
    assert.is.not(lastLoss(constant.dir), lastLoss(run.dir), 'the cosine schedule changes training (epochs after the first)');
    assert.match(fs.readFileSync(path.join(run.dir, 'summary.csv'), 'utf8'), /kept_round,converged/);
    assert.throws(() => validateExperiment({ ...grid, selection: 'best-validation-loss' }), /needs validation splits/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a partial grid (cells missing or interrupted) is completed by a re-run with the same numbers; a crashing cell is retried once', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-grid2-'));
  try {
    const cfg = validateExperiment({ ...grid, seeds: [0, 1] });
    const full = await runExperimentConfig(cfg, { resultsDir: path.join(root, 'full'), jobs: 1, log: () => {} });
    // simulate a grid killed mid-way: one cell never started, one interrupted after its first round
    const part = path.join(root, 'part');
    await runExperimentConfig(cfg, { resultsDir: part, jobs: 1, log: () => {} });
    const dir = path.join(part, 'grid');
    fs.rmSync(path.join(dir, 'fedavg__s1'), { recursive: true });
    fs.rmSync(path.join(dir, 'local__s0', 'cell.json'));
    fs.rmSync(path.join(dir, 'local__s0', 'summary.json'));
    const lines = fs.readFileSync(path.join(dir, 'local__s0', 'rounds.jsonl'), 'utf8').trim().split('\n');
    fs.writeFileSync(path.join(dir, 'local__s0', 'rounds.jsonl'), lines.slice(0, 1).join('\n') + '\n');
    const log: string[] = [];
    process.env.MEDFL_TEST_CRASH_CELL = 'fedavg__s1';
    let again;
    try {
      again = await runExperimentConfig(cfg, { resultsDir: part, jobs: 2, log: (l) => log.push(l) });
    } finally {
      delete process.env.MEDFL_TEST_CRASH_CELL;
    }
    assert.ok(log.some((l) => /2 already done, 2 to run/.test(l)), log.join('\n'));
    assert.ok(log.some((l) => /cell fedavg__s1 crashed \(exit 70\); retrying once/.test(l)), 'the crash is reported');
    assert.equal(again.rows.map((r) => r.pooledDice), full.rows.map((r) => r.pooledDice));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('Ctrl-C stops the grid cleanly (exit non-zero, lock released); the re-run completes it with the same numbers', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-grid3-'));
  try {
    const file = path.join(root, 'experiments', 'grid.json');
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(file, JSON.stringify({ ...grid, budget: { rounds: 3, batchSize: 4 } }));
    const cli = path.join(__dirname, '..', '..', 'src', 'cli.ts');
    const run = (jobs: number) =>
      spawn(process.execPath, ['-r', require.resolve('tsx/cjs'), cli, 'run', file, '--results', path.join(root, 'results'), '--jobs', String(jobs)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const first = run(2);
    let out = '';
    first.stdout.on('data', (d) => {
      out += d.toString();
      if (/\[grid\] 1\/6 done/.test(out)) first.kill('SIGINT');
    });
    first.stderr.on('data', (d) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => first.on('close', (c) => resolve(c)));
    assert.is.not(code, 0, out);
    assert.match(out, /stopped by Ctrl-C/);
    assert.not.ok(fs.existsSync(path.join(root, 'results', 'grid', '.medfl.lock')), 'lock released');
    const second = run(1);
    let out2 = '';
    second.stdout.on('data', (d) => (out2 += d.toString()));
    second.stderr.on('data', (d) => (out2 += d.toString()));
    assert.is(await new Promise<number | null>((resolve) => second.on('close', (c) => resolve(c))), 0, out2);
    const rows = JSON.parse(fs.readFileSync(path.join(root, 'results', 'grid', 'summary.json'), 'utf8')).rows;
    const clean = await runExperimentConfig(validateExperiment({ ...grid, budget: { rounds: 3, batchSize: 4 } }), { resultsDir: path.join(root, 'clean'), jobs: 1, log: () => {} });
    assert.equal(rows.map((r: { pooledDice: number }) => r.pooledDice), clean.rows.map((r) => r.pooledDice));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test.run();
