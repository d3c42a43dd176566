/**
 * MedForge (Tan et al., arXiv:2502.16055; code TanZheling/MedForge_official):
 * build a model the way open-source software is built. Hospitals contribute
 * asynchronously, one after another in `order`, without sharing data:
 *
 * 1. each contributor trains a LoRA plugin (./lora) on its own data with the
 *    base model FROZEN, and builds a small synthetic set (./distill);
 * 2. it "pushes" only the plugin + the synthetic set (bytes counted);
 * 3. the main branch integrates it: 'fusion' (merge into the weights) or
 *    'mixture' (keep plugins, mix outputs), with coefficients found by a
 *    seeded gradient-free search (./search) minimising the task loss on the
 *    synthetic sets contributed SO FAR + `l1 * mean|w|` (the code's
 *    `get_regular`, 0.05);
 * 4. a new version v_t is recorded with its coefficients, objective, bytes
 *    and the metrics on EVERY site's test set (v0 = the base).
 *
 * Departures from the code: the base is any zoo model / classifier (not
 * CLIP; classification uses the network's own head instead of CLIP text
 * prompts); the objective averages over the synthetic sets of contributors
 * that have arrived (the code's mixture passes every site's set from the
 * start, its fusion the ones so far); Nevergrad's NGOpt is replaced by the
 * seeded (1+1)-ES / random search of ./search; the code's loss applies a
 * second softmax to CLIP's already-softmaxed logits, ours is the plain task
 * loss (cross-entropy / BCE + Dice).
 */
import * as tf from '@tensorflow/tfjs';
import type { Sample } from '../data/types';
import { materialize } from '../data/types';
import { weightEntries, cloneModel, writeWeights } from '../models/weights';
import { checkTaskSpec, evaluateTask, primaryScore, taskBatch, taskLoss, trainTask, type TaskKind, type TaskScores, type TaskSpec } from '../train/task';
import type { Site } from '../data/site';
import { LoraPlugin, pluginBytes, forwardWith, effectiveWeightsOf, type ForgeDelta, type LoraOptions, type PluginState } from './lora';
import { syntheticSet, syntheticBytes, type SyntheticMethod, type DistributionMatchingOptions } from './distill';
import { minimize, l1Penalty, type SearchMethod } from './search';
import { combineDeltas, composeMixtureWeights, deltaLayers, mixOutputs, splitCoefficients, type CoefficientLevel, type FusionSpace } from './fusion';


/** Options of {@link medForge}. */
export interface MedForgeOptions {
  /** The main-branch model (kept frozen; never modified). */
  base: tf.LayersModel;
  sites: Site[];
  /** Arrival order: site names or indices (default: the given order). */
  order?: readonly (string | number)[];
  task: TaskKind;
  /** Output channels of `base` (default: classes of the first site, or 1 for segmentation). */
  numClasses?: number;
  /** LoRA rank (default 4). */
  rank?: number;
  /** LoRA alpha (default = rank). */
  alpha?: number;
  targets?: LoraOptions['targets'];
  /** Default 'fusion'. */
  mode?: 'fusion' | 'mixture';
  /** Fusion space (default 'factors', the code's). */
  space?: FusionSpace;
  /** Coefficient level for fusion (default 'whole'). */
  level?: CoefficientLevel;
  /** Local plugin training epochs (default 5). */
  localEpochs?: number;
  /** Adam learning rate of plugin training (default 1e-2). */
  learningRate?: number;
  /** Default 8. */
  batchSize?: number;
  /** Synthetic set method (default 'distribution-matching'). */
  synthetic?: SyntheticMethod;
  /** Synthetic images per class (default 2). */
  perClass?: number;
  /** Distribution-matching options (iterations, learningRate, ...). */
  distill?: Omit<DistributionMatchingOptions, 'perClass' | 'seed'>;
  /** Search algorithm (default 'one-plus-one'). */
  search?: SearchMethod;
  /** Objective evaluations per arrival (default 40, the code's `max_inference_step`). */
  budget?: number;
  /** L1 weight on the coefficients (default 0.05). */
  l1?: number;
  /** Search box (default [-1.5, 1.5] for 'whole', [-2, 2] for 'layer', as the code). */
  bounds?: [number, number];
  /** Initial coefficient (default 0.5). */
  initCoefficient?: number;
  /** Score each plugin alone on every site (default true). */
  evaluatePlugins?: boolean;
  /** Default 0. */
  seed?: number;
}

