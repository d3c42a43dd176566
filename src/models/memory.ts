/**
 * Training-memory budget: an estimate of the memory one training step of a
 * built tfjs `LayersModel` needs at a batch size, and a check that refuses,
 * before any training, a run that cannot fit in the engine's memory.
 *
 * Why: the wasm engine has ONE linear heap of at most 4 GiB (wasm32; tfjs-
 * backend-wasm 4.22 grows it up to 4294901760 bytes). A model + batch + image
 * size past it (U-Net at paper width 64, 256 px, batch 8) dies with
 * `memory access out of bounds` / `Aborted()` after minutes of work, and the
 * aborted engine is unusable for the rest of the process.
 *
 * The estimate (bytes; float32 = 4 bytes; N = batch size):
 *
 * ```
 * weights      = 4 * P                  P: every weight (trainable + BatchNorm moving stats)
 * optimizer    = 8 * T                  T: trainable weights; Adam's two moments
 * gradients    = 4 * T                  all of one step's gradients live together before the update
 * activations  = 4 * N * (K * A + L)    A: sum over layers (and their call sites) of the output
 *                                          size per sample, input layer included;
 *                                       K: tensors the backward pass keeps per layer output
 *                                          (ACTIVATION_FACTOR, measured);
 *                                       L: the labels (one per output element)
 * transient    = 4 * N * 2 * M          M: largest layer output per sample: the gradient flowing
 *                                          into and out of the layer being differentiated
 * total        = sum of the above
 * ```
 *
 * Assumptions: float32 everywhere; the optimizer is Adam (medfl's default;
 * plain SGD needs less, so the check errs on the safe side); every layer's
 * output is kept for the backward pass (tfjs' tape does not recompute), and
 * the intermediate tensors a layer creates inside itself (bias add,
 * activation, BatchNorm's normalised input, concatenations) are covered by K
 * on average. Layers that hide a large inner graph (attention inside one
 * custom layer, nested models counted as one layer) are under-counted.
 * Kernel scratch (the chunked im2col buffers of medfl's conv gradients) and
 * allocator fragmentation are not counted: the engine limit keeps a margin
 * for them (see {@link WASM_TRAINING_LIMIT_BYTES}).
 */
import * as tf from '@tensorflow/tfjs';
import { formatBytes } from '../util/table';

/**
 * Tensors kept for the backward pass per layer output (K above), fitted on
 * the wasm engine: a least-squares fit of the peak of live tensor bytes
 * (`tf.profile`) of U-Net training (widths 8-64, 128-256 px, batch 2-8)
 * gives K = 2.16-2.19; 2.25 rounds up. With it the estimate is within
 * -1%..+5% of the measured tensor peak and -6%..+8% of the wasm heap's
 * high-water mark (see {@link WASM_TRAINING_LIMIT_BYTES}).
 */
export const ACTIVATION_FACTOR = 2.25;

/** Largest wasm heap (tfjs-backend-wasm 4.22: 65535 pages of 64 KiB). */
export const WASM_HEAP_MAX_BYTES = 4294901760;

/**
 * Training budget on the wasm engine: the 4 GiB heap minus 10% (about
 * 410 MiB). Calibration (U-Net, 2 Adam steps, widths 8-64, 128-256 px,
 * batch 2-8, wasm SIMD): the heap's high-water mark was 0.94-1.08 x the
 * estimate, so a run estimated at the limit peaks below 0.972 x 4 GiB; the
 * remaining ~3% covers what the calibration did not exercise (allocator
 * fragmentation over many rounds, evaluation and data-pipeline tensors). The
 * engine's own code, stack and static data (the initial 16 MiB heap) were
 * included in the measured marks. Paper-width U-Net at 256 px: batch 2
 * (estimate 2.6 GiB, peak 2.5 GiB) is accepted, batch 3 (estimate 3.7 GiB,
 * trains, peak 3.5 GiB) refused, batch 4 (estimate 4.8 GiB) aborts
 * the engine when tried.
 */
export const WASM_TRAINING_LIMIT_BYTES = Math.floor(WASM_HEAP_MAX_BYTES * 0.9);

/** Bytes of one training step, term by term (see the module comment). */
export interface TrainingMemoryEstimate {
  batchSize: number;
  /** Weights P (trainable and not). */
  parameters: number;
  /** Trainable weights T. */
  trainableParameters: number;
  weightsBytes: number;
  optimizerBytes: number;
  gradientBytes: number;
  /** Kept activations and labels for the whole batch: `4 * N * (K * A + L)`. */
  activationBytes: number;
  /** Backward-pass gradients of the largest layer: `4 * N * 2 * M`. */
  transientBytes: number;
  /** Bytes that grow with each sample of the batch: `4 * (K * A + L + 2 * M)`. */
  bytesPerSample: number;
  /** Bytes that do not depend on the batch size (weights, moments, gradients). */
  fixedBytes: number;
  totalBytes: number;
}

function product(shape: readonly (number | null)[]): number {
  let n = 1;
  for (const d of shape.slice(1)) n *= d ?? 1;
  return n;
}

/** Output shapes of every call site of a layer (several for a shared layer). */
function outputShapes(layer: tf.layers.Layer): (number | null)[][] {
  const shapes: (number | null)[][] = [];
  for (const node of layer.inboundNodes) {
    const s = node.outputShapes as unknown as (number | null)[] | (number | null)[][];
    if (s.length > 0 && Array.isArray(s[0])) shapes.push(...(s as (number | null)[][]));
    else shapes.push(s as (number | null)[]);
  }
  return shapes;
}

