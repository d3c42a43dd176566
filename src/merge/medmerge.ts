/**
 * MedMerge (arXiv:2403.11646): merge K >= 2 models of one architecture,
 * trained from DIFFERENT initialisations / on different source tasks, into
 * one model for a new target task.
 *
 * 1. Linear probing (LP) with learnable kernel-level merge coefficients:
 *    the source backbones are frozen; a target network (backbone copy + new
 *    head, see ./network) runs with every trainable backbone weight replaced
 *    by `W = sum_k a_k[c] * W_k[..., c]` (./coefficients), `a = f(logits)`;
 *    only the logits and the new head are trained.
 * 2. Collapse: the merged weights are written into the copy, giving ONE
 *    plain model (no extra parameters at inference).
 * 3. Fine-tuning (FT) of the whole merged model on the target data.
 *
 * Which weights get coefficients (`coefficientScope`):
 * - 'all' (default): every trainable backbone weight — conv / dense kernels,
 *   biases and the BatchNorm / LayerNorm affine parameters (gamma, beta) —
 *   each with its OWN per-channel coefficients (a BN layer's coefficients
 *   are not tied to the preceding conv's; tying needs graph matching the zoo's
 *   blocks do not guarantee, e.g. conv -> concat -> BN).
 * - 'kernels': only conv / dense / depthwise kernels; every other trainable
 *   weight is merged with the fixed initial coefficients.
 * Non-trainable weights (BN moving statistics) are first merged with the
 * initial coefficients; during LP the network runs in training mode
 * (`lpTraining`, default true: batch statistics, moving averages of the
 * copy updated), and after the collapse `bnStats` decides:
 * 're-estimate' (default; exact average of per-batch statistics over the
 * target training set), 'merge' (moving mean / variance merged with the
 * learned coefficients of the same layer's gamma), or 'keep'.
 *
 * Departures: the paper's backbones are ResNet-50 / DenseNet-121 on
 * HAM10K / ISIC-2019 / EyePACS / APTOS; here any zoo model or
 * `createClassifier`. The official code was not available to us (see
 * ./coefficients for the parametrisation we chose).
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset, Sample } from '../data/types';
import { loadSamples, chunk } from '../data/batch';
import { weightEntries, withWeights, writeWeights, type WeightEntry } from '../models/weights';
import {
  coefficientsFromLogits,
  defaultParametrization,
  logitsFromCoefficients,
  mergeTensors,
  type CoefficientParametrization,
} from './coefficients';
import { buildTargetNetwork, findHead, reestimateBatchNorm, sourceBackbones } from './network';
import { checkTaskSpec, evaluateTask, taskBatch, trainTask, trainModelTask, type TaskEpochLog, type TaskKind, type TaskScores, type TaskSpec } from '../train/task';

const KERNEL_ROLES = new Set(['kernel', 'depthwise_kernel', 'pointwise_kernel']);

/** Options of {@link MergeNetwork.create}. */
export interface MergeNetworkOptions {
  spec: TaskSpec;
  /** Layer whose output is the backbone output (default: the input of each source's head, see `findHead`). */
  featureLayer?: string;
  /** Default: 'sigmoid' for 2 sources, 'softmax' otherwise. */
  parametrization?: CoefficientParametrization;
  /** Default 'all' (see module doc). */
  coefficientScope?: 'all' | 'kernels';
  /**
   * Initial weight of each source (same for every channel). Default uniform
   * (0.5 / 0.5 for two models, 1/K for softmax, 0.5 each for independent sigmoids).
   */
  initialCoefficients?: readonly number[];
  /** Seeds the new head (default 0). */
  seed?: number;
}

/** Learned coefficients of one weight. */
export interface CoefficientReport {
  layer: string;
  role: string;
  /** `[K][C]`: weight of source k on channel c. */
  values: number[][];
  /** Per-source mean over channels. */
  mean: number[];
}

