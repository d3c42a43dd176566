/**
 * Differentiable atrous (dilated) convolutions for tfjs.
 *
 * tfjs 4.x refuses to differentiate `conv2d` / `depthwiseConv2d` with a
 * dilation rate > 1 ("dilation rates greater than 1 are not yet supported in
 * gradients") on every backend, and its fused conv ops assert the same inside
 * their custom gradients. DeepLabV3/V3+, CGNet and DUCK-Net train atrous
 * convolutions, so medfl:
 *
 * 1. re-registers the gradients of the `Conv2D` and `DepthwiseConv2dNative`
 *    kernels. With dilation 1 they are exactly tfjs's. With dilation d > 1 they
 *    use the identity "a dilated conv is a conv with a zero-inserted filter of
 *    size (K-1)d+1": dx = conv-transpose of dy with the zero-inserted filter;
 *    dW = the backprop-filter of the zero-inserted filter, sampled every d taps.
 *    On 'wasm', whose backprop kernels are medfl's own and honour a
 *    `dilations` attribute, dx and dW are computed directly at the dilated
 *    taps instead (no zero-inserted filter, whose size grows with d).
 * 2. wraps `tf.fused.conv2d` / `tf.fused.depthwiseConv2d` (used by tfjs-layers
 *    conv layers while recording gradients) so that dilated calls take the
 *    unfused path (conv + bias + activation), whose gradient is (1). While
 *    recording, bias-free linear calls (and biased ones on a constant input)
 *    also take it: tfjs' fused gradient computes every input's gradient
 *    eagerly, including the never-used image gradient of a first conv.
 *
 * This mirrors TensorFlow's own treatment of atrous convolution as an ordinary
 * convolution on a dilated filter; the alternative (space-to-batch, as in
 * TF's atrous_conv2d) gives the same numbers at a different cost.
 */
import * as tf from '@tensorflow/tfjs';

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

function pair(v: unknown, fallback = 1): [number, number] {
  if (v == null) return [fallback, fallback];
  if (typeof v === 'number') return [v, v];
  const a = v as number[];
  return [a[0], a[1]];
}

function isOne(d: [number, number]): boolean {
  return d[0] === 1 && d[1] === 1;
}

/**
 * Insert (d-1) zeros between the taps of a `[KH, KW, I, O]` filter:
 * result `[(KH-1)dh+1, (KW-1)dw+1, I, O]`.
 */
export function dilateFilter(filter: tf.Tensor4D, dilations: [number, number]): tf.Tensor4D {
  const [dh, dw] = dilations;
  if (dh === 1 && dw === 1) return filter.clone();
  return tf.tidy(() => {
    const [KH, KW, I, O] = filter.shape;
    const r = filter.reshape([KH, 1, KW, 1, I, O]);
    const p = tf.pad(r, [[0, 0], [0, dh - 1], [0, 0], [0, dw - 1], [0, 0], [0, 0]]);
    const full = p.reshape([KH * dh, KW * dw, I, O]);
    return full.slice([0, 0, 0, 0], [(KH - 1) * dh + 1, (KW - 1) * dw + 1, I, O]) as tf.Tensor4D;
  });
}

/** Keep every d-th tap of a zero-inserted filter gradient: inverse of {@link dilateFilter}'s layout. */
function sampleTaps(full: tf.Tensor4D, dilations: [number, number]): tf.Tensor4D {
  const [, , I, O] = full.shape;
  return tf.stridedSlice(full, [0, 0, 0, 0], [full.shape[0], full.shape[1], I, O], [dilations[0], dilations[1], 1, 1]) as tf.Tensor4D;
}

