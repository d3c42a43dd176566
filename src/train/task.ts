/**
 * The two supervised tasks MedMerge and MedForge train on, behind one small
 * interface: batches, loss, a training loop over an arbitrary forward
 * function and variable list, and evaluation of an arbitrary predictor.
 *
 * - 'classification': image-level `Sample.label`; network output `[N, K]`
 *   softmax probabilities (K >= 2); loss = categorical cross-entropy;
 *   scores = accuracy, macro-F1 (src/metrics/classification), ROC AUC
 *   (binary, or one-vs-rest macro).
 * - 'segmentation': `Sample.mask`; output `[N, H, W, K]` — K = 1 sigmoid
 *   (binary masks, loss BCE + soft Dice) or K >= 2 softmax (one-hot masks,
 *   loss categorical cross-entropy); scores = per-image mean Dice / IoU over
 *   foreground classes (src/metrics cumulative metric, its NaN policy).
 *
 * Training runs the shared loop ({@link trainBatches}), evaluation the shared
 * evaluation loop ({@link evaluateBatches}); see ./loop for the batch order
 * and the memory rules.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset, Sample } from '../data/types';
import { toBatch } from '../data/batch';
import { bceDiceLoss, categoricalCrossEntropy, type LossFunction } from '../metrics/losses';
import { CumulativeSegmentationMetric, CumulativeClassificationMetric } from '../metrics/cumulative';
import { trainBatches, type BatchLog, type LoopEpochLog } from './loop';
import { evaluateBatches, forEachPrediction } from './evaluate';

/** Which supervision a trainer uses. */
export type TaskKind = 'classification' | 'segmentation';

/** A task and the number of network output channels. */
export interface TaskSpec {
  task: TaskKind;
  /**
   * Classification: number of classes (>= 2, softmax output `[N, K]`).
   * Segmentation: output channels (1 = binary sigmoid, >= 2 = softmax incl. background).
   */
  numClasses: number;
}

/** Check a {@link TaskSpec}; throws naming the owner and the bad value. */
export function checkTaskSpec(owner: string, spec: TaskSpec): void {
  if (spec.task !== 'classification' && spec.task !== 'segmentation') {
    throw new Error(`${owner}: task must be 'classification' or 'segmentation', got '${String(spec.task)}'`);
  }
  const min = spec.task === 'classification' ? 2 : 1;
  if (!Number.isInteger(spec.numClasses) || spec.numClasses < min) {
    throw new Error(`${owner}: numClasses must be an integer >= ${min} for ${spec.task}, got ${spec.numClasses}`);
  }
}

/** Images `[N,H,W,C]` and targets (`[N,K]` one-hot labels or `[N,H,W,K]` masks). Caller disposes. */
export function taskBatch(samples: readonly Sample[], spec: TaskSpec): { x: tf.Tensor4D; y: tf.Tensor } {
  if (spec.task === 'segmentation') {
    return spec.numClasses === 1 ? toBatch(samples, 'binary') : toBatch(samples, 'onehot', spec.numClasses);
  }
  if (samples.length === 0) throw new Error('taskBatch: no samples');
  const [H, W, C] = samples[0].shape;
  const K = spec.numClasses;
  const xs = new Float32Array(samples.length * H * W * C);
  const ys = new Float32Array(samples.length * K);
  samples.forEach((s, i) => {
    if (s.shape[0] !== H || s.shape[1] !== W || s.shape[2] !== C) {
      throw new Error(`taskBatch: sample '${s.id}' has shape [${s.shape}] but the batch is [${H},${W},${C}]`);
    }
    if (s.label === undefined || !Number.isInteger(s.label) || s.label < 0 || s.label >= K) {
      throw new Error(`taskBatch: sample '${s.id}' has label ${s.label}; classification needs an integer in [0, ${K})`);
    }
    xs.set(s.image, i * H * W * C);
    ys[i * K + s.label] = 1;
  });
  return { x: tf.tensor4d(xs, [samples.length, H, W, C]), y: tf.tensor2d(ys, [samples.length, K]) };
}

/** The default loss of a task (see module doc). */
export function taskLoss(spec: TaskSpec): LossFunction {
  if (spec.task === 'segmentation' && spec.numClasses === 1) return bceDiceLoss();
  return categoricalCrossEntropy();
}

/** Per-epoch log of {@link trainTask}. */
export interface TaskEpochLog {
  epoch: number;
  /** Mean training loss over the epoch. */
  loss: number;
  images: number;
}

/** Options of {@link trainTask}. */
export interface TrainTaskOptions {
  spec: TaskSpec;
  epochs: number;
  /** Variables the optimizer updates. */
  vars: tf.Variable[];
  /** Forward pass `x -> output` (runs inside the gradient tape). */
  forward: (x: tf.Tensor4D) => tf.Tensor;
  /** Default: a new Adam with `learningRate` (disposed at the end). */
  optimizer?: tf.Optimizer;
  /** Default 1e-3. */
  learningRate?: number;
  /** Default 8. */
  batchSize?: number;
  /** Seeds the batch order (default 0). */
  seed?: number;
  /** Restrict to these indices (default all). */
  indices?: readonly number[];
  /** Default: {@link taskLoss}. */
  loss?: LossFunction;
  /** Extra scalar loss term inside the tape. */
  regularizer?: () => tf.Scalar;
  /** Called after every batch (images, loss, seconds). */
  onBatch?: (log: BatchLog) => void;
  /** Called after every epoch. */
  onEpoch?: (log: TaskEpochLog) => void;
}

