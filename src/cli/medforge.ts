/** `medfl medforge`: MedForge (arXiv:2502.16055) fusion / mixture as sites arrive vs single-site and FedAvg, with bytes ({@link runMedForgeComparison}). */
import { UsageError, choice, defineCommand, int, string } from './args';
import { METHOD_OPTIONS, checkSettings, methodOptions } from './method-options';
import { writeJsonAtomic } from './output';
import { DataError } from '../data/errors';
import { resolveMedForgeSettings, runMedForgeComparison, formatMedForgeComparison } from '../forge/command';

/** The `medforge` command; exit 0 ok, 2 bad options, 1 data / run error. */
export const medforgeCommand = defineCommand({
  name: 'medforge',
  summary: 'MedForge fusion / mixture as sites arrive vs single-site fine-tuning and FedAvg, with the bytes each moves',
  description: [
    "MedForge (arXiv:2502.16055): sites contribute LoRA plugins + distilled sets, one after the",
    "other, to a base pre-trained on a separate 'public' set; per-version scores on every site,",
    'then single-site fine-tuning and FedAvg with the bytes each moves.',
    '  embedded: synthetic lesion sites (strong scanner heterogeneity, skewed classes), public = another synthetic set',
    '  real:     HAM10000 split by its 4 acquisition sources (dataset column); public = synthetic lesions',
    'Images per site 40 (--quick 16); epochs: base 10, local 5, FedAvg rounds 5 (--quick 4 / 3 / 3).',
  ].join('\n'),
  options: {
    mode: choice(['fusion', 'mixture', 'both'], 'MedForge mode(s) to run', { default: 'both' }),
    task: choice(['segmentation', 'classification'], 'U-Net segmentation or small-CNN classification', { default: 'segmentation' }),
    size: int('image side in pixels (multiple of 16 for the U-Net, 4 for the classifier)', { min: 16, defaultHelp: '48 (--quick 32)' }),
    sites: int('embedded sites', { min: 1, defaultHelp: '4 (--quick 3)' }),
    budget: int('coefficient-search evaluations per arrival', { min: 1, defaultHelp: '40 (--quick 12)' }),
    rank: int('LoRA rank', { min: 1, default: 4 }),
    'public-site': string('real data: pre-train the base on this HAM10000 source (it then does not contribute)', { metavar: 'NAME' }),
    ...METHOD_OPTIONS,
  },
  async run({ values: v }, io) {
    if (v['public-site'] !== undefined && v.data !== 'real') throw new UsageError('--public-site applies to --data real only');
    const options = {
      ...methodOptions(v),
      mode: v.mode,
      task: v.task,
      size: v.size,
      sites: v.sites,
      budget: v.budget,
      rank: v.rank,
      publicSite: v['public-site'],
      log: io.log,
    };
    checkSettings(() => resolveMedForgeSettings(options));
    const r = await runMedForgeComparison(options).catch((e: unknown) => {
      // an option the data cannot honour (e.g. --public-site naming no HAM10000 source)
      if (e instanceof DataError && e.kind === 'invalid-option') throw new UsageError(e.message);
      throw e;
    });
    io.log('');
    io.log(formatMedForgeComparison(r));
    if (v.json) {
      writeJsonAtomic(v.json, r);
      io.log(`wrote ${v.json}`);
    }
    return 0;
  },
});
