/**
 * The one training loop and the one evaluation loop every medfl method runs
 * (FL clients, centralized / local baselines, split learning, MedMerge,
 * MedForge, M4oE), the segmentation trainer / evaluator built on them, and
 * the classification-or-segmentation task helpers MedMerge and MedForge share.
 */
export {
  type EpochLog,
  type BatchLog,
  type LoopEpochLog,
  type StepResult,
  type ProgressHooks,
  type EpochLoopOptions,
  type SupervisedBatch,
  type ExtraLossContext,
  type TrainBatchesOptions,
  runEpochs,
  seededBatches,
  epochRng,
  trainBatches,
  loadFrom,
  accumulatedStep,
} from './loop';
export { type ReadOutput, type EvaluateBatchesOptions, evaluateBatches, stackImages, forEachPrediction } from './evaluate';
export {
  type TrainOptions,
  type EvaluateOptions,
  type SegmentationSummary,
  type SegmentationEvaluation,
  type EvaluateLossOptions,
  trainSegmentation,
  evaluateSegmentation,
  evaluateLoss,
} from './segmentation';
export {
  type TaskKind,
  type TaskSpec,
  type TaskEpochLog,
  type TrainTaskOptions,
  type TaskScores,
  type EvaluateTaskOptions,
  checkTaskSpec,
  taskBatch,
  taskLoss,
  trainTask,
  trainModelTask,
  evaluateTask,
  primaryScore,
} from './task';
export { type SplitLearningStepOptions, splitLearningStep } from './split';
export {
  type LearningRateSchedule,
  type ConstantSchedule,
  type CosineSchedule,
  type PolySchedule,
  type StepSchedule,
  SCHEDULE_NAMES,
  checkSchedule,
  learningRateAt,
  setOptimizerLearningRate,
} from './schedule';
