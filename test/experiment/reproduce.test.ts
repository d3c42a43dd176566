/**
 * `medfl reproduce`: data folders and --data parsing, a method recipe's seeds
 * (verdicts, resume, refusal on other data), grid rows pairing across grids,
 * and the paper-scale memory check refusing what cannot fit.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../src/backend';
import { gridClaimRow, parseDataOption, paperScalePlan, resolveDataRoots, runRecipe, getRecipe, PAPERS } from '../../src/experiment/reproduce';
import { judgeClaim, summarizeArms } from '../../src/metrics/claims';
import type { MethodRecipe } from '../../src/metrics/recipe';
import { runExperimentConfig, type ExperimentRow } from '../../src/experiment/runner';
import { validateExperiment } from '../../src/experiment/config';
import { cellPredictions } from '../../src/experiment/predictions';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-reproduce-'));

test('--data: KEY=DIR pairs; unknown keys and missing folders are refused by name; env and shared fallbacks', () => {
  assert.equal(parseDataOption('kvasir=/a,ham10000=/b'), { kvasir: '/a', ham10000: '/b' });
  assert.equal(parseDataOption(undefined), {});
  assert.throws(() => parseDataOption('kvasir'), /expected KEY=DIR pairs/);
  const dir = tmp();
  assert.throws(() => resolveDataRoots({ kvasr: dir }), /unknown dataset 'kvasr'; expected kvasir=DIR, ham10000=DIR, cvc=DIR/);
  assert.throws(() => resolveDataRoots({ kvasir: path.join(dir, 'nope') }), /--data kvasir=.*nope: folder not found/);
  assert.is(resolveDataRoots({ kvasir: dir }, {}).kvasir, dir);
  assert.is(resolveDataRoots({}, { MEDFL_DATA_CVC: dir }).cvc, dir);
  assert.throws(() => resolveDataRoots({}, { MEDFL_DATA_HAM10000: path.join(dir, 'gone') }), /ham10000=.*gone: folder not found/);
});

test('every paper of the table has claims, settings with a basis, departures and at least 3 seeds', () => {
  assert.equal(PAPERS, ['medsegnet10', 'multisite-ct', 'medmerge', 'm4oe', 'medforge']);
  for (const p of PAPERS) {
    const r = getRecipe(p);
    assert.ok(r.claims.length >= 2, p);
    assert.ok(r.seeds >= 3, p);
    assert.ok(r.departures.length >= 1, p);
    for (const scale of ['cpu', 'paper'] as const) {
      for (const s of r.settings(scale)) {
        assert.ok(['paper', 'released code', 'our choice', 'cpu scale'].includes(s.basis), `${p} ${s.setting}`);
        if (s.basis === 'our choice' || s.basis === 'cpu scale') assert.ok(s.why, `${p} ${scale} '${s.setting}' needs a why`);
      }
    }
    assert.ok(new Set(r.claims.map((c) => c.id)).size === r.claims.length, `${p}: claim ids unique`);
  }
  assert.throws(() => getRecipe('medsegnet'), /unknown paper 'medsegnet'; expected one of medsegnet10, multisite-ct/);
});

/** A method recipe with known effects: 'good' = 0.6 + noise(seed), 'base' = 0.5 + noise(seed), 'bad' = 0.4 + noise(seed). */
function fakeRecipe(calls: number[]): MethodRecipe {
  const noise = [0.03, -0.02, 0.01, 0.0];
  return {
    kind: 'method',
    id: 'fake-paper',
    title: 'Fake',
    citation: 'none',
    summary: 'a recipe with known effects',
    claims: [
      { id: 'g>b', text: 'good > base', paper: '+0.1', metric: 'score', kind: 'greater', a: { method: 'good' }, b: { method: 'base' } },
      { id: 'bad>b', text: 'bad > base', paper: '+0.1', metric: 'score', kind: 'greater', a: { method: 'bad' }, b: { method: 'base' } },
      { id: 'n>b', text: 'noisy > base', paper: '+0.1', metric: 'score', kind: 'greater', a: { method: 'noisy' }, b: { method: 'base' } },
    ],
    settings: () => [{ setting: 'x', value: '1', basis: 'our choice', why: 'test' }],
    departures: ['a fake'],
    seeds: 3,
    inputs: () => ({ effect: 0.1 }),
    async runSeed(ctx, seed) {
      calls.push(seed);
      const n = noise[seed];
      const rows = [
        { seed, arm: { method: 'good' }, metrics: { score: 0.6 + n + 0.001 * seed } },
        { seed, arm: { method: 'base' }, metrics: { score: 0.5 + n } },
        { seed, arm: { method: 'bad' }, metrics: { score: 0.4 + n - 0.001 * seed } },
        { seed, arm: { method: 'noisy' }, metrics: { score: 0.5 + n + [0.05, -0.05, 0.02, 0][seed] } },
      ];
      return { rows, detail: { quick: ctx.quick } };
    },
  };
}

