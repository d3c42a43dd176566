/**
 * Image-level classification metrics on plain arrays: confusion matrix,
 * accuracy, balanced accuracy, per-class precision / recall / F1, macro-F1 and
 * one-vs-rest ROC AUC (tie-aware, via the Mann-Whitney U statistic).
 *
 * Undefined-case policy (same spirit as the segmentation metrics; never a
 * silent 0 or 1):
 * - precision_c = NaN when class c is never predicted; recall_c = NaN when c
 *   has no true samples; F1_c = 2tp / (2tp + fp + fn) = NaN only when c is
 *   absent from both labels and predictions (so a class with support but no
 *   predictions has F1 = 0). Departure from scikit-learn, whose
 *   `zero_division` default replaces undefined values by 0 (with a warning).
 * - Macro averages are means over the classes with a defined value; the count
 *   is reported.
 * - balanced accuracy = mean recall over classes with true samples (as
 *   scikit-learn, which warns about the others).
 * - ROC AUC of a class is NaN when it has no positives or no negatives
 *   (scikit-learn raises); the macro AUC averages the defined ones.
 */
import { nanMean } from './segmentation';

function checkLabels(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, numClasses: number, where: string): void {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`${where}: numClasses must be a positive integer, got ${numClasses}`);
  }
  if (yTrue.length !== yPred.length) {
    throw new RangeError(`${where}: yTrue has ${yTrue.length} labels but yPred has ${yPred.length}`);
  }
  for (let i = 0; i < yTrue.length; i++) {
    for (const [name, v] of [['yTrue', yTrue[i]], ['yPred', yPred[i]]] as const) {
      if (!(Number.isInteger(v) && v >= 0 && v < numClasses)) {
        throw new RangeError(`${where}: ${name}[${i}] = ${v}; expected an integer class id in [0, ${numClasses})`);
      }
    }
  }
}

/**
 * Confusion matrix `[numClasses][numClasses]`: rows = true class, columns =
 * predicted class (scikit-learn convention).
 */
export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, numClasses: number): number[][] {
  checkLabels(yTrue, yPred, numClasses, 'confusionMatrix');
  const m: number[][] = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < yTrue.length; i++) m[yTrue[i]][yPred[i]] += 1;
  return m;
}

/** Fraction of samples whose predicted label equals the true label; NaN for no samples. */
export function accuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  if (yTrue.length !== yPred.length) {
    throw new RangeError(`accuracy: yTrue has ${yTrue.length} labels but yPred has ${yPred.length}`);
  }
  if (yTrue.length === 0) return NaN;
  let c = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) c++;
  return c / yTrue.length;
}

/** Per-class precision, recall, F1 and support. */
export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  /** Number of true samples of the class. */
  support: number;
}

/** Everything {@link classificationReport} returns. */
export interface ClassificationReport {
  /** Rows = true class, columns = predicted class. */
  confusion: number[][];
  perClass: ClassScores[];
  accuracy: number;
  /** Mean recall over classes with support. */
  balancedAccuracy: number;
  /** Mean F1 over classes with a defined F1. */
  macroF1: number;
  /** How many classes entered `macroF1`. */
  macroF1Classes: number;
  macroPrecision: number;
  macroRecall: number;
}

/**
 * Full classification report from integer labels (NaN policy: module doc).
 * @param yTrue, yPred class ids in `[0, numClasses)`, one per sample.
 */
export function classificationReport(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  numClasses: number,
): ClassificationReport {
  const confusion = confusionMatrix(yTrue, yPred, numClasses);
  const perClass: ClassScores[] = [];
  for (let c = 0; c < numClasses; c++) {
    const tp = confusion[c][c];
    let row = 0;
    let col = 0;
    for (let j = 0; j < numClasses; j++) {
      row += confusion[c][j];
      col += confusion[j][c];
    }
    const fn = row - tp;
    const fp = col - tp;
    perClass.push({
      precision: col === 0 ? NaN : tp / col,
      recall: row === 0 ? NaN : tp / row,
      f1: tp + fp + fn === 0 ? NaN : (2 * tp) / (2 * tp + fp + fn),
      support: row,
    });
  }
  const f1 = nanMean(perClass.map((s) => s.f1));
  return {
    confusion,
    perClass,
    accuracy: accuracy(yTrue, yPred),
    balancedAccuracy: nanMean(perClass.map((s) => s.recall)).mean,
    macroF1: f1.mean,
    macroF1Classes: f1.count,
    macroPrecision: nanMean(perClass.map((s) => s.precision)).mean,
    macroRecall: nanMean(perClass.map((s) => s.recall)).mean,
  };
}

