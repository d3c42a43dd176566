/**
 * MedForge (arXiv:2502.16055): sites contribute LoRA-style plugins (and
 * distilled synthetic images) asynchronously to a base model, merged by
 * Fusion or Mixture — the recipe and the claims `medfl reproduce medforge`
 * checks, run by the comparison driver (./command) once per seed.
 */
import type { Claim, ClaimRow } from '../metrics/claims';
import type { MethodRecipe, RecipeScale, RecipeSetting } from '../metrics/recipe';
import { runMedForgeComparison, type MedForgeComparisonOptions } from './command';

function options(scale: RecipeScale, quick: boolean): MedForgeComparisonOptions {
  if (quick) return { data: 'real', mode: 'both', quick: true };
  return scale === 'cpu' ? { data: 'real', mode: 'both', size: 48 } : { data: 'real', mode: 'both', size: 256, width: 64 };
}

const claims: Claim[] = [
  { id: 'mixture>=fusion', text: 'Mixture is at least as good as Fusion (mean Dice over sites, margin 2 points)', paper: 'Mixture >= Fusion', metric: 'dice', kind: 'notWorse', a: { method: 'mixture' }, b: { method: 'fusion' }, margin: 0.02 },
  { id: 'fusion>plugin', text: 'Fusion beats the best single-site plugin (mean Dice over sites)', paper: 'Fusion > single-site plugins', metric: 'dice', kind: 'greater', a: { method: 'fusion' }, b: { method: 'plugin-best' } },
  { id: 'mixture>plugin', text: 'Mixture beats the best single-site plugin (mean Dice over sites)', paper: 'Mixture > single-site plugins', metric: 'dice', kind: 'greater', a: { method: 'mixture' }, b: { method: 'plugin-best' } },
  { id: 'bytes', text: "MedForge sends a small fraction of FedAvg's bytes (at most 10 %)", paper: "a small fraction of FedAvg's bytes", metric: 'bytes', kind: 'ratio', a: { method: 'mixture' }, b: { method: 'fedavg' }, max: 0.1 },
];

function settings(scale: RecipeScale): RecipeSetting[] {
  const cpu = scale === 'cpu';
  return [
    { setting: 'sites', value: "HAM10000's four sources, in a fixed arrival order, 30 % of each held out", basis: 'our choice', why: 'the real multi-source set of the shared samples' },
    { setting: 'base model', value: `U-Net width ${cpu ? 4 : 64} pre-trained 10 epochs on a public synthetic lesion set`, basis: cpu ? 'cpu scale' : 'our choice', why: 'no public pre-trained medical base is available offline' },
    { setting: 'plugins', value: 'LoRA rank 4, 5 local epochs, distribution-matching synthetic set (2 images per class, 30 iterations)', basis: 'paper', why: 'the method as the paper describes it; the numbers our choice' },
    { setting: 'merging', value: 'Fusion and Mixture, coefficient search budget 40 evaluations per arrival', basis: 'paper' },
    { setting: 'baselines', value: 'each plugin alone; single-site fine-tuning; FedAvg 5 rounds x 1 epoch (bytes counted)', basis: 'paper' },
    { setting: 'image size', value: cpu ? '48 px' : '256 px', basis: cpu ? 'cpu scale' : 'our choice', why: cpu ? 'about 28x fewer pixels than 256' : 'the common 256 px of dermoscopy benchmarks' },
    { setting: '"small fraction"', value: 'bytes ratio at most 0.1', basis: 'our choice', why: 'our reading of the paper\'s wording' },
  ];
}

/** Rows of one driver run: Fusion and Mixture (last version), each plugin alone (+ best), the baselines. */
function rowsOf(seed: number, r: Awaited<ReturnType<typeof runMedForgeComparison>>): ClaimRow[] {
  const out: ClaimRow[] = [];
  for (const [mode, m] of Object.entries(r.medforge)) {
    const last = m.versions[m.versions.length - 1];
    out.push({ seed, arm: { method: mode }, metrics: { dice: last.meanScore, bytes: last.bytes.cumulative } });
  }
  const first = Object.values(r.medforge)[0];
  const plugins = first ? first.pluginScores : [];
  for (const p of plugins) out.push({ seed, arm: { method: `plugin-${p.site}` }, metrics: { dice: p.meanScore } });
  if (plugins.length) out.push({ seed, arm: { method: 'plugin-best' }, metrics: { dice: Math.max(...plugins.map((p) => p.meanScore)) } });
  for (const b of r.baselines.rows) out.push({ seed, arm: { method: b.label.startsWith('FedAvg') ? 'fedavg' : b.label }, metrics: { dice: b.mean, bytes: b.bytes } });
  return out;
}

/** The MedForge recipe (see the module doc). */
export const medforgeRecipe: MethodRecipe = {
  kind: 'method',
  id: 'medforge',
  title: 'MedForge: asynchronous plugins merged by Fusion or Mixture',
  citation: 'arXiv:2502.16055 (MedForge: Building Medical Foundation Models Like Open Source Software Development)',
  summary:
    'Hospitals contribute small LoRA-style plugins and distilled synthetic images to a shared base model, one after another; ' +
    'merging them by Mixture is at least as good as by Fusion, both beat any single-site plugin, and the whole exchange costs a small fraction of FedAvg\'s bytes.',
  claims,
  settings,
  departures: [
    'the base is pre-trained on a synthetic public set (no public medical base model offline)',
    'HAM10000\'s four sources play the contributing hospitals; U-Net width 4 at 48 px at cpu scale',
    'the best single plugin is chosen on the test sets (optimistic for the baseline)',
  ],
  seeds: 10,
  inputs: (ctx) => options(ctx.scale, ctx.quick),
  async runSeed(ctx, seed) {
    const r = await runMedForgeComparison({ ...options(ctx.scale, ctx.quick), seed, roots: ctx.data, log: ctx.log });
    return { rows: rowsOf(seed, r), detail: { table: r.table, settings: r.settings, seconds: r.seconds } };
  },
  paperModels() {
    return [{ model: 'unet', width: 64, size: 256, batchSize: 8, imagesPerEpoch: 84, epochs: 10 + 5 * 4 + 5 * 4 }];
  },
};
