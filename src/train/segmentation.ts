/**
 * Training and evaluation of one segmentation `tf.LayersModel`: what every FL
 * strategy (centralized, local, FedAvg clients, sequential sites), the
 * privacy code and the demo run. Both are thin callers of the shared loops
 * ({@link trainBatches}, {@link evaluateBatches}).
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/types';
import { toBatch, type MaskEncoding } from '../data/batch';
import { bceDiceLoss, type LossFunction } from '../metrics/losses';
import { CumulativeSegmentationMetric } from '../metrics/cumulative';
import { trainBatches, type BatchLog, type EpochLog } from './loop';
import { evaluateBatches, forEachPrediction, stackImages } from './evaluate';

/** Options of {@link trainSegmentation}. */
export interface TrainOptions {
  /** Passes over the data. */
  epochs: number;
  /** Default 8. */
  batchSize?: number;
  /** Gradient accumulation over chunks of at most this many samples (see `TrainBatchesOptions.microBatch`: memory, BatchNorm semantics). Default: off. */
  microBatch?: number;
  /** Adam learning rate (default 1e-3); ignored when `optimizer` is given. */
  learningRate?: number;
  /** Optimizer to use (kept by the caller, e.g. across FL rounds). Default: a new Adam. */
  optimizer?: tf.Optimizer;
  /** Default: BCE + soft Dice (binary masks, `[N,H,W,1]` sigmoid output). */
  loss?: LossFunction;
  /** 'binary' (default, K = 1 output) or 'onehot' (K > 1 softmax output). */
  encoding?: MaskEncoding;
  /** Classes incl. background for 'onehot'. Default 2. */
  numClasses?: number;
  /** Seeds the batch order. Default 0. */
  seed?: number;
  /** Shuffle each epoch (default true). */
  shuffle?: boolean;
  /**
   * Extra loss term evaluated inside the same gradient tape (e.g. the FedProx
   * proximal term). Must return a scalar.
   */
  regularizer?: () => tf.Scalar;
  /** Restrict training to these sample indices (default: all). */
  indices?: readonly number[];
  /**
   * The learning rate of epoch `e` (0-based within this call), set at the
   * start of every epoch (e.g. `(e) => learningRateAt(schedule, lr, offset + e, total)`,
   * see ./schedule). Default: none (`learningRate` throughout).
   */
  learningRateAt?: (epoch: number) => number;
  /** Called after every epoch. */
  onEpoch?: (log: EpochLog) => void;
  /** Called after every batch (images, loss, seconds). */
  onBatch?: (log: BatchLog) => void;
}

/**
 * Train `model` on a segmentation dataset with the shared loop.
 * Images `[N,H,W,C]`; masks become `[N,H,W,1]` ('binary') or one-hot `[N,H,W,K]`.
 * Returns the per-epoch logs. Same model weights + options + seed = same result.
 */
export async function trainSegmentation(model: tf.LayersModel, data: Dataset, options: TrainOptions): Promise<EpochLog[]> {
  const encoding = options.encoding ?? 'binary';
  const numClasses = options.numClasses ?? 2;
  const { onEpoch } = options;
  const logs = await trainBatches(data, {
    ...options,
    owner: 'trainSegmentation',
    makeBatch: (samples) => toBatch(samples, encoding, numClasses),
    vars: model.trainableWeights.map((w) => w.read() as tf.Variable),
    forward: (x) => model.apply(x, { training: true }) as tf.Tensor,
    loss: options.loss ?? bceDiceLoss(),
    onEpoch: onEpoch && ((l) => onEpoch(epochLog(l))),
  });
  return logs.map(epochLog);
}

function epochLog(l: EpochLog): EpochLog {
  return { epoch: l.epoch, loss: l.loss, images: l.images, seconds: l.seconds };
}

/** Options of {@link evaluateSegmentation}. */
export interface EvaluateOptions {
  /** Default 16. */
  batchSize?: number;
  /** Classes incl. background (2 for binary masks). Default 2. */
  numClasses?: number;
  /** Probability threshold for a single sigmoid channel. Default 0.5. */
  threshold?: number;
  /** Group results by this metadata key (default 'site'); samples without it go to 'unknown'. */
  groupBy?: string;
  /** Restrict to these sample indices (default: all). */
  indices?: readonly number[];
}

/** Segmentation scores of one group of images (per-image means, NaN policy of the metrics module). */
export interface SegmentationSummary {
  images: number;
  dice: number;
  iou: number;
  precision: number;
  recall: number;
  /** Images whose Dice was defined (GT or prediction non-empty). */
  validImages: number;
  /** Dice pooled over all pixels of the group. */
  pooledDice: number;
}

/** Result of {@link evaluateSegmentation}: overall and per group (site). */
export interface SegmentationEvaluation {
  overall: SegmentationSummary;
  groups: Record<string, SegmentationSummary>;
  /** Dice of every image in evaluation order (mean over the foreground classes it defines; NaN when none is defined), for per-image bootstrap intervals. Its NaN-skipping mean is `overall.dice`. */
  perImageDice: number[];
}