/** Balanced accuracy: mean recall over the classes present in `yTrue`. */
export function balancedAccuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, numClasses: number): number {
  return classificationReport(yTrue, yPred, numClasses).balancedAccuracy;
}

/** Macro-F1: mean over classes of F1 = 2tp / (2tp + fp + fn), classes absent from both excluded. */
export function macroF1(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, numClasses: number): number {
  return classificationReport(yTrue, yPred, numClasses).macroF1;
}

/**
 * Binary ROC AUC = P(score_pos > score_neg) + 0.5 P(tie), computed as the
 * Mann-Whitney U statistic with average ranks for tied scores
 * (identical to the trapezoidal area under the exact ROC curve).
 * @param yTrue 1 (or true) = positive, 0 = negative.
 * @param scores higher = more positive; any real values (probabilities or logits).
 * @returns AUC in [0, 1]; NaN when there are no positives or no negatives.
 */
export function rocAuc(yTrue: ArrayLike<number | boolean>, scores: ArrayLike<number>): number {
  const n = yTrue.length;
  if (scores.length !== n) throw new RangeError(`rocAuc: ${n} labels but ${scores.length} scores`);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i])) throw new RangeError(`rocAuc: scores[${i}] is NaN`);
  }
  order.sort((a, b) => scores[a] - scores[b]);
  let nPos = 0;
  let rankSumPos = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const avgRank = (i + j) / 2 + 1; // 1-based average rank of the tie group
    for (let k = i; k <= j; k++) {
      const y = Number(yTrue[order[k]]);
      if (y !== 0 && y !== 1) throw new RangeError(`rocAuc: yTrue[${order[k]}] = ${y}; expected 0 or 1`);
      if (y === 1) {
        nPos++;
        rankSumPos += avgRank;
      }
    }
    i = j + 1;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  const u = rankSumPos - (nPos * (nPos + 1)) / 2;
  return u / (nPos * nNeg);
}

/** One-vs-rest AUC per class and its macro mean. */
export interface RocAucScore {
  /** AUC of class c vs the rest; NaN when c has no positives or no negatives. */
  perClass: number[];
  /** Mean of the defined per-class AUCs (unweighted macro); NaN when none. */
  macro: number;
  /** Classes that entered `macro`. */
  validClasses: number;
}

/**
 * One-vs-rest ROC AUC for multi-class scores.
 * @param yTrue class ids `[N]` in `[0, numClasses)`.
 * @param scores row-major `[N, numClasses]` (softmax probabilities or logits).
 *   For a binary problem with one score column `[N]`, use {@link rocAuc}.
 */
export function rocAucOneVsRest(
  yTrue: ArrayLike<number>,
  scores: ArrayLike<number>,
  numClasses: number,
): RocAucScore {
  const n = yTrue.length;
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new Error(`rocAucOneVsRest: numClasses must be an integer >= 2, got ${numClasses}`);
  }
  if (scores.length !== n * numClasses) {
    throw new RangeError(
      `rocAucOneVsRest: scores must be [N, K] = [${n}, ${numClasses}] (${n * numClasses} values), got ${scores.length}`,
    );
  }
  const perClass: number[] = [];
  const y = new Uint8Array(n);
  const s = new Float64Array(n);
  for (let c = 0; c < numClasses; c++) {
    for (let i = 0; i < n; i++) {
      const t = yTrue[i];
      if (!(Number.isInteger(t) && t >= 0 && t < numClasses)) {
        throw new RangeError(`rocAucOneVsRest: yTrue[${i}] = ${t}; expected an integer class id in [0, ${numClasses})`);
      }
      y[i] = t === c ? 1 : 0;
      s[i] = scores[i * numClasses + c];
    }
    perClass.push(rocAuc(y, s));
  }
  const m = nanMean(perClass);
  return { perClass, macro: m.mean, validClasses: m.count };
}
