/**
 * The strategy contract, shaped as Flower shapes it (flwr `Strategy`:
 * configure_train / aggregate_train / configure_evaluate / aggregate_evaluate),
 * the client side every strategy shares ({@link trainClient}, Flower's
 * ClientApp "train"), the resolved run configuration and the
 * per-(seed, round, key) seeds.
 *
 * The round loop ({@link runFederated} in ./rounds) owns the global weights
 * (Flower's server-held `arrays`) and, each round: asks the strategy which
 * sites to sample ({@link Strategy.selectClients}), drops absent sites,
 * gets one {@link TrainInstruction} per site ({@link Strategy.configureTrain}),
 * runs them (in this thread, in worker threads, chained for sequential
 * strategies, or by the strategy itself for split learning), hands the
 * results and failures to {@link Strategy.aggregateTrain} for the next global
 * weights, and evaluates what {@link Strategy.configureEvaluate} says each
 * site deploys. A user-written strategy is any object implementing
 * {@link Strategy}, passed as `config.strategy` or registered by name
 * (./registry).
 *
 * Optimizer state: every client (and every split part) starts each round
 * with a FRESH Adam optimizer, as FedAvg clients do (McMahan et al.,
 * arXiv:1602.05629, run plain local SGD per round). Centralized and local
 * training follow the same rule so the strategies are comparable and a
 * checkpoint (global weights + strategy state) makes resume exact.
 */
import { SEGMENTATION_LOSSES, segmentationLoss, type SegmentationLossName } from '../metrics/losses';
import * as tf from '@tensorflow/tfjs';
import type { LayersModel } from '@tensorflow/tfjs';
import { checkSchedule, learningRateAt, trainSegmentation, type BatchLog, type LearningRateSchedule } from '../train';
import type { MaskEncoding } from '../data/batch';
import { createRng } from '../util/rng';
import type { CheckpointState } from './results';
import type { DropoutConfig, FederatedConfig, ModelConfig, PooledScores, StrategyConfig } from './types';
import type { SegmentationSummary } from '../train';
import { getWeights, setWeights, type WeightSpec } from '../models/weights';
import { privatizeUpdate, noiseSeed } from './privacy/dp';
import { add, subtract } from './aggregate';
import type { LoggedSplitMessage } from './splitfed';
import type { Site } from '../data/site';

/** {@link FederatedConfig} with every default applied. */
export interface ResolvedConfig {
  /** The strategy options (a registered name + options) or a user-written strategy object. */
  strategy: StrategyConfig | Strategy;
  model: Required<Pick<ModelConfig, 'name' | 'inputShape' | 'numClasses'>> & ModelConfig;
  rounds: number;
  localEpochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  evalBatchSize: number;
  evalEvery: number;
  dropout: DropoutConfig;
  workers: number;
  /** 'binary' when the model has 1 output channel, else 'onehot'. */
  encoding: MaskEncoding;
  /** Classes incl. background for training targets and evaluation (2 for a 1-channel model). */
  classes: number;
  /** Default `{ name: 'constant' }`. */
  learningRateSchedule: LearningRateSchedule;
  /** Default 'bce-dice'. */
  loss: SegmentationLossName;
  /** `config.selection` (undefined: decided by the sites, see `FederatedConfig.selection`). */
  selection?: 'best-validation-loss' | 'last';
  /** Plateau rule of the convergence flag (see `FederatedConfig.convergence`). */
  convergence: { patience: number; minRelativeImprovement: number };
}

function checkLossName(name: unknown): SegmentationLossName {
  if (!SEGMENTATION_LOSSES.includes(name as SegmentationLossName)) throw new Error(`runFederated: loss must be one of ${SEGMENTATION_LOSSES.map((l) => `'${l}'`).join(', ')}, got ${JSON.stringify(name)}`);
  return name as SegmentationLossName;
}

/** True when `s` is a strategy object (it has `configureTrain`), not a JSON options block. */
export function isStrategyObject(s: unknown): s is Strategy {
  return typeof s === 'object' && s !== null && typeof (s as Strategy).configureTrain === 'function';
}

