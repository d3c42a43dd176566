/**
 * Borderline-SMOTE (Han, Wang & Mao 2005, doi:10.1007/11538059_91),
 * imbalanced-learn `BorderlineSMOTE` semantics. For a class to grow, each of
 * its samples looks at its `m` nearest neighbours among ALL samples; with
 * n_other of them from other classes it is
 * - noise if n_other = m, - danger if m/2 <= n_other < m, - safe otherwise.
 * Only danger samples generate:
 * - `'borderline-1'`: towards one of their k nearest same-class neighbours, step U(0, 1);
 * - `'borderline-2'`: a fraction f ~ Beta(10, 10) of the samples as in
 *   borderline-1, the rest towards one of their k nearest OTHER-class samples
 *   with step U(0, 0.5) (the new point stays closer to the danger sample).
 * A class without danger samples gets no new samples (as imblearn), so its
 * requested count is then not reached; `skipped` lists such classes.
 * Defaults: k = 5, m = 10, kind 'borderline-1', seed 42.
 * Departures from imblearn's code: borderline-2's other-class part searches
 * the k nearest other-class samples (imblearn reuses the same-class neighbour
 * table to index other-class rows); the split is round(f · n) / rest so the
 * total is exactly n (imblearn floors both parts).
 */
import { createRng } from '../util/rng';
import {
  FeatureMatrix,
  OversampleResult,
  Provenance,
  SamplingStrategy,
  checkLabels,
  finish,
  kNearest,
  requireK,
  samplesToGenerate,
  toRows,
  validateStrategy,
} from './common';
import { makeSamples } from './smote';

/** Options of {@link borderlineSmote}. */
export interface BorderlineSmoteOptions {
  samplingStrategy?: SamplingStrategy;
  /** Neighbours used for interpolation (default 5). */
  k?: number;
  /** Neighbours used to classify a sample as danger / noise / safe (default 10). */
  m?: number;
  /** Default 'borderline-1'. */
  kind?: 'borderline-1' | 'borderline-2';
  /** Default 42. */
  seed?: number;
}

/** Borderline-SMOTE result: also the danger samples per class and classes that got nothing. */
export interface BorderlineSmoteResult extends OversampleResult {
  /** Danger sample indices per grown class. */
  danger: Record<number, number[]>;
  /** Classes that needed samples but had no danger samples. */
  skipped: number[];
}

/** Indices of `pool` in danger (m/2 <= other-class neighbours < m). */
export function dangerSamples(rows: readonly Float32Array[], y: readonly number[], cls: number, m: number): number[] {
  const all = rows.map((_, i) => i);
  return y.flatMap((l, i) => {
    if (l !== cls) return [];
    const nn = kNearest(rows, i, all, m);
    const other = nn.filter((j) => y[j] !== cls).length;
    return other >= m / 2 && other < m ? [i] : [];
  });
}

/** Borderline-SMOTE over feature vectors. */
export function borderlineSmote(x: FeatureMatrix, y: readonly number[], opts: BorderlineSmoteOptions = {}): BorderlineSmoteResult {
  const o = 'borderlineSmote';
  validateStrategy(o, opts.samplingStrategy);
  const k = requireK(o, 'k', opts.k ?? 5);
  const m = requireK(o, 'm', opts.m ?? 10);
  const kind = opts.kind ?? 'borderline-1';
  if (kind !== 'borderline-1' && kind !== 'borderline-2') throw new Error(`${o}: 'kind' must be 'borderline-1' or 'borderline-2', got ${String(kind)}`);
  const rows = toRows(o, x);
  checkLabels(o, rows, y);
  if (rows.length <= m) throw new Error(`${o}: m=${m} neighbours need more than ${m} samples, got ${rows.length}`);
  const rng = createRng(opts.seed ?? 42);
  const need = samplesToGenerate(o, y, opts.samplingStrategy);
  const out = { samples: [] as Float32Array[], labels: [] as number[], provenance: [] as Provenance[] };
  const danger: Record<number, number[]> = {};
  const skipped: number[] = [];
  for (const [c, n] of [...need.entries()].sort((a, b) => a[0] - b[0])) {
    if (n === 0) continue;
    const pool = y.flatMap((l, i) => (l === c ? [i] : []));
    if (pool.length <= k) throw new Error(`${o}: class ${c} has ${pool.length} samples; k=${k} neighbours need at least ${k + 1}`);
    const d = dangerSamples(rows, y, c, m);
    danger[c] = d;
    if (d.length === 0) {
      skipped.push(c);
      continue;
    }
    const same = new Map(d.map((i) => [i, kNearest(rows, i, pool, k)] as const));
    if (kind === 'borderline-1') {
      makeSamples(rows, d, same, n, c, rng, 1, out);
    } else {
      const others = y.flatMap((l, i) => (l !== c ? [i] : []));
      const g1 = rng.gamma(10);
      const g2 = rng.gamma(10);
      const n1 = Math.round((g1 / (g1 + g2)) * n);
      makeSamples(rows, d, same, n1, c, rng, 1, out);
      const diff = new Map(d.map((i) => [i, kNearest(rows, i, others, k)] as const));
      makeSamples(rows, d, diff, n - n1, c, rng, 0.5, out);
    }
  }
  return { ...finish(y, out.samples, out.labels, out.provenance), danger, skipped };
}
