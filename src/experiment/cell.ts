/**
 * One cell of an experiment grid, run the same way in the runner's process
 * (`--jobs 1`) and in a child process (`--jobs N`, ./cell-worker): one
 * `runFederated` in the cell's own run folder (resumable), then the per-image
 * Dice of what every site deploys on its own test split (for per-image
 * bootstrap intervals; their mean is the pooled Dice) and, when asked, the
 * site-inference attack. The result is written to `<cell>/cell.json`
 * atomically; the runner aggregates those files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createModel } from '../models/registry';
import { setWeights } from '../models/weights';
import { evaluateSegmentation } from '../train';
import { runFederated, type ClientProgress, type FederatedHooks } from '../fl/rounds';
import { writeFileAtomic } from '../fl/results';
import { SiteFailureError, type FederatedResult, type RoundRecord } from '../fl/types';
import { siteInferenceAttack } from '../fl/privacy/site-inference';
import { pooledTest, type Site } from '../data/site';
import type { ExperimentCell } from './grid';
import { parseNumbers, stringifyNumbers } from '../util/json';

/** What `<cell>/cell.json` holds. */
export interface CellResult {
  id: string;
  dims: ExperimentCell['dims'];
  /** 'ok', or 'failed' (a site failed in every round / the final evaluation was incomplete; the numbers are flagged). */
  status: 'ok' | 'failed';
  message?: string;
  /** Final (kept) test Dice per site, pooled Dice / IoU (image-weighted over the sites' test splits). */
  dicePerSite: Record<string, number>;
  pooledDice: number;
  pooledIou: number;
  /** Dice of every test image under its site's deployed model, sites in order. */
  perImageDice: number[];
  bytesPerRound: number;
  totalBytes: number;
  /** Sum of the rounds' seconds (resumed rounds included). */
  seconds: number;
  rounds: number;
  /** Round whose model was kept (best mean client validation loss, or the last). */
  keptRound: number;
  /** With validation splits: whether the validation loss plateaued (else the budget ran out); absent without validation. */
  converged?: boolean;
  siteAttackAccuracy: number;
  siteAttackChance: number;
  siteFailures: string[];
}

/** The model input `[H, W, C]` of a cell: every loader resizes to `data.size` and converts to `data.channels` (default 3). */
export function cellInputShape(cell: ExperimentCell): [number, number, number] {
  return [cell.data.size, cell.data.size, (cell.data.channels as number | undefined) ?? 3];
}

/** The progress lines of one round of a cell: pooled Dice, then every drop and evaluation error (never silent). */
export function roundLines(cellId: string, rounds: number, rec: RoundRecord): string[] {
  const head = `  ${cellId.padEnd(28)} round ${rec.round + 1}/${rounds}  pooled Dice ${rec.pooled ? rec.pooled.dice.toFixed(3) : '  -  '}`;
  const drops = rec.dropped.filter((d) => d.reason === 'error').map((d) => `  ${cellId.padEnd(28)} round ${rec.round + 1}: site '${d.site}' dropped: ${d.message}`);
  const evals = Object.entries(rec.evalErrors ?? {}).map(([site, m]) => `  ${cellId.padEnd(28)} round ${rec.round + 1}: evaluation of '${site}' failed: ${m}`);
  return [head, ...drops, ...evals];
}

/**
 * A per-batch progress reporter for a long round (so it is never silent):
 * at most one line every `everySeconds` (default 10), with the site, epoch,
 * batch and the images/s measured since the previous line.
 */
export function batchProgress(cellId: string, log: (line: string) => void, everySeconds = 10): NonNullable<FederatedHooks['onProgress']> {
  let last = Date.now();
  let images = 0;
  let busy = 0;
  return (p: ClientProgress) => {
    images += p.images;
    busy += p.seconds;
    const now = Date.now();
    if (now - last < everySeconds * 1000) return;
    log(`  ${cellId.padEnd(28)} round ${p.round + 1}: site ${p.site} epoch ${p.epoch + 1} batch ${p.batch + 1}/${p.batches}, loss ${p.loss.toFixed(3)}, ${(images / Math.max(busy, 1e-9)).toFixed(1)} img/s`);
    last = now;
    images = 0;
    busy = 0;
  };
}