function runKernel(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>): tf.Tensor {
  return tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

function usesMedflWasmKernels(): boolean {
  return tf.getBackend() === 'wasm';
}

const conv2DGrad: tf.GradConfig = {
  kernelName: 'Conv2D',
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const dy4 = dy as tf.Tensor4D;
    const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
    const a = attrs as unknown as { dilations: unknown; strides: [number, number]; pad: Pad; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: Rounding };
    const dil = pair(a.dilations);
    if (a.dataFormat === 'NCHW' && !isOne(dil)) {
      throw new Error('medfl: dilated conv2d gradients support NHWC only');
    }
    const common = { strides: a.strides, pad: a.pad, dataFormat: a.dataFormat, dimRoundingMode: a.dimRoundingMode };
    if (isOne(dil)) {
      return {
        x: () => runKernel('Conv2DBackpropInput', { dy: dy4, filter }, { ...common, inputShape: x.shape }),
        filter: () => runKernel('Conv2DBackpropFilter', { x, dy: dy4 }, { ...common, filterShape: filter.shape }),
      };
    }
    return {
      x: () =>
        tf.tidy(() => {
          if (usesMedflWasmKernels()) {
            // medfl's wasm Conv2DBackpropInput takes the dilations directly.
            return runKernel('Conv2DBackpropInput', { dy: dy4, filter }, { ...common, inputShape: x.shape, dilations: dil });
          }
          const fd = dilateFilter(filter, dil);
          return runKernel('Conv2DBackpropInput', { dy: dy4, filter: fd }, { ...common, inputShape: x.shape });
        }),
      filter: () =>
        tf.tidy(() => {
          if (usesMedflWasmKernels()) {
            return runKernel('Conv2DBackpropFilter', { x, dy: dy4 }, { ...common, filterShape: filter.shape, dilations: dil });
          }
          const [KH, KW, I, O] = filter.shape;
          const fullShape = [(KH - 1) * dil[0] + 1, (KW - 1) * dil[1] + 1, I, O];
          const full = runKernel('Conv2DBackpropFilter', { x, dy: dy4 }, { ...common, filterShape: fullShape }) as tf.Tensor4D;
          return sampleTaps(full, dil);
        }),
    };
  },
};

const depthwiseGrad: tf.GradConfig = {
  kernelName: 'DepthwiseConv2dNative',
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const dy4 = dy as tf.Tensor4D;
    const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
    const a = attrs as unknown as { dilations: unknown; strides: [number, number] | number; pad: Pad; dimRoundingMode?: Rounding };
    const dil = pair(a.dilations);
    const common = { strides: a.strides, pad: a.pad, dimRoundingMode: a.dimRoundingMode };
    if (isOne(dil) || usesMedflWasmKernels()) {
      // medfl's wasm kernels take the dilations directly.
      return {
        x: () => runKernel('DepthwiseConv2dNativeBackpropInput', { dy: dy4, filter }, { ...common, dilations: dil, inputShape: x.shape }),
        filter: () => runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy: dy4 }, { ...common, dilations: dil, filterShape: filter.shape }),
      };
    }
    return {
      x: () =>
        tf.tidy(() => {
          const fd = dilateFilter(filter, dil);
          return runKernel('DepthwiseConv2dNativeBackpropInput', { dy: dy4, filter: fd }, { ...common, dilations: [1, 1], inputShape: x.shape });
        }),
      filter: () =>
        tf.tidy(() => {
          const [KH, KW, I, M] = filter.shape;
          const fullShape = [(KH - 1) * dil[0] + 1, (KW - 1) * dil[1] + 1, I, M];
          const full = runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy: dy4 }, { ...common, dilations: [1, 1], filterShape: fullShape }) as tf.Tensor4D;
          return sampleTaps(full, dil);
        }),
    };
  },
};

type FusedArgs = {
  x: tf.Tensor4D | tf.Tensor3D;
  filter: tf.Tensor4D;
  strides: [number, number] | number;
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: [number, number] | number;
  dimRoundingMode?: Rounding;
  bias?: tf.Tensor;
  activation?: string;
  preluActivationWeights?: tf.Tensor;
  leakyreluAlpha?: number;
};

