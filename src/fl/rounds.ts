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
import { checkTrainingMemory } from '../models/memory';
import { createRng } from '../util/rng';
import { SiteTrainerPool } from './parallel';
import { createStrategy, defaultRounds, strategyLabel } from './registry';
import { RunWriter, acquireRunLock, dataFingerprint, fingerprintChanges, type RunConfigFile } from './results';
import type { LoggedSplitMessage } from './splitfed';
import { isStrategyObject, resolveRunConfig, roundSeed, trainClient, type ClientFailure, type ClientRun, type ResolvedConfig, type RoundContext, type Strategy, type TrainInstruction, type TrainResult } from './strategy';
import { evaluateSegmentation, type SegmentationSummary } from '../train';
import type { Dataset } from '../data/types';
import { SiteFailureError, type DropoutConfig, type DroppedSite, type FederatedConfig, type FederatedResult, type PooledScores, type RoundRecord, type RunHooks, type RunSummary } from './types';
import { cloneWeights, getWeights, setWeights, weightSpecs } from '../models/weights';
import type { Site } from '../data/site';

/** Hooks of {@link runFederated}, plus the split-message observer. */
export interface FederatedHooks extends RunHooks {
  /** SplitFed: every client/server message (u-shaped never sends labels). */
  onSplitMessage?: (m: LoggedSplitMessage) => void;
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

/**
 * Problems of a dropout schedule against the run's sites and rounds (a
 * misspelled site or a round outside the run would silently drop nothing).
 */
export function checkDropout(dropout: DropoutConfig | undefined, siteNames: readonly string[], rounds: number): string[] {
  const problems: string[] = [];
  for (const [round, names] of Object.entries(dropout?.sites ?? {})) {
    const r = Number(round);
    if (!Number.isInteger(r) || r < 0 || r >= rounds) problems.push(`dropout.sites: '${round}' is not a round of this run (0-based, 0..${rounds - 1})`);
    for (const n of Array.isArray(names) ? names : []) {
      if (!siteNames.includes(n)) problems.push(`dropout.sites.${round}: unknown site '${n}' (sites: ${siteNames.join(', ')})`);
    }
  }
  return problems;
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
const VOLATILE = ['resume', 'outDir', 'workers', 'siteFailures'] as const;

/** The config as stored in config.json: a strategy object is recorded by its name. */
function comparableJson(cfg: FederatedConfig): string {
  return JSON.stringify(isStrategyObject(cfg.strategy) ? { ...cfg, strategy: { name: cfg.strategy.name, object: true } } : cfg);
}

function comparable(cfg: unknown): string {
  const c = { ...(cfg as Record<string, unknown>) };
  for (const k of VOLATILE) delete c[k];
  if (isStrategyObject(c.strategy)) c.strategy = { name: c.strategy.name, object: true };
  return JSON.stringify(c, Object.keys(c).sort());
}

/** Build the run's model; a failure releases the run folder's lock. */
function buildModel(unlock: (() => void) | null, build: () => tf.LayersModel): tf.LayersModel {
  try {
    return build();
  } catch (e) {
    unlock?.();
    throw e;
  }
}

/**
 * Run a strategy for `config.rounds` rounds on `sites` (each with its own
 * train / test split), evaluating after each round (every `evaluation.every`
 * rounds and always after the last) on each site's test split and on
 * `globalTest` when given. `config.strategy` is a registered strategy's
 * name and options (./registry) or any object implementing `Strategy`.
 * With `outDir` writes a run folder (./results); with `resume: dir`
 * continues that folder's run from its last completed round (the config must
 * match the stored one, `workers` and paths aside).
 *
 * The tfjs backend must be initialised by the caller (`initBackend`).
 * Tensor memory: one model for the run, disposed at the end.
 */
export async function runFederated(config: FederatedConfig, sites: readonly Site[], globalTest?: Dataset, hooks: FederatedHooks = {}): Promise<FederatedResult> {
  const cfg = resolveRunConfig(config, defaultRounds(config.strategy));
  checkSites(sites);
  const dropoutProblems = checkDropout(cfg.dropout, sites.map((s) => s.name), cfg.rounds);
  if (dropoutProblems.length) throw new Error(`runFederated: invalid dropout schedule:\n  - ${dropoutProblems.join('\n  - ')}`);
  const log = hooks.log ?? (() => {});
  const backend = tf.getBackend();
  const dir = config.resume ?? config.outDir;
  const unlock = dir ? acquireRunLock(dir) : null;
  const model = buildModel(unlock, () => createModel(cfg.model.name, {
    inputShape: cfg.model.inputShape,
    numClasses: cfg.model.numClasses,
    outputActivation: cfg.model.outputActivation,
    width: cfg.model.width,
    seed: cfg.seed,
  }));
  let strategy: Strategy | null = null;
  let pool: SiteTrainerPool | null = null;
  try {
    checkTrainingMemory(model, cfg.batchSize, { context: 'runFederated', modelLabel: `${cfg.model.name} (width ${cfg.model.width ?? 'default'}, input ${cfg.model.inputShape.join('x')})` });
    const specs = weightSpecs(model);
    const initial = getWeights(model);
    strategy = createStrategy(config.strategy, { config: cfg, model, initial, specs, sites: [...sites], onSplitMessage: hooks.onSplitMessage });
    const strat = strategy;
    const label = strategyLabel(config.strategy);
    let global = cloneWeights(initial);

    // ---- run folder / resume
    const fingerprint = dataFingerprint(sites, cfg.model.inputShape);
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
      if (stored.fingerprint) {
        const changes = fingerprintChanges(stored.fingerprint, fingerprint);
        if (changes.length) throw new Error(`runFederated: resume '${config.resume}': the data differ from the run's:\n  - ${changes.join('\n  - ')}\nStart a new run folder (or restore the data) instead of resuming.`);
      } else {
        log(`[medfl] resume '${config.resume}': config.json has no data fingerprint (older run); the data cannot be checked`);
      }
      const ck = w.readCheckpoint();
      if (ck) {
        if (ck.recovered) log(`[medfl] resume '${config.resume}': ${ck.recovered}`);
        const { global: g, ...rest } = ck.state.arrays;
        if (g) global = cloneWeights(g);
        strat.loadState?.({ arrays: rest, meta: ck.state.meta });
        start = ck.round + 1;
        resumedFrom = ck.round;
        records = w.truncateRounds(ck.round);
        log(`[medfl] resuming ${label} after round ${ck.round}`);
      } else {
        records = w.truncateRounds(-1);
      }
    } else if (writer) {
      const file: RunConfigFile = { config: JSON.parse(comparableJson(config)), seed: cfg.seed, backend, startedAt: new Date().toISOString(), fingerprint };
      writer.init(file);
    }

    // ---- workers (independent clients only)
    const usePool = cfg.workers > 1 && strat.execution === 'parallel' && !strat.trainClients;
    if (usePool) {
      pool = new SiteTrainerPool({
        workers: cfg.workers,
        backend,
        model: { name: cfg.model.name, options: { inputShape: cfg.model.inputShape, numClasses: cfg.model.numClasses, outputActivation: cfg.model.outputActivation, width: cfg.model.width, seed: cfg.seed } },
        sites: [...sites],
      });
    }
    const activePool = pool;
    const settings = { epochs: cfg.localEpochs, batchSize: cfg.batchSize, learningRate: cfg.learningRate, encoding: cfg.encoding, numClasses: cfg.classes };
    /** Run the instructions with the default client: in worker threads, in this thread, or chained (sequential). */
    const runClients = async (instructions: readonly TrainInstruction[]): Promise<ClientRun> => {
      const results: TrainResult[] = [];
      const failures: ClientFailure[] = [];
      if (activePool) {
        await activePool.train(instructions, settings, (r) => results.push(r), (site, message) => failures.push({ site, message }));
        return { results, failures };
      }
      let previous: Float32Array[] | null = null;
      for (const job of instructions) {
        const chained = strat.execution === 'sequential' && previous ? { ...job, weights: previous } : job;
        try {
          const r = await trainClient(model, chained, settings);
          results.push(r);
          previous = r.weights;
        } catch (e) {
          failures.push({ site: job.site.name, message: (e as Error).message });
        }
      }
      return { results, failures };
    };
    let cumUp = records.length ? records[records.length - 1].bytes.cumulativeUp : 0;
    let cumDown = records.length ? records[records.length - 1].bytes.cumulativeDown : 0;
    let roundsRun = 0;

    for (let round = start; round < cfg.rounds; round++) {
      hooks.beforeRound?.(round);
      const tr = Date.now();
      const ctx: RoundContext = { round, config: cfg, specs, seedFor: (key) => roundSeed(cfg.seed, round, key), log };
      const selected = strat.selectClients ? strat.selectClients(ctx, sites) : [...sites];
      const { present, dropped } = applyDropout(cfg, selected, round);
      const instructions = strat.configureTrain(ctx, global, present);
      const run = strat.trainClients ? await strat.trainClients(ctx, instructions) : await runClients(instructions);
      const agg = strat.aggregateTrain(ctx, global, run.results, run.failures);
      global = agg.weights;
      const failures = agg.failures ?? run.failures;
      const failedNames = new Set(failures.map((f) => f.site));
      for (const f of failures) {
        dropped.push({ site: f.site, reason: 'error', message: f.message });
        log(`[medfl] round ${round}: site '${f.site}' failed and was skipped: ${f.message}`);
      }
      const trainLoss: Record<string, number> = {};
      let clientMetrics: Record<string, Record<string, number>> | undefined;
      for (const r of run.results) {
        trainLoss[r.site] = r.loss;
        const extra = Object.entries(r.metrics).filter(([k]) => k !== 'bytesUp' && k !== 'bytesDown');
        if (extra.length) (clientMetrics ??= {})[r.site] = Object.fromEntries(extra);
      }
      for (const [site, m] of Object.entries(agg.clientMetrics ?? {})) (clientMetrics ??= {})[site] = { ...clientMetrics[site], ...m };
      const trainSeconds = (Date.now() - tr) / 1000;

      // ---- evaluation
      const te = Date.now();
      let test: Record<string, SegmentationSummary> | undefined;
      let global_: SegmentationSummary | undefined;
      let evalErrors: Record<string, string> | undefined;
      let pooled: PooledScores | undefined;
      if ((round + 1) % cfg.evalEvery === 0 || round === cfg.rounds - 1) {
        test = {};
        const plan = strat.configureEvaluate ? strat.configureEvaluate(ctx, global) : { site: () => global, global };
        const evalOpts = { batchSize: cfg.evalBatchSize, numClasses: cfg.classes, groupBy: '\u0000none' };
        for (const s of sites) {
          try {
            setWeights(model, plan.site(s.name));
            test[s.name] = (await evaluateSegmentation(model, s.test, evalOpts)).overall;
          } catch (e) {
            (evalErrors ??= {})[s.name] = (e as Error).message;
          }
        }
        pooled = strat.aggregateEvaluate ? strat.aggregateEvaluate(ctx, test) : poolScores(Object.values(test));
        if (globalTest) {
          const list = plan.global ? [plan.global] : sites.map((s) => plan.site(s.name));
          const res: SegmentationSummary[] = [];
          try {
            for (const w of list) {
              setWeights(model, w);
              res.push((await evaluateSegmentation(model, globalTest, evalOpts)).overall);
            }
            global_ = res.length === 1 ? res[0] : meanSummary(res);
          } catch (e) {
            (evalErrors ??= {})['(global test set)'] = (e as Error).message;
          }
        }
        for (const [site, message] of Object.entries(evalErrors ?? {})) log(`[medfl] round ${round}: evaluation of '${site}' failed: ${message}`);
      }
      const evalSeconds = (Date.now() - te) / 1000;
      const totalUp = Object.values(agg.up).reduce((a, b) => a + b, 0);
      const totalDown = Object.values(agg.down).reduce((a, b) => a + b, 0);
      cumUp += totalUp;
      cumDown += totalDown;
      const record: RoundRecord = {
        round,
        strategy: strat.name,
        selected: selected.map((s) => s.name),
        participants: present.map((s) => s.name).filter((n) => !failedNames.has(n)),
        dropped,
        trainLoss,
        ...(clientMetrics ? { clientMetrics } : {}),
        test,
        pooled,
        global: global_,
        evalErrors,
        bytes: { up: agg.up, down: agg.down, totalUp, totalDown, cumulativeUp: cumUp, cumulativeDown: cumDown },
        trainSeconds,
        evalSeconds,
        seconds: (Date.now() - tr) / 1000,
      };
      records.push(record);
      writer?.appendRound(record);
      const state = strat.saveState?.() ?? { arrays: {}, meta: {} };
      writer?.writeCheckpoint(round, { arrays: { ...state.arrays, global }, meta: state.meta });
      roundsRun++;
      log(`[medfl] ${label} round ${round + 1}/${cfg.rounds}: pooled Dice ${record.pooled?.dice.toFixed(4) ?? '-'}, ${record.seconds.toFixed(1)} s`);
      hooks.onRound?.(record);
    }

    const summary = summarize(cfg, strat.name, backend, records, roundsRun, resumedFrom);
    writer?.finish(summary, records);
    for (const f of summary.siteFailures) log(`[medfl] ${label}: site '${f.site}' failed in round(s) ${f.rounds.join(', ')}: ${f.message}`);
    const plan = strat.configureEvaluate ? strat.configureEvaluate({ round: cfg.rounds - 1, config: cfg, specs, seedFor: (key) => roundSeed(cfg.seed, cfg.rounds - 1, key), log }, global) : { site: () => global, global };
    const result: FederatedResult = {
      config,
      records,
      summary,
      globalWeights: plan.global ?? [],
      siteWeights: strat.keptSiteWeights ? strat.keptSiteWeights(global) : {},
    };
    const finalEvalErrors = Object.entries([...records].reverse().find((r) => r.test)?.evalErrors ?? {});
    if ((summary.failedEveryRound.length || finalEvalErrors.length) && (config.siteFailures ?? 'fail') === 'fail') {
      const lines = [
        ...summary.siteFailures.filter((f) => summary.failedEveryRound.includes(f.site)).map((f) => `site '${f.site}' failed in every round it was selected: ${f.message}`),
        ...finalEvalErrors.map(([site, message]) => `the final evaluation of '${site}' failed: ${message}`),
      ];
      throw new SiteFailureError(`runFederated: ${label}: the result is incomplete:\n  - ${lines.join('\n  - ')}\n(set siteFailures: 'skip' to accept such a run)`, result);
    }
    return result;
  } finally {
    unlock?.();
    await pool?.close();
    strategy?.dispose?.();
    model.dispose();
  }
}

function summarize(cfg: ResolvedConfig, name: string, backend: string, records: readonly RoundRecord[], roundsRun: number, resumedFrom?: number): RunSummary {
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
  const failures = new Map<string, { site: string; rounds: number[]; message: string }>();
  const selectedIn = new Map<string, number>();
  for (const r of records) {
    for (const site of r.selected) selectedIn.set(site, (selectedIn.get(site) ?? 0) + 1);
    for (const d of r.dropped) {
      if (d.reason !== 'error') continue;
      const f = failures.get(d.site) ?? { site: d.site, rounds: [], message: d.message ?? '' };
      f.rounds.push(r.round);
      failures.set(d.site, f);
    }
  }
  const siteFailures = [...failures.values()];
  const failedEveryRound = siteFailures.filter((f) => f.rounds.length >= (selectedIn.get(f.site) ?? 0)).map((f) => f.site);
  return {
    strategy: name,
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
    siteFailures,
    failedEveryRound,
  };
}
