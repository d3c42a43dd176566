/**
 * `medfl medmerge`, `medfl medforge`, `medfl m4oe`: the three collaborative
 * model-building trainers, each run against its baselines on the embedded
 * synthetic data (`--data embedded`, default) or on the real samples in
 * `../shared/data` (`--data real`), printing one comparison table
 * (`--json FILE` also writes the rows, atomically: temp file + rename).
 *
 * - MedMerge (arXiv:2403.11646): two models of one architecture trained from
 *   DIFFERENT initialisations on different source tasks are merged for a new
 *   target task; rows FT / LP-FT per source, uniform averaging, task
 *   arithmetic and MedMerge (`mergeBaselines`).
 * - MedForge (arXiv:2502.16055): sites contribute LoRA plugins + distilled
 *   sets in order to a base pre-trained on a separate 'public' set;
 *   per-version per-site scores, then the single-site and FedAvg baselines,
 *   with the bytes each approach moves.
 * - M4oE (arXiv:2405.09446): one MoE network for two modalities against one
 *   shared network and separate per-modality networks (`compareM4oE`), with
 *   parameter counts and expert utilisation.
 *
 * Common options: `--quick` (about a minute on 2 CPU cores), `--seed N`
 * (default 0), `--size S` (square images), `--data embedded|real`,
 * `--data-root DIR` (default env `MEDFL_SHARED_DATA`, else `../shared/data`
 * next to the repository), `--json FILE`; advanced: `--samples N`,
 * `--epochs N` (overrides every epoch / round count), `--width W`, `--batch B`.
 * Exit codes: 0 ok, 2 bad options (message + usage), 1 data / run error.
 *
 * Departures (all stated in the printed header too):
 * - MedMerge's sources come from different initialisations, so there is no
 *   common pre-trained base for task arithmetic; its "base" is source 0's
 *   initial (untrained) weights, i.e. task vectors relative to that init.
 * - Real-data classification for MedMerge has no labelled source tasks in
 *   the shared samples; the sources learn "polyp small vs large" (mask area
 *   below / above the set's median) on Kvasir-SEG and CVC-ClinicDB, the
 *   target is HAM10000 dx reduced to nv / bkl / other.
 * - MedForge on real data: the four HAM10000 sources all contribute; the
 *   base is pre-trained on the embedded synthetic lesion set (the 'public'
 *   site) unless `--public-site NAME` takes one HAM10000 source instead.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { InMemoryDataset, materialize, type Dataset, type Sample } from '../data/types';
import { syntheticSites } from '../data/synthetic';
import { openKvasirSeg } from '../data/kvasir';
import { openHam10000 } from '../data/ham10000';
import { openCvcClinicDb } from '../data/folder';
import { trainTestSplit } from '../data/split';
import { createModel } from '../models/registry';
import { createClassifier, cloneModel, evaluateTask, formatMergeTable, mergeBaselines, primaryScore, trainTask, type TaskKind, type TaskSpec } from '../merge';
import { forgeBaselines, medForge } from '../forge';
import { compareM4oE } from '../moe';
import { buildSites, type Site, type SiteSplits } from '../data/site';
import { writeFileAtomic } from '../fl/results';
import { formatTable, type Cell } from '../util/table';
import { createRng } from '../util/rng';

/** Where a handler writes its lines (default: stdout for output, stderr for errors). */
export type MethodsOut = (s: string) => void;

/** `--data` values. */
export type MethodsDataSource = 'embedded' | 'real';

class UsageError extends Error {}

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;
type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

interface Io {
  log: MethodsOut;
  error: MethodsOut;
}

