/**
 * `npm run demo` / `medfl demo`: the main job on the embedded data.
 *
 * Builds the seeded synthetic multi-site polyp dataset (sites differ in
 * scanner appearance and label mix), splits every site into train/test by
 * patient, and trains the same small segmentation network four ways with the
 * same seed and budget: centralized (pooled data, the upper baseline), local
 * (each site alone, the lower baseline), FedAvg, and SplitFed (U-shaped, SFLV1:
 * labels never leave the sites). Prints per-round progress with an ETA, then
 * per-site and pooled Dice and IoU on the held-out images and the bytes each
 * strategy moved per round.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../backend';
import { syntheticSites } from '../data/synthetic';
import { buildSites, pooledTest } from '../data/site';
import type { Dataset, SubsetDataset } from '../data/types';
import { createModel } from '../models/registry';
import { evaluateSegmentation, type SegmentationSummary } from '../train';
import { compareStrategies, formatComparison, DEFAULT_COMPARISON, type ComparisonRow } from '../fl/compare';
import type { FederatedResult, StrategyConfig } from '../fl/types';
import { formatTable, formatSeconds, formatBytes, type Cell } from '../util/table';
import { formatInterval, pairedComparison, tInterval, type PairedComparisonResult, type TIntervalResult } from '../metrics/statistics';

/** Options of {@link runDemo} (defaults: about 2-3 minutes on 2 CPU cores). */
export interface DemoOptions {
  /** Hospitals / sites. Default 4. */
  sites?: number;
  /** Images per site. Default 32. */
  samplesPerSite?: number;
  /** Image size (square). Default 64. */
  size?: number;
  /** Synthetic task. Default 'polyp'. */
  task?: 'polyp' | 'lesion';
  /** Zoo architecture. Default 'unet'. */
  model?: string;
  /** Model width (default 4). */
  width?: number;
  /** Communication rounds per strategy (centralized / local train rounds x localEpochs epochs). Default 5. */
  rounds?: number;
  /** Local epochs per round. Default 2. */
  localEpochs?: number;
  /** Default 8. */
  batchSize?: number;
  /** Default 5e-3. */
  learningRate?: number;
  /** Fraction of each site's patients held out for testing. Default 0.25. */
  testFraction?: number;
  /** Default: centralized, local, fedavg, splitfed (v1, u-shaped). */
  strategies?: StrategyConfig[];
  /** Worker threads for fedavg / local sites. Default 1. */
  workers?: number;
  /** Write each strategy's run folder under this directory. Default: none. */
  outDir?: string;
  /** Default 0: the seed of the data and splits, and of the first run. */
  seed?: number;
  /**
   * Runs per strategy with seeds seed, seed+1, ... (initialisation and batch
   * order; same data and splits). With more than one, the table gives each
   * strategy's pooled Dice as mean and 95% t interval over the runs, and
   * paired comparisons against centralized training. Default 1.
   */
  seeds?: number;
  /** Force a backend (default: initBackend's choice). */
  backend?: BackendName;
  /** Output sink. Default console.log. */
  out?: (line: string) => void;
}

/** What {@link runDemo} measured. */
export interface DemoResult {
  backend: string;
  parameters: number;
  trainImages: number;
  testImages: number;
  /** The untrained model on the pooled test images. */
  initial: SegmentationSummary;
  rows: ComparisonRow[];
  results: FederatedResult[];
  /** Centralized training images per second (all epochs). */
  imagesPerSecond: number;
  /** With `seeds` > 1: each strategy's pooled Dice per seed (rows' order), its interval, and the paired comparisons. */
  overSeeds?: { label: string; dice: number[]; interval: TIntervalResult; vsCentralized?: PairedComparisonResult }[];
  seconds: number;
}

/**
 * Per-site train/test indices of a multi-site dataset, split by patient
 * within each site: the sites of {@link buildSites} (`meta.site`, groups
 * `patientId`, per-site seed `'<seed>|<site>'`) as indices into `data`,
 * concatenated in site order (natural order of the site names), ascending
 * within a site.
 */
export function splitSitesByPatient(data: Dataset, testFraction: number, seed: number): { train: number[]; test: number[] } {
  const sites = buildSites(data, { testFraction, seed, groupKey: 'patientId' });
  const indices = (d: Dataset): readonly number[] => (d as SubsetDataset).indices;
  return { train: sites.flatMap((s) => indices(s.train)), test: sites.flatMap((s) => indices(s.test)) };
}

function scoreTable(rows: readonly ComparisonRow[], results: readonly FederatedResult[], metric: 'dice' | 'iou', initial?: SegmentationSummary): string {
  const sites = [...new Set(results.flatMap((r) => Object.keys(r.summary.final.test ?? {})))].sort();
  const body: Cell[][] = rows.map((row, i) => {
    const fin = results[i].summary.final;
    return [row.label, ...sites.map((s) => fin.test?.[s]?.[metric] ?? NaN), fin.pooled?.[metric] ?? NaN];
  });
  if (initial) body.unshift(['(untrained)', ...sites.map(() => null), initial[metric]]);
  return formatTable(['strategy', ...sites, 'pooled'], body);
}

