/** `medfl compare <run dir>...`: one table over finished experiment runs ({@link compareRuns}). */
import { defineCommand, string } from './args';

/** The `compare` command. */
export const compareCommand = defineCommand({
  name: 'compare',
  summary: 'compare finished experiment runs: pooled Dice / IoU, bytes per round, attack accuracy, seconds',
  positionals: { name: '<run dir>', help: 'one or more run folders (experiments/results/<name>)', max: Infinity },
  options: {
    html: string('also write the comparison as an HTML page', { metavar: 'FILE' }),
  },
  async run({ values, positionals }, io) {
    const { compareRuns } = await import('../experiment/compare');
    io.log(compareRuns(positionals, { html: values.html }));
    return 0;
  },
});
