/**
 * FedAvg (McMahan et al. 2017, arXiv:1602.05629) — the one FedAvg of medfl —
 * with its client and server options, shaped as Flower's FedAvg:
 *
 * - client sampling: a fraction C of the sites per round (at least one),
 *   drawn with a seed derived from (seed, round) (Flower's fraction_train);
 * - weighting by training-sample count n_k (Flower's `num-examples`);
 * - FedProx (Li et al. 2020, arXiv:1812.06127): the client adds
 *   mu/2 ||w - w_global||^2 over the trainable weights (`mu`, Flower's
 *   proximal_mu; mu = 0 gives FedAvg exactly);
 * - FedBN (Li et al. 2021, arXiv:2102.07623): BatchNorm gamma/beta and
 *   moving statistics never leave the site (not sent, not averaged);
 * - server optimizers FedAvgM / FedAdam / FedYogi / FedAdagrad
 *   (Reddi et al. 2021, arXiv:2003.00295) on the averaged pseudo-gradient
 *   (./aggregate `serverUpdate`, Flower's defaults).
 *
 * The aggregation step is a parameter ({@link fedAvgFamily}), so robust
 * aggregators (FedMedian, FedTrimmedAvg, Krum) are FedAvg with another
 * `aggregate`, one file each.
 *
 * Departures: clients run Adam (fresh each round) instead of plain SGD, for
 * `localEpochs` full epochs (the papers' E); the BatchNorm moving statistics
 * are averaged like weights (not part of the FedAvg paper's models). With
 * FedBN the server still averages the BN entries of the participants to
 * form a reference "global" model, used only to score the global test set
 * (a FedBN site never receives them).
 *
 * Bytes per participant and round: the shared weights down + up (4 bytes/float).
 */
import { fedAvg, mergeShared, resolveServerOptimizer, serverUpdate, sharedWeightMask, subtract, SERVER_OPTIMIZERS, type ServerOptimizerState } from './aggregate';
import type { StrategyDefinition } from './registry';
import type { CheckpointState } from './results';
import { createRng } from '../util/rng';
import type { RoundContext, Strategy, StrategyInit, TrainResult } from './strategy';
import type { FedAvgConfig, ServerOptimizerName } from './types';
import { byteCount, cloneWeights } from '../models/weights';
import type { Shape } from '../util/schema';

/** Turns the round's replies into one weight list (the average, a median, ...). */
export type Aggregator = (results: readonly TrainResult[], ctx: RoundContext) => Float32Array[];

/** FedAvg's aggregation: the n_k-weighted mean (arXiv:1602.05629, Algorithm 1). */
export const weightedMean: Aggregator = (results) => fedAvg(results.map((r) => ({ weights: r.weights, numSamples: r.numExamples })));

/** Options of the FedAvg family (see {@link FedAvgConfig}). */
export type FedAvgOptions = Omit<FedAvgConfig, 'name' | 'label' | 'dp'>;

/**
 * A FedAvg-shaped strategy named `name` whose aggregation is `aggregate`
 * (default {@link weightedMean}); everything else (sampling, FedProx, FedBN,
 * server optimizer, bytes, checkpoint) is FedAvg's.
 */
export function fedAvgFamily(name: string, options: FedAvgOptions, init: StrategyInit, aggregate: Aggregator = weightedMean): Strategy {
  const fedbn = options.fedbn ?? false;
  const shared = sharedWeightMask(init.specs, fedbn);
  const trainable = init.specs.map((s) => s.trainable);
  const opt = resolveServerOptimizer(options.serverOptimizer);
  const fraction = options.clientFraction ?? 1;
  let serverState: ServerOptimizerState = { step: 0 };
  /** FedBN: each site's own weights (only its BN entries are used). */
  const local = new Map<string, Float32Array[]>();
  const sharedBytes = byteCount(init.initial, shared);
  /** FedBN: a site's model is the global shared weights with its own BN entries; a site that has not trained yet starts from the INITIAL BN entries, never the server's average of other sites' statistics. */
  const siteModel = (global: Float32Array[], site: string) => (fedbn ? mergeShared(global, local.get(site) ?? init.initial, shared) : global);

  return {
    name,
    execution: 'parallel',
    selectClients(ctx, sites) {
      if (fraction >= 1) return [...sites];
      const m = Math.max(1, Math.round(fraction * sites.length));
      const chosen = new Set(createRng(ctx.seedFor('select')).sample(sites.length, m));
      return sites.filter((_, i) => chosen.has(i));
    },
    configureTrain(ctx, global, sites) {
      return sites.map((s) => ({ site: s, weights: siteModel(global, s.name), seed: ctx.seedFor(s.name), config: options.mu !== undefined ? { proximalMu: options.mu } : {} }));
    },
    aggregateTrain(ctx, global, results, failures) {
      const up: Record<string, number> = {};
      const down: Record<string, number> = {};
      for (const r of results) {
        up[r.site] = sharedBytes;
        down[r.site] = sharedBytes;
        if (fedbn) local.set(r.site, r.weights);
      }
      for (const f of failures) {
        up[f.site] = 0;
        down[f.site] = sharedBytes;
      }
      if (results.length === 0) return { weights: global, up, down };
      const avg = aggregate(results, ctx);
      const next = serverUpdate(global, subtract(avg, global), serverState, opt, trainable);
      serverState = next.state;
      return { weights: next.weights, up, down };
    },
    configureEvaluate: (_ctx, global) => ({ site: (s) => siteModel(global, s), global }),
    keptSiteWeights: (global) => (fedbn ? Object.fromEntries(init.sites.map((s) => [s.name, siteModel(global, s.name)])) : {}),
    saveState(): CheckpointState {
      const arrays: Record<string, Float32Array[]> = {};
      if (serverState.m) arrays['server:m'] = serverState.m;
      if (serverState.v) arrays['server:v'] = serverState.v;
      for (const [k, v] of local) arrays[`site:${k}`] = v;
      return { arrays, meta: { serverStep: serverState.step } };
    },
    loadState(state: CheckpointState) {
      serverState = {
        step: Number(state.meta.serverStep ?? 0),
        m: state.arrays['server:m'] ? cloneWeights(state.arrays['server:m']) : undefined,
        v: state.arrays['server:v'] ? cloneWeights(state.arrays['server:v']) : undefined,
      };
      local.clear();
      for (const [k, v] of Object.entries(state.arrays)) if (k.startsWith('site:')) local.set(k.slice(5), cloneWeights(v));
    },
  };
}

