/**
 * Cumulative metric wrappers for evaluation loops: feed batches with
 * `update`, read results with `aggregate`, start over with `reset`.
 *
 * Modelled on MONAI `CumulativeIterationMetric`, with two differences:
 * the segmentation wrapper keeps only per-image confusion counts
 * (`numClasses` x 5 numbers per image, never the images), and `aggregate`
 * never consumes or mutates the buffer, so calling it twice returns equal
 * results and further `update`s keep accumulating.
 */
import {
  ClassMap,
  ConfusionStats,
  concatConfusionStats,
  confusionStats,
  probabilitiesToClassMap,
  ToClassMapOptions,
} from './confusion';
import {
  PixelAccuracyScore,
  pixelAccuracy,
  SEGMENTATION_METRICS,
  SegmentationMetricName,
  SegmentationReduction,
  SegmentationScore,
  reduceSegmentationMetric,
} from './segmentation';
import { ClassificationReport, classificationReport, RocAucScore, rocAuc, rocAucOneVsRest } from './classification';

/** Options of {@link CumulativeSegmentationMetric}. */
export interface CumulativeSegmentationOptions {
  /** Number of classes including background 0 (>= 2; binary = 2). */
  numClasses: number;
  /** Metrics reported by `aggregate`. Default: all of {@link SEGMENTATION_METRICS}. */
  metrics?: readonly SegmentationMetricName[];
  /** Include class 0 in per-class results and means. Default false. */
  includeBackground?: boolean;
  /** Default reduction of `aggregate`. Default `'mean-image'`. */
  reduction?: SegmentationReduction;
  /** Ground-truth value of pixels to skip. Default none. */
  ignoreIndex?: number;
}

/** Result of {@link CumulativeSegmentationMetric.aggregate}. */
export interface SegmentationAggregate {
  /** Images accumulated so far. */
  numImages: number;
  scores: Partial<Record<SegmentationMetricName, SegmentationScore>>;
  pixelAccuracy: PixelAccuracyScore;
}

/**
 * Accumulates per-image confusion counts over batches of class maps and
 * reduces them on demand (per-image mean, pooled or per-image table).
 */
export class CumulativeSegmentationMetric {
  private readonly options: Required<Omit<CumulativeSegmentationOptions, 'ignoreIndex'>> & { ignoreIndex?: number };
  private chunks: ConfusionStats[] = [];

  constructor(options: CumulativeSegmentationOptions) {
    if (!Number.isInteger(options.numClasses) || options.numClasses < 2) {
      throw new Error(`CumulativeSegmentationMetric: numClasses must be an integer >= 2, got ${options.numClasses}`);
    }
    for (const m of options.metrics ?? []) {
      if (!SEGMENTATION_METRICS.includes(m)) {
        throw new Error(
          `CumulativeSegmentationMetric: unknown metric '${m}'; expected one of ${SEGMENTATION_METRICS.join(', ')}`,
        );
      }
    }
    this.options = {
      numClasses: options.numClasses,
      metrics: options.metrics ?? SEGMENTATION_METRICS,
      includeBackground: options.includeBackground ?? false,
      reduction: options.reduction ?? 'mean-image',
      ignoreIndex: options.ignoreIndex,
    };
  }

  /** Number of images accumulated so far. */
  get numImages(): number {
    return this.chunks.reduce((s, c) => s + c.numImages, 0);
  }

  /**
   * Add a batch of class maps: flat `[N, H, W]` (give `shape`) or `[H, W]`,
   * or lists of per-image maps. Returns the batch's own counts.
   */
  update(pred: ClassMap | readonly ClassMap[], truth: ClassMap | readonly ClassMap[], shape?: readonly number[]): ConfusionStats {
    const stats = confusionStats(pred, truth, {
      numClasses: this.options.numClasses,
      shape,
      ignoreIndex: this.options.ignoreIndex,
    });
    this.chunks.push(stats);
    return stats;
  }

  /**
   * Add a batch of network outputs (NHWC `[N, H, W, K]` float, sigmoid when K = 1,
   * softmax/logits otherwise) against class maps `[N, H, W]`.
   */
  updateFromProbabilities(
    probs: ArrayLike<number>,
    shape: readonly [number, number, number, number],
    truth: ClassMap,
    options: ToClassMapOptions = {},
  ): ConfusionStats {
    const pred = probabilitiesToClassMap(probs, shape, options);
    return this.update(pred, truth, [shape[0], shape[1], shape[2]]);
  }

  /** Add counts computed elsewhere (same `numClasses`), e.g. received from a federated client. */
  updateStats(stats: ConfusionStats): void {
    if (stats.numClasses !== this.options.numClasses) {
      throw new RangeError(
        `CumulativeSegmentationMetric.updateStats: stats have numClasses ${stats.numClasses}, expected ${this.options.numClasses}`,
      );
    }
    this.chunks.push(concatConfusionStats([stats])); // private copy
  }