/** Bytes pushed by one contributor. */
export interface ForgeBytes {
  plugin: number;
  synthetic: number;
  total: number;
  /** Everything pushed up to and including this version. */
  cumulative: number;
}

/** One version of the main branch. */
export interface ForgeVersion {
  version: number;
  /** Site that arrived (null for v0). */
  contributor: string | null;
  /** Searched coefficients (flat, as the search saw them). */
  searched: number[];
  /** Mixture: the weight of every plugin so far; fusion: the per-part coefficients of this step. */
  coefficients: (number | number[])[];
  /** Search objective at the initial point and at the best point. */
  objective?: { init: number; best: number; evaluations: number };
  /** Scores on every site's test set. */
  metrics: Record<string, TaskScores>;
  /** Mean headline score over sites (macro-F1 or Dice). */
  meanScore: number;
  bytes: ForgeBytes;
}

/** Result of {@link medForge}. */
export interface MedForgeResult {
  spec: TaskSpec;
  versions: ForgeVersion[];
  /** Each contributor's plugin (arrival order). */
  plugins: { site: string; state: PluginState; bytes: number; localLoss: number[] }[];
  /** Each contributor's synthetic set (arrival order). */
  syntheticSets: { site: string; samples: Sample[]; bytes: number }[];
  /** Each plugin alone on every site (when `evaluatePlugins`). */
  pluginScores: { site: string; metrics: Record<string, TaskScores>; meanScore: number }[];
  /** Predictor of the final version (inference; create its output inside a tidy or dispose it). */
  predict: (x: tf.Tensor4D) => tf.Tensor;
  /** Fusion: the final fused model as one plain network (caller disposes). Mixture: undefined. */
  model?: tf.LayersModel;
  /** Final fused delta (fusion) or mixture weights + plugin deltas (mixture). */
  final: { kind: 'fusion'; delta: ForgeDelta | null } | { kind: 'mixture'; weights: number[]; components: ForgeDelta[] };
}

function resolveOrder(sites: readonly Site[], order?: readonly (string | number)[]): Site[] {
  if (!order) return [...sites];
  return order.map((o) => {
    const s = typeof o === 'number' ? sites[o] : sites.find((x) => x.name === o);
    if (!s) throw new Error(`medForge: order entry ${JSON.stringify(o)} names no site (sites: ${sites.map((x) => x.name).join(', ')})`);
    return s;
  });
}

async function scoreAll(predict: (x: tf.Tensor4D) => tf.Tensor, sites: readonly Site[], spec: TaskSpec): Promise<{ metrics: Record<string, TaskScores>; meanScore: number }> {
  const metrics: Record<string, TaskScores> = {};
  let sum = 0;
  for (const s of sites) {
    metrics[s.name] = await evaluateTask(predict, s.test, spec);
    sum += primaryScore(spec, metrics[s.name]);
  }
  return { metrics, meanScore: sum / Math.max(1, sites.length) };
}

/**
 * Run MedForge over the sites in arrival order (see module doc) and return
 * every version. The base model is never modified.
 */
