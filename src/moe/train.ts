/**
 * Two-phase M4oE training and per-modality evaluation (Jiang & Shen 2024,
 * arXiv:2405.09446).
 *
 * Phase 1 (the paper's modality-specific expert training): hard routing, every
 * batch holds ONE modality m; the step updates the shared layers, expert m of
 * every MoE layer and head m only (the other experts / heads are left exactly
 * untouched, see `SubsetAdam`); the gate is not trained.
 * Phase 2 (the paper's fine-tuning with the gating network): soft routing, batches
 * mix all modalities (shuffled together), every weight is trained, loss =
 * segmentation loss + `balanceWeight` x load-balancing loss (`loadBalancingLoss`).
 * A new optimizer starts phase 2.
 *
 * Loss of a batch: each sample is scored on its own modality's head only:
 * `sum_m n_m * L_m(y_m, head_m[rows of m]) / N`, with
 * `L_m = 0.4 CE + 0.7 Dice` (the released trainer's weights; binary CE + Dice for
 * K = 1 heads, categorical CE + Dice over all K channels otherwise).
 *
 * Departures: Adam 1e-3 (official: SGD momentum 0.9, weight decay 1e-4, poly LR,
 * early stopping); the released code has no load-balancing loss and trains one
 * phase only (gate on from the start); phase 2 here adds the auxiliary loss the
 * task asked for (default coefficient 0.01, Switch Transformer's). The paper gives
 * no phase lengths: both are options.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset, Sample } from '../data/types';
import { toBatch } from '../data/batch';
import type { SiteSplits } from '../data/site';
import { createRng } from '../util/rng';
import { bceDiceLoss, type LossFunction } from '../metrics/losses';
import { CumulativeSegmentationMetric } from '../metrics/cumulative';
import { evaluateBatches, forEachPrediction, runEpochs as runLoop, stackImages, type BatchLog } from '../train';
import {
  buildM4oESwin,
  buildMoeUnet,
  expertWeights,
  hasMoEStats,
  isGateWeight,
  setRouting,
  type M4oEModality,
  type M4oESwinOptions,
  type M4oEVariant,
} from './build';
import { loadBalancingLoss, modalityOneHot, splitStats, type BalanceLoss } from './gating';
import type { MoEGate } from './swin-moe-block';
import { SubsetAdam } from './optim';


/** Which backbone {@link trainM4oE} builds. */
export type M4oEBuilder = 'swin' | 'unet';

/** Options of {@link trainM4oE}. */
export interface TrainM4oEOptions {
  /** 'swin' (the paper's Swin-Unet) or 'unet' (CPU-scale MoE U-Net). */
  builder: M4oEBuilder;
  /** Modalities (order = modality id = expert = head). */
  modalities: readonly M4oEModality[];
  /** Data per modality name. Images share one `[H, W, C]`; masks are class maps < numClasses (binary heads: > 0 = foreground). */
  data: Readonly<Record<string, SiteSplits>>;
  /** Phase-1 epochs (hard routing, per-modality batches). */
  phase1Epochs: number;
  /** Phase-2 epochs (soft routing, mixed batches, + load balancing). */
  phase2Epochs: number;
  /** Seeds the weights and the batch order. Default 0. */
  seed?: number;
  /** 'moe' (default) or 'shared' (same network without MoE; baseline). */
  variant?: M4oEVariant;
  /** Default 8. */
  batchSize?: number;
  /** Adam learning rate of phase 1. Default 1e-3. */
  learningRate?: number;
  /** Adam learning rate of phase 2. Default `learningRate`. */
  phase2LearningRate?: number;
  /** Load-balancing flavour. Default 'cv'. */
  balance?: BalanceLoss;
  /** Coefficient of the load-balancing loss in phase 2. Default 0.01 (0 = off). */
  balanceWeight?: number;
  /** Cross-entropy weight. Default 0.4 (released trainer). */
  ceWeight?: number;
  /** Dice weight. Default 0.7 (released trainer). */
  diceWeight?: number;
  /** Builder width (swin default 16, unet default 4). */
  width?: number;
  /** Soft gate flavour. Default 'paper'. */
  gate?: MoEGate;
  /** Top-k of the paper gate. Default E (dense). */
  topK?: number;
  /** Swin-only builder knobs. */
  swin?: Pick<M4oESwinOptions, 'depths' | 'windowSize' | 'mlpRatio' | 'headDim'>;
  /** Train this model instead of building one (must match `modalities` and `variant`). */
  model?: tf.LayersModel;
  /** Evaluation batch size. Default 16. */
  evalBatchSize?: number;
  /** Called after every epoch. */
  onEpoch?: (log: M4oEEpochLog) => void;
  /** Called after every batch (images, loss, seconds; `terms.seg` / `terms.balance`). */
  onBatch?: (log: BatchLog & { phase: 1 | 2 }) => void;
}

