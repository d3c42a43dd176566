/**
 * The MedMerge comparison driver (what `medfl medmerge` runs): MedMerge
 * (arXiv:2403.11646) and its baselines on one target task, from data set-up
 * to the rows of one table.
 *
 * Two models of one architecture (a U-Net for segmentation, the small CNN
 * classifier for classification) are trained from DIFFERENT initialisations
 * (seeds `seed + 1`, `seed + 2`) on different source tasks; `mergeBaselines`
 * then runs FT and LP-FT per source, uniform averaging, task arithmetic and
 * MedMerge with the same LP / FT epochs and head seed.
 *
 * - embedded: sources = synthetic polyp sites and synthetic lesion sites,
 *   target = a new synthetic lesion site;
 * - real: sources = Kvasir-SEG and CVC-ClinicDB, target = HAM10000
 *   (segmentation, or dx reduced to nv / bkl / other).
 *
 * Departures (stated in the logged header too):
 * - the sources come from different initialisations, so there is no common
 *   pre-trained base for task arithmetic; its "base" is source 0's initial
 *   (untrained) weights, i.e. task vectors relative to that init;
 * - real-data classification has no labelled source tasks in the shared
 *   samples; the sources learn "polyp small vs large" (mask area below /
 *   above the set's median) on Kvasir-SEG and CVC-ClinicDB.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import type { Dataset, InMemoryDataset } from '../data/types';
import { syntheticSites } from '../data/synthetic';
import { type MethodDataOptions, type MethodDataSettings, resolveMethodData, type DataSource, capSamples, checkImageSize, hamReducedLabels, openRealCvc, openRealHam10000, openRealKvasir, splitByPatient, withLabels } from '../data/sources';
import { createModel } from '../models/registry';
import { createClassifier } from '../models/classifier';
import { cloneModel } from '../models/weights';
import { evaluateTask, primaryScore, trainModelTask, type TaskKind, type TaskSpec } from '../train';
import { formatMergeTable, mergeBaselines, type MergeBaselineRow } from './baselines';

/** Options of {@link runMedMergeComparison}; every field has a default. */
export interface MedMergeComparisonOptions extends MethodDataOptions {
  /** Default 'segmentation'. */
  task?: TaskKind;
  /** Square image side; a multiple of 16 (U-Net) or 4 (classifier). Default 64 (quick 32). */
  size?: number;
  /** Images per set: segmentation 96 (quick 48), classification 192 (quick 96); real sets are capped to it only when given or quick. */
  samples?: number;
  /** Overrides every epoch count below. */
  epochs?: number;
  /** Source training epochs: segmentation 10 (quick 8), classification 15 (quick 10). */
  sourceEpochs?: number;
  /** Linear-probe epochs: segmentation 5 (quick 4), classification 8 (quick 6). */
  lpEpochs?: number;
  /** Fine-tuning epochs: as `lpEpochs`. */
  ftEpochs?: number;
  /** Model width. Default 4 (U-Net) / 8 (classifier). */
  width?: number;
  /** Default 8. */
  batchSize?: number;
  /** Progress lines. Default: none. */
  log?: (line: string) => void;
}

/** {@link MedMergeComparisonOptions} with every default applied. */
export interface MedMergeSettings extends MethodDataSettings {
  task: TaskKind;
  size: number;
  samples: number;
  sourceEpochs: number;
  lpEpochs: number;
  ftEpochs: number;
  width: number;
  batchSize: number;
}

/** What {@link runMedMergeComparison} returns: JSON-ready (this is what `--json` writes). */
export interface MedMergeComparison {
  command: 'medmerge';
  task: TaskKind;
  data: DataSource;
  seed: number;
  size: number;
  quick: boolean;
  backend: string;
  settings: { samples: number; width: number; sourceEpochs: number; lpEpochs: number; ftEpochs: number; batchSize: number };
  /** Each source model on its own test split (Dice or macro-F1) and its last training loss. */
  sources: { name: string; score: number; loss: number }[];
  target: { name: string; train: number; test: number };
  /** ft (per source), lp-ft (per source), uniform, task-arithmetic, medmerge. */
  rows: MergeBaselineRow[];
  seconds: number;
}

/** Image side multiple each model needs. */
export function medMergeSizeMultiple(task: TaskKind): number {
  return task === 'segmentation' ? 16 : 4;
}

