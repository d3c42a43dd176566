/**
 * Context Guided (CG) blocks of CGNet (Wu et al. 2018, arXiv:1811.08201;
 * official code github.com/wutianyiRosun/CGNet, `model/CGNet.py`).
 *
 * A CG block learns the joint feature of
 * - `f_loc`: the local feature, a 3x3 channel-wise (depthwise) conv,
 * - `f_sur`: the surrounding context, a 3x3 channel-wise DILATED conv,
 * - `f_joi`: their concatenation + BatchNorm + PReLU,
 * - `f_glo`: the global context, global average pooling -> FC -> ReLU -> FC ->
 *   sigmoid, used as a per-channel multiplier of the joint feature,
 * and (non-down-sampling blocks) adds its input back (global residual learning).
 *
 * All functions here apply tfjs layers to symbolic tensors (functional API) and
 * return the block's output. Every layer gets a name `${name}_<part>` and its
 * kernel initializer from the caller's {@link SeededInit}. Tensors are NHWC.
 *
 * Departures from the released code (all small):
 * - PReLU slopes are per channel (`sharedAxes: [1, 2]`, like `nn.PReLU(C)`),
 *   initialised to 0.25 (PyTorch's default).
 * - BatchNorm: epsilon 1e-3 and momentum 0.9 (PyTorch `eps=1e-3`, `momentum=0.1`).
 * - FC layers of `f_glo` use Glorot-uniform kernels and zero biases (PyTorch
 *   `nn.Linear` default init differs); convs are He-normal as in the code.
 * - The FC bottleneck is `max(1, floor(C / reduction))` units so that small
 *   widths still build (the code uses `C // reduction`).
 * - f_loc / f_sur use {@link ChannelWiseConv2D} (a custom layer) because tfjs'
 *   own DepthwiseConv2D layer ignores `dilationRate`.
 */
import * as tf from '@tensorflow/tfjs';
import type { Initializer, SeededInit } from './init';

type Sym = tf.SymbolicTensor;

/** PyTorch `nn.PReLU` initial slope. */
const PRELU_INIT = 0.25;
/** CGNet BatchNorm epsilon (`nn.BatchNorm2d(eps=1e-3)`). */
const BN_EPSILON = 1e-3;
/** Keras-style momentum matching PyTorch's `momentum=0.1`. */
const BN_MOMENTUM = 0.9;

function apply(layer: tf.layers.Layer, x: Sym | Sym[]): Sym {
  return layer.apply(x) as Sym;
}

function channelsOf(x: Sym, where: string): number {
  const c = x.shape[x.shape.length - 1];
  if (c == null || c < 1) {
    throw new Error(`context-guided.ts: ${where} needs a known channel count, got shape ${JSON.stringify(x.shape)}`);
  }
  return c;
}

/** BatchNorm (eps 1e-3) then per-channel PReLU: layers `${name}_bn`, `${name}_act`. Shape-preserving. */
export function bnPrelu(x: Sym, name: string): Sym {
  const y = apply(tf.layers.batchNormalization({ axis: -1, epsilon: BN_EPSILON, momentum: BN_MOMENTUM, name: `${name}_bn` }), x);
  return apply(
    tf.layers.prelu({ sharedAxes: [1, 2], alphaInitializer: tf.initializers.constant({ value: PRELU_INIT }), name: `${name}_act` }),
    y,
  );
}

/** Options of {@link convBnPrelu}. */
export interface ConvBnPreluOptions {
  filters: number;
  /** Square kernel size (odd). */
  kernel: number;
  /** 1 or 2. With 2 the input is zero-padded by (k-1)/2 on every side and a
   * 'valid' conv is used, exactly like PyTorch `padding=(k-1)/2, stride=2`
   * (tfjs 'same' would pad only bottom/right on even sizes). Default 1. */
  stride?: 1 | 2;
  name: string;
  init: SeededInit;
}

/**
 * kxk conv (no bias) + BatchNorm + PReLU (CGNet `ConvBNPReLU`).
 * `[N,H,W,Cin] -> [N,H/stride,W/stride,filters]` (H, W even when stride 2).
 * Layers: `${name}_pad` (stride 2 only), `${name}_conv`, `${name}_bn`, `${name}_act`.
 */
