/**
 * Turning one multi-site dataset into {@link SiteData} (per-site train /
 * test splits), e.g. the embedded synthetic data (`meta.site`) or the output
 * of a partitioner.
 */
import { trainTestSplit } from '../data/split';
import { SubsetDataset, type Dataset } from '../data/types';
import type { SiteData } from './types';

/** Options of {@link sitesFromDataset}. */
export interface SitesFromDatasetOptions {
  /** Metadata key naming the site. Default 'site'. */
  siteKey?: string;
  /** Fraction of each site held out for testing. Default 0.25. */
  testFraction?: number;
  /** Seed of the splits. Default 0. */
  seed?: number;
  /** Keep patients together across train/test (a meta key, e.g. 'patientId'). Default: none. */
  groupKey?: string;
}

/**
 * Group the samples of `ds` by `meta[siteKey]` (site order = first
 * appearance) and split each site into train / test (seeded, per site).
 * Throws when a sample has no site or a site has fewer than 2 samples.
 */
export function sitesFromDataset(ds: Dataset, options: SitesFromDatasetOptions = {}): SiteData[] {
  const key = options.siteKey ?? 'site';
  const bySite = new Map<string, number[]>();
  for (let i = 0; i < ds.length; i++) {
    const v = ds.info(i).meta[key];
    if (v === undefined || v === null || v === '') throw new Error(`sitesFromDataset: sample ${i} ('${ds.info(i).id}') of '${ds.name}' has no meta.${key}`);
    const name = String(v);
    if (!bySite.has(name)) bySite.set(name, []);
    (bySite.get(name) as number[]).push(i);
  }
  return [...bySite.entries()].map(([name, idx]) => {
    if (idx.length < 2) throw new Error(`sitesFromDataset: site '${name}' has ${idx.length} sample(s); need at least 2 for a train/test split`);
    const view = new SubsetDataset(ds, idx, `${ds.name}/${name}`);
    const split = trainTestSplit(view, { testFraction: options.testFraction ?? 0.25, seed: `${options.seed ?? 0}|${name}`, groupKey: options.groupKey });
    return {
      name,
      train: new SubsetDataset(ds, split.train.map((j) => idx[j]), `${ds.name}/${name}/train`),
      test: new SubsetDataset(ds, split.test.map((j) => idx[j]), `${ds.name}/${name}/test`),
    };
  });
}

/** Every site's test split as one dataset (a pooled / global test set). */
export function pooledTest(sites: readonly SiteData[]): Dataset {
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
