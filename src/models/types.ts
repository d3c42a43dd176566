import type * as tf from '@tensorflow/tfjs';

/** Activation applied to the network's final layer. */
export type OutputActivation = 'none' | 'sigmoid' | 'softmax';

/**
 * Options every model builder takes.
 * - `inputShape`: `[H, W, C]` of one NHWC image (C = 1 or 3 typically).
 * - `numClasses`: output channels; the output is `[N, H, W, numClasses]`.
 *   Use 1 with `sigmoid` for binary masks, K with `softmax` for K-class maps.
 * - `outputActivation`: default `'sigmoid'` when `numClasses === 1`, else `'softmax'`.
 * - `width`: base channel count of the first stage; every other stage is a fixed
 *   multiple of it (each model documents its multiples). Default: the model's
 *   `capabilities.defaultWidth` (CPU-friendly); `capabilities.paperWidth` gives
 *   the paper's size.
 * - `seed`: seeds the kernel initializers, so the same options build the same weights.
 */
export interface ModelOptions {
  inputShape: [number, number, number];
  numClasses: number;
  outputActivation?: OutputActivation;
  width?: number;
  seed?: number;
}

/** {@link ModelOptions} with every default filled in (what builders receive). */
export interface ResolvedModelOptions {
  inputShape: [number, number, number];
  numClasses: number;
  outputActivation: OutputActivation;
  width: number;
  seed: number;
}

/**
 * Where an architecture is cut for split learning. Names are layer names of the
 * built model; a cut is "after" the named layer (its output crosses the cut).
 *
 * - `twoPart`: the client front is this layer and all its ancestors; the server
 *   holds every other layer (and computes the loss: labels go to the server).
 * - `uShaped: [frontEnd, bodyEnd]`: client front = `frontEnd` and its ancestors;
 *   server body = the ancestors of `bodyEnd` (inclusive) not in the front;
 *   client back = everything else (it computes the output and the loss, so
 *   labels and predictions stay on the client). Skip connections from the
 *   front straight to the back stay on the client; those from the front into
 *   the body are sent to the server with the activations.
 */
export interface SplitPoints {
  twoPart: string;
  uShaped: [string, string];
}

/** What an architecture supports and needs, as data. */
export interface ModelCapabilities {
  /** H and W must be multiples of this (e.g. 16 for four 2x downsamplings). */
  divisibleBy: number;
  /** Smallest H and W accepted. */
  minSize: number;
  /** Default `width` (CPU-friendly: trains at 64-128 px on a laptop). */
  defaultWidth: number;
  /** `width` matching the paper's channel counts. */
  paperWidth: number;
  split: SplitPoints;
  /** Paper reference, e.g. 'Ronneberger et al. 2015, arXiv:1505.04597'. */
  paper: string;
}

/** One entry of the model registry. */
export interface ModelSpec {
  /** Registry name, e.g. 'unet'. */
  name: string;
  /** Human-readable name, e.g. 'U-Net'. */
  displayName: string;
  capabilities: ModelCapabilities;
  /** Build the network (options already validated and defaulted). */
  build(options: ResolvedModelOptions): tf.LayersModel;
}
