/**
 * SplitFed learning (Thapa et al. 2022, arXiv:2004.12088), as used for
 * segmentation by MedSegNet10 (arXiv:2503.20830). The network is cut with
 * `splitModel` (../models/split) at the architecture's declared split points
 * ('two-part': client front + server; 'u-shaped': client front + server body
 * + client back, so labels and predictions never leave the client). Every
 * batch is one `splitStep`: explicit activation / gradient messages whose
 * bytes are counted, gradients equal to the unsplit network's; each side
 * applies its gradients with its own Adam optimizer.
 *
 * - 'v1' (SFLV1): during a round every client has its own copy of the server
 *   part; after the round the fed server FedAvg-s the client parts and the
 *   main server FedAvg-s the server copies (both weighted by n_k).
 * - 'v2' (SFLV2): ONE server part, trained by the clients in turn (order
 *   shuffled each round, seeded by (seed, round)) with one server optimizer
 *   for the round; only the client parts are FedAvg-ed.
 *
 * Implementation: ONE tfjs model and one split of it (the parts share its
 * layers). Parallel v1 semantics are obtained by running the clients one
 * after the other, each starting from the round's global client + server
 * weights (copied in with setWeights); updates are accumulated in a running
 * weighted sum, so memory does not grow with the number of clients.
 *
 * Departures from the paper: (1) SFLV1's Algorithm 1 averages the server-side
 * gradients at every step; here each client's server copy trains for the
 * whole round and the copies are averaged at its end (the reference code's
 * behaviour, and what "one copy per client" means). (2) Clients and server
 * use Adam, fresh every round (per client for v1; the v2 server keeps its
 * Adam across the clients of a round). (3) Clients run sequentially, not
 * concurrently (no effect on v1's maths). (4) Evaluation runs the unsplit
 * model, which computes exactly what the composed parts compute.
 *
 * Bytes per client and round: every split message (activations, gradients,
 * skip connections crossing the cut, labels in two-part mode), plus the
 * client-side weights received from and sent to the fed server for FedAvg
 * (4 bytes/float). v1's server copies never leave the server (0 bytes).
 */
import * as tf from '@tensorflow/tfjs';
import { createAdam, disposeAdamSnapshot, restoreAdam, snapshotAdam } from '../backend';
import { toBatch } from '../data/batch';
import { segmentationLoss, type SegmentationLossName } from '../metrics/losses';
import { getModelSpec } from '../models/registry';
import { defaultCut, splitModel, type SplitMessage, type SplitNetwork } from '../models/split';
import { byteCount, getWeights, setWeights } from '../models/weights';
import { setOptimizerLearningRate, trainBatches, splitLearningStep, type BatchLog } from '../train';
import { createRng } from '../util/rng';
import { mergeShared } from './aggregate';
import { weightedMean } from './fedavg';
import type { StrategyDefinition } from './registry';
import { localLearningRate, roundTrainSettings, type ClientFailure, type Strategy, type StrategyInit, type TrainResult } from './strategy';
import type { SplitFedConfig } from './types';
import type { Site } from '../data/site';

/** A split message seen by {@link SplitTrainHooks.onMessage}, with where it happened. */
export interface LoggedSplitMessage extends SplitMessage {
  round: number;
  site: string;
}

/** Options of {@link trainSplitClient}. */
export interface SplitClientOptions {
  epochs: number;
  batchSize: number;
  encoding: 'binary' | 'onehot';
  numClasses: number;
  /** Batch-order seed; the order is the one `trainSegmentation` uses for this seed. */
  seed: number;
  /** Default 'bce-dice'. */
  loss?: SegmentationLossName;
  clientOptimizer: tf.Optimizer;
  serverOptimizer: tf.Optimizer;
  /** Names of the variables the server part owns. */
  serverVariables: ReadonlySet<string>;
  onMessage?: (m: SplitMessage) => void;
  /** Learning rate of local epoch `e`, set on both optimizers at the start of every epoch. Default: none (their rates are left alone). */
  learningRateAt?: (epoch: number) => number;
  /** Per-batch progress (the shared loop's `onBatch`). */
  onBatch?: (log: BatchLog) => void;
}

