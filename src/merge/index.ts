/**
 * MedMerge (arXiv:2403.11646): learnable per-channel merging of models
 * trained from different initialisations and its baselines. The weight, task
 * and classifier utilities it uses live in src/models and src/train; they are
 * re-exported here so the `merge` namespace stays whole.
 */
// Compatibility re-exports for the `merge` namespace (notebooks use merge.createClassifier / trainTask / TaskSpec).
export { type LayerVariableLike, type WeightEntry, weightEntries, withWeights, cloneModel, broadcastChannels, countParameters, writeWeights, architectureSignature } from '../models/weights';
export { type TaskKind, type TaskSpec, type TaskEpochLog, type TrainTaskOptions, type TaskScores, type EvaluateTaskOptions, checkTaskSpec, taskBatch, taskLoss, trainTask, evaluateTask, primaryScore } from '../train/task';
export { type ClassifierOptions, CLASSIFIER_FEATURE_LAYER, CLASSIFIER_HEAD_LAYER, createClassifier } from '../models/classifier';
export {
  type CoefficientParametrization,
  defaultParametrization,
  coefficientsFromLogits,
  logitsFromCoefficients,
  mergeTensors,
} from './coefficients';
export {
  type HeadInfo,
  type TargetHeadOptions,
  type TargetNetwork,
  findHead,
  backboneOf,
  sourceBackbones,
  buildTargetNetwork,
  reestimateBatchNorm,
} from './network';
export {
  type MergeNetworkOptions,
  type CoefficientReport,
  type BatchNormStats,
  type MedMergeOptions,
  type MedMergeResult,
  MergeNetwork,
  medMerge,
  targetSpec,
  imageBatches,
} from './medmerge';
export {
  type MergeBaselineRow,
  type MergeBaselinesOptions,
  mergeModels,
  taskArithmetic,
  mergeBaselines,
  formatMergeTable,
} from './baselines';
