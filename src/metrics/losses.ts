/**
 * Segmentation / classification losses for tfjs, built by factory functions
 * from typed options objects. Each returns a {@link LossFunction}
 * `(yTrue, yPred) => tf.Scalar`, usable as `model.compile({ loss })` and in
 * custom loops (`optimizer.minimize(() => loss(y, model.apply(x)))`).
 *
 * Shapes: channels last, `[N, H, W, K]` for segmentation (any rank >= 2 works,
 * e.g. `[N, K]` for classification). `yTrue` has the shape of `yPred`: a 0/1
 * mask when K = 1 (binary, sigmoid), one-hot over K channels otherwise
 * (softmax). Integer `yTrue` is cast to float32.
 *
 * Probabilities are clipped to `[epsilon, 1 - epsilon]` (default 1e-7) before
 * any log; the `fromLogits` paths use the numerically stable log-sum-exp
 * forms instead. Everything runs inside `tf.tidy`: only the returned scalar
 * survives.
 */
import * as tf from '@tensorflow/tfjs';

/** A loss: `(yTrue, yPred) => scalar`, both channels-last and of equal shape. */
export type LossFunction = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Scalar;

const DEFAULT_EPSILON = 1e-7;

function checkPair(yTrue: tf.Tensor, yPred: tf.Tensor, where: string): void {
  if (yPred.rank < 2) {
    throw new RangeError(`${where}: yPred must be channels-last of rank >= 2 (e.g. [N, H, W, K]), got shape [${yPred.shape.join(', ')}]`);
  }
  if (yTrue.shape.length !== yPred.shape.length || yTrue.shape.some((d, i) => d !== yPred.shape[i])) {
    throw new RangeError(
      `${where}: yTrue shape [${yTrue.shape.join(', ')}] differs from yPred shape [${yPred.shape.join(', ')}]; ` +
        'expected a 0/1 mask (K = 1) or one-hot labels of the same shape',
    );
  }
}

function checkEpsilon(eps: number, where: string): number {
  if (!(eps > 0 && eps < 0.5)) throw new RangeError(`${where}: epsilon must be in (0, 0.5), got ${eps}`);
  return eps;
}

/** Channels of the last axis. */
function channels(t: tf.Tensor): number {
  return t.shape[t.rank - 1] as number;
}

/** Probabilities from the network output: identity, or sigmoid (K = 1) / softmax (K > 1) of logits. */
function toProbabilities(yPred: tf.Tensor, fromLogits: boolean): tf.Tensor {
  if (!fromLogits) return yPred;
  return channels(yPred) === 1 ? tf.sigmoid(yPred) : tf.softmax(yPred, -1);
}

/** Element-wise binary cross-entropy (not reduced). */
function bceElementwise(y: tf.Tensor, yPred: tf.Tensor, fromLogits: boolean, eps: number): tf.Tensor {
  if (fromLogits) {
    // max(x, 0) - x*y + log(1 + exp(-|x|))
    return tf.add(tf.sub(tf.relu(yPred), tf.mul(yPred, y)), tf.log1p(tf.exp(tf.neg(tf.abs(yPred)))));
  }
  const p = tf.clipByValue(yPred, eps, 1 - eps);
  return tf.neg(tf.add(tf.mul(y, tf.log(p)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, p)))));
}

/** Options of {@link binaryCrossEntropy}. */
export interface BinaryCrossEntropyOptions {
  /** `yPred` holds logits (sigmoid applied inside, stable form). Default false. */
  fromLogits?: boolean;
  /** Probability clip. Default 1e-7. */
  epsilon?: number;
}

/**
 * Binary cross-entropy, mean over all elements:
 * `-mean(y log p + (1 - y) log(1 - p))`. Works element-wise on any K
 * (multi-label); for K = 1 it is the usual binary segmentation loss.
 */
export function binaryCrossEntropy(options: BinaryCrossEntropyOptions = {}): LossFunction {
  const fromLogits = options.fromLogits ?? false;
  const eps = checkEpsilon(options.epsilon ?? DEFAULT_EPSILON, 'binaryCrossEntropy');
  return (yTrue, yPred) =>
    tf.tidy(() => {
      checkPair(yTrue, yPred, 'binaryCrossEntropy');
      const y = tf.cast(yTrue, 'float32');
      return tf.mean(bceElementwise(y, yPred, fromLogits, eps)) as tf.Scalar;
    });
}

