/**
 * Where the method drivers (MedMerge, MedForge, M4oE comparisons) get their
 * data: the embedded synthetic sets or the real samples under a data root
 * (`<root>/kvasir-seg`, `<root>/cvc-clinicdb`, `<root>/ham10000`), plus the
 * few reshapes they share: seeded caps, grouped train / test splits, label
 * relabelling and HAM10000's dx reduced to nv / bkl / other.
 *
 * Data root: an explicit folder, else env `MEDFL_SHARED_DATA`, else
 * `<repository>/../shared/data`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InMemoryDataset, materialize, type Sample } from './types';
import { openKvasirSeg } from './kvasir';
import { HAM10000_SOURCES_METADATA, openHam10000 } from './ham10000';
import { openCvcClinicDb } from './folder';
import { trainTestSplit } from './split';
import { createRng } from '../util/rng';

/** Embedded synthetic data or the real samples under the data root. */
export type DataSource = 'embedded' | 'real';

/** The values of {@link DataSource}. */
export const DATA_SOURCES: readonly DataSource[] = ['embedded', 'real'];

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
 * Root of the real sample data: `override` (e.g. `--data-root`), else env
 * `MEDFL_SHARED_DATA`, else `<repository>/../shared/data`.
 */
export function sharedDataRoot(override?: string): string {
  if (override) return path.resolve(override);
  const env = process.env.MEDFL_SHARED_DATA;
  if (env) return path.resolve(env);
  return path.resolve(repositoryRoot(), '..', 'shared', 'data');
}

/** The real sample sets the method drivers read. */
export type RealDataKey = 'kvasir' | 'cvc' | 'ham10000';

const REAL_SETS: Record<RealDataKey, { sub: string; what: string }> = {
  kvasir: { sub: 'kvasir-seg', what: 'Kvasir-SEG' },
  cvc: { sub: 'cvc-clinicdb', what: 'CVC-ClinicDB' },
  ham10000: { sub: 'ham10000', what: 'HAM10000' },
};

/** The folder of one real set: `s.roots[key]` when given, else `<dataRoot>/<its folder>`; throws naming the path when absent. */
function realDir(s: Pick<MethodDataSettings, 'dataRoot' | 'roots'>, key: RealDataKey): string {
  const { sub, what } = REAL_SETS[key];
  const given = s.roots[key];
  const p = given ?? path.join(s.dataRoot, sub);
  if (!fs.existsSync(p)) {
    throw new Error(given ? `${what} folder not found: ${p}` : `--data real: ${what} not found at ${p} (point --data-root or MEDFL_SHARED_DATA at the folder that holds ${sub}/)`);
  }
  return p;
}

/** Decoded images kept by the lazy loaders (the real samples are a few hundred images at most). */
const CACHE = 4096;

/** Kvasir-SEG (`roots.kvasir`, else `<dataRoot>/kvasir-seg`) decoded at `size` x `size`, in memory. */
export async function openRealKvasir(s: Pick<MethodDataSettings, 'dataRoot' | 'roots'>, size: number): Promise<InMemoryDataset> {
  return materialize(await openKvasirSeg({ root: realDir(s, 'kvasir'), size: [size, size], cacheSize: CACHE }));
}

/** CVC-ClinicDB (`roots.cvc`, else `<dataRoot>/cvc-clinicdb`) decoded at `size` x `size`, in memory. */
export async function openRealCvc(s: Pick<MethodDataSettings, 'dataRoot' | 'roots'>, size: number): Promise<InMemoryDataset> {
  return materialize(await openCvcClinicDb({ root: realDir(s, 'cvc'), size: [size, size], cacheSize: CACHE }));
}

/**
 * HAM10000 (`roots.ham10000`, else `<dataRoot>/ham10000`) with masks at `size` x `size`, in memory; `meta.site` = the
 * Dataverse source when `HAM10000_metadata_subset_with_dataset.csv` exists
 * (required when `requireSites`).
 */
export async function openRealHam10000(s: Pick<MethodDataSettings, 'dataRoot' | 'roots'>, size: number, requireSites: boolean): Promise<InMemoryDataset> {
  const dir = realDir(s, 'ham10000');
  const subset = HAM10000_SOURCES_METADATA;
  const hasSubset = fs.existsSync(path.join(dir, subset));
  if (requireSites && !hasSubset) throw new Error(`--data real: ${path.join(dir, subset)} (HAM10000 metadata with the 'dataset' source column) not found`);
  return materialize(await openHam10000({ root: dir, metadataFile: hasSubset ? subset : undefined, masks: true, size: [size, size], cacheSize: CACHE }));
}

