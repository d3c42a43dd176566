/**
 * Privacy / utility trade-off: train the same model with differentially
 * private FedAvg (the `dp` wrapper of the strategy registry, ../dp-wrapper)
 * at several noise levels and report, per level, segmentation Dice on
 * held-out images, site-inference accuracy ({@link siteInferenceAttack},
 * arXiv:2303.13567) and membership-inference AUC
 * ({@link membershipInferenceAttack}, arXiv:1709.01604), with the (epsilon,
 * delta) of the accountant in ./dp.
 *
 * - `noisePlacement: 'client'` (default; local DP of each update): each site
 *   clips its delta (trainable weights) to `clipNorm` and adds
 *   N(0, (sigma C)^2) before it leaves the site; the server takes the
 *   sample-weighted average (post-processing). Epsilon is reported for
 *   replace-one adjacency of a site's update (sensitivity 2C), i.e. noise
 *   multiplier sigma / 2.
 * - `'server'` (central DP-FedAvg, McMahan et al. 2018, arXiv:1710.06963;
 *   Flower's server-side fixed clipping): the server clips, averages with
 *   EQUAL weights and adds N(0, (sigma C / m)^2) to the mean of m sites;
 *   epsilon for add/remove-one-site adjacency, noise multiplier sigma.
 * All sites take part each round (q = 1), so epsilon composes `rounds`
 * releases with no subsampling amplification.
 *
 * Limits: BatchNorm moving statistics are not noised (see ../dp-wrapper), so
 * the epsilon does not cover them; clients use Adam rather than SGD; the
 * protection is client-level (a whole site's round update), not per image.
 */
import { SubsetDataset, type Dataset } from '../../data/types';
import { splitByGroup, type GroupKey } from '../../data/split';
import { createModel } from '../../models/registry';
import { runFederated } from '../rounds';
import { setWeights } from '../../models/weights';
import { computeEpsilon } from './dp';
import { siteInferenceAttack, type SiteInferenceOptions } from './site-inference';
import { membershipInferenceAttack, type MembershipOptions } from './membership';
import type { DpConfig } from '../types';
import type { Site } from '../../data/site';

/** Where the Gaussian noise is added (see the module doc). */
export type NoisePlacement = 'client' | 'server';

/** Training settings of {@link privacyTradeoff}. */
export interface TradeoffTraining {
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
  /** Default 'client'. */
  noisePlacement?: NoisePlacement;
}

/** The `dp` block of the FedAvg strategy for a placement (see the module doc). */
export function tradeoffDp(placement: NoisePlacement, clipNorm: number, noiseMultiplier: number): DpConfig {
  if (placement !== 'client' && placement !== 'server') throw new Error(`privacyTradeoff: noisePlacement must be 'client' or 'server', got '${String(placement)}'`);
  return placement === 'client'
    ? { clipping: 'client', noise: 'local', weighting: 'samples', clipNorm, noiseMultiplier }
    : { clipping: 'server', noise: 'central', weighting: 'uniform', clipNorm, noiseMultiplier };
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
  training?: TradeoffTraining;
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
  const bySite = new Map<string, { train: number[]; test: number[] }>();
  for (const [part, idx] of [['train', split.train], ['test', split.test]] as const) {
    for (const i of idx) {
      const s = String(data.info(i).meta[siteKey]);
      if (!bySite.has(s)) bySite.set(s, { train: [], test: [] });
      bySite.get(s)![part].push(i);
    }
  }
  const sites: Site[] = [...bySite.entries()]
    .filter(([, v]) => v.train.length > 0)
    .sort((a, b) => a[0].localeCompare(b[0], undefined, { numeric: true }))
    .map(([name, v]) => ({ name, train: new SubsetDataset(data, v.train, `${name}/train`), test: new SubsetDataset(data, v.test, `${name}/test`) }));
  if (sites.length === 0) throw new Error('privacyTradeoff: no site has training samples');
  const heldOut = new SubsetDataset(data, split.test, `${data.name}/held-out`);
  const shape = (await data.load(0)).shape;
  const training = options.training ?? {};
  const C = training.clipNorm ?? 1;
  const placement = training.noisePlacement ?? 'client';
  const rounds = training.rounds ?? 3;
  const numClasses = options.model.numClasses ?? 1;
  const rows: TradeoffRow[] = [];
  for (const sigma of options.noiseMultipliers) {
    const t0 = Date.now();
    const fl = await runFederated(
      {
        strategy: { name: 'fedavg', dp: tradeoffDp(placement, C, sigma) },
        model: { name: options.model.name, inputShape: shape, numClasses, width: options.model.width },
        rounds,
        localEpochs: training.localEpochs ?? 1,
        batchSize: training.batchSize ?? 8,
        learningRate: training.learningRate ?? 1e-3,
        seed,
        evaluation: { every: rounds },
      },
      sites,
      heldOut,
    );
    const model = createModel(options.model.name, { inputShape: shape, numClasses, width: options.model.width, seed });
    try {
      setWeights(model, fl.globalWeights);
      const dice = fl.summary.final.global?.dice ?? NaN;
      const site = await siteInferenceAttack(model, data, { ...options.siteAttack, siteKey, seed });
      const mem = await membershipInferenceAttack(model, split.train, split.test, { ...options.membership, data });
      const perClient = fl.records.flatMap((r) => Object.values(r.clientMetrics ?? {}));
      const norms = perClient.map((m) => m.updateNorm).filter((x) => Number.isFinite(x));
      const eps = computeEpsilon({ noiseMultiplier: placement === 'client' ? sigma / 2 : sigma, steps: rounds, delta }).epsilon;
      const row: TradeoffRow = {
        noiseMultiplier: sigma,
        clipNorm: C,
        noisePlacement: placement,
        epsilon: eps,
        delta,
        dice,
        siteAccuracy: site.accuracy,
        siteBalancedAccuracy: site.balancedAccuracy,
        siteChance: site.chance.uniform,
        membershipAuc: mem.auc,
        membershipAdvantage: mem.advantage,
        meanUpdateNorm: norms.length ? norms.reduce((a, b) => a + b, 0) / norms.length : NaN,
        clippedFraction: perClient.length ? perClient.reduce((a, m) => a + (m.clipped ?? 0), 0) / perClient.length : 0,
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
