/**
 * Local training: each site trains its own model on its own data only (the
 * lower baseline). Each site deploys its own model, scored on its own test
 * split; the global test set (if any) is scored with every site's model and
 * averaged. Memory: one weight list per site (what the semantics need), one
 * tfjs model reused for all. No communication (0 bytes).
 */
import type { CheckpointState } from './results';
import type { StrategyDefinition } from './registry';
import type { Strategy, StrategyInit } from './strategy';
import { cloneWeights } from '../models/weights';

/** Build the local-only strategy. */
export function localStrategy(init: StrategyInit): Strategy {
  const kept = new Map<string, Float32Array[]>();
  const weightsOf = (site: string) => kept.get(site) ?? init.initial;
  return {
    name: 'local',
    execution: 'parallel',
    configureTrain: (ctx, _global, sites) => sites.map((s) => ({ site: s, weights: weightsOf(s.name), seed: ctx.seedFor(s.name), config: {} })),
    aggregateTrain(_ctx, global, results, failures) {
      const zero: Record<string, number> = {};
      for (const r of results) {
        kept.set(r.site, r.weights);
        zero[r.site] = 0;
      }
      for (const f of failures) zero[f.site] = 0;
      return { weights: global, up: { ...zero }, down: { ...zero } };
    },
    configureEvaluate: () => ({ site: weightsOf, global: null }),
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
  };
}

/** Registry entry of 'local'. */
export const localDefinition: StrategyDefinition = {
  name: 'local',
  summary: 'each site trains alone on its own data (lower baseline)',
  options: {},
  create: (_o, init) => localStrategy(init),
};
