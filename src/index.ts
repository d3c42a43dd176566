/**
 * medfl: collaborative (federated, split-federated, merged, mixture-of-experts)
 * medical image analysis in TypeScript. This file is the whole public surface,
 * grouped by layer (docs/architecture.md); every name is exported once.
 *
 * Conventions: images NHWC float32 in [0, 1]; masks are class maps [H, W]
 * (0 = background); every random choice takes a `seed`.
 */

// ---- engine
export { initBackend, currentBackend, setNativeAddonEnabled, setNativeThreads, nativeThreads, nativeAddonInfo, setNativeAddonIsa } from './backend';
export type { BackendName, BackendInfo, NativeAddonInfo, AddonIsa } from './backend';

// ---- utilities (seeded randomness, tables, units)
export { createRng, type Rng } from './util/rng';
export { formatTable, formatBytes, formatSeconds } from './util/table';

// ---- data: datasets, loaders, the synthetic generator, sites
export type { Sample, SampleInfo, SampleMeta, Dataset, DatasetTask } from './data/types';
export { InMemoryDataset, SubsetDataset, materialize } from './data/types';
export { DataError } from './data/errors';
export { decodeImage, decodeMask, writePng } from './data/image';
export { readCsv } from './data/files';
export { openKvasirSeg } from './data/kvasir';
export { openHam10000, HAM10000_CLASSES } from './data/ham10000';
export { openImageMaskFolder, openClassFolder, openCvcClinicDb, findCvcClinicDbLayout, CVC_CLINICDB_LAYOUTS } from './data/folder';
export type { CvcClinicDbFormat, CvcClinicDbLayout, CvcClinicDbOptions } from './data/folder';
export { readNifti, CT_WINDOWS, openNiftiSlices } from './data';
export { splitByGroup, trainTestSplit } from './data/split';
export { syntheticSites, siteProfiles, previewGrid, writePreviewPng, LESION_CLASSES, POLYP_CLASSES } from './data/synthetic';
export type { SyntheticSitesOptions, SiteProfile, SyntheticTask } from './data/synthetic';
export { buildSites, pooledTest } from './data/site';
export type { Site, SiteSplits, BuildSitesOptions } from './data/site';
export { checkDataset, formatDatasetCheck } from './datasets-check';
export type { CheckDatasetOptions, DatasetCheck, BadFile } from './datasets-check';

// ---- partition: sites from one dataset, and what they look like
export {
  iid,
  dirichlet,
  innerDirichlet,
  pathological,
  quantity,
  naturalId,
  featureShift,
  partitionInput,
  partitionReport,
  reportDataFrame,
  reportFigure,
  reportText,
  reportSvg,
  jsDivergence,
} from './partition';
export type { PartitionInput, SitePartitioner, PartitionReport } from './partition';

// ---- oversample
export { randomOverSampler, smote, borderlineSmote, adasyn, copyPaste, copyPasteSamples, oversamplePerSite, syntheticCohort } from './oversample';

// ---- models: the ten architectures, weights, split learning
export { createModel, MODEL_NAMES, getModelSpec } from './models/registry';
export { forwardCost } from './models/flops';
export { foldBatchNorm } from './models/fold';
export type { FoldResult } from './models/fold';
export type { ForwardCost } from './models/flops';
export type { ModelName } from './models/registry';
export type { ModelOptions, ModelCapabilities, ModelSpec, SplitPoints, OutputActivation } from './models/types';
export { createClassifier } from './models/classifier';
export { getWeights, setWeights, cloneModel } from './models/weights';
export { splitModel, splitStep, defaultCut } from './models/split';
export { estimateTrainingMemory, checkTrainingMemory, trainingMemoryLimit, MemoryBudgetError } from './models/memory';
export type { TrainingMemoryEstimate, TrainingMemoryCheckOptions } from './models/memory';
export type { SplitMode, SplitSpec, SplitNetwork, SplitPart, SplitMessage, SplitStepResult } from './models/split';

// ---- metrics and losses
export {
  dice,
  iou,
  precision,
  recall,
  specificity,
  segmentationMetrics,
  hd95,
  hausdorffDistance,
  accuracy,
  balancedAccuracy,
  macroF1,
  rocAuc,
  rocAucOneVsRest,
  confusionMatrix,
  classificationReport,
  CumulativeSegmentationMetric,
  CumulativeClassificationMetric,
  binaryCrossEntropy,
  categoricalCrossEntropy,
  diceLoss,
  bceDiceLoss,
  focalLoss,
  tverskyLoss,
} from './metrics';
export { smpDiceLoss, segmentationLoss, SEGMENTATION_LOSSES } from './metrics/losses';
export type { SegmentationLossName, SmpDiceLossOptions } from './metrics/losses';
export type { LossFunction, SegmentationScore } from './metrics';
export { mean, sampleStd, studentTQuantile, tInterval, bootstrapInterval, pairedComparison, formatInterval } from './metrics/statistics';
export type { TIntervalResult, BootstrapResult, PairedComparisonResult } from './metrics/statistics';

