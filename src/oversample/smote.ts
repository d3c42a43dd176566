/**
 * SMOTE (Chawla et al. 2002, arXiv:1106.1813), imbalanced-learn `SMOTE`
 * semantics: for each class to grow, pick a random sample of that class and
 * one of its `k` nearest same-class neighbours (Euclidean), and place the new
 * sample at a uniform random point of the segment between them.
 * Defaults: k = 5, samplingStrategy 'auto', seed 42.
 * A class with <= k samples is an error (as sklearn's NearestNeighbors).
 * Neighbour ties are broken by index; the query is excluded by index.
 */
import { createRng } from '../util/rng';
import type { Rng } from '../util/rng';
import {
  FeatureMatrix,
  OversampleResult,
  Provenance,
  SamplingStrategy,
  checkLabels,
  finish,
  interpolate,
  kNearest,
  requireK,
  samplesToGenerate,
  toRows,
  validateStrategy,
} from './common';

/** Options of {@link smote}. */
export interface SmoteOptions {
  /** Default 'auto' (= 'not majority'). */
  samplingStrategy?: SamplingStrategy;
  /** Same-class neighbours to interpolate towards (default 5). */
  k?: number;
  /** Default 42. */
  seed?: number;
}

/**
 * Generate `n` samples from `sources` (indices into rows), each towards a
 * random one of its neighbours `nn[source]`, with step = stepSize · U(0, 1).
 */
export function makeSamples(
  rows: readonly Float32Array[],
  sources: readonly number[],
  nn: ReadonlyMap<number, readonly number[]>,
  n: number,
  label: number,
  rng: Rng,
  stepSize = 1,
  out: { samples: Float32Array[]; labels: number[]; provenance: Provenance[] },
): void {
  for (let t = 0; t < n; t++) {
    const i = sources[rng.int(sources.length)];
    const neigh = nn.get(i)!;
    const j = neigh[rng.int(neigh.length)];
    const lambda = stepSize * rng.next();
    out.samples.push(interpolate(rows[i], rows[j], lambda));
    out.labels.push(label);
    out.provenance.push({ source: i, neighbor: j, lambda });
  }
}

/** SMOTE over feature vectors. */
export function smote(x: FeatureMatrix, y: readonly number[], opts: SmoteOptions = {}): OversampleResult {
  const o = 'smote';
  validateStrategy(o, opts.samplingStrategy);
  const k = requireK(o, 'k', opts.k ?? 5);
  const rows = toRows(o, x);
  checkLabels(o, rows, y);
  const rng = createRng(opts.seed ?? 42);
  const need = samplesToGenerate(o, y, opts.samplingStrategy);
  const out = { samples: [] as Float32Array[], labels: [] as number[], provenance: [] as Provenance[] };
  for (const [c, n] of [...need.entries()].sort((a, b) => a[0] - b[0])) {
    if (n === 0) continue;
    const pool = y.flatMap((l, i) => (l === c ? [i] : []));
    if (pool.length <= k) {
      throw new Error(`${o}: class ${c} has ${pool.length} samples; k=${k} neighbours need at least ${k + 1} (lower k)`);
    }
    const nn = new Map(pool.map((i) => [i, kNearest(rows, i, pool, k)] as const));
    makeSamples(rows, pool, nn, n, c, rng, 1, out);
  }
  return finish(y, out.samples, out.labels, out.provenance);
}
