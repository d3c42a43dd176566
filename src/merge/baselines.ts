/**
 * Fixed-coefficient merges and the transfer-learning baselines MedMerge
 * (arXiv:2403.11646) is compared with, all on the same target data:
 *
 * - FT: new head on one source backbone, fine-tune everything
 *   (`lpEpochs + ftEpochs` epochs, the same total budget as MedMerge);
 * - LP-FT (Kumar et al. 2022, arXiv:2202.10054): LP the new head on the frozen
 *   source backbone, then FT;
 * - uniform weight averaging (model soup of the backbones) + LP-FT;
 * - task arithmetic (Ilharco et al. 2022, arXiv:2212.04089):
 *   `W = W_base + lambda * sum_k (W_k - W_base)` + LP-FT; needs the common
 *   base (pre-trained) model the sources were fine-tuned from;
 * - MedMerge itself ({@link medMerge}).
 *
 * Every merge-based method re-estimates BN statistics on the target training
 * set after merging (as MedMerge's default), so rows differ only in the
 * backbone weights they start FT from.
 */
import * as tf from '@tensorflow/tfjs';
import { cloneModel, weightEntries, writeWeights, architectureSignature } from '../models/weights';
import type { SiteSplits } from '../data/site';
import { mergeTensors } from './coefficients';
import { backboneOf, buildTargetNetwork, findHead, reestimateBatchNorm, sourceBackbones, type TargetNetwork } from './network';
import { evaluateTask, primaryScore, trainTask, trainModelTask, type TaskKind, type TaskScores, type TaskSpec } from '../train/task';
import { imageBatches, medMerge, targetSpec, type CoefficientReport, type MedMergeOptions } from './medmerge';

/**
 * A new model = `sum_k coefficients[k] * W_k` for EVERY weight of the
 * sources (full models of identical architecture, heads included; BN moving
 * statistics too). `[1, 0]` reproduces source 0 exactly.
 */
export async function mergeModels(sources: readonly tf.LayersModel[], coefficients: readonly number[]): Promise<tf.LayersModel> {
  if (sources.length === 0) throw new Error('mergeModels: no source models');
  if (coefficients.length !== sources.length || !coefficients.every(Number.isFinite)) {
    throw new Error(`mergeModels: need ${sources.length} finite coefficients, got [${coefficients.join(', ')}]`);
  }
  const entries = sources.map((m) => weightEntries(m));
  const sig = architectureSignature(entries[0]);
  entries.forEach((e, k) => {
    if (architectureSignature(e) !== sig) throw new Error(`mergeModels: source ${k} ('${sources[k].name}') differs in architecture from source 0`);
  });
  const out = await cloneModel(sources[0]);
  const outEntries = weightEntries(out);
  tf.tidy(() => {
    const a = tf.tensor2d(coefficients.map((c) => [c]), [coefficients.length, 1]);
    const merged = new Map<number, tf.Tensor>();
    for (const e of outEntries) merged.set(e.index, mergeTensors(entries.map((s) => s[e.index].variable.read()), a, e.channelAxis));
    writeWeights(outEntries, merged);
  });
  return out;
}

/**
 * Task arithmetic on whole models: `W_base + lambda * sum_k (W_k - W_base)`
 * for every weight (arXiv:2212.04089, eq. 1 with one shared lambda).
 */
export async function taskArithmetic(base: tf.LayersModel, sources: readonly tf.LayersModel[], lambda: number): Promise<tf.LayersModel> {
  if (!Number.isFinite(lambda)) throw new Error(`taskArithmetic: lambda must be finite, got ${lambda}`);
  // base + l * sum(W_k - base) = (1 - K l) base + l * sum W_k
  const K = sources.length;
  return mergeModels([base, ...sources], [1 - K * lambda, ...new Array<number>(K).fill(lambda)]);
}

