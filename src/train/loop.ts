/**
 * THE epoch / batch loop every medfl trainer runs (segmentation and task
 * training, FL clients, split learning, M4oE's two phases).
 *
 * Two layers:
 * - {@link runEpochs}: epochs x batches with progress. Which batches an epoch
 *   has is a hook ({@link EpochLoopOptions.plan}, default
 *   {@link seededBatches}); what a batch does is a hook
 *   ({@link EpochLoopOptions.step}). Knows nothing about tensors.
 * - {@link trainBatches}: supervised mini-batch training on a dataset on top
 *   of it: load samples, build `(x, y)`, one optimizer step of
 *   `loss(y, forward(x)) [+ extraLoss]`, dispose. Per-batch hooks: an extra
 *   loss term inside the tape (e.g. FedProx), or a whole custom step (e.g.
 *   split learning, see ./split).
 *
 * Batch order (the documented, seed-stable order): epoch `e` visits
 * `createRng(seed).fork(\`epoch${e}\`).shuffle([...indices])` in consecutive
 * chunks of `batchSize` (the last one shorter); without shuffling, `indices`
 * in order.
 *
 * Memory: every step runs inside `optimizer.minimize` (a tidy scope) or the
 * custom step's own scope; batches are made and disposed per step; only plain
 * numbers are accumulated, so `tf.memory().numTensors` is the same after
 * every step.
 */
import * as tf from '@tensorflow/tfjs';
import { createAdam } from '../backend';
import type { Dataset, Sample } from '../data/types';
import { chunk, loadSamples } from '../data/batch';
import type { LossFunction } from '../metrics/losses';
import { createRng, type Rng } from '../util/rng';
import { setOptimizerLearningRate } from './schedule';

/** Per-epoch training log. */
export interface EpochLog {
  epoch: number;
  /** Mean training loss over the epoch's images (each batch weighted by its size). */
  loss: number;
  /** Images seen this epoch. */
  images: number;
  /** Wall-clock seconds of the epoch. */
  seconds: number;
}

/** Per-batch progress, passed to `onBatch`. */
export interface BatchLog {
  epoch: number;
  /** Batch index within the epoch. */
  batch: number;
  /** Batches in this epoch. */
  batches: number;
  /** Images in this batch. */
  images: number;
  /** The batch's loss (mean over its images). */
  loss: number;
  /** Named extra figures of the step (e.g. auxiliary loss terms). */
  terms: Readonly<Record<string, number>>;
  /** Wall-clock seconds of the step (loading included). */
  seconds: number;
}

/** What {@link runEpochs} reports for an epoch (the {@link EpochLog} plus per-term means). */
export interface LoopEpochLog extends EpochLog {
  /** Batches run this epoch. */
  batches: number;
  /** Image-weighted mean of every term the steps reported. */
  terms: Record<string, number>;
}

/** Result of one step. */
export interface StepResult {
  /** Loss of the batch (mean over its images). */
  loss: number;
  /** Optional named extra figures (e.g. `{ seg, balance }`), averaged per image into {@link LoopEpochLog.terms}. */
  terms?: Record<string, number>;
}

/** Progress callbacks shared by every trainer. */
export interface ProgressHooks {
  /** Called after every batch. */
  onBatch?: (log: BatchLog) => void;
  /** Called after every epoch. */
  onEpoch?: (log: LoopEpochLog) => void;
}

/** Options of {@link runEpochs}; `B` is one batch (e.g. an array of sample indices). */
export interface EpochLoopOptions<B> extends ProgressHooks {
  /** Passes (non-negative integer). */
  epochs: number;
  /** The batches of epoch `e`, in visiting order (see {@link seededBatches}). */
  plan: (epoch: number) => readonly B[];
  /** Images in a batch. Default: `batch.length` for arrays, else 1. */
  size?: (batch: B) => number;
  /** Run one batch; returns its loss (and optional terms). */
  step: (batch: B, epoch: number, index: number) => StepResult | Promise<StepResult>;
  /** Called at the start of every epoch, before its plan is made (e.g. to set the epoch's learning rate). */
  beforeEpoch?: (epoch: number) => void;
}

