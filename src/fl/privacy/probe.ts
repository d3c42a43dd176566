/**
 * A small seeded classifier for attacks on features: multinomial logistic
 * regression (`hidden: 0`) or a one-hidden-layer ReLU MLP, trained full-batch
 * with Adam and L2 weight decay in tfjs on z-scored features.
 *
 * Plain arrays in, plain arrays out: the tfjs variables live only inside
 * {@link trainProbe} / {@link ProbeModel.predictProba} and are disposed there.
 */
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../../util/rng';

/** Options of {@link trainProbe}. */
export interface ProbeOptions {
  /** Hidden units; 0 = multinomial logistic regression (default 0). */
  hidden?: number;
  /** Full-batch Adam steps. Default 300. */
  epochs?: number;
  /** Adam learning rate. Default 0.05. */
  learningRate?: number;
  /** L2 penalty on the weight matrices (not biases): l2 * sum(W^2). Default 1e-3. */
  l2?: number;
  /** Seeds the initial weights (Glorot uniform; logistic regression starts at 0). Default 0. */
  seed?: number | string;
}

/** A trained probe: plain weights plus the feature standardisation. */
export interface ProbeModel {
  numFeatures: number;
  numClasses: number;
  hidden: number;
  /** Per-feature mean / std used for z-scoring (std floored at 1e-6). */
  mean: Float32Array;
  std: Float32Array;
  /** [W1 (d x h), b1 (h), W2 (h x K), b2 (K)] or [W (d x K), b (K)]. */
  weights: Float32Array[];
  /** Final training cross-entropy (without the L2 term). */
  trainLoss: number;
  /** Class probabilities, row-major `[n, K]`, for row-major features `[n, d]`. */
  predictProba(features: Float32Array, n: number): Float32Array;
  /** Arg-max class per row. */
  predict(features: Float32Array, n: number): Int32Array;
}

function standardise(x: Float32Array, n: number, d: number, mean: Float32Array, std: Float32Array): Float32Array {
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) out[i * d + j] = (x[i * d + j] - mean[j]) / std[j];
  return out;
}

function glorot(rng: ReturnType<typeof createRng>, fanIn: number, fanOut: number): Float32Array {
  const lim = Math.sqrt(6 / (fanIn + fanOut));
  const w = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < w.length; i++) w[i] = rng.uniform(-lim, lim);
  return w;
}

function forward(x: tf.Tensor2D, vars: readonly tf.Tensor[]): tf.Tensor2D {
  if (vars.length === 2) return tf.add(tf.matMul(x, vars[0] as tf.Tensor2D), vars[1]) as tf.Tensor2D;
  const h = tf.relu(tf.add(tf.matMul(x, vars[0] as tf.Tensor2D), vars[1])) as tf.Tensor2D;
  return tf.add(tf.matMul(h, vars[2] as tf.Tensor2D), vars[3]) as tf.Tensor2D;
}

/**
 * Train a probe on row-major features `[n, d]` with integer labels in
 * `[0, numClasses)`. Deterministic for a given seed and backend.
 */
