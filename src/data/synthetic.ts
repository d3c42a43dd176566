/**
 * The embedded default dataset: a seeded procedural generator of multi-site,
 * medical-looking images with binary masks and image-level class labels.
 * It stands in for real data (Kvasir-SEG, HAM10000) in the demo, the tests
 * and the notebooks whenever the real files are absent.
 *
 * - `task: 'polyp'`: colonoscopy-like frames with one polyp (Kvasir-SEG
 *   stand-in, arXiv:1911.07069); classes `['small', 'large']`; a fraction
 *   `emptyFraction` (default 0.05) of frames shows no polyp (empty mask).
 * - `task: 'lesion'`: dermoscopy-like images with one pigmented lesion
 *   (HAM10000 stand-in, arXiv:1803.10417); classes
 *   `['nevus', 'melanoma', 'keratosis']`.
 *
 * Sites differ by "scanner" effects (colour cast, tone curve, blur, noise,
 * resolution, vignetting; see {@link SiteProfile}) scaled by
 * `heterogeneity`, by their class mix and by their size.
 *
 * Pure JavaScript on typed arrays (no tfjs): 4 sites x 40 images of 64x64
 * take well under a second. Deterministic: every image is drawn from a
 * stream forked from (seed, site, patient / image index), so the same
 * options give bit-identical data and one site's images do not depend on
 * how many images other sites have.
 *
 * Departures from the real data sets: the images are procedural (no real
 * anatomy), class cues are simplified versions of the clinical ones (ABCD
 * rule for lesions, size for polyps), and HAM10000's seven classes are
 * reduced to three.
 */
import { createRng, type Rng } from '../util/rng';
import { InMemoryDataset, type Sample } from './types';
import { applySiteEffects, drawSiteEffects, validateSiteProfile, type SiteProfile } from './synthetic/site';
import { SYNTHETIC_TASKS, SYNTHETIC_TASK_NAMES, type SyntheticTask, type SyntheticTaskSpec } from './synthetic/tasks';

export type { SiteProfile } from './synthetic/site';
export { applySiteEffects, BASE_NOISE_LEVEL } from './synthetic/site';
export type { SyntheticTask, SyntheticTaskSpec } from './synthetic/tasks';
export { SYNTHETIC_TASKS, SYNTHETIC_TASK_NAMES } from './synthetic/tasks';
export { LESION_CLASSES } from './synthetic/lesion';
export { POLYP_CLASSES } from './synthetic/polyp';
export type { Scene, SceneRequest } from './synthetic/scene';
export { previewGrid, writePreviewPng, type PreviewGridOptions, type PreviewImage } from './synthetic/preview';

/** Smallest accepted image side (the scenes need room for their structures). */
export const MIN_SYNTHETIC_SIZE = 16;