/** One epoch of {@link trainM4oE}. */
export interface M4oEEpochLog {
  phase: 1 | 2;
  /** Epoch index within its phase. */
  epoch: number;
  /** Mean total loss per image. */
  loss: number;
  /** Mean segmentation loss per image. */
  segLoss: number;
  /** Mean load-balancing loss per batch (0 in phase 1 / without MoE). */
  balanceLoss: number;
  images: number;
  seconds: number;
}

/** Scores of one modality's test set (per-image mean Dice / IoU over foreground classes, NaN policy of the metrics module). */
export interface M4oEModalityScore {
  images: number;
  dice: number;
  iou: number;
  /** Dice pooled over all pixels. */
  pooledDice: number;
}

/** Result of {@link evaluateM4oE}. */
export interface M4oEEvaluation {
  perModality: Record<string, M4oEModalityScore>;
  /** Mean of the per-modality Dice values. */
  meanDice: number;
  /**
   * Expert utilization: for each modality, the mean mixing weight of each expert
   * over its test images, tokens and MoE layers (`[E]`, sums to 1). Null without MoE.
   */
  utilization: Record<string, number[]> | null;
  /** Same per MoE layer: `[L][E]`. */
  utilizationPerLayer: Record<string, number[][]> | null;
}

/** Result of {@link trainM4oE}. */
export interface M4oEResult {
  model: tf.LayersModel;
  history: M4oEEpochLog[];
  evaluation: M4oEEvaluation;
  /** `model.countParams()` (trainable + BN statistics). */
  params: number;
}

interface Item {
  m: number;
  i: number;
}

function checkEpochs(v: number, name: string): void {
  if (!Number.isInteger(v) || v < 0) throw new Error(`trainM4oE: ${name} must be a non-negative integer, got ${v}`);
}

/** Build the network {@link trainM4oE} would build for these options. */
export function buildForTraining(options: TrainM4oEOptions, inputShape: [number, number, number]): tf.LayersModel {
  const common = {
    inputShape,
    modalities: options.modalities,
    width: options.width,
    seed: options.seed ?? 0,
    gate: options.gate,
    topK: options.topK,
    variant: options.variant ?? 'moe',
  };
  if (options.builder === 'swin') return buildM4oESwin({ ...common, ...(options.swin ?? {}) });
  if (options.builder === 'unet') return buildMoeUnet(common);
  throw new Error(`trainM4oE: builder must be 'swin' or 'unet', got '${String(options.builder)}'`);
}

function segLossFor(k: number, ce: number, dice: number): LossFunction {
  return bceDiceLoss({ bceWeight: ce, diceWeight: dice, crossEntropy: k === 1 ? 'binary' : 'categorical' });
}

function asArray(out: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(out) ? out : [out];
}

/** Trainable variables grouped by role: gate, expert e, head m, the rest. */
interface VarGroups {
  all: tf.Variable[];
  gate: Set<tf.Variable>;
  experts: Array<Set<tf.Variable>>;
  heads: Array<Set<tf.Variable>>;
}

