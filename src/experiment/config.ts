/**
 * Experiment configs: one JSON file in experiments/ describes dataset +
 * partitioner + oversampling + model + strategies + budget + seed. Everything
 * is validated, with messages naming the file, the key path, what was found and
 * what was expected, before anything trains.
 */
import { readFileSync } from 'node:fs';
import { MODEL_NAMES, resolveModelOptions } from '../models/registry';
import { checkStrategyConfig, LABEL_PATTERN, strategyLabel } from '../fl/registry';
import type { StrategyConfig } from '../fl/types';
import type { LearningRateSchedule } from '../train/schedule';
import { SEGMENTATION_LOSSES, type SegmentationLossName } from '../metrics/losses';
import { checkShape, isObject, typeName, type Shape } from '../util/schema';

/** Where the images come from. */
export type DataSource = 'synthetic' | 'kvasir' | 'ham10000' | 'cvc' | 'folder' | 'nifti';
/** Partition schemes (see src/partition). */
export type SchemeName = 'natural-id' | 'iid' | 'dirichlet' | 'pathological' | 'quantity';

export const DATA_SOURCES: readonly DataSource[] = ['synthetic', 'kvasir', 'ham10000', 'cvc', 'folder', 'nifti'];
export const SCHEME_NAMES: readonly SchemeName[] = ['natural-id', 'iid', 'dirichlet', 'pathological', 'quantity'];

/** One dataset of an experiment (with defaults): `label` names it in cell ids and tables. */
export type DataConfig = Record<string, unknown> & { source: DataSource; size: number; label: string };

/** One model of an experiment: `label` names it in cell ids and tables. */
export interface ExperimentModelConfig {
  name: string;
  width?: number;
  label: string;
}

/** One training budget of an experiment: `label` names it in cell ids when budgets vary. */
export interface BudgetConfig {
  rounds: number;
  localEpochs: number;
  batchSize: number;
  learningRate: number;
  workers: number;
  label: string;
}

/**
 * A validated experiment (all defaults filled in): a GRID of cells
 * datasets x models x strategies x seeds x budgets (see ./grid). A config
 * gives `data` (one object or a list), `model` or `models`, `seed` or
 * `seeds`, and any budget field as a value or a list.
 */
export interface ExperimentConfig {
  name: string;
  description: string;
  /** The paper table / figure this mirrors (free text). */
  mirrors: string;
  /** Seeds of model initialisation and batch order; one cell per seed (default [0]). */
  seeds: number[];
  /**
   * When true, a cell's seed also draws its partition and splits (repeated
   * random splits); when false (default) every cell uses the splits of
   * `splitSeed`, so cells differ only in initialisation and batch order and
   * paired comparisons are on the same splits.
   */
  resplit: boolean;
  /** Seed of partition and splits when `resplit` is false. Default: the first seed. */
  splitSeed: number;
  datasets: DataConfig[];
  partition: Record<string, unknown> & { scheme: SchemeName };
  featureShift: Record<string, unknown> | null;
  oversample: Record<string, unknown> | null;
  /** Per site: held-out test fraction (default 0.25) and validation fraction (default 0: no validation split, no model selection). */
  split: { testFraction: number; validationFraction: number; folds?: number };
  /** Per-epoch learning-rate schedule of the clients (default constant). */
  learningRateSchedule: LearningRateSchedule;
  /** Training and validation loss by name (default 'bce-dice'; 'dice': smp multiclass soft Dice). */
  loss: SegmentationLossName;
  /** Which round's model is kept: default 'best-validation-loss' when `split.validationFraction` > 0, else 'last'. */
  selection?: 'best-validation-loss' | 'last';
  /** Plateau rule of `converged` (defaults: patience 3 evaluated rounds, 1% relative improvement). */
  convergence?: { patience?: number; minRelativeImprovement?: number };
  models: ExperimentModelConfig[];
  /** Strategy configs (any registered name, see src/fl/registry), each with its resolved `label`. */
  strategies: (StrategyConfig & { label: string })[];
  /** Every combination of the list-valued budget fields (one element when none is a list). */
  budgets: BudgetConfig[];
  privacy: { siteInference: boolean; membership: boolean };
  /** Sites absent on purpose (robustness experiments): `probability` per (round, site), or `sites` by 0-based round. */
  dropout: { probability?: number; sites?: Record<string, string[]> };
  /** 'fail' (default): a site failing in every round fails the strategy; 'skip': recorded only. */
  siteFailures: 'fail' | 'skip';
  /** Overrides applied by `--quick` (same shape as the top level, partial). */
  quick: Record<string, unknown>;
}