function posInt(name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Error(`runFederated: ${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Validate the run-level fields of a {@link FederatedConfig} and fill their
 * defaults (documented on its fields). The strategy options are validated by
 * the registry (`checkStrategyConfig` in ./registry), which `runFederated`
 * calls first; `defaultRounds` is the strategy's (1 for 'iil', else 3).
 */
export function resolveRunConfig(config: FederatedConfig, defaultRounds = 3): ResolvedConfig {
  if (!config.model || typeof config.model.name !== 'string') throw new Error('runFederated: config.model.name is required (e.g. "unet")');
  const numClasses = config.model.numClasses ?? 1;
  const learningRate = config.learningRate ?? 1e-3;
  if (!(learningRate > 0)) throw new Error(`runFederated: learningRate must be > 0, got ${learningRate}`);
  const p = config.dropout?.probability ?? 0;
  if (!(p >= 0 && p <= 1)) throw new Error(`runFederated: dropout.probability must be in [0, 1], got ${p}`);
  const learningRateSchedule = config.learningRateSchedule ?? { name: 'constant' };
  const scheduleProblems = checkSchedule(learningRateSchedule, learningRate);
  if (scheduleProblems.length) throw new Error(`runFederated: ${scheduleProblems.join('; ')}`);
  if (config.selection !== undefined && config.selection !== 'best-validation-loss' && config.selection !== 'last') {
    throw new Error(`runFederated: selection must be 'best-validation-loss' or 'last', got ${JSON.stringify(config.selection)}`);
  }
  const patience = posInt('convergence.patience', config.convergence?.patience ?? 3);
  const minRelativeImprovement = config.convergence?.minRelativeImprovement ?? 0.01;
  if (!(typeof minRelativeImprovement === 'number' && minRelativeImprovement >= 0)) throw new Error(`runFederated: convergence.minRelativeImprovement must be a number >= 0, got ${JSON.stringify(minRelativeImprovement)}`);
  return {
    strategy: config.strategy,
    model: { ...config.model, numClasses },
    rounds: posInt('rounds', config.rounds ?? defaultRounds),
    localEpochs: posInt('localEpochs', config.localEpochs ?? 1),
    batchSize: posInt('batchSize', config.batchSize ?? 8),
    learningRate,
    seed: config.seed ?? 0,
    evalBatchSize: posInt('evaluation.batchSize', config.evaluation?.batchSize ?? 16),
    evalEvery: posInt('evaluation.every', config.evaluation?.every ?? 1),
    dropout: config.dropout ?? {},
    workers: posInt('workers', config.workers ?? 1),
    encoding: numClasses === 1 ? 'binary' : 'onehot',
    classes: numClasses === 1 ? 2 : numClasses,
    learningRateSchedule,
    loss: checkLossName(config.loss ?? 'bce-dice'),
    selection: config.selection,
    convergence: { patience, minRelativeImprovement },
  };
}

/**
 * The seed of one (run seed, round, key) cell, e.g. a site's batch order in
 * a round. Derived, never drawn from a stream shared across rounds, so a
 * resumed run reproduces an uninterrupted one.
 */
export function roundSeed(seed: number, round: number, key: string): number {
  return createRng(`medfl-fl|${seed}|${round}|${key}`).nextUint32();
}

/** Local training settings shared by every client (from the run config; plain JSON, sent to worker threads). */
export interface LocalTrainSettings {
  epochs: number;
  batchSize: number;
  /** The base learning rate (of the schedule). */
  learningRate: number;
  encoding: MaskEncoding;
  numClasses: number;
  /** Per-epoch schedule of the rate. Default constant (`learningRate` throughout). */
  learningRateSchedule?: LearningRateSchedule;
  /** The loss by name (see `segmentationLoss`). Default 'bce-dice'. */
  loss?: SegmentationLossName;
  /** Global index of this call's first local epoch (`round * localEpochs`). Default 0. */
  epochOffset?: number;
  /** Epochs of the whole run (`rounds * localEpochs`), the schedule's horizon. Default `epochs`. */
  totalEpochs?: number;
}

/** The local training settings of round `round` (schedule position included). */
export function roundTrainSettings(config: ResolvedConfig, round: number): LocalTrainSettings {
  return {
    epochs: config.localEpochs,
    batchSize: config.batchSize,
    learningRate: config.learningRate,
    encoding: config.encoding,
    numClasses: config.classes,
    learningRateSchedule: config.learningRateSchedule,
    loss: config.loss,
    epochOffset: round * config.localEpochs,
    totalEpochs: config.rounds * config.localEpochs,
  };
}

/**
 * The per-local-epoch learning rate of `settings` (`learningRateAt(schedule,
 * learningRate, epochOffset + e, totalEpochs)`), or undefined for a constant
 * schedule (the optimizer keeps `learningRate`, bit for bit as before schedules).
 */
export function localLearningRate(settings: LocalTrainSettings): ((epoch: number) => number) | undefined {
  const schedule = settings.learningRateSchedule;
  if (!schedule || schedule.name === 'constant') return undefined;
  const offset = settings.epochOffset ?? 0;
  const total = settings.totalEpochs ?? settings.epochs;
  return (e) => learningRateAt(schedule, settings.learningRate, offset + e, total);
}

/**
 * What a strategy sends a client with its weights (Flower's ConfigRecord).
 * Every field is optional; an empty object is plain local training.
 */
export interface ClientConfig {
  /** FedProx mu (Li et al., arXiv:1812.06127): when set (even 0) the loss gets mu/2 ||w - w_start||^2 over the trainable weights. */
  proximalMu?: number;
  /**
   * Client-side fixed clipping (Flower's DifferentialPrivacyClientSideFixedClipping
   * with its clipping mod): the update w - w_start over the trainable weights
   * is scaled to L2 norm <= clipNorm before it is sent.
   */
  clipNorm?: number;
  /** Local DP: Gaussian noise of this std added to every clipped trainable entry before sending (needs `clipNorm`). */
  noiseStd?: number;
}

/** One client's job in a round (Flower's train Message: arrays + config). */
export interface TrainInstruction {
  site: Site;
  /** Starting weights (full `model.weights` list). Sequential strategies: only the first is used, each next site starts from the previous result. */
  weights: Float32Array[];
  /** Batch-order seed (by convention `ctx.seedFor(site.name)`). */
  seed: number;
  config: ClientConfig;
}

/** A client's reply (Flower's train reply: arrays + metrics incl. `num-examples`). */
export interface TrainResult {
  site: string;
  weights: Float32Array[];
  /** The weights it started from (the instruction's, or the previous result's in a chain). */
  start: Float32Array[];
  /** Training samples (FedAvg's n_k). */
  numExamples: number;
  /** Mean loss of the last local epoch. */
  loss: number;
  /** Extra numbers (e.g. 'updateNorm' before clipping, 'bytesUp' / 'bytesDown' of split messages). */
  metrics: Record<string, number>;
}

/** A client that threw this round (its update is skipped). */
export interface ClientFailure {
  site: string;
  message: string;
}

/** What every strategy method is told about the round. */
export interface RoundContext {
  /** 0-based round index. */
  round: number;
  config: ResolvedConfig;
  /** Metadata of the model's weights, `model.weights` order. */
  specs: readonly WeightSpec[];
  /** {@link roundSeed} of this run and round. */
  seedFor(key: string): number;
  log(message: string): void;
  /**
   * Per-batch progress of a client (the run's `onProgress` hook); a strategy
   * that trains its clients itself ({@link Strategy.trainClients}) calls it
   * from its training loop's `onBatch`. Absent when nobody listens.
   */
  onBatch?(site: string, log: BatchLog): void;
}

/** What {@link Strategy.aggregateTrain} returns. */
export interface TrainAggregate {
  /** The next global weights (may be the same array list when nothing changed). */
  weights: Float32Array[];
  /** Client -> server bytes per site this round. */
  up: Record<string, number>;
  /** Server -> client bytes per site this round. */
  down: Record<string, number>;
  /** Per-site numbers the server computed while aggregating (e.g. server-side clipping norms), recorded with the clients' own. */
  clientMetrics?: Record<string, Record<string, number>>;
  /** The failures to record, when the strategy attributes them differently (centralized: every pooled site). Default: the ones passed in. */
  failures?: ClientFailure[];
}

/** Which weights each site deploys (evaluated on its own test split) and the global model. */
export interface EvaluatePlan {
  site(name: string): Float32Array[];
  /** The one global model, or null when there is none ('local': the global test set is scored with every site's model and averaged). */
  global: Float32Array[] | null;
}

/** Results of custom client execution ({@link Strategy.trainClients}). */
export interface ClientRun {
  results: TrainResult[];
  failures: ClientFailure[];
}

/**
 * A federated strategy. Implement this (or register a definition in
 * ./registry) to add one; the round loop does the rest.
 */
export interface Strategy {
  /** Name written to records and configs. */
  readonly name: string;
  /**
   * 'parallel': clients start from their instruction's weights, independently
   * (may run in worker threads). 'sequential': in-process, each client starts
   * from the previous client's result (institutional incremental learning).
   */
  readonly execution: 'parallel' | 'sequential';
  /** Sites sampled this round (before dropout). Default: all, in site order. */
  selectClients?(ctx: RoundContext, sites: readonly Site[]): Site[];
  /** One instruction per present site (or fewer; or one pooled site for centralized training). */
  configureTrain(ctx: RoundContext, global: Float32Array[], sites: readonly Site[]): TrainInstruction[];
  /**
   * Run the instructions itself (split learning, where the server takes part
   * in every batch). Default: the loop runs {@link trainClient} per instruction.
   */
  trainClients?(ctx: RoundContext, instructions: readonly TrainInstruction[]): Promise<ClientRun>;
  /** The next global weights and the round's bytes, from the replies and failures. */
  aggregateTrain(ctx: RoundContext, global: Float32Array[], results: readonly TrainResult[], failures: readonly ClientFailure[]): TrainAggregate;
  /** Which weights each site deploys. Default: the global weights everywhere. */
  configureEvaluate?(ctx: RoundContext, global: Float32Array[]): EvaluatePlan;
  /** Pool the per-site test scores. Default: image-weighted mean (Flower's weighted metric average). */
  aggregateEvaluate?(ctx: RoundContext, scores: Record<string, SegmentationSummary>): PooledScores;
  /** Per-site weights the strategy keeps (local models, FedBN); default none. */
  keptSiteWeights?(global: Float32Array[]): Record<string, Float32Array[]>;
  /** State beyond the global weights (server optimizer moments, site models), checkpointed after each round. */
  saveState?(): CheckpointState;
  loadState?(state: CheckpointState): void;
  /** Release tfjs resources the strategy created (not the shared model). */
  dispose?(): void;
}

/** Everything a strategy is built from. */
export interface StrategyInit {
  config: ResolvedConfig;
  /** The one working model (strategies that train themselves load weights into it). */
  model: LayersModel;
  /** Its initial weights (built with the run seed). */
  initial: Float32Array[];
  specs: WeightSpec[];
  sites: Site[];
  /** SplitFed: observer of every client/server message. */
  onSplitMessage?: (m: LoggedSplitMessage) => void;
}

/**
 * The client side of every strategy (Flower's ClientApp "train"): load the
 * instruction's weights, run {@link trainSegmentation} (fresh Adam) with the
 * FedProx term when `proximalMu` is set and the settings' learning-rate
 * schedule (per local epoch, see {@link localLearningRate}), reporting every
 * batch to `onBatch`, read the weights back, then apply
 * client-side clipping / local noise when configured (trainable weights only:
 * BatchNorm moving statistics are sent as they are).
 */
export async function trainClient(model: LayersModel, job: TrainInstruction, settings: LocalTrainSettings, onBatch?: (log: BatchLog) => void): Promise<TrainResult> {
  setWeights(model, job.weights);
  let refs: tf.Tensor[] = [];
  let regularizer: (() => tf.Scalar) | undefined;
  const mu = job.config.proximalMu;
  if (mu !== undefined) {
    const vars = model.trainableWeights.map((w) => w.read());
    const index = new Map(model.weights.map((w, i) => [w.name, i]));
    refs = model.trainableWeights.map((w) => tf.tensor(job.weights[index.get(w.name) as number], w.shape.map((d) => d ?? 0)));
    regularizer = () => {
      const terms = vars.map((v, i) => tf.sum(tf.square(tf.sub(v, refs[i]))));
      return tf.mul(mu / 2, tf.addN(terms)) as tf.Scalar;
    };
  }
  try {
    const logs = await trainSegmentation(model, job.site.train, {
      epochs: settings.epochs,
      batchSize: settings.batchSize,
      learningRate: settings.learningRate,
      encoding: settings.encoding,
      numClasses: settings.numClasses,
      seed: job.seed,
      regularizer,
      loss: segmentationLoss(settings.loss, model.outputs[0].shape[model.outputs[0].shape.length - 1] ?? 1),
      learningRateAt: localLearningRate(settings),
      onBatch,
    });
    let weights = getWeights(model);
    const metrics: Record<string, number> = {};
    const C = job.config.clipNorm;
    if (C !== undefined) {
      const mask = model.weights.map((w) => w.trainable);
      const p = privatizeUpdate(subtract(weights, job.weights), { clipNorm: C, noiseMultiplier: (job.config.noiseStd ?? 0) / C, seed: noiseSeed(job.seed, 0, `client:${job.site.name}`), mask });
      metrics.updateNorm = p.norm;
      metrics.clipped = p.scale < 1 ? 1 : 0;
      weights = add(job.weights, p.update);
    } else if (job.config.noiseStd) {
      throw new Error(`trainClient: noiseStd needs clipNorm (site '${job.site.name}')`);
    }
    return { site: job.site.name, weights, start: job.weights, numExamples: job.site.train.length, loss: logs.length ? logs[logs.length - 1].loss : NaN, metrics };
  } finally {
    tf.dispose(refs);
  }
}