function groupVariables(model: tf.LayersModel, numModalities: number, moe: boolean): VarGroups {
  const asVar = (w: tf.LayerVariable): tf.Variable => w.read() as tf.Variable;
  const gate = new Set(model.trainableWeights.filter(isGateWeight).map(asVar));
  const experts = Array.from({ length: moe ? numModalities : 0 }, (_, e) => new Set(expertWeights(model, e).map(asVar)));
  const heads = Array.from({ length: numModalities }, (_, m) => {
    const re = new RegExp(`^head${m}/`);
    return new Set(model.trainableWeights.filter((w) => re.test(w.name)).map(asVar));
  });
  return { all: model.trainableWeights.map(asVar), gate, experts, heads };
}

function activeVariables(g: VarGroups, present: Set<number>, phase: 1 | 2): tf.Variable[] {
  const out: tf.Variable[] = [];
  for (const v of g.all) {
    if (phase === 1 && g.gate.has(v)) continue;
    if (g.heads.some((s, m) => s.has(v) && !present.has(m))) continue;
    if (phase === 1 && g.experts.some((s, e) => s.has(v) && !present.has(e))) continue;
    out.push(v);
  }
  return out;
}

/**
 * Two-phase M4oE training (see the module doc), then evaluation on every
 * modality's test set. Same options + seed = same result.
 */
