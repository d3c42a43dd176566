/**
 * Describe a tfjs functional `LayersModel` as a framework-neutral layer graph
 * (JSON), so a PyTorch twin with the same layer shapes can be instantiated by
 * `bench/torch/bench_torch.py` for throughput comparisons.
 *
 * Every node names its op, its input node names and the hyper-parameters a
 * PyTorch module needs (channel counts, kernel, stride, dilation, TF 'same'
 * padding, bias, ...). Shapes are the tfjs NHWC shapes without the batch
 * axis; the PyTorch side uses NCHW for convolutional ops and the official
 * Swin-Unet token layout `[B, H*W, C]` for medfl's Swin layers
 * (`MedflSwin*`, Cao et al. 2021, arXiv:2105.05537), converting at the
 * boundaries. Layers without a twin make {@link describeModel} throw an error
 * naming the layer class.
 */
import * as tf from '@tensorflow/tfjs';
import { type EffectiveWindow, SwinBlock, effectiveWindow } from '../models/blocks/swin';
import { layerView } from '../models/graph';

/** One op of the graph. `params` depend on `op` (see the converter table). */
export interface GraphNode {
  name: string;
  /** Op kind understood by bench/torch/bench_torch.py. */
  op: string;
  /** Input node names, in order. */
  inputs: string[];
  /** Output shape, NHWC without the batch axis. */
  shape: number[];
  params: Record<string, unknown>;
}

/** A whole model: `nodes` in topological order, the first being the input. */
export interface ModelGraph {
  name: string;
  /** Input shape `[H, W, C]`. */
  inputShape: number[];
  nodes: GraphNode[];
  output: string;
  /** Trainable parameter count on the tfjs side (the twin should match it). */
  params: number;
}

type Config = Record<string, unknown>;

function pair(v: unknown): [number, number] {
  if (typeof v === 'number') return [v, v];
  const a = v as number[];
  return [a[0], a[a.length > 1 ? 1 : 0]];
}

function shapeOf(t: tf.SymbolicTensor): number[] {
  return t.shape.slice(1).map((d) => (d == null ? -1 : d));
}

function activationName(cfg: Config): string {
  const a = cfg.activation;
  if (a == null) return 'linear';
  if (typeof a === 'string') return a;
  return String((a as { className?: string }).className ?? 'linear').toLowerCase();
}

type Converter = (layer: tf.layers.Layer, cfg: Config, inShapes: number[][]) => { op: string; params: Record<string, unknown> };

const lastDim = (s: number[]) => s[s.length - 1];

/** Token grid `[H, W]` of a Swin layer input `[H, W, C]` (must be known). */
function grid(s: number[], who: string): [number, number] {
  if (s.length !== 3 || s[0] < 1 || s[1] < 1) throw new Error(`describeModel: ${who} needs a known [H, W, C] input, got ${JSON.stringify(s)}`);
  return [s[0], s[1]];
}

/**
 * medfl's Swin-Unet layers (src/models/blocks/swin) -> ops of the official
 * PyTorch modules (HuCaoFighting/Swin-Unet): `swinPatchEmbed` (stride-p conv +
 * LayerNorm), `swinPatchMerging`, `swinPatchExpand` (`PatchExpand` for scale 2,
 * `FinalPatchExpand_X4` for 4), `swinBlock` (`SwinTransformerBlock`),
 * `tokenLinear` (`nn.Linear`), `layerNorm` (`nn.LayerNorm`). Every op carries
 * its input `resolution` where the module needs it; `swinBlock` carries the
 * effective window / shift after the official clamp (grid side <= window ->
 * one unshifted window) as well as the requested ones.
 */
