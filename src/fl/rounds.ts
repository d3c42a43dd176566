/**
 * The one round loop every strategy shares: site selection (client fraction,
 * seeded), scheduled / random site dropout, the strategy's round, failure
 * handling (a site that throws is skipped and logged, the round completes
 * with the others), evaluation on every site's held-out test split and an
 * optional global test set, the validation loss and model selection (sites
 * with validation splits), the round record, the run folder and resume.
 *
 * Randomness: every random choice of round r is drawn from a stream seeded
 * by (seed, r, key) (see `roundSeed`), never from a stream consumed across
 * rounds, and every client starts a fresh optimizer each round; with the
 * strategy state checkpointed after every round, `resume` reproduces an
 * uninterrupted run exactly.
 */
import { segmentationLoss } from '../metrics/losses';
import * as tf from '@tensorflow/tfjs';
import { createModel } from '../models/registry';
import { checkTrainingMemory } from '../models/memory';
import { createRng } from '../util/rng';
import { SiteTrainerPool } from './parallel';
import { createStrategy, defaultRounds, strategyLabel } from './registry';
import { RunWriter, acquireRunLock, dataFingerprint, fingerprintChanges, type RunConfigFile } from './results';
import type { LoggedSplitMessage } from './splitfed';
import { isStrategyObject, resolveRunConfig, roundSeed, roundTrainSettings, trainClient, type ClientFailure, type ClientRun,
  type EvaluatePlan, type ResolvedConfig, type RoundContext, type Strategy, type TrainInstruction, type TrainResult } from './strategy';
import { evaluateLoss, evaluateSegmentation, type BatchLog, type SegmentationSummary } from '../train';
import type { Dataset } from '../data/types';
import { SiteFailureError, type DropoutConfig, type DroppedSite, type FederatedConfig, type FederatedResult, type PooledScores, type RoundRecord, type RunHooks, type RunSummary } from './types';
import { cloneWeights, getWeights, setWeights, weightSpecs } from '../models/weights';
import type { Site } from '../data/site';

/** One training batch of one client (see {@link FederatedHooks.onProgress}). */
export interface ClientProgress {
  /** 0-based round. */
  round: number;
  /** The site trained ('pooled' for centralized training). */
  site: string;
  /** Local epoch within the round (0..localEpochs-1; the schedule's global epoch is `round * localEpochs + epoch`). */
  epoch: number;
  /** Batch index within the epoch. */
  batch: number;
  /** Batches in the epoch. */
  batches: number;
  /** Images in this batch. */
  images: number;
  /** Wall-clock seconds of the batch (loading included). */
  seconds: number;
  /** The batch's training loss (mean over its images). */
  loss: number;
}

/** Hooks of {@link runFederated}, plus the split-message observer and per-batch progress. */
export interface FederatedHooks extends RunHooks {
  /** SplitFed: every client/server message (u-shaped never sends labels). */
  onSplitMessage?: (m: LoggedSplitMessage) => void;
  /**
   * After every training batch of every client (from the training core's
   * `onBatch`), so a long round is never silent: in-process clients, worker
   * threads (sent back as they run: sites interleave) and strategies that
   * train their clients themselves (SplitFed, through `RoundContext.onBatch`).
   * Default: none (no progress is collected).
   */
  onProgress?: (p: ClientProgress) => void;
}

/** Checkpoint entries of the kept (best-validation) model; never handed to a strategy's `loadState`. */
const KEPT_GLOBAL = 'medfl.kept/global';
const KEPT_SITE = 'medfl.kept/site/';
const KEPT_META = 'medfl.kept';

/** The kept model of a 'best-validation-loss' run. */
interface KeptModel {
  round: number;
  loss: number;
  /** What the evaluate plan called the global model (null: none, e.g. 'local'). */
  global: Float32Array[] | null;
  /** The strategy's per-site weights of that round (`keptSiteWeights`). */
  sites: Record<string, Float32Array[]>;
}

