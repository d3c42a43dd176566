/**
 * Local training and evaluation of a segmentation network: the loop every
 * strategy (centralized, local, FedAvg clients, sequential sites) runs.
 *
 * Memory: each step runs inside `optimizer.minimize` (a tidy scope); batches
 * are built and disposed per step, only plain numbers are accumulated, so
 * `tf.memory().numTensors` is unchanged from one step to the next.
 */
import * as tf from '@tensorflow/tfjs';
import { createAdam } from '../backend';
import type { Dataset, Sample } from '../data/types';
import { toBatch, loadSamples, chunk, type MaskEncoding } from '../data/batch';
import { createRng } from '../util/rng';
import { bceDiceLoss, type LossFunction } from '../metrics/losses';
import { CumulativeSegmentationMetric } from '../metrics/cumulative';
import { probabilitiesToClassMap } from '../metrics/confusion';

/** Options of {@link trainSegmentation}. */
export interface TrainOptions {
  /** Passes over the data. */
  epochs: number;
  /** Default 8. */
  batchSize?: number;
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
  /** Called after every epoch. */
  onEpoch?: (log: EpochLog) => void;
}

/** Per-epoch training log. */
export interface EpochLog {
  epoch: number;
  /** Mean training loss over the epoch's batches. */
  loss: number;
  /** Images seen this epoch. */
  images: number;
  /** Wall-clock seconds of the epoch. */
  seconds: number;
}

/**
 * Train `model` on a segmentation dataset with a custom tfjs loop.
 * Images `[N,H,W,C]`; masks become `[N,H,W,1]` ('binary') or one-hot `[N,H,W,K]`.
 * Returns the per-epoch logs. Same model weights + options + seed = same result.
 */
export async function trainSegmentation(model: tf.LayersModel, data: Dataset, options: TrainOptions): Promise<EpochLog[]> {
  const batchSize = options.batchSize ?? 8;
  if (!Number.isInteger(options.epochs) || options.epochs < 0) {
    throw new Error(`trainSegmentation: epochs must be a non-negative integer, got ${options.epochs}`);
  }
  const encoding = options.encoding ?? 'binary';
  const numClasses = options.numClasses ?? 2;
  const loss = options.loss ?? bceDiceLoss();
  const ownOptimizer = !options.optimizer;
  const optimizer = options.optimizer ?? createAdam(options.learningRate ?? 1e-3);
  const base = options.indices ? [...options.indices] : Array.from({ length: data.length }, (_, i) => i);
  if (base.length === 0) throw new Error(`trainSegmentation: '${data.name}' has no samples to train on`);
  const rng = createRng(options.seed ?? 0);
  const logs: EpochLog[] = [];
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  try {
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      const t0 = Date.now();
      const order = options.shuffle === false ? base : rng.fork(`epoch${epoch}`).shuffle([...base]);
      let total = 0;
      let count = 0;
      for (const idx of chunk(order, batchSize)) {
        const samples = await loadSamples(data, idx);
        const { x, y } = toBatch(samples, encoding, numClasses);
        try {
          const l = optimizer.minimize(
            () => {
              const pred = model.apply(x, { training: true }) as tf.Tensor;
              const main = loss(y, pred);
              return options.regularizer ? tf.add(main, options.regularizer()) : main;
            },
            true,
            vars,
          );
          if (l) {
            total += l.dataSync()[0] * idx.length;
            l.dispose();
          }
          count += idx.length;
        } finally {
          x.dispose();
          y.dispose();
        }
      }
      const log = { epoch, loss: total / Math.max(1, count), images: count, seconds: (Date.now() - t0) / 1000 };
      logs.push(log);
      options.onEpoch?.(log);
    }
  } finally {
    if (ownOptimizer) optimizer.dispose();
  }
  return logs;
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
 * Predict every sample and score it (foreground classes only, per-image mean
 * plus pooled Dice), overall and per `groupBy` value (default: site).
 */
export async function evaluateSegmentation(model: tf.LayersModel, data: Dataset, options: EvaluateOptions = {}): Promise<SegmentationEvaluation> {
  const numClasses = options.numClasses ?? 2;
  const key = options.groupBy ?? 'site';
  const make = () => new CumulativeSegmentationMetric({ numClasses, metrics: ['dice', 'iou', 'precision', 'recall'], includeBackground: false });
  const overall = make();
  const groups = new Map<string, CumulativeSegmentationMetric>();
  const indices = options.indices ? [...options.indices] : Array.from({ length: data.length }, (_, i) => i);
  for (const idx of chunk(indices, options.batchSize ?? 16)) {
    const samples: Sample[] = await loadSamples(data, idx);
    const [H, W, C] = samples[0].shape;
    const probs = tf.tidy(() => {
      const x = tf.tensor4d(concatImages(samples), [samples.length, H, W, C]);
      return model.predict(x) as tf.Tensor4D;
    });
    const pv = probs.dataSync() as Float32Array;
    const shape = probs.shape as [number, number, number, number];
    probs.dispose();
    const pred = probabilitiesToClassMap(pv, shape, { threshold: options.threshold ?? 0.5 });
    samples.forEach((s, i) => {
      if (!s.mask) throw new Error(`evaluateSegmentation: sample '${s.id}' has no mask`);
      const p = pred.subarray(i * H * W, (i + 1) * H * W);
      overall.update(p, s.mask, [H, W]);
      const g = String(s.meta[key] ?? 'unknown');
      if (!groups.has(g)) groups.set(g, make());
      groups.get(g)!.update(p, s.mask, [H, W]);
    });
  }
  const out: Record<string, SegmentationSummary> = {};
  for (const g of [...groups.keys()].sort()) out[g] = summarize(groups.get(g)!);
  return { overall: summarize(overall), groups: out };
}

function concatImages(samples: readonly Sample[]): Float32Array {
  const n = samples[0].image.length;
  const out = new Float32Array(n * samples.length);
  samples.forEach((s, i) => out.set(s.image, i * n));
  return out;
}
