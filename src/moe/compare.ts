/**
 * M4oE against its two natural baselines (Jiang & Shen 2024, arXiv:2405.09446,
 * whose introduction contrasts M4oE with "training distinct models per dataset"
 * and one shared network): same backbone, data, seed and epoch budget.
 * - `m4oe`: the MoE network, two-phase training ({@link trainM4oE});
 * - `shared`: one network without MoE, one head per modality, trained on all
 *   modalities with the same schedule (phase-1 style single-modality batches for
 *   `phase1Epochs`, then mixed batches for `phase2Epochs`);
 * - `separate`: one network without MoE per modality, trained on that modality
 *   only for `phase1Epochs + phase2Epochs` epochs; its parameter count is the sum.
 */
import { trainM4oE, type M4oEEvaluation, type M4oEEpochLog, type TrainM4oEOptions } from './train';

/** One row of the comparison table. */
export interface M4oEComparisonRow {
  method: 'm4oe' | 'shared' | 'separate';
  /** Parameters (sum over the separate models). */
  params: number;
  /** Per-modality test Dice (per-image mean, foreground). */
  dice: Record<string, number>;
  /** Mean of the per-modality Dice. */
  meanDice: number;
  /** Wall-clock training + evaluation seconds. */
  seconds: number;
  /** Expert utilization per modality (M4oE only). */
  utilization?: Record<string, number[]>;
}

/** Result of {@link compareM4oE}. */
export interface M4oEComparison {
  rows: M4oEComparisonRow[];
  /** Training histories per method (separate: per modality name). */
  histories: Record<string, M4oEEpochLog[]>;
  /** The rows as a Markdown table. */
  table: string;
}

/** Options of {@link compareM4oE}: those of `trainM4oE` without `variant` / `model`. */
export type CompareM4oEOptions = Omit<TrainM4oEOptions, 'variant' | 'model'>;

function diceOf(ev: M4oEEvaluation): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(ev.perModality)) out[k] = v.dice;
  return out;
}

/** Format comparison rows as a Markdown table (Dice to 3 decimals, utilization as `A: [..]`). */
export function formatComparison(rows: readonly M4oEComparisonRow[], modalities: readonly string[]): string {
  const head = ['method', 'params', ...modalities.map((m) => `Dice ${m}`), 'mean Dice', 'seconds', 'expert utilization'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const util = r.utilization
      ? modalities.map((m) => `${m}: [${(r.utilization![m] ?? []).map((v) => v.toFixed(2)).join(', ')}]`).join('; ')
      : '-';
    lines.push(
      `| ${[r.method, String(r.params), ...modalities.map((m) => (r.dice[m] ?? NaN).toFixed(3)), r.meanDice.toFixed(3), r.seconds.toFixed(1), util].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

/**
 * Train and evaluate M4oE, one shared model and separate per-modality models
 * (see the module doc); returns the table of per-modality Dice with parameter
 * counts and M4oE's expert utilization. Every model is disposed before returning.
 */
export async function compareM4oE(options: CompareM4oEOptions): Promise<M4oEComparison> {
  const names = options.modalities.map((m) => m.name);
  const rows: M4oEComparisonRow[] = [];
  const histories: Record<string, M4oEEpochLog[]> = {};

  let t0 = Date.now();
  const moe = await trainM4oE({ ...options, variant: 'moe' });
  rows.push({
    method: 'm4oe',
    params: moe.params,
    dice: diceOf(moe.evaluation),
    meanDice: moe.evaluation.meanDice,
    seconds: (Date.now() - t0) / 1000,
    utilization: moe.evaluation.utilization ?? undefined,
  });
  histories.m4oe = moe.history;
  moe.model.dispose();

  t0 = Date.now();
  const shared = await trainM4oE({ ...options, variant: 'shared' });
  rows.push({ method: 'shared', params: shared.params, dice: diceOf(shared.evaluation), meanDice: shared.evaluation.meanDice, seconds: (Date.now() - t0) / 1000 });
  histories.shared = shared.history;
  shared.model.dispose();

  t0 = Date.now();
  const dice: Record<string, number> = {};
  let params = 0;
  for (const m of options.modalities) {
    const one = await trainM4oE({
      ...options,
      variant: 'shared',
      modalities: [m],
      data: { [m.name]: options.data[m.name] },
      phase1Epochs: options.phase1Epochs + options.phase2Epochs,
      phase2Epochs: 0,
    });
    dice[m.name] = one.evaluation.perModality[m.name].dice;
    params += one.params;
    histories[`separate:${m.name}`] = one.history;
    one.model.dispose();
  }
  rows.push({ method: 'separate', params, dice, meanDice: names.reduce((a, n) => a + dice[n], 0) / names.length, seconds: (Date.now() - t0) / 1000 });
  return { rows, histories, table: formatComparison(rows, names) };
}
