/**
 * Shared pieces of the oversamplers: feature-matrix input, sampling
 * strategies (imbalanced-learn semantics), result/provenance types and a
 * brute-force k-nearest-neighbour search.
 */

/**
 * Feature vectors: an array of rows (e.g. flattened `[H, W, C]` images or
 * embeddings), or a flat row-major matrix `{ data, rows, cols }`.
 */
export type FeatureMatrix = readonly Float32Array[] | { readonly data: Float32Array; readonly rows: number; readonly cols: number };

/**
 * Which classes to oversample and to how many samples (imbalanced-learn
 * `sampling_strategy` for over-samplers):
 * - `'minority'`: only the minority class, up to the majority count;
 * - `'not minority'`: every class but the minority, up to the majority count;
 * - `'not majority'` (= `'auto'`, the default): every class but the majority;
 * - `'all'`: every class up to the majority count;
 * - a number r in (0, 1] (binary labels only): the minority class is grown to
 *   floor(r · N_majority) samples (r = N_minority / N_majority after resampling);
 * - `{ [class]: targetCount }`: final count per listed class (>= its current count).
 * Ties for minority / majority go to the smallest class id (as imblearn's sorted counts).
 */
export type SamplingStrategy = 'minority' | 'not minority' | 'not majority' | 'all' | 'auto' | number | Readonly<Record<number, number>>;

/**
 * Where a synthetic sample comes from: `x_new = x[source] + lambda · (x[neighbor] − x[source])`
 * (indices into the input rows). Random oversampling: neighbor = source, lambda = 0.
 */
export interface Provenance {
  source: number;
  neighbor: number;
  lambda: number;
}

/** New samples (never the originals), their labels and provenance. */
export interface OversampleResult {
  samples: Float32Array[];
  labels: number[];
  provenance: Provenance[];
  /** Class counts before and after adding `samples`. */
  counts: { before: Record<number, number>; after: Record<number, number> };
}

/** Rows of a feature matrix as views (no copy for the flat form). */
export function toRows(owner: string, x: FeatureMatrix): Float32Array[] {
  let rows: Float32Array[];
  if (Array.isArray(x)) rows = (x as readonly Float32Array[]).slice();
  else {
    const m = x as { data: Float32Array; rows: number; cols: number };
    if (!Number.isInteger(m.rows) || !Number.isInteger(m.cols) || m.rows * m.cols !== m.data.length) {
      throw new Error(`${owner}: flat matrix data has ${m.data.length} values, expected rows x cols = ${m.rows} x ${m.cols}`);
    }
    rows = Array.from({ length: m.rows }, (_, i) => m.data.subarray(i * m.cols, (i + 1) * m.cols));
  }
  if (rows.length > 0) {
    const d = rows[0].length;
    rows.forEach((r, i) => {
      if (r.length !== d) throw new Error(`${owner}: row ${i} has ${r.length} features, row 0 has ${d}`);
    });
  }
  return rows;
}

/** Check labels against rows. */
export function checkLabels(owner: string, rows: readonly Float32Array[], y: readonly number[]): void {
  if (y.length !== rows.length) throw new Error(`${owner}: ${y.length} labels for ${rows.length} feature rows`);
  y.forEach((l, i) => {
    if (!Number.isInteger(l) || l < 0) throw new Error(`${owner}: label ${i} must be an integer >= 0, got ${l}`);
  });
  if (rows.length === 0) throw new Error(`${owner}: no samples`);
}

/** Class -> count (keys sorted ascending when iterated via {@link sortedClasses}). */
export function classCounts(y: readonly number[]): Record<number, number> {
  const c: Record<number, number> = {};
  for (const l of y) c[l] = (c[l] ?? 0) + 1;
  return c;
}

/** Distinct classes ascending. */
export function sortedClasses(counts: Record<number, number>): number[] {
  return Object.keys(counts)
    .map(Number)
    .sort((a, b) => a - b);
}

