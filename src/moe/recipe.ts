/**
 * M4oE (arXiv:2405.09446): one segmentation network for several modalities
 * with modality-specific experts and a gate — the recipe and the claims
 * `medfl reproduce m4oe` checks, run by the comparison driver (./command)
 * once per seed.
 */
import type { Claim, ClaimRow } from '../metrics/claims';
import type { MethodRecipe, RecipeScale, RecipeSetting } from '../metrics/recipe';
import { runM4oEComparison, type M4oEComparisonOptions } from './command';

function options(scale: RecipeScale, quick: boolean): M4oEComparisonOptions {
  if (quick) return { data: 'real', quick: true };
  return scale === 'cpu' ? { data: 'real', builder: 'unet', size: 48, samples: 120, phase1Epochs: 10, phase2Epochs: 10 } : { data: 'real', builder: 'swin', size: 224, phase1Epochs: 50, phase2Epochs: 50 };
}

const claims: Claim[] = [
  { id: 'moe>shared', text: 'M4oE beats one shared model across modalities (mean Dice)', paper: 'M4oE > shared', metric: 'dice', kind: 'greater', a: { method: 'm4oe' }, b: { method: 'shared' } },
  { id: 'moe-params', text: 'M4oE has far fewer parameters than one model per modality (at most 3/4)', paper: 'far fewer parameters', metric: 'params', kind: 'ratio', a: { method: 'm4oe' }, b: { method: 'separate' }, max: 0.75 },
];

function settings(scale: RecipeScale): RecipeSetting[] {
  const o = options(scale, false);
  const cpu = scale === 'cpu';
  return [
    { setting: 'modalities', value: 'Kvasir-SEG (endoscopy) + HAM10000 (dermoscopy), binary masks', basis: 'our choice', why: 'the two real modalities of the shared samples; the paper uses CT / MRI sets' },
    { setting: 'backbone', value: cpu ? 'MoE U-Net (one expert per modality in every block)' : 'Swin-Unet with MoE blocks', basis: cpu ? 'cpu scale' : 'paper', why: 'the Swin-Unet trains ~10x slower per image on this engine' },
    { setting: 'training', value: `phase 1 ${o.phase1Epochs} epochs hard routing, phase 2 ${o.phase2Epochs} epochs soft routing + CV balance loss; baselines the same total epochs`, basis: 'paper', why: 'the two phases as the paper; epoch counts our choice' },
    { setting: 'image size', value: `${o.size} px`, basis: cpu ? 'cpu scale' : 'paper', why: 'about 20x fewer pixels than 224' },
    { setting: 'images per modality', value: cpu ? `${o.samples} train + ${Math.round((o.samples ?? 0) / 2)} test at most (70 / 30 split by patient)` : 'all (70 / 30 split)', basis: cpu ? 'cpu scale' : 'our choice', why: cpu ? 'keeps 3 seeds of 3 models within the hour' : 'the 70 / 30 split of the driver' },
    { setting: 'baselines', value: 'one shared network for both; one network per modality', basis: 'paper' },
    { setting: '"far fewer"', value: 'parameter ratio at most 0.75', basis: 'our choice', why: 'our reading of the paper\'s wording' },
  ];
}

/** The M4oE recipe (see the module doc). */
export const m4oeRecipe: MethodRecipe = {
  kind: 'method',
  id: 'm4oe',
  title: 'M4oE: mixture of modality experts for multi-modal segmentation',
  citation: 'arXiv:2405.09446 (M4oE: A Foundation Model for Medical Multimodal Image Segmentation with Mixture of Experts)',
  summary:
    'A Swin-UNet whose blocks hold one expert per modality and a gate, trained in two phases (hard routing by modality, then soft routing with a balance loss), ' +
    'segments several modalities better than one shared model, with far fewer parameters than one model per modality.',
  claims,
  settings,
  departures: [
    'cpu scale: a MoE U-Net instead of the Swin-Unet, 48 px, two modalities (Kvasir-SEG, HAM10000) instead of the paper\'s CT / MRI sets',
    'one expert per modality and binary masks; the paper\'s multi-class organ labels are not available',
  ],
  seeds: 10,
  inputs: (ctx) => options(ctx.scale, ctx.quick),
  async runSeed(ctx, seed) {
    const r = await runM4oEComparison({ ...options(ctx.scale, ctx.quick), seed, roots: ctx.data, log: ctx.log });
    const rows: ClaimRow[] = r.rows.map((x) => ({ seed, arm: { method: x.method }, metrics: { dice: x.meanDice, params: x.params, ...Object.fromEntries(Object.entries(x.dice).map(([m, d]) => [`dice:${m}`, d])) } }));
    return { rows, detail: { modalities: r.modalities, rows: r.rows.map(({ method, params, dice, meanDice }) => ({ method, params, dice, meanDice })), seconds: r.seconds } };
  },
  paperModels() {
    return [{ model: 'swin-unet', width: 96, size: 224, batchSize: 8, imagesPerEpoch: 2 * 700, epochs: 100 * 3 }];
  },
};