/**
 * Train one client through the split network for `epochs` epochs: batches
 * in exactly `trainSegmentation`'s order for the same seed (the shared
 * loop of src/train), one `splitStep` per batch (BCE + soft Dice loss, the trainer's
 * default), client gradients applied by `clientOptimizer`, server ones by
 * `serverOptimizer`. Returns the mean loss of the last epoch and the bytes
 * sent up / down.
 */
export async function trainSplitClient(net: SplitNetwork, data: Site['train'], o: SplitClientOptions): Promise<{ loss: number; up: number; down: number }> {
  let up = 0;
  let down = 0;
  const logs = await trainBatches(data, {
    owner: 'splitfed',
    epochs: o.epochs,
    batchSize: o.batchSize,
    seed: o.seed,
    makeBatch: (samples) => toBatch(samples, o.encoding, o.numClasses),
    onBatch: o.onBatch,
    beforeEpoch: o.learningRateAt
      ? (e) => {
          const lr = (o.learningRateAt as (epoch: number) => number)(e);
          setOptimizerLearningRate(o.clientOptimizer, lr);
          setOptimizerLearningRate(o.serverOptimizer, lr);
        }
      : undefined,
    step: splitLearningStep(net, {
      loss: segmentationLoss(o.loss, o.encoding === 'binary' ? 1 : o.numClasses),
      clientOptimizer: o.clientOptimizer,
      serverOptimizer: o.serverOptimizer,
      serverVariables: o.serverVariables,
      onMessage: (m) => {
        if (m.direction === 'up') up += m.bytes;
        else down += m.bytes;
        o.onMessage?.(m);
      },
    }),
  });
  return { loss: logs.length ? logs[logs.length - 1].loss : NaN, up, down };
}