const COMMON_OPTIONS: OptionSpec = {
  quick: { type: 'boolean' },
  seed: { type: 'string' },
  size: { type: 'string' },
  data: { type: 'string' },
  'data-root': { type: 'string' },
  json: { type: 'string' },
  samples: { type: 'string' },
  epochs: { type: 'string' },
  width: { type: 'string' },
  batch: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const COMMON_USAGE = `  --quick              under a minute on 2 CPU cores (smaller data and budgets; real sets capped at --samples)
  --seed N             seed of data, splits, weights and batch order (default 0)
  --size S             image side in pixels
  --data embedded|real embedded synthetic data (default) or the real samples
  --data-root DIR      real data folder (default $MEDFL_SHARED_DATA, else ../shared/data next to the repo)
  --json FILE          also write the rows as JSON (atomically)
  advanced: --samples N (images per set), --epochs N (every epoch / round count), --width W, --batch B`;

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function str(v: Values, name: string): string | undefined {
  const x = v[name];
  return typeof x === 'string' ? x : undefined;
}

function int(v: Values, name: string, fallback: number, min: number): number {
  const s = str(v, name);
  if (s === undefined) return fallback;
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${s}'`);
  return n;
}

function optionalInt(v: Values, name: string, min: number): number | undefined {
  return str(v, name) === undefined ? undefined : int(v, name, 0, min);
}

function choice<T extends string>(v: Values, name: string, valid: readonly T[], fallback: T): T {
  const s = str(v, name);
  if (s === undefined) return fallback;
  if (!(valid as readonly string[]).includes(s)) throw new UsageError(`--${name} must be ${valid.map((x) => `'${x}'`).join(' or ')}, got '${s}'`);
  return s as T;
}

function sizeOption(v: Values, fallback: number, divisor: number, owner: string): number {
  const size = int(v, 'size', fallback, 16);
  if (size % divisor !== 0) {
    throw new UsageError(`--size ${size}: ${owner} needs a multiple of ${divisor} (nearest: ${Math.max(divisor, Math.round(size / divisor) * divisor)})`);
  }
  return size;
}

/**
 * The folder holding medfl's package.json, found by walking up from `start`
 * (default: this file's folder; works from `src/` and from `dist/`).
 */
export function repositoryRoot(start: string = __dirname): string {
  let dir = path.resolve(start);
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if ((JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'medfl') return dir;
      } catch {
        // not a readable package.json: keep walking
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`repositoryRoot: no package.json of 'medfl' in ${start} or above`);
    dir = up;
  }
}

/**
 * Root of the real sample data: `override` (`--data-root`), else env
 * `MEDFL_SHARED_DATA`, else `<repository>/../shared/data`.
 */
export function sharedDataRoot(override?: string): string {
  if (override) return path.resolve(override);
  const env = process.env.MEDFL_SHARED_DATA;
  if (env) return path.resolve(env);
  return path.resolve(repositoryRoot(), '..', 'shared', 'data');
}

function realDir(root: string, sub: string, what: string): string {
  const p = path.join(root, sub);
  if (!fs.existsSync(p)) {
    throw new Error(`--data real: ${what} not found at ${p} (point --data-root or MEDFL_SHARED_DATA at the folder that holds ${sub}/)`);
  }
  return p;
}

/** Decoded images kept by the lazy loaders (the real samples are a few hundred images at most). */
const CACHE = 4096;

async function openKvasir(root: string, size: number): Promise<InMemoryDataset> {
  return materialize(await openKvasirSeg({ root: realDir(root, 'kvasir-seg', 'Kvasir-SEG'), size: [size, size], cacheSize: CACHE }));
}

async function openCvc(root: string, size: number): Promise<InMemoryDataset> {
  return materialize(await openCvcClinicDb({ root: realDir(root, 'cvc-clinicdb', 'CVC-ClinicDB'), size: [size, size], cacheSize: CACHE }));
}

/** HAM10000 samples with masks; `meta.site` = the Dataverse source (subset CSV) when that CSV exists. */
async function openHam(root: string, size: number, requireSites: boolean): Promise<InMemoryDataset> {
  const dir = realDir(root, 'ham10000', 'HAM10000');
  const subset = 'HAM10000_metadata_subset_with_dataset.csv';
  const hasSubset = fs.existsSync(path.join(dir, subset));
  if (requireSites && !hasSubset) throw new Error(`--data real: ${path.join(dir, subset)} (HAM10000 metadata with the 'dataset' source column) not found`);
  return materialize(await openHam10000({ root: dir, metadataFile: hasSubset ? subset : undefined, masks: true, size: [size, size], cacheSize: CACHE }));
}

function withLabels(ds: InMemoryDataset, name: string, classNames: readonly string[], label: (s: Sample, i: number) => number): InMemoryDataset {
  return new InMemoryDataset(name, ds.samples.map((s, i) => ({ ...s, label: label(s, i) })), ds.task, classNames, ds.maskClasses);
}

/** Keep at most `n` samples (a seeded random subset, in index order). */
function cap(ds: InMemoryDataset, n: number, seed: number): InMemoryDataset {
  if (ds.length <= n) return ds;
  const keep = createRng(seed).permutation(ds.length).slice(0, n).sort((a, b) => a - b);
  return ds.subset(keep);
}

/** Seeded train / test split grouped by patient (HAM10000: lesion); stratified by label when asked. */
function split(ds: InMemoryDataset, testFraction: number, seed: number, stratify = false): { train: InMemoryDataset; test: InMemoryDataset } {
  const s = trainTestSplit(ds, { testFraction, seed, groupKey: 'patientId', stratify });
  if (s.train.length === 0 || s.test.length === 0) throw new Error(`${ds.name}: ${ds.length} images are too few to split into train and test`);
  return { train: ds.subset(s.train), test: ds.subset(s.test) };
}