/** A config problem: `path` like 'data.sites'. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: invalid experiment config\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const DATA_COMMON: Shape = {
  source: { kind: 'string', required: true, enum: DATA_SOURCES },
  size: { kind: 'integer', min: 16 },
  channels: { kind: 'integer', enum: [1, 3] },
  limit: { kind: 'integer', min: 1 },
};
const DATA_BY_SOURCE: Record<DataSource, Shape> = {
  synthetic: {
    task: { kind: 'string', enum: ['polyp', 'lesion'] },
    sites: { kind: 'integer', min: 1 },
    samplesPerSite: { kind: 'integer', min: 2 },
    heterogeneity: { kind: 'number', min: 0, max: 1 },
    classMix: { kind: 'string', enum: ['uniform', 'skewed'] },
    imagesPerPatient: { kind: 'integer', min: 1 },
    emptyFraction: { kind: 'number', min: 0, max: 1 },
  },
  kvasir: { root: { kind: 'string', required: true } },
  ham10000: { root: { kind: 'string', required: true }, metadataFile: { kind: 'string' } },
  cvc: { root: { kind: 'string', required: true } },
  folder: { images: { kind: 'string', required: true }, masks: { kind: 'string', required: true }, site: { kind: 'string' } },
  nifti: {
    volumes: { kind: 'array', required: true, doc: 'entries { image, label?, site?, patientId? } (paths relative to the repository)' },
    axis: { kind: 'string', enum: ['axial', 'coronal', 'sagittal'] },
    window: { kind: 'string' },
    minForeground: { kind: 'integer', min: 0 },
  },
};
const PARTITION: Shape = {
  scheme: { kind: 'string', required: true, enum: SCHEME_NAMES },
  sites: { kind: 'integer', min: 1 },
  alpha: { kind: 'number', min: 0, exclusiveMin: true },
  k: { kind: 'integer', min: 1 },
  column: { kind: 'string' },
  groupBy: { kind: 'string' },
  minPartitionSize: { kind: 'integer', min: 0 },
  sizeScheme: { kind: 'string', enum: ['linear', 'square', 'exponential', 'power-law', 'dirichlet'] },
};
const FEATURE_SHIFT: Shape = { enabled: { kind: 'boolean' }, identitySites: { kind: 'array' } };
const OVERSAMPLE: Shape = {
  method: { kind: 'string', required: true, enum: ['copy-paste', 'random'] },
  mode: { kind: 'string', enum: ['per-site', 'synthetic-cohort'] },
  factor: { kind: 'number', min: 0 },
  seed: { kind: 'integer' },
};
const SPLIT: Shape = {
  testFraction: { kind: 'number', min: 0, max: 1, exclusiveMin: true },
  validationFraction: { kind: 'number', min: 0, max: 1 },
  folds: { kind: 'integer', min: 2, doc: 'k-fold cross-validation by patient / lesion: one cell per fold' },
};
const SCHEDULE: Shape = {
  name: { kind: 'string', required: true, enum: ['constant', 'cosine', 'poly', 'step'] },
  minLearningRate: { kind: 'number', min: 0 },
  restartEpochs: { kind: 'integer', min: 1 },
  restartMultiplier: { kind: 'integer', min: 1 },
  power: { kind: 'number', min: 0, exclusiveMin: true },
  stepEpochs: { kind: 'integer', min: 1 },
  gamma: { kind: 'number', min: 0, exclusiveMin: true },
};
const CONVERGENCE: Shape = { patience: { kind: 'integer', min: 1 }, minRelativeImprovement: { kind: 'number', min: 0 } };
const MODEL: Shape = { name: { kind: 'string', required: true, enum: MODEL_NAMES }, width: { kind: 'integer', min: 1 } };
const BUDGET: Shape = {
  rounds: { kind: 'integer', min: 1 },
  localEpochs: { kind: 'integer', min: 1 },
  batchSize: { kind: 'integer', min: 1 },
  learningRate: { kind: 'number', min: 0, exclusiveMin: true },
  workers: { kind: 'integer', min: 1 },
};
const PRIVACY: Shape = { siteInference: { kind: 'boolean' }, membership: { kind: 'boolean' } };
const TOP: Shape = {
  name: { kind: 'string', required: true },
  description: { kind: 'string' },
  mirrors: { kind: 'string' },
  seed: { kind: 'integer' },
  seeds: { kind: 'array' },
  resplit: { kind: 'boolean' },
  splitSeed: { kind: 'integer' },
  data: { kind: 'object|array', required: true },
  partition: { kind: 'object' },
  featureShift: { kind: 'object' },
  oversample: { kind: 'object' },
  split: { kind: 'object' },
  model: { kind: 'object' },
  models: { kind: 'array' },
  strategies: { kind: 'array', required: true },
  budget: { kind: 'object' },
  privacy: { kind: 'object' },
  dropout: { kind: 'object', shape: { probability: { kind: 'number', min: 0, max: 1 }, sites: { kind: 'object' } } },
  siteFailures: { kind: 'string', enum: ['fail', 'skip'] },
  learningRateSchedule: { kind: 'object', shape: SCHEDULE },
  loss: { kind: 'string', enum: SEGMENTATION_LOSSES },
  selection: { kind: 'string', enum: ['best-validation-loss', 'last'] },
  convergence: { kind: 'object', shape: CONVERGENCE },
  quick: { kind: 'object' },
  $schema: { kind: 'string' },
};

/** Deep-merge `over` into `base` (objects merge, arrays and scalars replace). */
export function mergeDeep(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isObject(v) && isObject(out[k]) ? mergeDeep(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

/**
 * Validate a parsed config (`file` is only used in messages). With `quick`,
 * the config's `quick` overrides are merged in first. Throws {@link ConfigError}
 * listing every problem found.
 */
export function validateExperiment(raw: unknown, file = '<config>', options: { quick?: boolean } = {}): ExperimentConfig {
  const problems: string[] = [];
  const given = checkShape(raw, TOP, '', problems);
  const top = options.quick && isObject(given.quick) ? mergeDeep(given, given.quick) : given;
  const cfg = collect(top, problems);
  if (isObject(given.quick)) {
    // The quick block is validated like the rest: its own keys here, the merged config below
    // (in normal runs its problems are reported too, marked as coming from the quick overrides).
    const { quick: _q, $schema: _s, ...allowed } = TOP;
    checkShape(given.quick, Object.fromEntries(Object.entries(allowed).map(([k, f]) => [k, { ...f, required: false }])), 'quick', problems);
    if (!options.quick) {
      const merged: string[] = [];
      collect(mergeDeep(given, given.quick), merged);
      for (const m of merged) if (!problems.includes(m)) problems.push(`${m} (with the quick overrides)`);
    }
  }
  if (problems.length) throw new ConfigError(file, problems);
  return cfg as ExperimentConfig;
}

/** Validate the (merged) top-level object; appends problems; returns the config with defaults (meaningful only without problems). */
function collect(top: Record<string, unknown>, problems: string[]): ExperimentConfig {
  if (typeof top.name === 'string' && !LABEL_PATTERN.test(top.name)) {
    problems.push(`name: ${JSON.stringify(top.name)} is not a safe folder name (letters, digits, '.', '_', '-'; not starting with '.' or '-')`);
  }
  // ---- datasets: `data` is one object or a list
  const dataList = Array.isArray(top.data) ? top.data : top.data !== undefined ? [top.data] : [];
  if (Array.isArray(top.data) && top.data.length === 0) problems.push('data: expected at least one dataset');
  const datasets: DataConfig[] = [];
  dataList.forEach((d, i) => {
    const p = Array.isArray(top.data) ? `data[${i}]` : 'data';
    const source = isObject(d) ? (d.source as DataSource) : undefined;
    const shape: Shape = { ...DATA_COMMON, label: { kind: 'string' }, ...(source && DATA_SOURCES.includes(source) ? DATA_BY_SOURCE[source] : {}) };
    const checked = checkShape(d, shape, p, problems);
    datasets.push({ size: 64, ...checked, label: (checked.label as string | undefined) ?? String(checked.source) } as DataConfig);
  });
  uniqueLabels(datasets, Array.isArray(top.data) ? 'data' : '', 'data', problems);
  const partition = checkShape(top.partition ?? { scheme: datasets[0]?.source === 'synthetic' ? 'natural-id' : 'iid' }, PARTITION, 'partition', problems);
  const featureShift = top.featureShift !== undefined ? checkShape(top.featureShift, FEATURE_SHIFT, 'featureShift', problems) : null;
  const oversample = top.oversample !== undefined ? checkShape(top.oversample, OVERSAMPLE, 'oversample', problems) : null;
  const split = checkShape(top.split ?? {}, SPLIT, 'split', problems);
  // ---- models: `model` or `models`
  if (top.model !== undefined && top.models !== undefined) problems.push('models: give either "model" or "models", not both');
  if (top.model === undefined && top.models === undefined) problems.push('model: required (or "models": [...])');
  const modelList = Array.isArray(top.models) ? top.models : top.model !== undefined ? [top.model] : [];
  if (Array.isArray(top.models) && top.models.length === 0) problems.push('models: expected at least one model');
  const models: ExperimentModelConfig[] = modelList.map((m, i) => {
    const checked = checkShape(m, { ...MODEL, label: { kind: 'string' } }, Array.isArray(top.models) ? `models[${i}]` : 'model', problems);
    const label = (checked.label as string | undefined) ?? (checked.width !== undefined ? `${checked.name}-w${checked.width}` : String(checked.name));
    return { name: checked.name as string, ...(checked.width !== undefined ? { width: checked.width as number } : {}), label };
  });
  uniqueLabels(models, Array.isArray(top.models) ? 'models' : '', 'model', problems);
  // ---- seeds
  if (top.seed !== undefined && top.seeds !== undefined) problems.push('seeds: give either "seed" or "seeds", not both');
  const seeds = Array.isArray(top.seeds) ? top.seeds : [top.seed ?? 0];
  if (Array.isArray(top.seeds) && top.seeds.length === 0) problems.push('seeds: expected at least one seed');
  seeds.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isInteger(x)) problems.push(`seeds[${i}]: expected an integer, got ${typeName(x)}`);
  });
  if (new Set(seeds).size !== seeds.length) problems.push(`seeds: duplicate seeds ${JSON.stringify(seeds)}`);
  // ---- budgets: any field a value or a list -> the product
  const budgetRaw = isObject(top.budget) ? top.budget : top.budget === undefined ? {} : (problems.push(`budget: expected an object, got ${typeName(top.budget)}`), {});
  const budgetLists: Record<string, unknown[]> = {};
  for (const [k, v] of Object.entries(budgetRaw)) {
    const values = Array.isArray(v) ? v : [v];
    if (Array.isArray(v) && v.length === 0) problems.push(`budget.${k}: expected at least one value`);
    values.forEach((x, i) => checkShape({ [k]: x }, BUDGET, Array.isArray(v) ? `budget[${i}]` : 'budget', problems));
    budgetLists[k] = values;
  }
  const budgets = budgetProduct(budgetLists);
  const privacy = checkShape(top.privacy ?? {}, PRIVACY, 'privacy', problems);
  const maxRounds = Math.max(...budgets.map((b) => b.rounds));
  const strategies: ExperimentConfig['strategies'] = [];
  if (Array.isArray(top.strategies)) {
    if (top.strategies.length === 0) problems.push('strategies: expected at least one strategy');
    const labels = new Set<string>();
    top.strategies.forEach((s, i) => {
      const p = `strategies[${i}]`;
      if (!isObject(s)) {
        problems.push(`${p}: expected an object like {"name": "fedavg"}, got ${typeName(s)}`);
        return;
      }
      const before = problems.length;
      for (const rounds of new Set(budgets.map((b) => b.rounds))) {
        for (const m of checkStrategyConfig(s, p, { rounds })) if (!problems.includes(m)) problems.push(m);
      }
      if (problems.length > before) return;
      const label = strategyLabel(s as unknown as StrategyConfig);
      if (labels.has(label)) problems.push(`${p}: duplicate strategy label '${label}' (give each a distinct "label")`);
      labels.add(label);
      strategies.push({ ...(s as unknown as StrategyConfig), label });
    });
  }
  for (const d of datasets) for (const m of models) checkConsistency(top, d, partition, m, maxRounds, problems);
  const firstSeed = typeof seeds[0] === 'number' ? (seeds[0] as number) : 0;
  return {
    name: top.name as string,
    description: (top.description as string) ?? '',
    mirrors: (top.mirrors as string) ?? '',
    seeds: seeds as number[],
    resplit: (top.resplit as boolean | undefined) ?? false,
    splitSeed: (top.splitSeed as number | undefined) ?? firstSeed,
    datasets,
    partition: partition as ExperimentConfig['partition'],
    featureShift,
    oversample,
    split: { testFraction: (split.testFraction as number) ?? 0.25, validationFraction: (split.validationFraction as number) ?? 0, ...(split.folds !== undefined ? { folds: split.folds as number } : {}) },
    loss: (typeof top.loss === 'string' ? top.loss : 'bce-dice') as SegmentationLossName,
    learningRateSchedule: (isObject(top.learningRateSchedule) ? top.learningRateSchedule : { name: 'constant' }) as unknown as LearningRateSchedule,
    ...(top.selection !== undefined ? { selection: top.selection as 'best-validation-loss' | 'last' } : {}),
    ...(isObject(top.convergence) ? { convergence: top.convergence as ExperimentConfig['convergence'] } : {}),
    models,
    strategies,
    budgets,
    privacy: { siteInference: (privacy.siteInference as boolean) ?? false, membership: (privacy.membership as boolean) ?? false },
    dropout: isObject(top.dropout) ? (top.dropout as ExperimentConfig['dropout']) : {},
    siteFailures: (top.siteFailures as 'fail' | 'skip' | undefined) ?? 'fail',
    quick: isObject(top.quick) ? (top.quick as Record<string, unknown>) : {},
  };
}