/**
 * Run `epochs` epochs of `plan(e)` batches through `step`, timing and
 * averaging as it goes. The epoch loss is `sum(loss_b * n_b) / sum(n_b)`.
 * Returns one log per epoch.
 */
export async function runEpochs<B>(options: EpochLoopOptions<B>): Promise<LoopEpochLog[]> {
  const size = options.size ?? ((b: B) => (Array.isArray(b) ? b.length : 1));
  const logs: LoopEpochLog[] = [];
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const t0 = Date.now();
    options.beforeEpoch?.(epoch);
    const batches = options.plan(epoch);
    let total = 0;
    let count = 0;
    const termSums: Record<string, number> = {};
    for (let b = 0; b < batches.length; b++) {
      const tb = Date.now();
      const n = size(batches[b]);
      const res = await options.step(batches[b], epoch, b);
      total += res.loss * n;
      count += n;
      const terms = res.terms ?? {};
      for (const [k, v] of Object.entries(terms)) termSums[k] = (termSums[k] ?? 0) + v * n;
      options.onBatch?.({ epoch, batch: b, batches: batches.length, images: n, loss: res.loss, terms, seconds: (Date.now() - tb) / 1000 });
    }
    const terms: Record<string, number> = {};
    for (const [k, v] of Object.entries(termSums)) terms[k] = v / Math.max(1, count);
    const log: LoopEpochLog = { epoch, loss: total / Math.max(1, count), images: count, seconds: (Date.now() - t0) / 1000, batches: batches.length, terms };
    logs.push(log);
    options.onEpoch?.(log);
  }
  return logs;
}

/**
 * The documented batch order of epoch `epoch`: `indices` shuffled by
 * `createRng(seed).fork(\`epoch${epoch}\`)` (or kept in order when `shuffle`
 * is false), cut into consecutive chunks of `batchSize`.
 */
export function seededBatches(indices: readonly number[], batchSize: number, seed: number, epoch: number, shuffle = true): number[][] {
  return chunk(shuffle ? epochRng(seed, epoch).shuffle([...indices]) : indices, batchSize);
}

/** The random stream of epoch `epoch` for a run seeded with `seed` (pure: depends on nothing else). */
export function epochRng(seed: number, epoch: number): Rng {
  return createRng(seed).fork(`epoch${epoch}`);
}

/** A batch of supervised data: the samples and their tensors. `x` `[N,H,W,C]`; `y` as the batch builder makes it. */
export interface SupervisedBatch {
  /** Dataset indices of the samples. */
  indices: readonly number[];
  samples: readonly Sample[];
  x: tf.Tensor4D;
  y: tf.Tensor;
}

/** What the extra-loss hook sees (inside the gradient tape). */
export interface ExtraLossContext {
  x: tf.Tensor4D;
  y: tf.Tensor;
  /** The forward output. */
  output: tf.Tensor;
}