/** "Small vs large polyp": mask area fraction above the set's median -> 1. */
function polypSizeLabels(ds: InMemoryDataset): InMemoryDataset {
  const frac = ds.samples.map((s) => (s.mask ? s.mask.reduce((a, v) => a + (v > 0 ? 1 : 0), 0) / s.mask.length : 0));
  const sorted = [...frac].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return withLabels(ds, `${ds.name} polyp size`, ['small', 'large'], (_s, i) => (frac[i] >= median ? 1 : 0));
}

const HAM_REDUCED = ['nv', 'bkl', 'other'] as const;

function hamReduced(ds: InMemoryDataset): InMemoryDataset {
  return withLabels(ds, `${ds.name} dx (nv/bkl/other)`, HAM_REDUCED, (s) => {
    const dx = ds.classNames[s.label as number];
    return dx === 'nv' ? 0 : dx === 'bkl' ? 1 : 2;
  });
}

function vars(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

async function fit(model: tf.LayersModel, data: Dataset, spec: TaskSpec, o: { epochs: number; lr: number; batchSize: number; seed: number }): Promise<number> {
  const logs = await trainTask(data, {
    spec,
    epochs: o.epochs,
    vars: vars(model),
    forward: (x) => model.apply(x, { training: true }) as tf.Tensor,
    learningRate: o.lr,
    batchSize: o.batchSize,
    seed: o.seed,
  });
  return logs.length ? logs[logs.length - 1].loss : NaN;
}

function writeJson(file: string, value: unknown): void {
  const target = path.resolve(file);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  writeFileAtomic(target, `${JSON.stringify(value, null, 2)}\n`);
}

function seconds(t0: number): number {
  return Math.round((Date.now() - t0) / 100) / 10;
}

/** Options every handler resolves the same way. */
interface Common {
  quick: boolean;
  seed: number;
  data: MethodsDataSource;
  dataRoot: string;
  json?: string;
  epochs?: number;
  samples?: number;
  width?: number;
  batch: number;
}

function common(v: Values): Common {
  const data = choice(v, 'data', ['embedded', 'real'] as const, 'embedded');
  const json = str(v, 'json');
  if (v.json !== undefined && !json) throw new UsageError('--json needs a file name');
  return {
    quick: v.quick === true,
    seed: int(v, 'seed', 0, 0),
    data,
    dataRoot: data === 'real' ? sharedDataRoot(str(v, 'data-root')) : '',
    json,
    epochs: optionalInt(v, 'epochs', 0),
    samples: optionalInt(v, 'samples', 2),
    width: optionalInt(v, 'width', 1),
    batch: int(v, 'batch', 8, 1),
  };
}

async function runCli(name: string, usage: string, argv: string[], out: MethodsOut | undefined, extra: OptionSpec, body: (v: Values, io: Io) => Promise<number>): Promise<number> {
  const io: Io = { log: out ?? ((s) => console.log(s)), error: out ?? ((s) => console.error(s)) };
  let values: Values;
  try {
    values = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...extra }, strict: true, allowPositionals: false }).values as Values;
  } catch (e) {
    io.error(`medfl ${name}: ${messageOf(e)}\n${usage}`);
    return 2;
  }
  if (values.help === true) {
    io.log(usage);
    return 0;
  }
  try {
    return await body(values, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.error(`medfl ${name}: ${e.message}\n${usage}`);
      return 2;
    }
    io.error(`medfl ${name}: ${messageOf(e)}`);
    if (process.env.MEDFL_DEBUG && e instanceof Error && e.stack) io.error(e.stack);
    return 1;
  }
}

// ---------------------------------------------------------------------------------------------
// medmerge

const MEDMERGE_USAGE = `usage: medfl medmerge [--task segmentation|classification] [options]
  MedMerge (arXiv:2403.11646): merge two models trained from different initialisations on
  different source tasks into a model for a new target task; compared with FT, LP-FT,
  uniform averaging and task arithmetic (same epochs, same head seed).
  embedded: sources = synthetic polyp sites and synthetic lesion sites, target = a new lesion site
  real:     sources = Kvasir-SEG and CVC-ClinicDB, target = HAM10000 (segmentation, or dx nv/bkl/other)
  --task segmentation|classification   default segmentation (U-Net) / classification (small CNN)
  size 64 px (--quick 32)
  --lp-epochs N, --ft-epochs N, --source-epochs N   segmentation 5 / 5 / 10 (--quick 4 / 4 / 8),
                       classification 8 / 8 / 15 (--quick 6 / 6 / 10); images per set 96 (48), 192 (96)
${COMMON_USAGE}`;

interface MergeSource {
  name: string;
  train: InMemoryDataset;
  test: InMemoryDataset;
}

