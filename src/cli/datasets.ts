/** `medfl datasets check <path>...`: does a folder hold a layout medfl's loaders can open ({@link checkDataset})? */
import { UsageError, choice, defineCommand, flag } from './args';
import { DATASET_KINDS, checkDataset, formatDatasetCheck } from '../datasets-check';

/** The `datasets` command; exit 0 when every path is OK, 1 when one is not (with --deep: also when a file fails to decode), 2 for bad arguments. */
export const datasetsCommand = defineCommand({
  name: 'datasets',
  summary: 'check dataset folder layouts (files, image/mask pairs, CSV columns, sizes and NIfTI grids from headers; --deep decodes every file)',
  description:
    'Layouts: datasets/README.md. The word `check` is optional. Without --deep only file headers are read, so a file cut after its header passes; ' +
    '--deep decodes every image, mask and volume with the loaders\' decoders (one at a time) and lists each bad file with the reason (progress on stderr for 200+ files).',
  usage: 'check <path>... [options]',
  positionals: { name: '<path>', help: 'dataset folders to check', max: Infinity },
  options: {
    kind: choice(DATASET_KINDS, 'layout to check against (auto: detect it)', { default: 'auto' }),
    deep: flag('decode every image, mask and volume (slow; catches truncated or corrupt files)'),
    json: flag('print the result(s) as JSON'),
  },
  async run({ values, positionals }, io) {
    const paths = positionals[0] === 'check' ? positionals.slice(1) : positionals;
    if (paths.length === 0) throw new UsageError('no path given: medfl datasets check <path>...');
    const results = [];
    for (const p of paths) results.push(await checkDataset(p, values.kind, { deep: values.deep, log: io.error }));
    if (values.json) io.log(JSON.stringify(results.length === 1 ? results[0] : results, null, 2));
    else io.log(results.map(formatDatasetCheck).join('\n\n'));
    return results.every((r) => r.ok) ? 0 : 1;
  },
});
