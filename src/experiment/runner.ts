/**
 * The experiment runner behind `medfl run experiments/<name>.json [--quick]`.
 *
 * A run folder `experiments/results/<name>[-quick]/` holds:
 *   experiment.json       the validated config, seed, backend, quick flag
 *   <strategy>/           one run folder per strategy (src/fl/results.ts:
 *                         config.json, rounds.jsonl, checkpoint/, summary.json, summary.csv)
 *   summary.csv           one row per strategy (Dice per site, pooled Dice/IoU, bytes, seconds)
 *   summary.json          the same rows as JSON
 *   report.html           plotly report (curves per round, final Dice per site)
 * Everything is written atomically (temp file + rename). Re-running the same
 * command resumes: finished strategies are reloaded, an interrupted one
 * continues from its last completed round.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { checkDropout, runFederated } from '../fl/rounds';
import { createStrategy, LABEL_PATTERN } from '../fl/registry';
import { resolveRunConfig } from '../fl/strategy';
import type { Site } from '../data/site';
import { pooledTest } from '../data/site';
import { writeFileAtomic } from '../fl/results';
import { getWeights, setWeights, weightSpecs } from '../models/weights';
import { SiteFailureError, type FederatedResult, type StrategyConfig } from '../fl/types';
import { acquireRunLock } from '../fl/results';
import { createModel } from '../models/registry';
import { siteInferenceAttack } from '../fl/privacy/site-inference';
import { lineChart, groupedBarChart, figureHtml } from '../viz';
import { formatTable, formatSeconds, formatBytes } from '../util/table';
import { loadExperiment, type ExperimentConfig } from './config';
import { buildExperimentSites } from './sites';

/** Options of {@link runExperiment}. */
export interface RunOptions {
  /** Apply the config's `quick` overrides (small data, few rounds). */
  quick?: boolean;
  /** Where run folders go. Default `experiments/results` under the current directory. */
  resultsDir?: string;
  /** Base for relative data paths. Default: the config file's folder's parent (the repository root for experiments/). */
  baseDir?: string;
  /** Progress lines. Default console.log. */
  log?: (line: string) => void;
}

/** One row of an experiment's summary. */
export interface ExperimentRow {
  strategy: string;
  dicePerSite: Record<string, number>;
  pooledDice: number;
  pooledIou: number;
  bytesPerRound: number;
  totalBytes: number;
  seconds: number;
  /** Site-inference attack accuracy on the final model (NaN when not run). */
  siteAttackAccuracy: number;
  siteAttackChance: number;
  /** Sites whose training threw, as 'site (rounds r, ...): message'; empty when none. */
  siteFailures: string[];
  /** Set when a site failed in every round it was selected: the row is not a valid result. */
  failed?: string;
}

/** What {@link runExperiment} produced. */
export interface ExperimentRun {
  dir: string;
  config: ExperimentConfig;
  rows: ExperimentRow[];
  results: FederatedResult[];
}

function strategyConfig(s: ExperimentConfig['strategies'][number]): StrategyConfig {
  const { label: _label, ...rest } = s;
  return rest as unknown as StrategyConfig;
}

