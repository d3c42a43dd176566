/**
 * Per-image, per-class confusion statistics (tp, fp, fn, tn) for segmentation
 * class maps, and helpers that turn network probabilities into class maps.
 *
 * Everything here is pure JavaScript on typed arrays (no tfjs): predictions
 * are read back from the model once per batch (`await t.data()`) and the
 * counts are accumulated as plain numbers, which is what the cumulative
 * wrapper keeps (never the images). Modelled on MONAI
 * `monai.metrics.get_confusion_matrix` (one-vs-rest counts per class).
 */

/** A class map: integer class ids, row-major `[H, W]` or `[N, H, W]` (0 = background). */
export type ClassMap = ArrayLike<number>;

/**
 * Confusion counts of `numImages` images x `numClasses` classes, one-vs-rest
 * per class. Each array is row-major `[numImages, numClasses]`
 * (index `n * numClasses + c`). Counts are held as float64 so pooled sums
 * stay exact far beyond 2^32 pixels.
 */
export interface ConfusionStats {
  readonly numImages: number;
  readonly numClasses: number;
  /** Pixels of class c predicted as c. */
  readonly tp: Float64Array;
  /** Pixels predicted as c whose ground truth is another class. */
  readonly fp: Float64Array;
  /** Pixels of class c predicted as another class. */
  readonly fn: Float64Array;
  /** Pixels neither labelled nor predicted as c. */
  readonly tn: Float64Array;
  /** Counted pixels per image, `[numImages]` (pixels equal to `ignoreIndex` are not counted). */
  readonly pixels: Float64Array;
}

/** Options of {@link confusionStats}. */
export interface ConfusionOptions {
  /**
   * Number of classes including background (class 0). A binary mask has
   * `numClasses: 2` (0 = background, 1 = foreground). Must be >= 2.
   */
  numClasses: number;
  /**
   * Shape of a single flat class map: `[H, W]` (one image) or `[N, H, W]`
   * (a batch). Default: one image of `pred.length` pixels. Ignored when
   * `pred`/`truth` are arrays of per-image maps.
   */
  shape?: readonly number[];
  /**
   * Ground-truth value marking pixels to skip (e.g. 255 for "unlabelled").
   * Default: none. Such pixels count in no cell; predictions are not checked there.
   */
  ignoreIndex?: number;
}

/** Zero-filled {@link ConfusionStats} of the given size. */
export function emptyConfusionStats(numImages: number, numClasses: number): ConfusionStats {
  const n = numImages * numClasses;
  return {
    numImages,
    numClasses,
    tp: new Float64Array(n),
    fp: new Float64Array(n),
    fn: new Float64Array(n),
    tn: new Float64Array(n),
    pixels: new Float64Array(numImages),
  };
}

function checkNumClasses(numClasses: number, where: string): void {
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new Error(
      `${where}: numClasses must be an integer >= 2 (class ids including background 0; binary = 2), got ${numClasses}`,
    );
  }
}

function isMapList(x: ClassMap | readonly ClassMap[]): x is readonly ClassMap[] {
  return Array.isArray(x) && (x.length === 0 || typeof x[0] !== 'number');
}

/**
 * Count one image's pixels into row `n` of `out`.
 * Throws on class ids outside `[0, numClasses)` (naming the pixel and value).
 */
function countImage(
  pred: ClassMap,
  truth: ClassMap,
  offset: number,
  size: number,
  n: number,
  out: ConfusionStats,
  ignoreIndex: number | undefined,
): void {
  const K = out.numClasses;
  // Joint histogram truth x pred for this image, then one-vs-rest counts.
  const joint = new Float64Array(K * K);
  let counted = 0;
  for (let i = 0; i < size; i++) {
    const t = truth[offset + i];
    if (ignoreIndex !== undefined && t === ignoreIndex) continue;
    const p = pred[offset + i];
    if (!(t >= 0 && t < K && Number.isInteger(t))) {
      throw new RangeError(
        `confusionStats: ground truth of image ${n}, pixel ${i} is ${t}; expected an integer class id in [0, ${K})`,
      );
    }
    if (!(p >= 0 && p < K && Number.isInteger(p))) {
      throw new RangeError(
        `confusionStats: prediction of image ${n}, pixel ${i} is ${p}; expected an integer class id in [0, ${K})`,
      );
    }
    joint[t * K + p] += 1;
    counted++;
  }
  out.pixels[n] = counted;
  for (let c = 0; c < K; c++) {
    const tp = joint[c * K + c];
    let rowSum = 0; // truth == c
    let colSum = 0; // pred == c
    for (let j = 0; j < K; j++) {
      rowSum += joint[c * K + j];
      colSum += joint[j * K + c];
    }
    const idx = n * K + c;
    out.tp[idx] = tp;
    out.fn[idx] = rowSum - tp;
    out.fp[idx] = colSum - tp;
    out.tn[idx] = counted - rowSum - colSum + tp;
  }
}