/** Build the SplitFed strategy (v1 / v2, two-part / u-shaped). */
export function splitFedStrategy(init: StrategyInit, options: Omit<SplitFedConfig, 'name'> = {}, onMessage?: (m: LoggedSplitMessage) => void): Strategy {
  const variant = options.variant ?? 'v1';
  const mode = options.mode ?? 'u-shaped';
  if (variant !== 'v1' && variant !== 'v2') throw new Error(`splitfed: variant must be 'v1' or 'v2', got '${variant}'`);
  if (mode !== 'two-part' && mode !== 'u-shaped') throw new Error(`splitfed: mode must be 'two-part' or 'u-shaped', got '${mode}'`);
  const { model } = init;
  const cut = options.cut ?? defaultCut(getModelSpec(init.config.model.name), mode);
  const net = splitModel(model, { mode, cut });
  const serverPart = net.parts.find((p) => p.role === 'server');
  const serverNames = new Set((serverPart?.model.weights ?? []).map((w) => w.name));
  const serverVariables = new Set(serverPart?.model.trainableWeights.map((w) => w.name) ?? []);
  /** true = client-side weight (front or back). */
  const clientMask = init.specs.map((s) => !serverNames.has(s.name));
  const clientBytes = byteCount(init.initial, clientMask);
  /** v2: the one sequential server part after the round's clients (its entries). */
  let server: Float32Array[] | null = null;

  return {
    name: 'splitfed',
    execution: 'sequential',
    configureTrain(ctx, global, sites) {
      const order = variant === 'v2' ? createRng(ctx.seedFor('order')).shuffle([...sites]) : [...sites];
      return order.map((site) => ({ site, weights: global, seed: ctx.seedFor(site.name), config: {} }));
    },
    async trainClients(ctx, instructions) {
      const results: TrainResult[] = [];
      const failures: ClientFailure[] = [];
      const local = roundTrainSettings(ctx.config, ctx.round);
      const settings = { epochs: local.epochs, batchSize: local.batchSize, encoding: local.encoding, numClasses: local.numClasses, loss: local.loss, learningRateAt: localLearningRate(local) };
      const lr = ctx.config.learningRate;
      server = null;
      /** v2: the one server optimizer of the round; rolled back (with the server part) when a client fails mid-way. */
      let serverOpt = variant === 'v2' ? createAdam(lr) : null;
      try {
        for (const job of instructions) {
          const start = variant === 'v2' && server ? mergeShared(job.weights, server, clientMask) : job.weights;
          setWeights(model, start);
          const clientOpt = createAdam(lr);
          const ownServerOpt = serverOpt ?? createAdam(lr);
          const before = serverOpt ? await snapshotAdam(serverOpt) : null;
          try {
            const r = await trainSplitClient(net, job.site.train, {
              ...settings,
              seed: job.seed,
              clientOptimizer: clientOpt,
              serverOptimizer: ownServerOpt,
              serverVariables,
              onMessage: onMessage ? (m) => onMessage({ ...m, round: ctx.round, site: job.site.name }) : undefined,
              onBatch: ctx.onBatch ? (l) => ctx.onBatch?.(job.site.name, l) : undefined,
            });
            const w = getWeights(model);
            if (variant === 'v2') server = w;
            results.push({ site: job.site.name, weights: w, start, numExamples: job.site.train.length, loss: r.loss, metrics: { bytesUp: r.up, bytesDown: r.down } });
          } catch (e) {
            failures.push({ site: job.site.name, message: (e as Error).message });
            // v2: the failed client's batches moved the shared server part and its Adam state.
            // The next client starts from `server` (the last good server weights); the optimizer goes back too.
            if (serverOpt && before) {
              serverOpt = await restoreAdam(before, serverOpt); // the old one is disposed below
            }
          } finally {
            if (before) disposeAdamSnapshot(before);
            clientOpt.dispose();
            if (ownServerOpt !== serverOpt) ownServerOpt.dispose();
          }
        }
      } finally {
        serverOpt?.dispose();
      }
      return { results, failures };
    },
    aggregateTrain(ctx, global, results, failures) {
      const up: Record<string, number> = {};
      const down: Record<string, number> = {};
      for (const r of results) {
        up[r.site] = (r.metrics.bytesUp ?? 0) + clientBytes;
        down[r.site] = clientBytes + (r.metrics.bytesDown ?? 0);
      }
      for (const f of failures) {
        up[f.site] = 0;
        down[f.site] = clientBytes;
      }
      if (results.length === 0) return { weights: global, up, down };
      const avg = weightedMean(results, ctx);
      return { weights: variant === 'v1' || !server ? avg : mergeShared(avg, server, clientMask), up, down };
    },
    dispose() {
      // The parts hold references to the model's layers: dispose them so the
      // model's own dispose() can free the weights.
      for (const p of net.parts) p.model.dispose();
    },
  };
}

/** Registry entry of 'splitfed'. */
export const splitFedDefinition: StrategyDefinition = {
  name: 'splitfed',
  summary: 'SplitFed (arXiv:2004.12088) v1 / v2, two-part or u-shaped split (MedSegNet10)',
  options: {
    variant: { kind: 'string', enum: ['v1', 'v2'], doc: "default 'v1'" },
    mode: { kind: 'string', enum: ['two-part', 'u-shaped'], doc: "default 'u-shaped'" },
    cut: { kind: 'string|array', doc: "cut layer(s); default the architecture's split points" },
  },
  label: (o) => `splitfed-${(o.variant as string | undefined) ?? 'v1'}-${(o.mode as string | undefined) ?? 'u-shaped'}`,
  create: (o, init) => splitFedStrategy(init, o as Omit<SplitFedConfig, 'name'>, init.onSplitMessage),
};
