/**
 * Shared machinery for the site partitioners: the input type, group handling
 * (`groupBy`), eager option validation helpers and the abstract base class.
 *
 * Modelled on Flower Datasets' `flwr_datasets/partitioner/partitioner.py`
 * (a small base class, a seeded generator, one partitioner per module), but
 * assignment is a pure function of (options, input): every `assign` call
 * re-creates its random stream from `seed`, so the same options and input
 * always give the same sites (Flower caches the first assignment instead).
 */
import { SubsetDataset } from '../data/types';
import type { Dataset, Sample, SampleInfo, SampleMeta } from '../data/types';
import { Rng, createRng } from '../util/rng';

/**
 * What a partitioner needs to know about a dataset: labels and/or metadata,
 * never pixels. All arrays present must have the same length (= number of samples).
 */
export interface PartitionInput {
  /** Image-level class index per sample (integers >= 0). Needed by label-based schemes. */
  labels?: readonly number[];
  /** Metadata per sample (`site`, `patientId`, `lesionId`, CSV columns ...). */
  meta?: readonly SampleMeta[];
  /** Sample ids (only used for error messages and reports). */
  ids?: readonly string[];
  /** Class names, index = label (only used by reports). */
  classNames?: readonly string[];
}

/** Build a {@link PartitionInput} from a dataset through its cheap `info(i)` (no decoding). */
export function partitionInput(ds: Dataset): PartitionInput {
  const labels: number[] = [];
  const meta: SampleMeta[] = [];
  const ids: string[] = [];
  let allLabelled = true;
  for (let i = 0; i < ds.length; i++) {
    const inf = ds.info(i);
    ids.push(inf.id);
    meta.push(inf.meta);
    if (inf.label === undefined) allLabelled = false;
    labels.push(inf.label ?? -1);
  }
  return {
    labels: allLabelled && ds.length > 0 ? labels : undefined,
    meta,
    ids,
    classNames: ds.classNames,
  };
}

/**
 * How samples are grouped so that no group is split across sites: a metadata
 * key (e.g. `'lesionId'`, `'patientId'`) or a function returning a group key.
 * Samples whose key is `undefined`/`null`/`''` form singleton groups.
 */
export type GroupBy = string | ((meta: SampleMeta, index: number, label: number | undefined) => unknown);

/** Sink for non-fatal warnings (defaults to `console.warn`). */
export interface PartitionLogger {
  warn(message: string): void;
}

/** Options every partitioner accepts. */
export interface BasePartitionOptions {
  /** Seed of the assignment (default 42, as in Flower Datasets). */
  seed?: number;
  /**
   * Randomise which samples go where and the order inside each site (default true).
   * With `false`, each site's indices come back sorted ascending and schemes
   * that cut contiguous chunks (iid, quantity) cut them in dataset order.
   */
  shuffle?: boolean;
  /**
   * Keep groups whole: the scheme partitions groups (units), then each group is
   * expanded to its samples. Label-based schemes see each group labelled by its
   * majority label (ties: smallest class index); metadata columns use the
   * majority value (ties: first seen). Sizes and counts requested from the
   * scheme (minPartitionSize, sizes, k classes) then count groups, not samples.
   */
  groupBy?: GroupBy;
  /** Where warnings go (default `console`). */
  logger?: PartitionLogger;
}

/** The unit-level view a scheme partitions (samples, or groups when `groupBy` is set). */
export interface UnitInput {
  /** Number of units. */
  readonly n: number;
  /** Label per unit (majority label for groups), when the input has labels. */
  readonly labels?: readonly number[];
  /** Number of samples in each unit. */
  readonly sizes: readonly number[];
  /** Value of a metadata column / function per unit (majority over a group's members). */
  column(key: GroupBy): string[];
}

