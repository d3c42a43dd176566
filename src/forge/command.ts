/**
 * The MedForge comparison driver (what `medfl medforge` runs): MedForge
 * (arXiv:2502.16055) in fusion and / or mixture mode against single-site
 * fine-tuning and FedAvg (arXiv:1602.05629), all from the same base
 * pre-trained on a separate 'public' set, with the bytes each approach moves.
 *
 * - embedded: synthetic lesion sites (strong scanner heterogeneity, skewed
 *   classes); public = another synthetic lesion set;
 * - real: HAM10000 split by its acquisition sources (the `dataset` column of
 *   the subset CSV); every source contributes and the base is pre-trained on
 *   the embedded synthetic lesion set, unless `publicSite` names one HAM10000
 *   source, which then pre-trains the base instead of contributing (a name
 *   that is no source throws a `DataError` of kind 'invalid-option').
 */
import * as path from 'node:path';
import { initBackend } from '../backend';
import { InMemoryDataset, type Dataset } from '../data/types';
import { DataError } from '../data/errors';
import { syntheticSites } from '../data/synthetic';
import { type MethodDataOptions, type MethodDataSettings, resolveMethodData, type DataSource, HAM_REDUCED_CLASSES, capSamples, checkImageSize, hamReducedLabels, openRealHam10000, subsetWhere, withLabels } from '../data/sources';
import { createModel } from '../models/registry';
import { createClassifier } from '../models/classifier';
import { primaryScore, trainModelTask, type TaskKind, type TaskSpec } from '../train';
import { formatTable, type Cell } from '../util/table';
import { medForge, type MedForgeResult } from './medforge';
import { buildSites, type Site } from '../data/site';
import { forgeBaselines, type ForgeBaselineRow } from './baselines';

/** `mode` of {@link runMedForgeComparison}: one MedForge mode or both. */
export type MedForgeComparisonMode = 'fusion' | 'mixture' | 'both';

/** Options of {@link runMedForgeComparison}; every field has a default. */
export interface MedForgeComparisonOptions extends MethodDataOptions {
  /** Default 'both'. */
  mode?: MedForgeComparisonMode;
  /** Default 'segmentation'. */
  task?: TaskKind;
  /** Square image side; a multiple of 16 (U-Net) or 4 (classifier). Default 48 (quick 32). */
  size?: number;
  /** Images per site. Default 40 (quick 16); real sites are capped to it only when given or quick. */
  samples?: number;
  /** Embedded sites. Default 4 (quick 3). */
  sites?: number;
  /** Coefficient-search evaluations per arrival. Default 40 (quick 12). */
  budget?: number;
  /** LoRA rank. Default 4. */
  rank?: number;
  /** Overrides base epochs (10, quick 4), local epochs (5, quick 3) and FedAvg rounds (5, quick 3). */
  epochs?: number;
  /** Default 4 (U-Net) / 8 (classifier). */
  width?: number;
  /** Default 8. */
  batchSize?: number;
  /** Real data: the HAM10000 source that pre-trains the base (it then does not contribute). */
  publicSite?: string;
  /** Progress lines. Default: none. */
  log?: (line: string) => void;
}

/** {@link MedForgeComparisonOptions} with every default applied. */
export interface MedForgeSettings extends MethodDataSettings {
  mode: MedForgeComparisonMode;
  task: TaskKind;
  size: number;
  samples: number;
  sites: number;
  budget: number;
  rank: number;
  baseEpochs: number;
  localEpochs: number;
  rounds: number;
  distillIterations: number;
  width: number;
  batchSize: number;
  publicSite?: string;
}

/** What {@link runMedForgeComparison} returns: JSON-ready (this is what `--json` writes). */
export interface MedForgeComparison {
  command: 'medforge';
  task: TaskKind;
  data: DataSource;
  mode: MedForgeComparisonMode;
  seed: number;
  size: number;
  quick: boolean;
  backend: string;
  settings: { samples: number; sites: string[]; width: number; rank: number; localEpochs: number; baseEpochs: number; rounds: number; budget: number; distillIterations: number; batchSize: number };
  /** Per mode: seconds, every version's scores, each plugin alone, bytes per contribution. */
  medforge: Record<string, { seconds: number; versions: MedForgeResult['versions']; pluginScores: MedForgeResult['pluginScores']; bytes: { site: string; plugin: number; synthetic: number }[] }>;
  baselines: { seconds: number; rows: ForgeBaselineRow[] };
  /** The printed table: model, score per site, mean, bytes, seconds. */
  table: { header: string[]; rows: Cell[][] };
  seconds: number;
}

