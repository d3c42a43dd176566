/**
 * The one typed view of the tfjs-layers internals medfl walks: symbolic
 * tensors, the nodes that produced them, layers and their weight variables.
 * tfjs-layers does not export these shapes (they are internal classes), so
 * code that needs them (split learning's graph surgery, MedMerge's head
 * search and weight substitution, the benchmark's graph export) goes through
 * these interfaces and accessors instead of declaring its own. The fields
 * named here are stable in the pinned tfjs 4.22; the split, merge and bench
 * tests pin the behaviour that relies on them.
 */
import * as tf from '@tensorflow/tfjs';

/** View of a tfjs-layers `LayerVariable`: `read()` returns its field `val` (a `tf.Variable`). */
export interface LayerVariableLike {
  readonly name: string;
  readonly originalName: string;
  readonly shape: number[];
  readonly trainable: boolean;
  val: tf.Variable | tf.Tensor;
  read(): tf.Tensor;
  write(v: tf.Tensor): unknown;
}

/** View of a `tf.SymbolicTensor`: which node of which layer produced it. */
export interface SymbolicTensorLike {
  id: number;
  name: string;
  /** Shape with the batch axis first (`null` = unknown). */
  shape: (number | null)[];
  sourceLayer: LayerLike;
  /** Index in `sourceLayer.inboundNodes` of the producing node. */
  nodeIndex: number;
  /** Index of this tensor among the node's outputs. */
  tensorIndex: number;
}

/** View of a tfjs-layers `Node`: one call of a layer. */
export interface NodeLike {
  inputTensors: SymbolicTensorLike[];
  outputTensors: SymbolicTensorLike[];
  inboundLayers: LayerLike[];
  /** The keyword arguments of the call (e.g. `{ training }`), when recorded. */
  callArgs?: Record<string, unknown>;
}

/** View of a `tf.layers.Layer` with its call nodes and weight variables. */
export interface LayerLike {
  name: string;
  weights: LayerVariableLike[];
  /** One node per call of the layer. */
  inboundNodes: NodeLike[];
  apply(inputs: unknown, kwargs?: Record<string, unknown>): unknown;
  getConfig(): Record<string, unknown>;
  getClassName(): string;
}

/** The view of one layer. */
export function layerView(layer: tf.layers.Layer): LayerLike {
  return layer as unknown as LayerLike;
}

/** The views of `model.layers`, in the model's order. */
export function layersOf(model: tf.LayersModel): LayerLike[] {
  return model.layers as unknown as LayerLike[];
}

/** The views of `model.outputs`. */
export function outputsOf(model: tf.LayersModel): SymbolicTensorLike[] {
  return model.outputs as unknown as SymbolicTensorLike[];
}

/** The views of `model.inputs`. */
export function inputsOf(model: tf.LayersModel): SymbolicTensorLike[] {
  return model.inputs as unknown as SymbolicTensorLike[];
}

/** The views of `model.weights` (trainable and non-trainable, model order). */
export function variablesOf(model: tf.LayersModel): LayerVariableLike[] {
  return model.weights as unknown as LayerVariableLike[];
}

/** The node that produced `t`. */
export function nodeOf(t: SymbolicTensorLike): NodeLike {
  return t.sourceLayer.inboundNodes[t.nodeIndex];
}

/** Whether `layer` is a model input placeholder. */
export function isInputLayer(layer: LayerLike): boolean {
  return layer.getClassName() === 'InputLayer';
}