/** Options of {@link categoricalCrossEntropy}. */
export interface CategoricalCrossEntropyOptions {
  /** `yPred` holds logits (log-softmax inside). Default false (softmax probabilities). */
  fromLogits?: boolean;
  /** Probability clip. Default 1e-7. */
  epsilon?: number;
  /**
   * Per-class weights `[K]`. The loss is the mean over pixels of
   * `sum_k w_k y_k (-log p_k)` (Keras-style; not normalised by the weight sum
   * as PyTorch's weighted `CrossEntropyLoss` is). Default: all 1.
   */
  classWeights?: readonly number[];
}

/**
 * Categorical cross-entropy over the last axis, mean over all other positions:
 * `-mean_pixels(sum_k y_k log p_k)`. Probabilities are not renormalised
 * (Keras divides by their sum first; outputs of a softmax need no renormalising).
 */
export function categoricalCrossEntropy(options: CategoricalCrossEntropyOptions = {}): LossFunction {
  const fromLogits = options.fromLogits ?? false;
  const eps = checkEpsilon(options.epsilon ?? DEFAULT_EPSILON, 'categoricalCrossEntropy');
  const weights = options.classWeights;
  if (weights !== undefined && !weights.every((w) => Number.isFinite(w) && w >= 0)) {
    throw new RangeError(`categoricalCrossEntropy: classWeights must be finite and >= 0, got [${weights.join(', ')}]`);
  }
  return (yTrue, yPred) =>
    tf.tidy(() => {
      checkPair(yTrue, yPred, 'categoricalCrossEntropy');
      let y = tf.cast(yTrue, 'float32');
      if (weights !== undefined) {
        if (weights.length !== channels(yPred)) {
          throw new RangeError(
            `categoricalCrossEntropy: ${weights.length} classWeights for K = ${channels(yPred)} channels`,
          );
        }
        y = tf.mul(y, tf.tensor1d(weights as number[], 'float32'));
      }
      const logP = fromLogits ? tf.logSoftmax(yPred, -1) : tf.log(tf.clipByValue(yPred, eps, 1 - eps));
      return tf.neg(tf.mean(tf.sum(tf.mul(y, logP), -1))) as tf.Scalar;
    });
}

/** Options shared by the overlap losses ({@link diceLoss}, {@link tverskyLoss}). */
export interface OverlapLossOptions {
  /** Added to numerator and denominator (Laplace smoothing). Default 1. */
  smooth?: number;
  /** `yPred` holds logits: sigmoid (K = 1) or softmax (K > 1) applied inside. Default false. */
  fromLogits?: boolean;
  /**
   * Keep channel 0 (background) when K > 1. Default true (MONAI `DiceLoss`
   * default). Ignored when K = 1 (the single channel is the foreground).
   */
  includeBackground?: boolean;
  /**
   * false (default): "batch" overlap, sums over all of N, H, W per class.
   * true: overlap per image and class, then averaged.
   */
  perImage?: boolean;
}

function checkSmooth(smooth: number, where: string): number {
  if (!(Number.isFinite(smooth) && smooth >= 0)) throw new RangeError(`${where}: smooth must be finite and >= 0, got ${smooth}`);
  return smooth;
}

/**
 * Sums of y*p, (1-y)*p, y*(1-p) per class (and per image when `perImage`), with the
 * background channel dropped when asked. Returns [tp, fp, fn].
 */
