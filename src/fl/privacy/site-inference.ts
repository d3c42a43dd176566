/**
 * Site-inference attack: does a (federated) segmentation model reveal which
 * hospital a scan comes from? An attacker who knows the site of a fraction of
 * the scans taps the model's features, trains a small classifier on them and
 * predicts the site of the others. Accuracy well above chance means the
 * shared model (or the activations a split-learning client sends) leaks the
 * site of origin, the point of "AI Models Close to your Chest" (multi-site
 * chest CT, arXiv:2303.13567).
 *
 * Features per image (row of the attack's design matrix):
 * - tap layer output `[N, ...spatial, C]`: global average pool per channel,
 *   plus global max pool per channel (`pooling: 'avg+max'`, default);
 * - output statistics (default on): per output channel the mean, std and max
 *   of the predicted probabilities and the fraction above 0.5.
 *
 * Departures: the paper attacks real CT models; here the classifier is a
 * seeded logistic regression or tiny MLP (./probe) on pooled features, and
 * the attacker's labelled / held-out split is a group-aware (patient) split
 * stratified by site; by default it falls back to per-sample grouping when
 * patients cannot give every site both labelled and held-out samples (e.g. a
 * CT volume whose slices all share one patient), see {@link siteInferenceAttack}.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../../data/types';
import { evaluateBatches, stackImages } from '../../train';
import { splitByGroup, type GroupKey, type SplitIndices } from '../../data/split';
import { accuracy, balancedAccuracy, confusionMatrix } from '../../metrics/classification';
import { getModelSpec } from '../../models/registry';
import { trainProbe, type ProbeOptions } from './probe';

/**
 * Which activations the attacker sees:
 * - 'bottleneck' (default): the deepest encoder features = the last layer (in
 *   topological order) whose output has the smallest spatial size;
 * - 'split': the client-front output of split learning (the registry's
 *   `capabilities.split.twoPart` of the model, looked up by `model.name`);
 * - 'output': the final output probabilities only (what a user of the model sees);
 * - any other string: a layer name of the model.
 */
export type TapLayer = 'bottleneck' | 'split' | 'output' | (string & {});

/** Options of {@link extractAttackFeatures}. */
export interface FeatureOptions {
  /** Default 'bottleneck'. */
  layer?: TapLayer;
  /** Pooling of the tapped activations. Default 'avg+max'. */
  pooling?: 'avg' | 'avg+max';
  /** Append output-probability statistics. Default true (always on for layer 'output'). */
  outputStats?: boolean;
  /** Images per forward pass. Default 16. */
  batchSize?: number;
  /** Restrict to these sample indices (default: all). */
  indices?: readonly number[];
}

/** Attack features: row-major `[n, dim]`. */
export interface AttackFeatures {
  values: Float32Array;
  n: number;
  dim: number;
  /** Resolved layer name (`'output'` for the output). */
  layer: string;
  /** Shape of the tapped activations without the batch dimension. */
  tapShape: number[];
}

/** Options of {@link siteInferenceAttack}. */
export interface SiteInferenceOptions extends Omit<FeatureOptions, 'indices'> {
  /** Fraction of the samples whose site the attacker knows (trains on). Default 0.3. */
  attackerFraction?: number;
  /** Metadata key holding the site. Default 'site'. */
  siteKey?: string;
  /**
   * Grouping of the attacker split (samples of a group stay together). Default:
   * 'patientId', falling back to one group per sample when grouping by patient
   * would leave a site without attacker-train or attacker-test samples (the
   * report's `grouping` / `groupingNote` say so). An explicit key is used as
   * given, without fallback.
   */
  groupKey?: GroupKey;
  /** The attack classifier: 'logistic' (default) or 'mlp'. */
  classifier?: 'logistic' | 'mlp';
  /** Hidden units of 'mlp'. Default 32. */
  hidden?: number;
  /** Other probe settings (epochs 300, learningRate 0.05, l2 1e-3). */
  probe?: Omit<ProbeOptions, 'hidden' | 'seed'>;
  /** Seeds the split and the classifier. Default 0. */
  seed?: number;
}

