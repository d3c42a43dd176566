/**
 * A small image classifier: a conv backbone with a global-average-pooling +
 * dense head, for the classification side of MedMerge / MedForge (the
 * papers use ResNet-50 / DenseNet-121 backbones and CLIP ViT-B; this is a
 * CPU-sized stand-in with the same structure: backbone -> GAP -> linear head).
 */
import * as tf from '@tensorflow/tfjs';
import { SeededInit } from './blocks/init';
import { batchNorm } from './blocks/conv';

/** Options of {@link createClassifier}. */
export interface ClassifierOptions {
  /** `[H, W, C]` of one image; H and W divisible by 2^depth. */
  inputShape: [number, number, number];
  /** Classes (>= 2; softmax output `[N, numClasses]`). */
  numClasses: number;
  /** Channels of the first stage (doubled per stage). Default 8. */
  width?: number;
  /** Stages of `conv3x3 (no bias) -> BN -> ReLU -> maxpool 2x2`. Default 2. */
  depth?: number;
  /** Seeds every initializer (default 0). */
  seed?: number;
}

/** Name of the GAP layer whose output is the feature vector (the head's input). */
export const CLASSIFIER_FEATURE_LAYER = 'features';
/** Name of the dense head layer. */
export const CLASSIFIER_HEAD_LAYER = 'head';

/**
 * Build the classifier. Layers: `stage{i}_conv`, `stage{i}_bn`,
 * `stage{i}_relu`, `stage{i}_pool` (i from 1), `features` (GAP, `[N, width*2^(depth-1)]`),
 * `head` (dense + softmax, `[N, numClasses]`).
 */
export function createClassifier(options: ClassifierOptions): tf.LayersModel {
  const width = options.width ?? 8;
  const depth = options.depth ?? 2;
  const [H, W, C] = options.inputShape;
  const o = 'createClassifier';
  if (![H, W, C].every((d) => Number.isInteger(d) && d > 0)) throw new Error(`${o}: inputShape must be 3 positive integers, got [${options.inputShape}]`);
  if (!Number.isInteger(depth) || depth < 1) throw new Error(`${o}: depth must be an integer >= 1, got ${depth}`);
  if (H % 2 ** depth !== 0 || W % 2 ** depth !== 0) throw new Error(`${o}: H and W must be divisible by 2^depth = ${2 ** depth}, got ${H}x${W}`);
  if (!Number.isInteger(width) || width < 1) throw new Error(`${o}: width must be a positive integer, got ${width}`);
  if (!Number.isInteger(options.numClasses) || options.numClasses < 2) throw new Error(`${o}: numClasses must be an integer >= 2, got ${options.numClasses}`);
  const init = new SeededInit(options.seed ?? 0);
  const input = tf.input({ shape: [H, W, C], name: 'input' });
  let x: tf.SymbolicTensor = input;
  for (let i = 1; i <= depth; i++) {
    const filters = width * 2 ** (i - 1);
    x = tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init.he(), name: `stage${i}_conv` }).apply(x) as tf.SymbolicTensor;
    x = batchNorm(`stage${i}_bn`).apply(x) as tf.SymbolicTensor;
    x = tf.layers.reLU({ name: `stage${i}_relu` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.maxPooling2d({ poolSize: 2, name: `stage${i}_pool` }).apply(x) as tf.SymbolicTensor;
  }
  const f = tf.layers.globalAveragePooling2d({ name: CLASSIFIER_FEATURE_LAYER }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({ units: options.numClasses, activation: 'softmax', kernelInitializer: init.glorot(), name: CLASSIFIER_HEAD_LAYER })
    .apply(f) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'classifier' });
}