function softCounts(
  yTrue: tf.Tensor,
  yPred: tf.Tensor,
  o: Required<Pick<OverlapLossOptions, 'fromLogits' | 'includeBackground' | 'perImage'>>,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  let y = tf.cast(yTrue, 'float32');
  let p = toProbabilities(yPred, o.fromLogits);
  const K = channels(p);
  if (!o.includeBackground && K > 1) {
    const begin = new Array<number>(p.rank).fill(0);
    begin[p.rank - 1] = 1;
    const size = new Array<number>(p.rank).fill(-1);
    y = tf.slice(y, begin, size);
    p = tf.slice(p, begin, size);
  }
  const axes: number[] = [];
  for (let a = o.perImage ? 1 : 0; a < p.rank - 1; a++) axes.push(a);
  if (axes.length === 0) {
    // rank 2 with perImage: each row is one "image" of one pixel.
    return [tf.mul(y, p), tf.mul(tf.sub(1, y), p), tf.mul(y, tf.sub(1, p))];
  }
  const tp = tf.sum(tf.mul(y, p), axes);
  const fp = tf.sub(tf.sum(p, axes), tp);
  const fn = tf.sub(tf.sum(y, axes), tp);
  return [tp, fp, fn];
}

/**
 * Soft Dice loss (Milletari et al., V-Net, arXiv:1606.04797, with the
 * non-squared denominator): `1 - mean_classes((2 Σ y p + s) / (Σ y + Σ p + s))`.
 * Defaults: smooth 1, fromLogits false, includeBackground true, perImage false.
 * Near 0 for a perfect prediction.
 */
export function diceLoss(options: OverlapLossOptions = {}): LossFunction {
  return overlapCore(options, 'diceLoss', (tp, fp, fn, s) =>
    tf.div(tf.add(tf.mul(2, tp), s), tf.add(tf.add(tf.mul(2, tp), tf.add(fp, fn)), s)),
  );
}

/** Options of {@link tverskyLoss}. */
export interface TverskyLossOptions extends OverlapLossOptions {
  /** Weight of false positives. Default 0.5. */
  alpha?: number;
  /** Weight of false negatives. Default 0.5 (alpha = beta = 0.5 with smooth 0 gives the Dice loss). */
  beta?: number;
}

/**
 * Tversky loss (Salehi et al., arXiv:1706.05721):
 * `1 - mean_classes((TP + s) / (TP + α FP + β FN + s))` with soft counts
 * TP = Σ y p, FP = Σ (1 - y) p, FN = Σ y (1 - p). With α = β = 0.5 and smooth 0
 * it equals {@link diceLoss} (with smooth > 0 the two smooth differently: here s is
 * added to TP, in the Dice form to 2·TP). β > α penalises missed foreground more
 * (recall-oriented).
 * Defaults: alpha 0.5, beta 0.5, smooth 1, fromLogits false, includeBackground true, perImage false.
 */
export function tverskyLoss(options: TverskyLossOptions = {}): LossFunction {
  const alpha = options.alpha ?? 0.5;
  const beta = options.beta ?? 0.5;
  if (!(Number.isFinite(alpha) && alpha >= 0 && Number.isFinite(beta) && beta >= 0)) {
    throw new RangeError(`tverskyLoss: alpha and beta must be finite and >= 0, got alpha = ${alpha}, beta = ${beta}`);
  }
  return overlapCore(options, 'tverskyLoss', (tp, fp, fn, s) =>
    tf.div(tf.add(tp, s), tf.add(tf.add(tp, tf.add(tf.mul(alpha, fp), tf.mul(beta, fn))), s)),
  );
}

/** Shared body of the overlap losses: `1 - mean(index(tp, fp, fn, smooth))` over classes (and images). */
function overlapCore(
  options: OverlapLossOptions,
  where: string,
  index: (tp: tf.Tensor, fp: tf.Tensor, fn: tf.Tensor, smooth: number) => tf.Tensor,
): LossFunction {
  const smooth = checkSmooth(options.smooth ?? 1, where);
  const o = {
    fromLogits: options.fromLogits ?? false,
    includeBackground: options.includeBackground ?? true,
    perImage: options.perImage ?? false,
  };
  return (yTrue, yPred) =>
    tf.tidy(() => {
      checkPair(yTrue, yPred, where);
      const [tp, fp, fn] = softCounts(yTrue, yPred, o);
      return tf.sub(1, tf.mean(index(tp, fp, fn, smooth))) as tf.Scalar;
    });
}