/**
 * `medfl medmerge`: MedMerge (arXiv:2403.11646) and its baselines (FT, LP-FT
 * per source, uniform averaging, task arithmetic) on one target task.
 * Two U-Nets (`--task segmentation`, default) or CNN classifiers of one
 * architecture are trained from different seeds on different source tasks,
 * then `mergeBaselines` runs every row with the same LP / FT epochs and head
 * seed. Defaults: segmentation 64 px, 96 images per set, epochs source 10 /
 * LP 5 / FT 5 (`--quick`: 32 px, 48 images, 8 / 4 / 4); classification
 * 64 px, 192 images, 15 / 8 / 8 (`--quick`: 32 px, 96, 10 / 6 / 6).
 * Resolves to the exit code (0 ok, 2 usage, 1 failure); `out` receives every
 * line, errors included (default: console.log / console.error).
 */
export async function medmergeCommand(argv: string[], out?: MethodsOut): Promise<number> {
  const extra: OptionSpec = { task: { type: 'string' }, 'lp-epochs': { type: 'string' }, 'ft-epochs': { type: 'string' }, 'source-epochs': { type: 'string' } };
  return runCli('medmerge', MEDMERGE_USAGE, argv, out, extra, async (v, io) => {
    const c = common(v);
    const task = choice(v, 'task', ['segmentation', 'classification'] as const, 'segmentation');
    const seg = task === 'segmentation';
    const size = sizeOption(v, c.quick ? 32 : 64, seg ? 16 : 4, seg ? 'the U-Net' : 'the classifier');
    // budgets: [quick, default] per task (the classifier is ~50x cheaper per image than the U-Net)
    const pick = (segQuick: number, segFull: number, clsQuick: number, clsFull: number): number => (seg ? (c.quick ? segQuick : segFull) : c.quick ? clsQuick : clsFull);
    const n = c.samples ?? pick(48, 96, 96, 192);
    const sourceEpochs = int(v, 'source-epochs', c.epochs ?? pick(8, 10, 10, 15), 0);
    const lpEpochs = int(v, 'lp-epochs', c.epochs ?? pick(4, 5, 6, 8), 0);
    const ftEpochs = int(v, 'ft-epochs', c.epochs ?? pick(4, 5, 6, 8), 0);
    const width = c.width ?? (seg ? 4 : 8);
    const t0 = Date.now();
    const backend = await initBackend(undefined, { log: io.log });

    // --- data
    let sources: MergeSource[];
    let target: MergeSource;
    if (c.data === 'embedded') {
      const half = Math.max(1, Math.ceil(n / 2));
      const polyp = syntheticSites({ sites: 2, samplesPerSite: half, size, task: 'polyp', seed: c.seed + 101, name: 'synthetic polyp (2 sites)' });
      const lesion = syntheticSites({ sites: 2, samplesPerSite: half, size, task: 'lesion', seed: c.seed + 202, name: 'synthetic lesion (2 sites)' });
      const tgt = syntheticSites({ sites: 1, samplesPerSite: n, size, task: 'lesion', seed: c.seed + 303, heterogeneity: 1, name: 'synthetic lesion (new site)' });
      sources = [
        { name: polyp.name, ...split(polyp, 0.2, c.seed, !seg) },
        { name: lesion.name, ...split(lesion, 0.2, c.seed, !seg) },
      ];
      target = { name: tgt.name, ...split(tgt, 0.5, c.seed + 1, !seg) };
    } else {
      let kvasir = await openKvasir(c.dataRoot, size);
      let cvc = await openCvc(c.dataRoot, size);
      let ham = await openHam(c.dataRoot, size, false);
      if (c.quick || c.samples !== undefined) {
        kvasir = cap(kvasir, n, c.seed);
        cvc = cap(cvc, n, c.seed);
        ham = cap(ham, n, c.seed);
      }
      if (!seg) {
        kvasir = polypSizeLabels(kvasir);
        cvc = polypSizeLabels(cvc);
        ham = hamReduced(ham);
      }
      sources = [
        { name: kvasir.name, ...split(kvasir, 0.2, c.seed, !seg) },
        { name: cvc.name, ...split(cvc, 0.2, c.seed, !seg) },
      ];
      target = { name: ham.name, ...split(ham, 0.4, c.seed + 1, !seg) };
    }
    const shape: [number, number, number] = [size, size, 3];
    const specOf = (d: Dataset): TaskSpec => ({ task, numClasses: seg ? 1 : d.classNames.length });
    const build = (k: number): tf.LayersModel =>
      seg
        ? createModel('unet', { inputShape: shape, numClasses: 1, width, seed: c.seed + 1 + k })
        : createClassifier({ inputShape: shape, numClasses: sources[k].train.classNames.length, width, seed: c.seed + 1 + k });

    io.log(`[medmerge] ${task} on ${c.data} data, ${size}x${size}, seed ${c.seed}${c.quick ? ', quick' : ''}`);
    io.log(`  sources: ${sources.map((s) => `${s.name} (${s.train.length} train / ${s.test.length} test)`).join('; ')}`);
    io.log(`  target:  ${target.name} (${target.train.length} train / ${target.test.length} test)${seg ? '' : `, classes ${target.train.classNames.join('/')}`}`);
    io.log(`  model: ${seg ? 'U-Net' : 'CNN classifier'} width ${width}, each source from its own initialisation (seeds ${c.seed + 1}, ${c.seed + 2})`);
    io.log(`  epochs: source ${sourceEpochs}, LP ${lpEpochs}, FT ${ftEpochs}; task arithmetic's base = source 0's initial weights (no common pre-trained base)`);

    // --- source models, trained from different initialisations
    const models: tf.LayersModel[] = [];
    let base: tf.LayersModel | undefined;
    const sourceScores: { name: string; score: number; loss: number }[] = [];
    try {
      for (let k = 0; k < sources.length; k++) {
        const m = build(k);
        models.push(m);
        if (k === 0) base = await cloneModel(m);
        const spec = specOf(sources[k].train);
        const loss = await fit(m, sources[k].train, spec, { epochs: sourceEpochs, lr: 3e-3, batchSize: c.batch, seed: c.seed + 10 + k });
        const score = primaryScore(spec, await evaluateTask((x) => m.predict(x) as tf.Tensor, sources[k].test, spec));
        sourceScores.push({ name: sources[k].name, score, loss });
        io.log(`  source ${k} (${sources[k].name}): train loss ${loss.toFixed(3)}, own test ${seg ? 'Dice' : 'macro-F1'} ${score.toFixed(3)}`);
      }
      const rows = await mergeBaselines({
        sources: models,
        base,
        target: { train: target.train, test: target.test },
        task,
        lpEpochs,
        ftEpochs,
        batchSize: c.batch,
        seed: c.seed,
      });
      const total = seconds(t0);
      io.log('');
      io.log(`MedMerge vs baselines, target ${target.name} (${task}, ${target.test.length} test images; backend ${backend.name}):`);
      io.log(formatMergeTable(rows, task as TaskKind));
      const best = rows.reduce((a, r) => (r.score > a.score ? r : a), rows[0]);
      io.log(`best ${seg ? 'Dice' : 'macro-F1'}: ${best.method}${best.source !== undefined ? ` (src ${best.source})` : ''} ${best.score.toFixed(3)}; total ${total.toFixed(1)} s`);
      if (c.json) {
        writeJson(c.json, {
          command: 'medmerge',
          task,
          data: c.data,
          seed: c.seed,
          size,
          quick: c.quick,
          backend: backend.name,
          settings: { samples: n, width, sourceEpochs, lpEpochs, ftEpochs, batchSize: c.batch },
          sources: sourceScores,
          target: { name: target.name, train: target.train.length, test: target.test.length },
          rows,
          seconds: total,
        });
        io.log(`wrote ${c.json}`);
      }
      return 0;
    } finally {
      models.forEach((m) => m.dispose());
      base?.dispose();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// medforge

const MEDFORGE_USAGE = `usage: medfl medforge [--mode fusion|mixture|both] [--task segmentation|classification] [options]
  MedForge (arXiv:2502.16055): sites contribute LoRA plugins + distilled sets, one after the
  other, to a base pre-trained on a separate 'public' set; per-version scores on every site,
  then single-site fine-tuning and FedAvg with the bytes each moves.
  embedded: synthetic lesion sites (strong scanner heterogeneity, skewed classes), public = another synthetic set
  real:     HAM10000 split by its 4 acquisition sources (dataset column); public = synthetic lesions
  --mode fusion|mixture|both      default both
  size 48 px, 40 images per site (--quick 32 px, 16)
  --task segmentation|classification  default segmentation
  --sites N                       embedded sites (default 4; --quick 3)
  --budget N                      coefficient-search evaluations per arrival (default 40; --quick 12)
  --rank R                        LoRA rank (default 4)
  --public-site NAME              real data: pre-train the base on this HAM10000 source (it then does not contribute)
${COMMON_USAGE}`;

/**
 * `medfl medforge`: MedForge (arXiv:2502.16055) in fusion and / or mixture
 * mode (`--mode`, default both) against single-site fine-tuning and FedAvg
 * (arXiv:1602.05629), all from the same base pre-trained on a separate
 * 'public' set. Prints one table: every version's score on every site,
 * each plugin alone, the baselines, and the bytes each approach moves.
 * Defaults: 48 px, 4 sites x 40 images, base 10 epochs, 5 local epochs,
 * FedAvg 5 rounds x 1 epoch, search budget 40, rank 4, 30 distribution-
 * matching iterations (`--quick`: 32 px, 3 x 16, 4 / 3 / 3 rounds, budget 12,
 * 10 iterations). Resolves to the exit code (0 ok, 2 usage, 1 failure);
 * `out` receives every line (default console).
 */
export async function medforgeCommand(argv: string[], out?: MethodsOut): Promise<number> {
  const extra: OptionSpec = {
    mode: { type: 'string' },
    task: { type: 'string' },
    sites: { type: 'string' },
    budget: { type: 'string' },
    rank: { type: 'string' },
    'public-site': { type: 'string' },
  };
  return runCli('medforge', MEDFORGE_USAGE, argv, out, extra, async (v, io) => {
    const c = common(v);
    const mode = choice(v, 'mode', ['fusion', 'mixture', 'both'] as const, 'both');
    const task = choice(v, 'task', ['segmentation', 'classification'] as const, 'segmentation');
    const seg = task === 'segmentation';
    const size = sizeOption(v, c.quick ? 32 : 48, seg ? 16 : 4, seg ? 'the U-Net' : 'the classifier');
    const nSites = int(v, 'sites', c.quick ? 3 : 4, 1);
    const n = c.samples ?? (c.quick ? 16 : 40);
    const budget = int(v, 'budget', c.quick ? 12 : 40, 1);
    const rank = int(v, 'rank', 4, 1);
    const baseEpochs = c.epochs ?? (c.quick ? 4 : 10);
    const localEpochs = c.epochs ?? (c.quick ? 3 : 5);
    const rounds = c.epochs ?? (c.quick ? 3 : 5);
    const distillIterations = c.quick ? 10 : 30;
    const width = c.width ?? (seg ? 4 : 8);
    const publicSite = str(v, 'public-site');
    if (publicSite !== undefined && c.data !== 'real') throw new UsageError('--public-site applies to --data real only');
    const t0 = Date.now();
    const backend = await initBackend(undefined, { log: io.log });

    // --- data
    let sites: Site[] = [];
    let publicSet: InMemoryDataset;
    let classNames: readonly string[];
    // The one site builder: sites by meta.site (natural order = arrival order), 30 % of each site's patients held out, stratified for classification.
    const toSites = (ds: Dataset): Site[] => buildSites(ds, { testFraction: 0.3, seed: c.seed, groupKey: 'patientId', stratify: !seg });
    if (c.data === 'embedded') {
      const all = syntheticSites({ sites: nSites, samplesPerSite: n, size, task: 'lesion', seed: c.seed + 600, heterogeneity: 1, classMix: 'skewed', name: 'synthetic lesion' });
      sites = toSites(all);
      publicSet = syntheticSites({ sites: 1, samplesPerSite: 2 * n, size, task: 'lesion', seed: c.seed + 500, heterogeneity: 0, name: 'public (synthetic)' });
      classNames = all.classNames;
    } else {
      let ham = await openHam(c.dataRoot, size, true);
      if (!seg) ham = hamReduced(ham);
      classNames = ham.classNames;
      const names = [...new Set(ham.samples.map((s) => s.meta.site).filter((s): s is string => typeof s === 'string'))].sort();
      if (publicSite !== undefined && !names.includes(publicSite)) throw new UsageError(`--public-site '${publicSite}' is not a HAM10000 source (valid: ${names.join(', ')})`);
      const bySite = (name: string) => ham.subset(ham.samples.map((s, i) => (s.meta.site === name ? i : -1)).filter((i) => i >= 0), name);
      const contributing = names.flatMap((name, k) => (name === publicSite ? [] : [c.quick || c.samples !== undefined ? cap(bySite(name), n, c.seed + k) : bySite(name)]));
      sites = toSites(new InMemoryDataset(ham.name, contributing.flatMap((d) => d.samples), ham.task, ham.classNames, ham.maskClasses));
      publicSet = publicSite
        ? bySite(publicSite)
        : syntheticSites({ sites: 1, samplesPerSite: 2 * n, size, task: 'lesion', seed: c.seed + 500, heterogeneity: 0, name: 'public (synthetic)' });
      // synthetic lesion classes nevus / melanoma / keratosis -> nv / other / bkl
      if (!seg && !publicSite) publicSet = withLabels(publicSet, publicSet.name, HAM_REDUCED, (s) => [0, 2, 1][s.label as number]);
    }
    if (sites.length === 0) throw new Error('medforge: no contributing sites');
    const spec: TaskSpec = { task, numClasses: seg ? 1 : classNames.length };
    const shape: [number, number, number] = [size, size, 3];
    const base = seg ? createModel('unet', { inputShape: shape, numClasses: 1, width, seed: c.seed + 1 }) : createClassifier({ inputShape: shape, numClasses: spec.numClasses, width, seed: c.seed + 1 });

    io.log(`[medforge] ${task} on ${c.data} data, ${size}x${size}, seed ${c.seed}, mode ${mode}${c.quick ? ', quick' : ''}`);
    io.log(`  sites (arrival order): ${sites.map((s) => `${s.name} (${s.train.length}/${s.test.length})`).join(', ')}`);
    io.log(`  base: ${seg ? 'U-Net' : 'CNN classifier'} width ${width} (${base.countParams()} params) pre-trained ${baseEpochs} epochs on ${publicSet.name} (${publicSet.length} images)`);
    io.log(`  MedForge: LoRA rank ${rank}, ${localEpochs} local epochs, distribution matching ${distillIterations} it. x 2 per class, search budget ${budget}`);
    io.log(`  baselines: single-site fine-tuning ${localEpochs} epochs; FedAvg ${rounds} rounds x 1 local epoch`);

    try {
      const preLoss = await fit(base, publicSet, spec, { epochs: baseEpochs, lr: 3e-3, batchSize: c.batch, seed: c.seed + 2 });
      io.log(`  base pre-training loss ${preLoss.toFixed(3)}`);
      const modes = mode === 'both' ? (['fusion', 'mixture'] as const) : ([mode] as const);
      const siteNames = sites.map((s) => s.name);
      const metric = seg ? 'Dice' : 'macro-F1';
      const tableRows: Cell[][] = [];
      const json: Record<string, unknown> = {};
      for (const m of modes) {
        const tm = Date.now();
        const r = await medForge({
          base,
          sites,
          task,
          mode: m,
          rank,
          localEpochs,
          learningRate: 1e-2,
          batchSize: c.batch,
          perClass: 2,
          distill: { iterations: distillIterations },
          budget,
          seed: c.seed,
        });
        r.model?.dispose();
        const secs = seconds(tm);
        for (const ver of r.versions) {
          if (ver.version === 0 && m !== modes[0]) continue;
          const label = ver.version === 0 ? 'v0 (base)' : `${m} v${ver.version} (+${ver.contributor})`;
          tableRows.push([label, ...siteNames.map((s) => primaryScore(spec, ver.metrics[s])), ver.meanScore, ver.bytes.cumulative, ver.version === r.versions.length - 1 ? secs.toFixed(1) : '']);
        }
        if (m === modes[0]) {
          r.plugins.forEach((p, i) => {
            const ps = r.pluginScores[i];
            if (ps) tableRows.push([`plugin ${p.site} alone`, ...siteNames.map((s) => primaryScore(spec, ps.metrics[s])), ps.meanScore, p.bytes + r.syntheticSets[i].bytes, '']);
          });
        }
        json[m] = {
          seconds: secs,
          versions: r.versions,
          pluginScores: r.pluginScores,
          bytes: r.plugins.map((p, i) => ({ site: p.site, plugin: p.bytes, synthetic: r.syntheticSets[i].bytes })),
        };
      }
      const tb = Date.now();
      const baselines = await forgeBaselines({ base, sites, spec, epochs: localEpochs, rounds, localEpochs: 1, learningRate: 1e-3, batchSize: c.batch, seed: c.seed });
      const bsecs = seconds(tb);
      baselines.forEach((b, i) => tableRows.push([b.label, ...siteNames.map((s) => b.perSite[s]), b.mean, b.bytes, i === baselines.length - 1 ? bsecs.toFixed(1) : '']));
      const total = seconds(t0);
      io.log('');
      io.log(`MedForge vs baselines: test ${metric} per site (backend ${backend.name}); bytes = everything pushed so far`);
      io.log(formatTable(['model', ...siteNames, 'mean', 'bytes', 'seconds'], tableRows, { digits: 3 }));
      io.log(`total ${total.toFixed(1)} s`);
      if (c.json) {
        writeJson(c.json, {
          command: 'medforge',
          task,
          data: c.data,
          mode,
          seed: c.seed,
          size,
          quick: c.quick,
          backend: backend.name,
          settings: { samples: n, sites: siteNames, width, rank, localEpochs, baseEpochs, rounds, budget, distillIterations, batchSize: c.batch },
          medforge: json,
          baselines: { seconds: bsecs, rows: baselines },
          table: { header: ['model', ...siteNames, 'mean', 'bytes', 'seconds'], rows: tableRows },
          seconds: total,
        });
        io.log(`wrote ${c.json}`);
      }
      return 0;
    } finally {
      base.dispose();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// m4oe

const M4OE_USAGE = `usage: medfl m4oe [--builder unet|swin] [options]
  M4oE (arXiv:2405.09446): one mixture-of-experts network for two modalities (one expert per
  modality, two-phase training) vs one shared network and separate per-modality networks.
  embedded: synthetic polyp (endoscopy) + synthetic lesion (dermoscopy)
  real:     Kvasir-SEG + HAM10000
  --builder unet|swin   MoE U-Net (default, CPU-scale) or the paper's Swin-Unet (size multiple of 32)
  --phase1 N, --phase2 N   epochs of each phase (defaults 5 / 5; --quick 3 / 3); 48 train images per
                           modality (--quick 24), size 48 (unet) / 64 (swin), --quick 32
${COMMON_USAGE}`;

/**
 * `medfl m4oe`: M4oE (arXiv:2405.09446) against one shared network and
 * separate per-modality networks (`compareM4oE`, same backbone, seed and
 * epochs), two modalities with binary masks. Defaults: `--builder unet`,
 * 48 px (swin 64), 48 train images per modality, 5 + 5 epochs, Adam 3e-3
 * (`--quick`: 32 px, 24 images, 3 + 3). Resolves to the exit code (0 ok,
 * 2 usage, 1 failure); `out` receives every line (default console).
 */
export async function m4oeCommand(argv: string[], out?: MethodsOut): Promise<number> {
  const extra: OptionSpec = { builder: { type: 'string' }, phase1: { type: 'string' }, phase2: { type: 'string' } };
  return runCli('m4oe', M4OE_USAGE, argv, out, extra, async (v, io) => {
    const c = common(v);
    const builder = choice(v, 'builder', ['unet', 'swin'] as const, 'unet');
    const size = sizeOption(v, builder === 'swin' ? (c.quick ? 32 : 64) : c.quick ? 32 : 48, builder === 'swin' ? 32 : 16, builder === 'swin' ? 'the Swin-Unet' : 'the MoE U-Net');
    const n = c.samples ?? (c.quick ? 24 : 48);
    const phase1 = int(v, 'phase1', c.epochs ?? (c.quick ? 3 : 5), 0);
    const phase2 = int(v, 'phase2', c.epochs ?? (c.quick ? 3 : 5), 0);
    const t0 = Date.now();
    const backend = await initBackend(undefined, { log: io.log });

    let names: [string, string];
    let sets: [InMemoryDataset, InMemoryDataset];
    const nTest = Math.max(4, Math.round(n / 2));
    if (c.data === 'embedded') {
      names = ['polyp', 'lesion'];
      sets = [
        syntheticSites({ sites: 1, samplesPerSite: n + nTest, size, task: 'polyp', seed: c.seed + 1, name: 'synthetic polyp (endoscopy)' }),
        syntheticSites({ sites: 1, samplesPerSite: n + nTest, size, task: 'lesion', seed: c.seed + 2, name: 'synthetic lesion (dermoscopy)' }),
      ];
    } else {
      names = ['Kvasir-SEG', 'HAM10000'];
      let kvasir = await openKvasir(c.dataRoot, size);
      let ham = await openHam(c.dataRoot, size, false);
      if (c.quick || c.samples !== undefined) {
        kvasir = cap(kvasir, n + nTest, c.seed);
        ham = cap(ham, n + nTest, c.seed);
      }
      sets = [kvasir, ham];
    }
    const data: Record<string, SiteSplits> = {};
    names.forEach((name, k) => {
      const ds = sets[k];
      const s = c.data === 'embedded' ? { train: ds.subset(Array.from({ length: n }, (_, i) => i)), test: ds.subset(Array.from({ length: nTest }, (_, i) => n + i)) } : split(ds, 0.3, c.seed + k);
      data[name] = s;
    });
    const modalities = names.map((name) => ({ name, numClasses: 1 }));
    io.log(`[m4oe] ${builder} on ${c.data} data, ${size}x${size}, seed ${c.seed}${c.quick ? ', quick' : ''}`);
    io.log(`  modalities: ${names.map((m, k) => `${m} = ${sets[k].name} (${data[m].train.length} train / ${data[m].test.length} test)`).join('; ')}`);
    io.log(`  phase 1 ${phase1} epochs (hard routing), phase 2 ${phase2} epochs (soft routing + CV balance loss); separate models get ${phase1 + phase2} epochs each`);
    const cmp = await compareM4oE({
      builder,
      modalities,
      data,
      phase1Epochs: phase1,
      phase2Epochs: phase2,
      width: c.width,
      batchSize: c.batch,
      learningRate: 3e-3,
      seed: c.seed,
    });
    const total = seconds(t0);
    io.log('');
    io.log(`M4oE vs shared vs separate: test Dice per modality (backend ${backend.name}):`);
    io.log(cmp.table);
    io.log(`total ${total.toFixed(1)} s`);
    if (c.json) {
      writeJson(c.json, {
        command: 'm4oe',
        builder,
        data: c.data,
        seed: c.seed,
        size,
        quick: c.quick,
        backend: backend.name,
        settings: { samples: n, test: nTest, phase1Epochs: phase1, phase2Epochs: phase2, width: c.width ?? null, batchSize: c.batch, learningRate: 3e-3 },
        modalities: names.map((m) => ({ name: m, train: data[m].train.length, test: data[m].test.length })),
        rows: cmp.rows,
        seconds: total,
      });
      io.log(`wrote ${c.json}`);
    }
    return 0;
  });
}
