/** The options `medmerge`, `medforge` and `m4oe` share, and how they map onto the drivers' options. */
import { UsageError, choice, flag, int, string, type OptionValues } from './args';
import { DATA_SOURCES, type DataSource } from '../data/sources';

/** Options common to the three method comparisons (each command adds its own and a `--size` with its default). */
export const METHOD_OPTIONS = {
  quick: flag('about a minute on 2 CPU cores (smaller data and budgets; real sets capped at --samples)'),
  seed: int('seed of data, splits, weights and batch order', { min: 0, default: 0 }),
  data: choice(DATA_SOURCES, 'embedded synthetic data or the real samples', { default: 'embedded' }),
  'data-root': string('real data folder', { metavar: 'DIR', defaultHelp: '$MEDFL_SHARED_DATA, else ../shared/data next to the repository' }),
  json: string('also write the rows as JSON (atomically)', { metavar: 'FILE' }),
  samples: int('images per set (advanced)', { min: 2 }),
  epochs: int('every epoch / round count (advanced)', { min: 0 }),
  width: int('model width (advanced)', { min: 1 }),
  batch: int('batch size (advanced)', { min: 1, default: 8 }),
};

/** The driver options the common flags set (`size` comes from each command's own `--size`). */
export function methodOptions(v: OptionValues<typeof METHOD_OPTIONS>): {
  quick: boolean;
  seed: number;
  data: DataSource;
  dataRoot?: string;
  samples?: number;
  epochs?: number;
  width?: number;
  batchSize: number;
} {
  return { quick: v.quick, seed: v.seed, data: v.data, dataRoot: v['data-root'], samples: v.samples, epochs: v.epochs, width: v.width, batchSize: v.batch };
}

/** Run a driver's settings check; its complaints (size, option combinations) become usage errors. */
export function checkSettings(resolve: () => unknown): void {
  try {
    resolve();
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}
