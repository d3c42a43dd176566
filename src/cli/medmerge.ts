/** `medfl medmerge`: MedMerge (arXiv:2403.11646) vs FT / LP-FT / uniform / task arithmetic ({@link runMedMergeComparison}). */
import { choice, defineCommand, int } from './args';
import { METHOD_OPTIONS, checkSettings, methodOptions } from './method-options';
import { writeJsonAtomic } from './output';
import { resolveMedMergeSettings, runMedMergeComparison, formatMedMergeComparison } from '../merge/command';

/** The `medmerge` command; exit 0 ok, 2 bad options, 1 data / run error. */
export const medmergeCommand = defineCommand({
  name: 'medmerge',
  summary: 'MedMerge vs FT / LP-FT / uniform averaging / task arithmetic on a new target task',
  description: [
    'MedMerge (arXiv:2403.11646): merge two models trained from different initialisations on',
    'different source tasks into a model for a new target task; compared with FT, LP-FT,',
    'uniform averaging and task arithmetic (same epochs, same head seed).',
    '  embedded: sources = synthetic polyp sites and synthetic lesion sites, target = a new lesion site',
    '  real:     sources = Kvasir-SEG and CVC-ClinicDB, target = HAM10000 (segmentation, or dx nv/bkl/other)',
    'Images per set: segmentation 96 (--quick 48), classification 192 (--quick 96).',
  ].join('\n'),
  options: {
    task: choice(['segmentation', 'classification'], 'U-Net segmentation or small-CNN classification', { default: 'segmentation' }),
    size: int('image side in pixels (multiple of 16 for the U-Net, 4 for the classifier)', { min: 16, defaultHelp: '64 (--quick 32)' }),
    'source-epochs': int('source training epochs', { min: 0, defaultHelp: 'segmentation 10, classification 15 (--quick 8 / 10)' }),
    'lp-epochs': int('linear-probe epochs', { min: 0, defaultHelp: 'segmentation 5, classification 8 (--quick 4 / 6)' }),
    'ft-epochs': int('fine-tuning epochs', { min: 0, defaultHelp: 'segmentation 5, classification 8 (--quick 4 / 6)' }),
    ...METHOD_OPTIONS,
  },
  async run({ values: v }, io) {
    const options = {
      ...methodOptions(v),
      task: v.task,
      size: v.size,
      sourceEpochs: v['source-epochs'],
      lpEpochs: v['lp-epochs'],
      ftEpochs: v['ft-epochs'],
      log: io.log,
    };
    checkSettings(() => resolveMedMergeSettings(options));
    const r = await runMedMergeComparison(options);
    io.log('');
    io.log(formatMedMergeComparison(r));
    if (v.json) {
      writeJsonAtomic(v.json, r);
      io.log(`wrote ${v.json}`);
    }
    return 0;
  },
});
