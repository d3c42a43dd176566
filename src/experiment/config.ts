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
import { checkShape, isObject, typeName, type Shape } from '../util/schema';

/** Where the images come from. */
export type DataSource = 'synthetic' | 'kvasir' | 'ham10000' | 'cvc' | 'folder' | 'nifti';
/** Partition schemes (see src/partition). */
export type SchemeName = 'natural-id' | 'iid' | 'dirichlet' | 'pathological' | 'quantity';

export const DATA_SOURCES: readonly DataSource[] = ['synthetic', 'kvasir', 'ham10000', 'cvc', 'folder', 'nifti'];
export const SCHEME_NAMES: readonly SchemeName[] = ['natural-id', 'iid', 'dirichlet', 'pathological', 'quantity'];

/** A validated experiment (all defaults filled in). */
export interface ExperimentConfig {
  name: string;
  description: string;
  /** The paper table / figure this mirrors (free text). */
  mirrors: string;
  seed: number;
  data: Record<string, unknown> & { source: DataSource; size: number };
  partition: Record<string, unknown> & { scheme: SchemeName };
  featureShift: Record<string, unknown> | null;
  oversample: Record<string, unknown> | null;
  split: { testFraction: number };
  model: { name: string; width?: number };
  /** Strategy configs (any registered name, see src/fl/registry), each with its resolved `label`. */
  strategies: (StrategyConfig & { label: string })[];
  budget: { rounds: number; localEpochs: number; batchSize: number; learningRate: number; workers: number };
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
const SPLIT: Shape = { testFraction: { kind: 'number', min: 0, max: 1, exclusiveMin: true } };
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
  data: { kind: 'object', required: true },
  partition: { kind: 'object' },
  featureShift: { kind: 'object' },
  oversample: { kind: 'object' },
  split: { kind: 'object' },
  model: { kind: 'object', required: true },
  strategies: { kind: 'array', required: true },
  budget: { kind: 'object' },
  privacy: { kind: 'object' },
  dropout: { kind: 'object', shape: { probability: { kind: 'number', min: 0, max: 1 }, sites: { kind: 'object' } } },
  siteFailures: { kind: 'string', enum: ['fail', 'skip'] },
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
  const top = options.quick && isObject(given.quick) ? mergeDeep(given, given.quick) : given;
  const cfg = collect(top, problems);
  if (problems.length) throw new ConfigError(file, problems);
  return cfg as ExperimentConfig;
}

/** Validate the (merged) top-level object; appends problems; returns the config with defaults (meaningful only without problems). */
function collect(top: Record<string, unknown>, problems: string[]): ExperimentConfig {
  if (typeof top.name === 'string' && !LABEL_PATTERN.test(top.name)) {
    problems.push(`name: ${JSON.stringify(top.name)} is not a safe folder name (letters, digits, '.', '_', '-'; not starting with '.' or '-')`);
  }
  const dataRaw = isObject(top.data) ? top.data : {};
  const source = dataRaw.source as DataSource;
  const dataShape: Shape = { ...DATA_COMMON, ...(DATA_SOURCES.includes(source) ? DATA_BY_SOURCE[source] : {}) };
  const data = top.data !== undefined ? checkShape(top.data, dataShape, 'data', problems) : {};
  const partition = checkShape(top.partition ?? { scheme: source === 'synthetic' ? 'natural-id' : 'iid' }, PARTITION, 'partition', problems);
  const featureShift = top.featureShift !== undefined ? checkShape(top.featureShift, FEATURE_SHIFT, 'featureShift', problems) : null;
  const oversample = top.oversample !== undefined ? checkShape(top.oversample, OVERSAMPLE, 'oversample', problems) : null;
  const split = checkShape(top.split ?? {}, SPLIT, 'split', problems);
  const model = top.model !== undefined ? checkShape(top.model, MODEL, 'model', problems) : {};
  const budget = checkShape(top.budget ?? {}, BUDGET, 'budget', problems);
  const privacy = checkShape(top.privacy ?? {}, PRIVACY, 'privacy', problems);
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
      problems.push(...checkStrategyConfig(s, p, { rounds: isObject(top.budget) ? (top.budget.rounds as number | undefined) ?? 5 : 5 }));
      if (problems.length > before) return;
      const label = strategyLabel(s as unknown as StrategyConfig);
      if (labels.has(label)) problems.push(`${p}: duplicate strategy label '${label}' (give each a distinct "label")`);
      labels.add(label);
      strategies.push({ ...(s as unknown as StrategyConfig), label });
    });
  }
  checkConsistency(top, data, partition, model, problems);
  return {
    name: top.name as string,
    description: (top.description as string) ?? '',
    mirrors: (top.mirrors as string) ?? '',
    seed: (top.seed as number) ?? 0,
    data: { size: 64, ...(data as object) } as ExperimentConfig['data'],
    partition: partition as ExperimentConfig['partition'],
    featureShift,
    oversample,
    split: { testFraction: (split.testFraction as number) ?? 0.25 },
    model: model as ExperimentConfig['model'],
    strategies,
    budget: {
      rounds: (budget.rounds as number) ?? 5,
      localEpochs: (budget.localEpochs as number) ?? 1,
      batchSize: (budget.batchSize as number) ?? 8,
      learningRate: (budget.learningRate as number) ?? 2e-3,
      workers: (budget.workers as number) ?? 1,
    },
    privacy: { siteInference: (privacy.siteInference as boolean) ?? false, membership: (privacy.membership as boolean) ?? false },
    dropout: isObject(top.dropout) ? (top.dropout as ExperimentConfig['dropout']) : {},
    siteFailures: (top.siteFailures as 'fail' | 'skip' | undefined) ?? 'fail',
    quick: isObject(top.quick) ? (top.quick as Record<string, unknown>) : {},
  };
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
function checkConsistency(top: Record<string, unknown>, data: Record<string, unknown>, partition: Record<string, unknown>, model: Record<string, unknown>, problems: string[]): void {
  const scheme = partition.scheme as SchemeName;
  if (SCHEMES_NEEDING_SITES.includes(scheme) && partition.sites === undefined) problems.push(`partition.sites: required for scheme '${scheme}' (how many sites to make)`);
  if (data.source === 'nifti' && Array.isArray(data.volumes)) {
    if (data.volumes.length === 0) problems.push('data.volumes: expected at least one volume');
    data.volumes.forEach((v, i) => checkShape(v, VOLUME, `data.volumes[${i}]`, problems));
  }
  const size = typeof data.size === 'number' ? data.size : 64;
  if (typeof model.name === 'string' && (MODEL_NAMES as readonly string[]).includes(model.name) && Number.isInteger(size)) {
    try {
      resolveModelOptions(model.name, { inputShape: [size, size, (data.channels as number | undefined) ?? 3], numClasses: 1, width: model.width as number | undefined });
    } catch (e) {
      problems.push(`data.size: ${(e as Error).message}`);
    }
  }
  const dropout = isObject(top.dropout) ? top.dropout : {};
  if (isObject(dropout.sites)) {
    const rounds = isObject(top.budget) && typeof top.budget.rounds === 'number' ? top.budget.rounds : 5;
    for (const [round, names] of Object.entries(dropout.sites)) {
      const r = Number(round);
      if (!Number.isInteger(r) || r < 0 || r >= rounds) problems.push(`dropout.sites.${round}: not a round of this run (0-based, 0..${rounds - 1})`);
      if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) problems.push(`dropout.sites.${round}: expected an array of site names`);
    }
  }
}
