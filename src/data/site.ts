/**
 * The one site type of medfl and the one builder that turns a dataset into
 * sites: partition the samples into sites (by default one site per
 * `meta.site` value), then split every site into a private training split and
 * a held-out test split (and, on request, a validation split for model
 * selection), keeping patients (or lesions) whole.
 *
 * Every method (federated strategies, split learning, MedForge, M4oE,
 * MedMerge, the experiment runner, the demo) takes its sites in this shape.
 */
import { naturalId, NaturalIdPartitioner } from '../partition/natural-id';
import { SiteNamedDataset, type SitePartitioner } from '../partition/base';
import { kFoldSplit, trainTestSplit, type GroupKey, type TrainTestSplitOptions } from './split';
import { SubsetDataset, type Dataset } from './types';

/**
 * One participating institution (hospital, scanner, acquisition source).
 * Images of both datasets are NHWC float32 in [0, 1] (row-major `[H, W, C]`
 * per sample), masks `[H, W]` class maps, as every {@link Dataset}.
 */
export interface Site {
  /** Unique site name (the key of the site in records, tables and checkpoints). */
  name: string;
  /** The site's private training split: never leaves the site in a collaborative method. */
  train: Dataset;
  /** The site's held-out test split (disjoint from `train`; patients never straddle the two). */
  test: Dataset;
  /**
   * The site's validation split (model selection, convergence), disjoint
   * from `train` and `test` with no patient straddling any two; private to
   * the site like `train`. Absent: no validation (the run keeps its last model).
   */
  validation?: Dataset;
}

/** A site's two splits without its name (e.g. one M4oE modality or a MedMerge target). */
export type SiteSplits = Pick<Site, 'train' | 'test'>;

/** Options of {@link buildSites}. */
export interface BuildSitesOptions {
  /**
   * How samples are assigned to sites. Default: `naturalId({ column: 'site',
   * shuffle: false })`, one site per distinct `meta.site` value, samples in
   * dataset order.
   */
  partition?: SitePartitioner;
  /**
   * Site names, one per site in the partition's order. Default: for a
   * natural-id partition (possibly wrapped, e.g. by `featureShift`) the
   * column value(s) of the site (several joined by '+'), otherwise `site-<k>`
   * (k from 0).
   */
  names?: readonly string[];
  /** Fraction of each site held out for testing, in (0, 1). Default 0.25. */
  testFraction?: number;
  /**
   * Fraction of each site (of all its samples, like `testFraction`) held
   * out for validation, in [0, 1 - testFraction). Default 0: no validation
   * split, and train / test exactly as without this option, so every
   * existing result (demo tables, run folders, resumes) stays valid; runs
   * that select a model by validation loss opt in (the MedSegNet10 group's
   * Kvasir-SEG split 765 / 135 / 100 is validationFraction 0.135 with
   * testFraction 0.1). The test split never depends on it: validation is
   * carved out of the training part (see {@link buildSites}).
   */
  validationFraction?: number;
  /**
   * Samples sharing this key's value stay on one side of a site's split.
   * Default (auto): `'patientId'` when any sample has `meta.patientId`, else
   * `'lesionId'` when any has `meta.lesionId`, else no grouping. `false`:
   * no grouping (every sample on its own).
   */
  groupKey?: GroupKey | false;
  /** Stratify each site's split by image label (`true`) or a function's value (see `trainTestSplit`). Default false. */
  stratify?: TrainTestSplitOptions['stratify'];
  /** Seed of the splits. Default 0. */
  seed?: number;
  /**
   * k-fold cross-validation instead of a random test fraction: within each
   * site, whole groups are dealt to `k` folds (`kFoldSplit`, seeded by the
   * site's split seed) and fold `index` is the test split (`testFraction` is
   * then ignored; `validationFraction` is taken from the other folds).
   */
  fold?: { k: number; index: number };
}

/** The per-site split seed of {@link buildSites}: `'<seed>|<site name>'`. */
export function siteSplitSeed(seed: number, site: string): string {
  return `${seed}|${site}`;
}

/** The per-site seed of the train/validation split of {@link buildSites}: `'<seed>|<site name>|validation'`. */
export function siteValidationSeed(seed: number, site: string): string {
  return `${seed}|${site}|validation`;
}