/** Options of {@link syntheticSites}. Every field is optional. */
export interface SyntheticSitesOptions {
  /**
   * Number of sites (integer >= 1, default 4), or the resolved profiles of
   * the sites (e.g. from {@link siteProfiles}, edited). Profiles are used
   * verbatim: `samplesPerSite`, `classMix`, `skewAlpha` and `heterogeneity`
   * are then ignored.
   */
  sites?: number | readonly SiteProfile[];
  /** Images per site: one integer >= 0 for all (default 32) or one per site (unequal sizes). */
  samplesPerSite?: number | readonly number[];
  /** Image size: side length or `[H, W]`, integers >= 16 (default 64). */
  size?: number | readonly [number, number];
  /** Which kind of scene (default 'polyp'). */
  task?: SyntheticTask;
  /** 3 = RGB (default), 1 = grey (luminance 0.299 R + 0.587 G + 0.114 B after the site effects). */
  channels?: 1 | 3;
  /** Seed of everything (default 0). */
  seed?: number;
  /**
   * Strength of the site ("scanner") effects in [0, 1] (default 0.5):
   * 0 = all sites image alike, 1 = strong colour / tone / blur / noise /
   * resolution differences.
   */
  heterogeneity?: number;
  /**
   * Per-site class proportions (default 'uniform'): 'uniform' = equal for
   * every site; 'skewed' = each site draws its proportions from
   * Dirichlet(`skewAlpha`); or an explicit `[site][class]` table of
   * non-negative weights (rows are normalised).
   * Labels are drawn independently per patient, so a site's realised mix
   * follows its proportions in expectation.
   */
  classMix?: 'uniform' | 'skewed' | readonly (readonly number[])[];
  /** Dirichlet concentration for `classMix: 'skewed'` (default 0.5; smaller = more skewed). */
  skewAlpha?: number;
  /**
   * Probability that an image shows no object (empty mask), in [0, 1].
   * Default 0.05 for 'polyp', 0 for 'lesion'. An empty image keeps the label
   * drawn for its patient (so label-based partitioners see every image) and
   * has `meta.empty = true`; that label has no visual evidence.
   */
  emptyFraction?: number;
  /**
   * Consecutive images per synthetic patient (integer >= 1, default 1). The
   * images of one patient show the same object (same class, shape and
   * colours) from different views, so group-aware splits matter.
   */
  imagesPerPatient?: number;
  /** Dataset name (default `synthetic-<task>`). */
  name?: string;
}

/** {@link SyntheticSitesOptions} with every default applied and every check passed. */
export interface ResolvedSyntheticOptions {
  task: SyntheticTask;
  spec: SyntheticTaskSpec;
  height: number;
  width: number;
  channels: 1 | 3;
  seed: number;
  heterogeneity: number;
  emptyFraction: number;
  imagesPerPatient: number;
  name: string;
  profiles: SiteProfile[];
}

function fail(option: string, value: unknown, expected: string): never {
  const shown = typeof value === 'string' ? `'${value}'` : JSON.stringify(value) ?? String(value);
  throw new Error(`syntheticSites: option \`${option}\` = ${shown} is invalid (expected ${expected})`);
}

function isInt(x: unknown, min: number): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= min;
}

function normalise(row: readonly number[]): number[] {
  const sum = row.reduce((a, b) => a + b, 0);
  return row.map((x) => x / sum);
}

/**
 * Check the options and apply the defaults (documented on
 * {@link SyntheticSitesOptions}); throws an Error naming the option, the value
 * and what was expected.
 */