export function convBnPrelu(x: Sym, o: ConvBnPreluOptions): Sym {
  const stride = o.stride ?? 1;
  let y = x;
  if (stride === 2) {
    y = apply(tf.layers.zeroPadding2d({ padding: (o.kernel - 1) / 2, name: `${o.name}_pad` }), y);
  }
  y = apply(
    tf.layers.conv2d({
      filters: o.filters,
      kernelSize: o.kernel,
      strides: stride,
      padding: stride === 2 ? 'valid' : 'same',
      useBias: false,
      kernelInitializer: o.init.he(),
      name: `${o.name}_conv`,
    }),
    y,
  );
  return bnPrelu(y, o.name);
}

/** Options of {@link globalContext}. */
export interface GlobalContextOptions {
  /** Channel reduction of the FC bottleneck (8 in CGNet stage 2, 16 in stage 3). */
  reduction: number;
  name: string;
  init: SeededInit;
}

/**
 * `f_glo`: global average pooling -> FC(C/r) -> ReLU -> FC(C) -> sigmoid, and the
 * input re-weighted channel-wise by that vector (a squeeze-excitation gate).
 * `[N,H,W,C] -> [N,H,W,C]`. Layers: `${name}_pool` `[N,C]`, `${name}_fc1`,
 * `${name}_fc2` (the sigmoid gate, `[N,C]`, values in (0,1)), `${name}_reshape`
 * `[N,1,1,C]`, `${name}_mul` (the re-weighted feature).
 */
export function globalContext(x: Sym, o: GlobalContextOptions): Sym {
  const c = channelsOf(x, `${o.name} (f_glo)`);
  const hidden = Math.max(1, Math.floor(c / o.reduction));
  let g = apply(tf.layers.globalAveragePooling2d({ name: `${o.name}_pool` }), x);
  g = apply(tf.layers.dense({ units: hidden, activation: 'relu', kernelInitializer: o.init.glorot(), name: `${o.name}_fc1` }), g);
  g = apply(tf.layers.dense({ units: c, activation: 'sigmoid', kernelInitializer: o.init.glorot(), name: `${o.name}_fc2` }), g);
  g = apply(tf.layers.reshape({ targetShape: [1, 1, c], name: `${o.name}_reshape` }), g);
  return apply(tf.layers.multiply({ name: `${o.name}_mul` }), [x, g]);
}

/** Options of the CG blocks. */
export interface ContextGuidedBlockOptions {
  /** Output channels. The plain block needs an even count equal to its input's. */
  channels: number;
  /** Dilation rate of `f_sur` (2 in stage 2, 4 in stage 3). */
  dilation: number;
  /** `f_glo` FC reduction (8 in stage 2, 16 in stage 3). */
  reduction: number;
  name: string;
  init: SeededInit;
}

/** f_loc and f_sur on the same input, concatenated (`${name}_loc`, `${name}_sur`, `${name}_joi`). */
function locSurJoint(x: Sym, o: ContextGuidedBlockOptions): Sym {
  const loc = apply(new ChannelWiseConv2D({ kernelSize: 3, dilationRate: 1, depthwiseInitializer: o.init.he(), name: `${o.name}_loc` }), x);
  const sur = apply(
    new ChannelWiseConv2D({ kernelSize: 3, dilationRate: o.dilation, depthwiseInitializer: o.init.he(), name: `${o.name}_sur` }),
    x,
  );
  return apply(tf.layers.concatenate({ axis: -1, name: `${o.name}_joi` }), [loc, sur]);
}

/**
 * The CG block (CGNet `ContextGuidedBlock`, residual version).
 * `[N,H,W,C] -> [N,H,W,C]` with `C = channels` (even).
 * 1x1 conv-BN-PReLU to C/2 (`${name}_reduce_*`), f_loc + f_sur (C/2 each),
 * f_joi = concat + BN + PReLU (`${name}_joi`, `${name}_joi_bn`, `${name}_joi_act`),
 * f_glo (`${name}_glo_*`), then `${name}_add` = input + refined feature.
 */
