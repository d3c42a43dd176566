/**
 * MedMerge (arXiv:2403.11646): merging models fine-tuned from DIFFERENT
 * initialisations with learned kernel-level weights — the recipe and the
 * claims `medfl reproduce medmerge` checks, run by the comparison driver
 * (./command) once per seed.
 */
import type { Claim, ClaimRow } from '../metrics/claims';
import type { MethodRecipe, RecipeScale, RecipeSetting } from '../metrics/recipe';
import { runMedMergeComparison, type MedMergeComparisonOptions } from './command';

function options(scale: RecipeScale, quick: boolean): MedMergeComparisonOptions {
  if (quick) return { task: 'classification', data: 'real', quick: true };
  return scale === 'cpu'
    ? { task: 'classification', data: 'real', size: 64, samples: 300, width: 8, sourceEpochs: 15, lpEpochs: 8, ftEpochs: 8 }
    : { task: 'classification', data: 'real', size: 224, width: 64, sourceEpochs: 30, lpEpochs: 10, ftEpochs: 10 };
}

const claims: Claim[] = [
  { id: 'merge>best-ft', text: 'MedMerge beats the best single fine-tuned source model (macro-F1)', paper: 'up to +3-7 % F1', metric: 'f1', kind: 'greater', a: { method: 'medmerge' }, b: { method: 'best-ft' } },
  { id: 'merge>best-lpft', text: 'MedMerge beats the best single LP-FT source model (macro-F1)', paper: 'MedMerge > single-source transfer', metric: 'f1', kind: 'greater', a: { method: 'medmerge' }, b: { method: 'best-lp-ft' } },
  { id: 'merge>uniform', text: 'MedMerge beats plain weight averaging (macro-F1)', paper: 'MedMerge > averaging', metric: 'f1', kind: 'greater', a: { method: 'medmerge' }, b: { method: 'uniform' } },
];

function settings(scale: RecipeScale): RecipeSetting[] {
  const o = options(scale, false);
  const cpu = scale === 'cpu';
  return [
    { setting: 'sources -> target', value: 'Kvasir-SEG and CVC-ClinicDB (polyp small / large) -> HAM10000 dx (nv / bkl / other)', basis: 'our choice', why: 'the shared samples have no labelled source classification tasks; two real medical sources and a real target' },
    { setting: 'initialisations', value: 'each source model from its own random init (seeds s+1, s+2)', basis: 'paper', why: 'the paper merges models from different initialisations' },
    { setting: 'model', value: `CNN classifier width ${o.width}`, basis: cpu ? 'cpu scale' : 'our choice', why: 'the paper\'s ImageNet / medical backbones are not available offline' },
    { setting: 'image size', value: `${o.size} px`, basis: cpu ? 'cpu scale' : 'paper', why: 'about 12x fewer pixels than 224' },
    { setting: 'images per set', value: cpu ? '300 at most (seeded subset)' : 'all', basis: cpu ? 'cpu scale' : 'paper', why: 'keeps 3 seeds of 7 methods within the hour' },
    { setting: 'epochs', value: `source ${o.sourceEpochs}, linear probe ${o.lpEpochs}, fine-tuning ${o.ftEpochs}`, basis: 'our choice', why: 'the source losses flatten by then at this size' },
    { setting: 'baselines', value: 'FT and LP-FT per source, uniform averaging, task arithmetic', basis: 'paper' },
    { setting: 'target split', value: '60 / 40 train / test by lesion', basis: 'our choice', why: 'the driver\'s split: a target test set of ~48 images' },
    { setting: '"best single source"', value: 'the better source on the TEST set, per seed', basis: 'our choice', why: 'favours the baseline, so the claim is judged conservatively' },
  ];
}

/** Rows of one driver run: every method, plus the best single source (FT, LP-FT) per seed. */
function rowsOf(seed: number, rows: { method: string; source?: number; score: number }[]): ClaimRow[] {
  const out: ClaimRow[] = rows.map((r) => ({ seed, arm: { method: r.source === undefined ? r.method : `${r.method}-${r.source}` }, metrics: { f1: r.score } }));
  for (const m of ['ft', 'lp-ft']) {
    const xs = rows.filter((r) => r.method === m).map((r) => r.score);
    if (xs.length) out.push({ seed, arm: { method: `best-${m}` }, metrics: { f1: Math.max(...xs) } });
  }
  return out;
}

/** The MedMerge recipe (see the module doc). */
export const medmergeRecipe: MethodRecipe = {
  kind: 'method',
  id: 'medmerge',
  title: 'MedMerge: merging models from different initialisations',
  citation: 'arXiv:2403.11646 (MedMerge: Merging Models for Effective Transfer Learning to Medical Imaging Tasks)',
  summary:
    'Models fine-tuned from different initialisations on different source tasks can be merged with learned kernel-level weights ' +
    '(linear probe on the merged features, then fine-tuning) into one model that transfers better to a medical target task than any single source model, ' +
    'by up to 3-7 % F1 in the paper, and better than plain weight averaging.',
  claims,
  settings,
  departures: [
    'small CNN classifiers trained from scratch stand in for the paper\'s pre-trained backbones; the sources are polyp-size tasks on Kvasir-SEG and CVC-ClinicDB',
    'task arithmetic has no common pre-trained base: its base is source 0\'s initial weights (the driver\'s documented departure)',
    'the best single source is chosen on the test set (optimistic for the baseline)',
  ],
  seeds: 10,
  inputs: (ctx) => options(ctx.scale, ctx.quick),
  async runSeed(ctx, seed) {
    const r = await runMedMergeComparison({ ...options(ctx.scale, ctx.quick), seed, roots: ctx.data, log: ctx.log });
    return { rows: rowsOf(seed, r.rows), detail: { sources: r.sources, target: r.target, rows: r.rows.map(({ method, source, score }) => ({ method, source, score })), seconds: r.seconds } };
  },
};
