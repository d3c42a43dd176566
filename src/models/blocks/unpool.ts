import * as tf from '@tensorflow/tfjs';
import { nativeUnpoolAvailable, unpoolGradNative, unpoolNative } from '../../backend/native-unpool';

/**
 * SegNet index-based max-unpooling (Badrinarayanan, Kendall & Cipolla 2015, arXiv:1511.00561 §3,
 * Fig. 3), implemented differentiably without `maxPoolWithArgmax` (which has no gradient in
 * tfjs and no wasm kernel).
 *
 * Instead of storing argmax indices, the unpool layer receives the encoder tensor *before*
 * its 2x2 / stride-2 max-pool and recomputes where each window's maximum sat:
 *
 *   mask = onehot_first( x == nearestUpsample2x(maxPool2x2(x)) )
 *
 * `onehot_first` keeps, in every 2x2 window and channel, only the FIRST position (row-major:
 * top-left, top-right, bottom-left, bottom-right) equal to the window maximum, so exactly one
 * position per window is set even when values tie (e.g. a window of zeros after ReLU). This is
 * the position PyTorch's `max_pool2d(return_indices=True)` reports on CPU for ties. The output is
 *
 *   unpool(x, v) = nearestUpsample2x(v) * mask,   shape of x: [N, H, W, C]
 *
 * i.e. every decoder value `v[n, i, j, c]` is written to the recorded max position of window
 * `(i, j)` and all other positions are 0 — the same result as scattering with the argmax indices.
 *
 * Gradients: the mask is a constant (it is a function of positions only, as the indices are in
 * SegNet). d/dv = sum over each 2x2 window of `dy * mask` (i.e. `dy` at the max position);
 * d/dx = 0 (the encoder only receives gradient through its pooled path, as in SegNet).
 * Requires even H and W. Where the native addon is loaded (wasm backend), both directions run
 * as one threaded pass each with the same float32 values (src/backend/native-unpool.ts).
 */

/** The `[N, H, W, C]` 0/1 mask marking the first (row-major) maximum of every 2x2 window of `x`. */
export function maxPoolArgmaxMask2x2(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (h % 2 !== 0 || w % 2 !== 0) {
    throw new Error(`maxPoolArgmaxMask2x2 (src/models/blocks/unpool.ts): H and W must be even, got [${x.shape.join(', ')}]`);
  }
  return tf.tidy(() => {
    const pooled = tf.maxPool(x, 2, 2, 'valid');
    const up = tf.image.resizeNearestNeighbor(pooled, [h, w]);
    // [N, H, W, C] -> [N*H/2, 2 (row in window), W/2, 2*C (col in window, channel)]
    const eq = tf.cast(tf.equal(x, up), 'float32').reshape([(n * h) / 2, 2, w / 2, 2 * c]);
    const at = (row: number, col: number) => tf.slice(eq, [0, row, 0, col * c], [-1, 1, -1, c]);
    const e00 = at(0, 0);
    const e01 = at(0, 1);
    const e10 = at(1, 0);
    const e11 = at(1, 1);
    const free00 = tf.sub(1, e00);
    const k01 = tf.mul(e01, free00);
    const free01 = tf.mul(free00, tf.sub(1, e01));
    const k10 = tf.mul(e10, free01);
    const free10 = tf.mul(free01, tf.sub(1, e10));
    const k11 = tf.mul(e11, free10);
    const top = tf.concat([e00, k01], 3);
    const bottom = tf.concat([k10, k11], 3);
    return tf.concat([top, bottom], 1).reshape([n, h, w, c]) as tf.Tensor4D;
  });
}

/** Sum `t: [N, H, W, C]` over non-overlapping 2x2 windows -> `[N, H/2, W/2, C]`. */
function windowSum2x2(t: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = t.shape;
  return tf.tidy(() => {
    const rows = tf.sum(t.reshape([(n * h) / 2, 2, w / 2, 2 * c]), 1); // [N*H/2, W/2, 2C]
    return tf.sum(rows.reshape([(n * h) / 2, w / 2, 2, c]), 2).reshape([n, h / 2, w / 2, c]) as tf.Tensor4D;
  });
}