export async function medForge(options: MedForgeOptions): Promise<MedForgeResult> {
  const { base } = options;
  if (options.sites.length === 0) throw new Error('medForge: no sites');
  const spec: TaskSpec = {
    task: options.task,
    numClasses: options.numClasses ?? (options.task === 'classification' ? options.sites[0].train.classNames.length : 1),
  };
  checkTaskSpec('medForge', spec);
  const mode = options.mode ?? 'fusion';
  if (mode !== 'fusion' && mode !== 'mixture') throw new Error(`medForge: mode must be 'fusion' or 'mixture', got '${String(mode)}'`);
  const space = options.space ?? 'factors';
  const level = options.level ?? 'whole';
  const [lo, hi] = options.bounds ?? (level === 'whole' ? [-1.5, 1.5] : [-2, 2]);
  const l1 = options.l1 ?? 0.05;
  const seed = options.seed ?? 0;
  const init = options.initCoefficient ?? 0.5;
  const arrivals = resolveOrder(options.sites, options.order);
  const entries = weightEntries(base);
  const loss = taskLoss(spec);

  const versions: ForgeVersion[] = [];
  const plugins: MedForgeResult['plugins'] = [];
  const syntheticSets: MedForgeResult['syntheticSets'] = [];
  const pluginScores: MedForgeResult['pluginScores'] = [];
  const v0 = await scoreAll((x) => forwardWith(base, entries, null, x), options.sites, spec);
  versions.push({ version: 0, contributor: null, searched: [], coefficients: [], metrics: v0.metrics, meanScore: v0.meanScore, bytes: { plugin: 0, synthetic: 0, total: 0, cumulative: 0 } });

  let fused: ForgeDelta | null = null;
  const components: ForgeDelta[] = [];
  let mixWeights: number[] = [];
  let cumulative = 0;

  for (let t = 0; t < arrivals.length; t++) {
    const site = arrivals[t];
    const siteSeed = seed + 1000 * (t + 1);
    // --- at the site: train the plugin with the base frozen, build the synthetic set
    const plugin = LoraPlugin.create(base, { rank: options.rank, alpha: options.alpha, targets: options.targets, seed: siteSeed });
    let state: PluginState;
    let localLoss: number[];
    try {
      const logs = await trainTask(site.train, {
        spec,
        epochs: options.localEpochs ?? 5,
        vars: plugin.variables(),
        forward: (x) => plugin.forward(base, x),
        learningRate: options.learningRate ?? 1e-2,
        batchSize: options.batchSize ?? 8,
        seed: siteSeed,
      });
      localLoss = logs.map((l) => l.loss);
      state = plugin.state();
    } finally {
      plugin.dispose();
    }
    const local = (await materialize(site.train)).samples;
    const syn = syntheticSet(local, { ...(options.distill ?? {}), method: options.synthetic ?? 'distribution-matching', perClass: options.perClass ?? 2, seed: siteSeed });
    const bytes = { plugin: pluginBytes(state), synthetic: syntheticBytes(syn) };
    cumulative += bytes.plugin + bytes.synthetic;
    plugins.push({ site: site.name, state, bytes: bytes.plugin, localLoss });
    syntheticSets.push({ site: site.name, samples: syn, bytes: bytes.synthetic });
    const newDelta: ForgeDelta = { kind: 'factors', plugin: state };
    if (options.evaluatePlugins ?? true) {
      const s = await scoreAll((x) => forwardWith(base, entries, newDelta, x), options.sites, spec);
      pluginScores.push({ site: site.name, ...s });
    }

    // --- at the main branch: search coefficients on the synthetic sets so far
    const batches = syntheticSets.map((s) => taskBatch(s.samples, spec));
    let searched: number[];
    let coefficients: (number | number[])[];
    let objective: ForgeVersion['objective'];
    try {
      if (mode === 'fusion') {
        const parts: ForgeDelta[] = fused ? [fused, newDelta] : [newDelta];
        const layers = deltaLayers(newDelta);
        const dim = parts.length * (level === 'whole' ? 1 : layers);
        const f = (w: number[]) => {
          const d = combineDeltas(parts, splitCoefficients(w, parts.length, level, layers), space);
          const l = tf.tidy(() => {
            let total = 0;
            for (const b of batches) total += loss(b.y, forwardWith(base, entries, d, b.x)).dataSync()[0];
            return total / batches.length;
          });
          return l + l1Penalty(w, l1);
        };
        const r = await minimize(f, { init: new Array<number>(dim).fill(init), lower: lo, upper: hi, budget: options.budget ?? 40, method: options.search, seed: siteSeed });
        searched = r.best;
        coefficients = splitCoefficients(r.best, parts.length, level, layers);
        fused = combineDeltas(parts, coefficients, space);
        objective = { init: r.initValue, best: r.bestValue, evaluations: r.evaluations };
      } else {
        components.push(newDelta);
        // outputs of every component on every synthetic set are fixed: compute once
        const outs = batches.map((b) => components.map((c) => tf.tidy(() => forwardWith(base, entries, c, b.x))));
        try {
          const prev = mixWeights;
          const f = (ab: number[]) => {
            const w = composeMixtureWeights(prev, ab);
            const l = tf.tidy(() => {
              let total = 0;
              batches.forEach((b, i) => (total += loss(b.y, mixOutputs(outs[i], w)).dataSync()[0]));
              return total / batches.length;
            });
            return l + l1Penalty(w, l1);
          };
          const dim = prev.length === 0 ? 1 : 2;
          const r = await minimize(f, { init: new Array<number>(dim).fill(init), lower: lo, upper: hi, budget: options.budget ?? 40, method: options.search, seed: siteSeed });
          searched = r.best;
          mixWeights = composeMixtureWeights(prev, r.best);
          coefficients = [...mixWeights];
          objective = { init: r.initValue, best: r.bestValue, evaluations: r.evaluations };
        } finally {
          outs.forEach((o) => tf.dispose(o));
        }
      }
    } finally {
      batches.forEach((b) => tf.dispose([b.x, b.y]));
    }
    const predict = mode === 'fusion' ? fusedPredictor(base, entries, fused) : mixturePredictor(base, entries, [...components], [...mixWeights]);
    const s = await scoreAll(predict, options.sites, spec);
    versions.push({
      version: t + 1,
      contributor: site.name,
      searched,
      coefficients,
      objective,
      metrics: s.metrics,
      meanScore: s.meanScore,
      bytes: { ...bytes, total: bytes.plugin + bytes.synthetic, cumulative },
    });
  }

  let model: tf.LayersModel | undefined;
  if (mode === 'fusion') {
    model = await cloneModel(base);
    const finalDelta = fused;
    if (finalDelta) {
      const me = weightEntries(model);
      tf.tidy(() => writeWeights(me, effectiveWeightsOf(entries, finalDelta)));
    }
  }
  return {
    spec,
    versions,
    plugins,
    syntheticSets,
    pluginScores,
    predict: mode === 'fusion' ? fusedPredictor(base, entries, fused) : mixturePredictor(base, entries, [...components], [...mixWeights]),
    model,
    final: mode === 'fusion' ? { kind: 'fusion', delta: fused } : { kind: 'mixture', weights: mixWeights, components },
  };
}

