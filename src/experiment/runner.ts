/**
 * The experiment runner behind `medfl run experiments/<name>.json [--quick] [--jobs N]`.
 *
 * An experiment is a grid (./grid): datasets x models x strategies x seeds x
 * budgets. Its folder `experiments/results/<name>[-quick]/` holds:
 *   experiment.json       the validated grid, data base folder, engine, quick flag
 *   <cell>/               one run folder per cell (src/fl/results.ts: config.json,
 *                         rounds.jsonl, checkpoint/, summary.json/csv) + cell.json
 *                         (./cell) + cell.log (output of a child process)
 *   summary.csv           one row per cell, then one row per group of seeds
 *                         (mean and 95% interval) and the paired comparisons
 *   summary.json          the same as JSON
 *   report.html           plotly report (per-round curves, final Dice with error bars)
 * Everything is written atomically (temp file + rename). Cells run in this
 * process (`jobs` 1) or in `jobs` child processes (./cell-worker), each with
 * its own single-threaded engine; both give the same numbers. A cell that
 * crashes is retried once while the others go on; Ctrl-C stops at the next
 * round boundary (children are stopped), and re-running the same command
 * completes the grid: finished cells are reloaded, interrupted ones resume
 * from their last completed round.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { initBackend } from '../backend';
import { checkDropout } from '../fl/rounds';
import { createStrategy, isBuiltinStrategy, LABEL_PATTERN } from '../fl/registry';
import { resolveRunConfig } from '../fl/strategy';
import { acquireRunLock, RunWriter, writeFileAtomic } from '../fl/results';
import { getWeights, weightSpecs } from '../models/weights';
import type { RoundRecord } from '../fl/types';
import { createModel } from '../models/registry';
import { lineChart, groupedBarChart, figureHtml, liveLine } from '../viz';
import { formatTable, formatSeconds, formatBytes } from '../util/table';
import { loadExperiment, type ExperimentConfig } from './config';
import { parseNumbers, stringifyNumbers } from '../util/json';
import { buildExperimentSites, type BuiltSites } from './sites';
import { expandGrid, sitesKey, type ExperimentCell } from './grid';
import { batchProgress, cellInputShape, readCellResult, roundLines, runCell, type CellResult } from './cell';
import { CELL_ERROR_MARK, type ExperimentFile } from './cell-worker';
import { summarizeGrid, formatGroups, formatComparisons, type GridSummary } from './grid-summary';
import { bootstrapInterval } from '../metrics/statistics';

/** Options of {@link runExperiment}. */
export interface RunOptions {
  /** Apply the config's `quick` overrides (small data, few rounds): a smoke test, not a result. */
  quick?: boolean;
  /** Where run folders go. Default `experiments/results` under the current directory. */
  resultsDir?: string;
  /** Base for relative data paths. Default: the config file's folder's parent (the repository root for experiments/). */
  baseDir?: string;
  /**
   * Cells run at once, each in its own child process (single-threaded engine);
   * 1 = in this process. Default 1 (`medfl run` defaults to the number of CPU
   * cores). Strategies registered in this process exist only here: with one
   * in the grid, cells run in this process.
   */
  jobs?: number;
  /** Progress lines. Default console.log. */
  log?: (line: string) => void;
}

/** One row of an experiment's summary: one cell (one seed of one strategy, model, dataset and budget). */
export interface ExperimentRow {
  /** Cell folder name. */
  cell: string;
  data: string;
  model: string;
  strategy: string;
  seed: number;
  /** k-fold: the test fold (0 without folds). */
  fold: number;
  budget: string;
  dicePerSite: Record<string, number>;
  pooledDice: number;
  pooledIou: number;
  /** 95% per-image bootstrap interval of the pooled Dice within this seed. */
  diceImageInterval: [number, number];
  bytesPerRound: number;
  totalBytes: number;
  seconds: number;
  /** Round whose model is reported (best mean client validation loss with validation splits, else the last). */
  keptRound: number;
  /** With validation splits: the validation loss plateaued (true) or the budget ran out (false); absent without validation. */
  converged?: boolean;
  /** Site-inference attack accuracy on the final model (NaN when not run). */
  siteAttackAccuracy: number;
  siteAttackChance: number;
  /** Sites whose training threw, as 'site (rounds r, ...): message'; empty when none. */
  siteFailures: string[];
  /** Set when a site failed in every round it was selected (or the cell crashed twice): the row is not a valid result. */
  failed?: string;
}

