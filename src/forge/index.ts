/**
 * MedForge (arXiv:2502.16055): asynchronous, order-dependent collaborative
 * model building from LoRA plugins + distilled data, with fusion / mixture
 * by gradient-free coefficient search, and its baselines.
 */
export {
  type LoraOptions,
  type LoraFactorState,
  type PluginState,
  type ForgeDelta,
  LoraPlugin,
  loraTargets,
  pluginParameterCount,
  pluginBytes,
  pluginDeltas,
  forgeDeltaTensors,
  effectiveWeightsOf,
  forwardWith,
} from './lora';
export { type SearchMethod, type SearchOptions, type SearchResult, minimize, l1Penalty } from './search';
export {
  type SyntheticMethod,
  type DistributionMatchingOptions,
  type DistributionMatchingResult,
  type SyntheticSetOptions,
  distributionMatching,
  syntheticSet,
  syntheticBytes,
} from './distill';
export {
  type FusionSpace,
  type CoefficientLevel,
  combineDeltas,
  deltaLayers,
  splitCoefficients,
  composeMixtureWeights,
  mixOutputs,
} from './fusion';
export {
  type MedForgeOptions,
  type ForgeBytes,
  type ForgeVersion,
  type MedForgeResult,
  medForge,
  fusedPredictor,
  mixturePredictor,
  formatForgeTable,
} from './medforge';
export { type ForgeBaselineRow, type ForgeBaselinesOptions, forgeBaselines } from './baselines';