function naturalIdOf(p: SitePartitioner): NaturalIdPartitioner | undefined {
  if (p instanceof NaturalIdPartitioner) return p;
  const inner = (p as { inner?: unknown }).inner;
  if (inner && typeof inner === 'object' && typeof (inner as SitePartitioner).assign === 'function') return naturalIdOf(inner as SitePartitioner);
  return undefined;
}

/** Whether every sample of `ds` already carries `meta.site === name`. */
function sitesNamed(ds: Dataset, name: string): boolean {
  for (let i = 0; i < ds.length; i++) if (ds.info(i).meta.site !== name) return false;
  return true;
}

function autoGroupKey(ds: Dataset): GroupKey | undefined {
  let lesion = false;
  for (let i = 0; i < ds.length; i++) {
    const m = ds.info(i).meta;
    if (m.patientId !== undefined && m.patientId !== null && m.patientId !== '') return 'patientId';
    if (m.lesionId !== undefined && m.lesionId !== null && m.lesionId !== '') lesion = true;
  }
  return lesion ? 'lesionId' : undefined;
}

/**
 * Build the sites of a dataset: partition it, then split each site into
 * train / test.
 *
 * - **Site order**: the partition's order. For the default (natural-id on
 *   `meta.site`) that is the site names in natural order (numbers compared
 *   numerically: `site-2` before `site-10`).
 * - **Split**: per site, `trainTestSplit(site, { testFraction, groupKey,
 *   stratify, seed: '<seed>|<site name>' })` ({@link siteSplitSeed}) over the site's
 *   samples in dataset order (whatever order the partitioner returns them
 *   in, when it is a medfl partitioner whose `sites` match its `assign`).
 *   The same dataset, partition, names and seed give the same sites; a
 *   site's split depends only on which samples it holds, its name and the
 *   seed.
 * - **Validation** (`validationFraction` v > 0): after the train/test split
 *   above (unchanged, whatever v), the site's training part (its samples in
 *   dataset order) is split again by `trainTestSplit(trainPart, {
 *   testFraction: v / (1 - testFraction), groupKey, stratify, seed:
 *   '<seed>|<site name>|validation' })` ({@link siteValidationSeed}): the
 *   held-out side becomes `validation`, about v of the site. Groups stay
 *   whole across all three splits. v = 0 (default): no `validation`, and
 *   the sites are exactly those built without the option.
 * - `train` / `test` are views (`SubsetDataset`), named
 *   `<dataset>/<site>/train|test`, whose samples carry `meta.site` = the
 *   site's name (relabelled through a `SiteNamedDataset` where the
 *   partition's samples carry another value); when the partition's site
 *   datasets are plain subsets of `dataset` and already carry the name (the
 *   default partition), they index `dataset` directly.
 *
 * Throws, naming the sample, when the default partition meets a sample
 * without `meta.site`; throws, naming the site, when a site has fewer than
 * two samples (or groups) to split (three with a validation split).
 */
