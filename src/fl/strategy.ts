/**
 * What every strategy implements for the shared round loop ({@link runFederated}
 * in ./rounds), the resolved configuration, the per-(seed, round, site)
 * seeds and the in-process client trainer.
 *
 * Optimizer state: every client (and every split part) starts each round
 * with a FRESH Adam optimizer, as FedAvg clients do (McMahan et al.,
 * arXiv:1602.05629, run plain local SGD per round). Centralized and local
 * training follow the same rule (Adam restarted each round) so the
 * strategies are comparable and a checkpoint (weights + server optimizer
 * state) makes resume exact.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayersModel } from '@tensorflow/tfjs';
import { trainSegmentation } from './train';
import type { MaskEncoding } from '../data/batch';
import { createRng } from '../util/rng';
import type { CheckpointState } from './results';
import type { DropoutConfig, FederatedConfig, ModelConfig, StrategyConfig, StrategyName } from './types';
import type { Site } from '../data/site';
import { getWeights, setWeights, type WeightSpec } from './weights';

/** {@link FederatedConfig} with every default applied. */
export interface ResolvedConfig {
  strategy: StrategyConfig;
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
}

function posInt(name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Error(`runFederated: ${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

const STRATEGIES: readonly StrategyName[] = ['centralized', 'local', 'fedavg', 'iil', 'ciil', 'splitfed'];

/** Validate a {@link FederatedConfig} and fill the defaults (documented on its fields). */
export function resolveConfig(config: FederatedConfig): ResolvedConfig {
  const s = config.strategy;
  if (!s || !STRATEGIES.includes(s.name)) {
    throw new Error(`runFederated: unknown strategy ${JSON.stringify(s?.name)}. Valid: ${STRATEGIES.join(', ')}`);
  }
  if (!config.model || typeof config.model.name !== 'string') throw new Error('runFederated: config.model.name is required (e.g. "unet")');
  const numClasses = config.model.numClasses ?? 1;
  const rounds = posInt('rounds', config.rounds ?? (s.name === 'iil' ? 1 : 3));
  if (s.name === 'iil' && rounds !== 1) throw new Error(`runFederated: strategy 'iil' is a single pass (rounds must be 1, got ${rounds}); use 'ciil' for several passes`);
  const learningRate = config.learningRate ?? 1e-3;
  if (!(learningRate > 0)) throw new Error(`runFederated: learningRate must be > 0, got ${learningRate}`);
  if (s.name === 'fedavg') {
    const c = s.clientFraction ?? 1;
    if (!(c > 0 && c <= 1)) throw new Error(`runFederated: fedavg.clientFraction must be in (0, 1], got ${c}`);
    if (s.mu !== undefined && !(s.mu >= 0)) throw new Error(`runFederated: fedavg.mu must be >= 0, got ${s.mu}`);
  }
  const p = config.dropout?.probability ?? 0;
  if (!(p >= 0 && p <= 1)) throw new Error(`runFederated: dropout.probability must be in [0, 1], got ${p}`);
  return {
    strategy: s,
    model: { ...config.model, numClasses },
    rounds,
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

/** Local training settings shared by every client. */
export interface LocalTrainSettings {
  epochs: number;
  batchSize: number;
  learningRate: number;
  encoding: MaskEncoding;
  numClasses: number;
}

/** One client's local training in a round. */
export interface ClientJob {
  site: Site;
  /** Starting weights (full `model.weights` list). */
  start: Float32Array[];
  seed: number;
  /** FedProx mu; when set (even 0) the proximal term to `start` is added to the loss. */
  mu?: number;
}

/** A client's result. */
export interface ClientResult {
  site: string;
  weights: Float32Array[];
  /** Mean loss of the last local epoch. */
  loss: number;
}

/**
 * Train one client in this thread: load `start`, run
 * {@link trainSegmentation} (fresh Adam) with the FedProx term
 * mu/2 * sum ||w - w_start||^2 over the trainable weights when `mu` is set
 * (Li et al., arXiv:1812.06127), read the weights back.
 */
export async function trainClient(model: LayersModel, job: ClientJob, settings: LocalTrainSettings): Promise<ClientResult> {
  setWeights(model, job.start);
  let refs: tf.Tensor[] = [];
  let regularizer: (() => tf.Scalar) | undefined;
  if (job.mu !== undefined) {
    const mu = job.mu;
    const vars = model.trainableWeights.map((w) => w.read());
    const index = new Map(model.weights.map((w, i) => [w.name, i]));
    refs = model.trainableWeights.map((w) => tf.tensor(job.start[index.get(w.name) as number], w.shape.map((d) => d ?? 0)));
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
    });
    return { site: job.site.name, weights: getWeights(model), loss: logs.length ? logs[logs.length - 1].loss : NaN };
  } finally {
    tf.dispose(refs);
  }
}

/** What the round loop hands a strategy for one round. */
export interface RoundContext {
  round: number;
  /** Sites taking part this round (selected and not dropped), in site order. */
  participants: Site[];
  settings: LocalTrainSettings;
  /** {@link roundSeed} of this run and round. */
  seedFor(key: string): number;
  /**
   * Train clients (in this thread, or in worker threads when `workers > 1`
   * and the strategy is parallel); `onResult` sees the results in job order.
   * Returns the failures (a client that threw), which are skipped.
   */
  runClients(jobs: ClientJob[], onResult: (r: ClientResult) => void): Promise<{ site: string; message: string }[]>;
  log(message: string): void;
}

/** What a strategy reports for a round. */
export interface RoundOutcome {
  trainLoss: Record<string, number>;
  failed: { site: string; message: string }[];
  up: Record<string, number>;
  down: Record<string, number>;
}

/** Everything a strategy is built from. */
export interface StrategyInit {
  config: ResolvedConfig;
  /** The one working model (strategies load weights into it as needed). */
  model: LayersModel;
  /** Its initial weights (built with the run seed). */
  initial: Float32Array[];
  specs: WeightSpec[];
  sites: Site[];
}

/** A training strategy: orchestrates one round; the loop does selection, evaluation, logging and checkpoints. */
export interface Strategy {
  readonly name: StrategyName;
  /** True when its clients may be trained in worker threads. */
  readonly parallel: boolean;
  /** True when client-fraction sampling applies (fedavg). */
  runRound(ctx: RoundContext): Promise<RoundOutcome>;
  /** The weights site `site` deploys (evaluated on its test split). */
  siteWeights(site: string): Float32Array[];
  /** The one global model, or null when there is none (local). */
  globalWeights(): Float32Array[] | null;
  /** Per-site weights the strategy keeps (local / FedBN); empty otherwise. */
  keptSiteWeights(): Record<string, Float32Array[]>;
  saveState(): CheckpointState;
  loadState(state: CheckpointState): void;
  /** Release tfjs resources the strategy created (not the shared model). */
  dispose(): void;
}
