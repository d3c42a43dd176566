/** `medfl reproduce <paper>`: a paper's recipe at a scale, ending with its claims table ({@link reproduce}). */
import * as os from 'node:os';
import { UsageError, choice, defineCommand, flag, int, string } from './args';
import { PAPERS, getRecipe, paperScalePlan, parseDataOption, reproduce } from '../experiment/reproduce';
import { initBackend } from '../backend';

/** The `reproduce` command; exit 0 ok, 2 bad options, 1 run error. */
export const reproduceCommand = defineCommand({
  name: 'reproduce',
  summary: "run a paper's recipe (grid of seeds, 95% intervals) and print its claims table",
  description: [
    `Papers: ${PAPERS.join(', ')}.`,
    'Each recipe keeps the paper\'s structure (clients, rounds x epochs, loss, optimizer, model selection,',
    'strategies); --scale cpu reduces image size, width and data to fit a 2-core machine in an hour,',
    '--scale paper uses the papers\' sizes and widths and first prints the estimated time and memory.',
    'The run resumes when the same command is repeated. Verdicts: reproduced, contradicted, inconclusive.',
    'Data: --data kvasir=DIR,ham10000=DIR,cvc=DIR, or MEDFL_DATA_KVASIR / MEDFL_DATA_HAM10000 / MEDFL_DATA_CVC,',
    'else the shared samples (../shared/data, or MEDFL_SHARED_DATA).',
  ].join('\n'),
  positionals: { name: '<paper>', help: PAPERS.join(' | ') },
  options: {
    scale: choice(['cpu', 'paper'], 'cpu (reduced size, width, data) or paper (the papers\' sizes and widths)', { default: 'cpu' }),
    data: string('dataset folders, e.g. kvasir=/data/Kvasir-SEG,ham10000=/data/HAM10000', { metavar: 'KEY=DIR,...' }),
    jobs: int('cells (grid papers) or seeds (method papers) run at once, each in its own process', { min: 1, defaultHelp: 'the number of CPU cores' }),
    seeds: int('seeds 0..K-1', { min: 1, defaultHelp: "the recipe's (3); --quick: at most 2" }),
    quick: flag('tiny budgets: a smoke test of the pipeline (minutes), not a result'),
    estimate: flag('--scale paper: print the time and memory estimate and stop'),
    results: string('where results go (a reproduce/<paper>-<scale> folder is made inside)', { metavar: 'DIR', defaultHelp: 'experiments/results' }),
  },
  async run({ values: v, positionals }, io) {
    const paper = positionals[0];
    if (!PAPERS.includes(paper)) throw new UsageError(`unknown paper '${paper}'; expected one of ${PAPERS.join(', ')}`);
    let data: Record<string, string>;
    try {
      data = parseDataOption(v.data);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (v.estimate) {
      if (v.scale !== 'paper') throw new UsageError('--estimate goes with --scale paper');
      await initBackend(undefined, { log: io.log });
      const recipe = getRecipe(paper);
      const plan = await paperScalePlan(recipe, v.seeds ?? recipe.seeds, io.log);
      for (const p of plan.problems) io.log(`does not fit: ${p}`);
      io.log(plan.fits ? 'estimate only: nothing was trained' : 'estimate only: nothing was trained; --scale paper would be refused on this machine');
      return plan.fits ? 0 : 1;
    }
    await reproduce(paper, { scale: v.scale, quick: v.quick, data, seeds: v.seeds, jobs: v.jobs ?? os.cpus().length, resultsDir: v.results, log: io.log });
    return 0;
  },
});