/** What {@link runExperiment} produced. */
export interface ExperimentRun {
  dir: string;
  config: ExperimentConfig;
  /** One row per cell, in grid order. */
  rows: ExperimentRow[];
  /** Means and intervals over seeds, paired comparisons. */
  summary: GridSummary;
}

function csvCell(v: unknown): string {
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(Number(v.toFixed(6))) : '') : String(v ?? '');
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Rows as CSV (one column per site's Dice). */
export function rowsToCsv(rows: readonly ExperimentRow[]): string {
  const sites = [...new Set(rows.flatMap((r) => Object.keys(r.dicePerSite)))].sort();
  const head = ['cell', 'data', 'model', 'strategy', 'seed', 'fold', 'budget', ...sites.map((s) => `dice_${s}`), 'pooled_dice', 'dice_image_lo', 'dice_image_hi', 'pooled_iou', 'bytes_per_round', 'total_bytes', 'seconds', 'kept_round', 'converged', 'site_attack_accuracy', 'site_attack_chance', 'site_failures', 'failed'];
  const lines = rows.map((r) =>
    [r.cell, r.data, r.model, r.strategy, r.seed, r.fold, r.budget, ...sites.map((s) => r.dicePerSite[s]), r.pooledDice, r.diceImageInterval[0], r.diceImageInterval[1], r.pooledIou, r.bytesPerRound, r.totalBytes, r.seconds, r.keptRound + 1, r.converged === undefined ? '' : String(r.converged), r.siteAttackAccuracy, r.siteAttackChance, (r.siteFailures ?? []).join('; '), r.failed ?? '']
      .map(csvCell)
      .join(','),
  );
  return [head.join(','), ...lines].join('\n') + '\n';
}

/** Rows as a text table (only the grid dimensions that vary get a column). */
export function formatRows(rows: readonly ExperimentRow[]): string {
  const sites = [...new Set(rows.flatMap((r) => Object.keys(r.dicePerSite)))].sort();
  const attack = rows.some((r) => Number.isFinite(r.siteAttackAccuracy));
  const selection = rows.some((r) => r.converged !== undefined);
  const varies = (k: 'data' | 'model' | 'seed' | 'fold' | 'budget') => new Set(rows.map((r) => r[k])).size > 1;
  const dims = (['data', 'model', 'seed', 'fold', 'budget'] as const).filter(varies);
  return (
    formatTable(
      [...dims, 'strategy', ...sites, 'pooled Dice', 'pooled IoU', 'bytes/round', ...(selection ? ['kept round', 'converged'] : []), ...(attack ? ['site attack acc'] : []), 'seconds'],
      rows.map((r) => [
        ...dims.map((d) => String(r[d])),
        r.strategy,
        ...sites.map((s) => r.dicePerSite[s] ?? NaN),
        r.pooledDice,
        r.pooledIou,
        formatBytes(r.bytesPerRound),
        ...(selection ? [String(r.keptRound + 1), r.converged === undefined ? '-' : r.converged ? 'yes' : 'no (budget)'] : []),
        ...(attack ? [Number.isFinite(r.siteAttackAccuracy) ? `${r.siteAttackAccuracy.toFixed(3)} (chance ${r.siteAttackChance.toFixed(2)})` : '-'] : []),
        r.seconds,
      ]),
    ) + failureLines(rows)
  );
}

/** One line per site failure (empty string when none): drops are never silent. */
function failureLines(rows: readonly ExperimentRow[]): string {
  const lines = rows.flatMap((r) => [...(r.failed ? [`${r.cell}: FAILED: ${r.failed.split('\n')[0]}`] : []), ...(r.siteFailures ?? []).map((f) => `${r.cell}: site ${f}`)]);
  return lines.length ? `\n\nsite failures:\n${lines.map((l) => `  ${l}`).join('\n')}` : '';
}

function settingsText(cfg: ExperimentConfig, quick: boolean): string {
  const d = cfg.datasets.map((x) => `${x.label} (${x.source}, ${x.size}x${x.size}${x.limit ? `, first ${x.limit}` : ''})`).join('; ');
  const m = cfg.models.map((x) => `${x.name}${x.width ? ` width ${x.width}` : ''}`).join('; ');
  const b = cfg.budgets.map((x) => `${x.rounds} rounds x ${x.localEpochs} local epochs, batch ${x.batchSize}, lr ${x.learningRate}`).join('; ');
  return `${quick ? 'QUICK MODE: a smoke test of the pipeline, not a result. ' : ''}data: ${d}. models: ${m}. budget: ${b}. seeds: ${cfg.seeds.join(', ')}${cfg.resplit ? ' (each seed resplits the data)' : ` (splits of seed ${cfg.splitSeed})`}. ${cfg.split.folds ? `${cfg.split.folds}-fold cross-validation by patient/lesion` : `test fraction ${cfg.split.testFraction}`}${cfg.split.validationFraction ? `, validation fraction ${cfg.split.validationFraction} (model kept by best mean client validation loss)` : ''}. loss: ${cfg.loss}${cfg.learningRateSchedule.name !== 'constant' ? `, learning-rate schedule ${cfg.learningRateSchedule.name}` : ''}.`;
}

function report(cfg: ExperimentConfig, quick: boolean, rows: readonly ExperimentRow[], curves: Map<string, RoundRecord[]>, summary: GridSummary): string {
  const dashes = ['solid', 'dash', 'dot', 'dashdot'] as const;
  const series = rows.map((r, i) => {
    const recs = curves.get(r.cell) ?? [];
    return { name: r.cell, x: recs.map((rec) => rec.round + 1), y: recs.map((rec) => rec.pooled?.dice ?? null), dash: dashes[i % dashes.length] };
  });
  const dice = lineChart(series, { title: 'Pooled held-out Dice per round (one line per cell)', xTitle: 'round', yTitle: 'Dice', yRange: [0, 1], markers: true });
  const bars = groupedBarChart(
    summary.groups.map((g) => ({
      strategy: g.strategy,
      setting: [g.data, g.model, g.budget].filter((_v, i) => [summary.dims.data, summary.dims.model, summary.dims.budget][i]).join(' / ') || 'all',
      dice: g.dice.mean,
      halfWidth: Number.isFinite(g.dice.halfWidth) ? g.dice.halfWidth : null,
    })),
    { x: 'strategy', y: 'dice', group: 'setting', error: 'halfWidth', title: `Final pooled Dice: mean and 95% t interval over ${cfg.seeds.length} seed(s)`, yTitle: 'Dice', yRange: [0, 1], labelDigits: 3 },
  );
  // No series hidden under another: name the ones that coincide (same Dice in every round).
  const same = new Map<string, string[]>();
  for (const sr of series) {
    const k = JSON.stringify(sr.y);
    if (sr.y.length) same.set(k, [...(same.get(k) ?? []), sr.name]);
  }
  const coincide = [...same.values()].filter((names) => names.length > 1).map((names) => names.join(' = '));
  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const table = `<pre>${esc(formatGroups(summary))}\n\n${esc(formatComparisons(summary))}\n\n${esc(formatRows(rows))}</pre>`;
  return figureHtml([dice, bars], `medfl: ${cfg.name}${quick ? ' (quick smoke test)' : ''}`, {
    description: `${cfg.description}${cfg.mirrors ? ` Mirrors: ${cfg.mirrors}.` : ''} ${settingsText(cfg, quick)}${coincide.length ? ` Curves drawn on top of each other (identical per-round Dice): ${coincide.join('; ')}.` : ''}`,
    appendHtml: table,
  });
}

/** Run (or resume) an experiment from a validated config. */
export async function runExperimentConfig(cfg: ExperimentConfig, options: RunOptions = {}): Promise<ExperimentRun> {
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
 * Build every strategy of every model once and check the dropout schedule
 * against the built sites, so nothing trains when any cell of the grid
 * cannot run (a bad split `cut`, a strategy whose factory throws).
 */
function preflight(cfg: ExperimentConfig, cells: readonly ExperimentCell[], sitesOf: (c: ExperimentCell) => BuiltSites): void {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const cell of cells) {
    const sites = sitesOf(cell).sites;
    for (const p of checkDropout(cell.dropout, sites.map((s) => s.name), cell.budget.rounds)) if (!problems.includes(p)) problems.push(p);
    const key = JSON.stringify([cell.model, cell.strategy, cell.budget.rounds, cell.data.size, cell.data.channels]);
    if (seen.has(key)) continue;
    seen.add(key);
    const inputShape = cellInputShape(cell);
    const m = createModel(cell.model.name, { inputShape, numClasses: 1, width: cell.model.width, seed: cell.seed });
    try {
      const config = resolveRunConfig({ strategy: cell.strategy, model: { name: cell.model.name, inputShape, width: cell.model.width }, rounds: cell.budget.rounds, seed: cell.seed });
      createStrategy(cell.strategy, { config, model: m, initial: getWeights(m), specs: weightSpecs(m), sites: [...sites] }).dispose?.();
    } catch (e) {
      problems.push(`strategy '${cell.strategy.label}' with ${cell.model.label}: ${(e as Error).message}`);
    } finally {
      m.dispose();
    }
  }
  if (problems.length) throw new Error(`experiment '${cfg.name}' cannot run (nothing was trained):\n  - ${problems.join('\n  - ')}`);
}

/** Raised inside a cell when Ctrl-C asked the run to stop (at a round boundary). */
class StopRequested extends Error {}

async function runLocked(cfg: ExperimentConfig, options: RunOptions, dir: string, log: (line: string) => void, backendName: string): Promise<ExperimentRun> {
  const cells = expandGrid(cfg);
  for (const c of cells) inside(dir, c.id); // every folder this run writes, checked before anything is
  const baseDir = options.baseDir ?? process.cwd();
  fs.mkdirSync(dir, { recursive: true });
  const expFile = path.join(dir, 'experiment.json');
  const stored = fs.existsSync(expFile) ? (JSON.parse(fs.readFileSync(expFile, 'utf8')) as { config: ExperimentConfig }) : null;
  // Progress = a cell run folder exists; a folder without progress (a run that failed before training) takes a corrected config.
  const progress = fs.readdirSync(dir).some((e) => fs.existsSync(path.join(dir, e, 'config.json')));
  if (stored && progress && JSON.stringify(stored.config) !== JSON.stringify(cfg)) {
    throw new Error(`${dir} holds a run of a different config; delete the folder or rename the experiment to start over`);
  }

  // ---- sites, built once per (dataset, split seed)
  const sitesCache = new Map<string, BuiltSites>();
  for (const c of cells) {
    const key = sitesKey(c);
    if (sitesCache.has(key)) continue;
    const built = await buildExperimentSites(c, baseDir);
    sitesCache.set(key, built);
    log(`[medfl] ${c.data.label}${cfg.resplit ? ` (split seed ${c.dataSeed})` : ''}: ${built.describe.join('; ')}`);
  }
  const sitesOf = (c: ExperimentCell) => sitesCache.get(sitesKey(c)) as BuiltSites;
  preflight(cfg, cells, sitesOf);
  if (!stored || !progress) {
    const file: ExperimentFile = { config: cfg, baseDir, backend: backendName, quick: !!options.quick, startedAt: new Date().toISOString() };
    writeFileAtomic(expFile, JSON.stringify(file, null, 2) + '\n');
  }

  // ---- cells
  let jobs = Math.max(1, Math.floor(options.jobs ?? 1));
  const custom = cfg.strategies.filter((st) => !isBuiltinStrategy(st.name)).map((st) => st.name);
  if (jobs > 1 && custom.length) {
    log(`[medfl] strategies registered in this process (${custom.join(', ')}) are unknown to child processes: running the cells here (jobs 1)`);
    jobs = 1;
  }
  const results = new Map<string, CellResult>();
  const failed = new Map<string, string>();
  for (const c of cells) {
    const r = readCellResult(dir, c.id);
    if (r) results.set(c.id, r);
  }
  const pending = cells.filter((c) => !results.has(c.id));
  log(`[medfl] ${cfg.name}: ${cells.length} cell(s), ${results.size} already done, ${pending.length} to run with ${Math.min(jobs, Math.max(1, pending.length))} job(s)`);
  const progressLine = startProgress(cells.length, results.size, liveLine(log).update);
  let stopping = false;
  const onSigint = () => {
    if (stopping) return;
    stopping = true;
    log('[medfl] stopping at the next round boundary (Ctrl-C again to force); re-run the same command to complete the grid');
  };
  process.on('SIGINT', onSigint);
  try {
    if (jobs === 1) {
      for (const c of pending) {
        if (stopping) break;
        progressLine.started(c.id);
        for (let attempt = 1; attempt <= 2 && !stopping; attempt++) {
          try {
            const r = await runCell(c, sitesOf(c).sites, dir, {
              beforeRound: () => {
                if (stopping) throw new StopRequested('stopped by Ctrl-C');
              },
              onRound: (rec) => roundLines(c.id, c.budget.rounds, rec).forEach((l) => log(l)),
              onProgress: batchProgress(c.id, log),
            });
            results.set(c.id, r);
            progressLine.finished(c.id, r.status === 'ok');
            break;
          } catch (e) {
            if (e instanceof StopRequested) break;
            const msg = (e as Error).message;
            log(`[medfl] cell ${c.id} crashed (attempt ${attempt}/2): ${msg}`);
            if (attempt === 2) {
              failed.set(c.id, msg);
              progressLine.finished(c.id, false);
            }
          }
        }
      }
    } else {
      await runChildren(pending, jobs, dir, log, progressLine, () => stopping, (id, r) => results.set(id, r), (id, msg) => failed.set(id, msg));
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (stopping) throw new Error(`stopped by Ctrl-C with ${results.size}/${cells.length} cells done; re-run the same command to complete the grid (${dir})`);

  // ---- aggregate
  const rows: ExperimentRow[] = cells.map((c) => rowOf(c, results.get(c.id), failed.get(c.id)));
  const summary = summarizeGrid(rows, { seeds: cfg.seeds });
  const curves = new Map(cells.map((c) => [c.id, fs.existsSync(path.join(dir, c.id, 'rounds.jsonl')) ? new RunWriter(path.join(dir, c.id)).readRounds() : []]));
  const settings = settingsText(cfg, !!options.quick);
  writeFileAtomic(path.join(dir, 'summary.csv'), rowsToCsv(rows));
  writeFileAtomic(
    path.join(dir, 'summary.json'),
    stringifyNumbers({ name: cfg.name, quick: !!options.quick, smokeTest: !!options.quick, settings, backend: backendName, rows, groups: summary.groups, comparisons: summary.comparisons }),
  );
  writeFileAtomic(path.join(dir, 'report.html'), report(cfg, !!options.quick, rows, curves, summary));
  log('');
  log(formatRows(rows));
  if (cfg.seeds.length > 1 || cfg.split.folds) {
    log('');
    log(formatGroups(summary));
    log('');
    log(formatComparisons(summary));
  }
  log(`\n[medfl] ${settings}`);
  log(`[medfl] results in ${dir}`);
  const bad = rows.filter((r) => r.failed);
  if (bad.length) {
    throw new Error(`${bad.length} cell(s) failed (results in ${dir} are flagged):\n${bad.map((r) => `  ${r.cell}: ${r.failed}`).join('\n')}`);
  }
  return { dir, config: cfg, rows, summary };
}

function rowOf(c: ExperimentCell, r: CellResult | undefined, crash: string | undefined): ExperimentRow {
  const base = { cell: c.id, data: c.dims.data, model: c.dims.model, strategy: c.dims.strategy, seed: c.dims.seed, fold: c.dims.fold, budget: c.dims.budget };
  if (!r) {
    return { ...base, dicePerSite: {}, pooledDice: NaN, pooledIou: NaN, diceImageInterval: [NaN, NaN], bytesPerRound: NaN, totalBytes: NaN, seconds: NaN, keptRound: -1, siteAttackAccuracy: NaN, siteAttackChance: NaN, siteFailures: [], failed: crash ?? 'no result' };
  }
  const images = r.perImageDice.filter((x) => Number.isFinite(x));
  const ci = images.length >= 2 ? bootstrapInterval(images, { seed: `${c.id}|image-bootstrap`, resamples: 2000 }) : { lower: NaN, upper: NaN };
  return {
    ...base,
    dicePerSite: r.dicePerSite,
    pooledDice: r.pooledDice,
    pooledIou: r.pooledIou,
    diceImageInterval: [ci.lower, ci.upper],
    bytesPerRound: r.bytesPerRound,
    totalBytes: r.totalBytes,
    seconds: r.seconds,
    keptRound: r.keptRound,
    ...(r.converged !== undefined ? { converged: r.converged } : {}),
    siteAttackAccuracy: r.siteAttackAccuracy,
    siteAttackChance: r.siteAttackChance,
    siteFailures: r.siteFailures,
    ...(r.status === 'failed' ? { failed: r.message ?? 'a site failed in every round' } : {}),
  };
}

/** Load, validate and run an experiment file. */
export async function runExperiment(file: string, options: RunOptions = {}): Promise<ExperimentRun> {
  const cfg = loadExperiment(file, { quick: options.quick });
  const baseDir = options.baseDir ?? path.resolve(path.dirname(file), '..');
  return runExperimentConfig(cfg, { ...options, baseDir });
}

// ---- progress and child processes

interface ProgressLine {
  started(id: string): void;
  finished(id: string, ok: boolean): void;
}

/** One line per change: cells done / running / failed and an ETA from the measured cell times. */
function startProgress(total: number, alreadyDone: number, log: (l: string) => void): ProgressLine {
  const t0 = Date.now();
  const running = new Set<string>();
  let done = alreadyDone;
  let failedCount = 0;
  let measured = 0;
  const line = () => {
    const el = (Date.now() - t0) / 1000;
    const perCell = measured ? el / measured : NaN;
    const left = total - done - failedCount;
    const eta = Number.isFinite(perCell) ? formatSeconds(perCell * Math.max(0, left - running.size / 2)) : '?';
    log(`[grid] ${done}/${total} done, ${running.size} running, ${failedCount} failed, elapsed ${formatSeconds(el)}, ETA ${eta}`);
  };
  return {
    started(id) {
      running.add(id);
      line();
    },
    finished(id, ok) {
      running.delete(id);
      if (ok) done++;
      else failedCount++;
      measured++;
      line();
    },
  };
}

/** Start `cell-worker` for one cell (TypeScript through tsx when running from the sources, the compiled .js otherwise). */
function startCellProcess(dir: string, id: string): ChildProcess {
  const fromSource = __filename.endsWith('.ts');
  const worker = path.join(__dirname, fromSource ? 'cell-worker.ts' : 'cell-worker.js');
  const args = fromSource ? ['-r', require.resolve('tsx/cjs'), worker, dir, id] : [worker, dir, id];
  return spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MEDFL_CELL: id } });
}

