/**
 * Privacy / utility trade-off: train the same model with DP-style FedAvg at
 * several noise levels and report, per level, segmentation Dice on held-out
 * images, site-inference accuracy ({@link siteInferenceAttack},
 * arXiv:2303.13567) and membership-inference AUC
 * ({@link membershipInferenceAttack}, arXiv:1709.01604), with the (epsilon,
 * delta) of the accountant in ./dp.
 *
 * The training loop is a minimal in-process DP-FedAvg written here (the
 * project's `fedAvgStrategy` has no clipping / noise hook, and its round
 * runner is not needed for this): each round every site starts from the
 * global weights, runs `localEpochs` of {@link trainSegmentation} (fresh
 * Adam, as the project's FedAvg clients), and its delta (trainable weights
 * only) is clipped to `clipNorm` and noised:
 * - `noisePlacement: 'client'` (default; local DP of each update): every
 *   clipped delta gets N(0, (sigma C)^2) before it leaves the site; the
 *   server takes the sample-weighted average (post-processing). Epsilon is
 *   reported for replace-one adjacency of a site's update (sensitivity 2C),
 *   i.e. noise multiplier sigma / 2.
 * - `'server'` (central DP-FedAvg, McMahan et al. 2018, arXiv:1710.06963):
 *   the clipped deltas are averaged with EQUAL weights and N(0, (sigma C / m)^2)
 *   is added to the mean of m sites (std sigma C on the sum); epsilon for
 *   add/remove-one-site adjacency, noise multiplier sigma.
 * All sites take part each round (q = 1), so epsilon composes `rounds`
 * releases with no subsampling amplification.
 *
 * Departures / limits: non-trainable weights (BatchNorm moving mean and
 * variance) are averaged without clipping or noise (noise could make a
 * variance negative), so they are an unprotected channel and the epsilon
 * does not cover them; clients use Adam rather than SGD; the protection is
 * client-level (a whole site's round update), not per image.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../../data/types';
import { splitByGroup, type GroupKey } from '../../data/split';
import { createModel } from '../../models/registry';
import { trainSegmentation, evaluateSegmentation } from '../../train';
import { fedAvg, subtract } from '../aggregate';
import { getWeights, setWeights } from '../../models/weights';
import { createRng } from '../../util/rng';
import { addGaussianNoise, computeEpsilon, noiseSeed, privatizeUpdate } from './dp';
import { siteInferenceAttack, type SiteInferenceOptions } from './site-inference';
import { membershipInferenceAttack, type MembershipOptions } from './membership';

/** Where the Gaussian noise is added (see the module doc). */
export type NoisePlacement = 'client' | 'server';

/** Options of {@link dpFedAvg}. */
export interface DpFedAvgOptions {
  /** Training indices of each site into `data`. */
  sites: readonly { name: string; indices: readonly number[] }[];
  /** FL rounds. Default 3. */
  rounds?: number;
  /** Local epochs per round. Default 1. */
  localEpochs?: number;
  /** Default 8. */
  batchSize?: number;
  /** Client Adam learning rate. Default 1e-3. */
  learningRate?: number;
  /** L2 clip norm C of a site's delta (trainable weights). Default 1. */
  clipNorm?: number;
  /** Noise multiplier sigma (noise std sigma C). Default 0 (clipping only). */
  noiseMultiplier?: number;
  /** Default 'client'. */
  noisePlacement?: NoisePlacement;
  /** Seeds local batch order and the noise. Default 0. */
  seed?: number;
  /** Called after every round. */
  onRound?: (log: DpRoundLog) => void;
}

/** What happened in one DP-FedAvg round. */
export interface DpRoundLog {
  round: number;
  /** Mean local training loss (last local epoch) over sites. */
  loss: number;
  /** Pre-clipping L2 norm of each site's delta. */
  updateNorms: Record<string, number>;
  /** Fraction of sites whose delta was clipped. */
  clippedFraction: number;
}

/**
 * Minimal in-process DP-FedAvg: trains `model` in place (it ends holding the
 * global weights) and returns the round logs. See the module doc for the
 * exact mechanism.
 */
