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
export { resolveConfig, roundSeed, trainClient, type ResolvedConfig, type LocalTrainSettings, type ClientJob, type ClientResult, type Strategy, type StrategyInit, type RoundContext, type RoundOutcome } from './strategy';
export { runFederated, selectSites, applyDropout, poolScores, type FederatedHooks } from './rounds';
export { RunWriter, writeFileAtomic, roundsToCsv, type CheckpointState, type RunConfigFile } from './results';
export { centralizedStrategy, datasetBytes } from './centralized';
export { localStrategy } from './local';
export { fedAvgStrategy } from './fedavg';
export { sequentialStrategy } from './sequential';
export { splitFedStrategy, trainSplitClient, type SplitClientOptions, type LoggedSplitMessage } from './splitfed';
export { SiteTrainerPool, startWorker, type SiteTrainerPoolOptions, type WorkerInit } from './parallel';
export { sitesFromDataset, pooledTest, type SitesFromDatasetOptions } from './sites';
export { compareStrategies, formatComparison, strategyLabel, DEFAULT_COMPARISON, type CompareOptions, type ComparisonRow, type Comparison } from './compare';