/** Options of {@link trainBatches}. */
export interface TrainBatchesOptions extends ProgressHooks {
  /** Name used in error messages (e.g. 'trainSegmentation'). */
  owner: string;
  /** Passes over the data (non-negative integer). */
  epochs: number;
  /** Builds `(x, y)` from samples; the loop disposes both after the step. */
  makeBatch: (samples: readonly Sample[]) => { x: tf.Tensor4D; y: tf.Tensor };
  /** Default 8. */
  batchSize?: number;
  /** Seeds the batch order. Default 0. */
  seed?: number;
  /** Shuffle each epoch (default true). */
  shuffle?: boolean;
  /** Restrict training to these sample indices (default: all). */
  indices?: readonly number[];
  /** Variables the optimizer updates (default step). */
  vars?: tf.Variable[];
  /** Forward pass `x -> output`, run inside the gradient tape (default step). */
  forward?: (x: tf.Tensor4D) => tf.Tensor;
  /** `loss(yTrue, yPred)` (default step). */
  loss?: LossFunction;
  /** Optimizer (kept by the caller). Default: a new Adam with `learningRate`, disposed at the end (default step only). */
  optimizer?: tf.Optimizer;
  /** Adam learning rate when no optimizer is given. Default 1e-3. */
  learningRate?: number;
  /**
   * The learning rate of local epoch `e` (a schedule, see ./schedule), set on
   * the default step's optimizer (own or given) at the start of every epoch.
   * Default: none (the optimizer's rate is left alone). With a custom `step`
   * use `beforeEpoch` to set the rates of its optimizers.
   */
  learningRateAt?: (epoch: number) => number;
  /** Called at the start of every epoch (see {@link EpochLoopOptions.beforeEpoch}), after `learningRateAt` is applied. */
  beforeEpoch?: (epoch: number) => void;
  /**
   * Per-batch hook: an extra scalar loss term added inside the same gradient
   * tape, after the main loss (`main + extra`), e.g. the FedProx proximal term.
   * It sees the batch and the forward output.
   */
  extraLoss?: (ctx: ExtraLossContext) => tf.Scalar;
  /** Shorthand for an `extraLoss` that needs no context (the trainers' `regularizer` option). Ignored when `extraLoss` is given. */
  regularizer?: () => tf.Scalar;
  /**
   * Micro-batching with gradient accumulation (default step only): each batch
   * is split into consecutive chunks of at most `microBatch` samples, the
   * gradients of `(m / n) * loss(chunk)` are summed over the chunks and
   * applied once, so activation memory scales with `microBatch` instead of
   * the batch (U-Net at paper width, 256 px, batch 8 needs this within
   * tfjs-wasm's 4 GiB heap). The update equals the full-batch one when the
   * loss is a mean over samples and the network has no batch statistics;
   * BatchNorm layers normalise each chunk with its own statistics and update
   * their moving averages once per chunk (as gradient accumulation does in
   * PyTorch). The reported loss is the chunk-weighted sum. Default: off.
   */
  microBatch?: number;
  /**
   * Per-batch hook: replaces the optimizer step (e.g. split learning's
   * message-passing step). Must leave no tensors behind; `x` / `y` are
   * disposed by the loop.
   */
  step?: (batch: SupervisedBatch, epoch: number) => StepResult | Promise<StepResult>;
}

/**
 * Supervised mini-batch training on `data` (a dataset or an array of
 * samples) in the {@link seededBatches} order. Default step:
 * `optimizer.minimize(() => loss(y, forward(x)) [+ extraLoss], vars)`.
 * Throws when there is nothing to train on. Same inputs + seed = same result.
 */
