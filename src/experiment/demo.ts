/**
 * `npm run demo` / `medfl demo`: the main job on the embedded data.
 *
 * Builds the seeded synthetic multi-site polyp dataset, splits every site into
 * train/test by patient, trains a small segmentation network on the pooled
 * training data (the centralized baseline) with a per-epoch progress line, and
 * prints per-site and overall Dice/IoU on the held-out images.
 */
import type * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../backend';
import { syntheticSites } from '../data/synthetic';
import { splitByGroup } from '../data/split';
import type { InMemoryDataset } from '../data/types';
import { createModel } from '../models/registry';
import { trainSegmentation, evaluateSegmentation, type SegmentationEvaluation } from '../fl/train';
import { formatTable, formatSeconds } from '../util/table';
import { hashSeed } from '../util/rng';

/** Options of {@link runDemo} (defaults finish in about a minute on 2 cores). */
export interface DemoOptions {
  /** Hospitals / sites. Default 4. */
  sites?: number;
  /** Images per site. Default 40. */
  samplesPerSite?: number;
  /** Image size (square). Default 64. */
  size?: number;
  /** Synthetic task. Default 'polyp'. */
  task?: 'polyp' | 'lesion';
  /** Zoo architecture. Default 'unet'. */
  model?: string;
  /** Model width (default: the architecture's CPU-friendly default). */
  width?: number;
  /** Training epochs. Default 6. */
  epochs?: number;
  /** Default 8. */
  batchSize?: number;
  /** Default 2e-3. */
  learningRate?: number;
  /** Fraction of each site's patients held out for testing. Default 0.25. */
  testFraction?: number;
  /** Default 0. */
  seed?: number;
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
  before: SegmentationEvaluation;
  after: SegmentationEvaluation;
  /** Training images per second (median over epochs). */
  imagesPerSecond: number;
  seconds: number;
}

/** Per-site train/test indices of a multi-site dataset, split by patient within each site. */
export function splitSitesByPatient(data: InMemoryDataset, testFraction: number, seed: number): { train: number[]; test: number[] } {
  const bySite = new Map<string, number[]>();
  for (let i = 0; i < data.length; i++) {
    const s = String(data.info(i).meta.site ?? 'unknown');
    if (!bySite.has(s)) bySite.set(s, []);
    bySite.get(s)!.push(i);
  }
  const train: number[] = [];
  const test: number[] = [];
  for (const [site, idx] of [...bySite.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const infos = idx.map((i) => data.info(i));
    const split = splitByGroup(infos, { fractions: [1 - testFraction, 0, testFraction], groupKey: 'patientId', seed: hashSeed(`${seed}:${site}`) });
    train.push(...split.train.map((j) => idx[j]));
    test.push(...split.test.map((j) => idx[j]));
  }
  return { train, test };
}

function evaluationTable(before: SegmentationEvaluation, after: SegmentationEvaluation): string {
  const rows = Object.keys(after.groups).map((site) => {
    const a = after.groups[site];
    const b = before.groups[site];
    return [site, a.images, b?.dice ?? NaN, a.dice, a.iou, a.pooledDice];
  });
  rows.push(['overall', after.overall.images, before.overall.dice, after.overall.dice, after.overall.iou, after.overall.pooledDice]);
  return formatTable(['site', 'test images', 'Dice before', 'Dice after', 'IoU after', 'pooled Dice'], rows);
}

/** Run the demo; returns the measurements (also printed through `out`). */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const out = options.out ?? ((l: string) => console.log(l));
  const t0 = Date.now();
  const seed = options.seed ?? 0;
  const info = await initBackend(options.backend, { log: out });
  const size = options.size ?? 64;
  const data = syntheticSites({
    sites: options.sites ?? 4,
    samplesPerSite: options.samplesPerSite ?? 40,
    size,
    task: options.task ?? 'polyp',
    seed,
  });
  const { train, test } = splitSitesByPatient(data, options.testFraction ?? 0.25, seed);
  out(`[medfl] data: ${data.name}, ${options.sites ?? 4} sites, ${train.length} train / ${test.length} test images at ${size}x${size}`);
  const modelName = options.model ?? 'unet';
  const model: tf.LayersModel = createModel(modelName, { inputShape: [size, size, 3], numClasses: 1, width: options.width, seed });
  out(`[medfl] model: ${modelName}, ${model.countParams().toLocaleString('en-US')} parameters`);
  try {
    const before = await evaluateSegmentation(model, data, { indices: test });
    const epochs = options.epochs ?? 6;
    const speeds: number[] = [];
    const tTrain = Date.now();
    await trainSegmentation(model, data, {
      epochs,
      indices: train,
      batchSize: options.batchSize ?? 8,
      learningRate: options.learningRate ?? 2e-3,
      seed,
      onEpoch: (log) => {
        const ips = log.images / Math.max(1e-9, log.seconds);
        speeds.push(ips);
        const elapsed = (Date.now() - tTrain) / 1000;
        const eta = (elapsed / (log.epoch + 1)) * (epochs - log.epoch - 1);
        out(`  epoch ${log.epoch + 1}/${epochs}  loss ${log.loss.toFixed(4)}  ${ips.toFixed(1)} img/s  elapsed ${formatSeconds(elapsed)}  ETA ${formatSeconds(eta)}`);
      },
    });
    const after = await evaluateSegmentation(model, data, { indices: test });
    out('');
    out('Centralized training, held-out Dice/IoU per site (per-image mean; pooled = over all pixels):');
    out(evaluationTable(before, after));
    const sorted = [...speeds].sort((a, b) => a - b);
    const median = sorted.length ? sorted[Math.floor(sorted.length / 2)] : NaN;
    const seconds = (Date.now() - t0) / 1000;
    out('');
    out(`[medfl] backend ${info.name}; training throughput ${median.toFixed(1)} img/s (median epoch); total ${formatSeconds(seconds)}`);
    return {
      backend: info.name,
      parameters: model.countParams(),
      trainImages: train.length,
      testImages: test.length,
      before,
      after,
      imagesPerSecond: median,
      seconds,
    };
  } finally {
    model.dispose();
  }
}
