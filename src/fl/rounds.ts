/**
 * The one round loop every strategy shares: site selection (client fraction,
 * seeded), scheduled / random site dropout, the strategy's round, failure
 * handling (a site that throws is skipped and logged, the round completes
 * with the others), evaluation on every site's held-out test split and an
 * optional global test set, the round record, the run folder and resume.
 *
 * Randomness: every random choice of round r is drawn from a stream seeded
 * by (seed, r, key) (see `roundSeed`), never from a stream consumed across
 * rounds, and every client starts a fresh optimizer each round; with the
 * strategy state checkpointed after every round, `resume` reproduces an
 * uninterrupted run exactly.
 */
import * as tf from '@tensorflow/tfjs';
import { createModel } from '../models/registry';
import { createRng } from '../util/rng';
import { centralizedStrategy } from './centralized';
import { fedAvgStrategy } from './fedavg';
import { localStrategy } from './local';
import { SiteTrainerPool } from './parallel';
import { RunWriter, type RunConfigFile } from './results';
import { sequentialStrategy } from './sequential';
import { splitFedStrategy, type LoggedSplitMessage } from './splitfed';
import { resolveConfig, roundSeed, trainClient, type ClientJob, type ClientResult, type ResolvedConfig, type Strategy, type StrategyInit } from './strategy';
import { evaluateSegmentation, type SegmentationSummary } from './train';
import type { Dataset } from '../data/types';
import type { DroppedSite, FederatedConfig, FederatedResult, PooledScores, RoundRecord, RunHooks, RunSummary } from './types';
import type { Site } from '../data/site';
import { getWeights, setWeights, weightSpecs } from './weights';

/** Hooks of {@link runFederated}, plus the split-message observer. */
export interface FederatedHooks extends RunHooks {
  /** SplitFed: every client/server message (u-shaped never sends labels). */
  onSplitMessage?: (m: LoggedSplitMessage) => void;
}

function buildStrategy(init: StrategyInit, hooks: FederatedHooks): Strategy {
  const name = init.config.strategy.name;
  switch (name) {
    case 'centralized':
      return centralizedStrategy(init);
    case 'local':
      return localStrategy(init);
    case 'fedavg':
      return fedAvgStrategy(init);
    case 'iil':
    case 'ciil':
      return sequentialStrategy(init, name);
    case 'splitfed':
      return splitFedStrategy(init, hooks.onSplitMessage);
  }
}

function checkSites(sites: readonly Site[]): void {
  if (sites.length === 0) throw new Error('runFederated: no sites');
  const seen = new Set<string>();
  for (const s of sites) {
    if (!s || typeof s.name !== 'string' || !s.name) throw new Error('runFederated: every site needs a non-empty name');
    if (seen.has(s.name)) throw new Error(`runFederated: duplicate site name '${s.name}'`);
    seen.add(s.name);
    if (!s.train || !s.test) throw new Error(`runFederated: site '${s.name}' needs train and test datasets`);
  }
}

/** Sites selected for round r (fedavg: a seeded fraction C, at least one; others: all), in site order. */
export function selectSites(config: ResolvedConfig, sites: readonly Site[], round: number): Site[] {
  const s = config.strategy;
  const frac = s.name === 'fedavg' ? s.clientFraction ?? 1 : 1;
  if (frac >= 1) return [...sites];
  const m = Math.max(1, Math.round(frac * sites.length));
  const chosen = new Set(createRng(roundSeed(config.seed, round, 'select')).sample(sites.length, m));
  return sites.filter((_, i) => chosen.has(i));
}

/** Apply `dropout`: scheduled absences for round r, then each remaining site drops with `probability` (seeded per (seed, r, site)). */
export function applyDropout(config: ResolvedConfig, selected: readonly Site[], round: number): { present: Site[]; dropped: DroppedSite[] } {
  const scheduled = new Set(config.dropout.sites?.[String(round)] ?? []);
  const p = config.dropout.probability ?? 0;
  const present: Site[] = [];
  const dropped: DroppedSite[] = [];
  for (const s of selected) {
    if (scheduled.has(s.name)) dropped.push({ site: s.name, reason: 'scheduled' });
    else if (p > 0 && createRng(roundSeed(config.seed, round, `dropout|${s.name}`)).bernoulli(p)) dropped.push({ site: s.name, reason: 'random' });
    else present.push(s);
  }
  return { present, dropped };
}

/** Image-weighted mean of per-site scores (sites with NaN scores are skipped per metric). */
export function poolScores(scores: readonly SegmentationSummary[]): PooledScores {
  const mean = (key: 'dice' | 'iou' | 'precision' | 'recall') => {
    let s = 0;
    let n = 0;
    for (const x of scores) {
      if (Number.isFinite(x[key]) && x.images > 0) {
        s += x[key] * x.images;
        n += x.images;
      }
    }
    return n > 0 ? s / n : NaN;
  };
  return { images: scores.reduce((a, x) => a + x.images, 0), dice: mean('dice'), iou: mean('iou'), precision: mean('precision'), recall: mean('recall') };
}