export async function trainBatches(data: Dataset | readonly Sample[], options: TrainBatchesOptions): Promise<LoopEpochLog[]> {
  const o = options.owner;
  if (!Number.isInteger(options.epochs) || options.epochs < 0) {
    throw new Error(`${o}: epochs must be a non-negative integer, got ${options.epochs}`);
  }
  const batchSize = options.batchSize ?? 8;
  const base = options.indices ? [...options.indices] : Array.from({ length: data.length }, (_, i) => i);
  if (base.length === 0) throw new Error(`${o}: '${datasetName(data)}' has no samples to train on`);
  const seed = options.seed ?? 0;
  const shuffle = options.shuffle !== false;
  const custom = options.step;
  let step: (batch: SupervisedBatch, epoch: number) => StepResult | Promise<StepResult>;
  let optimizer: tf.Optimizer | undefined;
  const own = !custom && !options.optimizer;
  if (custom) {
    step = custom;
  } else {
    const { vars, forward, loss, regularizer } = options;
    const extraLoss = options.extraLoss ?? (regularizer && (() => regularizer()));
    if (!vars || !forward || !loss) throw new Error(`${o}: vars, forward and loss are required without a custom step`);
    const opt = options.optimizer ?? createAdam(options.learningRate ?? 1e-3);
    optimizer = opt;
    const micro = options.microBatch;
    if (micro !== undefined && (!Number.isInteger(micro) || micro < 1)) throw new Error(`${o}: microBatch must be a positive integer, got ${micro}`);
    step = ({ x, y }) => {
      if (micro !== undefined && micro < x.shape[0]) {
        return {
          loss: accumulatedStep(opt, vars, x, y, micro, (xs, ys) => {
            const output = forward(xs);
            const main = loss(ys, output);
            return (extraLoss ? tf.add(main, extraLoss({ x: xs, y: ys, output })) : main) as tf.Scalar;
          }),
        };
      }
      const l = opt.minimize(
        () => {
          const output = forward(x);
          const main = loss(y, output);
          return extraLoss ? tf.add(main, extraLoss({ x, y, output })) : main;
        },
        true,
        vars,
      );
      let value = 0;
      if (l) {
        value = l.dataSync()[0];
        l.dispose();
      }
      return { loss: value };
    };
  }
  try {
    return await runEpochs<number[]>({
      epochs: options.epochs,
      plan: (epoch) => seededBatches(base, batchSize, seed, epoch, shuffle),
      step: async (idx, epoch) => {
        const samples = await loadFrom(data, idx);
        const { x, y } = options.makeBatch(samples);
        try {
          return await step({ indices: idx, samples, x, y }, epoch);
        } finally {
          x.dispose();
          y.dispose();
        }
      },
      onBatch: options.onBatch,
      onEpoch: options.onEpoch,
      beforeEpoch: (epoch) => {
        if (options.learningRateAt) {
          if (!optimizer) throw new Error(`${o}: learningRateAt needs the default step (a custom step sets its own optimizers' rates in beforeEpoch)`);
          setOptimizerLearningRate(optimizer, options.learningRateAt(epoch));
        }
        options.beforeEpoch?.(epoch);
      },
    });
  } finally {
    if (own) optimizer?.dispose();
  }
}

/**
 * One optimizer step over `x` `[N,...]` / `y` `[N,...]` in chunks of at most
 * `microBatch` samples along axis 0: sums the gradients of
 * `(m / N) * lossOf(xChunk, yChunk)` over the chunks (in order, so the result
 * is deterministic), applies them once with `optimizer`, and returns the
 * weighted loss sum. See {@link TrainBatchesOptions.microBatch} for the
 * BatchNorm semantics. Leaves no tensors behind.
 */
export function accumulatedStep(
  optimizer: tf.Optimizer,
  vars: tf.Variable[],
  x: tf.Tensor,
  y: tf.Tensor,
  microBatch: number,
  lossOf: (x: tf.Tensor4D, y: tf.Tensor) => tf.Scalar,
): number {
  const n = x.shape[0];
  let total: Record<string, tf.Tensor> | null = null;
  let lossSum = 0;
  try {
    for (let s = 0; s < n; s += microBatch) {
      const m = Math.min(microBatch, n - s);
      const { value, grads } = tf.tidy(() => {
        const xs = tf.slice(x, s, m) as tf.Tensor4D;
        const ys = tf.slice(y, s, m);
        return tf.variableGrads(() => tf.mul(lossOf(xs, ys), m / n) as tf.Scalar, vars);
      });
      lossSum += value.dataSync()[0];
      value.dispose();
      if (!total) {
        total = grads;
      } else {
        for (const [k, g] of Object.entries(grads)) {
          const prev = total[k];
          total[k] = prev ? tf.add(prev, g) : g;
          if (prev) {
            prev.dispose();
            g.dispose();
          }
        }
      }
    }
    if (total) optimizer.applyGradients(total as tf.NamedTensorMap);
  } finally {
    if (total) tf.dispose(Object.values(total));
  }
  return lossSum;
}

/** Load the samples at `indices` of a dataset or sample array (in order). */
export async function loadFrom(data: Dataset | readonly Sample[], indices: readonly number[]): Promise<Sample[]> {
  return Array.isArray(data) ? indices.map((i) => (data as readonly Sample[])[i]) : loadSamples(data as Dataset, indices);
}

function datasetName(data: Dataset | readonly Sample[]): string {
  return Array.isArray(data) ? 'samples' : (data as Dataset).name;
}
