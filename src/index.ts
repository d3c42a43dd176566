/**
 * medfl: collaborative (federated, split-federated, merged, mixture-of-experts)
 * medical image analysis in TypeScript. This file is the whole public surface.
 *
 * Conventions: images NHWC float32 in [0, 1]; masks are class maps [H, W]
 * (0 = background); every random choice takes a `seed`.
 */

// Engine
export { initBackend, currentBackend, parseBackendName, dilateFilter } from './backend';
export type { BackendName, BackendInfo } from './backend';

// Randomness and small utilities
export { Rng, createRng, hashSeed } from './util/rng';
export { formatTable, formatBytes, formatSeconds } from './util/table';

// Data
export type { Sample, SampleInfo, SampleMeta, Dataset, DatasetTask } from './data/types';
export { InMemoryDataset, SubsetDataset, materialize } from './data/types';
export { DataError } from './data/errors';
export { decodeImage, decodeMask, encodeOverlayPng, writePng } from './data/image';
export { openKvasirSeg } from './data/kvasir';
export { openHam10000, HAM10000_CLASSES } from './data/ham10000';
export { openImageMaskFolder, openClassFolder, openCvcClinicDb } from './data/folder';
export { readNifti, CT_WINDOWS, openNiftiSlices } from './data';
export { splitByGroup, trainTestSplit } from './data/split';
export { syntheticSites, siteProfiles, syntheticSample, writePreviewPng, previewGrid, LESION_CLASSES, POLYP_CLASSES } from './data/synthetic';
export type { SyntheticSitesOptions, SiteProfile, SyntheticTask } from './data/synthetic';
export { toBatch, type Batch, type MaskEncoding } from './data/batch';

// Partitioning and oversampling
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
  withSiteNames,
  namedSites,
} from './partition';
export type { PartitionInput, SitePartitioner, PartitionReport } from './partition';
export { randomOverSampler, smote, borderlineSmote, adasyn, copyPaste, copyPasteSamples, oversamplePerSite, syntheticCohort } from './oversample';

// Models
export { createModel, MODEL_NAMES, getModelSpec, resolveModelOptions } from './models/registry';
export type { ModelName } from './models/registry';
export type { ModelOptions, ResolvedModelOptions, ModelCapabilities, ModelSpec, SplitPoints, OutputActivation } from './models/types';
export { splitModel, splitStep, defaultCut } from './models/split';
export type { SplitMode, SplitSpec, SplitNetwork, SplitPart, SplitMessage, SplitStepResult, BoundaryTensor } from './models/split';

// Metrics and losses
export {
  confusionStats,
  dice,
  iou,
  precision,
  recall,
  f1,
  specificity,
  pixelAccuracy,
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
export type { LossFunction, SegmentationScore, ConfusionStats } from './metrics';

// Training
export { trainSegmentation, evaluateSegmentation } from './train';
export type { TrainOptions, EpochLog, EvaluateOptions, SegmentationEvaluation, SegmentationSummary } from './train';

// Experiments
export { runDemo, splitSitesByPatient } from './experiment/demo';
export type { DemoOptions, DemoResult } from './experiment/demo';
export { zooTable, formatZoo } from './experiment/zoo';

// Federated and split-federated training
export {
  runFederated,
  compareStrategies,
  formatComparison,
  DEFAULT_COMPARISON,
  sitesFromDataset,
  pooledTest,
  fedAvg,
  WeightedAverager,
  serverUpdate,
  clipAndNoise,
  getWeights,
  setWeights,
  byteCount,
  RunWriter,
} from './fl';
export type {
  StrategyConfig,
  FederatedConfig,
  FederatedResult,
  RoundRecord,
  RunSummary,
  ComparisonRow,
  Comparison,
  CompareOptions,
} from './fl';
export { siteInferenceAttack, membershipInferenceAttack, privatizeUpdate, computeEpsilon, privacyTradeoff } from './fl/privacy';
export type { SiteInferenceReport, MembershipReport } from './fl/privacy';

// Collaborative model building (each module's full API under a namespace)
export * as merge from './merge';
export * as forge from './forge';
export * as moe from './moe';
export { medMerge, mergeBaselines, mergeModels, taskArithmetic } from './merge';
export { medForge, forgeBaselines, LoraPlugin } from './forge';
export { buildM4oESwin, buildMoeUnet, trainM4oE, evaluateM4oE, compareM4oE } from './moe';

// Plots and notebook display
export * as viz from './viz';
export { show, showTable, figureHtml, writeFigureHtml } from './viz';

// Experiments and datasets
export { loadExperiment, validateExperiment, ConfigError } from './experiment/config';
export type { ExperimentConfig } from './experiment/config';
export { runExperiment, runExperimentConfig } from './experiment/runner';
export { compareRuns } from './experiment/compare';
export { buildExperimentSites } from './experiment/sites';
export { buildSites, pooledTest as pooledTestSet, siteSplitSeed } from './data/site';
export type { Site, SiteSplits, BuildSitesOptions } from './data/site';
export { checkDataset, formatDatasetCheck } from './datasets-check';
export { reportSvg } from './partition';