export function trainProbe(features: Float32Array, n: number, labels: ArrayLike<number>, numClasses: number, options: ProbeOptions = {}): ProbeModel {
  if (!(n >= 1) || features.length % n !== 0) throw new Error(`trainProbe: ${features.length} feature values are not n = ${n} rows`);
  const d = features.length / n;
  if (labels.length !== n) throw new Error(`trainProbe: ${labels.length} labels for ${n} rows`);
  if (!Number.isInteger(numClasses) || numClasses < 2) throw new Error(`trainProbe: numClasses must be an integer >= 2, got ${numClasses}`);
  for (let i = 0; i < n; i++) {
    if (!(Number.isInteger(labels[i]) && labels[i] >= 0 && labels[i] < numClasses)) {
      throw new Error(`trainProbe: labels[${i}] = ${labels[i]}; expected an integer in [0, ${numClasses})`);
    }
  }
  const hidden = options.hidden ?? 0;
  const epochs = options.epochs ?? 300;
  const lr = options.learningRate ?? 0.05;
  const l2 = options.l2 ?? 1e-3;
  if (!Number.isInteger(hidden) || hidden < 0) throw new Error(`trainProbe: hidden must be an integer >= 0, got ${hidden}`);
  if (!Number.isInteger(epochs) || epochs < 0) throw new Error(`trainProbe: epochs must be an integer >= 0, got ${epochs}`);

  const mean = new Float32Array(d);
  const std = new Float32Array(d);
  for (let j = 0; j < d; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += features[i * d + j];
    const m = s / n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (features[i * d + j] - m) ** 2;
    mean[j] = m;
    std[j] = Math.max(1e-6, Math.sqrt(v / n));
  }
  const rng = createRng(options.seed ?? 0).fork('probe-init');
  const init: { values: Float32Array; shape: number[]; decay: boolean }[] =
    hidden === 0
      ? [
          { values: new Float32Array(d * numClasses), shape: [d, numClasses], decay: true },
          { values: new Float32Array(numClasses), shape: [numClasses], decay: false },
        ]
      : [
          { values: glorot(rng, d, hidden), shape: [d, hidden], decay: true },
          { values: new Float32Array(hidden), shape: [hidden], decay: false },
          { values: glorot(rng, hidden, numClasses), shape: [hidden, numClasses], decay: true },
          { values: new Float32Array(numClasses), shape: [numClasses], decay: false },
        ];
  const vars = init.map((w) => {
    const t = tf.tensor(w.values, w.shape, 'float32');
    const v = tf.variable(t);
    t.dispose();
    return v;
  });
  const x = tf.tensor2d(standardise(features, n, d, mean, std), [n, d]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), numClasses).toFloat());
  const optimizer = tf.train.adam(lr);
  let trainLoss = NaN;
  let weights: Float32Array[];
  try {
    const ce = (): tf.Scalar => tf.losses.softmaxCrossEntropy(y, forward(x, vars)) as tf.Scalar;
    for (let e = 0; e < epochs; e++) {
      optimizer.minimize(() => {
        let loss = ce();
        init.forEach((w, i) => {
          if (w.decay && l2 > 0) loss = tf.add(loss, tf.mul(l2, tf.sum(tf.square(vars[i])))) as tf.Scalar;
        });
        return loss;
      }, false, vars);
    }
    const l = tf.tidy(ce);
    trainLoss = l.dataSync()[0];
    l.dispose();
    weights = vars.map((v) => Float32Array.from(v.dataSync() as Float32Array));
  } finally {
    optimizer.dispose();
    tf.dispose([x, y, ...vars]);
  }
  const shapes = init.map((w) => w.shape);
  const predictProba = (f: Float32Array, m: number): Float32Array => {
    if (f.length !== m * d) throw new Error(`ProbeModel.predictProba: expected ${m} x ${d} = ${m * d} values, got ${f.length}`);
    if (m === 0) return new Float32Array(0);
    const z = standardise(f, m, d, mean, std);
    const probs = tf.tidy(() => {
      const ws = weights.map((w, i) => tf.tensor(w, shapes[i], 'float32'));
      return tf.softmax(forward(tf.tensor2d(z, [m, d]), ws));
    });
    const out = Float32Array.from(probs.dataSync() as Float32Array);
    probs.dispose();
    return out;
  };
  return {
    numFeatures: d,
    numClasses,
    hidden,
    mean,
    std,
    weights,
    trainLoss,
    predictProba,
    predict(f: Float32Array, m: number): Int32Array {
      const p = predictProba(f, m);
      const out = new Int32Array(m);
      for (let i = 0; i < m; i++) {
        let best = 0;
        for (let k = 1; k < numClasses; k++) if (p[i * numClasses + k] > p[i * numClasses + best]) best = k;
        out[i] = best;
      }
      return out;
    },
  };
}
