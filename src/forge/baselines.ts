/**
 * Baselines MedForge (arXiv:2502.16055) is compared with, on the same sites
 * and starting from the same base weights:
 *
 * - single-site: the base fine-tuned (all weights) on one site's data only;
 * - FedAvg (McMahan et al., arXiv:1602.05629): synchronous rounds, every site
 *   fine-tunes a copy of the global model for `localEpochs`, the server
 *   averages the full weights (BN moving statistics included) weighted by
 *   the sites' training-set sizes.
 *
 * Written here in-process because src/fl had no FedAvg strategy yet when
 * this module was written (only src/fl/train.ts, now src/train); it is a plain reference
 * implementation, not a communication simulation. Bytes: FedAvg sends the
 * full model down and up per site per round (`2 x params x 4 x sites x rounds`).
 */
import * as tf from '@tensorflow/tfjs';
import { cloneModel } from '../models/weights';
import { evaluateTask, primaryScore, trainTask, type TaskScores, type TaskSpec } from '../train/task';
import type { ForgeSite } from './medforge';

/** One baseline row: scores on every site's test set. */
export interface ForgeBaselineRow {
  label: string;
  metrics: Record<string, TaskScores>;
  perSite: Record<string, number>;
  mean: number;
  /** Bytes exchanged (0 for single-site). */
  bytes: number;
}

/** Options of {@link forgeBaselines}. */
export interface ForgeBaselinesOptions {
  base: tf.LayersModel;
  sites: ForgeSite[];
  spec: TaskSpec;
  /** Single-site fine-tuning epochs (default 5). */
  epochs?: number;
  /** FedAvg rounds (default 5) and local epochs per round (default 1). */
  rounds?: number;
  localEpochs?: number;
  /** Adam learning rate (default 1e-3). */
  learningRate?: number;
  batchSize?: number;
  /** Which baselines (default both). */
  methods?: readonly ('single-site' | 'fedavg')[];
  seed?: number;
}

async function scoreModel(model: tf.LayersModel, sites: readonly ForgeSite[], spec: TaskSpec, label: string, bytes: number): Promise<ForgeBaselineRow> {
  const metrics: Record<string, TaskScores> = {};
  const perSite: Record<string, number> = {};
  let sum = 0;
  for (const s of sites) {
    metrics[s.name] = await evaluateTask((x) => model.predict(x) as tf.Tensor, s.test, spec);
    perSite[s.name] = primaryScore(spec, metrics[s.name]);
    sum += perSite[s.name];
  }
  return { label, metrics, perSite, mean: sum / Math.max(1, sites.length), bytes };
}

function fit(model: tf.LayersModel, site: ForgeSite, spec: TaskSpec, epochs: number, o: ForgeBaselinesOptions, seed: number) {
  return trainTask(site.train, {
    spec,
    epochs,
    vars: model.trainableWeights.map((w) => w.read() as tf.Variable),
    forward: (x) => model.apply(x, { training: true }) as tf.Tensor,
    learningRate: o.learningRate ?? 1e-3,
    batchSize: o.batchSize ?? 8,
    seed,
  });
}

/**
 * Weighted average of weight lists (`sizes` as weights), as new tensors.
 * Pure: `fedAvgWeights([[a], [b]], [1, 3])` = `[(a + 3b) / 4]`.
 */
export function fedAvgWeights(weights: readonly (readonly tf.Tensor[])[], sizes: readonly number[]): tf.Tensor[] {
  if (weights.length === 0 || weights.length !== sizes.length) throw new Error(`fedAvgWeights: ${weights.length} weight lists but ${sizes.length} sizes`);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new Error('fedAvgWeights: sizes must sum to a positive number');
  return weights[0].map((_, j) => tf.tidy(() => tf.addN(weights.map((w, k) => tf.mul(w[j], sizes[k] / total)))));
}

/** Run the single-site and FedAvg baselines; one row per single-site model plus one FedAvg row. */
export async function forgeBaselines(options: ForgeBaselinesOptions): Promise<ForgeBaselineRow[]> {
  const { base, sites, spec } = options;
  const seed = options.seed ?? 0;
  const methods = options.methods ?? ['single-site', 'fedavg'];
  const rows: ForgeBaselineRow[] = [];
  if (methods.includes('single-site')) {
    for (let k = 0; k < sites.length; k++) {
      const m = await cloneModel(base);
      await fit(m, sites[k], spec, options.epochs ?? 5, options, seed + k);
      rows.push(await scoreModel(m, sites, spec, `single-site ${sites[k].name}`, 0));
      m.dispose();
    }
  }
  if (methods.includes('fedavg')) {
    const global = await cloneModel(base);
    const worker = await cloneModel(base);
    const rounds = options.rounds ?? 5;
    const params = global.weights.reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
    try {
      for (let r = 0; r < rounds; r++) {
        const locals: tf.Tensor[][] = [];
        for (let k = 0; k < sites.length; k++) {
          worker.setWeights(global.getWeights());
          await fit(worker, sites[k], spec, options.localEpochs ?? 1, options, seed + 100 * r + k);
          locals.push(worker.getWeights().map((w) => w.clone()));
        }
        const avg = fedAvgWeights(locals, sites.map((s) => s.train.length));
        global.setWeights(avg);
        tf.dispose([...avg, ...locals.flat()]);
      }
      rows.push(await scoreModel(global, sites, spec, `FedAvg (${rounds} rounds)`, 2 * params * 4 * sites.length * rounds));
    } finally {
      global.dispose();
      worker.dispose();
    }
  }
  return rows;
}
