/**
 * Learning-rate schedules over epochs, as a pure function
 * ({@link learningRateAt}) the training loop applies at the start of every
 * epoch ({@link TrainBatchesOptions.learningRateAt} in ./loop), and a setter
 * for any tfjs optimizer ({@link setOptimizerLearningRate}).
 *
 * The schedules step once per epoch (never per batch), with the epoch index
 * counted over the whole run: a federated client in round `r` with `E` local
 * epochs runs global epochs `r * E + e`, `e = 0..E-1`, of `rounds * E`.
 */
import type * as tf from '@tensorflow/tfjs';

/** The base learning rate for the whole run (no change). */
export interface ConstantSchedule {
  name: 'constant';
}

/**
 * Cosine annealing from the base rate to `minLearningRate` (Loshchilov &
 * Hutter, SGDR, arXiv:1608.03983; PyTorch's `CosineAnnealingLR` stepped per
 * epoch): `lr(t) = min + (base - min) * (1 + cos(pi * t / T)) / 2`, with
 * `T = totalEpochs` and `t = epoch` (the last epoch is one step above `min`,
 * as in PyTorch). With `restartEpochs` (SGDR warm restarts): `T` is the
 * length of the current cycle (`restartEpochs`, multiplied by
 * `restartMultiplier` after each restart) and `t` the epoch within it.
 */
export interface CosineSchedule {
  name: 'cosine';
  /** The floor eta_min (>= 0, below the base rate). Default 0. */
  minLearningRate?: number;
  /** First cycle length T_0 in epochs (integer >= 1). Default: none (one cycle over the run). */
  restartEpochs?: number;
  /** Cycle length multiplier T_mult after each restart (integer >= 1). Default 1. */
  restartMultiplier?: number;
}

/**
 * Polynomial decay, nnU-Net's `PolyLRScheduler` (Isensee et al.,
 * arXiv:1809.10486) and DeepLab's "poly" policy:
 * `lr(t) = base * (1 - t / totalEpochs) ^ power`.
 */
export interface PolySchedule {
  name: 'poly';
  /** Exponent (> 0). Default 0.9 (nnU-Net, DeepLab). */
  power?: number;
}

/** Step decay (PyTorch's `StepLR`): `lr(t) = base * gamma ^ floor(t / stepEpochs)`. */
export interface StepSchedule {
  name: 'step';
  /** Epochs between decays (integer >= 1). Required. */
  stepEpochs: number;
  /** Decay factor (> 0). Default 0.1 (PyTorch's `StepLR`). */
  gamma?: number;
}

/** A learning-rate schedule (plain JSON: it is part of a run's config). Default everywhere: `{ name: 'constant' }`. */
export type LearningRateSchedule = ConstantSchedule | CosineSchedule | PolySchedule | StepSchedule;

/** The schedule names, in documentation order. */
export const SCHEDULE_NAMES = ['constant', 'cosine', 'poly', 'step'] as const;

function isInt(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min;
}

/**
 * Problems of a schedule for a base rate (one line each; empty when valid).
 * Unknown names list the valid ones.
 */
