/**
 * Centralized training: every site's training split pooled on one model
 * (the upper baseline of collaborative learning; e.g. arXiv:2303.13567's
 * "centralized data sharing" reference). Each round trains `localEpochs`
 * epochs over the pooled data (fresh Adam per round, see ./strategy): one
 * train instruction for a virtual site 'pooled'.
 *
 * Bytes: sharing the data is counted once, in round 0, as each site's
 * training images (float32, 4 bytes/element) plus masks (uint8, 1 byte/pixel)
 * sent up; nothing afterwards. Sites dropped in a round are left out of that
 * round's pool; when the pool fails (a site's data threw) every site in it
 * is reported failed and the weights stay as they were.
 */
import { ConcatDataset } from '../data/lazy';
import type { StrategyDefinition } from './registry';
import type { Strategy, StrategyInit } from './strategy';

/** Bytes of a site's training data on the wire (image float32 + mask uint8), from `inputShape`. */
export function datasetBytes(length: number, inputShape: readonly [number, number, number]): number {
  const [h, w, c] = inputShape;
  return length * (h * w * c * 4 + h * w);
}

/** Build the centralized strategy. */
export function centralizedStrategy(init: StrategyInit): Strategy {
  const { config } = init;
  let members: string[] = [];
  return {
    name: 'centralized',
    execution: 'sequential',
    configureTrain(ctx, global, sites) {
      members = sites.map((s) => s.name);
      if (sites.length === 0) return [];
      const pooled = new ConcatDataset(sites.map((s) => s.train), 'pooled');
      return [{ site: { name: 'pooled', train: pooled, test: pooled }, weights: global, seed: ctx.seedFor('pooled'), config: {} }];
    },
    aggregateTrain(ctx, global, results, failed) {
      const up: Record<string, number> = {};
      const down: Record<string, number> = {};
      const sizes = new Map(init.sites.map((s) => [s.name, s.train.length]));
      for (const name of members) {
        up[name] = ctx.round === 0 ? datasetBytes(sizes.get(name) ?? 0, config.model.inputShape) : 0;
        down[name] = 0;
      }
      // The pool failed (a site's data threw): every pooled site is reported, the weights stay.
      const failures = failed.length ? members.map((site) => ({ site, message: `pooled training failed: ${failed[0].message}` })) : [];
      return { weights: results.length ? results[0].weights : global, up, down, failures };
    },
  };
}

/** Registry entry of 'centralized'. */
export const centralizedDefinition: StrategyDefinition = {
  name: 'centralized',
  summary: "all sites' training data pooled on one model (upper baseline)",
  options: {},
  create: (_o, init) => centralizedStrategy(init),
};