/** Validate a strategy eagerly (shape only; data-dependent checks happen in {@link samplesToGenerate}). */
export function validateStrategy(owner: string, s: SamplingStrategy | undefined): void {
  if (s === undefined) return;
  if (typeof s === 'string') {
    if (!['minority', 'not minority', 'not majority', 'all', 'auto'].includes(s)) {
      throw new Error(`${owner}: unknown samplingStrategy '${s}' (valid: minority, not minority, not majority, all, auto, a ratio in (0, 1], or { class: count })`);
    }
  } else if (typeof s === 'number') {
    if (!(s > 0 && s <= 1)) throw new Error(`${owner}: a ratio samplingStrategy must be in (0, 1], got ${s}`);
  } else if (s && typeof s === 'object') {
    for (const [k, v] of Object.entries(s)) {
      if (!Number.isInteger(Number(k)) || !Number.isInteger(v) || v < 0) {
        throw new Error(`${owner}: samplingStrategy entry ${k}: ${v} must map a class id to an integer count >= 0`);
      }
    }
  } else throw new Error(`${owner}: invalid samplingStrategy ${String(s)}`);
}

/** Number of samples to generate per class (class -> n >= 0), following imbalanced-learn. */
export function samplesToGenerate(owner: string, y: readonly number[], strategy: SamplingStrategy = 'auto'): Map<number, number> {
  validateStrategy(owner, strategy);
  const counts = classCounts(y);
  const classes = sortedClasses(counts);
  let majority = classes[0];
  let minority = classes[0];
  for (const c of classes) {
    if (counts[c] > counts[majority]) majority = c;
    if (counts[c] < counts[minority]) minority = c;
  }
  const nMaj = counts[majority];
  const out = new Map<number, number>();
  if (typeof strategy === 'string') {
    const pick =
      strategy === 'minority'
        ? [minority]
        : strategy === 'not minority'
          ? classes.filter((c) => c !== minority)
          : strategy === 'all'
            ? classes
            : classes.filter((c) => c !== majority);
    for (const c of pick) out.set(c, nMaj - counts[c]);
  } else if (typeof strategy === 'number') {
    if (classes.length !== 2) throw new Error(`${owner}: a ratio samplingStrategy needs binary labels, got ${classes.length} classes`);
    for (const c of classes) {
      if (c === majority) continue;
      const n = Math.floor(nMaj * strategy) - counts[c];
      if (n < 0) {
        throw new Error(`${owner}: ratio ${strategy} asks for ${Math.floor(nMaj * strategy)} samples of class ${c}, fewer than its ${counts[c]}; increase the ratio`);
      }
      out.set(c, n);
    }
  } else {
    for (const [k, v] of Object.entries(strategy)) {
      const c = Number(k);
      if (!(c in counts)) throw new Error(`${owner}: samplingStrategy class ${c} is not present in the labels (classes: ${classes.join(', ')})`);
      if (v < counts[c]) throw new Error(`${owner}: class ${c} has ${counts[c]} samples but ${v} were requested; oversampling cannot remove samples`);
      out.set(c, v - counts[c]);
    }
  }
  return out;
}

/** Squared Euclidean distance. */
export function sqDist(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return s;
}

/**
 * The `k` nearest of `pool` (indices into `rows`) to `rows[query]`, nearest
 * first, ties by index; `query` itself is excluded by index (duplicates of it are kept).
 */
export function kNearest(rows: readonly Float32Array[], query: number, pool: readonly number[], k: number): number[] {
  const cand: [number, number][] = [];
  for (const j of pool) if (j !== query) cand.push([sqDist(rows[query], rows[j]), j]);
  cand.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return cand.slice(0, k).map((c) => c[1]);
}

/** `x[a] + lambda · (x[b] − x[a])`. */
export function interpolate(a: Float32Array, b: Float32Array, lambda: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + lambda * (b[i] - a[i]);
  return out;
}

/** Assemble a result and its before/after counts. */
export function finish(y: readonly number[], samples: Float32Array[], labels: number[], provenance: Provenance[]): OversampleResult {
  const before = classCounts(y);
  const after = { ...before };
  for (const l of labels) after[l] = (after[l] ?? 0) + 1;
  return { samples, labels, provenance, counts: { before, after } };
}

/** Originals followed by the new samples (imblearn `fit_resample` output). */
export function resampled(x: FeatureMatrix, y: readonly number[], res: OversampleResult): { features: Float32Array[]; labels: number[] } {
  return { features: [...toRows('resampled', x), ...res.samples], labels: [...y, ...res.labels] };
}

/** Check an integer k >= 1. */
export function requireK(owner: string, name: string, k: unknown): number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) throw new Error(`${owner}: '${name}' must be an integer >= 1, got ${String(k)}`);
  return k;
}