/** Options of {@link focalLoss}. */
export interface FocalLossOptions {
  /** Focusing parameter γ >= 0. Default 2 (γ = 0 and alpha null give BCE). */
  gamma?: number;
  /** Weight of the positive class α in [0, 1] (negatives get 1 - α), or null for none. Default 0.25. */
  alpha?: number | null;
  /** `yPred` holds logits (sigmoid inside). Default false. */
  fromLogits?: boolean;
  /** Probability clip. Default 1e-7. */
  epsilon?: number;
}

/**
 * Binary (sigmoid) focal loss (Lin et al., arXiv:1708.02002), mean over all
 * elements: `mean(α_t (1 - p_t)^γ · BCE)`, p_t = y p + (1 - y)(1 - p).
 * Applied element-wise, so with K > 1 it treats each channel as an
 * independent sigmoid (multi-label), as the paper's RetinaNet does; it is not a
 * softmax focal loss. `(1 - p_t)` is clipped to `[epsilon, 1]` so the gradient
 * stays finite for γ < 1.
 */
export function focalLoss(options: FocalLossOptions = {}): LossFunction {
  const gamma = options.gamma ?? 2;
  const alpha = options.alpha === undefined ? 0.25 : options.alpha;
  const fromLogits = options.fromLogits ?? false;
  const eps = checkEpsilon(options.epsilon ?? DEFAULT_EPSILON, 'focalLoss');
  if (!(Number.isFinite(gamma) && gamma >= 0)) throw new RangeError(`focalLoss: gamma must be finite and >= 0, got ${gamma}`);
  if (alpha !== null && !(alpha >= 0 && alpha <= 1)) throw new RangeError(`focalLoss: alpha must be in [0, 1] or null, got ${alpha}`);
  return (yTrue, yPred) =>
    tf.tidy(() => {
      checkPair(yTrue, yPred, 'focalLoss');
      const y = tf.cast(yTrue, 'float32');
      const ce = bceElementwise(y, yPred, fromLogits, eps);
      let loss = ce;
      if (gamma > 0) {
        const p = fromLogits ? tf.sigmoid(yPred) : tf.clipByValue(yPred, eps, 1 - eps);
        const pt = tf.add(tf.mul(y, p), tf.mul(tf.sub(1, y), tf.sub(1, p)));
        loss = tf.mul(tf.pow(tf.clipByValue(tf.sub(1, pt), eps, 1), gamma), loss);
      }
      if (alpha !== null) {
        const at = tf.add(tf.mul(y, alpha), tf.mul(tf.sub(1, y), 1 - alpha));
        loss = tf.mul(at, loss);
      }
      return tf.mean(loss) as tf.Scalar;
    });
}

/** Options of {@link bceDiceLoss}. */
export interface BceDiceLossOptions extends OverlapLossOptions {
  /** Weight of the cross-entropy term. Default 1. */
  bceWeight?: number;
  /** Weight of the Dice term. Default 1. */
  diceWeight?: number;
  /**
   * Cross-entropy flavour: `'binary'` (default; element-wise BCE, right for K = 1
   * sigmoid or multi-label) or `'categorical'` (softmax CE over K > 1 channels).
   */
  crossEntropy?: 'binary' | 'categorical';
  /** Probability clip for the cross-entropy. Default 1e-7. */
  epsilon?: number;
}

/**
 * Weighted sum `bceWeight · CE + diceWeight · Dice` (the common "BCE + Dice"
 * segmentation loss). Defaults: weights 1 and 1, binary CE, smooth 1,
 * fromLogits false, includeBackground true (Dice term only), perImage false.
 */
export function bceDiceLoss(options: BceDiceLossOptions = {}): LossFunction {
  const wb = options.bceWeight ?? 1;
  const wd = options.diceWeight ?? 1;
  if (!(Number.isFinite(wb) && wb >= 0 && Number.isFinite(wd) && wd >= 0)) {
    throw new RangeError(`bceDiceLoss: weights must be finite and >= 0, got bceWeight = ${wb}, diceWeight = ${wd}`);
  }
  const mode = options.crossEntropy ?? 'binary';
  if (mode !== 'binary' && mode !== 'categorical') {
    throw new Error(`bceDiceLoss: crossEntropy must be 'binary' or 'categorical', got '${String(mode)}'`);
  }
  const ceOpts = { fromLogits: options.fromLogits, epsilon: options.epsilon };
  const ce = mode === 'binary' ? binaryCrossEntropy(ceOpts) : categoricalCrossEntropy(ceOpts);
  const dl = diceLoss(options);
  return (yTrue, yPred) =>
    tf.tidy(() => tf.add(tf.mul(wb, ce(yTrue, yPred)), tf.mul(wd, dl(yTrue, yPred))) as tf.Scalar);
}

