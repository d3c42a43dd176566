/**
 * `medfl reproduce <paper>`: run a paper's recipe (src/metrics/recipe) at a
 * scale and end with its claims table (src/metrics/claims).
 *
 * Results go to `<results>/reproduce/<paper>-<scale>[-quick]/`:
 *   reproduce.json   the paper, scale, seeds, data roots and settings (a resume
 *                    on other settings or data is refused)
 *   <grid>/          grid recipes: one experiment run folder per grid (the grid
 *                    runner's: cells, resume, jobs, summary, report.html)
 *   seed-<k>.json    method recipes: one seed's rows and the driver's output
 *   facts.json       deterministic rows (parameters, FLOPs, ...)
 *   claims.json / claims.md / claims.txt   the verdicts
 * Every file is written atomically; re-running the same command resumes.
 *
 * Scales: 'cpu' keeps each recipe's structure and reduces image size, width
 * and data; 'paper' uses the papers' sizes and widths, first prints the
 * estimated training time (measured on this machine by `medfl bench`: a few
 * training steps of each model) and memory, and refuses what
 * cannot fit, saying what would.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import { initBackend, type BackendName } from '../backend';
import { writeFileAtomic } from '../fl/results';
import { createModel } from '../models/registry';
import { estimateTrainingMemory, trainingMemoryLimit } from '../models/memory';
import { judgeClaim, formatClaimsTable, claimsMarkdown, type ClaimRow, type ClaimVerdict } from '../metrics/claims';
import type { DataRoots, PaperRecipe, RecipeContext, RecipeScale, RecipeSetting } from '../metrics/recipe';
import { sharedDataRoot, repositoryRoot } from '../data/sources';
import { formatBytes, formatSeconds, formatTable } from '../util/table';
import { LABEL_PATTERN } from '../fl/registry';
import { validateExperiment } from './config';
import { runExperimentConfig, type ExperimentRow } from './runner';
import { medsegnet10Recipe } from '../fl/recipes/medsegnet10';
import { multisiteCtRecipe } from '../fl/recipes/multisite-ct';
import { medmergeRecipe } from '../merge/recipe';
import { m4oeRecipe } from '../moe/recipe';
import { medforgeRecipe } from '../forge/recipe';

/** The one table of reproducible papers. */
const RECIPES: Record<string, PaperRecipe> = {
  medsegnet10: medsegnet10Recipe,
  'multisite-ct': multisiteCtRecipe,
  medmerge: medmergeRecipe,
  m4oe: m4oeRecipe,
  medforge: medforgeRecipe,
};

/** `medfl reproduce` paper names, in the README's order. */
export const PAPERS = Object.keys(RECIPES);

/** The recipe of `paper`; throws listing the valid names. */
export function getRecipe(paper: string): PaperRecipe {
  const r = RECIPES[paper];
  if (!r) throw new Error(`unknown paper '${paper}'; expected one of ${PAPERS.join(', ')}`);
  return r;
}

/** Dataset keys of `--data`. */
export const DATA_KEYS = ['kvasir', 'ham10000', 'cvc'] as const;

/**
 * The data folders: `given` (from `--data kvasir=DIR,...`), else env
 * `MEDFL_DATA_<KEY>` (MEDFL_DATA_KVASIR, MEDFL_DATA_HAM10000, MEDFL_DATA_CVC),
 * else the shared samples (`kvasir-seg-900` where present, else `kvasir-seg`;
 * `ham10000`; `cvc-clinicdb` under {@link sharedDataRoot}). Unknown keys and
 * missing folders are refused with the key and the path.
 */
export function resolveDataRoots(given: Record<string, string> = {}, env: NodeJS.ProcessEnv = process.env): DataRoots {
  for (const k of Object.keys(given)) {
    if (!(DATA_KEYS as readonly string[]).includes(k)) throw new Error(`--data: unknown dataset '${k}'; expected ${DATA_KEYS.map((d) => `${d}=DIR`).join(', ')}`);
  }
  const shared = sharedDataRoot();
  const fallback: Record<string, string[]> = {
    kvasir: [path.join(shared, 'kvasir-seg-900'), path.join(shared, 'kvasir-seg')],
    ham10000: [path.join(shared, 'ham10000')],
    cvc: [path.join(shared, 'cvc-clinicdb')],
  };
  const out: DataRoots = {};
  for (const k of DATA_KEYS) {
    const explicit = given[k] ?? env[`MEDFL_DATA_${k.toUpperCase()}`];
    if (explicit) {
      const p = path.resolve(explicit);
      if (!fs.existsSync(p)) throw new Error(`--data ${k}=${explicit}: folder not found (${p})`);
      out[k] = p;
    } else {
      const found = fallback[k].find((p) => fs.existsSync(p));
      if (found) out[k] = found;
    }
  }
  return out;
}

