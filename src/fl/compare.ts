/**
 * Side-by-side comparison of the strategies on the same sites, model, seed
 * and training budget (rounds x local epochs), as in the multi-site
 * comparisons of arXiv:2303.13567 (centralized vs local vs federated) and
 * SplitFed (arXiv:2004.12088). Used by `medfl demo`.
 */
import type { Dataset } from '../data/types';
import { runFederated } from './rounds';
import { strategyLabel } from './registry';
import { formatBytes } from '../util/table';
import type { FederatedResult, ModelConfig, RoundRecord, StrategyConfig } from './types';
import type { Site } from '../data/site';

/** Options of {@link compareStrategies}. */
export interface CompareOptions {
  /** Default: 'unet' (width 4) at the first training image's `[H, W, C]`, one sigmoid output. */
  model?: ModelConfig;
  /** Rounds per strategy (default 5). Centralized / local train the same number of epochs. */
  rounds?: number;
  /** Local epochs per round (default 2). */
  localEpochs?: number;
  /** Default 8. */
  batchSize?: number;
  /** Client Adam learning rate (default 5e-3: enough to learn something in the small default budget). */
  learningRate?: number;
  /** Default 0. */
  seed?: number;
  /**
   * Default: centralized, local, fedavg, splitfed (u-shaped, v1) — in that order.
   * Labels in the table are the strategy names plus variant/mode for splitfed.
   */
  strategies?: StrategyConfig[];
  /** Scored with every strategy's global model (mean over site models for local). */
  globalTest?: Dataset;
  /** Worker threads for fedavg / local (default 1). */
  workers?: number;
  /** When set, each strategy writes its run folder to `<outDir>/<label>`. */
  outDir?: string;
  log?: (message: string) => void;
  /** After every completed round of every strategy (progress / ETA). */
  onRound?: (label: string, record: RoundRecord) => void;
}

/** One line of the comparison. */
export interface ComparisonRow {
  label: string;
  strategy: StrategyConfig['name'];
  /** Final test Dice per site (each site's deployed model on its own test split). */
  dicePerSite: Record<string, number>;
  /** Image-weighted mean over the sites' test splits. */
  pooledDice: number;
  /** Dice on `globalTest` (NaN when none was given). */
  globalDice: number;
  /** Mean bytes (up + down, all sites) per round. */
  bytesPerRound: number;
  totalBytes: number;
  seconds: number;
}

/** Output of {@link compareStrategies}. */
export interface Comparison {
  rows: ComparisonRow[];
  results: FederatedResult[];
}

/** Default strategy set of {@link compareStrategies}. */
export const DEFAULT_COMPARISON: readonly StrategyConfig[] = [
  { name: 'centralized' },
  { name: 'local' },
  { name: 'fedavg' },
  { name: 'splitfed', variant: 'v1', mode: 'u-shaped' },
];

/**
 * Run each strategy with the same model, seed and budget and tabulate the
 * final per-site Dice, pooled and global Dice, communication and time.
 * The backend must be initialised by the caller. Default budget (5 rounds x
 * 2 epochs, unet width 4, lr 5e-3, evaluation every round): measured 196 s
 * for 4 sites x 32 images of 64 x 64 (75/25 train/test) on two heavily
 * shared CPU cores with the wasm backend (load average 8-10); pooled Dice
 * centralized 0.53 > splitfed 0.35 ~ fedavg 0.34 > local 0.23.
 */
export async function compareStrategies(sites: readonly Site[], options: CompareOptions = {}): Promise<Comparison> {
  if (sites.length === 0) throw new Error('compareStrategies: no sites');
  let model = options.model;
  if (!model) {
    const first = await sites[0].train.load(0);
    model = { name: 'unet', inputShape: first.shape, numClasses: 1, width: 4 };
  }
  const rows: ComparisonRow[] = [];
  const results: FederatedResult[] = [];
  for (const strategy of options.strategies ?? DEFAULT_COMPARISON) {
    const label = strategyLabel(strategy);
    options.log?.(`[medfl] compare: ${label}`);
    const res = await runFederated(
      {
        strategy,
        model,
        rounds: options.rounds ?? 5,
        localEpochs: options.localEpochs ?? 2,
        batchSize: options.batchSize ?? 8,
        learningRate: options.learningRate ?? 5e-3,
        seed: options.seed ?? 0,
        workers: options.workers ?? 1,
        outDir: options.outDir ? `${options.outDir}/${label}` : undefined,
      },
      sites,
      options.globalTest,
      { log: options.log, onRound: options.onRound ? (r) => options.onRound!(label, r) : undefined },
    );
    const s = res.summary;
    rows.push({
      label,
      strategy: strategy.name,
      dicePerSite: Object.fromEntries(Object.entries(s.final.test ?? {}).map(([k, v]) => [k, v.dice])),
      pooledDice: s.final.pooled?.dice ?? NaN,
      globalDice: s.final.global?.dice ?? NaN,
      bytesPerRound: s.bytesPerRound,
      totalBytes: s.totalBytesUp + s.totalBytesDown,
      seconds: s.seconds,
    });
    results.push(res);
  }
  return { rows, results };
}

/** The comparison as a fixed-width text table (Dice to 3 decimals, bytes in binary units via formatBytes). */
export function formatComparison(rows: readonly ComparisonRow[]): string {
  const sites = [...new Set(rows.flatMap((r) => Object.keys(r.dicePerSite)))].sort();
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '-');
  const withGlobal = rows.some((r) => Number.isFinite(r.globalDice));
  const head = ['strategy', ...sites, 'pooled', ...(withGlobal ? ['global'] : []), 'bytes/round', 'seconds'];
  const body = rows.map((r) => [r.label, ...sites.map((s) => f(r.dicePerSite[s] ?? NaN)), f(r.pooledDice), ...(withGlobal ? [f(r.globalDice)] : []), formatBytes(r.bytesPerRound), r.seconds.toFixed(1)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
