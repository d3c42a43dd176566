/**
 * Dirichlet label-skew partitioner (Hsu et al. 2019, arXiv:1909.06335; Yurochkin
 * et al. 2019, arXiv:1905.12022). For every class k a proportion vector
 * p_k ~ Dir(alpha) over the sites is drawn and the class's samples are cut at
 * floor(cumsum(p_k) * n_k), exactly as Flower Datasets' `DirichletPartitioner`.
 *
 * - `alpha`: a scalar (symmetric), a per-site vector (Flower's vector form,
 *   length = sites), or `{ perClass: [...] }` (class k uses symmetric Dir(alpha_k)).
 * - `minPartitionSize` (default 10, Flower's default): redraw the whole
 *   assignment until every site holds at least that many units, at most
 *   `maxRetries` (default 10) redraws. Departure: Flower raises after its
 *   retries; here the best attempt (largest smallest site) is returned with a
 *   warning through the injectable `logger`, or an error with `onMinSizeUnmet: 'throw'`.
 * - `selfBalancing` (default false): as Flower's option, a site that already
 *   holds more than N/sites units gets proportion 0 for the following classes.
 * - Departure: with `shuffle` (default) the samples of each class are permuted
 *   before cutting, so which samples of a class a site gets is random too.
 */
import type { Rng } from '../util/rng';
import { BasePartitionOptions, Partitioner, UnitInput, requireInt, requirePositive, uniqueLabels } from './base';

/** Concentration of the per-class Dirichlet draws. */
export type DirichletAlpha = number | readonly number[] | { perClass: readonly number[] };

/** Options of {@link DirichletPartitioner}. */
export interface DirichletOptions extends BasePartitionOptions {
  /** Number of sites (>= 1). */
  sites: number;
  /** Concentration (> 0). Small = strong label skew, large = near IID. */
  alpha: DirichletAlpha;
  /** Minimum units per site (default 10). */
  minPartitionSize?: number;
  /** Redraws allowed when a site is too small (default 10). */
  maxRetries?: number;
  /** Stop feeding sites above the average size (default false). */
  selfBalancing?: boolean;
  /** What to do when `minPartitionSize` is still unmet after `maxRetries` (default 'warn'). */
  onMinSizeUnmet?: 'warn' | 'throw';
}

/** Dirichlet(alpha) label skew across sites. */
export class DirichletPartitioner extends Partitioner {
  readonly scheme = 'dirichlet';
  readonly numSites: number;
  readonly alpha: DirichletAlpha;
  readonly minPartitionSize: number;
  readonly maxRetries: number;
  readonly selfBalancing: boolean;
  readonly onMinSizeUnmet: 'warn' | 'throw';
  /** Number of draws the last `assign` needed (1 = first draw accepted). */
  lastAttempts = 0;

  constructor(opts: DirichletOptions) {
    super(opts);
    const o = 'DirichletPartitioner';
    this.numSites = requireInt(o, 'sites', opts.sites, 1);
    const a = opts.alpha;
    if (typeof a === 'number') requirePositive(o, 'alpha', a);
    else if (Array.isArray(a)) {
      if (a.length !== this.numSites) {
        throw new Error(`${o}: a per-site alpha vector must have length sites=${this.numSites}, got ${a.length}`);
      }
      a.forEach((v, i) => requirePositive(o, `alpha[${i}]`, v));
    } else if (a && typeof a === 'object' && Array.isArray((a as { perClass: number[] }).perClass)) {
      (a as { perClass: number[] }).perClass.forEach((v, i) => requirePositive(o, `alpha.perClass[${i}]`, v));
    } else {
      throw new Error(`${o}: 'alpha' must be a number > 0, a per-site array or { perClass: [...] }, got ${JSON.stringify(a)}`);
    }
    this.alpha = a;
    this.minPartitionSize = requireInt(o, 'minPartitionSize', opts.minPartitionSize ?? 10, 0);
    this.maxRetries = requireInt(o, 'maxRetries', opts.maxRetries ?? 10, 0);
    this.selfBalancing = opts.selfBalancing ?? false;
    const on = opts.onMinSizeUnmet ?? 'warn';
    if (on !== 'warn' && on !== 'throw') throw new Error(`${o}: 'onMinSizeUnmet' must be 'warn' or 'throw', got ${String(on)}`);
    this.onMinSizeUnmet = on;
  }

  private alphaFor(classRank: number, numClasses: number): number[] {
    const a = this.alpha;
    if (typeof a === 'number') return new Array(this.numSites).fill(a);
    if (Array.isArray(a)) return a.slice();
    const pc = (a as { perClass: readonly number[] }).perClass;
    if (pc.length !== numClasses) {
      throw new Error(`DirichletPartitioner: alpha.perClass has ${pc.length} values but the labels have ${numClasses} classes`);
    }
    return new Array(this.numSites).fill(pc[classRank]);
  }

  protected assignUnits(units: UnitInput, rng: Rng): number[][] {
    const labels = this.requireLabels(units);
    const o = 'DirichletPartitioner';
    const what = this.groupBy ? 'groups' : 'samples';
    if (this.numSites > units.n) throw new Error(`${o}: ${this.numSites} sites requested but only ${units.n} ${what}`);
    if (this.minPartitionSize * this.numSites > units.n) {
      throw new Error(`${o}: minPartitionSize=${this.minPartitionSize} x ${this.numSites} sites exceeds the ${units.n} ${what}`);
    }
    const classes = uniqueLabels(labels);
    // Per-class unit lists (ascending, permuted per draw when shuffling).
    const byClass = classes.map((c) => labels.flatMap((l, u) => (l === c ? [u] : [])));
    const avg = units.n / this.numSites;
    let best: number[][] | null = null;
    let bestMin = -1;
    for (let attempt = 0; attempt <= this.maxRetries; attempt++) {
      const sites: number[][] = Array.from({ length: this.numSites }, () => []);
      classes.forEach((_, ci) => {
        const members = this.shuffle ? rng.shuffle(byClass[ci].slice()) : byClass[ci];
        let p = rng.dirichlet(this.alphaFor(ci, classes.length));
        if (this.selfBalancing) {
          const q = p.map((v, s) => (sites[s].length > avg ? 0 : v));
          const tot = q.reduce((x, y) => x + y, 0);
          // All sites full (cannot happen while units remain, kept for safety): keep p.
          if (tot > 0) p = q.map((v) => v / tot);
        }
        let cum = 0;
        let start = 0;
        for (let s = 0; s < this.numSites; s++) {
          cum += p[s];
          const end = s === this.numSites - 1 ? members.length : Math.min(members.length, Math.floor(cum * members.length));
          for (let j = start; j < end; j++) sites[s].push(members[j]);
          start = Math.max(start, end);
        }
      });
      const minSize = Math.min(...sites.map((s) => s.length));
      this.lastAttempts = attempt + 1;
      if (minSize >= this.minPartitionSize) return sites;
      if (minSize > bestMin) {
        bestMin = minSize;
        best = sites;
      }
    }
    const msg =
      `${o}: minPartitionSize=${this.minPartitionSize} not reached after ${this.maxRetries + 1} draws ` +
      `(alpha=${JSON.stringify(this.alpha)}, smallest site ${bestMin} ${what}); ` +
      `increase alpha, lower minPartitionSize or use fewer sites`;
    if (this.onMinSizeUnmet === 'throw') throw new Error(msg);
    this.logger.warn(`${msg}; returning the best draw`);
    return best!;
  }
}

/** Create a {@link DirichletPartitioner}. */
export function dirichlet(opts: DirichletOptions): DirichletPartitioner {
  return new DirichletPartitioner(opts);
}
