/**
 * Backbone / head surgery shared by MedMerge and its baselines: find where a
 * source model's task head starts, take the backbone (everything before it)
 * and build a target network = independent copy of a backbone + a NEW head
 * for the target task, as one plain functional `tf.LayersModel`.
 *
 * Head conventions (arXiv:2403.11646 replaces the source classifier by a new
 * linear layer for the target task):
 * - classification: the head is a dense layer `[N, F] -> [N, K]` + softmax
 *   (a GAP layer is inserted when the backbone output is a feature map);
 * - segmentation: the head is the final classifier convolution (the source
 *   head's kernel size, 'same' padding) + sigmoid (K = 1) or softmax.
 */
import * as tf from '@tensorflow/tfjs';
import { cloneModel, weightEntries, architectureSignature } from '../models/weights';
import { outputsOf } from '../models/graph';
import type { TaskSpec } from '../train/task';

/** Where a model's head starts. */
export interface HeadInfo {
  /** Name of the first weight-carrying layer reached walking back from the output. */
  headLayer: string;
  /** tfjs class of that layer ('Dense', 'Conv2D', ...). */
  headClass: string;
  /** Name of the layer whose output feeds the head (the feature layer). */
  featureLayer: string;
  /** Square kernel size of a conv head (1 when not a conv). */
  kernelSize: number;
}

/**
 * Find the head of `model`: walk back from its (single) output through
 * weightless layers (activations, softmax, reshapes) to the first layer that
 * has weights; its single input is the feature tensor.
 */
export function findHead(model: tf.LayersModel): HeadInfo {
  if (model.outputs.length !== 1) throw new Error(`findHead: model '${model.name}' has ${model.outputs.length} outputs; expected 1`);
  let t = outputsOf(model)[0];
  for (let guard = 0; guard < 1000; guard++) {
    const layer = t.sourceLayer;
    const node = layer.inboundNodes[t.nodeIndex];
    if (!node || node.inputTensors.length === 0) break;
    if (layer.weights.length > 0) {
      if (node.inputTensors.length !== 1) throw new Error(`findHead: head layer '${layer.name}' has ${node.inputTensors.length} inputs; expected 1`);
      const ks = layer.getConfig().kernelSize;
      const kernelSize = Array.isArray(ks) ? Number(ks[0]) : typeof ks === 'number' ? ks : 1;
      return { headLayer: layer.name, headClass: layer.getClassName(), featureLayer: node.inputTensors[0].sourceLayer.name, kernelSize };
    }
    if (node.inputTensors.length !== 1) break;
    t = node.inputTensors[0];
  }
  throw new Error(`findHead: no weight-carrying head layer found before the input of model '${model.name}'`);
}

/** The sub-model from `model`'s input to `featureLayer`'s output (shares layers and weights with `model`). */
export function backboneOf(model: tf.LayersModel, featureLayer?: string): tf.LayersModel {
  const name = featureLayer ?? findHead(model).featureLayer;
  let layer: tf.layers.Layer;
  try {
    layer = model.getLayer(name);
  } catch {
    throw new Error(`backboneOf: model '${model.name}' has no layer '${name}' (featureLayer)`);
  }
  return tf.model({ inputs: model.inputs, outputs: layer.output as tf.SymbolicTensor, name: `${model.name}_backbone` });
}

/** Backbones of several sources; checks they share one architecture. */
export function sourceBackbones(sources: readonly tf.LayersModel[], featureLayer?: string): tf.LayersModel[] {
  if (sources.length === 0) throw new Error('sourceBackbones: no source models');
  const backbones = sources.map((m) => backboneOf(m, featureLayer));
  const sig0 = architectureSignature(weightEntries(backbones[0]));
  backbones.forEach((b, k) => {
    if (architectureSignature(weightEntries(b)) !== sig0) {
      throw new Error(`sourceBackbones: source ${k} ('${sources[k].name}') does not have the backbone architecture of source 0 (weights differ in layer class, role or shape)`);
    }
  });
  return backbones;
}

/** Options of {@link buildTargetNetwork}. */
export interface TargetHeadOptions {
  /** Kernel size of a segmentation head (default 1). */
  kernelSize?: number;
  /** Seeds the head initializer (default 0). */
  seed?: number;
}

/** A target network: an independent backbone copy + a new head. */
export interface TargetNetwork {
  /** The whole network `[N,H,W,C] -> [N,K]` or `[N,H,W,K]`. */
  model: tf.LayersModel;
  /** The backbone part (its layers are the ones inside `model`). */
  backbone: tf.LayersModel;
  /** The head's weights (the LP stage trains these). */
  headWeights: tf.LayerVariable[];
}

/**
 * Copy `backbone` (new variables, same weights) and append a new head for
 * `spec` (see module doc). The head is initialised glorot-uniform with `seed`,
 * bias 0.
 */
export async function buildTargetNetwork(backbone: tf.LayersModel, spec: TaskSpec, options: TargetHeadOptions = {}): Promise<TargetNetwork> {
  const copy = await cloneModel(backbone);
  const seed = options.seed ?? 0;
  let x = copy.outputs[0];
  const rank = x.shape.length;
  const layers: tf.layers.Layer[] = [];
  let out: tf.SymbolicTensor;
  if (spec.task === 'classification') {
    if (rank === 4) {
      const gap = tf.layers.globalAveragePooling2d({ name: 'target_gap' });
      layers.push(gap);
      x = gap.apply(x) as tf.SymbolicTensor;
    } else if (rank !== 2) {
      throw new Error(`buildTargetNetwork: classification needs a backbone output [N,F] or [N,H,W,F], got rank ${rank}`);
    }
    const dense = tf.layers.dense({
      units: spec.numClasses,
      activation: 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
      name: 'target_head',
    });
    layers.push(dense);
    out = dense.apply(x) as tf.SymbolicTensor;
  } else {
    if (rank !== 4) throw new Error(`buildTargetNetwork: segmentation needs a backbone output [N,H,W,F], got rank ${rank}`);
    const conv = tf.layers.conv2d({
      filters: spec.numClasses,
      kernelSize: options.kernelSize ?? 1,
      padding: 'same',
      activation: spec.numClasses === 1 ? 'sigmoid' : 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
      name: 'target_head',
    });
    layers.push(conv);
    out = conv.apply(x) as tf.SymbolicTensor;
  }
  const model = tf.model({ inputs: copy.inputs, outputs: out, name: 'target_network' });
  return { model, backbone: copy, headWeights: layers.flatMap((l) => l.trainableWeights) };
}

/**
 * Re-estimate every BatchNorm layer's moving mean / variance of `model` on
 * `batches` as the plain average of the per-batch statistics (momentum
 * t/(t+1) at batch t, like PyTorch's `momentum=None`), running the network in
 * training mode without updating any other weight. Restores each layer's
 * momentum afterwards. No-op without BN layers or batches.
 */
export function reestimateBatchNorm(model: tf.LayersModel, batches: readonly tf.Tensor4D[], forward?: (x: tf.Tensor4D) => unknown): void {
  const bns = model.layers.filter((l) => l.getClassName() === 'BatchNormalization') as unknown as { momentum: number }[];
  if (bns.length === 0 || batches.length === 0) return;
  const saved = bns.map((l) => l.momentum);
  try {
    batches.forEach((x, t) => {
      for (const l of bns) l.momentum = t / (t + 1);
      tf.tidy(() => {
        if (forward) forward(x);
        else model.apply(x, { training: true });
      });
    });
  } finally {
    bns.forEach((l, i) => (l.momentum = saved[i]));
  }
}