export async function dpFedAvg(model: tf.LayersModel, data: Dataset, options: DpFedAvgOptions): Promise<DpRoundLog[]> {
  const rounds = options.rounds ?? 3;
  const C = options.clipNorm ?? 1;
  const sigma = options.noiseMultiplier ?? 0;
  const placement = options.noisePlacement ?? 'client';
  const seed = options.seed ?? 0;
  if (!Number.isInteger(rounds) || rounds < 0) throw new Error(`dpFedAvg: rounds must be an integer >= 0, got ${rounds}`);
  if (placement !== 'client' && placement !== 'server') throw new Error(`dpFedAvg: noisePlacement must be 'client' or 'server', got '${String(placement)}'`);
  const sites = options.sites.filter((s) => s.indices.length > 0);
  if (sites.length === 0) throw new Error('dpFedAvg: no site has training samples');
  const mask = model.weights.map((w) => w.trainable);
  const logs: DpRoundLog[] = [];
  let global = getWeights(model);
  for (let r = 0; r < rounds; r++) {
    const updates: { weights: Float32Array[]; numSamples: number }[] = [];
    const norms: Record<string, number> = {};
    let clipped = 0;
    let lossSum = 0;
    for (const site of sites) {
      setWeights(model, global);
      const log = await trainSegmentation(model, data, {
        epochs: options.localEpochs ?? 1,
        batchSize: options.batchSize,
        learningRate: options.learningRate,
        indices: site.indices,
        seed: createRng(seed).fork(`train:${r}:${site.name}`).nextUint32(),
      });
      lossSum += log.length ? log[log.length - 1].loss : NaN;
      const delta = subtract(getWeights(model), global);
      const p = privatizeUpdate(delta, {
        clipNorm: C,
        noiseMultiplier: placement === 'client' ? sigma : 0,
        seed: noiseSeed(seed, r, site.name),
        mask,
      });
      norms[site.name] = p.norm;
      if (p.scale < 1) clipped++;
      updates.push({ weights: p.update, numSamples: placement === 'client' ? site.indices.length : 1 });
    }
    let avg = fedAvg(updates);
    if (placement === 'server' && sigma > 0) {
      // Noise on the equal-weight mean: std sigma C / m (= sigma C on the sum).
      avg = addGaussianNoise(avg, { std: (sigma * C) / sites.length, seed: noiseSeed(seed, r, 'server'), mask });
    }
    global = global.map((g, i) => {
      const out = new Float32Array(g.length);
      for (let j = 0; j < g.length; j++) out[j] = g[j] + avg[i][j];
      return out;
    });
    const entry = { round: r, loss: lossSum / sites.length, updateNorms: norms, clippedFraction: clipped / sites.length };
    logs.push(entry);
    options.onRound?.(entry);
  }
  setWeights(model, global);
  return logs;
}

/** Options of {@link privacyTradeoff}. */
export interface PrivacyTradeoffOptions {
  /** Multi-site segmentation data (one image shape; `meta[siteKey]` set). */
  data: Dataset;
  /** Registry model name and size (1 output channel, sigmoid, is the default). */
  model: { name: string; width?: number; numClasses?: number };
  /** Noise multipliers to try, e.g. [0, 0.01, 0.1] (0 = clipping only). */
  noiseMultipliers: readonly number[];
  /** Fraction of each site's patients held out as test / non-members. Default 0.3. */
  testFraction?: number;
  /** Default 'site'. */
  siteKey?: string;
  /** Default 'patientId'. */
  groupKey?: GroupKey;
  /** Target delta of the reported epsilon. Default 1e-5. */
  delta?: number;
  /** Seeds the split, model init, training, noise and attacks. Default 0. */
  seed?: number;
  /** Options of the site attack (default: bottleneck features, logistic regression). */
  siteAttack?: Omit<SiteInferenceOptions, 'seed' | 'siteKey'>;
  /** Options of the membership attack (loss, batch size, FPR levels). */
  membership?: Omit<MembershipOptions, 'data'>;
  /** Training settings (rounds 3, localEpochs 1, batchSize 8, learningRate 1e-3, clipNorm 1, noisePlacement 'client'). */
  training?: Omit<DpFedAvgOptions, 'sites' | 'noiseMultiplier' | 'seed' | 'onRound'>;
  /** Called with each row as soon as it is computed. */
  onRow?: (row: TradeoffRow) => void;
}

