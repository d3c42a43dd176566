/**
 * Overlap metrics for segmentation computed from confusion counts:
 * Dice, IoU (Jaccard), precision, recall, F1, per-class accuracy, specificity,
 * and overall pixel accuracy, with per-image or pooled reduction.
 *
 * Undefined-case policy (explicit, MONAI `not_nans` style):
 * - A class absent from BOTH ground truth and prediction of an image
 *   (tp = fp = fn = 0) gives NaN for every metric on that image/class: the
 *   pair says nothing about that class. It is excluded from means and the
 *   number of valid values is reported (`validCount`).
 * - Otherwise a metric is NaN exactly when its denominator is zero:
 *   precision when nothing is predicted (tp + fp = 0), recall when the ground
 *   truth is empty (tp + fn = 0), specificity when there are no negatives.
 * - Ground truth empty but prediction not: Dice = IoU = F1 = 0 and
 *   precision = 0 (a real error), recall NaN.
 * - Never a silent 1 or 0 for an undefined case.
 *
 * F1 is computed from counts, 2tp / (2tp + fp + fn), and so equals Dice for
 * pixel sets (it is the harmonic mean of precision and recall whenever both
 * are defined; with an empty prediction it is 0, where the harmonic mean of a
 * NaN precision would be undefined).
 */
import { ClassMap, ConfusionOptions, ConfusionStats, confusionStats, poolConfusionStats } from './confusion';

/** Names of the per-class segmentation metrics. */
export type SegmentationMetricName =
  | 'dice'
  | 'iou'
  | 'precision'
  | 'recall'
  | 'f1'
  | 'accuracy'
  | 'specificity';

/** All per-class metric names, in a fixed order. */
export const SEGMENTATION_METRICS: readonly SegmentationMetricName[] = [
  'dice',
  'iou',
  'precision',
  'recall',
  'f1',
  'accuracy',
  'specificity',
];

/**
 * How scores are reduced over images.
 * - `'mean-image'`: score each image, then average the non-NaN values per class.
 * - `'pooled'`: sum the counts over all images (one big image), then score once.
 * - `'none'`: like `'mean-image'`, and also return the full per-image table.
 */
export type SegmentationReduction = 'mean-image' | 'pooled' | 'none';

/** Options of the segmentation metric reducers. */
export interface SegmentationMetricOptions {
  /**
   * Include class 0 (background) in per-class results and the mean. Default false
   * (so a binary task reports the foreground class only).
   */
  includeBackground?: boolean;
  /** Default `'mean-image'`. */
  reduction?: SegmentationReduction;
}

/** One metric reduced over a set of images. */
export interface SegmentationScore {
  metric: SegmentationMetricName;
  reduction: SegmentationReduction;
  /** Class ids reported, in order (1..K-1, or 0..K-1 with background). */
  classes: number[];
  /** Per-class score, aligned with `classes`; NaN when no image had a defined value. */
  perClass: number[];
  /**
   * Per class, how many values entered `perClass`: the number of images with a
   * defined (non-NaN) score for `'mean-image'`/`'none'`; 1 or 0 for `'pooled'`.
   */
  validCount: number[];
  /** Mean of the non-NaN `perClass` values (macro over classes); NaN when none. */
  mean: number;
  /** Number of classes that entered `mean`. */
  validClasses: number;
  /** `[N][classes.length]` per-image scores (NaN where undefined); only for `'none'`. */
  perImage?: number[][];
}

/**
 * Score one class from its one-vs-rest counts, applying the NaN policy of this module.
 * @returns the metric value in [0, 1], or NaN when undefined.
 */