/** A copy of `ds` named `name` whose samples carry `label(sample, index)` and whose classes are `classNames`. */
export function withLabels(ds: InMemoryDataset, name: string, classNames: readonly string[], label: (s: Sample, i: number) => number): InMemoryDataset {
  return new InMemoryDataset(name, ds.samples.map((s, i) => ({ ...s, label: label(s, i) })), ds.task, classNames, ds.maskClasses);
}

/** At most `n` samples of `ds`: a seeded random subset kept in index order (`ds` itself when small enough). */
export function capSamples(ds: InMemoryDataset, n: number, seed: number): InMemoryDataset {
  if (ds.length <= n) return ds;
  const keep = createRng(seed).permutation(ds.length).slice(0, n).sort((a, b) => a - b);
  return ds.subset(keep);
}

/**
 * Seeded train / test split grouped by patient (HAM10000: lesion), stratified
 * by label when asked. Throws when either side would be empty.
 */
export function splitByPatient(ds: InMemoryDataset, testFraction: number, seed: number, stratify = false): { train: InMemoryDataset; test: InMemoryDataset } {
  const s = trainTestSplit(ds, { testFraction, seed, groupKey: 'patientId', stratify });
  if (s.train.length === 0 || s.test.length === 0) throw new Error(`${ds.name}: ${ds.length} images are too few to split into train and test`);
  return { train: ds.subset(s.train), test: ds.subset(s.test) };
}

/** HAM10000's seven dx classes reduced to three. */
export const HAM_REDUCED_CLASSES = ['nv', 'bkl', 'other'] as const;

/** HAM10000 relabelled to {@link HAM_REDUCED_CLASSES}: nv -> 0, bkl -> 1, everything else -> 2. */
export function hamReducedLabels(ds: InMemoryDataset): InMemoryDataset {
  return withLabels(ds, `${ds.name} dx (nv/bkl/other)`, HAM_REDUCED_CLASSES, (s) => {
    const dx = ds.classNames[s.label as number];
    return dx === 'nv' ? 0 : dx === 'bkl' ? 1 : 2;
  });
}

/** The samples of `ds` whose `meta[key]` equals `value`, as a subset named `name` (default: the value). */
export function subsetWhere(ds: InMemoryDataset, key: string, value: unknown, name = String(value)): InMemoryDataset {
  return ds.subset(
    ds.samples.map((s, i) => (s.meta[key] === value ? i : -1)).filter((i) => i >= 0),
    name,
  );
}

/**
 * Throw unless the square image side `size` is a positive multiple of
 * `divisor` (what `owner`, e.g. 'the U-Net', needs); the message names the
 * nearest valid size.
 */
export function checkImageSize(size: number, divisor: number, owner: string): void {
  if (!Number.isInteger(size) || size < divisor || size % divisor !== 0) {
    throw new Error(`size ${size}: ${owner} needs a multiple of ${divisor} (nearest: ${Math.max(divisor, Math.round(size / divisor) * divisor)})`);
  }
}

/** Options every method driver (MedMerge, MedForge, M4oE comparisons) shares. */
export interface MethodDataOptions {
  /** 'embedded' synthetic data or the 'real' samples. Default 'embedded'. */
  data?: DataSource;
  /** Real data folder (data 'real'). Default {@link sharedDataRoot}(). */
  dataRoot?: string;
  /** Per-set folders (data 'real'), each overriding `<dataRoot>/<its folder>` (e.g. the full Kvasir-SEG elsewhere). */
  roots?: Partial<Record<RealDataKey, string>>;
  /** Smaller data and budgets (about a minute on 2 CPU cores). Default false. */
  quick?: boolean;
  /** Seed of data, splits, weights and batch order. Default 0. */
  seed?: number;
}

/** {@link MethodDataOptions} with the defaults applied (every driver's settings start with these). */
export interface MethodDataSettings {
  data: DataSource;
  dataRoot: string;
  /** Per-set folders given (see {@link MethodDataOptions.roots}). */
  roots: Partial<Record<RealDataKey, string>>;
  quick: boolean;
  seed: number;
  /** True when real sets are capped to the driver's `samples` (quick, or `samples` given). */
  capReal: boolean;
}

/** Apply the shared defaults: embedded data, the shared data root for real data, not quick, seed 0. */
export function resolveMethodData(o: MethodDataOptions & { samples?: number }): MethodDataSettings {
  const data = o.data ?? 'embedded';
  const quick = o.quick ?? false;
  return { data, dataRoot: data === 'real' ? sharedDataRoot(o.dataRoot) : '', roots: { ...(o.roots ?? {}) }, quick, seed: o.seed ?? 0, capReal: quick || o.samples !== undefined };
}
