/**
 * Split learning through the shared training loop: {@link splitLearningStep}
 * is a custom per-batch step for {@link trainBatches} that runs one
 * {@link splitStep} (explicit activation / gradient messages between client
 * and server parts, see ../models/split) and applies the client-side and the
 * server-side gradients with their own optimizers. Every message is reported.
 */
import * as tf from '@tensorflow/tfjs';
import type { LossFunction } from '../metrics/losses';
import { splitStep, type SplitMessage, type SplitNetwork } from '../models/split';
import type { StepResult, SupervisedBatch } from './loop';

/** Options of {@link splitLearningStep}. */
export interface SplitLearningStepOptions {
  /** `loss(yTrue, yPred)` of the whole network's output. */
  loss: LossFunction;
  /** Applies the gradients of the client parts' variables. */
  clientOptimizer: tf.Optimizer;
  /** Applies the gradients of the server part's variables. */
  serverOptimizer: tf.Optimizer;
  /** Names of the variables the server part owns. */
  serverVariables: ReadonlySet<string>;
  /** Called with every message of every step, in order. */
  onMessage?: (m: SplitMessage) => void;
}

/**
 * A per-batch step for {@link trainBatches}: one split forward / backward pass
 * of `net` on the batch (`x` `[N,H,W,C]`, `y` the loss's target), gradients
 * equal to the unsplit network's; client gradients are applied by
 * `clientOptimizer`, server ones by `serverOptimizer`.
 */
export function splitLearningStep(net: SplitNetwork, options: SplitLearningStepOptions): (batch: SupervisedBatch) => StepResult {
  return ({ x, y }) => {
    const res = splitStep(net, x, y, options.loss);
    const cg: tf.NamedTensorMap = {};
    const sg: tf.NamedTensorMap = {};
    for (const [k, g] of Object.entries(res.grads)) (options.serverVariables.has(k) ? sg : cg)[k] = g;
    try {
      if (Object.keys(cg).length) options.clientOptimizer.applyGradients(cg);
      if (Object.keys(sg).length) options.serverOptimizer.applyGradients(sg);
    } finally {
      tf.dispose(Object.values(res.grads));
    }
    for (const m of res.messages) options.onMessage?.(m);
    return { loss: res.loss };
  };
}
