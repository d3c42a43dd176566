/**
 * Quantity-skew partitioner: sites differ in size, not in label mix. Covers
 * Flower Datasets' SizePartitioner family and two random schemes:
 * - `'linear'`  size_i ∝ i      (Flower `LinearPartitioner`, i = 1..sites)
 * - `'square'`  size_i ∝ i^2    (Flower `SquarePartitioner`)
 * - `'exponential'` size_i ∝ e^i (Flower `ExponentialPartitioner`)
 * - `'power-law'` size_i ∝ u_i^(-1/exponent), u_i ~ U(0,1) (Pareto draws with
 *   shape `exponent`, default 1.5, as in the power-law sizes of FedProx,
 *   arXiv:1812.06127)
 * - `'dirichlet'` sizes ∝ q ~ Dir(alpha·1) (Li et al. arXiv:2102.02079 quantity skew), alpha default 1
 * - `'sizes'`  explicit `sizes` (integers summing to N, or fractions summing to 1)
 *
 * Deterministic schemes round like Flower (floor, remainder to the last site;
 * an error if a site would be empty). Random schemes give each site
 * `minSize` (default 1) units first and share the rest proportionally
 * (largest remainder) — departure: Flower has no random size schemes.
 * Units go to sites as consecutive chunks of a random permutation
 * (`shuffle: false`: of the dataset order, as Flower).
 */
import type { Rng } from '../util/rng';
import { BasePartitionOptions, Partitioner, UnitInput, requireInt, requirePositive } from './base';
import { largestRemainder, resolveSizes, validateSizes } from './sizes';

/** Size scheme names. */
export type QuantityScheme = 'linear' | 'square' | 'exponential' | 'power-law' | 'dirichlet' | 'sizes';

/** Options of {@link QuantityPartitioner}. */
export interface QuantityOptions extends BasePartitionOptions {
  /** Size scheme (default 'power-law'). */
  scheme?: QuantityScheme;
  /** Number of sites (required unless scheme 'sizes'). */
  sites?: number;
  /** Pareto shape for 'power-law' (default 1.5). */
  exponent?: number;
  /** Concentration for 'dirichlet' (default 1). */
  alpha?: number;
  /** Explicit sizes for 'sizes'. */
  sizes?: readonly number[];
  /** Minimum units per site for random schemes (default 1). */
  minSize?: number;
}

const SCHEMES: readonly QuantityScheme[] = ['linear', 'square', 'exponential', 'power-law', 'dirichlet', 'sizes'];

/** Sites of different sizes, labels untouched. */
export class QuantityPartitioner extends Partitioner {
  readonly scheme = 'quantity';
  readonly sizeScheme: QuantityScheme;
  readonly numSites: number;
  readonly exponent: number;
  readonly alpha: number;
  readonly sizes?: readonly number[];
  readonly minSize: number;
  /** Site sizes (in units) of the last `assign`. */
  lastSizes: number[] = [];

  constructor(opts: QuantityOptions) {
    super(opts);
    const o = 'QuantityPartitioner';
    const scheme = opts.scheme ?? 'power-law';
    if (!SCHEMES.includes(scheme)) throw new Error(`${o}: unknown scheme '${String(scheme)}' (valid: ${SCHEMES.join(', ')})`);
    this.sizeScheme = scheme;
    if (scheme === 'sizes') {
      this.sizes = validateSizes(o, opts.sizes);
      if (opts.sites !== undefined && opts.sites !== this.sizes.length) {
        throw new Error(`${o}: sites=${opts.sites} but sizes has ${this.sizes.length} entries`);
      }
      this.numSites = this.sizes.length;
    } else {
      this.numSites = requireInt(o, 'sites', opts.sites, 1);
    }
    this.exponent = requirePositive(o, 'exponent', opts.exponent ?? 1.5);
    this.alpha = requirePositive(o, 'alpha', opts.alpha ?? 1);
    this.minSize = requireInt(o, 'minSize', opts.minSize ?? 1, 0);
  }

  /** Site sizes for `n` units (drawn with `rng` for the random schemes). */
  siteSizes(n: number, rng: Rng): number[] {
    const o = 'QuantityPartitioner';
    const S = this.numSites;
    const what = this.groupBy ? 'groups' : 'samples';
    if (this.sizeScheme === 'sizes') return resolveSizes(o, this.sizes!, n, what);
    if (S > n) throw new Error(`${o}: ${S} sites requested but only ${n} ${what}`);
    const ids = Array.from({ length: S }, (_, i) => i + 1);
    if (this.sizeScheme === 'linear' || this.sizeScheme === 'square' || this.sizeScheme === 'exponential') {
      const w = ids.map((i) => (this.sizeScheme === 'linear' ? i : this.sizeScheme === 'square' ? i * i : Math.exp(i)));
      const tot = w.reduce((a, b) => a + b, 0);
      const sizes = w.map((x) => Math.floor((x / tot) * n));
      sizes[S - 1] += n - sizes.reduce((a, b) => a + b, 0);
      const bad = sizes.findIndex((s) => s < 1);
      if (bad >= 0) {
        throw new Error(`${o}: scheme '${this.sizeScheme}' with ${S} sites over ${n} ${what} leaves site ${bad} empty; use fewer sites`);
      }
      return sizes;
    }
    if (this.minSize * S > n) throw new Error(`${o}: minSize=${this.minSize} x ${S} sites exceeds the ${n} ${what}`);
    const w =
      this.sizeScheme === 'dirichlet'
        ? rng.dirichlet(new Array(S).fill(this.alpha))
        : ids.map(() => Math.pow(1 - rng.next(), -1 / this.exponent));
    const rest = largestRemainder(w, n - this.minSize * S);
    return rest.map((r) => r + this.minSize);
  }

  protected assignUnits(units: UnitInput, rng: Rng): number[][] {
    const sizes = this.siteSizes(units.n, rng.fork('sizes'));
    this.lastSizes = sizes.slice();
    const order = this.shuffle ? rng.permutation(units.n) : Array.from({ length: units.n }, (_, i) => i);
    const out: number[][] = [];
    let at = 0;
    for (const s of sizes) {
      out.push(order.slice(at, at + s));
      at += s;
    }
    return out;
  }
}

/** Create a {@link QuantityPartitioner}. */
export function quantity(opts: QuantityOptions): QuantityPartitioner {
  return new QuantityPartitioner(opts);
}