/** Anything that splits a dataset into sites. */
export interface SitePartitioner {
  /** Scheme name used in reports (e.g. `'dirichlet'`). */
  readonly scheme: string;
  /** Seed of the assignment. */
  readonly seed: number;
  /** One index list per site (indices into the input). */
  assign(input: PartitionInput | Dataset): number[][];
  /** Each site's samples as a lazy dataset view. */
  sites(dataset: Dataset): Dataset[];
}

// ---------------------------------------------------------------- validation

/** Throw unless `value` is an integer >= `min`. */
export function requireInt(owner: string, name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new Error(`${owner}: '${name}' must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** Throw unless `value` is a finite number > 0. */
export function requirePositive(owner: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !(value > 0)) {
    throw new Error(`${owner}: '${name}' must be a finite number > 0, got ${String(value)}`);
  }
  return value;
}

function isDataset(x: PartitionInput | Dataset): x is Dataset {
  return typeof (x as Dataset).info === 'function' && typeof (x as Dataset).length === 'number';
}

/** Normalise a dataset or input object, checking lengths and labels. */
export function normaliseInput(owner: string, x: PartitionInput | Dataset): PartitionInput & { n: number } {
  const input = isDataset(x) ? partitionInput(x) : x;
  const lens: [string, number][] = [];
  if (input.labels) lens.push(['labels', input.labels.length]);
  if (input.meta) lens.push(['meta', input.meta.length]);
  if (input.ids) lens.push(['ids', input.ids.length]);
  if (lens.length === 0) throw new Error(`${owner}: the input has neither labels, meta nor ids`);
  const n = lens[0][1];
  for (const [k, l] of lens) {
    if (l !== n) throw new Error(`${owner}: input.${k} has length ${l} but input.${lens[0][0]} has ${n}`);
  }
  if (input.labels) {
    input.labels.forEach((l, i) => {
      if (!Number.isInteger(l) || l < 0) {
        throw new Error(`${owner}: label of sample ${input.ids?.[i] ?? i} must be an integer >= 0, got ${l}`);
      }
    });
  }
  return { ...input, n };
}

/** Read a group/column key of sample `i`. */
export function keyOf(input: PartitionInput, key: GroupBy, i: number): unknown {
  if (typeof key === 'function') return key(input.meta?.[i] ?? {}, i, input.labels?.[i]);
  if (!input.meta) throw new Error(`metadata column '${key}' requested but the input has no meta`);
  return input.meta[i][key];
}

function isMissing(v: unknown): boolean {
  return v === undefined || v === null || v === '' || (typeof v === 'number' && Number.isNaN(v));
}

/** Most frequent value; ties broken by `tieBreak` order (first of sorted candidates). */
function majority<T>(values: readonly T[], better: (a: T, b: T) => boolean): T {
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best = values[0];
  let bestCount = -1;
  for (const [v, c] of counts) {
    if (c > bestCount || (c === bestCount && better(v, best))) {
      best = v;
      bestCount = c;
    }
  }
  return best;
}

/**
 * Group the samples of `input` by `groupBy` (first-seen order of groups).
 * Returns one member list per group.
 */
export function groupSamples(owner: string, input: PartitionInput & { n: number }, groupBy: GroupBy): number[][] {
  if (typeof groupBy === 'string') {
    if (!input.meta) throw new Error(`${owner}: groupBy '${groupBy}' needs input.meta`);
    const known = input.meta.some((m) => groupBy in m);
    if (!known && input.n > 0) {
      const keys = Object.keys(input.meta[0] ?? {}).join(', ');
      throw new Error(`${owner}: unknown groupBy column '${groupBy}' (meta keys: ${keys})`);
    }
  }
  const byKey = new Map<string, number[]>();
  const groups: number[][] = [];
  for (let i = 0; i < input.n; i++) {
    const k = keyOf(input, groupBy, i);
    if (isMissing(k)) {
      groups.push([i]);
      continue;
    }
    const s = String(k);
    let g = byKey.get(s);
    if (!g) {
      g = [];
      byKey.set(s, g);
      groups.push(g);
    }
    g.push(i);
  }
  return groups;
}

/** Build the unit-level input: one unit per sample, or per group. */
export function buildUnits(input: PartitionInput & { n: number }, groups: number[][] | null, owner: string): UnitInput {
  const members = groups ?? Array.from({ length: input.n }, (_, i) => [i]);
  const labels = input.labels
    ? members.map((m) => majority(m.map((i) => input.labels![i]), (a, b) => a < b))
    : undefined;
  return {
    n: members.length,
    labels,
    sizes: members.map((m) => m.length),
    column(key: GroupBy): string[] {
      if (typeof key === 'string') {
        if (!input.meta) throw new Error(`${owner}: column '${key}' needs input.meta`);
        if (input.n > 0 && !input.meta.some((m) => key in m)) {
          const keys = Object.keys(input.meta[0] ?? {}).join(', ');
          throw new Error(`${owner}: unknown column '${key}' (meta keys: ${keys})`);
        }
      }
      return members.map((m, u) => {
        const vals = m.map((i) => keyOf(input, key, i));
        const present = vals.filter((v) => !isMissing(v)).map(String);
        if (present.length === 0) {
          const id = input.ids?.[m[0]] ?? String(m[0]);
          throw new Error(`${owner}: sample ${id} (unit ${u}) has no value for column '${typeof key === 'string' ? key : '<function>'}'`);
        }
        return majority(present, () => false);
      });
    },
  };
}

/** Sorted distinct labels present in `labels`. */
export function uniqueLabels(labels: readonly number[]): number[] {
  return Array.from(new Set(labels)).sort((a, b) => a - b);
}

/** numpy.array_split: `n` items into `parts` chunks, the first `n % parts` one longer. */
export function arraySplit<T>(items: readonly T[], parts: number): T[][] {
  const out: T[][] = [];
  const base = Math.floor(items.length / parts);
  const extra = items.length % parts;
  let at = 0;
  for (let p = 0; p < parts; p++) {
    const len = base + (p < extra ? 1 : 0);
    out.push(items.slice(at, at + len));
    at += len;
  }
  return out;
}

/**
 * Base class: validates the common options eagerly, handles `groupBy`
 * (partition units, then expand), final ordering (`shuffle`) and
 * `sites(dataset)`. Subclasses implement {@link Partitioner.assignUnits}.
 */
export abstract class Partitioner implements SitePartitioner {
  abstract readonly scheme: string;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly groupBy?: GroupBy;
  protected readonly logger: PartitionLogger;

  constructor(opts: BasePartitionOptions) {
    const owner = new.target.name;
    if (opts.seed !== undefined && !Number.isFinite(opts.seed)) {
      throw new Error(`${owner}: 'seed' must be a finite number, got ${String(opts.seed)}`);
    }
    if (opts.groupBy !== undefined && typeof opts.groupBy !== 'string' && typeof opts.groupBy !== 'function') {
      throw new Error(`${owner}: 'groupBy' must be a metadata key or a function`);
    }
    if (typeof opts.groupBy === 'string' && opts.groupBy.length === 0) {
      throw new Error(`${owner}: 'groupBy' must not be empty`);
    }
    this.seed = opts.seed ?? 42;
    this.shuffle = opts.shuffle ?? true;
    this.groupBy = opts.groupBy;
    this.logger = opts.logger ?? console;
  }

  /** One index list per site. Every sample index appears at most once (exactly once unless the scheme documents otherwise). */
  assign(input: PartitionInput | Dataset): number[][] {
    const owner = this.constructor.name;
    const norm = normaliseInput(owner, input);
    const groups = this.groupBy !== undefined ? groupSamples(owner, norm, this.groupBy) : null;
    const units = buildUnits(norm, groups, owner);
    const rng = createRng(this.seed);
    const unitSites = this.assignUnits(units, rng.fork('assign'));
    const order = rng.fork('order');
    return unitSites.map((us) => {
      const idx = groups ? us.flatMap((u) => groups[u]) : us.slice();
      if (this.shuffle) order.shuffle(idx);
      else idx.sort((a, b) => a - b);
      return idx;
    });
  }

  /** Each site's samples as a lazy {@link SubsetDataset} named `<dataset>[site i]`. */
  sites(dataset: Dataset): SubsetDataset[] {
    return this.assign(dataset).map((idx, s) => new SubsetDataset(dataset, idx, `${dataset.name}[site ${s}]`));
  }

  /** Scheme-specific assignment of units (samples or groups) to sites. */
  protected abstract assignUnits(units: UnitInput, rng: Rng): number[][];

  /** Labels of the units, or a clear error when the scheme needs them. */
  protected requireLabels(units: UnitInput): readonly number[] {
    if (!units.labels) throw new Error(`${this.constructor.name}: this scheme needs labels (input.labels or dataset labels)`);
    return units.labels;
  }
}

// ---------------------------------------------------------------- site names

/**
 * A view of a dataset whose samples carry `meta.site = site` (replacing any
 * previous `site` value); everything else (name, length, task, class names,
 * ids, labels, other metadata, image and mask buffers) is the parent's. The
 * parent's samples and metadata objects are never modified: `info` / `load`
 * return shallow copies with a new `meta` object. Create with
 * {@link withSiteNames} / {@link namedSites}.
 */
export class SiteNamedDataset implements Dataset {
  readonly name: string;
  readonly length: number;
  readonly task: Dataset['task'];
  readonly classNames: readonly string[];
  readonly maskClasses: readonly string[];

  constructor(
    readonly parent: Dataset,
    /** The site name written into every sample's `meta.site`. */
    readonly site: string,
  ) {
    this.name = parent.name;
    this.length = parent.length;
    this.task = parent.task;
    this.classNames = parent.classNames;
    this.maskClasses = parent.maskClasses;
  }

  info(i: number): SampleInfo {
    const s = this.parent.info(i);
    return { ...s, meta: { ...s.meta, site: this.site } };
  }

  async load(i: number): Promise<Sample> {
    const s = await this.parent.load(i);
    return { ...s, meta: { ...s.meta, site: this.site } };
  }
}

/**
 * Name the sites a partitioner produced: site `k` becomes a
 * {@link SiteNamedDataset} whose samples carry `meta.site = names[k]`
 * (default `site-<k>`, k from 0, as the synthetic generator's default site
 * names). Names must be distinct non-empty strings, one per site.
 * Example: `withSiteNames(iid({ sites: 3 }).sites(ds), ['A', 'B', 'C'])`.
 */
export function withSiteNames(sites: readonly Dataset[], names?: readonly string[]): SiteNamedDataset[] {
  if (names !== undefined) {
    if (!Array.isArray(names) || names.length !== sites.length) {
      throw new Error(`withSiteNames: expected ${sites.length} site names (one per site), got ${Array.isArray(names) ? names.length : String(names)}`);
    }
    const seen = new Set<string>();
    names.forEach((n, k) => {
      if (typeof n !== 'string' || n.length === 0) throw new Error(`withSiteNames: names[${k}] must be a non-empty string, got ${JSON.stringify(n)}`);
      if (seen.has(n)) throw new Error(`withSiteNames: site name '${n}' is repeated (names must be distinct)`);
      seen.add(n);
    });
  }
  return sites.map((ds, k) => new SiteNamedDataset(ds, names ? names[k] : `site-${k}`));
}

/** `withSiteNames(partitioner.sites(dataset), names)`: partition and name the sites in one call. */
export function namedSites(partitioner: SitePartitioner, dataset: Dataset, names?: readonly string[]): SiteNamedDataset[] {
  return withSiteNames(partitioner.sites(dataset), names);
}