/** Result of {@link siteInferenceAttack} (scores on the attacker's held-out part). */
export interface SiteInferenceReport {
  /** Site names, index = class id of the confusion matrix. */
  sites: string[];
  layer: string;
  featureDim: number;
  numTrain: number;
  numTest: number;
  accuracy: number;
  balancedAccuracy: number;
  /** Recall per site (NaN for a site absent from the held-out part). */
  perSiteRecall: Record<string, number>;
  /** Rows = true site, columns = predicted site. */
  confusion: number[][];
  chance: {
    /** 1 / number of sites. */
    uniform: number;
    /** Accuracy of always predicting the attacker's most frequent training site. */
    majority: number;
  };
  /** Accuracy on the attacker's own labelled part. */
  trainAccuracy: number;
  /**
   * How the attacker split grouped samples: the meta key used (default
   * 'patientId'), 'function' for a grouping function, or 'sample' (one group
   * per sample: the default's fallback, or no sample has `meta.patientId`).
   */
  grouping: string;
  /** Why the default patient grouping was not used (absent when it was, or when `groupKey` was given). */
  groupingNote?: string;
  /** Samples per site in the attacker's labelled (train) and held-out (test) parts. */
  siteCounts: Record<string, { train: number; test: number }>;
}

interface LayerOut {
  name: string;
  shape: (number | null)[];
}

function layerOutputs(model: tf.LayersModel): LayerOut[] {
  const out: LayerOut[] = [];
  for (const l of model.layers) {
    let shape: unknown;
    try {
      shape = l.outputShape;
    } catch {
      continue; // shared layer with several output shapes
    }
    if (!Array.isArray(shape) || (shape.length > 0 && Array.isArray(shape[0]))) continue;
    out.push({ name: l.name, shape: shape as (number | null)[] });
  }
  return out;
}

/**
 * Resolve a {@link TapLayer} to a layer name of `model` ('output' stays
 * 'output'). Throws naming the valid choices when a name is unknown.
 */
export function resolveTapLayer(model: tf.LayersModel, layer: TapLayer = 'bottleneck'): string {
  if (layer === 'output') return 'output';
  if (layer === 'split') {
    let cut: string;
    try {
      cut = getModelSpec(model.name).capabilities.split.twoPart;
    } catch {
      throw new Error(`siteInferenceAttack: layer 'split' needs a registry model (model.name '${model.name}' is not one); pass the cut layer name instead`);
    }
    return resolveTapLayer(model, cut);
  }
  if (layer === 'bottleneck') {
    let best: LayerOut | null = null;
    let bestSize = Infinity;
    for (const o of layerOutputs(model)) {
      if (o.shape.length < 3 || o.shape.length > 4 || o.name === model.inputs[0].sourceLayer.name) continue;
      const spatial = o.shape.slice(1, -1).reduce<number>((a, b) => a * (b ?? Infinity), 1);
      if (spatial <= bestSize) {
        bestSize = spatial;
        best = o;
      }
    }
    if (!best) throw new Error(`siteInferenceAttack: model '${model.name}' has no rank-3/4 hidden layer to use as bottleneck`);
    return best.name;
  }
  try {
    model.getLayer(layer);
  } catch {
    const names = model.layers.map((l) => l.name);
    const shown = names.length > 30 ? `${names.slice(0, 30).join(', ')}, ...` : names.join(', ');
    throw new Error(`siteInferenceAttack: model '${model.name}' has no layer '${layer}'. Use 'bottleneck', 'split', 'output' or one of: ${shown}`);
  }
  return layer;
}

function poolAxes(rank: number): number[] {
  return Array.from({ length: rank - 2 }, (_, i) => i + 1);
}

/** Per-channel [mean, std, max, fraction > 0.5] of `[N, ..., K]` probabilities, as `[N, 4K]`. */
function outputStatistics(p: tf.Tensor): tf.Tensor2D {
  const axes = poolAxes(p.rank);
  const { mean, variance } = tf.moments(p, axes);
  return tf.concat([mean, tf.sqrt(variance), tf.max(p, axes), tf.mean(tf.cast(tf.greater(p, 0.5), 'float32'), axes)], 1) as tf.Tensor2D;
}

/**
 * Run `model` on the images of `data` and return one feature row per image
 * (pooled tap activations, optionally followed by output statistics).
 * Images must share one shape `[H, W, C]` matching the model input.
 */