/** Apply the defaults (see {@link MedForgeComparisonOptions}) and check them; throws for an invalid size or a misplaced `publicSite`. */
export function resolveMedForgeSettings(o: MedForgeComparisonOptions = {}): MedForgeSettings {
  const task = o.task ?? 'segmentation';
  const seg = task === 'segmentation';
  const common = resolveMethodData(o);
  const { quick, data } = common;
  const size = o.size ?? (quick ? 32 : 48);
  checkImageSize(size, seg ? 16 : 4, seg ? 'the U-Net' : 'the classifier');
  if (o.publicSite !== undefined && data !== 'real') throw new Error(`publicSite '${o.publicSite}' applies to real data only`);
  return {
    mode: o.mode ?? 'both',
    task,
    ...common,
    size,
    samples: o.samples ?? (quick ? 16 : 40),
    sites: o.sites ?? (quick ? 3 : 4),
    budget: o.budget ?? (quick ? 12 : 40),
    rank: o.rank ?? 4,
    baseEpochs: o.epochs ?? (quick ? 4 : 10),
    localEpochs: o.epochs ?? (quick ? 3 : 5),
    rounds: o.epochs ?? (quick ? 3 : 5),
    distillIterations: quick ? 10 : 30,
    width: o.width ?? (seg ? 4 : 8),
    batchSize: o.batchSize ?? 8,
    publicSite: o.publicSite,
  };
}

async function forgeData(s: MedForgeSettings): Promise<{ sites: Site[]; publicSet: InMemoryDataset; classNames: readonly string[] }> {
  const { size, seed, samples: n } = s;
  const seg = s.task === 'segmentation';
  // The one site builder: sites by meta.site (natural order), 30 % of each site's patients held out, stratified for classification.
  const toSites = (ds: Dataset): Site[] => buildSites(ds, { testFraction: 0.3, seed, groupKey: 'patientId', stratify: !seg });
  const syntheticPublic = (): InMemoryDataset => syntheticSites({ sites: 1, samplesPerSite: 2 * n, size, task: 'lesion', seed: seed + 500, heterogeneity: 0, name: 'public (synthetic)' });
  if (s.data === 'embedded') {
    const all = syntheticSites({ sites: s.sites, samplesPerSite: n, size, task: 'lesion', seed: seed + 600, heterogeneity: 1, classMix: 'skewed', name: 'synthetic lesion' });
    return { sites: toSites(all), publicSet: syntheticPublic(), classNames: all.classNames };
  }
  let ham = await openRealHam10000(s, size, true);
  if (!seg) ham = hamReducedLabels(ham);
  const names = [...new Set(ham.samples.map((x) => x.meta.site).filter((x): x is string => typeof x === 'string'))].sort();
  const pub = s.publicSite;
  if (pub !== undefined && !names.includes(pub)) {
    throw new DataError({ file: path.join(s.dataRoot, 'ham10000'), kind: 'invalid-option', problem: `publicSite '${pub}' is not a HAM10000 source`, expected: `one of ${names.join(', ')}` });
  }
  const contributing = names.flatMap((name, k) => {
    if (name === pub) return [];
    const ds = subsetWhere(ham, 'site', name);
    return [s.capReal ? capSamples(ds, n, seed + k) : ds];
  });
  const sites = toSites(new InMemoryDataset(ham.name, contributing.flatMap((d) => d.samples), ham.task, ham.classNames, ham.maskClasses));
  let publicSet = pub ? subsetWhere(ham, 'site', pub) : syntheticPublic();
  // synthetic lesion classes nevus / melanoma / keratosis -> nv / other / bkl
  if (!seg && !pub) publicSet = withLabels(publicSet, publicSet.name, HAM_REDUCED_CLASSES, (x) => [0, 2, 1][x.label as number]);
  return { sites, publicSet, classNames: ham.classNames };
}

/**
 * Run MedForge (see module doc) and its baselines; returns every row.
 * Logs the set-up through `options.log`. Disposes every model it builds.
 */
