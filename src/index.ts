/**
 * medfl: collaborative medical image analysis in TypeScript.
 * The whole public surface is exported from here (named exports only).
 */
export { Rng, createRng, hashSeed } from './util/rng';
export type { Sample, SampleInfo, SampleMeta, Dataset, DatasetTask } from './data/types';
export { InMemoryDataset, SubsetDataset, materialize } from './data/types';
export type { ModelOptions, ResolvedModelOptions, ModelCapabilities, ModelSpec, SplitPoints, OutputActivation } from './models/types';
export { createModel, MODEL_NAMES, getModelSpec, resolveModelOptions } from './models/registry';
export type { ModelName } from './models/registry';