export async function extractAttackFeatures(model: tf.LayersModel, data: Dataset, options: FeatureOptions = {}): Promise<AttackFeatures> {
  const layer = resolveTapLayer(model, options.layer ?? 'bottleneck');
  const pooling = options.pooling ?? 'avg+max';
  if (pooling !== 'avg' && pooling !== 'avg+max') throw new Error(`siteInferenceAttack: pooling must be 'avg' or 'avg+max', got '${String(pooling)}'`);
  const withStats = layer === 'output' || (options.outputStats ?? true);
  const indices = options.indices ? [...options.indices] : Array.from({ length: data.length }, (_, i) => i);
  // Shares the layers (and weights) of `model`; never disposed (that would dispose them).
  const tapModel =
    layer === 'output'
      ? model
      : tf.model({ inputs: model.inputs, outputs: [model.getLayer(layer).output as tf.SymbolicTensor, model.outputs[0]] });
  const rows: Float32Array[] = [];
  let dim = 0;
  let tapShape: number[] = [];
  await evaluateBatches(data, {
    indices,
    batchSize: options.batchSize ?? 16,
    predict: (samples) => {
      const outs = tapModel.predict(stackImages(samples, 'siteInferenceAttack'));
      const list = Array.isArray(outs) ? outs : [outs];
      const parts: tf.Tensor[] = [];
      if (layer !== 'output') {
        const t = list[0];
        tapShape = t.shape.slice(1);
        const flat = t.rank === 2 ? t : null;
        parts.push(flat ?? tf.mean(t, poolAxes(t.rank)));
        if (pooling === 'avg+max' && !flat) parts.push(tf.max(t, poolAxes(t.rank)));
      } else {
        tapShape = list[0].shape.slice(1);
      }
      if (withStats) parts.push(outputStatistics(list[list.length - 1]));
      return [tf.concat(parts, 1)];
    },
    accumulate: (_samples, [feats]) => {
      dim = feats.shape[1];
      rows.push(Float32Array.from(feats.values));
    },
  });
  const values = new Float32Array(indices.length * dim);
  let off = 0;
  for (const r of rows) {
    values.set(r, off);
    off += r.length;
  }
  return { values, n: indices.length, dim, layer, tapShape };
}

function siteOrder(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true });
}

function pickRows(values: Float32Array, dim: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => out.set(values.subarray(r * dim, (r + 1) * dim), i * dim));
  return out;
}

/**
 * Site-inference attack (arXiv:2303.13567's leakage question): features of
 * `model` at `options.layer` -> a seeded classifier trained on the
 * attacker's labelled fraction (default 0.3, patient-grouped, stratified by
 * site) -> site predictions on the rest, scored against chance. When grouping
 * by patient would leave a site without labelled or held-out samples (a site
 * with a single patient, e.g. one CT volume), the default falls back to
 * per-sample grouping and says so in `grouping` / `groupingNote`.
 * `data` must hold images of one shape with `meta[siteKey]` set, from >= 2 sites.
 */