export async function trainM4oE(options: TrainM4oEOptions): Promise<M4oEResult> {
  const mods = options.modalities;
  checkEpochs(options.phase1Epochs, 'phase1Epochs');
  checkEpochs(options.phase2Epochs, 'phase2Epochs');
  if (!Array.isArray(mods) || mods.length === 0) throw new Error('trainM4oE: modalities must be a non-empty array');
  for (const m of mods) {
    const d = options.data[m.name];
    if (!d || !d.train || !d.test) throw new Error(`trainM4oE: data['${m.name}'] must be { train, test } (modality '${m.name}' has no data)`);
    if (d.train.length === 0) throw new Error(`trainM4oE: data['${m.name}'].train is empty`);
  }
  const batchSize = options.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`trainM4oE: batchSize must be a positive integer, got ${batchSize}`);
  const seed = options.seed ?? 0;
  const balance = options.balance ?? 'cv';
  const balanceWeight = options.balanceWeight ?? 0.01;
  if (!(balanceWeight >= 0)) throw new Error(`trainM4oE: balanceWeight must be >= 0, got ${balanceWeight}`);
  const first = await options.data[mods[0].name].train.load(0);
  const model = options.model ?? buildForTraining(options, first.shape);
  const moe = hasMoEStats(model);
  if ((options.variant ?? 'moe') === 'moe' && !moe) throw new Error(`trainM4oE: variant 'moe' but the model has no MoE layers`);
  const expectedOutputs = mods.length + (moe ? 1 : 0);
  if (model.outputs.length !== expectedOutputs) {
    throw new Error(`trainM4oE: the model has ${model.outputs.length} outputs, expected ${expectedOutputs} (one head per modality${moe ? ' + moe_stats' : ''})`);
  }
  const losses = mods.map((m) => segLossFor(m.numClasses, options.ceWeight ?? 0.4, options.diceWeight ?? 0.7));
  const groups = groupVariables(model, mods.length, moe);
  const rng = createRng(seed);
  const history: M4oEEpochLog[] = [];

  /** Phase 1: one modality per batch (each modality's permutation in chunks, batches shuffled); phase 2: all mixed, sorted by modality within a batch. */
  const plan = (phase: 1 | 2, epoch: number): Item[][] => {
    const r = rng.fork(`phase${phase}-epoch${epoch}`);
    let batches: Item[][] = [];
    if (phase === 1) {
      mods.forEach((m, mi) => {
        const order = r.permutation(options.data[m.name].train.length);
        for (let s = 0; s < order.length; s += batchSize) batches.push(order.slice(s, s + batchSize).map((i) => ({ m: mi, i })));
      });
      batches = r.shuffle(batches);
    } else {
      const all = r.shuffle(mods.flatMap((m, mi) => Array.from({ length: options.data[m.name].train.length }, (_, i) => ({ m: mi, i }))));
      for (let s = 0; s < all.length; s += batchSize) batches.push(all.slice(s, s + batchSize).sort((a, b) => a.m - b.m));
    }
    return batches;
  };

  const runEpochs = async (phase: 1 | 2, epochs: number, lr: number): Promise<void> => {
    if (epochs === 0) return;
    if (moe) setRouting(model, phase === 1 ? 'hard' : 'soft');
    const adam = new SubsetAdam({ learningRate: lr });
    // The balance loss is averaged per batch (the loop averages terms per image).
    let balance = 0;
    try {
      await runLoop<Item[]>({
        epochs,
        plan: (epoch) => plan(phase, epoch),
        step: async (batch) => {
          const res = await trainStep(batch, phase, adam);
          balance += res.balance;
          return { loss: res.total, terms: { seg: res.seg, balance: res.balance } };
        },
        onBatch: options.onBatch ? (l) => options.onBatch?.({ ...l, phase }) : undefined,
        onEpoch: (l) => {
          const log: M4oEEpochLog = {
            phase,
            epoch: l.epoch,
            loss: l.loss,
            segLoss: l.terms.seg,
            balanceLoss: balance / l.batches,
            images: l.images,
            seconds: l.seconds,
          };
          balance = 0;
          history.push(log);
          options.onEpoch?.(log);
        },
      });
    } finally {
      adam.dispose();
    }
  };

  const trainStep = async (batch: Item[], phase: 1 | 2, adam: SubsetAdam): Promise<{ total: number; seg: number; balance: number }> => {
    const samples: Sample[] = [];
    for (const it of batch) samples.push(await options.data[mods[it.m].name].train.load(it.i));
    const present = new Set(batch.map((b) => b.m));
    const spans = [...present].map((m) => {
      const start = batch.findIndex((b) => b.m === m);
      const count = batch.filter((b) => b.m === m).length;
      const k = mods[m].numClasses;
      const pair = toBatch(samples.slice(start, start + count), k === 1 ? 'binary' : 'onehot', k);
      pair.x.dispose();
      return { m, start, count, y: pair.y };
    });
    const x = stackImages(samples, 'trainM4oE');
    const route = moe ? modalityOneHot(batch.map((b) => b.m), mods.length) : null;
    let segValue = 0;
    let balValue = 0;
    try {
      const total = adam.step(() => {
        const outs = asArray(model.apply(route ? [x, route] : x, { training: true }) as tf.Tensor | tf.Tensor[]);
        let sum: tf.Tensor = tf.scalar(0);
        for (const s of spans) {
          const head = outs[s.m];
          const pred = s.count === batch.length ? head : tf.slice(head, [s.start, 0, 0, 0], [s.count, -1, -1, -1]);
          sum = tf.add(sum, tf.mul(losses[s.m](s.y, pred), s.count));
        }
        const segLoss = tf.div(sum, batch.length) as tf.Scalar;
        segValue = segLoss.dataSync()[0];
        if (phase === 2 && moe && balanceWeight > 0) {
          const b = loadBalancingLoss(outs[mods.length], balance);
          balValue = b.dataSync()[0];
          return tf.add(segLoss, tf.mul(b, balanceWeight)) as tf.Scalar;
        }
        return segLoss;
      }, activeVariables(groups, present, phase));
      return { total, seg: segValue, balance: balValue };
    } finally {
      x.dispose();
      route?.dispose();
      for (const s of spans) s.y.dispose();
    }
  };

  await runEpochs(1, options.phase1Epochs, options.learningRate ?? 1e-3);
  await runEpochs(2, options.phase2Epochs, options.phase2LearningRate ?? options.learningRate ?? 1e-3);
  const tests: Record<string, Dataset> = {};
  for (const m of mods) tests[m.name] = options.data[m.name].test;
  const evaluation = await evaluateM4oE(model, mods, tests, { batchSize: options.evalBatchSize });
  return { model, history, evaluation, params: model.countParams() };
}