/** Parse `kvasir=DIR,ham10000=DIR` (the `--data` value). */
export function parseDataOption(value: string | undefined): Record<string, string> {
  if (!value) return {};
  const out: Record<string, string> = {};
  for (const part of value.split(',').filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`--data: expected KEY=DIR pairs separated by commas (e.g. kvasir=/data/Kvasir-SEG,ham10000=/data/HAM10000), got '${part}'`);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

/** Options of {@link reproduce}. */
export interface ReproduceOptions {
  /** Default 'cpu'. */
  scale?: RecipeScale;
  /** Smoke test: tiny budgets and 2 seeds; the table is not a result. Default false. */
  quick?: boolean;
  /** Data folders by key (see {@link resolveDataRoots}). */
  data?: Record<string, string>;
  /** Seeds 0..K-1. Default: the recipe's (3); quick: min(K, 2). */
  seeds?: number;
  /** Cells (grid recipes) or seeds (method recipes) run at once in child processes. Default 1. */
  jobs?: number;
  /** Default `experiments/results` under the current directory. */
  resultsDir?: string;
  /** Progress lines. Default console.log. */
  log?: (line: string) => void;
}

/** What {@link reproduce} returns. */
export interface ReproduceResult {
  paper: string;
  title: string;
  scale: RecipeScale;
  quick: boolean;
  dir: string;
  seeds: number[];
  rows: ClaimRow[];
  facts: ClaimRow[];
  verdicts: ClaimVerdict[];
  /** The claims table (text) and as Markdown. */
  table: string;
  markdown: string;
  settings: RecipeSetting[];
  departures: string[];
  /** Grid recipes: the grid runs' folders by label. */
  grids: Record<string, string>;
  /** Method recipes: each seed's driver output. */
  details: unknown[];
  seconds: number;
}

/**
 * The arm and metrics of a grid row (see src/metrics/recipe). The budget is
 * a coordinate only when the grid varies it (`varied`), so rows of grids with
 * different single budgets (IIL's one long pass, FedAvg's rounds) pair.
 */
export function gridClaimRow(grid: string, r: ExperimentRow, varied: { budget?: boolean } = {}): ClaimRow {
  return {
    seed: r.seed,
    fold: r.fold,
    arm: { grid, data: r.data, model: r.model, strategy: r.strategy, ...(varied.budget ? { budget: r.budget } : {}) },
    metrics: {
      dice: r.pooledDice,
      iou: r.pooledIou,
      attack: r.siteAttackAccuracy,
      attackOverChance: r.siteAttackAccuracy - r.siteAttackChance,
      bytes: r.totalBytes,
      worstSiteDice: Object.keys(r.dicePerSite).length ? Math.min(...Object.values(r.dicePerSite)) : NaN,
    },
    ...(r.failed ? { failed: r.failed } : {}),
  };
}

/** Run (or resume) a paper's reproduction and judge its claims. */
export async function reproduce(paper: string, options: ReproduceOptions = {}): Promise<ReproduceResult> {
  return runRecipe(getRecipe(paper), options);
}

/**
 * Run (or resume) any recipe (see {@link reproduce}). Method recipes that are
 * not in the table run their seeds in this process whatever `jobs` says (child
 * processes look recipes up by name).
 */
export async function runRecipe(recipe: PaperRecipe, options: ReproduceOptions = {}): Promise<ReproduceResult> {
  const paper = recipe.id;
  const log = options.log ?? ((l: string) => console.log(l));
  const scale = options.scale ?? 'cpu';
  if (scale !== 'cpu' && scale !== 'paper') throw new Error(`--scale must be 'cpu' or 'paper', got '${String(scale)}'`);
  const quick = !!options.quick;
  const k = options.seeds ?? recipe.seeds;
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`--seeds must be an integer >= 1, got ${k}`);
  const seeds = Array.from({ length: quick ? Math.min(k, 2) : k }, (_, i) => i);
  const data = resolveDataRoots(options.data ?? {});
  const t0 = Date.now();
  const backend = await initBackend(undefined, { log });
  const ctx: RecipeContext = { scale, quick, data, seeds, log };
  const settings = recipe.settings(scale);

  log(`[reproduce] ${recipe.title} (${recipe.citation})`);
  log(`[reproduce] scale ${scale}${quick ? ', QUICK (a smoke test, not a result)' : ''}, seeds ${seeds.join(', ')}, engine ${backend.name}`);
  log(`[reproduce] data: ${Object.entries(data).map(([kk, v]) => `${kk}=${v}`).join(', ') || '(none found)'}`);
  log(formatTable(['setting', 'value', 'basis'], settings.map((s) => [s.setting, s.value, s.why ? `${s.basis}: ${s.why}` : s.basis])));

  if (scale === 'paper') {
    const plan = await paperScalePlan(recipe, seeds.length, log);
    if (!plan.fits) throw new Error(`reproduce ${paper} --scale paper cannot run on this machine:\n  - ${plan.problems.join('\n  - ')}`);
  }

  const resultsDir = path.resolve(options.resultsDir ?? path.join('experiments', 'results'));
  const dir = path.join(resultsDir, 'reproduce', `${paper}-${scale}${quick ? '-quick' : ''}`);
  if (!LABEL_PATTERN.test(path.basename(dir))) throw new Error(`bad results folder name '${path.basename(dir)}'`);
  fs.mkdirSync(dir, { recursive: true });
  // What the results depend on: grid recipes' configs are also checked cell by cell by the grid runner.
  const inputs = recipe.kind === 'method' ? recipe.inputs(ctx) : null;
  const stamp = { paper, scale, quick, seeds, data, inputs, settings };
  const key = (x: Partial<typeof stamp>) => JSON.stringify([x.paper, x.scale, x.quick, x.data, x.inputs ?? null]);
  const stampFile = path.join(dir, 'reproduce.json');
  if (fs.existsSync(stampFile) && key(JSON.parse(fs.readFileSync(stampFile, 'utf8')) as typeof stamp) !== key(stamp)) {
    throw new Error(`${dir} holds a reproduction with other settings or data; delete the folder (or pass another --results) to start over`);
  }
  writeFileAtomic(stampFile, JSON.stringify(stamp, null, 2) + '\n');

  const rows: ClaimRow[] = [];
  const grids: Record<string, string> = {};
  const details: unknown[] = [];
  if (recipe.kind === 'grid') {
    for (const plan of recipe.grids(ctx)) {
      const raw = { ...plan.config, name: `${paper}-${plan.label}`, seeds };
      const cfg = validateExperiment(raw, `${paper} recipe (${plan.label})`, { quick });
      log(`\n[reproduce] grid '${plan.label}': ${cfg.description}`);
      const run = await runExperimentConfig(cfg, { quick, resultsDir: dir, baseDir: repositoryRoot(), jobs: options.jobs ?? 1, log });
      grids[plan.label] = run.dir;
      rows.push(...run.rows.map((r) => gridClaimRow(plan.label, r, { budget: cfg.budgets.length > 1 })));
    }
  } else {
    const done = await runMethodSeeds(recipe, ctx, dir, RECIPES[paper] === recipe ? options.jobs ?? 1 : 1, backend.name);
    for (const d of done) {
      rows.push(...d.rows);
      details.push(d.detail);
    }
  }

  let facts: ClaimRow[] = [];
  if (recipe.facts) {
    const factsFile = path.join(dir, 'facts.json');
    if (fs.existsSync(factsFile)) facts = JSON.parse(fs.readFileSync(factsFile, 'utf8')) as ClaimRow[];
    else {
      log('[reproduce] facts (parameters, FLOPs, ...)');
      facts = await recipe.facts(ctx);
      writeFileAtomic(factsFile, JSON.stringify(facts, null, 2) + '\n');
    }
  }

  if (facts.length) {
    log('');
    log(formatFacts(facts));
  }
  const verdicts = recipe.claims.map((c) => judgeClaim(c, [...rows, ...facts]));
  const table = formatClaimsTable(verdicts);
  const markdown = claimsMarkdown(verdicts);
  const seconds = Math.round((Date.now() - t0) / 100) / 10;
  writeFileAtomic(path.join(dir, 'claims.json'), JSON.stringify({ paper, title: recipe.title, scale, quick, seeds, seconds, verdicts: verdicts.map((v) => ({ id: v.claim.id, text: v.claim.text, paper: v.claim.paper, measured: v.measured, verdict: v.verdict })) }, null, 2) + '\n');
  writeFileAtomic(path.join(dir, 'claims.md'), markdown + '\n');
  writeFileAtomic(path.join(dir, 'claims.txt'), table + '\n');
  log('');
  log(`[reproduce] ${recipe.title}: claims${quick ? ' (QUICK MODE: a smoke test, not a result)' : ''}`);
  log(table);
  log(`[reproduce] departures from the paper:\n${recipe.departures.map((d) => `  - ${d}`).join('\n')}`);
  log(`[reproduce] ${formatSeconds(seconds)}; results in ${dir}`);
  return { paper, title: recipe.title, scale, quick, dir, seeds, rows, facts, verdicts, table, markdown, settings, departures: recipe.departures, grids, details, seconds };
}

