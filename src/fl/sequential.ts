/**
 * Institutional incremental learning (IIL) and cyclic IIL (CIIL): one model
 * travels from site to site in a fixed order, each site training it for
 * `localEpochs` epochs (Sheller et al. 2018, arXiv:1810.04304; the
 * multi-site CT comparison of arXiv:2303.13567). IIL is one pass
 * (`rounds` = 1); CIIL repeats the pass `rounds` times, one round per pass.
 * The round loop chains the instructions ('sequential' execution): each
 * site starts from the previous site's result.
 *
 * Departures: every site starts a fresh Adam (the papers keep training the
 * same network; optimizer state is not transferred); no validation-based
 * early stopping or model selection per site. A site that fails or is absent
 * is skipped and the model goes on to the next one.
 *
 * Bytes: each visited site receives the model (down) and sends it on (up).
 */
import type { StrategyDefinition } from './registry';
import type { Strategy, StrategyInit } from './strategy';
import { byteCount } from '../models/weights';

/** Build the IIL ('iil') or CIIL ('ciil') strategy. */
export function sequentialStrategy(init: StrategyInit, name: 'iil' | 'ciil'): Strategy {
  const bytes = byteCount(init.initial);
  return {
    name,
    execution: 'sequential',
    configureTrain: (ctx, global, sites) => sites.map((s) => ({ site: s, weights: global, seed: ctx.seedFor(s.name), config: {} })),
    aggregateTrain(_ctx, global, results, failures) {
      const up: Record<string, number> = {};
      const down: Record<string, number> = {};
      for (const r of results) {
        up[r.site] = bytes;
        down[r.site] = bytes;
      }
      for (const f of failures) {
        up[f.site] = 0;
        down[f.site] = bytes;
      }
      return { weights: results.length ? results[results.length - 1].weights : global, up, down };
    },
  };
}

/** Registry entry of 'iil' (one pass: rounds must be 1). */
export const iilDefinition: StrategyDefinition = {
  name: 'iil',
  summary: 'institutional incremental learning (arXiv:1810.04304): one pass through the sites',
  options: {},
  defaultRounds: 1,
  check: (_o, run) => (run.rounds !== undefined && run.rounds !== 1 ? [`strategy 'iil' is a single pass (rounds must be 1, got ${run.rounds}); use 'ciil' for several passes`] : []),
  create: (_o, init) => sequentialStrategy(init, 'iil'),
};

/** Registry entry of 'ciil'. */
export const ciilDefinition: StrategyDefinition = {
  name: 'ciil',
  summary: 'cyclic institutional incremental learning: `rounds` passes through the sites',
  options: {},
  create: (_o, init) => sequentialStrategy(init, 'ciil'),
};
