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
import { createAdam } from '../backend';
import { loadSamples, toBatch, chunk } from '../data/batch';
import { bceDiceLoss } from '../metrics/losses';
import { getModelSpec } from '../models/registry';
import { defaultCut, splitModel, splitStep, type SplitMessage, type SplitNetwork } from '../models/split';
import { createRng } from '../util/rng';
import { WeightedAverager, mergeShared } from './aggregate';
import type { CheckpointState } from './results';
import type { RoundContext, RoundOutcome, Strategy, StrategyInit } from './strategy';
import type { SplitFedStrategy } from './types';
import type { Site } from '../data/site';
import { byteCount, cloneWeights, getWeights, setWeights } from './weights';

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
  clientOptimizer: tf.Optimizer;
  serverOptimizer: tf.Optimizer;
  /** Names of the variables the server part owns. */
  serverVariables: ReadonlySet<string>;
  onMessage?: (m: SplitMessage) => void;
}

/**
 * Train one client through the split network for `epochs` epochs: batches
 * in exactly `trainSegmentation`'s order for the same seed, one
 * {@link splitStep} per batch (BCE + soft Dice loss, the trainer's
 * default), client gradients applied by `clientOptimizer`, server ones by
 * `serverOptimizer`. Returns the mean loss of the last epoch and the bytes
 * sent up / down.
 */
export async function trainSplitClient(net: SplitNetwork, data: Site['train'], o: SplitClientOptions): Promise<{ loss: number; up: number; down: number }> {
  const loss = bceDiceLoss();
  const rng = createRng(o.seed);
  const base = Array.from({ length: data.length }, (_, i) => i);
  if (base.length === 0) throw new Error(`splitfed: '${data.name}' has no samples to train on`);
  let up = 0;
  let down = 0;
  let last = NaN;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    const order = rng.fork(`epoch${epoch}`).shuffle([...base]);
    let total = 0;
    let count = 0;
    for (const idx of chunk(order, o.batchSize)) {
      const samples = await loadSamples(data, idx);
      const { x, y } = toBatch(samples, o.encoding, o.numClasses);
      try {
        const res = splitStep(net, x, y, loss);
        const cg: tf.NamedTensorMap = {};
        const sg: tf.NamedTensorMap = {};
        for (const [k, g] of Object.entries(res.grads)) (o.serverVariables.has(k) ? sg : cg)[k] = g;
        try {
          if (Object.keys(cg).length) o.clientOptimizer.applyGradients(cg);
          if (Object.keys(sg).length) o.serverOptimizer.applyGradients(sg);
        } finally {
          tf.dispose(Object.values(res.grads));
        }
        for (const m of res.messages) {
          if (m.direction === 'up') up += m.bytes;
          else down += m.bytes;
          o.onMessage?.(m);
        }
        total += res.loss * idx.length;
        count += idx.length;
      } finally {
        x.dispose();
        y.dispose();
      }
    }
    last = total / Math.max(1, count);
  }
  return { loss: last, up, down };
}

/** Build the SplitFed strategy (v1 / v2, two-part / u-shaped). */
export function splitFedStrategy(init: StrategyInit, onMessage?: (m: LoggedSplitMessage) => void): Strategy {
  const cfg = init.config.strategy as SplitFedStrategy;
  const variant = cfg.variant ?? 'v1';
  const mode = cfg.mode ?? 'u-shaped';
  if (variant !== 'v1' && variant !== 'v2') throw new Error(`splitfed: variant must be 'v1' or 'v2', got '${variant}'`);
  if (mode !== 'two-part' && mode !== 'u-shaped') throw new Error(`splitfed: mode must be 'two-part' or 'u-shaped', got '${mode}'`);
  const { model } = init;
  const cut = cfg.cut ?? defaultCut(getModelSpec(init.config.model.name), mode);
  const net = splitModel(model, { mode, cut });
  const serverPart = net.parts.find((p) => p.role === 'server');
  const serverNames = new Set((serverPart?.model.weights ?? []).map((w) => w.name));
  const serverVariables = new Set(serverPart?.model.trainableWeights.map((w) => w.name) ?? []);
  /** true = client-side weight (front or back). */
  const clientMask = init.specs.map((s) => !serverNames.has(s.name));
  const clientBytes = byteCount(init.initial, clientMask);
  let global = cloneWeights(init.initial);

  return {
    name: 'splitfed',
    parallel: false,
    async runRound(ctx: RoundContext): Promise<RoundOutcome> {
      const trainLoss: Record<string, number> = {};
      const up: Record<string, number> = {};
      const down: Record<string, number> = {};
      const failed: { site: string; message: string }[] = [];
      const acc = new WeightedAverager();
      let order = ctx.participants;
      let server = global; // v2: the one sequential server part (its entries)
      const serverOpt = variant === 'v2' ? createAdam(ctx.settings.learningRate) : null;
      if (variant === 'v2') order = createRng(ctx.seedFor('order')).shuffle([...order]);
      try {
        for (const site of order) {
          const start = variant === 'v2' ? mergeShared(global, server, clientMask) : global;
          setWeights(model, start);
          const clientOpt = createAdam(ctx.settings.learningRate);
          const ownServerOpt = serverOpt ?? createAdam(ctx.settings.learningRate);
          down[site.name] = clientBytes;
          up[site.name] = 0;
          try {
            const r = await trainSplitClient(net, site.train, {
              ...ctx.settings,
              seed: ctx.seedFor(site.name),
              clientOptimizer: clientOpt,
              serverOptimizer: ownServerOpt,
              serverVariables,
              onMessage: onMessage ? (m) => onMessage({ ...m, round: ctx.round, site: site.name }) : undefined,
            });
            const w = getWeights(model);
            acc.add(w, site.train.length);
            if (variant === 'v2') server = w;
            trainLoss[site.name] = r.loss;
            up[site.name] = r.up + clientBytes;
            down[site.name] += r.down;
          } catch (e) {
            failed.push({ site: site.name, message: (e as Error).message });
          } finally {
            clientOpt.dispose();
            if (!serverOpt) ownServerOpt.dispose();
          }
        }
      } finally {
        serverOpt?.dispose();
      }
      if (acc.size > 0) {
        const avg = acc.result();
        global = variant === 'v1' ? avg : mergeShared(avg, server, clientMask);
      }
      return { trainLoss, failed, up, down };
    },
    siteWeights: () => global,
    globalWeights: () => global,
    keptSiteWeights: () => ({}),
    saveState: (): CheckpointState => ({ arrays: { global }, meta: { variant, mode, cut } }),
    loadState(state: CheckpointState) {
      global = cloneWeights(state.arrays.global);
    },
    dispose() {
      // The parts hold references to the model's layers: dispose them so the
      // model's own dispose() can free the weights.
      for (const p of net.parts) p.model.dispose();
    },
  };
}
