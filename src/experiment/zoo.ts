/**
 * The architecture zoo table (`medfl zoo` / `npm run zoo`): one line per registered architecture with its
 * parameter count at the default and the paper width, and forward+backward
 * (training step: loss, gradients, Adam update) images/s on the current backend.
 */
import * as tf from '@tensorflow/tfjs';
import { createAdam } from '../backend';
import { MODEL_NAMES, createModel, getModelSpec } from '../models/registry';
import { bceDiceLoss } from '../metrics/losses';
import { formatTable } from '../util/table';

/** One row of the zoo table. */
export interface ZooRow {
  name: string;
  displayName: string;
  defaultWidth: number;
  paramsDefault: number;
  paperWidth: number;
  /** NaN when not measured (`paper: false`) or when it failed. */
  paramsPaper: number;
  /** Training images/s (median over `steps` timed steps after one warm-up). */
  trainImagesPerSecond: number;
  error?: string;
}

/** Options of {@link zooTable}. */
export interface ZooOptions {
  models?: readonly string[];
  /** Input size for the speed measurement (square). Default 128. */
  size?: number;
  /** Default 8. */
  batch?: number;
  /** Timed steps after one warm-up step. Default 3. */
  steps?: number;
  /** Also build the paper-width model to count its parameters. Default true. */
  paper?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

/** Measure the zoo (see module doc). */
export async function zooTable(options: ZooOptions = {}): Promise<ZooRow[]> {
  const size = options.size ?? 128;
  const batch = options.batch ?? 8;
  const steps = options.steps ?? 3;
  const rows: ZooRow[] = [];
  for (const name of options.models ?? MODEL_NAMES) {
    const spec = getModelSpec(name);
    const caps = spec.capabilities;
    const row: ZooRow = {
      name,
      displayName: spec.displayName,
      defaultWidth: caps.defaultWidth,
      paramsDefault: NaN,
      paperWidth: caps.paperWidth,
      paramsPaper: NaN,
      trainImagesPerSecond: NaN,
    };
    try {
      const model = createModel(name, { inputShape: [size, size, 3], numClasses: 1, seed: 1 });
      row.paramsDefault = model.countParams();
      const x = tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', 1);
      const y = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([batch, size, size, 1], 0, 1, 'float32', 2), 0.7), 'float32'));
      const opt = createAdam(1e-3);
      const loss = bceDiceLoss();
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const times: number[] = [];
      for (let s = 0; s <= steps; s++) {
        const t0 = performance.now();
        const l = opt.minimize(() => loss(y, model.apply(x, { training: true }) as tf.Tensor), true, vars);
        l?.dataSync();
        l?.dispose();
        if (s > 0) times.push((performance.now() - t0) / 1000);
      }
      row.trainImagesPerSecond = batch / median(times);
      opt.dispose();
      tf.dispose([x, y]);
      model.dispose();
      if (options.paper !== false) {
        const big = createModel(name, { inputShape: [size, size, 3], numClasses: 1, width: caps.paperWidth, seed: 1 });
        row.paramsPaper = big.countParams();
        big.dispose();
      }
    } catch (e) {
      row.error = e instanceof Error ? e.message : String(e);
    }
    options.log?.(`  ${name}: ${Number.isNaN(row.trainImagesPerSecond) ? `failed (${row.error})` : `${row.trainImagesPerSecond.toFixed(2)} img/s`}`);
    rows.push(row);
  }
  return rows;
}

/** Render {@link zooTable} rows. */
export function formatZoo(rows: readonly ZooRow[], size = 128, batch = 8): string {
  return formatTable(
    ['architecture', 'width', 'params', 'paper width', 'params (paper)', `train img/s (${size}px, batch ${batch})`],
    rows.map((r) => [r.displayName, r.defaultWidth, r.paramsDefault, r.paperWidth, r.paramsPaper, r.trainImagesPerSecond]),
    { digits: 2 },
  );
}
