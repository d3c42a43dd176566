/** Shared fixtures of the fl tests: tiny synthetic sites and configs. */
import { syntheticSites } from '../../src/data/synthetic';
import type { Dataset, Sample } from '../../src/data/types';
import { buildSites } from '../../src/data/site';
import type { FederatedConfig, StrategyConfig } from '../../src/fl/types';
import type { Site } from '../../src/data/site';
import type { Strategy } from '../../src/fl/strategy';

/** `n` sites x `perSite` images of `size`^2 (3 channels), 25% test per site. */
export function tinySites(n = 2, perSite = 8, size = 16, seed = 1): Site[] {
  return buildSites(syntheticSites({ sites: n, samplesPerSite: perSite, size, seed }), { seed, groupKey: false });
}

/** A tiny U-Net run config (width 2). */
export function tinyConfig(strategy: StrategyConfig | Strategy, extra: Partial<FederatedConfig> = {}, size = 16): FederatedConfig {
  return {
    strategy,
    model: { name: 'unet', inputShape: [size, size, 3], width: 2 },
    rounds: 1,
    localEpochs: 1,
    batchSize: 4,
    learningRate: 1e-3,
    seed: 5,
    ...extra,
  };
}

/** A dataset whose `load` throws (a site whose storage fails). */
export function brokenDataset(like: Dataset, message = 'disk on fire'): Dataset {
  return {
    name: `${like.name}-broken`,
    length: like.length,
    task: like.task,
    classNames: like.classNames,
    maskClasses: like.maskClasses,
    info: (i: number) => like.info(i),
    load: async (_i: number): Promise<Sample> => {
      throw new Error(message);
    },
  };
}
