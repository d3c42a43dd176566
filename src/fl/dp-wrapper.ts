/**
 * Differential privacy with fixed clipping as a wrapper around any strategy
 * whose clients send weight updates (FedAvg and its family), as Flower's
 * DifferentialPrivacyServerSideFixedClipping and
 * DifferentialPrivacyClientSideFixedClipping wrap a strategy (DP-FedAvg,
 * McMahan et al. 2018, arXiv:1710.06963):
 *
 * - clipping 'server': the server clips each reply's update
 *   u_k = w_k - w_start (trainable weights) to L2 norm C;
 * - clipping 'client': the server asks each client (ClientConfig.clipNorm)
 *   to clip its update before sending (Flower's fixed-clipping mod);
 * - noise 'central' (Flower's): after the inner strategy aggregates, the
 *   server adds N(0, (sigma C / m)^2) to every trainable entry of the new
 *   global weights, m = the clients configured this round;
 * - noise 'local': each client adds N(0, (sigma C)^2) to its clipped update
 *   (local DP of every update; needs clipping 'client'), nothing at the server.
 *
 * Weighting: with central noise the clipped updates are averaged with equal
 * weights by default (the sensitivity C / m the noise is calibrated to
 * assumes it; Flower leaves weighting to the inner strategy), with local
 * noise by sample counts (post-processing). Accounting (epsilon) is
 * `computeEpsilon` in ./privacy/dp. Departure from Flower: the BatchNorm
 * moving statistics (non-trainable) are neither clipped nor noised (noise
 * could make a variance negative), so they are an unprotected channel the
 * epsilon does not cover.
 */
import { addGaussianNoise, noiseSeed, privatizeUpdate } from './privacy/dp';
import { add, subtract } from './aggregate';
import type { Shape } from '../util/schema';
import type { Strategy, StrategyInit, TrainResult } from './strategy';
import type { DpConfig } from './types';

/** Schema of the `dp` block of a strategy config. */
export const DP_SHAPE: Shape = {
  clipping: { kind: 'string', enum: ['server', 'client'], doc: "where updates are clipped (default 'server')" },
  clipNorm: { kind: 'number', required: true, min: 0, exclusiveMin: true, doc: 'clip norm C' },
  noiseMultiplier: { kind: 'number', min: 0, doc: 'sigma (default 0: clipping only)' },
  noise: { kind: 'string', enum: ['central', 'local'], doc: "'central' (server, default) or 'local' (each client)" },
  weighting: { kind: 'string', enum: ['uniform', 'samples'], doc: 'averaging weights of the clipped updates' },
};


/** Wrap `inner` with differential privacy (see the module doc). */
export function withDifferentialPrivacy(inner: Strategy, dp: DpConfig, init: StrategyInit): Strategy {
  if (inner.execution !== 'parallel' || inner.trainClients) throw new Error(`dp: strategy '${inner.name}' does not send weight updates through the default client`);
  const C = dp.clipNorm;
  if (!(C > 0)) throw new Error(`dp.clipNorm must be > 0, got ${C}`);
  const sigma = dp.noiseMultiplier ?? 0;
  const clipping = dp.clipping ?? 'server';
  const noise = dp.noise ?? 'central';
  if (noise === 'local' && clipping !== 'client') throw new Error("dp: noise 'local' needs clipping 'client'");
  const uniform = (dp.weighting ?? (noise === 'central' ? 'uniform' : 'samples')) === 'uniform';
  const mask = init.specs.map((s) => s.trainable);
  let configured = 0;
  return {
    name: inner.name,
    execution: 'parallel',
    selectClients: inner.selectClients?.bind(inner),
    configureEvaluate: inner.configureEvaluate?.bind(inner),
    aggregateEvaluate: inner.aggregateEvaluate?.bind(inner),
    keptSiteWeights: inner.keptSiteWeights?.bind(inner),
    saveState: inner.saveState?.bind(inner),
    loadState: inner.loadState?.bind(inner),
    dispose: inner.dispose?.bind(inner),
    configureTrain(ctx, global, sites) {
      const ins = inner.configureTrain(ctx, global, sites);
      configured = ins.length;
      if (clipping === 'server') return ins;
      return ins.map((i) => ({ ...i, config: { ...i.config, clipNorm: C, ...(noise === 'local' && sigma > 0 ? { noiseStd: sigma * C } : {}) } }));
    },
    aggregateTrain(ctx, global, results, failures) {
      const replies: TrainResult[] = results.map((r) => {
        let weights = r.weights;
        const metrics = { ...r.metrics };
        if (clipping === 'server') {
          const p = privatizeUpdate(subtract(r.weights, r.start), { clipNorm: C, noiseMultiplier: 0, seed: 0, mask });
          weights = add(r.start, p.update);
          metrics.updateNorm = p.norm;
          metrics.clipped = p.scale < 1 ? 1 : 0;
        }
        return { ...r, weights, metrics, numExamples: uniform ? 1 : r.numExamples };
      });
      const agg = inner.aggregateTrain(ctx, global, replies, failures);
      if (clipping === 'server') agg.clientMetrics = { ...agg.clientMetrics, ...Object.fromEntries(replies.map((r) => [r.site, r.metrics])) };
      if (noise === 'central' && sigma > 0 && replies.length > 0) {
        const m = Math.max(1, configured);
        const step = addGaussianNoise(subtract(agg.weights, global), { std: (sigma * C) / m, seed: noiseSeed(ctx.config.seed, ctx.round, 'server'), mask });
        return { ...agg, weights: add(global, step) };
      }
      return agg;
    },
  };
}
