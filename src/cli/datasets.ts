/** `medfl datasets check <path>...`: does a folder hold a layout medfl's loaders can open ({@link checkDataset})? */
import { UsageError, choice, defineCommand, flag } from './args';
import { DATASET_KINDS, checkDataset, formatDatasetCheck } from '../datasets-check';

/** The `datasets` command; exit 0 when every path is OK, 1 when one is not, 2 for bad arguments. */
export const datasetsCommand = defineCommand({
  name: 'datasets',
  summary: 'check dataset folder layouts (files, image/mask pairs, CSV columns, sizes and NIfTI grids from headers)',
  description: 'Layouts: datasets/README.md. The word `check` is optional.',
  usage: 'check <path>... [options]',
  positionals: { name: '<path>', help: 'dataset folders to check', max: Infinity },
  options: {
    kind: choice(DATASET_KINDS, 'layout to check against (auto: detect it)', { default: 'auto' }),
    json: flag('print the result(s) as JSON'),
  },
  async run({ values, positionals }, io) {
    const paths = positionals[0] === 'check' ? positionals.slice(1) : positionals;
    if (paths.length === 0) throw new UsageError('no path given: medfl datasets check <path>...');
    const results = [];
    for (const p of paths) results.push(await checkDataset(p, values.kind));
    if (values.json) io.log(JSON.stringify(results.length === 1 ? results[0] : results, null, 2));
    else io.log(results.map(formatDatasetCheck).join('\n\n'));
    return results.every((r) => r.ok) ? 0 : 1;
  },
});