async function runChildren(
  cells: readonly ExperimentCell[],
  jobs: number,
  dir: string,
  log: (l: string) => void,
  progress: ProgressLine,
  stopping: () => boolean,
  onResult: (id: string, r: CellResult) => void,
  onFailure: (id: string, msg: string) => void,
): Promise<void> {
  const queue = cells.map((c) => ({ cell: c, attempt: 1 }));
  const children = new Set<ChildProcess>();
  let stopSent = false;
  const timer = setInterval(() => {
    if (stopping() && !stopSent) {
      stopSent = true;
      for (const ch of children) ch.kill('SIGINT');
    }
  }, 200);
  const runOne = (job: { cell: ExperimentCell; attempt: number }) =>
    new Promise<void>((resolve) => {
      const c = job.cell;
      fs.mkdirSync(path.join(dir, c.id), { recursive: true });
      const logFile = fs.openSync(path.join(dir, c.id, 'cell.log'), 'a');
      const child = startCellProcess(dir, c.id);
      children.add(child);
      if (job.attempt === 1) progress.started(c.id);
      let tail = '';
      const onData = (chunk: Buffer) => {
        fs.writeSync(logFile, chunk);
        tail = (tail + chunk.toString()).slice(-2000);
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.on('close', (code, signal) => {
        children.delete(child);
        fs.closeSync(logFile);
        const r = readCellResult(dir, c.id);
        const marked = tail.split('\n').reverse().find((l) => l.startsWith(CELL_ERROR_MARK));
        const reason = `exit ${code ?? signal}${marked ? `: ${marked.slice(CELL_ERROR_MARK.length)}` : ''}`;
        if ((code === 0 || code === 3) && r) {
          onResult(c.id, r);
          progress.finished(c.id, r.status === 'ok');
        } else if (stopping()) {
          // stopped: resumes on the next run
        } else if (job.attempt === 1) {
          log(`[medfl] cell ${c.id} crashed (${reason}); retrying once (output in ${path.join(dir, c.id, 'cell.log')})`);
          queue.unshift({ cell: c, attempt: 2 });
        } else {
          const msg = `crashed twice (${reason})`;
          log(`[medfl] cell ${c.id} ${msg}`);
          onFailure(c.id, msg);
          progress.finished(c.id, false);
        }
        resolve();
      });
    });
  const lanes = Array.from({ length: Math.min(jobs, Math.max(1, cells.length)) }, async () => {
    for (let job = queue.shift(); job && !stopping(); job = queue.shift()) await runOne(job);
  });
  try {
    await Promise.all(lanes);
  } finally {
    clearInterval(timer);
  }
}

/** Read the rows of finished experiment runs (folders holding summary.json); rows written before grids get the grid columns. */
export function readRuns(dirs: readonly string[]): { dir: string; rows: ExperimentRow[]; smokeTest: boolean }[] {
  return dirs.map((d) => {
    const f = path.join(d, 'summary.json');
    if (!fs.existsSync(f)) throw new Error(`${d}: no summary.json (not a finished experiment run folder)`);
    const j = parseNumbers<{ rows: Partial<ExperimentRow>[]; quick?: boolean }>(fs.readFileSync(f, 'utf8'));
    const rows = j.rows.map(
      (r) =>
        ({
          cell: r.cell ?? r.strategy,
          data: r.data ?? '-',
          model: r.model ?? '-',
          seed: r.seed ?? 0,
          fold: r.fold ?? 0,
          budget: r.budget ?? '-',
          diceImageInterval: r.diceImageInterval ?? [NaN, NaN],
          siteFailures: r.siteFailures ?? [],
          ...r,
        }) as ExperimentRow,
    );
    return { dir: d, rows, smokeTest: !!j.quick };
  });
}