/** Fact rows as a table: one column per coordinate and per metric. */
export function formatFacts(facts: readonly ClaimRow[]): string {
  const coords = [...new Set(facts.flatMap((f) => Object.keys(f.arm)))];
  const metrics = [...new Set(facts.flatMap((f) => Object.keys(f.metrics)))];
  const cell = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '' : Math.abs(x) >= 1e4 ? x.toExponential(3) : Number.isInteger(x) ? String(x) : x.toFixed(3));
  return formatTable([...coords, ...metrics], facts.map((f) => [...coords.map((c) => f.arm[c] ?? ''), ...metrics.map((m) => cell(f.metrics[m]))]));
}

// ---- method recipes: one driver call per seed, resumable, optionally in child processes

interface SeedFile {
  seed: number;
  rows: ClaimRow[];
  detail: unknown;
}

const seedFile = (dir: string, seed: number) => path.join(dir, `seed-${seed}.json`);

/** Run one seed of a method recipe and write its file (also the child-process entry, ./reproduce-worker). */
export async function runMethodSeed(recipe: PaperRecipe, ctx: RecipeContext, dir: string, seed: number): Promise<SeedFile> {
  if (recipe.kind !== 'method') throw new Error(`${recipe.id} is not a method recipe`);
  const r = await recipe.runSeed(ctx, seed);
  const out: SeedFile = { seed, rows: r.rows, detail: r.detail };
  writeFileAtomic(seedFile(dir, seed), JSON.stringify(out) + '\n');
  return out;
}

