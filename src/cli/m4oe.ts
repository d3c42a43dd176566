/** `medfl m4oe`: M4oE (arXiv:2405.09446) vs one shared model vs per-modality models ({@link runM4oEComparison}). */
import { choice, defineCommand, int } from './args';
import { METHOD_OPTIONS, checkSettings, methodOptions } from './method-options';
import { writeJsonAtomic } from './output';
import { resolveM4oESettings, runM4oEComparison, formatM4oEComparison } from '../moe/command';

/** The `m4oe` command; exit 0 ok, 2 bad options, 1 data / run error. */
export const m4oeCommand = defineCommand({
  name: 'm4oe',
  summary: 'M4oE vs one shared model vs per-modality models: Dice, parameters, expert utilisation',
  description: [
    'M4oE (arXiv:2405.09446): one mixture-of-experts network for two modalities (one expert per',
    'modality, two-phase training) vs one shared network and separate per-modality networks.',
    '  embedded: synthetic polyp (endoscopy) + synthetic lesion (dermoscopy)',
    '  real:     Kvasir-SEG + HAM10000',
    'Train images per modality 48 (--quick 24).',
  ].join('\n'),
  options: {
    builder: choice(['unet', 'swin'], "MoE U-Net (CPU-scale) or the paper's Swin-Unet", { default: 'unet' }),
    size: int('image side in pixels (multiple of 16 for unet, 32 for swin)', { min: 16, defaultHelp: '48, swin 64 (--quick 32)' }),
    phase1: int('phase 1 epochs (hard routing)', { min: 0, defaultHelp: '5 (--quick 3)' }),
    phase2: int('phase 2 epochs (soft routing + CV balance loss)', { min: 0, defaultHelp: '5 (--quick 3)' }),
    ...METHOD_OPTIONS,
  },
  async run({ values: v }, io) {
    const options = { ...methodOptions(v), builder: v.builder, size: v.size, phase1Epochs: v.phase1, phase2Epochs: v.phase2, log: io.log };
    checkSettings(() => resolveM4oESettings(options));
    const r = await runM4oEComparison(options);
    io.log('');
    io.log(formatM4oEComparison(r));
    if (v.json) {
      writeJsonAtomic(v.json, r);
      io.log(`wrote ${v.json}`);
    }
    return 0;
  },
});