/** Labels (used as folder-name parts) must be unique and safe. */
function uniqueLabels(items: readonly { label: string }[], listKey: string, what: string, problems: string[]): void {
  const seen = new Set<string>();
  items.forEach((x, i) => {
    const p = listKey ? `${listKey}[${i}].label` : `${what}.label`;
    if (!LABEL_PATTERN.test(x.label)) problems.push(`${p}: ${JSON.stringify(x.label)} is not a safe label (letters, digits, '.', '_', '-')`);
    else if (seen.has(x.label)) problems.push(`${p}: duplicate ${what} label '${x.label}' (give each a distinct "label")`);
    seen.add(x.label);
  });
}

const BUDGET_DEFAULTS = { rounds: 5, localEpochs: 1, batchSize: 8, learningRate: 2e-3, workers: 1 };
const BUDGET_SHORT: Record<string, string> = { rounds: 'r', localEpochs: 'e', batchSize: 'b', learningRate: 'lr', workers: 'w' };

/** The cartesian product of list-valued budget fields, in key order; labels name only the fields that vary. */
function budgetProduct(lists: Record<string, unknown[]>): BudgetConfig[] {
  let out: Record<string, unknown>[] = [{}];
  for (const [k, values] of Object.entries(lists)) out = out.flatMap((b) => values.map((v) => ({ ...b, [k]: v })));
  const varying = Object.entries(lists).filter(([, v]) => v.length > 1).map(([k]) => k);
  return out.map((b) => {
    const full = { ...BUDGET_DEFAULTS, ...b } as Omit<BudgetConfig, 'label'>;
    const label = varying.map((k) => `${BUDGET_SHORT[k] ?? k}${String((full as unknown as Record<string, unknown>)[k])}`).join('-') || 'budget';
    return { ...full, label };
  });
}