/** One row of the comparison table. */
export interface MergeBaselineRow {
  method: 'ft' | 'lp-ft' | 'uniform' | 'task-arithmetic' | 'medmerge';
  /** Source index for single-source methods. */
  source?: number;
  /** Test scores after LP (+ merge, BN statistics), before FT; absent for FT. */
  afterLp?: TaskScores;
  /** Test scores after FT. */
  final: TaskScores;
  /** macro-F1 (classification) or Dice (segmentation) after FT. */
  score: number;
  seconds: number;
  /**
   * The learned MedMerge coefficients after LP (per merged weight, `[K][C]` and
   * per-source means), exactly `medMerge(...).coefficients`; only on the
   * 'medmerge' row.
   */
  coefficients?: CoefficientReport[];
}

/** Options of {@link mergeBaselines}. */
export interface MergeBaselinesOptions extends Omit<MedMergeOptions, 'target'> {
  target: SiteSplits;
  /** Common base model for task arithmetic (same architecture as the sources). Without it that row is skipped. */
  base?: tf.LayersModel;
  /** Task-arithmetic scaling (default 0.3; note lambda = 1/K makes it uniform averaging). */
  lambda?: number;
  /** Methods to run (default all applicable). */
  methods?: readonly MergeBaselineRow['method'][];
}

async function lpFt(
  net: TargetNetwork,
  data: SiteSplits,
  spec: TaskSpec,
  o: { lpEpochs: number; ftEpochs: number; lpLr: number; ftLr: number; batchSize: number; seed: number; lpTraining: boolean; reestimate: boolean },
): Promise<{ afterLp?: TaskScores; final: TaskScores }> {
  const model = net.model;
  let afterLp: TaskScores | undefined;
  if (o.lpEpochs > 0) {
    await trainTask(data.train, {
      spec,
      epochs: o.lpEpochs,
      vars: net.headWeights.map((w) => w.read() as tf.Variable),
      forward: (x) => model.apply(x, { training: o.lpTraining }) as tf.Tensor,
      learningRate: o.lpLr,
      batchSize: o.batchSize,
      seed: o.seed,
    });
  }
  if (o.reestimate) {
    const batches = await imageBatches(data.train, spec, o.batchSize);
    try {
      reestimateBatchNorm(model, batches);
    } finally {
      batches.forEach((b) => b.dispose());
    }
  }
  if (o.lpEpochs > 0) afterLp = await evaluateTask((x) => model.predict(x) as tf.Tensor, data.test, spec);
  await trainModelTask(model, data.train, {
    spec,
    epochs: o.ftEpochs,
    learningRate: o.ftLr,
    batchSize: o.batchSize,
    seed: o.seed + 1,
  });
  const final = await evaluateTask((x) => model.predict(x) as tf.Tensor, data.test, spec);
  return { afterLp, final };
}

function disposeModel(m: tf.LayersModel): void {
  m.dispose();
}

/**
 * Run MedMerge and its baselines on one target task and return the table
 * (one row per method and, for FT / LP-FT, per source). Every row starts
 * from the same sources, the same head seed and the same epochs. The
 * 'medmerge' row also carries the learned merge coefficients
 * (`coefficients`, as {@link medMerge} returns them), so no separate
 * `medMerge` run is needed to inspect them.
 */