/**
 * Estimate the memory of one training step (Adam) of `model` at `batchSize`
 * (see the module comment for the formula). Reads only shapes: nothing is
 * allocated, so it is safe for a model far too big to train.
 */
export function estimateTrainingMemory(model: tf.LayersModel, batchSize: number): TrainingMemoryEstimate {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`estimateTrainingMemory: batchSize must be an integer >= 1, got ${batchSize}`);
  let parameters = 0;
  let trainableParameters = 0;
  for (const w of model.weights) {
    const n = w.shape.reduce((a: number, d) => a * (d ?? 1), 1);
    parameters += n;
    if (w.trainable) trainableParameters += n;
  }
  let kept = 0;
  let largest = 0;
  for (const layer of model.layers) {
    for (const shape of outputShapes(layer)) {
      const n = product(shape);
      kept += n;
      largest = Math.max(largest, n);
    }
  }
  const labels = model.outputs.reduce((a, t) => a + product(t.shape), 0);
  const perSample = 4 * (ACTIVATION_FACTOR * kept + labels + 2 * largest);
  const weightsBytes = 4 * parameters;
  const optimizerBytes = 8 * trainableParameters;
  const gradientBytes = 4 * trainableParameters;
  const fixedBytes = weightsBytes + optimizerBytes + gradientBytes;
  return {
    batchSize,
    parameters,
    trainableParameters,
    weightsBytes,
    optimizerBytes,
    gradientBytes,
    activationBytes: 4 * batchSize * (ACTIVATION_FACTOR * kept + labels),
    transientBytes: 4 * batchSize * 2 * largest,
    bytesPerSample: perSample,
    fixedBytes,
    totalBytes: fixedBytes + batchSize * perSample,
  };
}

/**
 * The training-memory limit of a tfjs backend in bytes: wasm
 * {@link WASM_TRAINING_LIMIT_BYTES}; `null` (no check) for 'tensorflow'
 * (tfjs-node / tfjs-node-gpu allocate outside any fixed heap) and 'cpu'
 * (one JavaScript ArrayBuffer per tensor, bounded by the machine).
 */
export function trainingMemoryLimit(backend: string = tf.getBackend()): number | null {
  return backend === 'wasm' ? WASM_TRAINING_LIMIT_BYTES : null;
}

/** Options of {@link checkTrainingMemory}. */
export interface TrainingMemoryCheckOptions {
  /** Engine whose limit applies. Default: the active tfjs backend. */
  backend?: string;
  /** Override the limit in bytes (`null`: no check). Default: {@link trainingMemoryLimit}. */
  limitBytes?: number | null;
  /** Who is asking, for the message (e.g. `runFederated`). */
  context?: string;
  /** How the model was built, for the message (e.g. `unet, width 64, input 256x256x3`). */
  modelLabel?: string;
}

/** A training run refused by {@link checkTrainingMemory}: its estimate exceeds the engine's limit. */
export class MemoryBudgetError extends Error {
  constructor(
    message: string,
    readonly estimate: TrainingMemoryEstimate,
    readonly limitBytes: number,
  ) {
    super(message);
    this.name = 'MemoryBudgetError';
  }
}

/**
 * Refuse, before any training, a run whose {@link estimateTrainingMemory}
 * exceeds the engine's limit: throws a {@link MemoryBudgetError} giving the
 * estimated need, the limit and what to change (the largest batch size that
 * fits, else a smaller width or image size). Returns the estimate otherwise.
 */
export function checkTrainingMemory(model: tf.LayersModel, batchSize: number, options: TrainingMemoryCheckOptions = {}): TrainingMemoryEstimate {
  const est = estimateTrainingMemory(model, batchSize);
  const backend = options.backend ?? tf.getBackend();
  const limit = options.limitBytes === undefined ? trainingMemoryLimit(backend) : options.limitBytes;
  if (limit === null || est.totalBytes <= limit) return est;
  const who = options.context ? `${options.context}: ` : '';
  const what = options.modelLabel ? `${options.modelLabel}, ` : '';
  const spare = limit - est.fixedBytes;
  const fitBatch = spare > 0 ? Math.floor(spare / est.bytesPerSample) : 0;
  const advice: string[] = [];
  if (fitBatch >= 1) advice.push(`a batch size of at most ${fitBatch}`);
  // Activations scale with height x width; weights do not: the largest side fraction f with fixed + N * perSample * f^2 <= limit.
  const [, h, w] = model.inputs[0].shape;
  const f = Math.sqrt(spare / (batchSize * est.bytesPerSample));
  if (spare > 0 && h && w) advice.push(`smaller images (about ${Math.floor(h * f)}x${Math.floor(w * f)} px or less at batch ${batchSize}, rounded down to what the model divides by; activations scale with height x width)`);
  advice.push('a smaller model width (weights and Adam moments scale with its square, activations linearly)');
  if (backend === 'wasm') advice.push("or the tfjs-node engine (backend 'tensorflow'), which has no 4 GiB heap");
  throw new MemoryBudgetError(
    `${who}training ${what}batch size ${batchSize} needs an estimated ${formatBytes(est.totalBytes)} ` +
      `(weights ${formatBytes(est.weightsBytes)}, Adam moments ${formatBytes(est.optimizerBytes)}, gradients ${formatBytes(est.gradientBytes)}, ` +
      `activations ${formatBytes(est.activationBytes + est.transientBytes)} = ${formatBytes(est.bytesPerSample)} per sample), ` +
      `over the ${backend} engine's limit of ${formatBytes(limit)}. Use ${advice.join('; ')}.`,
    est,
    limit,
  );
}