export function scoreFromCounts(
  metric: SegmentationMetricName,
  tp: number,
  fp: number,
  fn: number,
  tn: number,
): number {
  if (tp + fp + fn === 0) return NaN; // absent from both ground truth and prediction
  const ratio = (num: number, den: number): number => (den === 0 ? NaN : num / den);
  switch (metric) {
    case 'dice':
    case 'f1':
      return ratio(2 * tp, 2 * tp + fp + fn);
    case 'iou':
      return ratio(tp, tp + fp + fn);
    case 'precision':
      return ratio(tp, tp + fp);
    case 'recall':
      return ratio(tp, tp + fn);
    case 'accuracy':
      return ratio(tp + tn, tp + fp + fn + tn);
    case 'specificity':
      return ratio(tn, tn + fp);
    default: {
      const bad: never = metric;
      throw new Error(`scoreFromCounts: unknown metric '${String(bad)}'; expected one of ${SEGMENTATION_METRICS.join(', ')}`);
    }
  }
}

/** Mean of the non-NaN values and how many there were. */
export function nanMean(values: readonly number[]): { mean: number; count: number } {
  let s = 0;
  let n = 0;
  for (const v of values) {
    if (!Number.isNaN(v)) {
      s += v;
      n++;
    }
  }
  return { mean: n === 0 ? NaN : s / n, count: n };
}

function checkReduction(r: string): SegmentationReduction {
  if (r !== 'mean-image' && r !== 'pooled' && r !== 'none') {
    throw new Error(`segmentation metric: unknown reduction '${r}'; expected 'mean-image', 'pooled' or 'none'`);
  }
  return r;
}

/** Per-image scores `[N][classes]` of one metric. */
function perImageTable(stats: ConfusionStats, metric: SegmentationMetricName, classes: number[]): number[][] {
  const K = stats.numClasses;
  const rows: number[][] = [];
  for (let n = 0; n < stats.numImages; n++) {
    rows.push(
      classes.map((c) => {
        const i = n * K + c;
        return scoreFromCounts(metric, stats.tp[i], stats.fp[i], stats.fn[i], stats.tn[i]);
      }),
    );
  }
  return rows;
}

/**
 * Reduce one metric over the images of `stats`.
 * @param stats per-image confusion counts from {@link confusionStats}.
 * @param options `includeBackground` (default false), `reduction` (default 'mean-image').
 */
export function reduceSegmentationMetric(
  stats: ConfusionStats,
  metric: SegmentationMetricName,
  options: SegmentationMetricOptions = {},
): SegmentationScore {
  if (!SEGMENTATION_METRICS.includes(metric)) {
    throw new Error(`segmentation metric: unknown metric '${metric}'; expected one of ${SEGMENTATION_METRICS.join(', ')}`);
  }
  const reduction = checkReduction(options.reduction ?? 'mean-image');
  const first = options.includeBackground ? 0 : 1;
  const classes: number[] = [];
  for (let c = first; c < stats.numClasses; c++) classes.push(c);

  let perClass: number[];
  let validCount: number[];
  let perImage: number[][] | undefined;
  if (reduction === 'pooled') {
    const pooled = poolConfusionStats(stats);
    perClass = classes.map((c) => scoreFromCounts(metric, pooled.tp[c], pooled.fp[c], pooled.fn[c], pooled.tn[c]));
    validCount = perClass.map((v) => (Number.isNaN(v) ? 0 : 1));
  } else {
    const table = perImageTable(stats, metric, classes);
    perClass = [];
    validCount = [];
    for (let j = 0; j < classes.length; j++) {
      const r = nanMean(table.map((row) => row[j]));
      perClass.push(r.mean);
      validCount.push(r.count);
    }
    if (reduction === 'none') perImage = table;
  }
  const m = nanMean(perClass);
  const out: SegmentationScore = {
    metric,
    reduction,
    classes,
    perClass,
    validCount,
    mean: m.mean,
    validClasses: m.count,
  };
  if (perImage !== undefined) out.perImage = perImage;
  return out;
}