export function buildSites(dataset: Dataset, options: BuildSitesOptions = {}): Site[] {
  const seed = options.seed ?? 0;
  const testFraction = options.testFraction ?? 0.25;
  if (!(testFraction > 0 && testFraction < 1)) throw new RangeError(`buildSites: testFraction must be in (0, 1), got ${testFraction}`);
  const validationFraction = options.validationFraction ?? 0;
  const heldOut = options.fold ? 1 / options.fold.k : testFraction;
  if (!(typeof validationFraction === 'number' && validationFraction >= 0 && validationFraction < 1 - heldOut)) {
    throw new RangeError(`buildSites: validationFraction must be in [0, ${options.fold ? '1 - 1/k' : '1 - testFraction'} = ${1 - heldOut}), got ${validationFraction}`);
  }
  const partition = options.partition ?? naturalId({ column: 'site', shuffle: false });
  const nat = naturalIdOf(partition);
  if (nat && typeof nat.column === 'string' && nat.groupBy === undefined) {
    for (let i = 0; i < dataset.length; i++) {
      const v = dataset.info(i).meta[nat.column];
      if (v === undefined || v === null || v === '') {
        throw new Error(`buildSites: sample ${i} ('${dataset.info(i).id}') of '${dataset.name}' has no meta.${nat.column}; every sample needs one to be assigned to a site`);
      }
    }
  }
  const views = partition.sites(dataset);
  let names: readonly string[];
  if (options.names) {
    if (options.names.length !== views.length) throw new Error(`buildSites: ${options.names.length} names given for ${views.length} sites`);
    names = options.names;
  } else if (nat && nat.lastKeys.length === views.length) {
    names = nat.lastKeys.map((keys) => keys.join('+'));
  } else {
    names = views.map((_, k) => `site-${k}`);
  }
  if (new Set(names).size !== names.length) throw new Error(`buildSites: site names must be distinct, got [${names.join(', ')}]`);
  const groupKey = options.groupKey === false ? undefined : options.groupKey ?? autoGroupKey(dataset);
  let assigned: number[][] | undefined;
  const datasetIndices = (view: Dataset, k: number): readonly number[] | undefined => {
    if (view instanceof SubsetDataset && view.parent === dataset) return view.indices;
    assigned ??= partition.assign(dataset);
    return assigned[k]?.length === view.length ? assigned[k] : undefined;
  };
  return views.map((partView, k) => {
    const name = names[k];
    const need = validationFraction > 0 ? 3 : 2;
    if (partView.length < need) throw new Error(`buildSites: site '${name}' of '${dataset.name}' has ${partView.length} sample(s); need at least ${need} for a train/${validationFraction > 0 ? 'validation/' : ''}test split`);
    // Canonical order inside a site: dataset order (the partitioner's shuffle does not change the split).
    const parentIdx = datasetIndices(partView, k);
    const order = Array.from({ length: partView.length }, (_, j) => j);
    if (parentIdx) order.sort((a, b) => parentIdx[a] - parentIdx[b]);
    const named = sitesNamed(partView, name) ? partView : new SiteNamedDataset(partView, name);
    let split: { train: number[]; test: number[] };
    try {
      split = options.fold
        ? kFoldSplit(new SubsetDataset(named, order), { k: options.fold.k, index: options.fold.index, seed: siteSplitSeed(seed, name), groupKey })
        : trainTestSplit(new SubsetDataset(named, order), { testFraction, seed: siteSplitSeed(seed, name), groupKey, stratify: options.stratify });
    } catch (e) {
      throw new Error(`buildSites: cannot split site '${name}' of '${dataset.name}': ${(e as Error).message}`);
    }
    let validation: number[] | undefined;
    if (validationFraction > 0) {
      // split.train is ascending (dataset order inside the site); its own split keeps groups whole.
      const trainPart = split.train;
      let inner: { train: number[]; test: number[] };
      try {
        inner = trainTestSplit(new SubsetDataset(named, trainPart.map((j) => order[j])), {
          testFraction: validationFraction / (1 - heldOut),
          seed: siteValidationSeed(seed, name),
          groupKey,
          stratify: options.stratify,
        });
      } catch (e) {
        throw new Error(`buildSites: cannot split a validation part (validationFraction ${validationFraction}) off the training part of site '${name}' of '${dataset.name}' (${trainPart.length} samples): ${(e as Error).message}`);
      }
      validation = inner.test.map((j) => trainPart[j]);
      split = { train: inner.train.map((j) => trainPart[j]), test: split.test };
    }
    const flat = named === partView && partView instanceof SubsetDataset && partView.parent === dataset;
    const subset = (positions: number[], part: string) => {
      const inView = positions.map((j) => order[j]);
      return flat
        ? new SubsetDataset(dataset, inView.map((j) => partView.indices[j]), `${dataset.name}/${name}/${part}`)
        : new SubsetDataset(named, inView, `${dataset.name}/${name}/${part}`);
    };
    const site: Site = { name, train: subset(split.train, 'train'), test: subset(split.test, 'test') };
    if (validation) site.validation = subset(validation, 'validation');
    return site;
  });
}

/** Every site's test split as one dataset (a pooled / global test set), in site order. */
export function pooledTest(sites: readonly Site[]): Dataset {
  if (sites.length === 0) throw new Error('pooledTest: no sites');
  const parts = sites.map((s) => s.test);
  const idx: { part: number; i: number }[] = [];
  parts.forEach((p, k) => {
    for (let i = 0; i < p.length; i++) idx.push({ part: k, i });
  });
  const first = parts[0];
  return {
    name: 'pooled-test',
    length: idx.length,
    task: first.task,
    classNames: first.classNames,
    maskClasses: first.maskClasses,
    info: (i: number) => parts[idx[i].part].info(idx[i].i),
    load: (i: number) => parts[idx[i].part].load(idx[i].i),
  };
}
