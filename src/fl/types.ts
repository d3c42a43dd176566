/**
 * Shared types of the federated / split-federated engine: the site data, the
 * run configuration (one discriminated union per strategy), the per-round
 * record every strategy writes and the run summary.
 *
 * Everything in a {@link FederatedConfig} is plain JSON (it is written
 * verbatim to `config.json`), so a run folder fully describes its run.
 */
import type { Site } from '../data/site';
import type { OutputActivation } from '../models/types';
import type { SegmentationSummary } from './train';

/** @deprecated The one site type is {@link Site} (../data/site); this alias stays until the public index exports `Site`. */
export type SiteData = Site;

/** The network every strategy trains (built with `createModel(name, {...options, seed})`). */
export interface ModelConfig {
  /** Registry name, e.g. 'unet', 'cgnet'. */
  name: string;
  /** `[H, W, C]` of one NHWC image. */
  inputShape: [number, number, number];
  /** Output channels. Default 1 (binary mask, sigmoid). */
  numClasses?: number;
  /** Default: the registry's (sigmoid for 1 class, softmax otherwise). */
  outputActivation?: OutputActivation;
  /** Base width (default: the model's CPU-friendly default). */
  width?: number;
}

/** Server-side optimizer applied to the averaged update (Reddi et al. 2020, arXiv:2003.00295). */
export type ServerOptimizerName = 'none' | 'fedavgm' | 'fedadam';

/** Server optimizer options. Defaults: see {@link resolveServerOptimizer} in ./aggregate. */
export interface ServerOptimizerConfig {
  /** 'none' (plain FedAvg: global = average), 'fedavgm' (server momentum) or 'fedadam'. Default 'none'. */
  name: ServerOptimizerName;
  /** Server learning rate eta. Default 1 (fedavgm), 0.01 (fedadam). */
  learningRate?: number;
  /** FedAvgM momentum beta. Default 0.9. */
  momentum?: number;
  /** FedAdam beta1. Default 0.9. */
  beta1?: number;
  /** FedAdam beta2. Default 0.99. */
  beta2?: number;
  /** FedAdam adaptivity tau. Default 1e-3. */
  tau?: number;
}

/** Pooled training of all sites' data on one model (upper baseline). */
export interface CentralizedStrategy {
  name: 'centralized';
}

/** Each site trains alone on its own data (lower baseline). */
export interface LocalStrategy {
  name: 'local';
}

/**
 * FedAvg (McMahan et al., arXiv:1602.05629) with optional FedProx
 * (Li et al., arXiv:1812.06127), FedBN (Li et al., arXiv:2102.07623) and a
 * server optimizer (FedAvgM / FedAdam, arXiv:2003.00295).
 */
export interface FedAvgStrategy {
  name: 'fedavg';
  /** Fraction C of the sites sampled each round (seeded by (seed, round)); at least one. Default 1. */
  clientFraction?: number;
  /** FedProx proximal weight mu (loss + mu/2 ||w - w_global||^2). Default 0 (= FedAvg). */
  mu?: number;
  /** FedBN: keep BatchNorm parameters and statistics local to each site. Default false. */
  fedbn?: boolean;
  /** Default `{ name: 'none' }`. */
  serverOptimizer?: ServerOptimizerConfig;
}

/**
 * Institutional incremental learning (Sheller et al. 2018, arXiv:1810.04304;
 * arXiv:2303.13567): the model visits the sites once, in order.
 * `rounds` must be 1 (one pass).
 */
export interface IilStrategy {
  name: 'iil';
}

/** Cyclic IIL: `rounds` passes through the sites in the same order. */
export interface CiilStrategy {
  name: 'ciil';
}

/** SplitFed variant (Thapa et al., arXiv:2004.12088). */
export type SplitFedVariant = 'v1' | 'v2';

/** Split layout (see ../models/split). */
export type SplitFedMode = 'two-part' | 'u-shaped';

/**
 * SplitFed (Thapa et al., arXiv:2004.12088; MedSegNet10, arXiv:2503.20830).
 * - v1: every client has its own copy of the server part for the round;
 *   client parts and server parts are both FedAvg-ed after the round.
 * - v2: one server part, updated by the clients in turn (order shuffled per
 *   round, seeded); only client parts are FedAvg-ed.
 */
export interface SplitFedStrategy {
  name: 'splitfed';
  /** Default 'v1'. */
  variant?: SplitFedVariant;
  /** Default 'u-shaped'. */
  mode?: SplitFedMode;
  /** Cut layer(s); default the architecture's declared split points. */
  cut?: string | [string, string];
}

/** Every strategy, by name. */
export type StrategyConfig = CentralizedStrategy | LocalStrategy | FedAvgStrategy | IilStrategy | CiilStrategy | SplitFedStrategy;

/** Names of the strategies. */
export type StrategyName = StrategyConfig['name'];