/** Predictor of base + one (fused) delta, inference mode. */
export function fusedPredictor(base: tf.LayersModel, entries: ReturnType<typeof weightEntries>, delta: ForgeDelta | null): (x: tf.Tensor4D) => tf.Tensor {
  return (x) => tf.tidy(() => forwardWith(base, entries, delta, x));
}

/** Predictor `sum_j w_j * f(x; base + delta_j)`, inference mode. */
export function mixturePredictor(base: tf.LayersModel, entries: ReturnType<typeof weightEntries>, components: readonly ForgeDelta[], weights: readonly number[]): (x: tf.Tensor4D) => tf.Tensor {
  if (components.length !== weights.length) throw new Error(`mixturePredictor: ${components.length} components but ${weights.length} weights`);
  return (x) => tf.tidy(() => mixOutputs(components.map((c) => forwardWith(base, entries, c, x)), weights));
}

/** Plain-text table of versions (rows) x sites (headline score) + mean and bytes. */
export function formatForgeTable(result: MedForgeResult, extraRows: readonly { label: string; perSite: Record<string, number>; mean: number }[] = []): string {
  const sites = Object.keys(result.versions[0].metrics);
  const metric = result.spec.task === 'classification' ? 'macro-F1' : 'Dice';
  const f = (v: number) => (Number.isNaN(v) ? '  -  ' : v.toFixed(3));
  const lines = [`${'version'.padEnd(24)} | ${sites.map((s) => s.padStart(8)).join(' | ')} |   mean | pushed bytes   (${metric})`];
  for (const v of result.versions) {
    const label = v.version === 0 ? 'v0 (base)' : `v${v.version} (+${v.contributor})`;
    lines.push(`${label.padEnd(24)} | ${sites.map((s) => f(primaryScore(result.spec, v.metrics[s])).padStart(8)).join(' | ')} | ${f(v.meanScore).padStart(6)} | ${v.bytes.cumulative}`);
  }
  for (const p of result.pluginScores) {
    lines.push(`${`plugin ${p.site} alone`.padEnd(24)} | ${sites.map((s) => f(primaryScore(result.spec, p.metrics[s])).padStart(8)).join(' | ')} | ${f(p.meanScore).padStart(6)} |`);
  }
  for (const r of extraRows) {
    lines.push(`${r.label.padEnd(24)} | ${sites.map((s) => f(r.perSite[s] ?? NaN).padStart(8)).join(' | ')} | ${f(r.mean).padStart(6)} |`);
  }
  return lines.join('\n');
}