async function runMethodSeeds(recipe: PaperRecipe, ctx: RecipeContext, dir: string, jobs: number, backend: string): Promise<SeedFile[]> {
  const have = new Map<number, SeedFile>();
  for (const s of ctx.seeds) if (fs.existsSync(seedFile(dir, s))) have.set(s, JSON.parse(fs.readFileSync(seedFile(dir, s), 'utf8')) as SeedFile);
  const pending = ctx.seeds.filter((s) => !have.has(s));
  ctx.log(`[reproduce] ${ctx.seeds.length} seed(s), ${have.size} already done, ${pending.length} to run with ${Math.min(jobs, Math.max(1, pending.length))} job(s)`);
  if (jobs <= 1) {
    for (const s of pending) {
      ctx.log(`[reproduce] seed ${s}`);
      have.set(s, await runMethodSeed(recipe, { ...ctx, log: (l) => ctx.log(`  [seed ${s}] ${l}`) }, dir, s));
    }
  } else {
    const queue = [...pending];
    const lanes = Array.from({ length: Math.min(jobs, pending.length) }, async () => {
      for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
        let ok = false;
        for (let attempt = 1; attempt <= 2 && !ok; attempt++) {
          ok = (await runSeedProcess(dir, s, backend, ctx.log)) && fs.existsSync(seedFile(dir, s));
          if (!ok) ctx.log(`[reproduce] seed ${s} crashed (attempt ${attempt}/2; output in ${path.join(dir, `seed-${s}.log`)})`);
        }
        if (ok) have.set(s, JSON.parse(fs.readFileSync(seedFile(dir, s), 'utf8')) as SeedFile);
      }
    });
    await Promise.all(lanes);
  }
  const missing = ctx.seeds.filter((s) => !have.has(s));
  if (missing.length) throw new Error(`seed(s) ${missing.join(', ')} failed twice; see the seed-<k>.log files in ${dir}; re-run to retry`);
  return ctx.seeds.map((s) => have.get(s) as SeedFile);
}

