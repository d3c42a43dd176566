/**
 * The M4oE comparison driver (what `medfl m4oe` runs): M4oE
 * (arXiv:2405.09446) — one mixture-of-experts network for two modalities,
 * one expert per modality, two-phase training — against one shared network
 * and separate per-modality networks (`compareM4oE`: same backbone, seed and
 * epochs), binary masks.
 *
 * - embedded: synthetic polyp (endoscopy) + synthetic lesion (dermoscopy),
 *   `samples` train and max(4, samples / 2) test images each;
 * - real: Kvasir-SEG + HAM10000, 70 / 30 patient-grouped split.
 */
import { initBackend } from '../backend';
import type { InMemoryDataset } from '../data/types';
import { syntheticSites } from '../data/synthetic';
import { type MethodDataOptions, type MethodDataSettings, resolveMethodData, type DataSource, capSamples, checkImageSize, openRealHam10000, openRealKvasir, splitByPatient } from '../data/sources';
import { compareM4oE, formatComparison, type M4oEComparisonRow } from './compare';
import type { M4oEBuilder } from './train';
import type { SiteSplits } from '../data/site';

/** Options of {@link runM4oEComparison}; every field has a default. */
export interface M4oEComparisonOptions extends MethodDataOptions {
  /** MoE U-Net ('unet', CPU-scale) or the paper's Swin-Unet ('swin'). Default 'unet'. */
  builder?: M4oEBuilder;
  /** Square image side; multiple of 16 (unet) or 32 (swin). Default 48 (swin 64); quick 32. */
  size?: number;
  /** Train images per modality. Default 48 (quick 24); real sets are capped only when given or quick. */
  samples?: number;
  /** Overrides both phases' epochs. */
  epochs?: number;
  /** Phase 1 epochs (hard routing). Default 5 (quick 3). */
  phase1Epochs?: number;
  /** Phase 2 epochs (soft routing + CV balance loss). Default 5 (quick 3). */
  phase2Epochs?: number;
  /** Backbone width. Default: the builder's. */
  width?: number;
  /** Default 8. */
  batchSize?: number;
  /** Progress lines. Default: none. */
  log?: (line: string) => void;
}

/** {@link M4oEComparisonOptions} with every default applied. */
export interface M4oESettings extends MethodDataSettings {
  builder: M4oEBuilder;
  size: number;
  samples: number;
  test: number;
  phase1Epochs: number;
  phase2Epochs: number;
  width?: number;
  batchSize: number;
  learningRate: number;
}

/** What {@link runM4oEComparison} returns: JSON-ready (this is what `--json` writes). */
export interface M4oEComparisonReport {
  command: 'm4oe';
  builder: M4oEBuilder;
  data: DataSource;
  seed: number;
  size: number;
  quick: boolean;
  backend: string;
  settings: { samples: number; test: number; phase1Epochs: number; phase2Epochs: number; width: number | null; batchSize: number; learningRate: number };
  modalities: { name: string; train: number; test: number }[];
  /** m4oe, shared, separate. */
  rows: M4oEComparisonRow[];
  seconds: number;
}

/** Apply the defaults (see {@link M4oEComparisonOptions}) and check them; throws for an invalid size. */
export function resolveM4oESettings(o: M4oEComparisonOptions = {}): M4oESettings {
  const builder = o.builder ?? 'unet';
  const swin = builder === 'swin';
  const common = resolveMethodData(o);
  const { quick } = common;
  const size = o.size ?? (quick ? 32 : swin ? 64 : 48);
  checkImageSize(size, swin ? 32 : 16, swin ? 'the Swin-Unet' : 'the MoE U-Net');
  const samples = o.samples ?? (quick ? 24 : 48);
  return {
    builder,
    ...common,
    size,
    samples,
    test: Math.max(4, Math.round(samples / 2)),
    phase1Epochs: o.phase1Epochs ?? o.epochs ?? (quick ? 3 : 5),
    phase2Epochs: o.phase2Epochs ?? o.epochs ?? (quick ? 3 : 5),
    width: o.width,
    batchSize: o.batchSize ?? 8,
    learningRate: 3e-3,
  };
}

