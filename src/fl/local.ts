/**
 * Local training: each site trains its own model on its own data only (the
 * lower baseline). Each site deploys its own model, scored on its own test
 * split; the global test set (if any) is scored with every site's model and
 * averaged. Memory: one weight list per site (what the semantics need), one
 * tfjs model reused for all. No communication (0 bytes).
 */
import type { CheckpointState } from './results';
import type { RoundContext, RoundOutcome, Strategy, StrategyInit } from './strategy';
import { cloneWeights } from '../models/weights';

/** Build the local-only strategy. */
export function localStrategy(init: StrategyInit): Strategy {
  const kept = new Map<string, Float32Array[]>();
  const weightsOf = (site: string) => kept.get(site) ?? init.initial;
  return {
    name: 'local',
    parallel: true,
    async runRound(ctx: RoundContext): Promise<RoundOutcome> {
      const trainLoss: Record<string, number> = {};
      const up: Record<string, number> = {};
      const down: Record<string, number> = {};
      const jobs = ctx.participants.map((s) => ({ site: s, start: weightsOf(s.name), seed: ctx.seedFor(s.name) }));
      const failed = await ctx.runClients(jobs, (r) => {
        kept.set(r.site, r.weights);
        trainLoss[r.site] = r.loss;
      });
      for (const s of ctx.participants) {
        up[s.name] = 0;
        down[s.name] = 0;
      }
      return { trainLoss, failed, up, down };
    },
    siteWeights: weightsOf,
    globalWeights: () => null,
    keptSiteWeights: () => Object.fromEntries(init.sites.map((s) => [s.name, weightsOf(s.name)])),
    saveState(): CheckpointState {
      const arrays: Record<string, Float32Array[]> = {};
      for (const [k, v] of kept) arrays[`site:${k}`] = v;
      return { arrays, meta: {} };
    },
    loadState(state: CheckpointState) {
      kept.clear();
      for (const [k, v] of Object.entries(state.arrays)) if (k.startsWith('site:')) kept.set(k.slice(5), cloneWeights(v));
    },
    dispose() {},
  };
}