function summarize(m: CumulativeSegmentationMetric): SegmentationSummary {
  const mean = m.aggregate('mean-image');
  const pooled = m.aggregate('pooled');
  return {
    images: mean.numImages,
    dice: mean.scores.dice?.mean ?? NaN,
    iou: mean.scores.iou?.mean ?? NaN,
    precision: mean.scores.precision?.mean ?? NaN,
    recall: mean.scores.recall?.mean ?? NaN,
    validImages: (mean.scores.dice?.validCount ?? []).reduce((a, b) => Math.max(a, b), 0),
    pooledDice: pooled.scores.dice?.mean ?? NaN,
  };
}

/**
 * Predict every sample (`model.predict` on `[N,H,W,C]` images; output
 * `[N,H,W,1]` sigmoid or `[N,H,W,K]` softmax) and score it (foreground
 * classes only, per-image mean plus pooled Dice), overall and per `groupBy`
 * value (default: site).
 */
export async function evaluateSegmentation(model: tf.LayersModel, data: Dataset, options: EvaluateOptions = {}): Promise<SegmentationEvaluation> {
  const numClasses = options.numClasses ?? 2;
  const key = options.groupBy ?? 'site';
  const make = () => new CumulativeSegmentationMetric({ numClasses, metrics: ['dice', 'iou', 'precision', 'recall'], includeBackground: false });
  const overall = make();
  const groups = new Map<string, CumulativeSegmentationMetric>();
  await evaluateBatches(data, {
    batchSize: options.batchSize,
    indices: options.indices,
    predict: (samples) => [model.predict(stackImages(samples, 'evaluateSegmentation')) as tf.Tensor],
    accumulate: (samples, [probs]) =>
      forEachPrediction(
        probs,
        samples,
        (s, p, hw) => {
          overall.update(p, s.mask, hw);
          const g = String(s.meta[key] ?? 'unknown');
          if (!groups.has(g)) groups.set(g, make());
          groups.get(g)!.update(p, s.mask, hw);
        },
        { threshold: options.threshold, owner: 'evaluateSegmentation' },
      ),
  });
  const out: Record<string, SegmentationSummary> = {};
  for (const g of [...groups.keys()].sort()) out[g] = summarize(groups.get(g)!);
  const perImage = overall.aggregate('none').scores.dice?.perImage ?? [];
  const perImageDice = perImage.map((row) => {
    const defined = row.filter((v) => !Number.isNaN(v));
    return defined.length ? defined.reduce((a, b) => a + b, 0) / defined.length : NaN;
  });
  return { overall: summarize(overall), groups: out, perImageDice };
}

/** Options of {@link evaluateLoss}. */
export interface EvaluateLossOptions {
  /** Images per forward pass (does not change the result). Default 16. */
  batchSize?: number;
  /** Default: BCE + soft Dice, {@link trainSegmentation}'s default loss. */
  loss?: LossFunction;
  /** 'binary' (default) or 'onehot', as in training. */
  encoding?: MaskEncoding;
  /** Classes incl. background for 'onehot'. Default 2. */
  numClasses?: number;
  /** Restrict to these sample indices (default: all). */
  indices?: readonly number[];
}

/**
 * The training loss of `model` on a segmentation dataset without training
 * (e.g. a validation loss): inference-mode forward pass (`model.predict`),
 * the loss computed PER IMAGE (`loss(y[i], p[i])` on `[1,H,W,K]` slices) and
 * averaged over the images, so the value does not depend on `batchSize`
 * (BCE + soft Dice over a whole batch would). Returns `{ loss, images }`;
 * `loss` is NaN for an empty dataset.
 */
export async function evaluateLoss(model: tf.LayersModel, data: Dataset, options: EvaluateLossOptions = {}): Promise<{ loss: number; images: number }> {
  const encoding = options.encoding ?? 'binary';
  const numClasses = options.numClasses ?? 2;
  const loss = options.loss ?? bceDiceLoss();
  let sum = 0;
  const images = await evaluateBatches(data, {
    batchSize: options.batchSize,
    indices: options.indices,
    predict: (samples) => {
      const { x, y } = toBatch(samples, encoding, numClasses);
      const out = model.predict(x) as tf.Tensor;
      const n = samples.length;
      const per: tf.Scalar[] = [];
      for (let i = 0; i < n; i++) {
        const begin = out.shape.map((_, k) => (k === 0 ? i : 0));
        const size = out.shape.map((d, k) => (k === 0 ? 1 : (d as number)));
        per.push(loss(tf.slice(y, begin, size), tf.slice(out, begin, size)));
      }
      return [tf.stack(per)];
    },
    accumulate: (_samples, [per]) => {
      for (const v of per.values) sum += v;
    },
  });
  return { loss: images > 0 ? sum / images : NaN, images };
}