export function resolveSyntheticOptions(options: SyntheticSitesOptions = {}): ResolvedSyntheticOptions {
  const task = options.task ?? 'polyp';
  if (!Object.prototype.hasOwnProperty.call(SYNTHETIC_TASKS, task)) {
    fail('task', task, `one of ${SYNTHETIC_TASK_NAMES.map((t) => `'${t}'`).join(', ')}`);
  }
  const spec: SyntheticTaskSpec = SYNTHETIC_TASKS[task];
  const numClasses = spec.classNames.length;

  const size = options.size ?? 64;
  let height: number;
  let width: number;
  if (typeof size === 'number') {
    height = size;
    width = size;
  } else if (Array.isArray(size) && size.length === 2) {
    [height, width] = size;
  } else {
    fail('size', size, `an integer >= ${MIN_SYNTHETIC_SIZE} or [H, W]`);
  }
  if (!isInt(height, MIN_SYNTHETIC_SIZE) || !isInt(width, MIN_SYNTHETIC_SIZE)) {
    fail('size', size, `integers >= ${MIN_SYNTHETIC_SIZE} (the image side or [H, W])`);
  }

  const channels = options.channels ?? 3;
  if (channels !== 1 && channels !== 3) fail('channels', channels, '1 or 3');
  const seed = options.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) fail('seed', seed, 'a finite number');
  const heterogeneity = options.heterogeneity ?? 0.5;
  if (typeof heterogeneity !== 'number' || !(heterogeneity >= 0 && heterogeneity <= 1)) {
    fail('heterogeneity', heterogeneity, 'a number in [0, 1]');
  }
  const emptyFraction = options.emptyFraction ?? spec.defaultEmptyFraction;
  if (typeof emptyFraction !== 'number' || !(emptyFraction >= 0 && emptyFraction <= 1)) {
    fail('emptyFraction', emptyFraction, 'a number in [0, 1]');
  }
  const imagesPerPatient = options.imagesPerPatient ?? 1;
  if (!isInt(imagesPerPatient, 1)) fail('imagesPerPatient', imagesPerPatient, 'an integer >= 1');
  const name = options.name ?? `synthetic-${task}`;

  const root = createRng(seed);
  let profiles: SiteProfile[];
  const sites = options.sites ?? 4;
  if (Array.isArray(sites)) {
    if (sites.length < 1) fail('sites', sites, 'at least one SiteProfile');
    profiles = sites.map((p: SiteProfile, k: number) => {
      validateSiteProfile(p, k, numClasses);
      return cloneProfile({ ...p, classMix: normalise(p.classMix) });
    });
  } else {
    if (!isInt(sites, 1)) fail('sites', sites, 'an integer >= 1 (number of sites) or an array of SiteProfile');
    const numSites = sites as number;

    const spp = options.samplesPerSite ?? 32;
    let counts: number[];
    if (typeof spp === 'number') {
      if (!isInt(spp, 0)) fail('samplesPerSite', spp, 'an integer >= 0 or one integer per site');
      counts = new Array<number>(numSites).fill(spp);
    } else if (Array.isArray(spp)) {
      if (spp.length !== numSites || spp.some((n) => !isInt(n, 0))) {
        fail('samplesPerSite', spp, `${numSites} integers >= 0 (one per site)`);
      }
      counts = [...spp];
    } else {
      fail('samplesPerSite', spp, 'an integer >= 0 or one integer per site');
    }

    const cm = options.classMix ?? 'uniform';
    const skewAlpha = options.skewAlpha ?? 0.5;
    if (typeof skewAlpha !== 'number' || !(skewAlpha > 0) || !Number.isFinite(skewAlpha)) {
      fail('skewAlpha', skewAlpha, 'a finite number > 0');
    }
    let mixes: number[][];
    if (cm === 'uniform') {
      mixes = counts.map(() => new Array<number>(numClasses).fill(1 / numClasses));
    } else if (cm === 'skewed') {
      mixes = counts.map((_, k) => root.fork(`classmix:${k}`).dirichlet(new Array<number>(numClasses).fill(skewAlpha)));
    } else if (Array.isArray(cm)) {
      const expected = `${numSites} rows (one per site) of ${numClasses} non-negative weights with a positive sum (classes ${spec.classNames.join(', ')})`;
      if (cm.length !== numSites) fail('classMix', cm, expected);
      for (const row of cm) {
        if (
          !Array.isArray(row) ||
          row.length !== numClasses ||
          row.some((x) => typeof x !== 'number' || !Number.isFinite(x) || x < 0) ||
          !(row.reduce((a, b) => a + b, 0) > 0)
        ) {
          fail('classMix', cm, expected);
        }
      }
      mixes = cm.map((row) => normalise(row));
    } else {
      fail('classMix', cm, "'uniform', 'skewed' or a [site][class] table of weights");
    }

    profiles = counts.map((samples, k) => ({
      name: `site-${k}`,
      samples,
      classMix: mixes[k],
      ...drawSiteEffects(root.fork(`profile:${k}`), heterogeneity),
    }));
  }

  return { task, spec, height, width, channels, seed, heterogeneity, emptyFraction, imagesPerPatient, name, profiles };
}

function cloneProfile(p: SiteProfile): SiteProfile {
  return { ...p, classMix: [...p.classMix], gain: [...p.gain], offset: [...p.offset] };
}

/**
 * The resolved per-site parameters that {@link syntheticSites} would use
 * for these options (copies: edit them freely and pass them back as `sites`).
 */
