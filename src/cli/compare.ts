/** `medfl compare <run dir>...`: one table over finished experiment runs ({@link compareRuns}). */
import { defineCommand, string } from './args';
import { compareRuns } from '../experiment/compare';

/** The `compare` command. */
export const compareCommand = defineCommand({
  name: 'compare',
  summary: 'compare finished experiment runs: pooled Dice / IoU, bytes per round, attack accuracy, seconds',
  positionals: { name: '<run dir>', help: 'one or more run folders (experiments/results/<name>)', max: Infinity },
  options: {
    html: string('also write the comparison as an HTML page', { metavar: 'FILE' }),
  },
  async run({ values, positionals }, io) {
    io.log(compareRuns(positionals, { html: values.html }));
    return 0;
  },
});