/**
 * The coefficient-merged network of the LP stage (see module doc). Create
 * with {@link MergeNetwork.create}; call {@link dispose} when done (it frees
 * the coefficient variables; the target model stays usable).
 */
export class MergeNetwork {
  /** Whole target network (backbone copy + new head). */
  readonly model: tf.LayersModel;
  /** Weights of the backbone copy (indices match every source backbone's). */
  readonly entries: WeightEntry[];
  /** Weights of each source backbone. */
  readonly sourceEntries: WeightEntry[][];
  readonly parametrization: CoefficientParametrization;
  /** Backbone weight index -> coefficient logits `[K, C]`. */
  readonly logits = new Map<number, tf.Variable>();
  private readonly headVars: tf.Variable[];
  private collapsed = false;

  private constructor(
    model: tf.LayersModel,
    entries: WeightEntry[],
    sourceEntries: WeightEntry[][],
    headVars: tf.Variable[],
    parametrization: CoefficientParametrization,
  ) {
    this.model = model;
    this.entries = entries;
    this.sourceEntries = sourceEntries;
    this.headVars = headVars;
    this.parametrization = parametrization;
  }

  /** Build the network from the source models (full models with their own heads). */
  static async create(sources: readonly tf.LayersModel[], options: MergeNetworkOptions): Promise<MergeNetwork> {
    checkTaskSpec('MergeNetwork', options.spec);
    const K = sources.length;
    if (K < 2) throw new Error(`MergeNetwork: needs at least 2 source models, got ${K}`);
    const p = options.parametrization ?? defaultParametrization(K);
    if (p === 'sigmoid' && K !== 2) throw new Error(`MergeNetwork: parametrization 'sigmoid' needs 2 sources, got ${K}; use 'softmax'`);
    const init = options.initialCoefficients ?? new Array<number>(K).fill(p === 'independent-sigmoid' ? 0.5 : 1 / K);
    if (init.length !== K || !init.every((v) => Number.isFinite(v))) {
      throw new Error(`MergeNetwork: initialCoefficients must hold ${K} finite numbers, got [${init.join(', ')}]`);
    }
    const head = findHead(sources[0]);
    const backbones = sourceBackbones(sources, options.featureLayer);
    const target = await buildTargetNetwork(backbones[0], options.spec, { kernelSize: head.kernelSize, seed: options.seed });
    const entries = weightEntries(target.backbone);
    const sourceEntries = backbones.map((b) => weightEntries(b));
    const headVars = target.headWeights.map((w) => w.read() as tf.Variable);
    const net = new MergeNetwork(target.model, entries, sourceEntries, headVars, p);
    // Every weight starts as the initial merge (fixed for weights without coefficients).
    const a0 = tf.tensor2d(init.map((v) => [v]), [K, 1]);
    try {
      const fixed = new Map<number, tf.Tensor>();
      for (const e of entries) fixed.set(e.index, mergeTensors(sourceEntries.map((s) => s[e.index].variable.read()), a0, e.channelAxis));
      writeWeights(entries, fixed);
      fixed.forEach((t) => t.dispose());
    } finally {
      a0.dispose();
    }
    const scope = options.coefficientScope ?? 'all';
    for (const e of entries) {
      if (!e.trainable) continue;
      if (scope === 'kernels' && !KERNEL_ROLES.has(e.role)) continue;
      const z = logitsFromCoefficients(init.map((v) => new Array<number>(e.channels).fill(v)), p);
      const z0 = tf.tensor2d(z, [K, e.channels]);
      net.logits.set(e.index, tf.variable(z0, true));
      z0.dispose();
    }
    return net;
  }

  /** The trainable coefficient logits (one `[K, C]` variable per merged weight). */
  coefficientVariables(): tf.Variable[] {
    return [...this.logits.values()];
  }

  /** The new head's variables. */
  headVariables(): tf.Variable[] {
    return [...this.headVars];
  }