/**
 * The plateau rule of `FederatedConfig.convergence` over the mean
 * validation losses of the evaluated rounds, in round order (non-finite
 * values skipped): converged when there are more than `patience` values and
 * `min(before) - min(last patience) <= minRelativeImprovement * |min(before)|`.
 */
export function validationPlateaued(losses: readonly number[], patience: number, minRelativeImprovement: number): boolean {
  const l = losses.filter((x) => Number.isFinite(x));
  if (l.length <= patience) return false;
  const bestBefore = Math.min(...l.slice(0, l.length - patience));
  const bestLast = Math.min(...l.slice(l.length - patience));
  return bestBefore - bestLast <= minRelativeImprovement * Math.abs(bestBefore);
}

function checkSites(sites: readonly Site[]): void {
  if (sites.length === 0) throw new Error('runFederated: no sites');
  const seen = new Set<string>();
  for (const s of sites) {
    if (!s || typeof s.name !== 'string' || !s.name) throw new Error('runFederated: every site needs a non-empty name');
    if (seen.has(s.name)) throw new Error(`runFederated: duplicate site name '${s.name}'`);
    seen.add(s.name);
    if (!s.train || !s.test) throw new Error(`runFederated: site '${s.name}' needs train and test datasets`);
    if (s.validation && s.validation.length === 0) throw new Error(`runFederated: site '${s.name}' has an empty validation split (omit it, or build the sites with a larger validationFraction)`);
  }
  const without = sites.filter((s) => !s.validation).map((s) => s.name);
  if (without.length && without.length < sites.length) {
    throw new Error(`runFederated: sites ${without.map((n) => `'${n}'`).join(', ')} have no validation split but the others do; give every site one (buildSites' validationFraction) or none`);
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
 * Validation (every site has a `validation` split, e.g. `buildSites({
 * validationFraction })`): in every evaluated round each site's validation
 * loss is the training loss (BCE + soft Dice) of the weights it deploys
 * (the strategy's `configureEvaluate` plan), computed per image and
 * averaged over its validation images; `meanValidationLoss` is the plain
 * mean over the sites (per-site mean, then mean over sites, as the
 * MedSegNet10 group's code reduces it). With `selection`
 * 'best-validation-loss' (the default then) the run keeps the global and
 * per-site weights of the evaluated round with the lowest mean (earliest on
 * ties), returns them, and reports that round's test scores as
 * `summary.final` (`summary.keptRound`; they were computed with exactly those
 * weights when the round was evaluated, so nothing is re-evaluated); the
 * kept weights are checkpointed with the round, so a resumed run keeps the
 * same model. `summary.converged` / `ranOutOfBudget` apply the plateau rule
 * of `config.convergence` ({@link validationPlateaued}). The per-round test
 * curve is unchanged.
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
    const validating = sites.some((s) => s.validation);
    const selection = cfg.selection ?? (validating ? 'best-validation-loss' : 'last');
    if (selection === 'best-validation-loss' && !validating) throw new Error("runFederated: selection 'best-validation-loss' needs validation splits (buildSites' validationFraction > 0)");
    let kept: KeptModel | null = null;
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
        const { global: g, ...arrays } = ck.state.arrays;
        if (g) global = cloneWeights(g);
        const rest: Record<string, Float32Array[]> = {};
        const keptSites: Record<string, Float32Array[]> = {};
        for (const [k, v] of Object.entries(arrays)) {
          if (k.startsWith(KEPT_SITE)) keptSites[k.slice(KEPT_SITE.length)] = v;
          else if (k !== KEPT_GLOBAL) rest[k] = v;
        }
        const { [KEPT_META]: keptMeta, ...meta } = ck.state.meta;
        if (keptMeta && typeof keptMeta === 'object') {
          const m = keptMeta as { round: number; loss: number };
          kept = { round: m.round, loss: m.loss, global: arrays[KEPT_GLOBAL] ?? null, sites: keptSites };
        }
        strat.loadState?.({ arrays: rest, meta });
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
    /** What each site deploys: the strategy's plan, or the global model everywhere. */
    const planOf = (ctx: RoundContext, g: Float32Array[]): EvaluatePlan => (strat.configureEvaluate ? strat.configureEvaluate(ctx, g) : { site: () => g, global: g });
    const onProgress = hooks.onProgress;
    const progressOf = (round: number) =>
      onProgress && ((site: string, l: BatchLog) => onProgress({ round, site, epoch: l.epoch, batch: l.batch, batches: l.batches, images: l.images, seconds: l.seconds, loss: l.loss }));
    /** Run the instructions with the default client: in worker threads, in this thread, or chained (sequential). */
    const runClients = async (round: number, instructions: readonly TrainInstruction[], progress: ReturnType<typeof progressOf>): Promise<ClientRun> => {
      const results: TrainResult[] = [];
      const failures: ClientFailure[] = [];
      const settings = roundTrainSettings(cfg, round);
      if (activePool) {
        await activePool.train(instructions, settings, (r) => results.push(r), (site, message) => failures.push({ site, message }), progress);
        return { results, failures };
      }
      let previous: Float32Array[] | null = null;
      for (const job of instructions) {
        const chained = strat.execution === 'sequential' && previous ? { ...job, weights: previous } : job;
        try {
          const r = await trainClient(model, chained, settings, progress && ((l) => progress(job.site.name, l)));
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
      const progress = progressOf(round);
      const ctx: RoundContext = { round, config: cfg, specs, seedFor: (key) => roundSeed(cfg.seed, round, key), log, ...(progress ? { onBatch: progress } : {}) };
      const selected = strat.selectClients ? strat.selectClients(ctx, sites) : [...sites];
      const { present, dropped } = applyDropout(cfg, selected, round);
      const instructions = strat.configureTrain(ctx, global, present);
      const run = strat.trainClients ? await strat.trainClients(ctx, instructions) : await runClients(round, instructions, progress);
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
      let validationLoss: Record<string, number> | undefined;
      let meanValidationLoss: number | undefined;
      if ((round + 1) % cfg.evalEvery === 0 || round === cfg.rounds - 1) {
        test = {};
        const plan = planOf(ctx, global);
        const evalOpts = { batchSize: cfg.evalBatchSize, numClasses: cfg.classes, groupBy: '\u0000none' };
        for (const s of sites) {
          setWeights(model, plan.site(s.name));
          try {
            test[s.name] = (await evaluateSegmentation(model, s.test, evalOpts)).overall;
          } catch (e) {
            (evalErrors ??= {})[s.name] = (e as Error).message;
          }
          if (s.validation) {
            try {
              (validationLoss ??= {})[s.name] = (await evaluateLoss(model, s.validation, { batchSize: cfg.evalBatchSize, encoding: cfg.encoding, numClasses: cfg.classes, loss: segmentationLoss(cfg.loss, cfg.model.numClasses) })).loss;
            } catch (e) {
              (evalErrors ??= {})[`${s.name} (validation)`] = (e as Error).message;
            }
          }
        }
        if (validating) {
          // Per-site mean over its images, then the plain mean over the sites (MedSegNet10); NaN when a site failed.
          const values = sites.map((s) => validationLoss?.[s.name] ?? NaN);
          meanValidationLoss = values.reduce((a, b) => a + b, 0) / values.length;
          if (selection === 'best-validation-loss' && Number.isFinite(meanValidationLoss) && (kept === null || meanValidationLoss < kept.loss)) {
            kept = {
              round,
              loss: meanValidationLoss,
              global: plan.global ? cloneWeights(plan.global) : null,
              sites: Object.fromEntries(Object.entries(strat.keptSiteWeights ? strat.keptSiteWeights(global) : {}).map(([k, w]) => [k, cloneWeights(w)])),
            };
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
        ...(validationLoss ? { validationLoss } : {}),
        ...(meanValidationLoss !== undefined ? { meanValidationLoss } : {}),
        bytes: { up: agg.up, down: agg.down, totalUp, totalDown, cumulativeUp: cumUp, cumulativeDown: cumDown },
        trainSeconds,
        evalSeconds,
        seconds: (Date.now() - tr) / 1000,
      };
      records.push(record);
      writer?.appendRound(record);
      if (writer) {
        const state = strat.saveState?.() ?? { arrays: {}, meta: {} };
        const arrays: Record<string, Float32Array[]> = { ...state.arrays, global };
        const meta: Record<string, unknown> = { ...state.meta };
        if (kept) {
          if (kept.global) arrays[KEPT_GLOBAL] = kept.global;
          for (const [name, w] of Object.entries(kept.sites)) arrays[KEPT_SITE + name] = w;
          meta[KEPT_META] = { round: kept.round, loss: kept.loss };
        }
        writer.writeCheckpoint(round, { arrays, meta });
      }
      roundsRun++;
      const val = meanValidationLoss !== undefined ? `, validation loss ${meanValidationLoss.toFixed(4)}` : '';
      log(`[medfl] ${label} round ${round + 1}/${cfg.rounds}: pooled Dice ${record.pooled?.dice.toFixed(4) ?? '-'}${val}, ${record.seconds.toFixed(1)} s`);
      hooks.onRound?.(record);
    }

    const keptModel = kept as KeptModel | null;
    if (selection === 'best-validation-loss' && !keptModel) log(`[medfl] ${label}: no round had a finite mean validation loss; keeping the last round's model`);
    const summary = summarize(cfg, strat.name, backend, records, roundsRun, resumedFrom, selection, keptModel ? keptModel.round : undefined);
    writer?.finish(summary, records);
    if (keptModel && keptModel.round !== summary.rounds - 1) log(`[medfl] ${label}: kept the model of round ${keptModel.round} (lowest mean validation loss ${keptModel.loss.toFixed(4)})`);
    for (const f of summary.siteFailures) log(`[medfl] ${label}: site '${f.site}' failed in round(s) ${f.rounds.join(', ')}: ${f.message}`);
    const plan = planOf({ round: cfg.rounds - 1, config: cfg, specs, seedFor: (key) => roundSeed(cfg.seed, cfg.rounds - 1, key), log }, global);
    const result: FederatedResult = {
      config,
      records,
      summary,
      globalWeights: keptModel ? keptModel.global ?? [] : plan.global ?? [],
      siteWeights: keptModel ? keptModel.sites : strat.keptSiteWeights ? strat.keptSiteWeights(global) : {},
    };
    const finalEvalErrors = Object.entries(records.find((r) => r.round === summary.keptRound)?.evalErrors ?? {});
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

function summarize(
  cfg: ResolvedConfig,
  name: string,
  backend: string,
  records: readonly RoundRecord[],
  roundsRun: number,
  resumedFrom: number | undefined,
  selection: 'best-validation-loss' | 'last',
  keptRound: number | undefined,
): RunSummary {
  const seconds = records.reduce((a, r) => a + r.seconds, 0);
  const last = keptRound !== undefined ? records.find((r) => r.round === keptRound) : [...records].reverse().find((r) => r.test);
  const losses = records.filter((r) => r.meanValidationLoss !== undefined).map((r) => r.meanValidationLoss as number);
  const converged = losses.length ? validationPlateaued(losses, cfg.convergence.patience, cfg.convergence.minRelativeImprovement) : undefined;
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
    selection,
    keptRound: last?.round ?? -1,
    ...(last?.meanValidationLoss !== undefined ? { keptValidationLoss: last.meanValidationLoss } : {}),
    ...(converged !== undefined ? { converged, ranOutOfBudget: !converged } : {}),
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
