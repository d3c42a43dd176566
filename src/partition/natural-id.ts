/**
 * Natural-ID partitioner: sites follow a metadata column (acquisition source
 * `dataset`/`site`, scanner id, body `localization`, ...), as Flower Datasets'
 * `NaturalIdPartitioner` (one site per distinct value) and
 * `GroupedNaturalIdPartitioner` (several values per site).
 *
 * - Without `sites`: one site per distinct value, sites ordered by the value
 *   (natural string order, numbers compared numerically).
 * - With `sites`: the distinct values are dealt to that many sites:
 *   `mode: 'balanced'` (default, deterministic) puts the largest value next onto
 *   the currently smallest site (LPT heuristic); `'random'` shuffles the values
 *   (seeded) and deals them round-robin.
 * Combine with `groupBy: 'lesionId'` to keep HAM10000 lesions whole even when
 * the column could differ inside a lesion (a group takes its majority value).
 * `keys` of the last assignment (the values on each site) are kept in `lastKeys`.
 */
import type { Rng } from '../util/rng';
import { BasePartitionOptions, GroupBy, Partitioner, UnitInput, requireInt } from './base';

/** Options of {@link NaturalIdPartitioner}. */
export interface NaturalIdOptions extends BasePartitionOptions {
  /** Metadata key (e.g. 'dataset', 'site', 'localization', 'scannerId') or a function. */
  column: GroupBy;
  /** Number of sites to pack the values into (default: one site per value). */
  sites?: number;
  /** How values are packed when `sites` is given (default 'balanced'). */
  mode?: 'balanced' | 'random';
}

const collator = new Intl.Collator('en', { numeric: true });

/** Sites defined by a metadata column. */
export class NaturalIdPartitioner extends Partitioner {
  readonly scheme = 'natural-id';
  readonly column: GroupBy;
  readonly numSites?: number;
  readonly mode: 'balanced' | 'random';
  /** Column values held by each site in the last `assign`. */
  lastKeys: string[][] = [];

  constructor(opts: NaturalIdOptions) {
    super(opts);
    const o = 'NaturalIdPartitioner';
    if (typeof opts.column !== 'function' && (typeof opts.column !== 'string' || opts.column.length === 0)) {
      throw new Error(`${o}: 'column' must be a non-empty metadata key or a function`);
    }
    this.column = opts.column;
    if (opts.sites !== undefined) this.numSites = requireInt(o, 'sites', opts.sites, 1);
    const mode = opts.mode ?? 'balanced';
    if (mode !== 'balanced' && mode !== 'random') throw new Error(`${o}: 'mode' must be 'balanced' or 'random', got ${String(mode)}`);
    this.mode = mode;
  }

  protected assignUnits(units: UnitInput, rng: Rng): number[][] {
    const o = 'NaturalIdPartitioner';
    const vals = units.column(this.column);
    const byVal = new Map<string, number[]>();
    vals.forEach((v, u) => {
      let l = byVal.get(v);
      if (!l) byVal.set(v, (l = []));
      l.push(u);
    });
    const keys = Array.from(byVal.keys()).sort(collator.compare);
    const weight = (k: string) => byVal.get(k)!.reduce((s, u) => s + units.sizes[u], 0);
    if (this.numSites === undefined) {
      this.lastKeys = keys.map((k) => [k]);
      return keys.map((k) => byVal.get(k)!.slice());
    }
    const S = this.numSites;
    const colName = typeof this.column === 'string' ? this.column : '<function>';
    if (S > keys.length) throw new Error(`${o}: ${S} sites requested but column '${colName}' has only ${keys.length} distinct values`);
    const siteKeys: string[][] = Array.from({ length: S }, () => []);
    if (this.mode === 'random') {
      rng.shuffle(keys.slice()).forEach((k, j) => siteKeys[j % S].push(k));
    } else {
      const load = new Array(S).fill(0);
      const sorted = keys.slice().sort((a, b) => weight(b) - weight(a) || collator.compare(a, b));
      for (const k of sorted) {
        let s = 0;
        for (let t = 1; t < S; t++) if (load[t] < load[s]) s = t;
        siteKeys[s].push(k);
        load[s] += weight(k);
      }
    }
    this.lastKeys = siteKeys.map((ks) => ks.slice().sort(collator.compare));
    return siteKeys.map((ks) => ks.flatMap((k) => byVal.get(k)!));
  }
}

/** Create a {@link NaturalIdPartitioner}. */
export function naturalId(opts: NaturalIdOptions): NaturalIdPartitioner {
  return new NaturalIdPartitioner(opts);
}
