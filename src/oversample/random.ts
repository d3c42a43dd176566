/**
 * Random over-sampling with replacement (imbalanced-learn `RandomOverSampler`),
 * optionally with a smoothed bootstrap (`shrinkage`, imblearn >= 0.8; Menardi &
 * Torelli 2014): Gaussian noise of std shrinkage · σ_j · (4 / ((d + 2) · n))^(1/(d + 4))
 * per feature j, σ_j the class's feature std, n its size.
 */
import { createRng } from '../util/rng';
import {
  FeatureMatrix,
  OversampleResult,
  Provenance,
  SamplingStrategy,
  checkLabels,
  finish,
  samplesToGenerate,
  toRows,
  validateStrategy,
} from './common';

/** Options of {@link randomOverSampler}. */
export interface RandomOverSamplerOptions {
  /** Default 'auto' (= 'not majority'). */
  samplingStrategy?: SamplingStrategy;
  /** Default 42. */
  seed?: number;
  /** Smoothed-bootstrap factor >= 0 (default 0 = plain copies). */
  shrinkage?: number;
}

/** Duplicate random samples of the classes to grow. Provenance: neighbor = source, lambda = 0. */
export function randomOverSampler(x: FeatureMatrix, y: readonly number[], opts: RandomOverSamplerOptions = {}): OversampleResult {
  const o = 'randomOverSampler';
  validateStrategy(o, opts.samplingStrategy);
  const shrink = opts.shrinkage ?? 0;
  if (!(shrink >= 0) || !Number.isFinite(shrink)) throw new Error(`${o}: 'shrinkage' must be a finite number >= 0, got ${shrink}`);
  const rows = toRows(o, x);
  checkLabels(o, rows, y);
  const rng = createRng(opts.seed ?? 42);
  const need = samplesToGenerate(o, y, opts.samplingStrategy);
  const samples: Float32Array[] = [];
  const labels: number[] = [];
  const prov: Provenance[] = [];
  const d = rows[0].length;
  for (const [c, n] of [...need.entries()].sort((a, b) => a[0] - b[0])) {
    if (n === 0) continue;
    const pool = y.flatMap((l, i) => (l === c ? [i] : []));
    let scale: Float64Array | null = null;
    if (shrink > 0) {
      const m = pool.length;
      const mean = new Float64Array(d);
      for (const i of pool) for (let j = 0; j < d; j++) mean[j] += rows[i][j] / m;
      scale = new Float64Array(d);
      for (const i of pool) for (let j = 0; j < d; j++) scale[j] += (rows[i][j] - mean[j]) ** 2 / Math.max(1, m - 1);
      const h = shrink * Math.pow(4 / ((d + 2) * m), 1 / (d + 4));
      for (let j = 0; j < d; j++) scale[j] = Math.sqrt(scale[j]) * h;
    }
    for (let t = 0; t < n; t++) {
      const i = pool[rng.int(pool.length)];
      const s = Float32Array.from(rows[i]);
      if (scale) for (let j = 0; j < d; j++) s[j] += rng.normal(0, scale[j]);
      samples.push(s);
      labels.push(c);
      prov.push({ source: i, neighbor: i, lambda: 0 });
    }
  }
  return finish(y, samples, labels, prov);
}