export async function mergeBaselines(options: MergeBaselinesOptions): Promise<MergeBaselineRow[]> {
  const spec = targetSpec(options.task, options.target.train, options.numClasses);
  const seed = options.seed ?? 0;
  const lpEpochs = options.lpEpochs ?? 5;
  const ftEpochs = options.ftEpochs ?? 5;
  const common = {
    lpLr: options.lpLearningRate ?? 1e-2,
    ftLr: options.ftLearningRate ?? 1e-3,
    batchSize: options.batchSize ?? 8,
    seed,
    lpTraining: options.lpTraining ?? true,
  };
  const methods = options.methods ?? (['ft', 'lp-ft', 'uniform', 'task-arithmetic', 'medmerge'] as const);
  const backbones = sourceBackbones(options.sources, options.featureLayer);
  const kernelSize = findHead(options.sources[0]).kernelSize;
  const rows: MergeBaselineRow[] = [];
  const K = options.sources.length;
  for (const method of methods) {
    if (method === 'ft' || method === 'lp-ft') {
      for (let k = 0; k < K; k++) {
        const t0 = Date.now();
        const net = await buildTargetNetwork(backbones[k], spec, { kernelSize, seed });
        const r =
          method === 'ft'
            ? await lpFt(net, options.target, spec, { ...common, lpEpochs: 0, ftEpochs: lpEpochs + ftEpochs, reestimate: false })
            : await lpFt(net, options.target, spec, { ...common, lpEpochs, ftEpochs, reestimate: false });
        rows.push({ method, source: k, ...r, score: primaryScore(spec, r.final), seconds: (Date.now() - t0) / 1000 });
        disposeModel(net.model);
      }
    } else if (method === 'uniform' || method === 'task-arithmetic') {
      if (method === 'task-arithmetic' && !options.base) continue;
      const t0 = Date.now();
      const net = await buildTargetNetwork(backbones[0], spec, { kernelSize, seed });
      const entries = weightEntries(net.backbone);
      const srcEntries = backbones.map((b) => weightEntries(b));
      let models = srcEntries;
      let coef = new Array<number>(K).fill(1 / K);
      if (method === 'task-arithmetic') {
        const baseBackbone = backboneOf(options.base as tf.LayersModel, findHead(options.sources[0]).featureLayer);
        const be = weightEntries(baseBackbone);
        if (architectureSignature(be) !== architectureSignature(entries)) throw new Error('mergeBaselines: base model backbone differs in architecture from the sources');
        const lambda = options.lambda ?? 0.3;
        models = [be, ...srcEntries];
        coef = [1 - K * lambda, ...new Array<number>(K).fill(lambda)];
      }
      tf.tidy(() => {
        const a = tf.tensor2d(coef.map((c) => [c]), [coef.length, 1]);
        const merged = new Map<number, tf.Tensor>();
        for (const e of entries) merged.set(e.index, mergeTensors(models.map((s) => s[e.index].variable.read()), a, e.channelAxis));
        writeWeights(entries, merged);
      });
      const r = await lpFt(net, options.target, spec, { ...common, lpEpochs, ftEpochs, reestimate: true });
      rows.push({ method, ...r, score: primaryScore(spec, r.final), seconds: (Date.now() - t0) / 1000 });
      disposeModel(net.model);
    } else if (method === 'medmerge') {
      const t0 = Date.now();
      const r = await medMerge({ ...options, lpEpochs, ftEpochs });
      const final = r.metrics.final as TaskScores;
      rows.push({
        method,
        afterLp: r.metrics.afterLp,
        final,
        score: primaryScore(spec, final),
        seconds: (Date.now() - t0) / 1000,
        coefficients: r.coefficients,
      });
      disposeModel(r.merged);
    } else {
      throw new Error(`mergeBaselines: unknown method '${String(method)}' (valid: ft, lp-ft, uniform, task-arithmetic, medmerge)`);
    }
  }
  return rows;
}

/** Format {@link mergeBaselines} rows as a plain-text table. */
export function formatMergeTable(rows: readonly MergeBaselineRow[], task: TaskKind): string {
  const metric = task === 'classification' ? ['accuracy', 'macroF1'] : ['dice', 'iou'];
  const f = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '   -  ' : v.toFixed(3).padStart(6));
  const head = `method              | LP ${metric[0]} | LP ${metric[1]} | FT ${metric[0]} | FT ${metric[1]} | seconds`;
  const lines = rows.map((r) => {
    const name = `${r.method}${r.source !== undefined ? ` (src ${r.source})` : ''}`.padEnd(19);
    const key0 = metric[0] as keyof TaskScores;
    const key1 = metric[1] as keyof TaskScores;
    return `${name} | ${f(r.afterLp?.[key0]).padStart(metric[0].length + 3)} | ${f(r.afterLp?.[key1]).padStart(metric[1].length + 3)} | ${f(r.final[key0]).padStart(metric[0].length + 3)} | ${f(r.final[key1]).padStart(metric[1].length + 3)} | ${r.seconds.toFixed(1)}`;
  });
  return [head, ...lines].join('\n');
}