/** Apply the defaults (see {@link MedMergeComparisonOptions}) and check them; throws for an invalid size. */
export function resolveMedMergeSettings(o: MedMergeComparisonOptions = {}): MedMergeSettings {
  const task = o.task ?? 'segmentation';
  const seg = task === 'segmentation';
  const common = resolveMethodData(o);
  const { quick } = common;
  // budgets: [quick, default] per task (the classifier is ~50x cheaper per image than the U-Net)
  const pick = (segQuick: number, segFull: number, clsQuick: number, clsFull: number): number => (seg ? (quick ? segQuick : segFull) : quick ? clsQuick : clsFull);
  const size = o.size ?? (quick ? 32 : 64);
  checkImageSize(size, medMergeSizeMultiple(task), seg ? 'the U-Net' : 'the classifier');
  return {
    task,
    ...common,
    size,
    samples: o.samples ?? pick(48, 96, 96, 192),
    sourceEpochs: o.sourceEpochs ?? o.epochs ?? pick(8, 10, 10, 15),
    lpEpochs: o.lpEpochs ?? o.epochs ?? pick(4, 5, 6, 8),
    ftEpochs: o.ftEpochs ?? o.epochs ?? pick(4, 5, 6, 8),
    width: o.width ?? (seg ? 4 : 8),
    batchSize: o.batchSize ?? 8,
  };
}

interface MergeSource {
  name: string;
  train: InMemoryDataset;
  test: InMemoryDataset;
}

/** "Small vs large polyp": mask area fraction at or above the set's median -> 1. */
function polypSizeLabels(ds: InMemoryDataset): InMemoryDataset {
  const frac = ds.samples.map((s) => (s.mask ? s.mask.reduce((a, v) => a + (v > 0 ? 1 : 0), 0) / s.mask.length : 0));
  const sorted = [...frac].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return withLabels(ds, `${ds.name} polyp size`, ['small', 'large'], (_s, i) => (frac[i] >= median ? 1 : 0));
}

async function mergeData(s: MedMergeSettings): Promise<{ sources: MergeSource[]; target: MergeSource }> {
  const { size, seed, samples: n } = s;
  const strat = s.task !== 'segmentation';
  if (s.data === 'embedded') {
    const half = Math.max(1, Math.ceil(n / 2));
    const polyp = syntheticSites({ sites: 2, samplesPerSite: half, size, task: 'polyp', seed: seed + 101, name: 'synthetic polyp (2 sites)' });
    const lesion = syntheticSites({ sites: 2, samplesPerSite: half, size, task: 'lesion', seed: seed + 202, name: 'synthetic lesion (2 sites)' });
    const tgt = syntheticSites({ sites: 1, samplesPerSite: n, size, task: 'lesion', seed: seed + 303, heterogeneity: 1, name: 'synthetic lesion (new site)' });
    return {
      sources: [
        { name: polyp.name, ...splitByPatient(polyp, 0.2, seed, strat) },
        { name: lesion.name, ...splitByPatient(lesion, 0.2, seed, strat) },
      ],
      target: { name: tgt.name, ...splitByPatient(tgt, 0.5, seed + 1, strat) },
    };
  }
  let kvasir = await openRealKvasir(s, size);
  let cvc = await openRealCvc(s, size);
  let ham = await openRealHam10000(s, size, false);
  if (s.capReal) {
    kvasir = capSamples(kvasir, n, seed);
    cvc = capSamples(cvc, n, seed);
    ham = capSamples(ham, n, seed);
  }
  if (strat) {
    kvasir = polypSizeLabels(kvasir);
    cvc = polypSizeLabels(cvc);
    ham = hamReducedLabels(ham);
  }
  return {
    sources: [
      { name: kvasir.name, ...splitByPatient(kvasir, 0.2, seed, strat) },
      { name: cvc.name, ...splitByPatient(cvc, 0.2, seed, strat) },
    ],
    target: { name: ham.name, ...splitByPatient(ham, 0.4, seed + 1, strat) },
  };
}

/**
 * Run MedMerge and its baselines (see module doc) and return the rows.
 * Logs the set-up and each source's score through `options.log`.
 * Disposes every model it builds.
 */