export function contextGuidedBlock(x: Sym, o: ContextGuidedBlockOptions): Sym {
  const cin = channelsOf(x, o.name);
  if (cin !== o.channels || o.channels % 2 !== 0) {
    throw new Error(
      `context-guided.ts: block ${o.name} needs an even channel count equal to its input's (residual add), ` +
        `got channels=${o.channels}, input channels=${cin}`,
    );
  }
  const reduced = convBnPrelu(x, { filters: o.channels / 2, kernel: 1, name: `${o.name}_reduce`, init: o.init });
  const joint = bnPrelu(locSurJoint(reduced, o), `${o.name}_joi`);
  const refined = globalContext(joint, { reduction: o.reduction, name: `${o.name}_glo`, init: o.init });
  return apply(tf.layers.add({ name: `${o.name}_add` }), [x, refined]);
}

/**
 * The down-sampling CG block (CGNet `ContextGuidedBlock_Down`); no residual.
 * `[N,H,W,Cin] -> [N,H/2,W/2,channels]` (H, W even).
 * 3x3 stride-2 conv-BN-PReLU to C (`${name}_conv*`), f_loc + f_sur (C each),
 * f_joi = concat + BN + PReLU (2C), 1x1 conv back to C (`${name}_fuse`), f_glo.
 */
export function contextGuidedDownBlock(x: Sym, o: ContextGuidedBlockOptions): Sym {
  const y = convBnPrelu(x, { filters: o.channels, kernel: 3, stride: 2, name: `${o.name}_conv`, init: o.init });
  const joint = bnPrelu(locSurJoint(y, o), `${o.name}_joi`);
  const fused = apply(
    tf.layers.conv2d({ filters: o.channels, kernelSize: 1, useBias: false, kernelInitializer: o.init.he(), name: `${o.name}_fuse` }),
    joint,
  );
  return globalContext(fused, { reduction: o.reduction, name: `${o.name}_glo`, init: o.init });
}

/**
 * One input-injection step: 3x3 average pooling, stride 2, padding 1, padded
 * zeros counted in the mean (PyTorch `AvgPool2d(3, 2, 1)` default
 * `count_include_pad=True`). `[N,H,W,C] -> [N,H/2,W/2,C]` for even H, W.
 * Layers `${name}_pad`, `${name}_pool`. No weights.
 */
export function inputInjection(x: Sym, name: string): Sym {
  const padded = apply(tf.layers.zeroPadding2d({ padding: 1, name: `${name}_pad` }), x);
  return apply(tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: `${name}_pool` }), padded);
}

/** A serialized initializer: `{ className, config }` as tfjs writes it. */
interface InitializerConfig {
  className: string;
  config: tf.serialization.ConfigDict;
}

function initializerFromConfig(cfg: InitializerConfig): Initializer {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[cfg.className];
  if (!entry) throw new Error(`context-guided.ts: unknown initializer class '${cfg.className}'`);
  const [cls, fromConfig] = entry;
  return fromConfig(cls, cfg.config) as unknown as Initializer;
}

/** Constructor arguments of {@link ChannelWiseConv2D}. */
export interface ChannelWiseConv2DArgs {
  /** Square kernel size (odd), e.g. 3. */
  kernelSize: number;
  /** Dilation rate (>= 1). Default 1. */
  dilationRate?: number;
  /** Kernel initializer (an instance, or its serialized form when loading). */
  depthwiseInitializer: Initializer | InitializerConfig;
  name?: string;
  trainable?: boolean;
}

/**
 * Channel-wise (depthwise, multiplier 1, no bias, stride 1, 'same' padding)
 * convolution WITH dilation: `[N,H,W,C] -> [N,H,W,C]`, kernel `[k,k,C,1]`.
 * tfjs 4.22's `tf.layers.depthwiseConv2d` silently ignores `dilationRate`
 * (its call passes no dilation), so CGNet's f_loc / f_sur use this layer.
 */