async function moeData(s: M4oESettings): Promise<{ names: [string, string]; sets: [InMemoryDataset, InMemoryDataset]; data: Record<string, SiteSplits> }> {
  const { size, seed, samples: n, test: nTest } = s;
  let names: [string, string];
  let sets: [InMemoryDataset, InMemoryDataset];
  if (s.data === 'embedded') {
    names = ['polyp', 'lesion'];
    sets = [
      syntheticSites({ sites: 1, samplesPerSite: n + nTest, size, task: 'polyp', seed: seed + 1, name: 'synthetic polyp (endoscopy)' }),
      syntheticSites({ sites: 1, samplesPerSite: n + nTest, size, task: 'lesion', seed: seed + 2, name: 'synthetic lesion (dermoscopy)' }),
    ];
  } else {
    names = ['Kvasir-SEG', 'HAM10000'];
    let kvasir = await openRealKvasir(s, size);
    let ham = await openRealHam10000(s, size, false);
    if (s.capReal) {
      kvasir = capSamples(kvasir, n + nTest, seed);
      ham = capSamples(ham, n + nTest, seed);
    }
    sets = [kvasir, ham];
  }
  const data: Record<string, SiteSplits> = {};
  names.forEach((name, k) => {
    const ds = sets[k];
    data[name] =
      s.data === 'embedded'
        ? { train: ds.subset(Array.from({ length: n }, (_, i) => i)), test: ds.subset(Array.from({ length: nTest }, (_, i) => n + i)) }
        : splitByPatient(ds, 0.3, seed + k);
  });
  return { names, sets, data };
}

/**
 * Run M4oE against the shared and separate baselines (see module doc).
 * Logs the set-up through `options.log`.
 */
export async function runM4oEComparison(options: M4oEComparisonOptions = {}): Promise<M4oEComparisonReport> {
  const s = resolveM4oESettings(options);
  const log = options.log ?? (() => {});
  const t0 = Date.now();
  const backend = await initBackend(undefined, { log });
  const { names, sets, data } = await moeData(s);
  log(`[m4oe] ${s.builder} on ${s.data} data, ${s.size}x${s.size}, seed ${s.seed}${s.quick ? ', quick' : ''}`);
  log(`  modalities: ${names.map((m, k) => `${m} = ${sets[k].name} (${data[m].train.length} train / ${data[m].test.length} test)`).join('; ')}`);
  log(`  phase 1 ${s.phase1Epochs} epochs (hard routing), phase 2 ${s.phase2Epochs} epochs (soft routing + CV balance loss); separate models get ${s.phase1Epochs + s.phase2Epochs} epochs each`);
  const cmp = await compareM4oE({
    builder: s.builder,
    modalities: names.map((name) => ({ name, numClasses: 1 })),
    data,
    phase1Epochs: s.phase1Epochs,
    phase2Epochs: s.phase2Epochs,
    width: s.width,
    batchSize: s.batchSize,
    learningRate: s.learningRate,
    seed: s.seed,
  });
  return {
    command: 'm4oe',
    builder: s.builder,
    data: s.data,
    seed: s.seed,
    size: s.size,
    quick: s.quick,
    backend: backend.name,
    settings: { samples: s.samples, test: s.test, phase1Epochs: s.phase1Epochs, phase2Epochs: s.phase2Epochs, width: s.width ?? null, batchSize: s.batchSize, learningRate: s.learningRate },
    modalities: names.map((m) => ({ name: m, train: data[m].train.length, test: data[m].test.length })),
    rows: cmp.rows,
    seconds: Math.round((Date.now() - t0) / 100) / 10,
  };
}

/** The result block `medfl m4oe` prints: title, the Markdown table, the total time. */
export function formatM4oEComparison(r: M4oEComparisonReport): string {
  return [
    `M4oE vs shared vs separate: test Dice per modality (backend ${r.backend}):`,
    formatComparison(r.rows, r.modalities.map((m) => m.name)),
    `total ${r.seconds.toFixed(1)} s`,
  ].join('\n');
}