test('a method recipe: seeds run once, verdicts follow the known effects, a re-run resumes, other data is refused', async () => {
  const dir = tmp();
  const calls: number[] = [];
  const lines: string[] = [];
  const r = await runRecipe(fakeRecipe(calls), { resultsDir: dir, log: (l) => lines.push(l), data: {} });
  assert.equal(calls, [0, 1, 2]);
  assert.equal(r.verdicts.map((v) => v.verdict), ['reproduced', 'contradicted', 'inconclusive']);
  for (const f of ['claims.json', 'claims.md', 'claims.txt', 'seed-0.json', 'reproduce.json']) assert.ok(fs.existsSync(path.join(r.dir, f)), f);
  assert.match(fs.readFileSync(path.join(r.dir, 'claims.md'), 'utf8'), /\| good > base \| \+0\.1 \| \+0\.10\d \[/);
  const again = await runRecipe(fakeRecipe(calls), { resultsDir: dir, log: () => {}, data: {} });
  assert.equal(calls, [0, 1, 2], 'resumed: no seed ran again');
  assert.equal(again.verdicts.map((v) => v.verdict), r.verdicts.map((v) => v.verdict));
  const more = await runRecipe(fakeRecipe(calls), { resultsDir: dir, log: () => {}, data: {}, seeds: 4 });
  assert.equal(calls, [0, 1, 2, 3], 'a fourth seed adds one run');
  assert.is(more.rows.filter((x) => x.arm.method === 'good').length, 4);
  const other = tmp();
  const err = await runRecipe(fakeRecipe(calls), { resultsDir: dir, log: () => {}, data: { kvasir: other } }).then(() => null, (e: Error) => e);
  assert.match(String(err?.message), /holds a reproduction with other settings or data/);
  const arms = summarizeArms(r.rows, 'score');
  assert.equal(arms.map((a) => a.arm), ['good', 'base', 'bad', 'noisy']);
  assert.ok(arms[0].lower < arms[0].mean && arms[0].mean < arms[0].upper);
});

test('grid rows: the budget is a coordinate only when the grid varies it, so single-budget grids pair (IIL vs FedAvg)', () => {
  const row = (strategy: string, seed: number, dice: number, budget: string): ExperimentRow => ({ cell: `${strategy}${seed}`, data: 'd', model: 'unet', strategy, seed, fold: 0, budget, dicePerSite: { a: dice, b: dice - 0.1 }, pooledDice: dice, pooledIou: dice - 0.2, diceImageInterval: [NaN, NaN], bytesPerRound: 0, totalBytes: 10, seconds: 1, keptRound: 0, siteAttackAccuracy: 0.5, siteAttackChance: 0.25, siteFailures: [] });
  const rows = [0, 1, 2].flatMap((s) => [gridClaimRow('g', row('fedavg', s, 0.6 + 0.01 * s, 'r10')), gridClaimRow('g-iil', row('iil', s, 0.4 + 0.012 * s, 'r1'))]);
  assert.equal(rows[0].metrics.worstSiteDice, 0.5);
  assert.ok(Math.abs(rows[0].metrics.attackOverChance - 0.25) < 1e-12);
  const v = judgeClaim({ id: 'x', text: 'x', paper: '', metric: 'dice', kind: 'greater', a: { grid: 'g', strategy: 'fedavg' }, b: { grid: 'g-iil', strategy: 'iil' } }, rows);
  assert.match(v.measured, /\(3 pairs\)/);
  assert.is(gridClaimRow('g', row('fedavg', 0, 0.5, 'r10'), { budget: true }).arm.budget, 'r10');
});

test('paper scale: a model that does not fit is refused with the batch that would; one that fits is estimated', async () => {
  const recipe = getRecipe('medforge');
  const lines: string[] = [];
  const tight = await paperScalePlan(recipe, 3, (l) => lines.push(l), { memoryLimit: 200 * 2 ** 20, measure: false });
  assert.is(tight.fits, false);
  assert.match(tight.problems[0], /unet width 64 at 256 px, batch 8: needs about .* the engine allows 200\.0 MiB; (batch \d+ would fit|even batch 1 does not fit)/);
  const roomy = await paperScalePlan(recipe, 3, () => {}, { memoryLimit: 64 * 2 ** 30, measure: false });
  assert.is(roomy.fits, true);
  assert.match(lines.join('\n'), /training memory/);
});

test('example predictions of a finished cell: its kept model on its own test images; local-only has no global model', async () => {
  const dir = tmp();
  const cfg = validateExperiment({ name: 'pred', data: { source: 'synthetic', task: 'lesion', sites: 2, samplesPerSite: 8, size: 32 }, partition: { scheme: 'natural-id', column: 'site' }, model: { name: 'unet', width: 2 }, strategies: [{ name: 'fedavg' }, { name: 'local' }], budget: { rounds: 1, localEpochs: 1 } });
  const run = await runExperimentConfig(cfg, { resultsDir: dir, log: () => {} });
  const panels = await cellPredictions(run.dir, 'fedavg', { count: 3 });
  assert.is(panels.length, 3);
  for (const p of panels) {
    assert.equal(p.shape, [32, 32, 3]);
    assert.is(p.prediction?.length, 32 * 32);
    assert.is(p.mask?.length, 32 * 32);
    assert.ok(p.prediction?.every((v) => v === 0 || v === 1));
  }
  const err = await cellPredictions(run.dir, 'local').then(() => null, (e: Error) => e);
  assert.match(String(err?.message), /no checkpoint with a global model|local/);
});

test.run();