export async function runMedForgeComparison(options: MedForgeComparisonOptions = {}): Promise<MedForgeComparison> {
  const s = resolveMedForgeSettings(options);
  const log = options.log ?? (() => {});
  const { task, size, seed, width, rank, budget, localEpochs, rounds } = s;
  const seg = task === 'segmentation';
  const t0 = Date.now();
  const backend = await initBackend(undefined, { log });
  const { sites, publicSet, classNames } = await forgeData(s);
  if (sites.length === 0) throw new Error('medforge: no contributing sites');
  const spec: TaskSpec = { task, numClasses: seg ? 1 : classNames.length };
  const shape: [number, number, number] = [size, size, 3];
  const base = seg ? createModel('unet', { inputShape: shape, numClasses: 1, width, seed: seed + 1 }) : createClassifier({ inputShape: shape, numClasses: spec.numClasses, width, seed: seed + 1 });

  log(`[medforge] ${task} on ${s.data} data, ${size}x${size}, seed ${seed}, mode ${s.mode}${s.quick ? ', quick' : ''}`);
  log(`  sites (arrival order): ${sites.map((x) => `${x.name} (${x.train.length}/${x.test.length})`).join(', ')}`);
  log(`  base: ${seg ? 'U-Net' : 'CNN classifier'} width ${width} (${base.countParams()} params) pre-trained ${s.baseEpochs} epochs on ${publicSet.name} (${publicSet.length} images)`);
  log(`  MedForge: LoRA rank ${rank}, ${localEpochs} local epochs, distribution matching ${s.distillIterations} it. x 2 per class, search budget ${budget}`);
  log(`  baselines: single-site fine-tuning ${localEpochs} epochs; FedAvg ${rounds} rounds x 1 local epoch`);

  try {
    const preLogs = await trainModelTask(base, publicSet, {
      spec,
      epochs: s.baseEpochs,
      learningRate: 3e-3,
      batchSize: s.batchSize,
      seed: seed + 2,
    });
    log(`  base pre-training loss ${(preLogs.length ? preLogs[preLogs.length - 1].loss : NaN).toFixed(3)}`);
    const modes = s.mode === 'both' ? (['fusion', 'mixture'] as const) : ([s.mode] as const);
    const siteNames = sites.map((x) => x.name);
    const tableRows: Cell[][] = [];
    const perMode: MedForgeComparison['medforge'] = {};
    for (const m of modes) {
      const tm = Date.now();
      const r = await medForge({
        base,
        sites,
        task,
        mode: m,
        rank,
        localEpochs,
        learningRate: 1e-2,
        batchSize: s.batchSize,
        perClass: 2,
        distill: { iterations: s.distillIterations },
        budget,
        seed,
      });
      r.model?.dispose();
      const secs = Math.round((Date.now() - tm) / 100) / 10;
      for (const ver of r.versions) {
        if (ver.version === 0 && m !== modes[0]) continue;
        const label = ver.version === 0 ? 'v0 (base)' : `${m} v${ver.version} (+${ver.contributor})`;
        tableRows.push([label, ...siteNames.map((x) => primaryScore(spec, ver.metrics[x])), ver.meanScore, ver.bytes.cumulative, ver.version === r.versions.length - 1 ? secs.toFixed(1) : '']);
      }
      if (m === modes[0]) {
        r.plugins.forEach((p, i) => {
          const ps = r.pluginScores[i];
          if (ps) tableRows.push([`plugin ${p.site} alone`, ...siteNames.map((x) => primaryScore(spec, ps.metrics[x])), ps.meanScore, p.bytes + r.syntheticSets[i].bytes, '']);
        });
      }
      perMode[m] = {
        seconds: secs,
        versions: r.versions,
        pluginScores: r.pluginScores,
        bytes: r.plugins.map((p, i) => ({ site: p.site, plugin: p.bytes, synthetic: r.syntheticSets[i].bytes })),
      };
    }
    const tb = Date.now();
    const baselines = await forgeBaselines({ base, sites, spec, epochs: localEpochs, rounds, localEpochs: 1, learningRate: 1e-3, batchSize: s.batchSize, seed });
    const bsecs = Math.round((Date.now() - tb) / 100) / 10;
    baselines.forEach((b, i) => tableRows.push([b.label, ...siteNames.map((x) => b.perSite[x]), b.mean, b.bytes, i === baselines.length - 1 ? bsecs.toFixed(1) : '']));
    return {
      command: 'medforge',
      task,
      data: s.data,
      mode: s.mode,
      seed,
      size,
      quick: s.quick,
      backend: backend.name,
      settings: { samples: s.samples, sites: siteNames, width, rank, localEpochs, baseEpochs: s.baseEpochs, rounds, budget, distillIterations: s.distillIterations, batchSize: s.batchSize },
      medforge: perMode,
      baselines: { seconds: bsecs, rows: baselines },
      table: { header: ['model', ...siteNames, 'mean', 'bytes', 'seconds'], rows: tableRows },
      seconds: Math.round((Date.now() - t0) / 100) / 10,
    };
  } finally {
    base.dispose();
  }
}

/** The result block `medfl medforge` prints: title, the table, the total time. */
export function formatMedForgeComparison(r: MedForgeComparison): string {
  return [
    `MedForge vs baselines: test ${r.task === 'segmentation' ? 'Dice' : 'macro-F1'} per site (backend ${r.backend}); bytes = everything pushed so far`,
    formatTable(r.table.header, r.table.rows, { digits: 3 }),
    `total ${r.seconds.toFixed(1)} s`,
  ].join('\n');
}