function meanSummary(list: readonly SegmentationSummary[]): SegmentationSummary {
  const keys = ['images', 'dice', 'iou', 'precision', 'recall', 'validImages', 'pooledDice'] as const;
  const out = {} as SegmentationSummary;
  for (const k of keys) out[k] = list.reduce((a, x) => a + x[k], 0) / list.length;
  return out;
}

/** Fields of the config that may differ between a run and its resume. */
const VOLATILE = ['resume', 'outDir', 'workers'] as const;

function comparable(cfg: unknown): string {
  const c = { ...(cfg as Record<string, unknown>) };
  for (const k of VOLATILE) delete c[k];
  return JSON.stringify(c, Object.keys(c).sort());
}

/**
 * Run a strategy for `config.rounds` rounds on `sites` (each with its own
 * train / test split), evaluating after each round (every `evaluation.every`
 * rounds and always after the last) on each site's test split and on
 * `globalTest` when given. With `outDir` writes a run folder (./results);
 * with `resume: dir` continues that folder's run from its last completed
 * round (the config must match the stored one, `workers` and paths aside).
 *
 * The tfjs backend must be initialised by the caller (`initBackend`).
 * Tensor memory: one model for the run, disposed at the end.
 */
export async function runFederated(config: FederatedConfig, sites: readonly Site[], globalTest?: Dataset, hooks: FederatedHooks = {}): Promise<FederatedResult> {
  const cfg = resolveConfig(config);
  checkSites(sites);
  const log = hooks.log ?? (() => {});
  const backend = tf.getBackend();
  const model = createModel(cfg.model.name, {
    inputShape: cfg.model.inputShape,
    numClasses: cfg.model.numClasses,
    outputActivation: cfg.model.outputActivation,
    width: cfg.model.width,
    seed: cfg.seed,
  });
  let strategy: Strategy | null = null;
  let pool: SiteTrainerPool | null = null;
  try {
    const specs = weightSpecs(model);
    const initial = getWeights(model);
    strategy = buildStrategy({ config: cfg, model, initial, specs, sites: [...sites] }, hooks);
    const strat = strategy;

    // ---- run folder / resume
    const dir = config.resume ?? config.outDir;
    const writer = dir ? new RunWriter(dir) : null;
    let records: RoundRecord[] = [];
    let start = 0;
    let resumedFrom: number | undefined;
    if (config.resume) {
      const w = writer as RunWriter;
      const stored = w.readConfig();
      if (comparable(stored.config) !== comparable(config)) {
        throw new Error(`runFederated: resume '${config.resume}': the config differs from the stored config.json (only ${VOLATILE.join(', ')} may change).\nstored: ${comparable(stored.config)}\ngiven:  ${comparable(config)}`);
      }
      const ck = w.readCheckpoint();
      if (ck) {
        strat.loadState(ck.state);
        start = ck.round + 1;
        resumedFrom = ck.round;
        records = w.truncateRounds(ck.round);
        log(`[medfl] resuming ${cfg.strategy.name} after round ${ck.round}`);
      } else {
        records = w.truncateRounds(-1);
      }
    } else if (writer) {
      const file: RunConfigFile = { config, seed: cfg.seed, backend, startedAt: new Date().toISOString() };
      writer.init(file);
    }

    // ---- workers
    if (cfg.workers > 1 && strat.parallel) {
      pool = new SiteTrainerPool({
        workers: cfg.workers,
        backend,
        model: { name: cfg.model.name, options: { inputShape: cfg.model.inputShape, numClasses: cfg.model.numClasses, outputActivation: cfg.model.outputActivation, width: cfg.model.width, seed: cfg.seed } },
        sites: [...sites],
      });
    }
    const activePool = pool;
    const settings = { epochs: cfg.localEpochs, batchSize: cfg.batchSize, learningRate: cfg.learningRate, encoding: cfg.encoding, numClasses: cfg.classes };
    let cumUp = records.length ? records[records.length - 1].bytes.cumulativeUp : 0;
    let cumDown = records.length ? records[records.length - 1].bytes.cumulativeDown : 0;
    let roundsRun = 0;

    for (let round = start; round < cfg.rounds; round++) {
      hooks.beforeRound?.(round);
      const tr = Date.now();
      const selected = selectSites(cfg, sites, round);
      const { present, dropped } = applyDropout(cfg, selected, round);
      const runClients = async (jobs: ClientJob[], onResult: (r: ClientResult) => void) => {
        const failed: { site: string; message: string }[] = [];
        if (activePool) {
          await activePool.train(jobs, settings, (r) => onResult(r), (site, message) => failed.push({ site, message }));
        } else {
          for (const job of jobs) {
            let res: ClientResult;
            try {
              res = await trainClient(model, job, settings);
            } catch (e) {
              failed.push({ site: job.site.name, message: (e as Error).message });
              continue;
            }
            onResult(res);
          }
        }
        return failed;
      };
      const outcome = await strat.runRound({ round, participants: present, settings, seedFor: (key) => roundSeed(cfg.seed, round, key), runClients, log });
      const failedNames = new Set(outcome.failed.map((f) => f.site));
      for (const f of outcome.failed) {
        dropped.push({ site: f.site, reason: 'error', message: f.message });
        log(`[medfl] round ${round}: site '${f.site}' failed and was skipped: ${f.message}`);
      }
      const trainSeconds = (Date.now() - tr) / 1000;

      // ---- evaluation
      const te = Date.now();
      let test: Record<string, SegmentationSummary> | undefined;
      let global: SegmentationSummary | undefined;
      let evalErrors: Record<string, string> | undefined;
      if ((round + 1) % cfg.evalEvery === 0 || round === cfg.rounds - 1) {
        test = {};
        const evalOpts = { batchSize: cfg.evalBatchSize, numClasses: cfg.classes, groupBy: '\u0000none' };
        for (const s of sites) {
          try {
            setWeights(model, strat.siteWeights(s.name));
            test[s.name] = (await evaluateSegmentation(model, s.test, evalOpts)).overall;
          } catch (e) {
            (evalErrors ??= {})[s.name] = (e as Error).message;
          }
        }
        if (globalTest) {
          const gw = strat.globalWeights();
          const list = gw ? [gw] : sites.map((s) => strat.siteWeights(s.name));
          const res: SegmentationSummary[] = [];
          for (const w of list) {
            setWeights(model, w);
            res.push((await evaluateSegmentation(model, globalTest, evalOpts)).overall);
          }
          global = res.length === 1 ? res[0] : meanSummary(res);
        }
      }
      const evalSeconds = (Date.now() - te) / 1000;
      const totalUp = Object.values(outcome.up).reduce((a, b) => a + b, 0);
      const totalDown = Object.values(outcome.down).reduce((a, b) => a + b, 0);
      cumUp += totalUp;
      cumDown += totalDown;
      const record: RoundRecord = {
        round,
        strategy: cfg.strategy.name,
        selected: selected.map((s) => s.name),
        participants: present.map((s) => s.name).filter((n) => !failedNames.has(n)),
        dropped,
        trainLoss: outcome.trainLoss,
        test,
        pooled: test ? poolScores(Object.values(test)) : undefined,
        global,
        evalErrors,
        bytes: { up: outcome.up, down: outcome.down, totalUp, totalDown, cumulativeUp: cumUp, cumulativeDown: cumDown },
        trainSeconds,
        evalSeconds,
        seconds: (Date.now() - tr) / 1000,
      };
      records.push(record);
      writer?.appendRound(record);
      writer?.writeCheckpoint(round, strat.saveState());
      roundsRun++;
      log(`[medfl] ${cfg.strategy.name} round ${round + 1}/${cfg.rounds}: pooled Dice ${record.pooled?.dice.toFixed(4) ?? '-'}, ${record.seconds.toFixed(1)} s`);
      hooks.onRound?.(record);
    }

    const summary = summarize(cfg, backend, records, roundsRun, resumedFrom);
    writer?.finish(summary, records);
    const gw = strat.globalWeights();
    return {
      config,
      records,
      summary,
      globalWeights: gw ?? [],
      siteWeights: strat.keptSiteWeights(),
    };
  } finally {
    await pool?.close();
    strategy?.dispose();
    model.dispose();
  }
}

function summarize(cfg: ResolvedConfig, backend: string, records: readonly RoundRecord[], roundsRun: number, resumedFrom?: number): RunSummary {
  const seconds = records.reduce((a, r) => a + r.seconds, 0);
  const last = [...records].reverse().find((r) => r.test);
  let bestRound = -1;
  let bestPooledDice = NaN;
  for (const r of records) {
    const d = r.pooled?.dice;
    if (d !== undefined && Number.isFinite(d) && !(d <= bestPooledDice)) {
      bestRound = r.round;
      bestPooledDice = d;
    }
  }
  const up = records.length ? records[records.length - 1].bytes.cumulativeUp : 0;
  const down = records.length ? records[records.length - 1].bytes.cumulativeDown : 0;
  return {
    strategy: cfg.strategy.name,
    rounds: cfg.rounds,
    seed: cfg.seed,
    backend,
    final: { test: last?.test, pooled: last?.pooled, global: last?.global },
    bestRound,
    bestPooledDice,
    totalBytesUp: up,
    totalBytesDown: down,
    bytesPerRound: records.length ? (up + down) / records.length : 0,
    seconds,
    roundsRun,
    resumedFrom,
  };
}