  /** All per-image counts so far, as one fresh object (the buffer is untouched). */
  stats(): ConfusionStats {
    return concatConfusionStats(this.chunks, this.options.numClasses);
  }

  /**
   * Reduce everything accumulated so far. Idempotent: does not consume the buffer.
   * @param reduction overrides the constructor's reduction for this call.
   */
  aggregate(reduction: SegmentationReduction = this.options.reduction): SegmentationAggregate {
    const all = this.stats();
    const scores: Partial<Record<SegmentationMetricName, SegmentationScore>> = {};
    for (const m of this.options.metrics) {
      scores[m] = reduceSegmentationMetric(all, m, { includeBackground: this.options.includeBackground, reduction });
    }
    return { numImages: all.numImages, scores, pixelAccuracy: pixelAccuracy(all, { reduction }) };
  }

  /** Forget everything accumulated. */
  reset(): void {
    this.chunks = [];
  }
}

/** Result of {@link CumulativeClassificationMetric.aggregate}. */
export interface ClassificationAggregate extends ClassificationReport {
  numSamples: number;
  /**
   * ROC AUC when scores were given for every sample: binary (numClasses = 2 and
   * one score column) as `perClass = [auc]`, otherwise one-vs-rest. Undefined otherwise.
   */
  auc?: RocAucScore;
}

/**
 * Accumulates image-level labels, predictions and (optionally) scores over
 * batches; aggregate is idempotent.
 */
export class CumulativeClassificationMetric {
  private yTrue: number[] = [];
  private yPred: number[] = [];
  private scores: number[] = [];
  private scored = 0;

  /**
   * @param numClasses number of image-level classes (>= 2).
   * @param scoreColumns score values per sample: `numClasses` (softmax/logits) or 1
   *   (binary positive-class score). Default `numClasses`.
   */
  constructor(
    readonly numClasses: number,
    readonly scoreColumns: number = numClasses,
  ) {
    if (!Number.isInteger(numClasses) || numClasses < 2) {
      throw new Error(`CumulativeClassificationMetric: numClasses must be an integer >= 2, got ${numClasses}`);
    }
    if (scoreColumns !== numClasses && !(scoreColumns === 1 && numClasses === 2)) {
      throw new Error(
        `CumulativeClassificationMetric: scoreColumns must be numClasses (${numClasses}) or 1 for a binary task, got ${scoreColumns}`,
      );
    }
  }

  /**
   * Add a batch.
   * @param yTrue true class ids `[B]`.
   * @param yPred predicted class ids `[B]`, or omitted to take the argmax of `scores`
   *   (threshold 0.5 when there is one score column).
   * @param scores row-major `[B, scoreColumns]`, for AUC.
   */
  update(yTrue: ArrayLike<number>, yPred?: ArrayLike<number>, scores?: ArrayLike<number>): void {
    const B = yTrue.length;
    const C = this.scoreColumns;
    if (scores !== undefined && scores.length !== B * C) {
      throw new RangeError(`CumulativeClassificationMetric.update: scores must hold [${B}, ${C}] values, got ${scores.length}`);
    }
    let pred: ArrayLike<number>;
    if (yPred !== undefined) pred = yPred;
    else if (scores !== undefined) {
      pred = C === 1 ? thresholdScores(scores) : probabilitiesToClassMap(scores, [B, 1, 1, C]);
    } else throw new Error('CumulativeClassificationMetric.update: give yPred or scores');
    if (pred.length !== B) {
      throw new RangeError(`CumulativeClassificationMetric.update: ${B} labels but ${pred.length} predictions`);
    }
    // Validate before mutating the buffer.
    classificationReport(yTrue, pred, this.numClasses);
    for (let i = 0; i < B; i++) {
      this.yTrue.push(yTrue[i]);
      this.yPred.push(pred[i]);
    }
    if (scores !== undefined) {
      for (let i = 0; i < scores.length; i++) this.scores.push(scores[i]);
      this.scored += B;
    }
  }

  /** Report over everything accumulated so far (buffer untouched). */
  aggregate(): ClassificationAggregate {
    const report: ClassificationAggregate = {
      ...classificationReport(this.yTrue, this.yPred, this.numClasses),
      numSamples: this.yTrue.length,
    };
    if (this.scored > 0 && this.scored === this.yTrue.length) {
      if (this.scoreColumns === 1) {
        const auc = rocAuc(
          this.yTrue.map((t) => (t === 1 ? 1 : 0)),
          this.scores,
        );
        report.auc = { perClass: [auc], macro: auc, validClasses: Number.isNaN(auc) ? 0 : 1 };
      } else {
        report.auc = rocAucOneVsRest(this.yTrue, this.scores, this.numClasses);
      }
    }
    return report;
  }

  /** Forget everything accumulated. */
  reset(): void {
    this.yTrue = [];
    this.yPred = [];
    this.scores = [];
    this.scored = 0;
  }
}

function thresholdScores(scores: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(scores.length);
  for (let i = 0; i < scores.length; i++) out[i] = scores[i] >= 0.5 ? 1 : 0;
  return out;
}
