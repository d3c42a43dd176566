/**
 * Membership inference by loss threshold (Yeom, Giacomelli, Fredrikson, Jha
 * 2018, "Privacy Risk in Machine Learning: Analyzing the Connection to
 * Overfitting", arXiv:1709.01604): a sample whose loss under the trained
 * model is low is guessed to be a training member. The membership score is
 * -loss; we report its ROC AUC over members vs non-members (Mann-Whitney,
 * `rocAuc` of src/metrics), the accuracy of the best single threshold, the
 * membership advantage max(TPR - FPR) and TPR at low FPR (Carlini et al.
 * 2022, arXiv:2112.03570, recommend the low-FPR regime).
 *
 * Departures: Yeom et al. threshold at the average training loss (known to
 * the attacker); here every threshold is swept and the best is reported,
 * an upper bound on that attack (an oracle threshold, as in most audits).
 * The loss is the model's per-image segmentation loss (default BCE + soft
 * Dice for one output channel, categorical CE + Dice for K > 1).
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../../data/types';
import { toBatch, type MaskEncoding } from '../../data/batch';
import { evaluateBatches } from '../../train';
import { rocAuc } from '../../metrics/classification';
import { bceDiceLoss, type LossFunction } from '../../metrics/losses';

/** Members or non-members: a dataset (all of it) or indices into `options.data`. */
export type MemberSource = Dataset | readonly number[];

/** Options of {@link perSampleLosses} and {@link membershipInferenceAttack}. */
export interface MembershipOptions {
  /** The dataset that index lists refer to (required when members or non-members are indices). */
  data?: Dataset;
  /** Per-image loss. Default: bceDiceLoss() for K = 1 output channel, bceDiceLoss({crossEntropy: 'categorical'}) otherwise. */
  loss?: LossFunction;
  /** Mask encoding of the targets. Default: 'binary' for K = 1, 'onehot' otherwise. */
  encoding?: MaskEncoding;
  /** Classes incl. background for 'onehot' (default: the model's K). */
  numClasses?: number;
  /** Images per forward pass. Default 16. */
  batchSize?: number;
  /** FPR levels for {@link MembershipReport.tprAtFpr}. Default [0.01, 0.1]. */
  fprLevels?: readonly number[];
}

/** Scores of a loss-threshold attack ({@link lossThresholdAttack}). */
export interface MembershipScores {
  numMembers: number;
  numNonMembers: number;
  /** ROC AUC of -loss (1 = members always have lower loss, 0.5 = no signal). */
  auc: number;
  /** Best accuracy over thresholds "member iff loss <= t" on the pooled members + non-members. */
  attackAccuracy: number;
  /** The loss threshold t achieving it (-Infinity = "nobody is a member"). */
  threshold: number;
  /** max over thresholds of TPR - FPR (Yeom et al.'s membership advantage). */
  advantage: number;
  /** Largest TPR whose FPR is <= each level. */
  tprAtFpr: { fpr: number; tpr: number }[];
  /** Mean per-image loss of members / non-members. */
  meanMemberLoss: number;
  meanNonMemberLoss: number;
}