/** Options of {@link evaluateM4oE}. */
export interface EvaluateM4oEOptions {
  /** Default 16. */
  batchSize?: number;
  /** Probability threshold of single-channel (sigmoid) heads. Default 0.5. */
  threshold?: number;
}

/**
 * Score an M4oE (or shared / single-modality) model on each modality's test set,
 * each image through its own head with its modality id as route (the model's
 * current routing: soft after phase 2, hard after phase 1 only), and measure the
 * expert utilization (mean mixing weight per expert per modality, from the
 * `moe_stats` output). Under the released code's channel gate the utilization is
 * uniform by construction (that gate weighs no expert).
 */
export async function evaluateM4oE(
  model: tf.LayersModel,
  modalities: readonly M4oEModality[],
  tests: Readonly<Record<string, Dataset>>,
  options: EvaluateM4oEOptions = {},
): Promise<M4oEEvaluation> {
  const batchSize = options.batchSize ?? 16;
  const moe = hasMoEStats(model);
  const perModality: Record<string, M4oEModalityScore> = {};
  const utilization: Record<string, number[]> = {};
  const utilizationPerLayer: Record<string, number[][]> = {};
  for (let mi = 0; mi < modalities.length; mi++) {
    const mod = modalities[mi];
    const ds = tests[mod.name];
    if (!ds) throw new Error(`evaluateM4oE: no test data for modality '${mod.name}'`);
    const metric = new CumulativeSegmentationMetric({ numClasses: Math.max(2, mod.numClasses), metrics: ['dice', 'iou'], includeBackground: false });
    let statSum = null as Float64Array | null;
    let layers = 0;
    let experts = 0;
    await evaluateBatches(ds, {
      batchSize,
      predict: (samples, idx) => {
        const x = stackImages(samples, 'evaluateM4oE');
        const inputs = moe ? [x, modalityOneHot(idx.map(() => mi), modalities.length)] : x;
        const outs = asArray(model.predict(inputs) as tf.Tensor | tf.Tensor[]);
        return moe ? [outs[mi], splitStats(outs[modalities.length]).weights] : [outs[mi]];
      },
      accumulate: (samples, [probs, stats]) => {
        forEachPrediction(probs, samples, (smp, p, hw) => metric.update(p, smp.mask, hw), { threshold: options.threshold, owner: `evaluateM4oE ('${mod.name}')` });
        if (stats) {
          const [n, l, e] = stats.shape;
          const sv = stats.values;
          layers = l;
          experts = e;
          statSum ??= new Float64Array(l * e);
          for (let b = 0; b < n; b++) for (let j = 0; j < l * e; j++) statSum[j] += sv[b * l * e + j];
        }
      },
    });
    const mean = metric.aggregate('mean-image');
    const pooled = metric.aggregate('pooled');
    perModality[mod.name] = {
      images: mean.numImages,
      dice: mean.scores.dice?.mean ?? NaN,
      iou: mean.scores.iou?.mean ?? NaN,
      pooledDice: pooled.scores.dice?.mean ?? NaN,
    };
    if (statSum) {
      const sums = statSum;
      const perLayer = Array.from({ length: layers }, (_, l) => Array.from({ length: experts }, (_, e) => sums[l * experts + e] / ds.length));
      utilizationPerLayer[mod.name] = perLayer;
      utilization[mod.name] = Array.from({ length: experts }, (_, e) => perLayer.reduce((a, row) => a + row[e], 0) / layers);
    }
  }
  const dices = modalities.map((m) => perModality[m.name].dice);
  return {
    perModality,
    meanDice: dices.reduce((a, b) => a + b, 0) / dices.length,
    utilization: moe ? utilization : null,
    utilizationPerLayer: moe ? utilizationPerLayer : null,
  };
}
