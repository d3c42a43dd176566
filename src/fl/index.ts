/**
 * Federated and split-federated training engine: strategies (centralized,
 * local, FedAvg/FedProx/FedBN/FedAvgM/FedAdam, IIL/CIIL, SplitFed v1/v2)
 * sharing one round loop ({@link runFederated}) and one results format.
 */
export * from './types';
// Re-exported from the layers below (src/train, src/models) so the `fl` surface stays whole.
export { trainSegmentation, evaluateSegmentation, type TrainOptions, type EpochLog, type EvaluateOptions, type SegmentationSummary, type SegmentationEvaluation } from '../train';
export {
  fedAvg,
  WeightedAverager,
  sharedWeightMask,
  mergeShared,
  subtract,
  serverUpdate,
  resolveServerOptimizer,
  clipAndNoise,
  l2Norm,
  type ClientUpdate,
  type ServerOptimizerState,
  type ResolvedServerOptimizer,
  type ClipNoiseOptions,
} from './aggregate';
export { getWeights, setWeights, cloneWeights, byteCount, maxAbsDiff, weightSpecs, type WeightSpec } from '../models/weights';
export {
  resolveRunConfig,
  roundSeed,
  roundTrainSettings,
  localLearningRate,
  trainClient,
  isStrategyObject,
  type ResolvedConfig,
  type LocalTrainSettings,
  type ClientConfig,
  type TrainInstruction,
  type TrainResult,
  type ClientFailure,
  type ClientRun,
  type TrainAggregate,
  type EvaluatePlan,
  type Strategy,
  type StrategyInit,
  type RoundContext,
} from './strategy';
export { registerStrategy, strategyDefinition, strategyNames, checkStrategyConfig, strategyLabel, createStrategy, type StrategyDefinition } from './registry';
export { runFederated, applyDropout, poolScores, validationPlateaued, type FederatedHooks, type ClientProgress } from './rounds';
export { RunWriter, writeFileAtomic, roundsToCsv, type CheckpointState, type RunConfigFile } from './results';
export { centralizedStrategy, datasetBytes } from './centralized';
export { localStrategy } from './local';
export { fedAvgFamily, weightedMean, type Aggregator, type FedAvgOptions } from './fedavg';
export { sequentialStrategy } from './sequential';
export { splitFedStrategy, trainSplitClient, type SplitClientOptions, type LoggedSplitMessage } from './splitfed';
export { coordinateMedian } from './fedmedian';
export { trimmedMean } from './trimmed-avg';
export { krumSelect } from './krum';
export { withDifferentialPrivacy } from './dp-wrapper';
export { SiteTrainerPool, startWorker, type SiteTrainerPoolOptions, type WorkerInit } from './parallel';
export { compareStrategies, formatComparison, DEFAULT_COMPARISON, type CompareOptions, type ComparisonRow, type Comparison } from './compare';
