/**
 * Sites of the federated engine: re-exports of the one builder and the pooled
 * test set ({@link buildSites}, {@link pooledTest} in ../data/site), plus
 * {@link sitesFromDataset}, the engine's older entry point, now a thin call
 * of {@link buildSites}.
 */
import { buildSites, pooledTest, type Site } from '../data/site';
import type { GroupKey } from '../data/split';
import type { Dataset } from '../data/types';
import { naturalId } from '../partition/natural-id';

export { buildSites, pooledTest };

/** Options of {@link sitesFromDataset}. */
export interface SitesFromDatasetOptions {
  /** Metadata key naming the site. Default 'site'. */
  siteKey?: string;
  /** Fraction of each site held out for testing. Default 0.25. */
  testFraction?: number;
  /** Seed of the splits. Default 0. */
  seed?: number;
  /** Keep patients together across train/test (a meta key, e.g. 'patientId'). Default: none (unlike {@link buildSites}, no auto-detection). */
  groupKey?: GroupKey;
}

/**
 * Group the samples of `ds` by `meta[siteKey]` and split each site into
 * train / test: `buildSites(ds, { partition: naturalId({ column: siteKey,
 * shuffle: false }), testFraction, seed, groupKey: groupKey ?? false })`.
 * Site order and split seeds are {@link buildSites}'s (sites in natural
 * order of their names; per-site seed `'<seed>|<site>'`).
 * Throws, naming the sample, when a sample has no site, and when a site has
 * fewer than 2 samples.
 */
export function sitesFromDataset(ds: Dataset, options: SitesFromDatasetOptions = {}): Site[] {
  return buildSites(ds, {
    partition: naturalId({ column: options.siteKey ?? 'site', shuffle: false }),
    testFraction: options.testFraction,
    seed: options.seed,
    groupKey: options.groupKey ?? false,
  });
}
