/**
 * Pathological (k-classes-per-site) partitioner, Flower Datasets
 * `PathologicalPartitioner` semantics (McMahan et al. 2017, arXiv:1602.05629
 * "pathological non-IID"): each site is given exactly `k` distinct classes,
 * then each class's samples are split evenly (numpy array_split) among the sites
 * that hold it.
 *
 * Class assignment (`classAssignment`):
 * - `'random'` (default): k classes drawn without replacement per site;
 * - `'first-class'` (Flower's `'first-deterministic'`, the paper's setup):
 *   site i's first class is class (i mod C), the remaining k-1 are random;
 * - `'deterministic'`: site i holds classes (i + j) mod C, j = 0..k-1.
 * Classes are the sorted distinct labels present. Classes no site holds are
 * dropped (their samples are assigned to no site) with a warning, as in Flower.
 * With `groupBy`, a group counts as its majority label; its members keep their
 * own labels, so a site may then hold more than k distinct sample labels.
 */
import type { Rng } from '../util/rng';
import { BasePartitionOptions, Partitioner, UnitInput, arraySplit, requireInt, uniqueLabels } from './base';

/** How classes are handed to sites. */
export type ClassAssignment = 'random' | 'first-class' | 'deterministic';

/** Options of {@link PathologicalPartitioner}. */
export interface PathologicalOptions extends BasePartitionOptions {
  /** Number of sites (>= 1). */
  sites: number;
  /** Exact number of distinct classes per site (>= 1). */
  k: number;
  /** Default 'random'. 'first-deterministic' is accepted as an alias of 'first-class'. */
  classAssignment?: ClassAssignment | 'first-deterministic';
}

/** Exactly k classes per site. */
export class PathologicalPartitioner extends Partitioner {
  readonly scheme = 'pathological';
  readonly numSites: number;
  readonly k: number;
  readonly classAssignment: ClassAssignment;
  /** Classes held by each site in the last `assign` (label values). */
  lastSiteClasses: number[][] = [];

  constructor(opts: PathologicalOptions) {
    super(opts);
    const o = 'PathologicalPartitioner';
    this.numSites = requireInt(o, 'sites', opts.sites, 1);
    this.k = requireInt(o, 'k', opts.k, 1);
    const mode = opts.classAssignment ?? 'random';
    const norm = mode === 'first-deterministic' ? 'first-class' : mode;
    if (norm !== 'random' && norm !== 'first-class' && norm !== 'deterministic') {
      throw new Error(`${o}: 'classAssignment' must be one of random, first-class, deterministic; got ${String(mode)}`);
    }
    this.classAssignment = norm;
  }

  protected assignUnits(units: UnitInput, rng: Rng): number[][] {
    const o = 'PathologicalPartitioner';
    const labels = this.requireLabels(units);
    const what = this.groupBy ? 'groups' : 'samples';
    if (this.numSites > units.n) throw new Error(`${o}: ${this.numSites} sites requested but only ${units.n} ${what}`);
    const classes = uniqueLabels(labels);
    const C = classes.length;
    if (this.k > C) throw new Error(`${o}: k=${this.k} classes per site requested but only ${C} classes are present (${classes.join(', ')})`);
    const siteClasses: number[][] = [];
    for (let s = 0; s < this.numSites; s++) {
      let held: number[];
      if (this.classAssignment === 'deterministic') {
        held = Array.from({ length: this.k }, (_, j) => classes[(s + j) % C]);
      } else if (this.classAssignment === 'first-class') {
        held = [classes[s % C]];
        while (held.length < this.k) {
          const c = rng.choice(classes);
          if (!held.includes(c)) held.push(c);
        }
      } else {
        held = rng.sample(C, this.k).map((i) => classes[i]);
      }
      siteClasses.push(held);
    }
    this.lastSiteClasses = siteClasses.map((h) => h.slice());
    const sites: number[][] = siteClasses.map(() => []);
    const unused: number[] = [];
    for (const c of classes) {
      const holders = siteClasses.flatMap((h, s) => (h.includes(c) ? [s] : []));
      if (holders.length === 0) {
        unused.push(c);
        continue;
      }
      let members = labels.flatMap((l, u) => (l === c ? [u] : []));
      if (holders.length > members.length) {
        throw new Error(
          `${o}: class ${c} must go to ${holders.length} sites but has only ${members.length} ${what}; ` +
            `lower sites or k, or use classAssignment 'deterministic'`,
        );
      }
      if (this.shuffle) members = rng.shuffle(members);
      arraySplit(members, holders.length).forEach((part, j) => sites[holders[j]].push(...part));
    }
    if (unused.length > 0) {
      this.logger.warn(`${o}: classes ${unused.join(', ')} are held by no site; their samples are not assigned`);
    }
    return sites;
  }
}

/** Create a {@link PathologicalPartitioner}. */
export function pathological(opts: PathologicalOptions): PathologicalPartitioner {
  return new PathologicalPartitioner(opts);
}
