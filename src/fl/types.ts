/**
 * Shared types of the federated / split-federated engine: the site data, the
 * run configuration (one discriminated union per strategy), the per-round
 * record every strategy writes and the run summary.
 *
 * Everything in a {@link FederatedConfig} is plain JSON (it is written
 * verbatim to `config.json`), so a run folder fully describes its run.
 */
import type { SegmentationLossName } from '../metrics/losses';
import type { OutputActivation } from '../models/types';
import type { LearningRateSchedule, SegmentationSummary } from '../train';


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
export type ServerOptimizerName = 'none' | 'fedavgm' | 'fedadam' | 'fedyogi' | 'fedadagrad';

/** Server optimizer options. Defaults are Flower's: see `resolveServerOptimizer` in ./aggregate. */
export interface ServerOptimizerConfig {
  /** 'none' (plain FedAvg: global = average), 'fedavgm', 'fedadam', 'fedyogi' or 'fedadagrad'. Default 'none'. */
  name: ServerOptimizerName;
  /** Server learning rate eta. Default 1 (fedavgm), 0.1 (fedadam, fedadagrad), 0.01 (fedyogi). */
  learningRate?: number;
  /** FedAvgM momentum beta. Default 0 (Flower's server_momentum). */
  momentum?: number;
  /** beta1 of the adaptive optimizers. Default 0.9 (0 for fedadagrad). */
  beta1?: number;
  /** beta2 of FedAdam / FedYogi. Default 0.99. */
  beta2?: number;
  /** Adaptivity tau. Default 1e-3. */
  tau?: number;
  /** FedAdam's bias-corrected server step as Flower computes it. Default true for fedadam. */
  biasCorrection?: boolean;
}

/**
 * Differential privacy with fixed clipping around any strategy whose clients
 * send weight updates (Flower's DifferentialPrivacyServerSideFixedClipping /
 * DifferentialPrivacyClientSideFixedClipping; DP-FedAvg, McMahan et al.,
 * arXiv:1710.06963). See ./dp-wrapper.
 */
export interface DpConfig {
  /** Where each update (trainable weights) is clipped to L2 norm `clipNorm`. Default 'server'. */
  clipping?: 'server' | 'client';
  /** Clip norm C (> 0). */
  clipNorm: number;
  /** Noise multiplier sigma (>= 0). Default 0 (clipping only). */
  noiseMultiplier?: number;
  /**
   * 'central' (default, Flower): the server adds N(0, (sigma C / m)^2) to the
   * aggregate of m sampled clients; 'local': every client adds N(0, (sigma C)^2)
   * to its clipped update before sending (needs clipping 'client').
   */
  noise?: 'central' | 'local';
  /** How the clipped updates are averaged. Default 'uniform' for central noise (the sensitivity the noise is calibrated to), 'samples' for local noise. */
  weighting?: 'uniform' | 'samples';
}

/** Fields every strategy config may carry. */
export interface StrategyCommon {
  /** Table / folder label. Default: the registry's label rule (see `strategyLabel`). */
  label?: string;
  /** Wrap the strategy with differential privacy (update-sending strategies only). */
  dp?: DpConfig;
}

/** Pooled training of all sites' data on one model (upper baseline). */
export interface CentralizedConfig extends StrategyCommon {
  name: 'centralized';
}

/** Each site trains alone on its own data (lower baseline). */
export interface LocalConfig extends StrategyCommon {
  name: 'local';
}

/**
 * FedAvg (McMahan et al., arXiv:1602.05629) with its client option FedProx
 * (Li et al., arXiv:1812.06127), FedBN (Li et al., arXiv:2102.07623) and a
 * server optimizer (FedAvgM / FedAdam / FedYogi / FedAdagrad, arXiv:2003.00295).
 * The registry also knows 'fedprox', 'fedavgm', 'fedadam', 'fedyogi' and
 * 'fedadagrad' as FedAvg with that option set.
 */