// ---- train: the one training and evaluation core
export { trainSegmentation, evaluateSegmentation, trainTask, evaluateTask, primaryScore, trainBatches, evaluateBatches, evaluateLoss, learningRateAt, accumulatedStep } from './train';
export type {
  TrainOptions,
  EpochLog,
  BatchLog,
  EvaluateOptions,
  SegmentationEvaluation,
  SegmentationSummary,
  TaskKind,
  TaskSpec,
  TaskScores,
  TrainTaskOptions,
  TrainBatchesOptions,
  LearningRateSchedule,
} from './train';

// ---- fl: strategies (Flower-shaped contract + registry), the round loop, privacy
export { runFederated, registerStrategy, strategyNames, strategyLabel, compareStrategies, formatComparison, DEFAULT_COMPARISON, fedAvgFamily } from './fl';
export type {
  Strategy,
  StrategyDefinition,
  StrategyInit,
  RoundContext,
  TrainInstruction,
  TrainResult,
  ClientConfig,
  ClientFailure,
  TrainAggregate,
  EvaluatePlan,
  StrategyConfig,
  FedAvgConfig,
  SplitFedConfig,
  ServerOptimizerConfig,
  DpConfig,
  FederatedConfig,
  FederatedResult,
  RoundRecord,
  RunSummary,
  ComparisonRow,
  Comparison,
  CompareOptions,
  ClientProgress,
} from './fl';
export { SiteFailureError } from './fl/types';
export { siteInferenceAttack, membershipInferenceAttack, computeEpsilon, privacyTradeoff } from './fl/privacy';
export type { SiteInferenceReport, MembershipReport, TradeoffRow } from './fl/privacy';

// ---- merge (MedMerge, arXiv:2403.11646)
export { medMerge, mergeBaselines, mergeModels, taskArithmetic, formatMergeTable } from './merge';
export type { MedMergeOptions, MedMergeResult, MergeBaselineRow, MergeBaselinesOptions } from './merge';
export { runMedMergeComparison, formatMedMergeComparison } from './merge/command';

// ---- moe (M4oE, arXiv:2405.09446)
export { buildM4oESwin, buildMoeUnet, trainM4oE, evaluateM4oE, compareM4oE } from './moe';
export type { M4oEModality, TrainM4oEOptions, M4oEResult, M4oEEvaluation, M4oEComparison } from './moe';
export { runM4oEComparison, formatM4oEComparison } from './moe/command';

// ---- forge (MedForge, arXiv:2502.16055)
export { medForge, forgeBaselines, formatForgeTable, LoraPlugin } from './forge';
export type { MedForgeOptions, MedForgeResult, ForgeBaselineRow } from './forge';
export { runMedForgeComparison, formatMedForgeComparison } from './forge/command';

// ---- experiment: configs, the runner, the demo
export { loadExperiment, validateExperiment, ConfigError } from './experiment/config';
export type { ExperimentConfig } from './experiment/config';
export { runExperiment, runExperimentConfig } from './experiment/runner';
export type { ExperimentRow, ExperimentRun, RunOptions } from './experiment/runner';
export { expandGrid } from './experiment/grid';
export type { ExperimentCell } from './experiment/grid';
export { summarizeGrid } from './experiment/grid-summary';
export type { GridSummary, GroupSummary, ComparisonSummary } from './experiment/grid-summary';
export { judgeClaim, formatClaimsTable, claimsMarkdown, summarizeArms } from './metrics/claims';
export type { Claim, ClaimVerdict, ClaimSelector, ClaimRow, ArmSummary } from './metrics/claims';
export { compareRuns } from './experiment/compare';
export { reproduce, runRecipe, getRecipe, PAPERS, resolveDataRoots, paperScalePlan } from './experiment/reproduce';
export type { ReproduceOptions, ReproduceResult, PaperScalePlan } from './experiment/reproduce';
export type { PaperRecipe, GridRecipe, MethodRecipe, RecipeSetting, RecipeScale, RecipeContext, GridPlan } from './metrics/recipe';
export { cellPredictions } from './experiment/predictions';
export type { CellPredictionOptions } from './experiment/predictions';
export { runDemo, splitSitesByPatient } from './experiment/demo';
export type { DemoOptions, DemoResult } from './experiment/demo';
export { zooTable, formatZoo } from './experiment/zoo';

// ---- viz: plotly figures and notebook display (medfl.viz.*)
export * as viz from './viz';

// ---- flower: medfl sites as Flower SuperNodes (Fleet API over gRPC)
export { runFlowerNode, writeInitialWeights, flowerSites } from './flower/command';
export type { FlowerNodeRunOptions, FlowerDataOptions } from './flower/command';
export { FlowerNode } from './flower/node';
export type { FlowerNodeOptions, MessageHandler, FleetApi } from './flower/node';
export { FleetClient, FleetCallError, generateNodeKeys, loadNodeKeys } from './flower/fleet';
export type { NodeKeys } from './flower/fleet';
export { encodeNpy, decodeNpy } from './flower/npy';
export { deflateMessage, inflateMessage, objectId } from './flower/objects';
export type { FlowerMessage, RecordDict, FlowerRecord, FlowerArray } from './flower/objects';