/** Run (or resume, or reload when finished) one cell in `<dir>/<cell.id>/`. */
export async function runCell(cell: ExperimentCell, sites: readonly Site[], dir: string, hooks: FederatedHooks = {}): Promise<CellResult> {
  const cdir = path.join(dir, cell.id);
  const inputShape = cellInputShape(cell);
  const resume = fs.existsSync(path.join(cdir, 'config.json'));
  const b = cell.budget;
  const evalSites = sites.filter((s) => s.test.length > 0);
  const globalTest = pooledTest(evalSites);
  let res: FederatedResult;
  let failed: string | undefined;
  try {
    res = await runFederated(
      {
        strategy: strategyOf(cell),
        model: { name: cell.model.name, inputShape, numClasses: 1, width: cell.model.width },
        rounds: b.rounds,
        localEpochs: b.localEpochs,
        batchSize: b.batchSize,
        learningRate: b.learningRate,
        seed: cell.seed,
        workers: b.workers,
        dropout: cell.dropout,
        siteFailures: cell.siteFailures,
        learningRateSchedule: cell.learningRateSchedule,
        loss: cell.loss,
        ...(cell.selection ? { selection: cell.selection } : {}),
        ...(cell.convergence ? { convergence: cell.convergence } : {}),
        ...(resume ? { resume: cdir } : { outDir: cdir }),
      },
      sites,
      globalTest,
      hooks,
    );
  } catch (e) {
    if (!(e instanceof SiteFailureError)) throw e;
    res = e.result;
    failed = e.message;
  }
  const model = createModel(cell.model.name, { inputShape, numClasses: 1, width: cell.model.width, seed: cell.seed });
  const perImageDice: number[] = [];
  let attack = { accuracy: NaN, chance: NaN };
  try {
    const deployed = (site: string) => res.siteWeights[site] ?? res.globalWeights;
    for (const s of evalSites) {
      const w = deployed(s.name);
      if (w.length === 0) continue;
      setWeights(model, w);
      try {
        perImageDice.push(...(await evaluateSegmentation(model, s.test, { groupBy: '\u0000none' })).perImageDice);
      } catch {
        // this site's test split does not load: the round records already carry the error and the cell is flagged
      }
    }
    if (cell.privacy.siteInference) {
      // The deployed model(s): the global model, or each site's own model for 'local' (accuracy averaged).
      const weightSets = res.globalWeights.length ? [res.globalWeights] : Object.values(res.siteWeights);
      const accs: number[] = [];
      for (const w of weightSets) {
        setWeights(model, w);
        const rep = await siteInferenceAttack(model, globalTest, { seed: cell.seed });
        accs.push(rep.accuracy);
        attack = { accuracy: NaN, chance: rep.chance.uniform };
      }
      attack.accuracy = accs.reduce((a, x) => a + x, 0) / Math.max(1, accs.length);
    }
  } finally {
    model.dispose();
  }
  const fin = res.summary.final;
  const result: CellResult = {
    id: cell.id,
    dims: cell.dims,
    status: failed ? 'failed' : 'ok',
    ...(failed ? { message: failed } : {}),
    dicePerSite: Object.fromEntries(Object.entries(fin.test ?? {}).filter(([, v]) => v.images > 0).map(([k, v]) => [k, v.dice])),
    pooledDice: fin.pooled?.dice ?? NaN,
    pooledIou: fin.pooled?.iou ?? NaN,
    perImageDice,
    bytesPerRound: res.summary.bytesPerRound,
    totalBytes: res.summary.totalBytesUp + res.summary.totalBytesDown,
    seconds: res.summary.seconds,
    rounds: res.summary.rounds,
    keptRound: res.summary.keptRound,
    ...(res.summary.converged !== undefined ? { converged: res.summary.converged } : {}),
    siteAttackAccuracy: attack.accuracy,
    siteAttackChance: attack.chance,
    siteFailures: res.summary.siteFailures.map((f) => `${f.site} (round${f.rounds.length > 1 ? 's' : ''} ${f.rounds.join(', ')}): ${f.message}`),
  };
  writeFileAtomic(path.join(cdir, 'cell.json'), stringifyNumbers(result));
  return result;
}

/** Read `<cell>/cell.json` (null when the cell has not finished); `null` numbers are NaN again. */
export function readCellResult(dir: string, id: string): CellResult | null {
  const f = path.join(dir, id, 'cell.json');
  if (!fs.existsSync(f)) return null;
  const raw = parseNumbers<CellResult>(fs.readFileSync(f, 'utf8'));
  raw.perImageDice = raw.perImageDice.map((x) => (Number.isFinite(x) ? x : NaN));
  return raw;
}

function strategyOf(cell: ExperimentCell) {
  const { label: _label, ...rest } = cell.strategy;
  return rest;
}
