/**
 * Seeded, group-aware train/val/test splits: every group (patient, lesion,
 * video sequence) lands on exactly one side, so no patient leaks between
 * training and evaluation.
 */
import { createRng } from '../util/rng';
import type { Dataset, SampleInfo } from './types';

/** Fractions of samples per split: `[train, val, test]` or named. Must be >= 0 and sum to 1 (+-1e-6). */
export type SplitFractions = readonly [number, number, number] | { train: number; val: number; test: number };

/** How to group samples: a `meta` key or a function of the sample info. */
export type GroupKey = 'patientId' | 'lesionId' | 'site' | (string & {}) | ((info: SampleInfo, index: number) => string | undefined);

/** Options of {@link splitByGroup}. */
export interface SplitByGroupOptions {
  /** Target sample fractions. Default `[0.7, 0.15, 0.15]`. */
  fractions?: SplitFractions;
  /**
   * Grouping: a `meta` key (default `'patientId'`) or a function. Samples
   * without a group value form a group of their own (keyed by sample id).
   */
  groupKey?: GroupKey;
  /** Seed of the group shuffle (required: splits must be reproducible). */
  seed: number | string;
  /**
   * Stratify by image label (`true`) or by a function's value: groups are
   * split stratum by stratum, a group's stratum being its most frequent
   * label (ties -> the smallest). Default false.
   */
  stratify?: boolean | ((info: SampleInfo, index: number) => string | number | undefined);
}

/** Sample indices of each split, ascending. */
export interface SplitIndices {
  train: number[];
  val: number[];
  test: number[];
}

const SPLITS = ['train', 'val', 'test'] as const;

function toInfos(source: Dataset | readonly SampleInfo[]): SampleInfo[] {
  if (Array.isArray(source)) return [...(source as readonly SampleInfo[])];
  const ds = source as Dataset;
  const out: SampleInfo[] = [];
  for (let i = 0; i < ds.length; i++) out.push(ds.info(i));
  return out;
}

function normaliseFractions(f: SplitFractions): [number, number, number] {
  const arr: [number, number, number] = Array.isArray(f) ? [f[0], f[1], f[2]] : [(f as { train: number }).train, (f as { val: number }).val, (f as { test: number }).test];
  if (arr.length !== 3 || arr.some((x) => !(Number.isFinite(x) && x >= 0))) {
    throw new RangeError(`split fractions must be three numbers >= 0 (train, val, test), got ${JSON.stringify(f)}`);
  }
  const sum = arr[0] + arr[1] + arr[2];
  if (Math.abs(sum - 1) > 1e-6) throw new RangeError(`split fractions must sum to 1, got ${arr.join(' + ')} = ${sum}`);
  return arr;
}

/** Sample indices per group value, groups in first-seen order. */
function groupIndices(infos: readonly SampleInfo[], key: GroupKey): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  infos.forEach((info, i) => {
    const g = groupOf(info, i, key);
    const list = groups.get(g);
    if (list) list.push(i);
    else groups.set(g, [i]);
  });
  return groups;
}

function groupOf(info: SampleInfo, index: number, key: GroupKey): string {
  const v = typeof key === 'function' ? key(info, index) : info.meta[key];
  if (v === undefined || v === null || v === '') return `\u0000sample:${info.id}:${index}`;
  return `g:${String(v)}`;
}

interface Group {
  members: number[];
  stratum: string;
}

/**
 * Split samples into train/val/test keeping every group on one side.
 *
 * Algorithm: groups are shuffled with the seed, stably sorted by size
 * (largest first), then each goes to the split furthest below its target
 * sample count (ties: the split furthest below its overall target, then
 * train, val, test). With `stratify`, this runs per stratum with
 * per-stratum targets. Finally every split with a positive
 * fraction that ended empty takes the smallest group of the split holding the
 * most groups. Sample counts therefore match the fractions only up to group
 * granularity.
 *
 * Throws a RangeError when impossible: bad fractions, or fewer groups than
 * splits with a positive fraction.
 */