function applyActivation(y: tf.Tensor, args: FusedArgs): tf.Tensor {
  switch (args.activation ?? 'linear') {
    case 'linear':
      return y;
    case 'relu':
      return tf.relu(y);
    case 'relu6':
      return tf.relu6(y);
    case 'elu':
      return tf.elu(y);
    case 'sigmoid':
      return tf.sigmoid(y);
    case 'prelu':
      return tf.prelu(y, args.preluActivationWeights as tf.Tensor);
    case 'leakyrelu':
      return tf.leakyRelu(y, args.leakyreluAlpha ?? 0.2);
    default:
      throw new Error(`medfl: unknown fused activation '${args.activation}'`);
  }
}

let installed = false;

/**
 * True when `x` is neither a variable nor the output of an op recorded on the
 * active gradient tape, i.e. a constant input such as an image batch. Only
 * picks the cheaper of two equivalent code paths, so a wrong answer costs
 * time, never correctness.
 */
function isTapeLeaf(x: tf.Tensor): boolean {
  if (x instanceof tf.Variable) return false;
  const tape = (tf.engine().state as unknown as { activeTape: Array<{ outputs: tf.Tensor[] }> | null }).activeTape;
  if (!tape) return true;
  for (let i = tape.length - 1; i >= 0; i--) {
    const outs = tape[i].outputs;
    for (let j = 0; j < outs.length; j++) if (outs[j].id === x.id) return false;
  }
  return true;
}

/** (Re-)register `cfg` unless it is already the registered gradient of its kernel. */
function ensureGradient(cfg: tf.GradConfig): void {
  if (tf.getGradient(cfg.kernelName) === cfg) return;
  if (tf.getGradient(cfg.kernelName)) tf.unregisterGradient(cfg.kernelName);
  tf.registerGradient(cfg);
}

/**
 * Install the dilation-capable gradients and fused-op wrappers. Idempotent,
 * and re-asserting: a later load of another tfjs-core copy (e.g. the one
 * nested in `@tensorflow/tfjs-node`, which re-registers tfjs' own gradients
 * into the shared registry) is undone by calling it again.
 * Must run before models are trained (initBackend calls it).
 */
export function registerDilatedConvGradients(): void {
  ensureGradient(conv2DGrad);
  ensureGradient(depthwiseGrad);
  if (installed) return;
  installed = true;

  const fused = tf.fused as unknown as Record<string, (args: FusedArgs) => tf.Tensor>;
  const origConv = fused.conv2d;
  const origDepthwise = fused.depthwiseConv2d;
  const unfused = (op: 'conv2d' | 'depthwise', args: FusedArgs): tf.Tensor =>
    tf.tidy(() => {
      let y: tf.Tensor =
        op === 'conv2d'
          ? tf.conv2d(args.x, args.filter, args.strides, args.pad as 'same', args.dataFormat ?? 'NHWC', args.dilations ?? 1, args.dimRoundingMode)
          : tf.depthwiseConv2d(args.x, args.filter, args.strides, args.pad as 'same', 'NHWC', args.dilations ?? 1, args.dimRoundingMode);
      if (args.bias) y = tf.add(y, args.bias);
      return applyActivation(y, args);
    });
  const dilated = (args: FusedArgs) => !isOne(pair(args.dilations));
  // While gradients are recorded tfjs fuses only linear activations, through
  // a customGrad that computes dx, dW and dbias eagerly: the input gradient
  // of a network's first conv (an image nobody differentiates) would be
  // computed and dropped. The unfused kernels have per-input lazy gradients.
  const lazyGrads = (args: FusedArgs) =>
    tf.engine().state.gradientDepth > 0 && (args.activation ?? 'linear') === 'linear' &&
    (args.dataFormat ?? 'NHWC') === 'NHWC' && (args.bias == null || isTapeLeaf(args.x));
  fused.conv2d = (args: FusedArgs) => (dilated(args) || lazyGrads(args) ? unfused('conv2d', args) : origConv(args));
  fused.depthwiseConv2d = (args: FusedArgs) => (dilated(args) || lazyGrads(args) ? unfused('depthwise', args) : origDepthwise(args));
}