const SWIN_CONVERTERS: Record<string, Converter> = {
  MedflSwinPatchEmbed: (_l, c, s) => ({
    op: 'swinPatchEmbed',
    params: { inC: lastDim(s[0]), dim: c.embedDim, patch: c.patchSize, eps: c.epsilon, resolution: grid(s[0], 'MedflSwinPatchEmbed') },
  }),
  MedflSwinPatchMerging: (_l, c, s) => ({
    op: 'swinPatchMerging',
    params: { dim: lastDim(s[0]), eps: c.epsilon, resolution: grid(s[0], 'MedflSwinPatchMerging') },
  }),
  MedflSwinPatchExpand: (_l, c, s) => ({
    op: 'swinPatchExpand',
    params: { dim: lastDim(s[0]), scale: c.scale, outDim: c.outDim, eps: c.epsilon, resolution: grid(s[0], 'MedflSwinPatchExpand') },
  }),
  MedflSwinLinear: (_l, c, s) => ({ op: 'tokenLinear', params: { in: lastDim(s[0]), out: c.units, bias: c.useBias } }),
  MedflSwinLayerNorm: (_l, c, s) => ({ op: 'layerNorm', params: { C: lastDim(s[0]), eps: c.epsilon } }),
  MedflSwinBlock: (l, c, s) => {
    const [h, w] = grid(s[0], 'MedflSwinBlock');
    const dim = lastDim(s[0]);
    const built: EffectiveWindow | undefined = l instanceof SwinBlock ? l.effectiveWindow : undefined;
    const eff = built ?? effectiveWindow(h, w, c.windowSize as number, c.shiftSize as number);
    return {
      op: 'swinBlock',
      params: {
        dim, resolution: [h, w], heads: c.numHeads, window: eff.window, shift: eff.shift,
        requestedWindow: c.windowSize, requestedShift: c.shiftSize,
        mlpHidden: Math.floor(dim * (c.mlpRatio as number)), qkvBias: true,
        eps: c.epsilon, maskValue: c.maskValue, dropPath: c.dropPath,
      },
    };
  },
};

/** tfjs layer class -> graph op. */
const CONVERTERS: Record<string, Converter> = {
  Conv2D: (_l, c, s) => ({
    op: 'conv2d',
    params: {
      inC: lastDim(s[0]), outC: c.filters, kernel: pair(c.kernelSize), stride: pair(c.strides), dilation: pair(c.dilationRate),
      padding: c.padding, bias: c.useBias, activation: activationName(c),
    },
  }),
  Conv2DTranspose: (_l, c, s) => ({
    op: 'conv2dTranspose',
    params: { inC: lastDim(s[0]), outC: c.filters, kernel: pair(c.kernelSize), stride: pair(c.strides), padding: c.padding, bias: c.useBias, activation: activationName(c) },
  }),
  DepthwiseConv2D: (_l, c, s) => ({
    op: 'depthwise',
    params: { C: lastDim(s[0]), mult: c.depthMultiplier ?? 1, kernel: pair(c.kernelSize), stride: pair(c.strides), dilation: pair(c.dilationRate ?? 1), padding: c.padding, bias: c.useBias, activation: activationName(c) },
  }),
  MedflChannelWiseConv2D: (_l, c, s) => ({
    op: 'depthwise',
    params: { C: lastDim(s[0]), mult: 1, kernel: pair(c.kernelSize), stride: [1, 1], dilation: pair(c.dilationRate ?? 1), padding: 'same', bias: false, activation: 'linear' },
  }),
  BatchNormalization: (_l, c, s) => ({ op: 'batchnorm', params: { C: lastDim(s[0]), eps: c.epsilon, momentum: 1 - (c.momentum as number) } }),
  ReLU: () => ({ op: 'act', params: { fn: 'relu' } }),
  Activation: (_l, c) => ({ op: 'act', params: { fn: activationName(c) } }),
  PReLU: (l, _c, s) => {
    const w = l.getWeights()[0];
    return { op: 'prelu', params: { C: lastDim(s[0]), perChannel: w ? w.size > 1 : true } };
  },
  MaxPooling2D: (_l, c) => ({ op: 'maxpool', params: { kernel: pair(c.poolSize), stride: pair(c.strides ?? c.poolSize), padding: c.padding } }),
  AveragePooling2D: (_l, c) => ({ op: 'avgpool', params: { kernel: pair(c.poolSize), stride: pair(c.strides ?? c.poolSize), padding: c.padding } }),
  GlobalAveragePooling2D: (_l, c) => ({ op: 'gap', params: { keepDims: c.keepDims === true } }),
  Dense: (_l, c, s) => ({ op: 'dense', params: { in: lastDim(s[0]), out: c.units, bias: c.useBias, activation: activationName(c) } }),
  Reshape: (_l, c) => ({ op: 'reshape', params: { target: c.targetShape } }),
  UpSampling2D: (_l, c) => ({ op: 'upsample', params: { size: pair(c.size), mode: c.interpolation ?? 'nearest' } }),
  Concatenate: (_l, c, s) => {
    const axis = (c.axis as number) ?? -1;
    if (axis !== -1 && axis !== s[0].length) throw new Error('Concatenate: only the channel axis is supported');
    return { op: 'concat', params: {} };
  },
  Add: () => ({ op: 'add', params: {} }),
  Multiply: () => ({ op: 'mul', params: {} }),
  ZeroPadding2D: (_l, c) => {
    const p = c.padding as number | number[] | number[][];
    const pp = typeof p === 'number' ? [[p, p], [p, p]] : Array.isArray(p[0]) ? (p as number[][]) : [[p[0] as number, p[0] as number], [p[1] as number, p[1] as number]];
    return { op: 'zeropad', params: { top: pp[0][0], bottom: pp[0][1], left: pp[1][0], right: pp[1][1] } };
  },
  MedflMaxUnpool2D: () => ({ op: 'maxunpool', params: {} }),
  MedflChannelSlice: (_l, c) => ({ op: 'channelslice', params: { begin: c.begin, size: c.size } }),
  ...SWIN_CONVERTERS,
};