/** Options of {@link segmentationMetrics}. */
export interface SegmentationReportOptions extends SegmentationMetricOptions {
  /** Metrics to compute. Default: all of {@link SEGMENTATION_METRICS}. */
  metrics?: readonly SegmentationMetricName[];
}

/** Several metrics at once from the same counts: `{ dice: SegmentationScore, iou: ..., ... }`. */
export function segmentationMetrics(
  stats: ConfusionStats,
  options: SegmentationReportOptions = {},
): Partial<Record<SegmentationMetricName, SegmentationScore>> {
  const out: Partial<Record<SegmentationMetricName, SegmentationScore>> = {};
  for (const m of options.metrics ?? SEGMENTATION_METRICS) out[m] = reduceSegmentationMetric(stats, m, options);
  return out;
}

/** Overall pixel accuracy (all classes, background included). */
export interface PixelAccuracyScore {
  reduction: SegmentationReduction;
  /**
   * `'mean-image'`/`'none'`: mean over images of (correct pixels / counted pixels);
   * `'pooled'`: correct / counted over the whole set. NaN when nothing was counted.
   */
  value: number;
  /** Per-image accuracy (NaN for an image with no counted pixels); only for `'none'`. */
  perImage?: number[];
}

/**
 * Overall pixel accuracy: fraction of pixels whose predicted class equals the
 * true class (sum over classes of tp / counted pixels). Background included.
 */
export function pixelAccuracy(stats: ConfusionStats, options: { reduction?: SegmentationReduction } = {}): PixelAccuracyScore {
  const reduction = checkReduction(options.reduction ?? 'mean-image');
  const K = stats.numClasses;
  const correct: number[] = [];
  for (let n = 0; n < stats.numImages; n++) {
    let s = 0;
    for (let c = 0; c < K; c++) s += stats.tp[n * K + c];
    correct.push(s);
  }
  if (reduction === 'pooled') {
    let c = 0;
    let p = 0;
    for (let n = 0; n < stats.numImages; n++) {
      c += correct[n];
      p += stats.pixels[n];
    }
    return { reduction, value: p === 0 ? NaN : c / p };
  }
  const per = correct.map((c, n) => (stats.pixels[n] === 0 ? NaN : c / stats.pixels[n]));
  const out: PixelAccuracyScore = { reduction, value: nanMean(per).mean };
  if (reduction === 'none') out.perImage = per;
  return out;
}

/** Options of the mask-level convenience functions ({@link dice}, {@link iou}, ...). */
export interface MaskMetricOptions extends ConfusionOptions, SegmentationMetricOptions {}

function fromMasks(metric: SegmentationMetricName) {
  return (
    pred: ClassMap | readonly ClassMap[],
    truth: ClassMap | readonly ClassMap[],
    options: MaskMetricOptions,
  ): SegmentationScore => reduceSegmentationMetric(confusionStats(pred, truth, options), metric, options);
}

/**
 * Dice coefficient 2|P∩G| / (|P| + |G|) per class from class maps
 * (`[H, W]`, `[N, H, W]` with `shape`, or lists of per-image maps).
 * Options: `numClasses` (>= 2, incl. background), `includeBackground` (false),
 * `reduction` ('mean-image'), `shape`, `ignoreIndex`. NaN policy: module doc.
 */
export const dice = fromMasks('dice');
/** IoU / Jaccard |P∩G| / |P∪G| per class from class maps. Options and NaN policy as {@link dice}. */
export const iou = fromMasks('iou');
/** Precision tp / (tp + fp) per class from class maps; NaN when nothing is predicted. */
export const precision = fromMasks('precision');
/** Recall (sensitivity) tp / (tp + fn) per class from class maps; NaN when the ground truth is empty. */
export const recall = fromMasks('recall');
/** F1 from counts, 2tp / (2tp + fp + fn): identical to Dice for pixel sets. */
export const f1 = fromMasks('f1');
/** Specificity tn / (tn + fp) per class from class maps. */
export const specificity = fromMasks('specificity');