/** Read and validate an experiment JSON file. */
export function loadExperiment(file: string, options: { quick?: boolean } = {}): ExperimentConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, [`cannot read the file (${(e as Error).message.split('\n')[0]})`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(file, [`not valid JSON: ${(e as Error).message}`]);
  }
  return validateExperiment(raw, file, options);
}

const VOLUME: Shape = {
  image: { kind: 'string', required: true },
  label: { kind: 'string' },
  site: { kind: 'string' },
  patientId: { kind: 'string' },
};

const SCHEMES_NEEDING_SITES: readonly SchemeName[] = ['iid', 'dirichlet', 'pathological', 'quantity'];

/**
 * Checks across sections, so a config fails before anything trains: a scheme
 * that needs `partition.sites`, NIfTI volume entries, an image size the
 * model cannot take, a dropout schedule with bad rounds.
 */
function checkConsistency(top: Record<string, unknown>, data: Record<string, unknown>, partition: Record<string, unknown>, model: { name: string; width?: number }, rounds: number, problems: string[]): void {
  const scheme = partition.scheme as SchemeName;
  const split = isObject(top.split) ? top.split : {};
  const tf = typeof split.folds === 'number' && split.folds >= 2 ? 1 / split.folds : typeof split.testFraction === 'number' ? split.testFraction : 0.25;
  if (typeof split.validationFraction === 'number' && split.validationFraction >= 1 - tf) {
    problems.includes(`split.validationFraction: must be below 1 - ${typeof split.folds === 'number' ? '1/folds' : 'testFraction'} = ${1 - tf}, got ${split.validationFraction}`) ||
      problems.push(`split.validationFraction: must be below 1 - ${typeof split.folds === 'number' ? '1/folds' : 'testFraction'} = ${1 - tf}, got ${split.validationFraction}`);
  }
  if (top.selection === 'best-validation-loss' && !(typeof split.validationFraction === 'number' && split.validationFraction > 0)) {
    const m = "selection: 'best-validation-loss' needs validation splits (split.validationFraction > 0)";
    if (!problems.includes(m)) problems.push(m);
  }
  const push = (m: string) => {
    if (!problems.includes(m)) problems.push(m);
  };
  if (SCHEMES_NEEDING_SITES.includes(scheme) && partition.sites === undefined) push(`partition.sites: required for scheme '${scheme}' (how many sites to make)`);
  if (data.source === 'nifti' && Array.isArray(data.volumes)) {
    if (data.volumes.length === 0) push('data.volumes: expected at least one volume');
    const found: string[] = [];
    data.volumes.forEach((v, i) => checkShape(v, VOLUME, `data.volumes[${i}]`, found));
    found.forEach(push);
  }
  const size = typeof data.size === 'number' ? data.size : 64;
  if (typeof model.name === 'string' && (MODEL_NAMES as readonly string[]).includes(model.name) && Number.isInteger(size)) {
    try {
      resolveModelOptions(model.name, { inputShape: [size, size, (data.channels as number | undefined) ?? 3], numClasses: 1, width: model.width });
    } catch (e) {
      push(`data.size: ${(e as Error).message}`);
    }
  }
  const dropout = isObject(top.dropout) ? top.dropout : {};
  if (isObject(dropout.sites)) {
    for (const [round, names] of Object.entries(dropout.sites)) {
      const r = Number(round);
      if (!Number.isInteger(r) || r < 0 || r >= rounds) push(`dropout.sites.${round}: not a round of this run (0-based, 0..${rounds - 1})`);
      if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) push(`dropout.sites.${round}: expected an array of site names`);
    }
  }
}
