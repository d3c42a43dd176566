/**
 * From a validated experiment config to federated sites: open the dataset,
 * partition it into sites, optionally give each site its own scanner effects
 * (feature shift), split every site into train / test by patient, and
 * optionally oversample inside each site (copy-paste: nothing leaves a site)
 * or add a synthetic cohort as an extra client (the two ways the multi-site
 * chest CT paper, arXiv:2303.13567, injects synthetic data).
 */
import * as path from 'node:path';
import type { Dataset, Sample } from '../data/types';
import { InMemoryDataset, SubsetDataset, materialize } from '../data/types';
import { syntheticSites } from '../data/synthetic';
import { openKvasirSeg } from '../data/kvasir';
import { openHam10000 } from '../data/ham10000';
import { openImageMaskFolder, openCvcClinicDb } from '../data/folder';
import { openNiftiSlices } from '../data';
import { ConcatDataset } from '../data/lazy';
import { buildSites as buildDatasetSites, type Site } from '../data/site';
import { iid, dirichlet, pathological, quantity, naturalId, featureShift, type SitePartitioner } from '../partition';
import { copyPasteSamples, randomOverSampler, syntheticCohort } from '../oversample';
import { hashSeed } from '../util/rng';
import type { SitesSpec } from './grid';

/** What {@link buildExperimentSites} produced, with a description for logs. */
export interface BuiltSites {
  dataset: Dataset;
  sites: Site[];
  /** Human-readable lines describing the sites. */
  describe: string[];
}

/**
 * Decoded (resized) samples kept in memory by the real-data loaders, so every
 * epoch does not decode the full-size files again: 4096 images at 64x64x3 is
 * about 200 MiB. Larger datasets decode the rest lazily.
 */
const DECODED_CACHE = 4096;

function resolveRoot(p: string, baseDir: string): string {
  return path.isAbsolute(p) ? p : path.resolve(baseDir, p);
}

/** Open the dataset an experiment names (relative paths resolve against `baseDir`). */
export async function openExperimentData(cfg: SitesSpec, baseDir = process.cwd()): Promise<Dataset> {
  const d = cfg.data;
  const size: [number, number] = [d.size, d.size];
  const channels = (d.channels as 1 | 3 | undefined) ?? 3;
  let ds: Dataset;
  switch (d.source) {
    case 'synthetic':
      ds = syntheticSites({
        sites: (d.sites as number) ?? 4,
        samplesPerSite: (d.samplesPerSite as number) ?? 40,
        size: d.size,
        task: (d.task as 'polyp' | 'lesion') ?? 'polyp',
        channels,
        heterogeneity: d.heterogeneity as number | undefined,
        classMix: d.classMix as 'uniform' | 'skewed' | undefined,
        imagesPerPatient: d.imagesPerPatient as number | undefined,
        emptyFraction: d.emptyFraction as number | undefined,
        seed: cfg.dataSeed,
      });
      break;
    case 'kvasir':
      ds = await openKvasirSeg({ root: resolveRoot(d.root as string, baseDir), size, channels, cacheSize: DECODED_CACHE });
      break;
    case 'ham10000':
      ds = await openHam10000({ root: resolveRoot(d.root as string, baseDir), metadataFile: d.metadataFile as string | undefined, size, channels, cacheSize: DECODED_CACHE });
      break;
    case 'cvc':
      ds = await openCvcClinicDb({ root: resolveRoot(d.root as string, baseDir), size, channels, cacheSize: DECODED_CACHE });
      break;
    case 'folder':
      ds = await openImageMaskFolder({ images: resolveRoot(d.images as string, baseDir), masks: resolveRoot(d.masks as string, baseDir), size, channels, site: d.site as string | undefined, cacheSize: DECODED_CACHE });
      break;
    case 'nifti': {
      const vols = d.volumes as { image: string; label?: string; site?: string; patientId?: string }[];
      const parts: Dataset[] = [];
      for (const v of vols) {
        parts.push(
          await openNiftiSlices({
            image: resolveRoot(v.image, baseDir),
            label: v.label ? resolveRoot(v.label, baseDir) : undefined,
            axis: (d.axis as 'axial' | 'coronal' | 'sagittal') ?? 'axial',
            size,
            channels,
            window: (d.window as never) ?? undefined,
            minForeground: (d.minForeground as number) ?? 0,
            site: v.site,
            patientId: v.patientId,
          }),
        );
      }
      ds = parts.length === 1 ? parts[0] : new ConcatDataset(parts, 'nifti');
      break;
    }
  }
  if (typeof d.limit === 'number' && d.limit < ds.length) ds = new SubsetDataset(ds, Array.from({ length: d.limit }, (_, i) => i), ds.name);
  return ds;
}

