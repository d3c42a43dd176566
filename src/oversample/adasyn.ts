/**
 * ADASYN (He et al. 2008, doi:10.1109/IJCNN.2008.4633969), imbalanced-learn
 * `ADASYN` semantics: each sample i of a class to grow gets a hardness
 * r_i = (other-class samples among its k nearest neighbours in ALL data) / k;
 * the n samples to generate are shared in proportion to r_i, and each is a
 * SMOTE interpolation towards one of i's k nearest same-class neighbours.
 * Defaults: k = 5, seed 42. Throws when no neighbour of the class is from
 * another class (r sums to 0; use SMOTE), as imblearn.
 * Departure: imblearn rounds r_i·n (np.rint) so the total can miss n; here
 * the largest-remainder rule hands out exactly n (so requested counts are met).
 * `perSource` reports how many samples each source generated.
 */
import { createRng } from '../util/rng';
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

/** Options of {@link adasyn}. */
export interface AdasynOptions {
  samplingStrategy?: SamplingStrategy;
  /** Neighbours for hardness and interpolation (default 5). */
  k?: number;
  /** Default 42. */
  seed?: number;
}

/** ADASYN result: also each source's hardness and number of generated samples. */
export interface AdasynResult extends OversampleResult {
  /** Hardness r_i (fraction of other-class neighbours) per source index. */
  hardness: Record<number, number>;
  /** Samples generated per source index. */
  perSource: Record<number, number>;
}

/** Largest-remainder integer split of n in proportion to w (ties to the lower index). */
function apportion(w: readonly number[], n: number): number[] {
  const tot = w.reduce((a, b) => a + b, 0);
  const exact = w.map((v) => (v / tot) * n);
  const out = exact.map(Math.floor);
  let left = n - out.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let j = 0; left > 0; j = (j + 1) % order.length, left--) out[order[j][1]]++;
  return out;
}

/** ADASYN over feature vectors. */
export function adasyn(x: FeatureMatrix, y: readonly number[], opts: AdasynOptions = {}): AdasynResult {
  const o = 'adasyn';
  validateStrategy(o, opts.samplingStrategy);
  const k = requireK(o, 'k', opts.k ?? 5);
  const rows = toRows(o, x);
  checkLabels(o, rows, y);
  if (rows.length <= k) throw new Error(`${o}: k=${k} neighbours need more than ${k} samples, got ${rows.length}`);
  const rng = createRng(opts.seed ?? 42);
  const need = samplesToGenerate(o, y, opts.samplingStrategy);
  const all = rows.map((_, i) => i);
  const samples: Float32Array[] = [];
  const labels: number[] = [];
  const prov: Provenance[] = [];
  const hardness: Record<number, number> = {};
  const perSource: Record<number, number> = {};
  for (const [c, n] of [...need.entries()].sort((a, b) => a[0] - b[0])) {
    if (n === 0) continue;
    const pool = y.flatMap((l, i) => (l === c ? [i] : []));
    if (pool.length <= k) throw new Error(`${o}: class ${c} has ${pool.length} samples; k=${k} neighbours need at least ${k + 1}`);
    const r = pool.map((i) => kNearest(rows, i, all, k).filter((j) => y[j] !== c).length / k);
    if (!(r.reduce((a, b) => a + b, 0) > 0)) {
      throw new Error(`${o}: no neighbour of class ${c} belongs to another class, so ADASYN weights are undefined; use smote instead`);
    }
    const counts = apportion(r, n);
    pool.forEach((i, t) => {
      hardness[i] = r[t];
      perSource[i] = counts[t];
      if (counts[t] === 0) return;
      const nn = kNearest(rows, i, pool, k);
      for (let s = 0; s < counts[t]; s++) {
        const j = nn[rng.int(k)];
        const lambda = rng.next();
        samples.push(interpolate(rows[i], rows[j], lambda));
        labels.push(c);
        prov.push({ source: i, neighbor: j, lambda });
      }
    });
  }
  return { ...finish(y, samples, labels, prov), hardness, perSource };
}
