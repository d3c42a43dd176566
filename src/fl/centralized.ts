/**
 * Centralized training: every site's training split pooled on one model
 * (the upper baseline of collaborative learning; e.g. arXiv:2303.13567's
 * "centralized data sharing" reference). Each round trains `localEpochs`
 * epochs over the pooled data (fresh Adam per round, see ./strategy).
 *
 * Bytes: sharing the data is counted once, in round 0, as each site's
 * training images (float32, 4 bytes/element) plus masks (uint8, 1 byte/pixel)
 * sent up; nothing afterwards. Sites dropped in a round are left out of that
 * round's pool.
 */
import { ConcatDataset } from '../data/lazy';
import type { CheckpointState } from './results';
import { trainSegmentation } from '../train';
import type { RoundContext, RoundOutcome, Strategy, StrategyInit } from './strategy';
import { cloneWeights, getWeights, setWeights } from '../models/weights';

/** Bytes of a site's training data on the wire (image float32 + mask uint8), from `inputShape`. */
export function datasetBytes(length: number, inputShape: readonly [number, number, number]): number {
  const [h, w, c] = inputShape;
  return length * (h * w * c * 4 + h * w);
}

/** Build the centralized strategy. */
export function centralizedStrategy(init: StrategyInit): Strategy {
  let global = cloneWeights(init.initial);
  const { model, config } = init;
  return {
    name: 'centralized',
    parallel: false,
    async runRound(ctx: RoundContext): Promise<RoundOutcome> {
      const up: Record<string, number> = {};
      const down: Record<string, number> = {};
      for (const s of ctx.participants) {
        up[s.name] = ctx.round === 0 ? datasetBytes(s.train.length, config.model.inputShape) : 0;
        down[s.name] = 0;
      }
      if (ctx.participants.length === 0) return { trainLoss: {}, failed: [], up, down };
      const pooled = new ConcatDataset(ctx.participants.map((s) => s.train), 'pooled');
      setWeights(model, global);
      try {
        const logs = await trainSegmentation(model, pooled, {
          epochs: ctx.settings.epochs,
          batchSize: ctx.settings.batchSize,
          learningRate: ctx.settings.learningRate,
          encoding: ctx.settings.encoding,
          numClasses: ctx.settings.numClasses,
          seed: ctx.seedFor('pooled'),
        });
        global = getWeights(model);
        return { trainLoss: { pooled: logs[logs.length - 1]?.loss ?? NaN }, failed: [], up, down };
      } catch (e) {
        // The pool failed (a site's data threw): keep the last good weights.
        return { trainLoss: {}, failed: ctx.participants.map((s) => ({ site: s.name, message: `pooled training failed: ${(e as Error).message}` })), up, down };
      }
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
