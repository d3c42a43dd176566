/** Shared fixtures of the fl tests: tiny synthetic sites and configs. */
import { syntheticSites } from '../../src/data/synthetic';
import type { Dataset, Sample } from '../../src/data/types';
import { buildSites } from '../../src/data/site';
import type { FederatedConfig, StrategyConfig } from '../../src/fl/types';
import type { Site } from '../../src/data/site';
import type { Strategy } from '../../src/fl/strategy';
import { createModel } from '../../src/models/registry';
import { getWeights, setWeights } from '../../src/models/weights';
import { evaluateLoss } from '../../src/train';

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

/** 2 sites x 10 images: 2 test, 2 validation, 6 train each. */
export function validationSites(): Site[] {
  return buildSites(syntheticSites({ sites: 2, samplesPerSite: 10, size: 16, seed: 1 }), { seed: 1, groupKey: false, testFraction: 0.2, validationFraction: 0.2 });
}

export const scale = (w: readonly Float32Array[], f: number) => w.map((a) => a.map((x) => x * f));

/**
 * The scripted strategy: round r's global weights are `candidates[order[r]]`;
 * the second site deploys the global weights scaled by 0.9 (and keeps them
 * as its site weights), the others the global weights.
 */
export function scripted(candidates: Float32Array[][], order: number[], second: string): Strategy {
  return {
    name: 'scripted',
    execution: 'parallel',
    configureTrain: () => [],
    aggregateTrain: (ctx) => ({ weights: candidates[order[ctx.round]], up: {}, down: {} }),
    configureEvaluate: (_ctx, global) => ({ site: (name) => (name === second ? scale(global, 0.9) : global), global }),
    keptSiteWeights: (global) => ({ [second]: scale(global, 0.9) }),
  };
}

/** Candidates (the initial weights, output bias shifted) and their mean validation losses, computed here by hand. */
export async function candidatesOf(sites: readonly Site[]): Promise<{ candidates: Float32Array[][]; losses: number[]; perSite: number[][] }> {
  const cfg = tinyConfig({ name: 'fedavg' });
  const model = createModel('unet', { inputShape: cfg.model.inputShape, numClasses: 1, width: cfg.model.width, seed: cfg.seed });
  const init = getWeights(model);
  // The output layer's bias shifted: clearly different losses.
  const head = model.weights.findIndex((w) => /^head\/bias(_\d+)?$/.test(w.name)); // tfjs suffixes names of later models
  if (head < 0) throw new Error('candidatesOf: no head/bias weight');
  const candidates = [0, -1, 1.5, -2.5].map((b) => init.map((w, i) => (i === head ? w.map((x) => x + b) : w)));
  const perSite: number[][] = [];
  for (const c of candidates) {
    const row: number[] = [];
    for (const [k, s] of sites.entries()) {
      setWeights(model, k === 1 ? scale(c, 0.9) : c);
      row.push((await evaluateLoss(model, s.validation!)).loss);
    }
    perSite.push(row);
  }
  model.dispose();
  return { candidates, perSite, losses: perSite.map((r) => r.reduce((a, b) => a + b, 0) / r.length) };
}

/** Round order putting the best candidate at round 1 of 4 (then the others, best first). */
export function bestAtRoundOne(losses: readonly number[]): number[] {
  const byLoss = losses.map((_, i) => i).sort((a, b) => losses[a] - losses[b]);
  return [byLoss[1], byLoss[0], byLoss[2], byLoss[3]];
}