export function splitByGroup(source: Dataset | readonly SampleInfo[], options: SplitByGroupOptions): SplitIndices {
  const fr = normaliseFractions(options.fractions ?? [0.7, 0.15, 0.15]);
  const infos = toInfos(source);
  const key = options.groupKey ?? 'patientId';
  const groups = groupIndices(infos, key);
  const needed = fr.filter((x) => x > 0).length;
  if (groups.size < needed) {
    throw new RangeError(
      `cannot split ${infos.length} samples in ${groups.size} group(s) (by ${typeof key === 'function' ? 'a function' : `'${key}'`}) into ${needed} non-empty splits with fractions [${fr.join(', ')}]`,
    );
  }
  const strat = options.stratify;
  const stratumOf = (i: number): string => {
    if (!strat) return '';
    const v = strat === true ? infos[i].label : strat(infos[i], i);
    return v === undefined ? '\u0000none' : String(v);
  };
  const list: Group[] = [...groups.values()].map((members) => {
    if (!strat) return { members, stratum: '' };
    const counts = new Map<string, number>();
    for (const i of members) counts.set(stratumOf(i), (counts.get(stratumOf(i)) ?? 0) + 1);
    const best = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))[0][0];
    return { members, stratum: best };
  });
  const rng = createRng(options.seed);
  rng.shuffle(list);
  const strata = new Map<string, Group[]>();
  for (const g of list) {
    const s = strata.get(g.stratum);
    if (s) s.push(g);
    else strata.set(g.stratum, [g]);
  }
  const assigned: Group[][] = [[], [], []];
  const globalTarget = fr.map((f) => f * infos.length);
  const globalHave = [0, 0, 0];
  const stratumKeys = [...strata.keys()].sort();
  for (const sk of stratumKeys) {
    const gs = strata.get(sk) as Group[];
    gs.sort((a, b) => b.members.length - a.members.length); // stable: shuffled order among equal sizes
    const total = gs.reduce((s, g) => s + g.members.length, 0);
    const target = fr.map((f) => f * total);
    const have = [0, 0, 0];
    for (const g of gs) {
      let pick = -1;
      let best = -Infinity;
      let bestGlobal = -Infinity;
      for (let s = 0; s < 3; s++) {
        if (fr[s] === 0) continue;
        const deficit = target[s] - have[s];
        const globalDeficit = globalTarget[s] - globalHave[s];
        if (deficit > best + 1e-9 || (Math.abs(deficit - best) <= 1e-9 && globalDeficit > bestGlobal + 1e-9)) {
          best = deficit;
          bestGlobal = globalDeficit;
          pick = s;
        }
      }
      assigned[pick].push(g);
      have[pick] += g.members.length;
      globalHave[pick] += g.members.length;
    }
  }
  for (let s = 0; s < 3; s++) {
    if (fr[s] === 0 || assigned[s].length > 0) continue;
    let donor = -1;
    for (let d = 0; d < 3; d++) if (assigned[d].length > 1 && (donor < 0 || assigned[d].length > assigned[donor].length)) donor = d;
    if (donor < 0) throw new RangeError(`cannot give split '${SPLITS[s]}' a group: too few groups`);
    let smallest = 0;
    for (let k = 1; k < assigned[donor].length; k++) {
      if (assigned[donor][k].members.length < assigned[donor][smallest].members.length) smallest = k;
    }
    assigned[s].push(assigned[donor].splice(smallest, 1)[0]);
  }
  const out = assigned.map((gs) => gs.flatMap((g) => g.members).sort((a, b) => a - b));
  return { train: out[0], val: out[1], test: out[2] };
}

/** Options of {@link trainTestSplit}. */
export interface TrainTestSplitOptions {
  /** Fraction of samples in the test split. Default 0.2. */
  testFraction?: number;
  seed: number | string;
  /** Stratify by image label (or a function's value). Default false. */
  stratify?: SplitByGroupOptions['stratify'];
  /** Keep groups together (a `meta` key or function). Default: none (each sample alone). */
  groupKey?: GroupKey;
}

/**
 * Plain seeded train/test split (optionally stratified or grouped). Without
 * grouping or stratification the test split holds `testFraction * n`
 * samples up to less than one (the greedy assignment keeps every split
 * within one sample of its target).
 */
export function trainTestSplit(
  source: Dataset | readonly SampleInfo[] | number,
  options: TrainTestSplitOptions,
): { train: number[]; test: number[] } {
  const t = options.testFraction ?? 0.2;
  if (!(t > 0 && t < 1)) throw new RangeError(`testFraction must be in (0, 1), got ${t}`);
  const infos: SampleInfo[] =
    typeof source === 'number' ? Array.from({ length: source }, (_, i) => ({ id: String(i), meta: {} })) : toInfos(source);
  const { train, test } = splitByGroup(infos, {
    fractions: [1 - t, 0, t],
    seed: options.seed,
    stratify: options.stratify,
    groupKey: options.groupKey ?? ((_info, i) => `#${i}`),
  });
  return { train, test };
}

/** Options of {@link kFoldSplit}. */
export interface KFoldOptions {
  /** Number of folds (integer >= 2). */
  k: number;
  /** The fold held out as the test split (0..k-1). */
  index: number;
  /** Seed of the group shuffle (same seed, same folds for every index). */
  seed: number | string;
  /** Keep groups together (a `meta` key or function), e.g. 'patientId' or 'lesionId'. Default: none (each sample alone). */
  groupKey?: GroupKey;
}

/**
 * k-fold cross-validation split with whole groups (patients, lesions): the
 * groups are shuffled (seeded), then dealt largest first to the fold with the
 * fewest samples so far (ties: lowest fold), so folds differ by at most one
 * group's size; fold `index` is the test split, the other folds the training
 * split. Over `index = 0..k-1` every sample is tested exactly once. Indices
 * ascend within each split. Throws when there are fewer groups than folds.
 */
export function kFoldSplit(source: Dataset | readonly SampleInfo[] | number, options: KFoldOptions): { train: number[]; test: number[] } {
  const { k, index } = options;
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`kFoldSplit: k must be an integer >= 2, got ${k}`);
  if (!Number.isInteger(index) || index < 0 || index >= k) throw new RangeError(`kFoldSplit: index must be an integer in [0, ${k - 1}], got ${index}`);
  const infos: SampleInfo[] = typeof source === 'number' ? Array.from({ length: source }, (_, i) => ({ id: String(i), meta: {} })) : toInfos(source);
  const key = options.groupKey ?? ((_info: SampleInfo, i: number) => `#${i}`);
  const groups = groupIndices(infos, key);
  if (groups.size < k) throw new RangeError(`kFoldSplit: ${groups.size} group(s) cannot fill ${k} folds`);
  const shuffled = createRng(`kfold|${options.seed}`).shuffle([...groups.values()]);
  // stable by size: largest first, shuffled order among equals
  const order = shuffled.map((g, i) => [g, i] as const).sort((a, b) => b[0].length - a[0].length || a[1] - b[1]).map(([g]) => g);
  const sizes = new Array<number>(k).fill(0);
  const fold = new Array<number>(infos.length);
  for (const g of order) {
    let f = 0;
    for (let j = 1; j < k; j++) if (sizes[j] < sizes[f]) f = j;
    sizes[f] += g.length;
    for (const i of g) fold[i] = f;
  }
  const train: number[] = [];
  const test: number[] = [];
  fold.forEach((f, i) => (f === index ? test : train).push(i));
  return { train, test };
}
