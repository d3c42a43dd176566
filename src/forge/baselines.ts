/**
 * Baselines MedForge (arXiv:2502.16055) is compared with, on the same sites
 * and starting from the same base weights:
 *
 * - single-site: the base fine-tuned (all weights) on one site's data only;
 * - FedAvg (McMahan et al., arXiv:1602.05629): synchronous rounds, every site
 *   fine-tunes a copy of the global model for `localEpochs`, the server
 *   averages the full weights (BN moving statistics included) weighted by
 *   the sites' training-set sizes. This is medfl's one FedAvg strategy
 *   (src/fl/fedavg) driven here round by round, because its clients train
 *   this module's task (classification or segmentation, `trainTask`) on a
 *   pre-trained base rather than a registry model; client seeds
 *   seed + 100 r + k. Bytes: the strategy's count, the full model down and
 *   up per site per round (`2 x params x 4 x sites x rounds`).
 */
import * as tf from '@tensorflow/tfjs';
import { cloneModel, getWeights, setWeights, weightSpecs } from '../models/weights';
import { fedAvgFamily } from '../fl/fedavg';
import type { RoundContext, TrainResult } from '../fl/strategy';
import { evaluateTask, primaryScore, trainModelTask, type TaskScores, type TaskSpec } from '../train/task';
import type { Site } from '../data/site';

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
  sites: Site[];
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

async function scoreModel(model: tf.LayersModel, sites: readonly Site[], spec: TaskSpec, label: string, bytes: number): Promise<ForgeBaselineRow> {
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

function fit(model: tf.LayersModel, site: Site, spec: TaskSpec, epochs: number, o: ForgeBaselinesOptions, seed: number) {
  return trainModelTask(model, site.train, {
    spec,
    epochs,
    learningRate: o.learningRate ?? 1e-3,
    batchSize: o.batchSize ?? 8,
    seed,
  });
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
    // The one FedAvg (src/fl/fedavg: n_k-weighted average, BN statistics included),
    // driven round by round with this task's client training.
    const worker = await cloneModel(base);
    const rounds = options.rounds ?? 5;
    try {
      const initial = getWeights(worker);
      const specs = weightSpecs(worker);
      const fedavg = fedAvgFamily('fedavg', {}, { config: null as never, model: worker, initial, specs, sites: [...sites] });
      let global = initial;
      let bytes = 0;
      for (let r = 0; r < rounds; r++) {
        const ctx: RoundContext = { round: r, config: null as never, specs, seedFor: (key) => seed + 100 * r + sites.findIndex((s) => s.name === key), log: () => {} };
        const results: TrainResult[] = [];
        for (const job of fedavg.configureTrain(ctx, global, sites)) {
          setWeights(worker, job.weights);
          const logs = await fit(worker, job.site, spec, options.localEpochs ?? 1, options, job.seed);
          results.push({ site: job.site.name, weights: getWeights(worker), start: job.weights, numExamples: job.site.train.length, loss: logs[logs.length - 1]?.loss ?? NaN, metrics: {} });
        }
        const agg = fedavg.aggregateTrain(ctx, global, results, []);
        global = agg.weights;
        bytes += [...Object.values(agg.up), ...Object.values(agg.down)].reduce((a, b) => a + b, 0);
      }
      setWeights(worker, global);
      rows.push(await scoreModel(worker, sites, spec, `FedAvg (${rounds} rounds)`, bytes));
    } finally {
      worker.dispose();
    }
  }
  return rows;
}