const SERVER_OPTIMIZER_SHAPE: Shape = {
  name: { kind: 'string', required: true, enum: SERVER_OPTIMIZERS },
  learningRate: { kind: 'number', min: 0, exclusiveMin: true },
  momentum: { kind: 'number', min: 0 },
  beta1: { kind: 'number', min: 0, max: 1 },
  beta2: { kind: 'number', min: 0, max: 1 },
  tau: { kind: 'number', min: 0 },
  biasCorrection: { kind: 'boolean' },
};

/** FedAvg's options as a schema (shared by every FedAvg-family strategy). */
export const FEDAVG_OPTIONS: Shape = {
  clientFraction: { kind: 'number', min: 0, max: 1, exclusiveMin: true, doc: 'fraction of sites sampled per round (default 1)' },
  mu: { kind: 'number', min: 0, doc: 'FedProx proximal weight (default: none)' },
  fedbn: { kind: 'boolean', doc: 'keep BatchNorm local (default false)' },
  serverOptimizer: { kind: 'object', shape: SERVER_OPTIMIZER_SHAPE, doc: 'server optimizer (default none)' },
};

/** FedAvg's label rule: 'fedavg' plus '-prox<mu>', '-bn', '-<server optimizer>'. */
export function fedAvgLabel(base: string, o: FedAvgOptions): string {
  const parts = [base];
  if (o.mu !== undefined && o.mu > 0) parts.push(`prox${o.mu}`);
  if (o.fedbn) parts.push('bn');
  if (o.serverOptimizer && o.serverOptimizer.name !== 'none') parts.push(o.serverOptimizer.name);
  return parts.join('-');
}

/** Registry entry of 'fedavg'. */
export const fedAvgDefinition: StrategyDefinition = {
  name: 'fedavg',
  summary: 'FedAvg (arXiv:1602.05629) with FedProx, FedBN and server optimizers as options',
  options: FEDAVG_OPTIONS,
  acceptsDp: true,
  label: (o) => fedAvgLabel('fedavg', o as FedAvgOptions),
  create: (o, init) => fedAvgFamily('fedavg', o as FedAvgOptions, init),
};

/**
 * Flower's names for FedAvg with one option set: 'fedprox' (needs `mu`,
 * Flower's proximal_mu) and 'fedavgm' / 'fedadam' / 'fedyogi' / 'fedadagrad'
 * (the server optimizer of that name; its settings under `serverOptimizer`
 * or flat: `learningRate`, `momentum`, `beta1`, `beta2`, `tau`).
 */
export const FEDAVG_ALIASES: readonly StrategyDefinition[] = [
  {
    name: 'fedprox',
    summary: 'FedProx (arXiv:1812.06127): FedAvg clients with a proximal term mu',
    options: { ...FEDAVG_OPTIONS, mu: { kind: 'number', min: 0, required: true, doc: 'proximal weight mu (required)' } },
    acceptsDp: true,
    label: (o) => fedAvgLabel('fedprox', { ...(o as FedAvgOptions), mu: 0 }) + `-mu${o.mu}`,
    create: (o, init) => fedAvgFamily('fedprox', o as FedAvgOptions, init),
  },
  ...(['fedavgm', 'fedadam', 'fedyogi', 'fedadagrad'] as const).map(
    (opt): StrategyDefinition => {
      const flat = ['learningRate', 'momentum', 'beta1', 'beta2', 'tau', 'biasCorrection'] as const;
      const toFedAvg = (o: Record<string, unknown>): FedAvgOptions => {
        const server: Record<string, unknown> = { name: opt as ServerOptimizerName };
        for (const k of flat) if (o[k] !== undefined) server[k] = o[k];
        return { clientFraction: o.clientFraction as number | undefined, mu: o.mu as number | undefined, fedbn: o.fedbn as boolean | undefined, serverOptimizer: server as never };
      };
      const { serverOptimizer: _s, ...rest } = FEDAVG_OPTIONS;
      const { name: _n, ...serverKeys } = SERVER_OPTIMIZER_SHAPE;
      return {
        name: opt,
        summary: `FedAvg with the ${opt} server optimizer (arXiv:${opt === 'fedavgm' ? '1909.06335' : '2003.00295'}; Flower's defaults)`,
        options: { ...rest, ...serverKeys },
        acceptsDp: true,
        label: (o) => fedAvgLabel(opt, { ...toFedAvg(o), serverOptimizer: undefined }),
        create: (o, init) => fedAvgFamily(opt, toFedAvg(o), init),
      };
    },
  ),
];