const unpoolOp = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [pre, values, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
  save([pre]);
  const x = pre;
  const native = x.dtype === 'float32' && values.dtype === 'float32' && nativeUnpoolAvailable();
  const value = tf.tidy(() => {
    if (native) return unpoolNative(x, values);
    const mask = maxPoolArgmaxMask2x2(x);
    return tf.mul(tf.image.resizeNearestNeighbor(values, [x.shape[1], x.shape[2]]), mask);
  });
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const encoder = saved[0] as tf.Tensor4D;
      const dValues = native
        ? unpoolGradNative(encoder, dy as tf.Tensor4D)
        : tf.tidy(() => windowSum2x2(tf.mul(dy, maxPoolArgmaxMask2x2(encoder)) as tf.Tensor4D));
      return [tf.zerosLike(encoder), dValues];
    },
  };
});

/**
 * Functional max-unpooling: scatter `values: [N, H/2, W/2, C]` into the positions of the 2x2
 * maxima of `pre: [N, H, W, C]` (see module doc). Differentiable wrt `values`; zero gradient wrt `pre`.
 */
export function maxUnpool2x2(pre: tf.Tensor4D, values: tf.Tensor4D): tf.Tensor4D {
  checkUnpoolShapes(pre.shape, values.shape, 'maxUnpool2x2');
  return unpoolOp(pre, values) as tf.Tensor4D;
}

function checkUnpoolShapes(pre: readonly (number | null)[], values: readonly (number | null)[], who: string): void {
  const [, h, w, c] = pre;
  const [, hv, wv, cv] = values;
  const ok =
    pre.length === 4 &&
    values.length === 4 &&
    (h == null || h % 2 === 0) &&
    (w == null || w % 2 === 0) &&
    (h == null || hv == null || hv * 2 === h) &&
    (w == null || wv == null || wv * 2 === w) &&
    (c == null || cv == null || c === cv);
  if (!ok) {
    throw new Error(
      `${who} (src/models/blocks/unpool.ts): expected [pre-pool encoder tensor [N, H, W, C] with even H, W; ` +
        `decoder values [N, H/2, W/2, C]], got ${JSON.stringify(pre)} and ${JSON.stringify(values)}`,
    );
  }
}

/**
 * Keras layer wrapping {@link maxUnpool2x2}. Inputs `[preDownsampling, decoderValues]`:
 * the encoder tensor that entered the 2x2 max-pool (`[N, H, W, C]`) and the decoder tensor to
 * unpool (`[N, H/2, W/2, C]`); output `[N, H, W, C]`. No weights; config = base layer config.
 */
export class MaxUnpool2D extends tf.layers.Layer {
  /** Registered class name (unique prefix for the zoo). */
  static className = 'MedflMaxUnpool2D';

  constructor(args: { name?: string; trainable?: boolean } = {}) {
    super(args);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shapes = inputShape as tf.Shape[];
    if (!Array.isArray(shapes[0]) || shapes.length !== 2) {
      throw new Error(`MaxUnpool2D '${this.name}': expects two inputs [preDownsampling, decoderValues], got ${JSON.stringify(inputShape)}`);
    }
    checkUnpoolShapes(shapes[0], shapes[1], `MaxUnpool2D '${this.name}'`);
    return shapes[0].slice();
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    if (!Array.isArray(inputs) || inputs.length !== 2) {
      throw new Error(`MaxUnpool2D '${this.name}': expects two inputs [preDownsampling, decoderValues]`);
    }
    return maxUnpool2x2(inputs[0] as tf.Tensor4D, inputs[1] as tf.Tensor4D);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig() };
  }
}

tf.serialization.registerClass(MaxUnpool2D);