function csvCell(v: unknown): string {
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(Number(v.toFixed(6))) : '') : String(v ?? '');
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Rows as CSV (one column per site's Dice). */
export function rowsToCsv(rows: readonly ExperimentRow[]): string {
  const sites = [...new Set(rows.flatMap((r) => Object.keys(r.dicePerSite)))].sort();
  const head = ['strategy', ...sites.map((s) => `dice_${s}`), 'pooled_dice', 'pooled_iou', 'bytes_per_round', 'total_bytes', 'seconds', 'site_attack_accuracy', 'site_attack_chance', 'site_failures', 'failed'];
  const lines = rows.map((r) =>
    [r.strategy, ...sites.map((s) => r.dicePerSite[s]), r.pooledDice, r.pooledIou, r.bytesPerRound, r.totalBytes, r.seconds, r.siteAttackAccuracy, r.siteAttackChance, (r.siteFailures ?? []).join('; '), r.failed ?? ''].map(csvCell).join(','),
  );
  return [head.join(','), ...lines].join('\n') + '\n';
}

/** Rows as a text table. */
export function formatRows(rows: readonly ExperimentRow[]): string {
  const sites = [...new Set(rows.flatMap((r) => Object.keys(r.dicePerSite)))].sort();
  const attack = rows.some((r) => Number.isFinite(r.siteAttackAccuracy));
  return formatTable(
    ['strategy', ...sites, 'pooled Dice', 'pooled IoU', 'bytes/round', ...(attack ? ['site attack acc'] : []), 'seconds'],
    rows.map((r) => [
      r.strategy,
      ...sites.map((s) => r.dicePerSite[s] ?? NaN),
      r.pooledDice,
      r.pooledIou,
      formatBytes(r.bytesPerRound),
      ...(attack ? [Number.isFinite(r.siteAttackAccuracy) ? `${r.siteAttackAccuracy.toFixed(3)} (chance ${r.siteAttackChance.toFixed(2)})` : '-'] : []),
      r.seconds,
    ]),
  ) + failureLines(rows);
}

/** One line per site failure (empty string when none): drops are never silent. */
function failureLines(rows: readonly ExperimentRow[]): string {
  const lines = rows.flatMap((r) => [...(r.failed ? [`${r.strategy}: FAILED (a site failed in every round)`] : []), ...(r.siteFailures ?? []).map((f) => `${r.strategy}: site ${f}`)]);
  return lines.length ? `\n\nsite failures:\n${lines.map((l) => `  ${l}`).join('\n')}` : '';
}

function report(cfg: ExperimentConfig, rows: readonly ExperimentRow[], results: readonly FederatedResult[]): string {
  const curves = lineChart(
    results.map((r, i) => ({ name: rows[i].strategy, x: r.records.map((rec) => rec.round + 1), y: r.records.map((rec) => rec.pooled?.dice ?? null) })),
    { title: 'Pooled held-out Dice per round', xTitle: 'round', yTitle: 'Dice', yRange: [0, 1], markers: true },
  );
  const loss = lineChart(
    results.map((r, i) => ({
      name: rows[i].strategy,
      x: r.records.map((rec) => rec.round + 1),
      y: r.records.map((rec) => {
        const v = Object.values(rec.trainLoss);
        return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
      }),
    })),
    { title: 'Mean training loss per round', xTitle: 'round', yTitle: 'loss', markers: true },
  );
  const sites = [...new Set(rows.flatMap((r) => Object.keys(r.dicePerSite)))].sort();
  const bars = groupedBarChart(
    rows.flatMap((r) => sites.map((site) => ({ site, strategy: r.strategy, dice: r.dicePerSite[site] ?? null }))),
    { x: 'site', y: 'dice', group: 'strategy', title: 'Final held-out Dice per site', yTitle: 'Dice', yRange: [0, 1] },
  );
  const table = `<pre>${formatRows(rows).replace(/&/g, '&amp;').replace(/</g, '&lt;')}</pre>`;
  return figureHtml([curves, loss, bars], `medfl: ${cfg.name}`, { description: `${cfg.description}${cfg.mirrors ? ` Mirrors: ${cfg.mirrors}.` : ''}`, appendHtml: table });
}

/** Run (or resume) an experiment from a validated config. */
export async function runExperimentConfig(cfg: ExperimentConfig, options: RunOptions & { quick?: boolean } = {}): Promise<ExperimentRun> {
  const log = options.log ?? ((l: string) => console.log(l));
  const info = await initBackend(undefined, { log });
  const resultsDir = path.resolve(options.resultsDir ?? path.join('experiments', 'results'));
  const dir = inside(resultsDir, `${cfg.name}${options.quick ? '-quick' : ''}`);
  const unlock = acquireRunLock(dir);
  try {
    return await runLocked(cfg, options, dir, log, info.name);
  } finally {
    unlock();
  }
}

/** `root/name`, refusing any name that would resolve outside `root` (path traversal). */
function inside(root: string, name: string): string {
  const p = path.resolve(root, name);
  if (!p.startsWith(root + path.sep) || !LABEL_PATTERN.test(path.basename(p)) || path.dirname(p) !== root) {
    throw new Error(`'${name}' would write outside the results folder '${root}': names and labels must be plain folder names (letters, digits, '.', '_', '-')`);
  }
  return p;
}

/**
 * Build every strategy once (model, split, options) and check the dropout
 * schedule against the built sites, so nothing trains when any strategy of the
 * experiment cannot run (a bad split `cut`, a strategy whose factory throws).
 */
function preflight(cfg: ExperimentConfig, sites: readonly Site[], inputShape: [number, number, number]): void {
  const problems = checkDropout(cfg.dropout, sites.map((s) => s.name), cfg.budget.rounds);
  for (const s of cfg.strategies) {
    const m = createModel(cfg.model.name, { inputShape, numClasses: 1, width: cfg.model.width, seed: cfg.seed });
    try {
      const config = resolveRunConfig({ strategy: s, model: { name: cfg.model.name, inputShape, width: cfg.model.width }, rounds: cfg.budget.rounds, seed: cfg.seed });
      createStrategy(s, { config, model: m, initial: getWeights(m), specs: weightSpecs(m), sites: [...sites] }).dispose?.();
    } catch (e) {
      problems.push(`strategy '${s.label}': ${(e as Error).message}`);
    } finally {
      m.dispose();
    }
  }
  if (problems.length) throw new Error(`experiment '${cfg.name}' cannot run (nothing was trained):\n  - ${problems.join('\n  - ')}`);
}

async function runLocked(cfg: ExperimentConfig, options: RunOptions, dir: string, log: (line: string) => void, backendName: string): Promise<ExperimentRun> {
  for (const s of cfg.strategies) inside(dir, s.label); // every folder this run writes, checked before anything is
  fs.mkdirSync(dir, { recursive: true });
  const expFile = path.join(dir, 'experiment.json');
  const stored = fs.existsSync(expFile) ? (JSON.parse(fs.readFileSync(expFile, 'utf8')) as { config: ExperimentConfig }) : null;
  // Progress = a strategy run folder exists; a folder without progress (a run that failed before training) takes a corrected config.
  const progress = fs.readdirSync(dir).some((e) => fs.existsSync(path.join(dir, e, 'config.json')));
  if (stored && progress && JSON.stringify(stored.config) !== JSON.stringify(cfg)) {
    throw new Error(`${dir} holds a run of a different config; delete the folder or rename the experiment to start over`);
  }

  const built = await buildExperimentSites(cfg, options.baseDir ?? process.cwd());
  for (const l of built.describe) log(`[medfl] ${l}`);
  // Every loader resizes to data.size and converts to data.channels (default 3): the input shape is known without decoding an image.
  const inputShape: [number, number, number] = [cfg.data.size, cfg.data.size, (cfg.data.channels as number | undefined) ?? 3];
  preflight(cfg, built.sites, inputShape);
  if (!stored || !progress) writeFileAtomic(expFile, JSON.stringify({ config: cfg, seed: cfg.seed, backend: backendName, quick: !!options.quick, startedAt: new Date().toISOString() }, null, 2) + '\n');
  const evalSites = built.sites.filter((s) => s.test.length > 0);
  const globalTest = pooledTest(evalSites);
  const model = { name: cfg.model.name, inputShape, numClasses: 1, width: cfg.model.width };
  const total = cfg.strategies.length * cfg.budget.rounds;
  let done = 0;
  const t0 = Date.now();
  const rows: ExperimentRow[] = [];
  const results: FederatedResult[] = [];
  for (const s of cfg.strategies) {
    const sdir = inside(dir, s.label);
    const resume = fs.existsSync(path.join(sdir, 'config.json'));
    log(`[medfl] ${s.label}: ${resume ? 'resuming' : 'starting'} (${cfg.budget.rounds} rounds x ${cfg.budget.localEpochs} local epochs)`);
    let res: FederatedResult;
    let failed: string | undefined;
    try {
      res = await runFederated(
      {
        strategy: strategyConfig(s),
        model,
        rounds: cfg.budget.rounds,
        localEpochs: cfg.budget.localEpochs,
        batchSize: cfg.budget.batchSize,
        learningRate: cfg.budget.learningRate,
        seed: cfg.seed,
        workers: cfg.budget.workers,
        dropout: cfg.dropout,
        siteFailures: cfg.siteFailures,
        ...(resume ? { resume: sdir } : { outDir: sdir }),
      },
      built.sites,
      globalTest,
      {
        onRound: (rec) => {
          done++;
          const el = (Date.now() - t0) / 1000;
          log(`  ${s.label.padEnd(24)} round ${rec.round + 1}/${cfg.budget.rounds}  pooled Dice ${rec.pooled ? rec.pooled.dice.toFixed(3) : '  -  '}  [${done}/${total}] elapsed ${formatSeconds(el)} ETA ${formatSeconds((el / done) * (total - done))}`);
          for (const d of rec.dropped) if (d.reason === 'error') log(`  ${s.label.padEnd(24)} round ${rec.round + 1}: site '${d.site}' dropped: ${d.message}`);
        },
      },
    );
    } catch (e) {
      if (!(e instanceof SiteFailureError)) throw e;
      res = e.result;
      failed = e.message;
      log(`[medfl] ${s.label}: FAILED: ${e.message}`);
    }
    const fin = res.summary.final;
    let attack = { accuracy: NaN, chance: NaN };
    if (cfg.privacy.siteInference) {
      // The deployed model(s): the global model, or each site's own model for 'local' (accuracy averaged).
      const weightSets = res.globalWeights.length ? [res.globalWeights] : Object.values(res.siteWeights);
      const accs: number[] = [];
      for (const w of weightSets) {
        const m = createModel(cfg.model.name, { inputShape, numClasses: 1, width: cfg.model.width, seed: cfg.seed });
        try {
          setWeights(m, w);
          const rep = await siteInferenceAttack(m, globalTest, { seed: cfg.seed });
          accs.push(rep.accuracy);
          attack.chance = rep.chance.uniform;
        } finally {
          m.dispose();
        }
      }
      attack.accuracy = accs.reduce((a, b) => a + b, 0) / Math.max(1, accs.length);
    }
    rows.push({
      strategy: s.label,
      dicePerSite: Object.fromEntries(Object.entries(fin.test ?? {}).filter(([, v]) => v.images > 0).map(([k, v]) => [k, v.dice])),
      pooledDice: fin.pooled?.dice ?? NaN,
      pooledIou: fin.pooled?.iou ?? NaN,
      bytesPerRound: res.summary.bytesPerRound,
      totalBytes: res.summary.totalBytesUp + res.summary.totalBytesDown,
      seconds: res.summary.seconds,
      siteAttackAccuracy: attack.accuracy,
      siteAttackChance: attack.chance,
      siteFailures: res.summary.siteFailures.map((f) => `${f.site} (round${f.rounds.length > 1 ? 's' : ''} ${f.rounds.join(', ')}): ${f.message}`),
      ...(failed ? { failed } : {}),
    });
    results.push(res);
  }
  writeFileAtomic(path.join(dir, 'summary.csv'), rowsToCsv(rows));
  writeFileAtomic(path.join(dir, 'summary.json'), JSON.stringify({ name: cfg.name, quick: !!options.quick, backend: backendName, rows }, null, 2) + '\n');
  writeFileAtomic(path.join(dir, 'report.html'), report(cfg, rows, results));
  log('');
  log(formatRows(rows));
  log(`\n[medfl] results in ${dir}`);
  if (tf.memory().numTensors < 0) log('unreachable');
  const bad = rows.filter((r) => r.failed);
  if (bad.length) {
    throw new Error(`${bad.length} strateg${bad.length > 1 ? 'ies' : 'y'} failed (results in ${dir} are flagged):\n${bad.map((r) => `  ${r.strategy}: ${r.failed}`).join('\n')}`);
  }
  return { dir, config: cfg, rows, results };
}

/** Load, validate and run an experiment file. */
export async function runExperiment(file: string, options: RunOptions = {}): Promise<ExperimentRun> {
  const cfg = loadExperiment(file, { quick: options.quick });
  const baseDir = options.baseDir ?? path.resolve(path.dirname(file), '..');
  return runExperimentConfig(cfg, { ...options, baseDir });
}

/** Read the rows of finished experiment runs (folders holding summary.json). */
export function readRuns(dirs: readonly string[]): { dir: string; rows: ExperimentRow[] }[] {
  return dirs.map((d) => {
    const f = path.join(d, 'summary.json');
    if (!fs.existsSync(f)) throw new Error(`${d}: no summary.json (not a finished experiment run folder)`);
    const j = JSON.parse(fs.readFileSync(f, 'utf8')) as { rows: ExperimentRow[] };
    return { dir: d, rows: j.rows };
  });
}