/** {@link MembershipScores} plus the per-image losses (for plots). */
export interface MembershipReport extends MembershipScores {
  memberLosses: number[];
  nonMemberLosses: number[];
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/**
 * Pure loss-threshold attack on given losses. Thresholds are swept over the
 * distinct loss values (ties enter together); accuracy counts members with
 * loss <= t and non-members with loss > t.
 */
export function lossThresholdAttack(
  memberLosses: readonly number[],
  nonMemberLosses: readonly number[],
  fprLevels: readonly number[] = [0.01, 0.1],
): MembershipScores {
  const nPos = memberLosses.length;
  const nNeg = nonMemberLosses.length;
  if (nPos === 0 || nNeg === 0) throw new Error(`lossThresholdAttack: need members and non-members, got ${nPos} and ${nNeg}`);
  const all = [...memberLosses.map((l) => ({ l, m: 1 })), ...nonMemberLosses.map((l) => ({ l, m: 0 }))];
  for (const e of all) if (Number.isNaN(e.l)) throw new Error('lossThresholdAttack: a loss is NaN');
  for (const f of fprLevels) if (!(f >= 0 && f <= 1)) throw new Error(`lossThresholdAttack: fpr levels must be in [0, 1], got ${f}`);
  const auc = rocAuc(all.map((e) => e.m), all.map((e) => -e.l));
  all.sort((a, b) => a.l - b.l);
  const n = nPos + nNeg;
  let tp = 0;
  let fp = 0;
  let bestAcc = nNeg / n;
  let threshold = -Infinity;
  let advantage = 0;
  const tpr = fprLevels.map(() => 0);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && all[j + 1].l === all[i].l) j++;
    for (let k = i; k <= j; k++) {
      if (all[k].m === 1) tp++;
      else fp++;
    }
    const acc = (tp + nNeg - fp) / n;
    if (acc > bestAcc + 1e-12) {
      bestAcc = acc;
      threshold = all[i].l;
    }
    advantage = Math.max(advantage, tp / nPos - fp / nNeg);
    fprLevels.forEach((f, q) => {
      if (fp / nNeg <= f + 1e-12) tpr[q] = Math.max(tpr[q], tp / nPos);
    });
    i = j + 1;
  }
  return {
    numMembers: nPos,
    numNonMembers: nNeg,
    auc,
    attackAccuracy: bestAcc,
    threshold,
    advantage,
    tprAtFpr: fprLevels.map((f, q) => ({ fpr: f, tpr: tpr[q] })),
    meanMemberLoss: mean(memberLosses),
    meanNonMemberLoss: mean(nonMemberLosses),
  };
}

function resolveSource(src: MemberSource, data: Dataset | undefined, what: string): { ds: Dataset; indices: number[] } {
  if (Array.isArray(src)) {
    if (!data) throw new Error(`membershipInferenceAttack: ${what} are given as indices, so options.data (the dataset they index) is required`);
    return { ds: data, indices: [...(src as readonly number[])] };
  }
  const ds = src as Dataset;
  return { ds, indices: Array.from({ length: ds.length }, (_, i) => i) };
}

/**
 * The model's loss on each image (one value per index, same order), computed
 * image by image inside `tf.tidy` so batch-level reductions of the loss
 * (mean, Dice over the batch) act per image.
 */
export async function perSampleLosses(
  model: tf.LayersModel,
  data: Dataset,
  indices: readonly number[] = Array.from({ length: data.length }, (_, i) => i),
  options: MembershipOptions = {},
): Promise<number[]> {
  const outShape = model.outputs[0].shape;
  const K = outShape[outShape.length - 1] ?? 1;
  const encoding = options.encoding ?? (K === 1 ? 'binary' : 'onehot');
  const numClasses = options.numClasses ?? (K === 1 ? 2 : K);
  const loss = options.loss ?? (K === 1 ? bceDiceLoss() : bceDiceLoss({ crossEntropy: 'categorical' }));
  const out: number[] = [];
  await evaluateBatches(data, {
    indices,
    batchSize: options.batchSize ?? 16,
    predict: (samples) => {
      const { x, y } = toBatch(samples, encoding, numClasses);
      const p = model.predict(x) as tf.Tensor;
      return [tf.stack(samples.map((_, i) => loss(tf.slice(y, i, 1), tf.slice(p, i, 1))))];
    },
    accumulate: (_samples, [losses]) => out.push(...Array.from(losses.values)),
  });
  return out;
}

/**
 * Loss-threshold membership inference (arXiv:1709.01604) against a trained
 * segmentation model: per-image losses of `members` (its training images)
 * and `nonMembers` (never seen), then {@link lossThresholdAttack}.
 */
export async function membershipInferenceAttack(
  model: tf.LayersModel,
  members: MemberSource,
  nonMembers: MemberSource,
  options: MembershipOptions = {},
): Promise<MembershipReport> {
  const m = resolveSource(members, options.data, 'members');
  const nm = resolveSource(nonMembers, options.data, 'non-members');
  const memberLosses = await perSampleLosses(model, m.ds, m.indices, options);
  const nonMemberLosses = await perSampleLosses(model, nm.ds, nm.indices, options);
  return { ...lossThresholdAttack(memberLosses, nonMemberLosses, options.fprLevels), memberLosses, nonMemberLosses };
}
