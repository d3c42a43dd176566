import type * as tf from '@tensorflow/tfjs';
import type { ModelOptions, ModelSpec, ResolvedModelOptions } from './types';
import { unet } from './unet';
import { segnet } from './segnet';
import { deeplabv3 } from './deeplabv3';
import { deeplabv3plus } from './deeplabv3plus';
import { refinenet } from './refinenet';
import { cgnet } from './cgnet';
import { sunet } from './sunet';
import { duckNet } from './duck-net';
import { attentionUnet } from './attention-unet';
import { swinUnet } from './swin-unet';

/** The one table of architectures (MedSegNet10, arXiv:2503.20830). */
const REGISTRY = {
  unet,
  segnet,
  deeplabv3,
  deeplabv3plus,
  refinenet,
  cgnet,
  sunet,
  'duck-net': duckNet,
  'attention-unet': attentionUnet,
  'swin-unet': swinUnet,
} as const satisfies Record<string, ModelSpec>;

/** Registered architecture names. */
export type ModelName = keyof typeof REGISTRY;

/** The ten architecture names, in the MedSegNet10 order. */
export const MODEL_NAMES = Object.keys(REGISTRY) as ModelName[];

/** The registry entry of `name`; throws listing the valid names when unknown. */
export function getModelSpec(name: string): ModelSpec {
  const spec = (REGISTRY as Record<string, ModelSpec>)[name];
  if (!spec) {
    throw new Error(`Unknown model '${name}'. Valid names: ${MODEL_NAMES.join(', ')}`);
  }
  return spec;
}

/** Validate options against the architecture's capabilities and fill defaults. */
export function resolveModelOptions(name: string, options: ModelOptions): ResolvedModelOptions {
  const spec = getModelSpec(name);
  const caps = spec.capabilities;
  const shape = options.inputShape;
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`${name}: inputShape must be [H, W, C] with positive integers, got ${JSON.stringify(shape)}`);
  }
  const [h, w] = shape;
  for (const [label, size] of [['height', h], ['width', w]] as const) {
    if (size < caps.minSize) {
      throw new Error(`${name}: input ${label} ${size} is below the minimum ${caps.minSize}`);
    }
    if (size % caps.divisibleBy !== 0) {
      throw new Error(
        `${name}: input ${label} ${size} must be divisible by ${caps.divisibleBy} ` +
          `(nearest valid: ${Math.max(caps.minSize, Math.round(size / caps.divisibleBy) * caps.divisibleBy)})`,
      );
    }
  }
  if (!Number.isInteger(options.numClasses) || options.numClasses < 1) {
    throw new Error(`${name}: numClasses must be a positive integer, got ${options.numClasses}`);
  }
  const width = options.width ?? caps.defaultWidth;
  if (!Number.isInteger(width) || width < 1) {
    throw new Error(`${name}: width must be a positive integer, got ${options.width}`);
  }
  const outputActivation = options.outputActivation ?? (options.numClasses === 1 ? 'sigmoid' : 'softmax');
  if (!['none', 'sigmoid', 'softmax'].includes(outputActivation)) {
    throw new Error(`${name}: outputActivation must be 'none', 'sigmoid' or 'softmax', got '${outputActivation}'`);
  }
  return { inputShape: [shape[0], shape[1], shape[2]], numClasses: options.numClasses, outputActivation, width, seed: options.seed ?? 0 };
}

/**
 * Build a registered segmentation network.
 * Output: `[N, H, W, numClasses]` for NHWC input `[N, H, W, C]`.
 */
export function createModel(name: string, options: ModelOptions): tf.LayersModel {
  const resolved = resolveModelOptions(name, options);
  return getModelSpec(name).build(resolved);
}