/** Site failures injected on purpose (seeded), to test robustness. */
export interface DropoutConfig {
  /** Each selected site is absent this round with this probability (seeded by (seed, round, site)). Default 0. */
  probability?: number;
  /** Sites absent in given rounds (0-based round index -> site names). */
  sites?: Record<string, string[]>;
}

/** A full run configuration (JSON). */
export interface FederatedConfig {
  strategy: StrategyConfig;
  model: ModelConfig;
  /** Communication rounds (passes for ciil; 1 for iil). Default 3. */
  rounds?: number;
  /** Local epochs per round (E). Default 1. */
  localEpochs?: number;
  /** Default 8. */
  batchSize?: number;
  /** Client Adam learning rate. Default 1e-3. */
  learningRate?: number;
  /** Seed of the model init, site sampling, dropout and batch order. Default 0. */
  seed?: number;
  /** Evaluation batch size (default 16); evaluate every `every` rounds (default 1) and always after the last. */
  evaluation?: { batchSize?: number; every?: number };
  dropout?: DropoutConfig;
  /** Sites trained in parallel in worker threads (fedavg / local only). Default 1 (in-process). */
  workers?: number;
  /** Run folder to write (config.json, rounds.jsonl, summary, checkpoint/). Default: none (in memory only). */
  outDir?: string;
  /** Continue the run stored in this folder from its last completed round. */
  resume?: string;
}

/** Why a site did not contribute this round. */
export interface DroppedSite {
  site: string;
  /** 'not-selected' is not logged; 'scheduled' = `dropout.sites`; 'random' = `dropout.probability`; 'error' = it threw. */
  reason: 'scheduled' | 'random' | 'error';
  /** Error message for 'error'. */
  message?: string;
}

/** Per-image-mean scores pooled over several groups (image-weighted mean of their means). */
export interface PooledScores {
  images: number;
  dice: number;
  iou: number;
  precision: number;
  recall: number;
}

/** Communication of one round. float32 = 4 bytes per element. */
export interface RoundBytes {
  /** Client -> server bytes per site this round. */
  up: Record<string, number>;
  /** Server -> client bytes per site this round. */
  down: Record<string, number>;
  totalUp: number;
  totalDown: number;
  /** Totals since round 0, this round included. */
  cumulativeUp: number;
  cumulativeDown: number;
}

/** One line of `rounds.jsonl`. */
export interface RoundRecord {
  /** 0-based round index. */
  round: number;
  strategy: StrategyName;
  /** Sites selected for this round (before dropout). */
  selected: string[];
  /** Sites whose update was used. */
  participants: string[];
  dropped: DroppedSite[];
  /** Mean training loss of the last local epoch, per participating site ('pooled' for centralized). */
  trainLoss: Record<string, number>;
  /** Per-site held-out test scores (each site scored with the model it would deploy). Absent when not evaluated this round. */
  test?: Record<string, SegmentationSummary>;
  /** Image-weighted mean of the per-site test scores. */
  pooled?: PooledScores;
  /** The global test set (mean over the sites' models for 'local'). */
  global?: SegmentationSummary;
  /** Evaluation errors per site (the site's test set failed to load). */
  evalErrors?: Record<string, string>;
  bytes: RoundBytes;
  /** Wall-clock seconds of training + aggregation, evaluation, and the whole round. */
  trainSeconds: number;
  evalSeconds: number;
  seconds: number;
}

/** `summary.json`. */
export interface RunSummary {
  strategy: StrategyName;
  rounds: number;
  seed: number;
  backend: string;
  /** Scores after the last round. */
  final: { test?: Record<string, SegmentationSummary>; pooled?: PooledScores; global?: SegmentationSummary };
  /** Round with the best pooled Dice (-1 if never evaluated). */
  bestRound: number;
  bestPooledDice: number;
  totalBytesUp: number;
  totalBytesDown: number;
  /** Mean bytes (up + down) per round. */
  bytesPerRound: number;
  /** Sum of the rounds' wall-clock seconds (all rounds, resumed ones included). */
  seconds: number;
  /** Rounds done in this process (fewer than `rounds` after a resume). */
  roundsRun: number;
  resumedFrom?: number;
}

/** Result of {@link runFederated}. */
export interface FederatedResult {
  config: FederatedConfig;
  records: RoundRecord[];
  summary: RunSummary;
  /** Final global weights (`model.weights` order, BN statistics included). */
  globalWeights: Float32Array[];
  /** Per-site weights where the strategy keeps them (local: full models; FedBN: the global weights with the site's BN entries). */
  siteWeights: Record<string, Float32Array[]>;
}

/** Observers of a run. */
export interface RunHooks {
  /** After every completed round (already written to disk when `outDir` is set). */
  onRound?: (record: RoundRecord) => void;
  /** Progress lines. Default: silent. */
  log?: (message: string) => void;
  /** Test hook: called before a round starts; throwing aborts the run (simulates a crash). */
  beforeRound?: (round: number) => void;
}