/**
 * Per-image, per-class confusion counts of predicted vs ground-truth class maps.
 *
 * Inputs are either two flat class maps of shape `options.shape`
 * (`[H, W]` or `[N, H, W]`, row-major) or two equally long lists of per-image
 * maps (each `[H, W]`; sizes may differ between images but not within a pair).
 *
 * @returns counts `[N, numClasses]`; class c is counted one-vs-rest.
 * @throws when lengths/shapes disagree or a class id is out of range.
 */
export function confusionStats(
  pred: ClassMap | readonly ClassMap[],
  truth: ClassMap | readonly ClassMap[],
  options: ConfusionOptions,
): ConfusionStats {
  const K = options.numClasses;
  checkNumClasses(K, 'confusionStats');
  const predList = isMapList(pred);
  const truthList = isMapList(truth);
  if (predList !== truthList) {
    throw new TypeError('confusionStats: pred and truth must both be flat class maps or both be lists of per-image maps');
  }
  if (predList) {
    const ps = pred as readonly ClassMap[];
    const ts = truth as readonly ClassMap[];
    if (ps.length !== ts.length) {
      throw new RangeError(`confusionStats: ${ps.length} predicted maps but ${ts.length} ground-truth maps`);
    }
    const out = emptyConfusionStats(ps.length, K);
    for (let n = 0; n < ps.length; n++) {
      if (ps[n].length !== ts[n].length) {
        throw new RangeError(
          `confusionStats: image ${n} has ${ps[n].length} predicted pixels but ${ts[n].length} ground-truth pixels`,
        );
      }
      countImage(ps[n], ts[n], 0, ps[n].length, n, out, options.ignoreIndex);
    }
    return out;
  }
  const p = pred as ClassMap;
  const t = truth as ClassMap;
  if (p.length !== t.length) {
    throw new RangeError(`confusionStats: pred has ${p.length} pixels but truth has ${t.length}`);
  }
  let numImages = 1;
  if (options.shape !== undefined) {
    const s = options.shape;
    if ((s.length !== 2 && s.length !== 3) || s.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new RangeError(`confusionStats: shape must be [H, W] or [N, H, W] of non-negative integers, got [${s.join(', ')}]`);
    }
    const total = s.reduce((a, b) => a * b, 1);
    if (total !== p.length) {
      throw new RangeError(`confusionStats: shape [${s.join(', ')}] holds ${total} pixels but the maps have ${p.length}`);
    }
    numImages = s.length === 3 ? s[0] : 1;
  }
  const out = emptyConfusionStats(numImages, K);
  const size = numImages === 0 ? 0 : p.length / numImages;
  for (let n = 0; n < numImages; n++) countImage(p, t, n * size, size, n, out, options.ignoreIndex);
  return out;
}

/**
 * Concatenate confusion stats along the image axis (same `numClasses`).
 * Returns fresh arrays; the inputs are not modified.
 */
export function concatConfusionStats(parts: readonly ConfusionStats[], numClasses?: number): ConfusionStats {
  const K = numClasses ?? (parts.length > 0 ? parts[0].numClasses : NaN);
  if (!Number.isInteger(K)) throw new Error('concatConfusionStats: no parts and no numClasses given');
  let N = 0;
  for (const p of parts) {
    if (p.numClasses !== K) {
      throw new RangeError(`concatConfusionStats: a part has numClasses ${p.numClasses}, expected ${K}`);
    }
    N += p.numImages;
  }
  const out = emptyConfusionStats(N, K);
  let at = 0;
  for (const p of parts) {
    out.tp.set(p.tp, at * K);
    out.fp.set(p.fp, at * K);
    out.fn.set(p.fn, at * K);
    out.tn.set(p.tn, at * K);
    out.pixels.set(p.pixels, at);
    at += p.numImages;
  }
  return out;
}

