/**
 * IID partitioner: every site gets an (almost) equal, uniformly random share.
 * Flower Datasets `IidPartitioner` semantics (array_split into `sites` chunks,
 * sizes differing by at most one unit).
 * Departure: Flower cuts contiguous shards of an (optionally pre-shuffled)
 * dataset; here `shuffle: true` (default) permutes the units first, `false`
 * reproduces contiguous chunks.
 */
import type { Rng } from '../util/rng';
import { BasePartitionOptions, Partitioner, UnitInput, arraySplit, requireInt } from './base';

/** Options of {@link IidPartitioner}. */
export interface IidOptions extends BasePartitionOptions {
  /** Number of sites (>= 1). */
  sites: number;
}

/** Uniform random split into `sites` equal parts. */
export class IidPartitioner extends Partitioner {
  readonly scheme = 'iid';
  readonly numSites: number;

  constructor(opts: IidOptions) {
    super(opts);
    this.numSites = requireInt('IidPartitioner', 'sites', opts.sites, 1);
  }

  protected assignUnits(units: UnitInput, rng: Rng): number[][] {
    if (this.numSites > units.n) {
      throw new Error(`IidPartitioner: ${this.numSites} sites requested but only ${units.n} ${this.groupBy ? 'groups' : 'samples'}`);
    }
    const order = this.shuffle ? rng.permutation(units.n) : Array.from({ length: units.n }, (_, i) => i);
    return arraySplit(order, this.numSites);
  }
}

/** Create an {@link IidPartitioner}. */
export function iid(opts: IidOptions): IidPartitioner {
  return new IidPartitioner(opts);
}
