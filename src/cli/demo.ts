/** `medfl demo`: centralized vs local vs FedAvg vs SplitFed on the embedded multi-site data ({@link runDemo}). */
import { choice, defineCommand, int, string } from './args';
import { runDemo } from '../experiment/demo';
import type { BackendName } from '../backend';

/** Engines `--backend` accepts (as `parseBackendName`). */
const BACKENDS = ['wasm', 'cpu', 'tensorflow'] as const satisfies readonly BackendName[];

/** The `demo` command; defaults are `runDemo`'s. */
export const demoCommand = defineCommand({
  name: 'demo',
  summary: 'centralized vs local vs FedAvg vs SplitFed on the embedded multi-site data: per-site Dice/IoU, bytes',
  options: {
    sites: int('hospitals / sites', { min: 1, defaultHelp: '4' }),
    samples: int('images per site', { min: 1, defaultHelp: '32' }),
    size: int('image side in pixels (square)', { min: 1, defaultHelp: '64' }),
    task: choice(['polyp', 'lesion'], 'synthetic task', { defaultHelp: 'polyp' }),
    model: string('zoo architecture (see `medfl zoo`)', { metavar: 'NAME', defaultHelp: 'unet' }),
    width: int('model width (base channels)', { min: 1, defaultHelp: '4' }),
    rounds: int('communication rounds per strategy', { min: 1, defaultHelp: '5' }),
    'local-epochs': int('local epochs per round', { min: 1, defaultHelp: '2' }),
    workers: int('worker threads for FedAvg / local sites', { min: 1, defaultHelp: '1' }),
    out: string("write each strategy's run folder under this directory", { metavar: 'DIR' }),
    seed: int('seed of data, splits and weights', { min: 0, defaultHelp: '0' }),
    seeds: int('runs per strategy (seeds seed, seed+1, ...): mean and 95% interval over them, paired differences', { min: 1, defaultHelp: '1' }),
    backend: choice(BACKENDS, 'force the engine', { defaultHelp: 'env MEDFL_BACKEND, else the fastest available' }),
  },
  async run({ values: v }, io) {
    await runDemo({
      sites: v.sites,
      samplesPerSite: v.samples,
      size: v.size,
      task: v.task,
      model: v.model,
      width: v.width,
      rounds: v.rounds,
      localEpochs: v['local-epochs'],
      workers: v.workers,
      outDir: v.out,
      seed: v.seed,
      seeds: v.seeds,
      backend: v.backend,
      out: io.log,
    });
    return 0;
  },
});