  /** Merged backbone weights (index -> tensor); create inside a tidy / gradient scope. */
  mergedWeights(): Map<number, tf.Tensor> {
    const out = new Map<number, tf.Tensor>();
    for (const [index, z] of this.logits) {
      const e = this.entries[index];
      const a = coefficientsFromLogits(z as tf.Tensor2D, this.parametrization);
      out.set(index, mergeTensors(this.sourceEntries.map((s) => s[index].variable.read()), a, e.channelAxis));
    }
    return out;
  }

  /**
   * Forward pass of the coefficient-merged network (gradients reach the
   * logits and the head). After {@link collapse} this is the plain model.
   */
  forward(x: tf.Tensor4D, training = false): tf.Tensor {
    if (this.collapsed) return this.model.apply(x, { training }) as tf.Tensor;
    return withWeights(this.entries, this.mergedWeights(), () => this.model.apply(x, { training }) as tf.Tensor);
  }

  /** Current merge weights `a [K][C]` of every merged weight. */
  coefficients(): CoefficientReport[] {
    const out: CoefficientReport[] = [];
    for (const [index, z] of this.logits) {
      const e = this.entries[index];
      const a = coefficientsFromLogits(z as tf.Tensor2D, this.parametrization);
      const values = a.arraySync();
      a.dispose();
      out.push({ layer: e.layer, role: e.role, values, mean: values.map((r) => r.reduce((s, v) => s + v, 0) / r.length) });
    }
    return out;
  }

  /**
   * Write the merged weights into the backbone copy: `model` becomes one
   * plain network. `bnStats: 'merge'` also merges BN moving statistics with
   * the learned coefficients of the layer's gamma (when it has them).
   */
  collapse(bnStats: 'merge' | 'keep' = 'keep'): tf.LayersModel {
    if (this.collapsed) return this.model;
    tf.tidy(() => {
      const merged = this.mergedWeights();
      if (bnStats === 'merge') {
        for (const e of this.entries) {
          if (e.layerClass !== 'BatchNormalization' || (e.role !== 'moving_mean' && e.role !== 'moving_variance')) continue;
          const gamma = this.entries.find((g) => g.layer === e.layer && g.role === 'gamma' && this.logits.has(g.index));
          if (!gamma) continue;
          const a = coefficientsFromLogits(this.logits.get(gamma.index) as tf.Tensor2D, this.parametrization);
          merged.set(e.index, mergeTensors(this.sourceEntries.map((s) => s[e.index].variable.read()), a, e.channelAxis));
        }
      }
      writeWeights(this.entries, merged);
    });
    this.collapsed = true;
    return this.model;
  }

  /** Whether {@link collapse} ran. */
  get isCollapsed(): boolean {
    return this.collapsed;
  }

  /** Free the coefficient variables (the model is kept). */
  dispose(): void {
    this.logits.forEach((v) => v.dispose());
    this.logits.clear();
  }
}

/** What to do with BatchNorm moving statistics after the collapse. */
export type BatchNormStats = 're-estimate' | 'merge' | 'keep';

/** Options of {@link medMerge}. */
export interface MedMergeOptions {
  /** K >= 2 full source models of one architecture (their heads are dropped). */
  sources: tf.LayersModel[];
  /** Target task data; `test` is used only for the reported metrics. */
  target: { train: Dataset; test?: Dataset };
  task: TaskKind;
  /**
   * Output channels of the new head. Default: `target.train.classNames.length`
   * (classification) or 1 (binary segmentation).
   */
  numClasses?: number;
  featureLayer?: string;
  parametrization?: CoefficientParametrization;
  coefficientScope?: 'all' | 'kernels';
  initialCoefficients?: readonly number[];
  /** LP epochs (default 5). */
  lpEpochs?: number;
  /** FT epochs (default 5). */
  ftEpochs?: number;
  /** Adam learning rate of the LP stage (coefficients + head). Default 1e-2. */
  lpLearningRate?: number;
  /** Adam learning rate of FT. Default 1e-3. */
  ftLearningRate?: number;
  /** Default 8. */
  batchSize?: number;
  /** Run the network in training mode during LP (BN batch statistics). Default true. */
  lpTraining?: boolean;
  /** Default 're-estimate'. */
  bnStats?: BatchNormStats;
  /** Seeds the head and the batch order (default 0). */
  seed?: number;
}