export interface FedAvgConfig extends StrategyCommon {
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
export interface IilConfig extends StrategyCommon {
  name: 'iil';
}

/** Cyclic IIL: `rounds` passes through the sites in the same order. */
export interface CiilConfig extends StrategyCommon {
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
export interface SplitFedConfig extends StrategyCommon {
  name: 'splitfed';
  /** Default 'v1'. */
  variant?: SplitFedVariant;
  /** Default 'u-shaped'. */
  mode?: SplitFedMode;
  /** Cut layer(s); default the architecture's declared split points. */
  cut?: string | [string, string];
}

/** Any strategy by its registry name and options (built-in or registered with `registerStrategy`). */
export interface NamedStrategyConfig extends StrategyCommon {
  name: string;
  [option: string]: unknown;
}

/** The built-in strategies' configs. */
export type BuiltinStrategyConfig = CentralizedConfig | LocalConfig | FedAvgConfig | IilConfig | CiilConfig | SplitFedConfig;

/** A strategy config: a built-in one or any registered name with its options. */
export type StrategyConfig = BuiltinStrategyConfig | NamedStrategyConfig;

/** Names of the strategies (any registered name). */
export type StrategyName = string;

/** Site failures injected on purpose (seeded), to test robustness. */
export interface DropoutConfig {
  /** Each selected site is absent this round with this probability (seeded by (seed, round, site)). Default 0. */
  probability?: number;
  /** Sites absent in given rounds (0-based round index -> site names). */
  sites?: Record<string, string[]>;
}

/** A full run configuration (JSON). */
export interface FederatedConfig {
  /** A registered strategy by name and options, or a strategy object implementing `Strategy` (./strategy). */
  strategy: StrategyConfig | import('./strategy').Strategy;
  model: ModelConfig;
  /** Communication rounds (passes for ciil; 1 for iil). Default 3. */
  rounds?: number;
  /** Local epochs per round (E). Default 1. */
  localEpochs?: number;
  /** Default 8. */
  batchSize?: number;
  /** Client Adam learning rate (the base rate of `learningRateSchedule`). Default 1e-3. */
  learningRate?: number;
  /**
   * Training and validation loss of every client, SplitFed's server part and
   * centralized training: 'bce-dice' (default, BCE + soft Dice) or 'dice'
   * (soft Dice with segmentation_models_pytorch's multiclass semantics, the
   * MedSegNet10 group's loss; see `smpDiceLoss`).
   */
  loss?: SegmentationLossName;
  /**
   * Per-epoch schedule of the client learning rate (see `learningRateAt` in
   * src/train/schedule): `{ name: 'constant' }` (default: `learningRate`
   * throughout, bit for bit as without a schedule), `'cosine'` (to
   * `minLearningRate`, default 0, over the run; optional SGDR warm restarts
   * every `restartEpochs`), `'poly'` (`power` default 0.9, nnU-Net) or
   * `'step'` (`gamma` default 0.1 every `stepEpochs`). The epoch index is
   * global: round r's local epoch e is `r * localEpochs + e` of
   * `rounds * localEpochs`. Every client (and SplitFed's server part) starts
   * each epoch at that rate.
   */
  learningRateSchedule?: LearningRateSchedule;
  /**
   * Which model the run returns and reports as `summary.final`:
   * - 'best-validation-loss': the weights (global and per site) of the
   *   evaluated round with the lowest mean validation loss (earliest on
   *   ties); needs every site to have a `validation` split.
   * - 'last': the weights after the last round.
   * Default: 'best-validation-loss' when the sites have validation splits,
   * 'last' otherwise.
   */
  selection?: 'best-validation-loss' | 'last';
  /**
   * The plateau rule of `summary.converged` (runs with validation splits):
   * the run converged when it has more than `patience` evaluated rounds and
   * the lowest mean validation loss of the last `patience` of them is not
   * lower than the lowest before them by more than `minRelativeImprovement`
   * of it (`bestBefore - bestLast <= minRelativeImprovement * |bestBefore|`).
   * Defaults: patience 3 evaluated rounds, minRelativeImprovement 0.01 (1%).
   */
  convergence?: { patience?: number; minRelativeImprovement?: number };
  /** Seed of the model init, site sampling, dropout and batch order. Default 0. */
  seed?: number;
  /** Evaluation batch size (default 16); evaluate every `every` rounds (default 1) and always after the last. */
  evaluation?: { batchSize?: number; every?: number };
  dropout?: DropoutConfig;
  /** Sites trained in parallel in worker threads (fedavg / local only). Default 1 (in-process). */
  workers?: number;
  /**
   * A site whose training throws in every round it was selected (corrupt or
   * unreadable data; for 'centralized', a pool that never trained): 'fail'
   * (default) ends the run with a {@link SiteFailureError} naming the site and
   * the error (after the results are written, flagged); 'skip' only records
   * and logs the drops.
   */
  siteFailures?: 'fail' | 'skip';
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
  /** Other numbers the clients reported, per site (e.g. DP 'updateNorm' and 'clipped'); absent when none. */
  clientMetrics?: Record<string, Record<string, number>>;
  /** Per-site held-out test scores (each site scored with the model it would deploy). Absent when not evaluated this round. */
  test?: Record<string, SegmentationSummary>;
  /** Image-weighted mean of the per-site test scores. */
  pooled?: PooledScores;
  /** The global test set (mean over the sites' models for 'local'). */
  global?: SegmentationSummary;
  /** Evaluation errors per site (the site's test set failed to load). */
  evalErrors?: Record<string, string>;
  /**
   * Per-site validation loss (sites with validation splits, evaluated rounds):
   * the training loss (BCE + soft Dice) of the model the site deploys,
   * computed per validation image and averaged over the site's images.
   */
  validationLoss?: Record<string, number>;
  /** Mean of `validationLoss` over the sites (each site counts once, whatever its size: MedSegNet10's reduction). */
  meanValidationLoss?: number;
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
  /** Test scores of the kept model (round `keptRound`: the last round with selection 'last'). */
  final: { test?: Record<string, SegmentationSummary>; pooled?: PooledScores; global?: SegmentationSummary };
  /** How the kept model was chosen (see `FederatedConfig.selection`). */
  selection: 'best-validation-loss' | 'last';
  /** The round whose weights the run returns and whose test scores are `final` (-1 when no round ran). */
  keptRound: number;
  /** Mean validation loss of the kept round (runs with validation splits). */
  keptValidationLoss?: number;
  /**
   * Runs with validation splits: true when the mean validation loss
   * plateaued (the rule of `FederatedConfig.convergence`), false otherwise.
   */
  converged?: boolean;
  /** Runs with validation splits: `!converged` (the loss was still improving when the rounds ran out). */
  ranOutOfBudget?: boolean;
  /** Round with the best pooled TEST Dice (-1 if never evaluated): an oracle figure, not a model selection. */
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
  /** Sites whose training threw, with the rounds and the first error message (empty when none). */
  siteFailures: { site: string; rounds: number[]; message: string }[];
  /** Sites that failed in every round they were selected (the run is not a valid result for them). */
  failedEveryRound: string[];
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

/** A run in which a site failed in every round it was selected (see `FederatedConfig.siteFailures`). The results were written; `result` holds them. */
export class SiteFailureError extends Error {
  constructor(
    message: string,
    readonly result: FederatedResult,
  ) {
    super(message);
    this.name = 'SiteFailureError';
  }
}