export async function siteInferenceAttack(model: tf.LayersModel, data: Dataset, options: SiteInferenceOptions = {}): Promise<SiteInferenceReport> {
  const siteKey = options.siteKey ?? 'site';
  const f = options.attackerFraction ?? 0.3;
  if (!(f > 0 && f < 1)) throw new Error(`siteInferenceAttack: attackerFraction must be in (0, 1), got ${f}`);
  const siteOf: string[] = [];
  for (let i = 0; i < data.length; i++) {
    const s = data.info(i).meta[siteKey];
    if (s === undefined || s === null || s === '') {
      throw new Error(`siteInferenceAttack: sample ${i} ('${data.info(i).id}') of '${data.name}' has no meta.${siteKey}`);
    }
    siteOf.push(String(s));
  }
  const sites = [...new Set(siteOf)].sort(siteOrder);
  if (sites.length < 2) throw new Error(`siteInferenceAttack: '${data.name}' has ${sites.length} site(s) under meta.${siteKey}; need at least 2`);
  const K = sites.length;
  const label = siteOf.map((s) => sites.indexOf(s));
  const seed = options.seed ?? 0;
  const { split, grouping, note } = attackerSplit(data, siteOf, sites, f, seed, siteKey, options.groupKey);
  const feats = await extractAttackFeatures(model, data, options);
  const dim = feats.dim;
  const trainX = pickRows(feats.values, dim, split.train);
  const testX = pickRows(feats.values, dim, split.test);
  const trainY = split.train.map((i) => label[i]);
  const testY = split.test.map((i) => label[i]);
  const classifier = options.classifier ?? 'logistic';
  if (classifier !== 'logistic' && classifier !== 'mlp') throw new Error(`siteInferenceAttack: classifier must be 'logistic' or 'mlp', got '${String(classifier)}'`);
  const probe = trainProbe(trainX, trainY.length, trainY, K, {
    ...options.probe,
    hidden: classifier === 'mlp' ? options.hidden ?? 32 : 0,
    seed: `site-probe:${seed}`,
  });
  const predTest = Array.from(probe.predict(testX, testY.length));
  const predTrain = Array.from(probe.predict(trainX, trainY.length));
  const confusion = confusionMatrix(testY, predTest, K);
  const perSiteRecall: Record<string, number> = {};
  sites.forEach((s, k) => {
    const support = confusion[k].reduce((a, b) => a + b, 0);
    perSiteRecall[s] = support > 0 ? confusion[k][k] / support : NaN;
  });
  const trainCounts = new Array<number>(K).fill(0);
  for (const y of trainY) trainCounts[y]++;
  const majorityClass = trainCounts.indexOf(Math.max(...trainCounts));
  return {
    sites,
    layer: feats.layer,
    featureDim: dim,
    numTrain: trainY.length,
    numTest: testY.length,
    accuracy: accuracy(testY, predTest),
    balancedAccuracy: balancedAccuracy(testY, predTest, K),
    perSiteRecall,
    confusion,
    chance: { uniform: 1 / K, majority: testY.length ? testY.filter((y) => y === majorityClass).length / testY.length : NaN },
    trainAccuracy: accuracy(trainY, predTrain),
    grouping,
    ...(note !== undefined ? { groupingNote: note } : {}),
    siteCounts: countsPerSite(sites, siteOf, split),
  };
}

function countsPerSite(sites: readonly string[], siteOf: readonly string[], split: SplitIndices): Record<string, { train: number; test: number }> {
  const out: Record<string, { train: number; test: number }> = {};
  for (const s of sites) out[s] = { train: 0, test: 0 };
  for (const i of split.train) out[siteOf[i]].train++;
  for (const i of split.test) out[siteOf[i]].test++;
  return out;
}

/**
 * The attacker's labelled / held-out split (fractions f / 1 - f, stratified
 * by site). With an explicit `groupKey` that grouping is used as given.
 * Default: by 'patientId'; when that split fails or leaves a site without
 * train or test samples, one group per sample instead (with a note).
 */
function attackerSplit(
  data: Dataset,
  siteOf: readonly string[],
  sites: readonly string[],
  f: number,
  seed: number,
  siteKey: string,
  groupKey: GroupKey | undefined,
): { split: SplitIndices; grouping: string; note?: string } {
  const run = (key: GroupKey): SplitIndices =>
    splitByGroup(data, { fractions: [f, 0, 1 - f], groupKey: key, seed: `site-attack:${seed}`, stratify: (info) => String(info.meta[siteKey]) });
  const perSample: GroupKey = (_info, index) => `#${index}`;
  if (groupKey !== undefined) return { split: run(groupKey), grouping: typeof groupKey === 'function' ? 'function' : groupKey };
  let hasPatient = false;
  for (let i = 0; i < data.length && !hasPatient; i++) {
    const p = data.info(i).meta.patientId;
    hasPatient = p !== undefined && p !== null && p !== '';
  }
  if (!hasPatient) return { split: run(perSample), grouping: 'sample' };
  let problem: string;
  try {
    const split = run('patientId');
    const counts = countsPerSite(sites, siteOf, split);
    const lacking = sites.filter((s) => counts[s].train === 0 || counts[s].test === 0);
    if (lacking.length === 0) return { split, grouping: 'patientId' };
    problem = `grouping by patientId left site(s) ${lacking.map((s) => `'${s}'`).join(', ')} without attacker-train or attacker-test samples`;
  } catch (e) {
    problem = `grouping by patientId is impossible (${e instanceof Error ? e.message : String(e)})`;
  }
  return {
    split: run(perSample),
    grouping: 'sample',
    note: `${problem}; split per sample instead (slices / images of one patient may sit on both sides)`,
  };
}