export function siteProfiles(options: SyntheticSitesOptions = {}): SiteProfile[] {
  return resolveSyntheticOptions(options).profiles.map(cloneProfile);
}

function pad4(n: number): string {
  return String(n).padStart(4, '0');
}

/** Generate image `index` of site `site` from already-resolved options. */
function generate(r: ResolvedSyntheticOptions, root: Rng, site: number, index: number): Sample {
  const profile = r.profiles[site];
  const siteRng = root.fork(`site:${site}`);
  const patient = Math.floor(index / r.imagesPerPatient);
  const patientRng = siteRng.fork(`patient:${patient}`);
  const imageRng = siteRng.fork(`image:${index}`);
  const label = patientRng.fork('label').weightedIndex(profile.classMix);
  const empty = r.emptyFraction > 0 && imageRng.fork('empty').next() < r.emptyFraction;
  const h = r.height;
  const w = r.width;
  const scene = r.spec.render({
    patient: patientRng.fork('scene'),
    image: imageRng.fork('scene'),
    height: h,
    width: w,
    label,
    empty,
  });
  const rgb = applySiteEffects(scene.rgb, h, w, profile, imageRng.fork('site-effects'));
  let image = rgb;
  if (r.channels === 1) {
    image = new Float32Array(h * w);
    for (let i = 0; i < h * w; i++) {
      image[i] = Math.min(1, 0.299 * rgb[i * 3] + 0.587 * rgb[i * 3 + 1] + 0.114 * rgb[i * 3 + 2]);
    }
  }
  const patientId = `site${site}-p${pad4(patient)}`;
  return {
    id: `site${site}-${pad4(index)}`,
    label,
    meta: {
      site: profile.name,
      siteIndex: site,
      patientId,
      ...(r.task === 'lesion' ? { lesionId: patientId } : {}),
      modality: r.spec.modality,
      synthetic: true,
      className: r.spec.classNames[label],
      empty,
    },
    image,
    shape: [h, w, r.channels],
    mask: scene.mask,
  };
}

/**
 * Generate one image: exactly sample `index` of site `site` of
 * `syntheticSites(options)` (handy for lazy / streamed generation).
 * `site` indexes the resolved profiles; `index` may exceed the site's
 * `samples` (the stream is unbounded).
 */
export function syntheticSample(options: SyntheticSitesOptions, site: number, index: number): Sample {
  const r = resolveSyntheticOptions(options);
  if (!isInt(site, 0) || site >= r.profiles.length) {
    throw new RangeError(`syntheticSample: site ${site} out of range [0, ${r.profiles.length})`);
  }
  if (!isInt(index, 0)) throw new RangeError(`syntheticSample: index must be an integer >= 0, got ${index}`);
  return generate(r, createRng(r.seed), site, index);
}

/**
 * Generate the multi-site synthetic dataset (see the module comment).
 *
 * Samples are ordered site by site, `samples` images each. Each sample has
 * - `id` `site<k>-<iiii>` (k and i from 0),
 * - `meta` `{ site: profile name ('site-<k>'), siteIndex, patientId
 *   ('site<k>-p<pppp>'), lesionId (lesion task, = patientId), modality
 *   ('endoscopy' | 'dermoscopy'), synthetic: true, className, empty }`,
 * - `label` (class index into `classNames`),
 * - `image` Float32Array `[H, W, C]` in [0, 1], `mask` Uint8Array `[H, W]`
 *   in {0, 1} (mask classes `['background', 'polyp' | 'lesion']`).
 *
 * The dataset task is 'segmentation+classification'.
 */
export function syntheticSites(options: SyntheticSitesOptions = {}): InMemoryDataset {
  const r = resolveSyntheticOptions(options);
  const root = createRng(r.seed);
  const samples: Sample[] = [];
  r.profiles.forEach((p, k) => {
    for (let i = 0; i < p.samples; i++) samples.push(generate(r, root, k, i));
  });
  return new InMemoryDataset(r.name, samples, 'segmentation+classification', r.spec.classNames, r.spec.maskClasses);
}
