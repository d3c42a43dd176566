/** `medfl run <experiment.json>`: run an experiment config ({@link runExperiment}). */
import { defineCommand, flag, string } from './args';
import { runExperiment } from '../experiment/runner';

/** The `run` command. */
export const runCommandSpec = defineCommand({
  name: 'run',
  summary: 'run (or resume) an experiment config, writing its run folder under --results',
  positionals: { name: '<experiment.json>', help: 'the config, e.g. experiments/multisite-fedavg.json' },
  options: {
    quick: flag("apply the config's quick overrides (small data, few rounds)"),
    results: string('where run folders go', { metavar: 'DIR', defaultHelp: 'experiments/results' }),
  },
  async run({ values, positionals }, io) {
    await runExperiment(positionals[0], { quick: values.quick, resultsDir: values.results, log: io.log });
    return 0;
  },
});