/** Result of {@link medMerge}. */
export interface MedMergeResult {
  /** The collapsed, fine-tuned merged model. */
  merged: tf.LayersModel;
  /** Learned merge weights after LP. */
  coefficients: CoefficientReport[];
  history: { lp: TaskEpochLog[]; ft: TaskEpochLog[] };
  /**
   * Test scores (when `target.test` is given) after LP + collapse + BN
   * statistics (before FT), and after FT.
   */
  metrics: { afterLp?: TaskScores; final?: TaskScores };
}

/** Resolve the task spec of a target dataset. */
export function targetSpec(task: TaskKind, data: Dataset, numClasses?: number): TaskSpec {
  const spec = { task, numClasses: numClasses ?? (task === 'classification' ? data.classNames.length : 1) };
  checkTaskSpec('medMerge', spec);
  return spec;
}

/** Load `data` as batches of images `[B,H,W,C]` (for BN re-estimation). Caller disposes. */
export async function imageBatches(data: Dataset, spec: TaskSpec, batchSize: number): Promise<tf.Tensor4D[]> {
  const out: tf.Tensor4D[] = [];
  for (const idx of chunk(Array.from({ length: data.length }, (_, i) => i), batchSize)) {
    const samples: Sample[] = await loadSamples(data, idx);
    const { x, y } = taskBatch(samples, spec);
    y.dispose();
    out.push(x);
  }
  return out;
}

/**
 * Run MedMerge end to end: LP with learnable per-channel merge coefficients,
 * collapse to one model, BN statistics, FT (see module doc).
 */
export async function medMerge(options: MedMergeOptions): Promise<MedMergeResult> {
  const spec = targetSpec(options.task, options.target.train, options.numClasses);
  const seed = options.seed ?? 0;
  const batchSize = options.batchSize ?? 8;
  const net = await MergeNetwork.create(options.sources, {
    spec,
    featureLayer: options.featureLayer,
    parametrization: options.parametrization,
    coefficientScope: options.coefficientScope,
    initialCoefficients: options.initialCoefficients,
    seed,
  });
  try {
    const lpTraining = options.lpTraining ?? true;
    const lp = await trainTask(options.target.train, {
      spec,
      epochs: options.lpEpochs ?? 5,
      vars: [...net.coefficientVariables(), ...net.headVariables()],
      forward: (x) => net.forward(x, lpTraining),
      learningRate: options.lpLearningRate ?? 1e-2,
      batchSize,
      seed,
    });
    const coefficients = net.coefficients();
    const metrics: MedMergeResult['metrics'] = {};
    const bnStats = options.bnStats ?? 're-estimate';
    const model = net.collapse(bnStats === 'merge' ? 'merge' : 'keep');
    if (bnStats === 're-estimate') {
      const batches = await imageBatches(options.target.train, spec, batchSize);
      try {
        reestimateBatchNorm(model, batches);
      } finally {
        batches.forEach((b) => b.dispose());
      }
    }
    if (options.target.test) metrics.afterLp = await evaluateTask((x) => model.predict(x) as tf.Tensor, options.target.test, spec);
    const ft = await trainModelTask(model, options.target.train, {
      spec,
      epochs: options.ftEpochs ?? 5,
      learningRate: options.ftLearningRate ?? 1e-3,
      batchSize,
      seed: seed + 1,
    });
    if (options.target.test) metrics.final = await evaluateTask((x) => model.predict(x) as tf.Tensor, options.target.test, spec);
    return { merged: model, coefficients, history: { lp, ft }, metrics };
  } finally {
    net.dispose();
  }
}
