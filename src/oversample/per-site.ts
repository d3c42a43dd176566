/**
 * The two ways synthetic data enters a multi-site federation, as compared in
 * the multi-site chest CT study arXiv:2303.13567:
 * - {@link oversamplePerSite}: each site oversamples its own data only —
 *   neighbours, donors and interpolation partners are taken inside the site,
 *   nothing is pooled across sites;
 * - {@link syntheticCohort}: a synthetic cohort joins as one extra client.
 */
import type { Dataset, Sample, SampleInfo } from '../data/types';
import { InMemoryDataset } from '../data/types';
import { createRng } from '../util/rng';
import { adasyn } from './adasyn';
import { borderlineSmote } from './borderline-smote';
import { FeatureMatrix, OversampleResult, SamplingStrategy, checkLabels, classCounts, toRows, validateStrategy } from './common';
import { randomOverSampler } from './random';
import { smote } from './smote';

/** Feature-vector oversamplers usable per site. */
export type OversampleMethod = 'random' | 'smote' | 'borderline-smote' | 'adasyn';

/** Options of {@link oversamplePerSite}. */
export interface PerSiteOversampleOptions {
  /** Default 'smote'. */
  method?: OversampleMethod;
  /** Applied inside each site (default 'auto'). */
  samplingStrategy?: SamplingStrategy;
  /** Neighbours for the SMOTE family (default 5). */
  k?: number;
  /** Borderline-SMOTE danger neighbourhood (default 10). */
  m?: number;
  /** Borderline-SMOTE kind (default 'borderline-1'). */
  kind?: 'borderline-1' | 'borderline-2';
  /** Random oversampler smoothed-bootstrap factor (default 0). */
  shrinkage?: number;
  /**
   * Lower k (and m) per site to fit its smallest class (k <= n_min − 1, at
   * least 1; a site whose class to grow has a single sample falls back to
   * random duplication). Default false: such sites throw.
   */
  adaptK?: boolean;
  /** Default 42; site s uses the stream fork(`site:s`). */
  seed?: number;
}

/** One site's oversampling (provenance indices are GLOBAL sample indices). */
export interface SiteOversample {
  site: number;
  /** Global indices of the site's samples. */
  indices: number[];
  result: OversampleResult;
  /** Method actually used (differs from the request when `adaptK` fell back to random). */
  method: OversampleMethod;
}

/** All sites' oversampling; `samples[i]` belongs to `siteOf[i]`. */
export interface PerSiteOversampleResult {
  sites: SiteOversample[];
  samples: Float32Array[];
  labels: number[];
  siteOf: number[];
}

function siteLists(owner: string, n: number, sites: readonly (readonly number[])[] | readonly number[]): number[][] {
  if (sites.length > 0 && Array.isArray(sites[0])) {
    const lists = (sites as readonly (readonly number[])[]).map((s) => s.slice());
    const seen = new Set<number>();
    lists.forEach((l, s) =>
      l.forEach((i) => {
        if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`${owner}: site ${s} holds index ${i}, outside [0, ${n})`);
        if (seen.has(i)) throw new Error(`${owner}: sample ${i} is on more than one site`);
        seen.add(i);
      }),
    );
    return lists;
  }
  const ids = sites as readonly number[];
  if (ids.length !== n) throw new Error(`${owner}: ${ids.length} site ids for ${n} samples`);
  const lists: number[][] = [];
  ids.forEach((s, i) => {
    if (!Number.isInteger(s) || s < 0) throw new Error(`${owner}: site id of sample ${i} must be an integer >= 0, got ${s}`);
    (lists[s] ??= []).push(i);
  });
  for (let s = 0; s < lists.length; s++) lists[s] ??= [];
  return lists;
}

/**
 * Oversample inside each site separately. `sites` is a partition (one index
 * list per site, e.g. from `Partitioner.assign`) or a site id per sample.
 */