/**
 * Minimise the task loss of `forward` over `data` w.r.t. `vars` (Adam,
 * shuffled mini-batches). Same inputs + seed = same result.
 */
export async function trainTask(data: Dataset | readonly Sample[], options: TrainTaskOptions): Promise<TaskEpochLog[]> {
  if (!Number.isInteger(options.epochs) || options.epochs < 0) {
    throw new Error(`trainTask: epochs must be a non-negative integer, got ${options.epochs}`);
  }
  const count = options.indices ? options.indices.length : data.length;
  if (count === 0 || options.epochs === 0) return [];
  if (options.vars.length === 0) throw new Error('trainTask: no variables to train');
  const { onEpoch } = options;
  const logs = await trainBatches(data, {
    ...options,
    owner: 'trainTask',
    makeBatch: (samples) => taskBatch(samples, options.spec),
    loss: options.loss ?? taskLoss(options.spec),
    onEpoch: onEpoch && ((l) => onEpoch(taskEpochLog(l))),
  });
  return logs.map(taskEpochLog);
}

function taskEpochLog(l: LoopEpochLog): TaskEpochLog {
  return { epoch: l.epoch, loss: l.loss, images: l.images };
}

/**
 * {@link trainTask} of a whole model: every trainable weight, forward pass
 * `model.apply(x, { training: true })` (the fine-tuning every method's
 * baselines run). Same options otherwise.
 */
export function trainModelTask(model: tf.LayersModel, data: Dataset | readonly Sample[], options: Omit<TrainTaskOptions, 'vars' | 'forward'>): Promise<TaskEpochLog[]> {
  return trainTask(data, {
    ...options,
    vars: model.trainableWeights.map((w) => w.read() as tf.Variable),
    forward: (x) => model.apply(x, { training: true }) as tf.Tensor,
  });
}

/** Scores of {@link evaluateTask}; fields of the other task are NaN. */
export interface TaskScores {
  images: number;
  /** Classification accuracy. */
  accuracy: number;
  /** Classification macro-F1. */
  macroF1: number;
  /** Classification ROC AUC (binary, else one-vs-rest macro). */
  auc: number;
  /** Segmentation per-image mean Dice (foreground classes). */
  dice: number;
  /** Segmentation per-image mean IoU. */
  iou: number;
  /** Mean task loss. */
  loss: number;
}

/** Options of {@link evaluateTask}. */
export interface EvaluateTaskOptions {
  /** Default 16. */
  batchSize?: number;
  /** Restrict to these indices (default all). */
  indices?: readonly number[];
  /** Sigmoid threshold for binary segmentation (default 0.5). */
  threshold?: number;
}

/**
 * Score a predictor (`x [N,H,W,C] -> output`, called inside a tidy) on
 * `data`. Works for a model (`x => model.predict(x)`) or any mixture.
 */
export async function evaluateTask(
  predict: (x: tf.Tensor4D) => tf.Tensor,
  data: Dataset | readonly Sample[],
  spec: TaskSpec,
  options: EvaluateTaskOptions = {},
): Promise<TaskScores> {
  const loss = taskLoss(spec);
  const K = spec.numClasses;
  const seg = new CumulativeSegmentationMetric({ numClasses: Math.max(2, K), metrics: ['dice', 'iou'], includeBackground: false });
  const cls = spec.task === 'classification' ? new CumulativeClassificationMetric(K) : null;
  let lossSum = 0;
  const n = await evaluateBatches(data, {
    batchSize: options.batchSize,
    indices: options.indices,
    predict: (samples) => {
      const { x, y } = taskBatch(samples, spec);
      const o = predict(x);
      return [o, loss(y, o)];
    },
    accumulate: (samples, [out, l]) => {
      lossSum += l.values[0] * samples.length;
      if (cls) {
        cls.update(samples.map((s) => s.label as number), undefined, out.values);
      } else {
        forEachPrediction(out, samples, (s, p, hw) => seg.update(p, s.mask, hw), { threshold: options.threshold, owner: 'evaluateTask' });
      }
    },
  });
  const out: TaskScores = { images: n, accuracy: NaN, macroF1: NaN, auc: NaN, dice: NaN, iou: NaN, loss: n ? lossSum / n : NaN };
  if (n === 0) return out;
  if (cls) {
    const r = cls.aggregate();
    out.accuracy = r.accuracy;
    out.macroF1 = r.macroF1;
    out.auc = r.auc?.macro ?? NaN;
  } else {
    const r = seg.aggregate('mean-image');
    out.dice = r.scores.dice?.mean ?? NaN;
    out.iou = r.scores.iou?.mean ?? NaN;
  }
  return out;
}

/** The headline score of a task: macro-F1 (classification) or Dice (segmentation). */
export function primaryScore(spec: TaskSpec, s: TaskScores): number {
  return spec.task === 'classification' ? s.macroF1 : s.dice;
}