function partitioner(cfg: SitesSpec): SitePartitioner {
  const p = cfg.partition;
  const seed = cfg.dataSeed;
  const groupBy = p.groupBy as string | undefined;
  const sites = p.sites as number | undefined;
  const need = (what: string) => {
    throw new Error(`partition.${what} is required for scheme '${p.scheme}'`);
  };
  switch (p.scheme) {
    case 'natural-id':
      return naturalId({ column: (p.column as string) ?? 'site', sites, seed, groupBy });
    case 'iid':
      return iid({ sites: sites ?? need('sites'), seed, groupBy });
    case 'dirichlet':
      return dirichlet({ sites: sites ?? need('sites'), alpha: (p.alpha as number) ?? 0.5, seed, groupBy, minPartitionSize: p.minPartitionSize as number | undefined });
    case 'pathological':
      return pathological({ sites: sites ?? need('sites'), k: (p.k as number) ?? 1, seed, groupBy });
    case 'quantity':
      return quantity({ sites: sites ?? need('sites'), scheme: (p.sizeScheme as 'linear') ?? 'exponential', seed, groupBy });
  }
}

/**
 * Build the experiment's sites (see module doc): the config's partition
 * (plus feature shift) through the one site builder ({@link buildDatasetSites}:
 * site order = the partition's, per-site split seed `'<seed>|<site>'`,
 * patient / lesion groups kept whole), then the config's oversampling
 * through the oversampling library, as notebook 03 does:
 * `oversample.mode 'per-site'` grows each site's training split by
 * `factor x n` samples of its own (`copyPasteSamples`, or
 * `randomOverSampler` for `method: 'random'`); `'synthetic-cohort'` adds
 * the embedded generator's cohort (an unshifted scanner, `factor x` the
 * largest site's training size) as one more client via `syntheticCohort`.
 */
export async function buildExperimentSites(cfg: SitesSpec, baseDir = process.cwd()): Promise<BuiltSites> {
  const dataset = await openExperimentData(cfg, baseDir);
  const base = partitioner(cfg);
  const partition = cfg.featureShift && cfg.featureShift.enabled !== false ? featureShift(base, { seed: hashSeed(`${cfg.dataSeed}:shift`) }) : base;
  const built = buildDatasetSites(dataset, { partition, testFraction: cfg.split.testFraction, validationFraction: cfg.split.validationFraction, seed: cfg.dataSeed, ...(cfg.fold ? { fold: cfg.fold } : {}) });
  const describe: string[] = [`data: ${dataset.name}, ${dataset.length} images at ${cfg.data.size}x${cfg.data.size}`, `partition: ${cfg.partition.scheme}${cfg.featureShift ? ' + feature shift' : ''}`];
  const perSite = cfg.oversample && (cfg.oversample.mode ?? 'per-site') === 'per-site';
  const sites: Site[] = [];
  for (const site of built) {
    const train = perSite ? await oversampleSite(site.train, cfg, site.name) : site.train;
    sites.push({ ...site, train });
    describe.push(`  ${site.name}: ${train.length} train${site.validation ? ` / ${site.validation.length} validation` : ''} / ${site.test.length} test`);
  }
  if (cfg.oversample && cfg.oversample.mode === 'synthetic-cohort') {
    const n = Math.max(2, Math.round(((cfg.oversample.factor as number) ?? 0.5) * Math.max(...sites.map((s) => s.train.length))));
    const generated = syntheticSites({ sites: 1, samplesPerSite: n, size: cfg.data.size, task: (cfg.data.task as 'polyp') ?? 'polyp', heterogeneity: 0, seed: hashSeed(`${cfg.dataSeed}:cohort`), channels: (cfg.data.channels as 1 | 3) ?? 3 });
    const cohort = syntheticCohort(sites.map((s) => s.train), generated, { name: 'synthetic-cohort', site: 'synthetic-cohort' }).at(-1) as Dataset;
    // The cohort only trains; it has no test split of its own (its images are not patients).
    sites.push({ name: 'synthetic-cohort', train: cohort, test: new SubsetDataset(cohort, [], 'synthetic-cohort/test') });
    describe.push(`  synthetic-cohort: ${n} train (extra client)`);
  }
  return { dataset, sites, describe };
}


/**
 * Oversampling inside one site (nothing leaves it): adds `factor x n`
 * samples with the library's copy-paste (`copyPasteSamples`) or random
 * oversampler (`randomOverSampler`, with replacement, seeded; images and
 * masks copied from the drawn sample). Seed: `hashSeed('<oversample.seed ??
 * seed>:<site>')`.
 */
async function oversampleSite(train: Dataset, cfg: SitesSpec, site: string): Promise<Dataset> {
  const o = cfg.oversample!;
  const count = Math.round(((o.factor as number) ?? 0.5) * train.length);
  if (count === 0) return train;
  const real = await materialize(train, `${site}/train`);
  const seed = hashSeed(`${(o.seed as number) ?? cfg.dataSeed}:${site}`);
  let extra: Sample[];
  if (o.method === 'copy-paste') {
    extra = copyPasteSamples(real.samples, { count, seed });
  } else {
    // One pseudo-class holding every image: grow it from n to n + count.
    const drawn = randomOverSampler(
      real.samples.map((s) => s.image),
      real.samples.map(() => 0),
      { samplingStrategy: { 0: real.length + count }, seed },
    );
    extra = drawn.provenance.map((p, k) => {
      const src = real.get(p.source);
      return { ...src, id: `${src.id}+ros${k}`, image: drawn.samples[k], meta: { ...src.meta, synthetic: 'random' } };
    });
  }
  return new InMemoryDataset(`${site}/train+${o.method}`, [...real.samples, ...extra], train.task, train.classNames, train.maskClasses);
}