/** One noise level of {@link privacyTradeoff}. */
export interface TradeoffRow {
  noiseMultiplier: number;
  clipNorm: number;
  noisePlacement: NoisePlacement;
  /** Epsilon at `delta` (see the module doc for the adjacency); Infinity without noise. */
  epsilon: number;
  delta: number;
  /** Mean per-image Dice on the held-out images. */
  dice: number;
  siteAccuracy: number;
  siteBalancedAccuracy: number;
  /** 1 / number of sites. */
  siteChance: number;
  membershipAuc: number;
  membershipAdvantage: number;
  /** Mean pre-clipping norm of the site deltas over all rounds. */
  meanUpdateNorm: number;
  /** Fraction of (site, round) deltas that were clipped. */
  clippedFraction: number;
  seconds: number;
}

/**
 * Run {@link dpFedAvg} once per noise multiplier (same split, same initial
 * weights, same seeds) and attack each trained model. Site inference runs on
 * all of `data` (the attacker knows the sites of `attackerFraction` of it);
 * membership compares the training images (members) with the held-out ones.
 */
export async function privacyTradeoff(options: PrivacyTradeoffOptions): Promise<TradeoffRow[]> {
  const data = options.data;
  const siteKey = options.siteKey ?? 'site';
  const seed = options.seed ?? 0;
  const delta = options.delta ?? 1e-5;
  const testFraction = options.testFraction ?? 0.3;
  if (!(testFraction > 0 && testFraction < 1)) throw new Error(`privacyTradeoff: testFraction must be in (0, 1), got ${testFraction}`);
  if (options.noiseMultipliers.length === 0) throw new Error('privacyTradeoff: noiseMultipliers is empty');
  if (data.length === 0) throw new Error(`privacyTradeoff: dataset '${data.name}' is empty`);
  const split = splitByGroup(data, {
    fractions: [1 - testFraction, 0, testFraction],
    groupKey: options.groupKey ?? 'patientId',
    seed: `tradeoff:${seed}`,
    stratify: (info) => String(info.meta[siteKey]),
  });
  const bySite = new Map<string, number[]>();
  for (const i of split.train) {
    const s = String(data.info(i).meta[siteKey]);
    if (!bySite.has(s)) bySite.set(s, []);
    bySite.get(s)!.push(i);
  }
  const sites = [...bySite.entries()].sort((a, b) => a[0].localeCompare(b[0], undefined, { numeric: true })).map(([name, indices]) => ({ name, indices }));
  const shape = (await data.load(0)).shape;
  const training = options.training ?? {};
  const C = training.clipNorm ?? 1;
  const placement = training.noisePlacement ?? 'client';
  const rounds = training.rounds ?? 3;
  const numClasses = options.model.numClasses ?? 1;
  const rows: TradeoffRow[] = [];
  for (const sigma of options.noiseMultipliers) {
    const t0 = Date.now();
    const model = createModel(options.model.name, { inputShape: shape, numClasses, width: options.model.width, seed });
    try {
      const logs = await dpFedAvg(model, data, { ...training, sites, noiseMultiplier: sigma, seed });
      const ev = await evaluateSegmentation(model, data, { indices: split.test, numClasses: numClasses === 1 ? 2 : numClasses });
      const site = await siteInferenceAttack(model, data, { ...options.siteAttack, siteKey, seed });
      const mem = await membershipInferenceAttack(model, split.train, split.test, { ...options.membership, data });
      const norms = logs.flatMap((l) => Object.values(l.updateNorms));
      const eps = computeEpsilon({ noiseMultiplier: placement === 'client' ? sigma / 2 : sigma, steps: rounds, delta }).epsilon;
      const row: TradeoffRow = {
        noiseMultiplier: sigma,
        clipNorm: C,
        noisePlacement: placement,
        epsilon: eps,
        delta,
        dice: ev.overall.dice,
        siteAccuracy: site.accuracy,
        siteBalancedAccuracy: site.balancedAccuracy,
        siteChance: site.chance.uniform,
        membershipAuc: mem.auc,
        membershipAdvantage: mem.advantage,
        meanUpdateNorm: norms.length ? norms.reduce((a, b) => a + b, 0) / norms.length : NaN,
        clippedFraction: logs.length ? logs.reduce((a, l) => a + l.clippedFraction, 0) / logs.length : 0,
        seconds: (Date.now() - t0) / 1000,
      };
      rows.push(row);
      options.onRow?.(row);
    } finally {
      model.dispose();
    }
  }
  return rows;
}