/** Options of {@link smpDiceLoss}. */
export interface SmpDiceLossOptions {
  /** Added to numerator and denominator. Default 0 (smp's default). */
  smooth?: number;
  /** Lower clamp of the denominator. Default 1e-7 (smp's default). */
  epsilon?: number;
  /** `yPred` holds logits (softmax inside; sigmoid for K = 1). Default false: probabilities. */
  fromLogits?: boolean;
}

/**
 * Soft Dice loss with segmentation_models_pytorch's `DiceLoss(mode='multiclass')`
 * semantics (the loss of the MedSegNet10 group's released code):
 * per class c, `score_c = (2 Σ y p + smooth) / max(Σ y + Σ p + smooth, eps)`
 * with the sums over the whole batch and every pixel; `loss_c = (1 - score_c)`
 * multiplied by 0 when class c is absent from the batch's targets; the loss is
 * the mean of `loss_c` over ALL classes (absent ones count as 0, as in smp).
 *
 * Shapes: `yTrue`, `yPred` `[N, H, W, K]` (one-hot / probabilities). A 1-channel
 * (sigmoid) output is treated as the two classes `[1 - p, p]` with targets
 * `[1 - y, y]`: a 2-class softmax with logits `(0, z)` is exactly a sigmoid of
 * `z`, so this is smp's multiclass loss on the equivalent 2-channel model.
 */
export function smpDiceLoss(options: SmpDiceLossOptions = {}): LossFunction {
  const smooth = checkSmooth(options.smooth ?? 0, 'smpDiceLoss');
  const eps = options.epsilon ?? DEFAULT_EPSILON;
  if (!(eps > 0)) throw new RangeError(`smpDiceLoss: epsilon must be > 0, got ${eps}`);
  const fromLogits = options.fromLogits ?? false;
  return (yTrue, yPred) =>
    tf.tidy(() => {
      checkPair(yTrue, yPred, 'smpDiceLoss');
      let y = tf.cast(yTrue, 'float32');
      let p = toProbabilities(yPred, fromLogits);
      if (channels(p) === 1) {
        y = tf.concat([tf.sub(1, y), y], -1);
        p = tf.concat([tf.sub(1, p), p], -1);
      }
      const axes = Array.from({ length: p.rank - 1 }, (_, a) => a);
      const inter = tf.sum(tf.mul(y, p), axes);
      const ySum = tf.sum(y, axes);
      const card = tf.add(ySum, tf.sum(p, axes));
      const score = tf.div(tf.add(tf.mul(2, inter), smooth), tf.maximum(tf.add(card, smooth), eps));
      const present = tf.cast(tf.greater(ySum, 0), 'float32');
      return tf.mean(tf.mul(tf.sub(1, score), present)) as tf.Scalar;
    });
}

/** Segmentation losses selectable by name in configs and recipes. */
export type SegmentationLossName = 'bce-dice' | 'dice';

/** The names {@link segmentationLoss} accepts. */
export const SEGMENTATION_LOSSES: readonly SegmentationLossName[] = ['bce-dice', 'dice'];

/**
 * The loss of a name: 'bce-dice' (default) = {@link bceDiceLoss} (binary CE for
 * a 1-channel model, categorical otherwise); 'dice' = {@link smpDiceLoss}.
 * `channels` is the model's output channels K.
 */
export function segmentationLoss(name: SegmentationLossName = 'bce-dice', channels = 1): LossFunction {
  if (name === 'dice') return smpDiceLoss();
  if (name === 'bce-dice') return channels === 1 ? bceDiceLoss() : bceDiceLoss({ crossEntropy: 'categorical' });
  throw new Error(`unknown segmentation loss '${String(name)}'; expected one of ${SEGMENTATION_LOSSES.join(', ')}`);
}