export class ChannelWiseConv2D extends tf.layers.Layer {
  /** Serialization name (unique medfl prefix). */
  static className = 'MedflChannelWiseConv2D';
  readonly kernelSize: number;
  readonly dilationRate: number;
  private readonly initializer: Initializer;
  private kernel: tf.LayerVariable | null = null;

  constructor(args: ChannelWiseConv2DArgs) {
    super(args);
    const d = args.dilationRate ?? 1;
    if (!Number.isInteger(args.kernelSize) || args.kernelSize < 1 || args.kernelSize % 2 !== 1 || !Number.isInteger(d) || d < 1) {
      throw new Error(
        `context-guided.ts: ChannelWiseConv2D needs an odd kernelSize >= 1 and an integer dilationRate >= 1, ` +
          `got kernelSize=${args.kernelSize}, dilationRate=${d}`,
      );
    }
    this.kernelSize = args.kernelSize;
    this.dilationRate = d;
    const init = args.depthwiseInitializer as Initializer | InitializerConfig;
    this.initializer = 'className' in init && typeof init.className === 'string' && 'config' in init
      ? initializerFromConfig(init as InitializerConfig)
      : (init as Initializer);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const c = shape[shape.length - 1];
    if (c == null) throw new Error(`context-guided.ts: ChannelWiseConv2D ${this.name} needs a known channel count`);
    this.kernel = this.addWeight('depthwise_kernel', [this.kernelSize, this.kernelSize, c, 1], 'float32', this.initializer);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    if (!this.kernel) throw new Error(`context-guided.ts: ChannelWiseConv2D ${this.name} called before build`);
    const k = this.kernel.read() as tf.Tensor4D;
    return tf.tidy(() => tf.depthwiseConv2d(x, k, 1, 'same', 'NHWC', this.dilationRate));
  }

  override getConfig(): tf.serialization.ConfigDict {
    const init = this.initializer as unknown as tf.serialization.Serializable;
    return {
      ...super.getConfig(),
      kernelSize: this.kernelSize,
      dilationRate: this.dilationRate,
      depthwiseInitializer: { className: init.getClassName(), config: init.getConfig() },
    };
  }
}
tf.serialization.registerClass(ChannelWiseConv2D);

/** Constructor arguments of {@link ChannelSlice}. */
export interface ChannelSliceArgs {
  /** First channel kept (>= 0). */
  begin: number;
  /** Number of channels kept (>= 1). */
  size: number;
  name?: string;
  trainable?: boolean;
}

/**
 * Keeps channels `[begin, begin + size)` of an NHWC tensor:
 * `[N,H,W,C] -> [N,H,W,size]`. No weights; differentiable (slice).
 * CGNet uses it to recover the injected half-resolution image from the stage-1
 * concatenation so the model has a single-tensor split cut there.
 */
export class ChannelSlice extends tf.layers.Layer {
  /** Serialization name (unique medfl prefix). */
  static className = 'MedflChannelSlice';
  readonly begin: number;
  readonly size: number;

  constructor(args: ChannelSliceArgs) {
    super(args);
    if (!Number.isInteger(args.begin) || args.begin < 0 || !Number.isInteger(args.size) || args.size < 1) {
      throw new Error(
        `context-guided.ts: ChannelSlice needs integer begin >= 0 and size >= 1, got begin=${args.begin}, size=${args.size}`,
      );
    }
    this.begin = args.begin;
    this.size = args.size;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const c = shape[shape.length - 1];
    if (c != null && this.begin + this.size > c) {
      throw new Error(`context-guided.ts: ChannelSlice [${this.begin}, ${this.begin + this.size}) exceeds ${c} input channels`);
    }
    return [...shape.slice(0, -1), this.size];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return tf.tidy(() => {
      const begin = x.shape.map(() => 0);
      const size = x.shape.map(() => -1);
      begin[begin.length - 1] = this.begin;
      size[size.length - 1] = this.size;
      return tf.slice(x, begin, size);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), begin: this.begin, size: this.size };
  }
}
tf.serialization.registerClass(ChannelSlice);