export function oversamplePerSite(
  x: FeatureMatrix,
  y: readonly number[],
  sites: readonly (readonly number[])[] | readonly number[],
  opts: PerSiteOversampleOptions = {},
): PerSiteOversampleResult {
  const o = 'oversamplePerSite';
  validateStrategy(o, opts.samplingStrategy);
  const method = opts.method ?? 'smote';
  if (!['random', 'smote', 'borderline-smote', 'adasyn'].includes(method)) {
    throw new Error(`${o}: unknown method '${String(method)}' (valid: random, smote, borderline-smote, adasyn)`);
  }
  const rows = toRows(o, x);
  checkLabels(o, rows, y);
  const lists = siteLists(o, rows.length, sites);
  const root = createRng(opts.seed ?? 42);
  const out: PerSiteOversampleResult = { sites: [], samples: [], labels: [], siteOf: [] };
  lists.forEach((idx, s) => {
    if (idx.length === 0) return;
    const lx = idx.map((i) => rows[i]);
    const ly = idx.map((i) => y[i]);
    const seed = root.fork(`site:${s}`).nextUint32();
    const base = { samplingStrategy: opts.samplingStrategy, seed };
    let k = opts.k ?? 5;
    let m = opts.m ?? 10;
    let used: OversampleMethod = method;
    if (opts.adaptK && method !== 'random') {
      const minCount = Math.min(...Object.values(classCounts(ly)));
      k = Math.max(1, Math.min(k, minCount - 1));
      m = Math.max(1, Math.min(m, idx.length - 1));
      if (minCount < 2) used = 'random';
    }
    let res: OversampleResult;
    try {
      if (used === 'random') res = randomOverSampler(lx, ly, { ...base, shrinkage: opts.shrinkage });
      else if (used === 'smote') res = smote(lx, ly, { ...base, k });
      else if (used === 'adasyn') res = adasyn(lx, ly, { ...base, k });
      else res = borderlineSmote(lx, ly, { ...base, k, m, kind: opts.kind });
    } catch (err) {
      throw new Error(`${o}: site ${s}: ${(err as Error).message}`);
    }
    const g = (i: number) => idx[i];
    const result: OversampleResult = {
      ...res,
      provenance: res.provenance.map((p) => ({ source: g(p.source), neighbor: g(p.neighbor), lambda: p.lambda })),
    };
    out.sites.push({ site: s, indices: idx.slice(), result, method: used });
    for (let t = 0; t < res.samples.length; t++) {
      out.samples.push(res.samples[t]);
      out.labels.push(res.labels[t]);
      out.siteOf.push(s);
    }
  });
  return out;
}

/** Options of {@link syntheticCohort}. */
export interface SyntheticCohortOptions {
  /** `meta.site` of the cohort's samples (default 'synthetic'). */
  site?: string;
  /** Dataset name of the cohort (default 'synthetic-cohort'). */
  name?: string;
}

/** A dataset view that tags every sample as belonging to the synthetic cohort. */
class CohortDataset implements Dataset {
  readonly length: number;
  readonly task: Dataset['task'];
  readonly classNames: readonly string[];
  readonly maskClasses: readonly string[];
  constructor(
    private readonly base: Dataset,
    readonly name: string,
    private readonly site: string,
  ) {
    this.length = base.length;
    this.task = base.task;
    this.classNames = base.classNames;
    this.maskClasses = base.maskClasses;
  }
  info(i: number): SampleInfo {
    const s = this.base.info(i);
    return { ...s, meta: { ...s.meta, site: this.site, synthetic: s.meta.synthetic ?? true } };
  }
  async load(i: number): Promise<Sample> {
    const s = await this.base.load(i);
    return { ...s, meta: { ...s.meta, site: this.site, synthetic: s.meta.synthetic ?? true } };
  }
}

/**
 * Add a synthetic cohort as one extra client: returns `[...siteDatasets, cohort]`
 * (the real sites untouched). `synthetic` is a dataset or decoded samples;
 * class names / mask classes must match the first site's.
 */
export function syntheticCohort(siteDatasets: readonly Dataset[], synthetic: Dataset | readonly Sample[], opts: SyntheticCohortOptions = {}): Dataset[] {
  const o = 'syntheticCohort';
  if (siteDatasets.length === 0) throw new Error(`${o}: need at least one real site`);
  const ref = siteDatasets[0];
  const ds: Dataset = Array.isArray(synthetic)
    ? new InMemoryDataset(opts.name ?? 'synthetic-cohort', synthetic as readonly Sample[], ref.task, ref.classNames, ref.maskClasses)
    : (synthetic as Dataset);
  if (ds.length === 0) throw new Error(`${o}: the synthetic cohort is empty`);
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((v, i) => v === b[i]);
  if (!same(ds.classNames, ref.classNames)) {
    throw new Error(`${o}: cohort classNames [${ds.classNames.join(', ')}] differ from the sites' [${ref.classNames.join(', ')}]`);
  }
  if (!same(ds.maskClasses, ref.maskClasses)) {
    throw new Error(`${o}: cohort maskClasses [${ds.maskClasses.join(', ')}] differ from the sites' [${ref.maskClasses.join(', ')}]`);
  }
  return [...siteDatasets, new CohortDataset(ds, opts.name ?? 'synthetic-cohort', opts.site ?? 'synthetic')];
}

/**
 * Partition-level form of {@link syntheticCohort}: with the synthetic samples
 * appended after `realLength` real ones, add one site holding them.
 */
export function syntheticCohortPartition(partition: readonly (readonly number[])[], realLength: number, syntheticCount: number): number[][] {
  if (!Number.isInteger(syntheticCount) || syntheticCount < 1) throw new Error(`syntheticCohortPartition: syntheticCount must be an integer >= 1, got ${syntheticCount}`);
  for (const site of partition) for (const i of site) {
    if (i >= realLength) throw new Error(`syntheticCohortPartition: index ${i} is not a real sample (realLength ${realLength})`);
  }
  return [...partition.map((p) => p.slice()), Array.from({ length: syntheticCount }, (_, j) => realLength + j)];
}