/** Sum the counts over all images: a `[1, numClasses]` stats object (the "pooled" dataset counts). */
export function poolConfusionStats(stats: ConfusionStats): ConfusionStats {
  const K = stats.numClasses;
  const out = emptyConfusionStats(1, K);
  for (let n = 0; n < stats.numImages; n++) {
    out.pixels[0] += stats.pixels[n];
    for (let c = 0; c < K; c++) {
      const i = n * K + c;
      out.tp[c] += stats.tp[i];
      out.fp[c] += stats.fp[i];
      out.fn[c] += stats.fn[i];
      out.tn[c] += stats.tn[i];
    }
  }
  return out;
}

/** Options of {@link probabilitiesToClassMap}. */
export interface ToClassMapOptions {
  /**
   * Threshold for a single-channel (sigmoid) output: a pixel is foreground
   * (class 1) when `p >= threshold` (MONAI `AsDiscrete(threshold=...)` convention).
   * Default 0.5. Pass 0 when the values are logits.
   */
  threshold?: number;
}

function channelsOf(shape: readonly number[], length: number, where: string): number {
  if (shape.length !== 3 && shape.length !== 4) {
    throw new RangeError(`${where}: shape must be [N, H, W] or [N, H, W, K], got [${shape.join(', ')}]`);
  }
  const total = shape.reduce((a, b) => a * b, 1);
  if (total !== length) {
    throw new RangeError(`${where}: shape [${shape.join(', ')}] holds ${total} values but the array has ${length}`);
  }
  return shape.length === 4 ? shape[3] : 1;
}

/**
 * Binarise single-channel probabilities: `p >= threshold` -> 1, else 0.
 * @param probs Float32Array NHWC `[N, H, W, 1]` (or `[N, H, W]`), sigmoid outputs.
 * @returns Uint8Array class map `[N, H, W]` with ids {0, 1}.
 */
export function thresholdToClassMap(
  probs: ArrayLike<number>,
  shape: readonly number[],
  threshold = 0.5,
): Uint8Array {
  const K = channelsOf(shape, probs.length, 'thresholdToClassMap');
  if (K !== 1) throw new RangeError(`thresholdToClassMap: expected one channel, got K = ${K}; use argmaxToClassMap`);
  const out = new Uint8Array(probs.length);
  for (let i = 0; i < probs.length; i++) out[i] = probs[i] >= threshold ? 1 : 0;
  return out;
}

/**
 * Per-pixel argmax over the channel axis (ties go to the lowest class id, as numpy/tfjs argmax).
 * @param probs Float32Array NHWC `[N, H, W, K]`, softmax outputs or logits (argmax is the same).
 * @returns Uint8Array class map `[N, H, W]`. K must be <= 256.
 */
export function argmaxToClassMap(probs: ArrayLike<number>, shape: readonly number[]): Uint8Array {
  const K = channelsOf(shape, probs.length, 'argmaxToClassMap');
  if (K < 1 || K > 256) throw new RangeError(`argmaxToClassMap: K must be in [1, 256] for a Uint8Array map, got ${K}`);
  const P = probs.length / K;
  const out = new Uint8Array(P);
  for (let i = 0; i < P; i++) {
    const base = i * K;
    let best = 0;
    let bestV = probs[base];
    for (let k = 1; k < K; k++) {
      const v = probs[base + k];
      if (v > bestV) {
        bestV = v;
        best = k;
      }
    }
    out[i] = best;
  }
  return out;
}

/**
 * Turn network outputs into a class map: threshold when there is one channel
 * (sigmoid, binary -> ids {0, 1}), argmax over channels otherwise (softmax).
 * @param probs Float32Array NHWC `[N, H, W, K]`.
 * @returns Uint8Array `[N, H, W]`; pair it with `numClasses = max(K, 2)`.
 */
export function probabilitiesToClassMap(
  probs: ArrayLike<number>,
  shape: readonly number[],
  options: ToClassMapOptions = {},
): Uint8Array {
  const K = channelsOf(shape, probs.length, 'probabilitiesToClassMap');
  return K === 1 ? thresholdToClassMap(probs, shape, options.threshold ?? 0.5) : argmaxToClassMap(probs, shape);
}