/** Layer classes {@link describeModel} can convert. */
export const GRAPH_LAYER_CLASSES = Object.keys(CONVERTERS);

/**
 * Walk a functional model layer by layer (topological order of
 * `model.layers`) and return its {@link ModelGraph}. Throws naming the first
 * layer whose class has no converter, or a layer called more than once.
 */
export function describeModel(model: tf.LayersModel, name = model.name): ModelGraph {
  const nodes: GraphNode[] = [];
  const inputLayer = model.inputLayers[0];
  if (model.inputLayers.length !== 1 || model.outputs.length !== 1) {
    throw new Error(`describeModel(${name}): only single-input, single-output models are supported`);
  }
  const inputShape = shapeOf(model.inputs[0]);
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (layer === inputLayer || cls === 'InputLayer') {
      nodes.push({ name: layer.name, op: 'input', inputs: [], shape: inputShape, params: {} });
      continue;
    }
    const inbound = layerView(layer).inboundNodes;
    if (inbound.length !== 1) throw new Error(`describeModel(${name}): layer '${layer.name}' (${cls}) is called ${inbound.length} times; shared layers are not supported`);
    const conv = CONVERTERS[cls];
    if (!conv) throw new Error(`describeModel(${name}): no PyTorch twin for layer class '${cls}' (layer '${layer.name}'); supported: ${GRAPH_LAYER_CLASSES.join(', ')}`);
    const inputs = Array.isArray(layer.input) ? layer.input : [layer.input];
    const inShapes = inputs.map((t) => shapeOf(t as tf.SymbolicTensor));
    const { op, params } = conv(layer, layer.getConfig() as Config, inShapes);
    const output = layer.output as tf.SymbolicTensor;
    nodes.push({ name: layer.name, op, inputs: inbound[0].inboundLayers.map((l) => l.name), shape: shapeOf(output), params });
  }
  return { name, inputShape, nodes, output: model.outputLayers[0].name, params: model.countParams() };
}
