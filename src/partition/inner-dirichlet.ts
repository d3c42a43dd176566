/**
 * Inner-Dirichlet partitioner: site sizes are given, each site's class mix is
 * drawn from Dir(alpha) over classes (Flower Datasets `InnerDirichletPartitioner`,
 * after FedLab / Li et al. "Federated Learning on Non-IID Data Silos",
 * arXiv:2102.02079). Samples are allocated one at a time: a random non-full site
 * draws a class from its prior; exhausted classes get probability 0 and the
 * priors are renormalised.
 *
 * Departures: Flower accepts sizes summing to less than N (with a warning);
 * here integer sizes must sum to exactly the number of units, or be fractions
 * summing to 1 (largest-remainder rounding). When a site's prior becomes all
 * zero (its classes exhausted) it falls back to the remaining class counts
 * (Flower would divide by zero).
 */
import type { Rng } from '../util/rng';
import { BasePartitionOptions, Partitioner, UnitInput, requirePositive, uniqueLabels } from './base';
import { resolveSizes, validateSizes } from './sizes';

/** Options of {@link InnerDirichletPartitioner}. */
export interface InnerDirichletOptions extends BasePartitionOptions {
  /** Units per site: integers summing to N, or fractions summing to 1. Sites = sizes.length. */
  sizes: readonly number[];
  /** Concentration over classes: scalar or one value per (present) class. */
  alpha: number | readonly number[];
}

/** Fixed site sizes, Dirichlet class mix inside each site. */
export class InnerDirichletPartitioner extends Partitioner {
  readonly scheme = 'inner-dirichlet';
  readonly sizes: readonly number[];
  readonly alpha: number | readonly number[];

  constructor(opts: InnerDirichletOptions) {
    super(opts);
    const o = 'InnerDirichletPartitioner';
    this.sizes = validateSizes(o, opts.sizes);
    if (typeof opts.alpha === 'number') requirePositive(o, 'alpha', opts.alpha);
    else if (Array.isArray(opts.alpha)) opts.alpha.forEach((v, i) => requirePositive(o, `alpha[${i}]`, v));
    else throw new Error(`${o}: 'alpha' must be a number or an array of numbers > 0`);
    this.alpha = opts.alpha;
  }

  protected assignUnits(units: UnitInput, rng: Rng): number[][] {
    const o = 'InnerDirichletPartitioner';
    const labels = this.requireLabels(units);
    const sizes = resolveSizes(o, this.sizes, units.n, this.groupBy ? 'groups' : 'samples');
    const classes = uniqueLabels(labels);
    const K = classes.length;
    const alpha = typeof this.alpha === 'number' ? new Array(K).fill(this.alpha) : this.alpha.slice();
    if (alpha.length !== K) throw new Error(`${o}: alpha has ${alpha.length} values but the labels have ${K} classes`);
    const priors = sizes.map(() => rng.dirichlet(alpha));
    const pools = classes.map((c) => {
      const m = labels.flatMap((l, u) => (l === c ? [u] : []));
      return this.shuffle ? rng.shuffle(m) : m;
    });
    const left = sizes.slice();
    const open = sizes.flatMap((s, i) => (s > 0 ? [i] : []));
    const sites: number[][] = sizes.map(() => []);
    while (open.length > 0) {
      const pick = rng.int(open.length);
      const s = open[pick];
      let w = priors[s].map((p, k) => (pools[k].length > 0 ? p : 0));
      if (!(w.reduce((a, b) => a + b, 0) > 0)) w = pools.map((p) => p.length);
      const k = rng.weightedIndex(w);
      sites[s].push(pools[k].pop()!);
      if (--left[s] === 0) open.splice(pick, 1);
    }
    return sites;
  }
}

/** Create an {@link InnerDirichletPartitioner}. */
export function innerDirichlet(opts: InnerDirichletOptions): InnerDirichletPartitioner {
  return new InnerDirichletPartitioner(opts);
}