export async function runMedMergeComparison(options: MedMergeComparisonOptions = {}): Promise<MedMergeComparison> {
  const s = resolveMedMergeSettings(options);
  const log = options.log ?? (() => {});
  const { task, size, seed, width } = s;
  const seg = task === 'segmentation';
  const t0 = Date.now();
  const backend = await initBackend(undefined, { log });
  const { sources, target } = await mergeData(s);
  const shape: [number, number, number] = [size, size, 3];
  const specOf = (d: Dataset): TaskSpec => ({ task, numClasses: seg ? 1 : d.classNames.length });
  const build = (k: number): tf.LayersModel =>
    seg
      ? createModel('unet', { inputShape: shape, numClasses: 1, width, seed: seed + 1 + k })
      : createClassifier({ inputShape: shape, numClasses: sources[k].train.classNames.length, width, seed: seed + 1 + k });

  log(`[medmerge] ${task} on ${s.data} data, ${size}x${size}, seed ${seed}${s.quick ? ', quick' : ''}`);
  log(`  sources: ${sources.map((x) => `${x.name} (${x.train.length} train / ${x.test.length} test)`).join('; ')}`);
  log(`  target:  ${target.name} (${target.train.length} train / ${target.test.length} test)${seg ? '' : `, classes ${target.train.classNames.join('/')}`}`);
  log(`  model: ${seg ? 'U-Net' : 'CNN classifier'} width ${width}, each source from its own initialisation (seeds ${seed + 1}, ${seed + 2})`);
  log(`  epochs: source ${s.sourceEpochs}, LP ${s.lpEpochs}, FT ${s.ftEpochs}; task arithmetic's base = source 0's initial weights (no common pre-trained base)`);

  // --- source models, trained from different initialisations
  const models: tf.LayersModel[] = [];
  let base: tf.LayersModel | undefined;
  const sourceScores: { name: string; score: number; loss: number }[] = [];
  try {
    for (let k = 0; k < sources.length; k++) {
      const m = build(k);
      models.push(m);
      if (k === 0) base = await cloneModel(m);
      const spec = specOf(sources[k].train);
      const logs = await trainModelTask(m, sources[k].train, {
        spec,
        epochs: s.sourceEpochs,
        learningRate: 3e-3,
        batchSize: s.batchSize,
        seed: seed + 10 + k,
      });
      const loss = logs.length ? logs[logs.length - 1].loss : NaN;
      const score = primaryScore(spec, await evaluateTask((x) => m.predict(x) as tf.Tensor, sources[k].test, spec));
      sourceScores.push({ name: sources[k].name, score, loss });
      log(`  source ${k} (${sources[k].name}): train loss ${loss.toFixed(3)}, own test ${seg ? 'Dice' : 'macro-F1'} ${score.toFixed(3)}`);
    }
    const rows = await mergeBaselines({
      sources: models,
      base,
      target: { train: target.train, test: target.test },
      task,
      lpEpochs: s.lpEpochs,
      ftEpochs: s.ftEpochs,
      batchSize: s.batchSize,
      seed,
    });
    return {
      command: 'medmerge',
      task,
      data: s.data,
      seed,
      size,
      quick: s.quick,
      backend: backend.name,
      settings: { samples: s.samples, width, sourceEpochs: s.sourceEpochs, lpEpochs: s.lpEpochs, ftEpochs: s.ftEpochs, batchSize: s.batchSize },
      sources: sourceScores,
      target: { name: target.name, train: target.train.length, test: target.test.length },
      rows,
      seconds: Math.round((Date.now() - t0) / 100) / 10,
    };
  } finally {
    models.forEach((m) => m.dispose());
    base?.dispose();
  }
}

/** The result block `medfl medmerge` prints: title, the table, the best row and the time. */
export function formatMedMergeComparison(r: MedMergeComparison): string {
  const seg = r.task === 'segmentation';
  const best = r.rows.reduce((a, x) => (x.score > a.score ? x : a), r.rows[0]);
  return [
    `MedMerge vs baselines, target ${r.target.name} (${r.task}, ${r.target.test} test images; backend ${r.backend}):`,
    formatMergeTable(r.rows, r.task),
    `best ${seg ? 'Dice' : 'macro-F1'}: ${best.method}${best.source !== undefined ? ` (src ${best.source})` : ''} ${best.score.toFixed(3)}; total ${r.seconds.toFixed(1)} s`,
  ].join('\n');
}