/** Run the demo; returns the measurements (also printed through `out`). */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const out = options.out ?? ((l: string) => console.log(l));
  const t0 = Date.now();
  const seed = options.seed ?? 0;
  const info = await initBackend(options.backend, { log: out });
  const size = options.size ?? 64;
  const nSites = options.sites ?? 4;
  const data = syntheticSites({ sites: nSites, samplesPerSite: options.samplesPerSite ?? 32, size, task: options.task ?? 'polyp', seed });
  const sites = buildSites(data, { testFraction: options.testFraction ?? 0.25, seed, groupKey: 'patientId' });
  const trainImages = sites.reduce((s, x) => s + x.train.length, 0);
  const testImages = sites.reduce((s, x) => s + x.test.length, 0);
  out(`[medfl] data: ${data.name}, ${nSites} sites (${sites.map((s) => `${s.name} ${s.train.length}/${s.test.length}`).join(', ')} train/test) at ${size}x${size}`);
  const modelName = options.model ?? 'unet';
  const width = options.width ?? 4;
  const probe = createModel(modelName, { inputShape: [size, size, 3], numClasses: 1, width, seed });
  const parameters = probe.countParams();
  const initial = (await evaluateSegmentation(probe, pooledTest(sites))).overall;
  probe.dispose();
  out(`[medfl] model: ${modelName} (width ${width}), ${parameters.toLocaleString('en-US')} parameters; untrained pooled Dice ${initial.dice.toFixed(3)}`);

  const strategies = options.strategies ?? [...DEFAULT_COMPARISON];
  const rounds = options.rounds ?? 5;
  const nSeeds = options.seeds ?? 1;
  if (!Number.isInteger(nSeeds) || nSeeds < 1) throw new Error(`runDemo: seeds must be an integer >= 1, got ${nSeeds}`);
  const totalRounds = strategies.length * rounds * nSeeds;
  let done = 0;
  const tTrain = Date.now();
  const runs: Awaited<ReturnType<typeof compareStrategies>>[] = [];
  for (let k = 0; k < nSeeds; k++) {
    if (nSeeds > 1) out(`[medfl] seed ${seed + k} (${k + 1}/${nSeeds}): same data and splits, other initialisation and batch order`);
    runs.push(
      await compareStrategies(sites, {
        model: { name: modelName, inputShape: [size, size, 3], numClasses: 1, width },
        rounds,
        localEpochs: options.localEpochs ?? 2,
        batchSize: options.batchSize ?? 8,
        learningRate: options.learningRate ?? 5e-3,
        seed: seed + k,
        strategies,
        workers: options.workers ?? 1,
        outDir: options.outDir && nSeeds > 1 ? `${options.outDir}/seed-${seed + k}` : options.outDir,
        onRound: (label, rec) => {
          done++;
          const elapsed = (Date.now() - tTrain) / 1000;
          const eta = (elapsed / done) * (totalRounds - done);
          const pooled = rec.pooled?.dice;
          out(
            `  ${label.padEnd(22)} round ${rec.round + 1}/${rounds}  pooled Dice ${pooled === undefined ? '  -  ' : pooled.toFixed(3)}  ` +
              `${formatBytes(rec.bytes.totalUp + rec.bytes.totalDown).padStart(9)} moved  [${done}/${totalRounds}] elapsed ${formatSeconds(elapsed)} ETA ${formatSeconds(eta)}`,
          );
        },
      }),
    );
  }
  const cmp = runs[0];
  out('');
  out('Held-out Dice per site (per-image mean; pooled = image-weighted over all sites), bytes moved per round:');
  out(formatComparison(cmp.rows));
  out('');
  out('Held-out IoU per site:');
  out(scoreTable(cmp.rows, cmp.results, 'iou'));
  const central = cmp.rows.findIndex((r) => r.strategy === 'centralized');
  const ips = central >= 0 ? (trainImages * rounds * (options.localEpochs ?? 2)) / cmp.results[central].summary.seconds : NaN;
  let overSeeds: DemoResult['overSeeds'];
  if (nSeeds > 1) {
    const central = cmp.rows.findIndex((r) => r.strategy === 'centralized');
    overSeeds = cmp.rows.map((r, i) => {
      const dice = runs.map((run) => run.rows[i].pooledDice);
      const vs = central >= 0 && i !== central ? pairedComparison(dice, runs.map((run) => run.rows[central].pooledDice)) : undefined;
      return { label: r.label, dice, interval: tInterval(dice), ...(vs ? { vsCentralized: vs } : {}) };
    });
    out('');
    out(`Pooled held-out Dice over ${nSeeds} seeds (${seed}..${seed + nSeeds - 1}; same splits): mean [95% t interval], paired difference to centralized:`);
    out(
      formatTable(
        ['strategy', 'Dice mean [95% CI]', ...runs.map((_, k) => `seed ${seed + k}`), 'minus centralized [95% CI]', 'p', 'verdict'],
        overSeeds.map((o) => [
          o.label,
          formatInterval(o.interval),
          ...o.dice,
          o.vsCentralized ? `${o.vsCentralized.meanDifference >= 0 ? '+' : ''}${o.vsCentralized.meanDifference.toFixed(3)} [${o.vsCentralized.lower.toFixed(3)}, ${o.vsCentralized.upper.toFixed(3)}]` : '-',
          o.vsCentralized && Number.isFinite(o.vsCentralized.pValue) ? o.vsCentralized.pValue.toPrecision(2) : '-',
          o.vsCentralized ? o.vsCentralized.verdict : '-',
        ]),
      ),
    );
  }
  const seconds = (Date.now() - t0) / 1000;
  out('');
  out(`[medfl] backend ${info.name}; centralized training ${Number.isFinite(ips) ? ips.toFixed(1) : '-'} img/s (incl. per-round evaluation); total ${formatSeconds(seconds)}`);
  if (tf.memory().numTensors > 0 && process.env.MEDFL_DEBUG) out(`[medfl] tensors alive: ${tf.memory().numTensors}`);
  return { backend: info.name, parameters, trainImages, testImages, initial, rows: cmp.rows, results: cmp.results, imagesPerSecond: ips, seconds, ...(overSeeds ? { overSeeds } : {}) };
}