export function checkSchedule(schedule: LearningRateSchedule, baseLr: number): string[] {
  const s = schedule as unknown as Record<string, unknown>;
  if (!s || typeof s !== 'object') return [`learningRateSchedule must be an object { name: ${SCHEDULE_NAMES.map((n) => `'${n}'`).join(' | ')}, ... }, got ${JSON.stringify(schedule)}`];
  const out: string[] = [];
  switch (s.name) {
    case 'constant':
      break;
    case 'cosine': {
      const min = s.minLearningRate ?? 0;
      if (typeof min !== 'number' || !(min >= 0 && min <= baseLr)) out.push(`learningRateSchedule.minLearningRate must be in [0, learningRate = ${baseLr}], got ${JSON.stringify(s.minLearningRate)}`);
      if (s.restartEpochs !== undefined && !isInt(s.restartEpochs, 1)) out.push(`learningRateSchedule.restartEpochs must be an integer >= 1, got ${JSON.stringify(s.restartEpochs)}`);
      if (s.restartMultiplier !== undefined && !isInt(s.restartMultiplier, 1)) out.push(`learningRateSchedule.restartMultiplier must be an integer >= 1, got ${JSON.stringify(s.restartMultiplier)}`);
      break;
    }
    case 'poly':
      if (s.power !== undefined && !(typeof s.power === 'number' && s.power > 0)) out.push(`learningRateSchedule.power must be > 0, got ${JSON.stringify(s.power)}`);
      break;
    case 'step':
      if (!isInt(s.stepEpochs, 1)) out.push(`learningRateSchedule.stepEpochs must be an integer >= 1 (required for 'step'), got ${JSON.stringify(s.stepEpochs)}`);
      if (s.gamma !== undefined && !(typeof s.gamma === 'number' && s.gamma > 0)) out.push(`learningRateSchedule.gamma must be > 0, got ${JSON.stringify(s.gamma)}`);
      break;
    default:
      out.push(`learningRateSchedule.name: unknown schedule ${JSON.stringify(s.name)}; valid: ${SCHEDULE_NAMES.join(', ')}`);
  }
  return out;
}

/** Position inside the SGDR cycles: `[t within the cycle, cycle length]`. */
function sgdrCycle(epoch: number, t0: number, mult: number): [number, number] {
  if (mult === 1) return [epoch % t0, t0];
  let t = epoch;
  let len = t0;
  while (t >= len) {
    t -= len;
    len *= mult;
  }
  return [t, len];
}

/**
 * The learning rate of epoch `epoch` (0-based, counted over the whole run)
 * of a run of `totalEpochs` epochs with base rate `baseLr` (see each
 * schedule's formula). Pure. Epochs past the end keep the last rule's value
 * (poly clamps at 0). Throws a RangeError on an invalid schedule (see
 * {@link checkSchedule}) or `totalEpochs < 1`.
 */
export function learningRateAt(schedule: LearningRateSchedule, baseLr: number, epoch: number, totalEpochs: number): number {
  const problems = checkSchedule(schedule, baseLr);
  if (problems.length) throw new RangeError(`learningRateAt: ${problems.join('; ')}`);
  if (!isInt(totalEpochs, 1)) throw new RangeError(`learningRateAt: totalEpochs must be an integer >= 1, got ${totalEpochs}`);
  if (!isInt(epoch, 0)) throw new RangeError(`learningRateAt: epoch must be an integer >= 0, got ${epoch}`);
  switch (schedule.name) {
    case 'constant':
      return baseLr;
    case 'cosine': {
      const min = schedule.minLearningRate ?? 0;
      const [t, T] = schedule.restartEpochs !== undefined ? sgdrCycle(epoch, schedule.restartEpochs, schedule.restartMultiplier ?? 1) : [Math.min(epoch, totalEpochs), totalEpochs];
      return min + ((baseLr - min) * (1 + Math.cos((Math.PI * t) / T))) / 2;
    }
    case 'poly':
      return baseLr * Math.pow(Math.max(0, 1 - epoch / totalEpochs), schedule.power ?? 0.9);
    case 'step':
      return baseLr * Math.pow(schedule.gamma ?? 0.1, Math.floor(epoch / schedule.stepEpochs));
  }
}

/**
 * Set the learning rate of a tfjs optimizer in place (read at every step):
 * `setLearningRate` where the optimizer has one (SGD, momentum: they cache
 * the rate as a tensor), else its `learningRate` field (Adam, medfl's fused
 * Adam, Adagrad, Adamax, Adadelta, RMSProp).
 */
export function setOptimizerLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as { learningRate?: number; setLearningRate?: (lr: number) => void };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else if (typeof o.learningRate === 'number') o.learningRate = lr;
  else throw new Error(`setOptimizerLearningRate: optimizer ${optimizer.getClassName()} has no learning rate to set`);
}
