/**
 * Institutional incremental learning (IIL) and cyclic IIL (CIIL): one model
 * travels from site to site in a fixed order, each site training it for
 * `localEpochs` epochs (Sheller et al. 2018, arXiv:1810.04304; the
 * multi-site CT comparison of arXiv:2303.13567). IIL is one pass
 * (`rounds` = 1); CIIL repeats the pass `rounds` times, one round per pass.
 *
 * Departures: every site starts a fresh Adam (the papers keep training the
 * same network; optimizer state is not transferred); no validation-based
 * early stopping or model selection per site. A site that fails or is absent
 * is skipped and the model goes on to the next one.
 *
 * Bytes: each visited site receives the model (down) and sends it on (up).
 */
import type { CheckpointState } from './results';
import type { RoundContext, RoundOutcome, Strategy, StrategyInit } from './strategy';
import type { StrategyName } from './types';
import { byteCount, cloneWeights } from '../models/weights';

/** Build the IIL ('iil') or CIIL ('ciil') strategy. */
export function sequentialStrategy(init: StrategyInit, name: Extract<StrategyName, 'iil' | 'ciil'>): Strategy {
  let global = cloneWeights(init.initial);
  const bytes = byteCount(global);
  return {
    name,
    parallel: false,
    async runRound(ctx: RoundContext): Promise<RoundOutcome> {
      const trainLoss: Record<string, number> = {};
      const up: Record<string, number> = {};
      const down: Record<string, number> = {};
      const failed: { site: string; message: string }[] = [];
      for (const s of ctx.participants) {
        down[s.name] = bytes;
        const f = await ctx.runClients([{ site: s, start: global, seed: ctx.seedFor(s.name) }], (r) => {
          global = r.weights;
          trainLoss[r.site] = r.loss;
        });
        up[s.name] = f.length ? 0 : bytes;
        failed.push(...f);
      }
      return { trainLoss, failed, up, down };
    },
    siteWeights: () => global,
    globalWeights: () => global,
    keptSiteWeights: () => ({}),
    saveState: (): CheckpointState => ({ arrays: { global }, meta: {} }),
    loadState(state: CheckpointState) {
      global = cloneWeights(state.arrays.global);
    },
    dispose() {},
  };
}
