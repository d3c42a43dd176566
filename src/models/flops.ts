/**
 * Multiply-accumulate count of one forward pass, measured by running it:
 * `tf.profile` records every kernel the model's `predict` executes with its
 * input and output shapes, and the convolution and matrix-product kernels are
 * counted from those shapes. This covers every architecture of the zoo,
 * custom layers (Swin attention, M4oE experts) included, without a per-layer
 * formula table.
 *
 * Counted kernels (MACs, one multiply + one add each):
 * - Conv2D / FusedConv2D: `N·Ho·Wo·Cout · KH·KW·Cin` (filter `[KH, KW, Cin, Cout]`);
 * - DepthwiseConv2dNative / FusedDepthwiseConv2D: `N·Ho·Wo·C·M · KH·KW`;
 * - Conv2DBackpropInput (transposed convolution in a decoder): `N·H·W·Cin · KH·KW·Cout` over its input;
 * - BatchMatMul / _FusedMatMul: `B·M·N · K`.
 * Element-wise ops, BatchNorm, pooling, softmax and resizing are not counted
 * (the convention of thop / ptflops' "MACs" for conv and linear layers,
 * which papers report as FLOPs = MACs or 2 x MACs; {@link ForwardCost}
 * gives both).
 */
import * as tf from '@tensorflow/tfjs';

/** Cost of one forward pass of one image. */
export interface ForwardCost {
  /** Multiply-accumulates of the counted kernels (see the module doc). */
  macs: number;
  /** 2 x `macs`. */
  flops: number;
  /** MACs per counted kernel name. */
  byKernel: Record<string, number>;
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function kernelMacs(name: string, inputs: (number[] | null)[], outputs: (number[] | null)[]): number {
  const out = outputs[0];
  const a = inputs[0];
  const w = inputs[1];
  if (!out || !a || !w) return 0;
  switch (name) {
    case 'Conv2D':
    case 'FusedConv2D':
      return prod(out) * w[0] * w[1] * w[2];
    case 'DepthwiseConv2dNative':
    case 'FusedDepthwiseConv2D':
      return prod(out) * w[0] * w[1];
    case 'Conv2DBackpropInput':
      return prod(a) * w[0] * w[1] * w[2];
    case 'BatchMatMul':
    case '_FusedMatMul': {
      const n = out[out.length - 1];
      return prod(out) * ((prod(a) * n) / prod(out));
    }
    default:
      return 0;
  }
}

/**
 * MACs and FLOPs of `model.predict` on one zero image of shape `inputShape`
 * (`[H, W, C]`, NHWC). Runs on the active backend; disposes what it makes.
 */
export async function forwardCost(model: tf.LayersModel, inputShape: readonly [number, number, number]): Promise<ForwardCost> {
  const x = tf.zeros([1, ...inputShape]);
  try {
    const info = await tf.profile(() => model.predict(x) as tf.Tensor);
    const byKernel: Record<string, number> = {};
    let macs = 0;
    for (const k of info.kernels) {
      const m = kernelMacs(k.name, k.inputShapes as (number[] | null)[], k.outputShapes as (number[] | null)[]);
      if (m > 0) {
        byKernel[k.name] = (byKernel[k.name] ?? 0) + m;
        macs += m;
      }
    }
    return { macs, flops: 2 * macs, byKernel };
  } finally {
    x.dispose();
  }
}
