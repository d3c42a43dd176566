/**
 * FedAvg (McMahan et al. 2017, arXiv:1602.05629) with its common variants:
 *
 * - client sampling: a fraction C of the sites per round (at least one),
 *   drawn with a seed derived from (seed, round);
 * - weighting by training-sample count n_k;
 * - FedProx (Li et al. 2020, arXiv:1812.06127): local loss + mu/2 ||w - w_global||^2
 *   over the trainable weights (`mu`; mu = 0 gives FedAvg exactly);
 * - FedBN (Li et al. 2021, arXiv:2102.07623): BatchNorm gamma/beta and
 *   moving statistics never leave the site (not sent, not averaged);
 * - server optimizers FedAvgM / FedAdam (Reddi et al. 2021, arXiv:2003.00295)
 *   applied to the averaged pseudo-gradient (see ./aggregate `serverUpdate`).
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
import { WeightedAverager, mergeShared, resolveServerOptimizer, serverUpdate, sharedWeightMask, subtract, type ServerOptimizerState } from './aggregate';
import type { CheckpointState } from './results';
import type { RoundContext, RoundOutcome, Strategy, StrategyInit } from './strategy';
import type { FedAvgStrategy } from './types';
import { byteCount, cloneWeights } from '../models/weights';

/** Build the FedAvg / FedProx / FedBN strategy. */
export function fedAvgStrategy(init: StrategyInit): Strategy {
  const cfg = init.config.strategy as FedAvgStrategy;
  const fedbn = cfg.fedbn ?? false;
  const shared = sharedWeightMask(init.specs, fedbn);
  const trainable = init.specs.map((s) => s.trainable);
  const opt = resolveServerOptimizer(cfg.serverOptimizer);
  let global = cloneWeights(init.initial);
  let serverState: ServerOptimizerState = { step: 0 };
  /** FedBN: each site's own weights (only its BN entries are used). */
  const local = new Map<string, Float32Array[]>();
  const sharedBytes = byteCount(global, shared);
  const siteModel = (site: string) => (fedbn && local.has(site) ? mergeShared(global, local.get(site) as Float32Array[], shared) : global);

  return {
    name: 'fedavg',
    parallel: true,
    async runRound(ctx: RoundContext): Promise<RoundOutcome> {
      const trainLoss: Record<string, number> = {};
      const up: Record<string, number> = {};
      const down: Record<string, number> = {};
      const acc = new WeightedAverager();
      const jobs = ctx.participants.map((s) => ({ site: s, start: siteModel(s.name), seed: ctx.seedFor(s.name), mu: cfg.mu }));
      const sizes = new Map(ctx.participants.map((s) => [s.name, s.train.length]));
      for (const s of ctx.participants) down[s.name] = sharedBytes;
      const failed = await ctx.runClients(jobs, (r) => {
        acc.add(r.weights, sizes.get(r.site) as number);
        if (fedbn) local.set(r.site, r.weights);
        trainLoss[r.site] = r.loss;
        up[r.site] = sharedBytes;
      });
      for (const f of failed) up[f.site] = 0;
      if (acc.size > 0) {
        const avg = acc.result();
        const next = serverUpdate(global, subtract(avg, global), serverState, opt, trainable);
        global = next.weights;
        serverState = next.state;
      }
      return { trainLoss, failed, up, down };
    },
    siteWeights: siteModel,
    globalWeights: () => global,
    keptSiteWeights: () => (fedbn ? Object.fromEntries(init.sites.map((s) => [s.name, siteModel(s.name)])) : {}),
    saveState(): CheckpointState {
      const arrays: Record<string, Float32Array[]> = { global };
      if (serverState.m) arrays['server:m'] = serverState.m;
      if (serverState.v) arrays['server:v'] = serverState.v;
      for (const [k, v] of local) arrays[`site:${k}`] = v;
      return { arrays, meta: { serverStep: serverState.step } };
    },
    loadState(state: CheckpointState) {
      global = cloneWeights(state.arrays.global);
      serverState = {
        step: Number(state.meta.serverStep ?? 0),
        m: state.arrays['server:m'] ? cloneWeights(state.arrays['server:m']) : undefined,
        v: state.arrays['server:v'] ? cloneWeights(state.arrays['server:v']) : undefined,
      };
      local.clear();
      for (const [k, v] of Object.entries(state.arrays)) if (k.startsWith('site:')) local.set(k.slice(5), cloneWeights(v));
    },
    dispose() {},
  };
}
