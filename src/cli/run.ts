/** `medfl run <experiment.json>`: run an experiment config ({@link runExperiment}). */
import { defineCommand, flag, int, string } from './args';
import * as os from 'node:os';
import { runExperiment } from '../experiment/runner';

/** The `run` command. */
export const runCommandSpec = defineCommand({
  name: 'run',
  summary: 'run (or resume) an experiment config, writing its run folder under --results',
  positionals: { name: '<experiment.json>', help: 'the config, e.g. experiments/multisite-fedavg.json' },
  options: {
    quick: flag("apply the config's quick overrides (small data, few rounds)"),
    results: string('where run folders go', { metavar: 'DIR', defaultHelp: 'experiments/results' }),
    jobs: int('cells run at once, each in its own process (1 = in this process)', { min: 1, defaultHelp: 'the number of CPU cores' }),
  },
  async run({ values, positionals }, io) {
    await runExperiment(positionals[0], { quick: values.quick, resultsDir: values.results, jobs: values.jobs ?? os.cpus().length, log: io.log });
    return 0;
  },
});