function runSeedProcess(dir: string, seed: number, backend: string, log: (l: string) => void): Promise<boolean> {
  const fromSource = __filename.endsWith('.ts');
  const worker = path.join(__dirname, fromSource ? 'reproduce-worker.ts' : 'reproduce-worker.js');
  const args = fromSource ? ['-r', require.resolve('tsx/cjs'), worker, dir, String(seed), backend] : [worker, dir, String(seed), backend];
  return new Promise((resolve) => {
    const logFile = fs.openSync(path.join(dir, `seed-${seed}.log`), 'a');
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let last = '';
    const onData = (chunk: Buffer) => {
      fs.writeSync(logFile, chunk);
      const lines = (last + chunk.toString()).split('\n');
      last = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) log(`  [seed ${seed}] ${l}`);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('close', (code) => {
      fs.closeSync(logFile);
      resolve(code === 0);
    });
  });
}

// ---- paper scale: estimate and refuse what cannot fit

/** What {@link paperScalePlan} found. */
export interface PaperScalePlan {
  fits: boolean;
  /** Estimated training seconds of the whole reproduction on this machine. */
  seconds: number;
  problems: string[];
}

/**
 * Estimate the paper-scale run before anything trains: for each model of
 * `recipe.paperModels()`, the training memory of one batch (against the
 * engine's limit, src/models/memory) and the training speed measured here
 * (`medfl bench`'s wall-clock training figure with every core: two timed
 * steps after a warm-up), times the images and epochs the recipe trains, times the
 * seeds. Models that do not fit are named with the largest batch that would.
 */
export async function paperScalePlan(recipe: PaperRecipe, seeds: number, log: (l: string) => void, options: { memoryLimit?: number; measure?: boolean } = {}): Promise<PaperScalePlan> {
  const models = recipe.paperModels?.() ?? [];
  const limit = options.memoryLimit ?? trainingMemoryLimit();
  const problems: string[] = [];
  const lines: string[][] = [];
  let total = 0;
  for (const m of models) {
    const model = createModel(m.model, { inputShape: [m.size, m.size, 3], numClasses: 1, width: m.width, seed: 0 });
    try {
      const est = estimateTrainingMemory(model, m.batchSize);
      let fitsHere = true;
      if (limit !== null && est.totalBytes > limit) {
        fitsHere = false;
        let b = m.batchSize;
        while (b > 1 && estimateTrainingMemory(model, b).totalBytes > limit) b = Math.floor(b / 2);
        const ok = estimateTrainingMemory(model, b).totalBytes <= limit;
        problems.push(`${m.model} width ${m.width} at ${m.size} px, batch ${m.batchSize}: needs about ${formatBytes(est.totalBytes)} of training memory, the engine allows ${formatBytes(limit)}; ${ok ? `batch ${b} would fit` : `even batch 1 does not fit: use a smaller --scale cpu size or width`}`);
      }
      let perImage = NaN;
      if (fitsHere && options.measure !== false) perImage = await secondsPerImage(m);
      const secs = perImage * m.imagesPerEpoch * m.epochs * seeds;
      if (Number.isFinite(secs)) total += secs;
      lines.push([`${m.model} w${m.width}`, `${m.size}`, `${m.batchSize}`, formatBytes(est.totalBytes), Number.isFinite(perImage) ? (1 / perImage).toFixed(2) : '-', Number.isFinite(secs) ? formatSeconds(secs) : '-']);
    } finally {
      model.dispose();
    }
  }
  log(`[reproduce] paper-scale estimate (${seeds} seed(s); memory limit ${limit === null ? 'none' : formatBytes(limit)}):`);
  log(formatTable(['model', 'px', 'batch', 'training memory', 'train img/s here', 'time'], lines));
  log(`[reproduce] estimated training time: ${formatSeconds(total)} (${(total / 3600).toFixed(1)} h)`);
  return { fits: problems.length === 0, seconds: total, problems };
}

/** Wall seconds per training image on this machine with every core, measured by `medfl bench` (1 warm-up + 2 timed steps of at most 4 images). */
async function secondsPerImage(m: { model: string; width: number; size: number; batchSize: number }): Promise<number> {
  const { runBench } = await import('../bench'); // loaded only for paper-scale estimates
  const [r] = await runBench({ models: [m.model], width: m.width, size: m.size, batch: Math.min(m.batchSize, 4), warmup: 1, repeats: 2, torch: false, threads: [os.availableParallelism()], out: () => {} });
  return r && !r.error && r.trainWallImgPerSec > 0 ? 1 / r.trainWallImgPerSec : NaN;
}

/** Used by ./reproduce-worker: the engine of the parent. */
export async function initWorkerBackend(name: string): Promise<void> {
  await initBackend(name as BackendName, { log: () => {} });
}
