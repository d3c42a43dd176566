/** `medfl zoo`: parameters and training speed of every registered architecture ({@link zooTable}). */
import { defineCommand, flag, int, list } from './args';
import { initBackend } from '../backend';
import { zooTable, formatZoo } from '../experiment/zoo';

/** The `zoo` command. */
export const zooCommand = defineCommand({
  name: 'zoo',
  summary: 'table of the architectures: parameters at the default and paper width, training images/s',
  options: {
    size: int('input side in pixels (square)', { min: 1, default: 128 }),
    batch: int('batch size', { min: 1, default: 8 }),
    steps: int('timed training steps after one warm-up step', { min: 1, default: 3 }),
    models: list('architectures (registry names)', { defaultHelp: 'all' }),
    'no-paper': flag('skip building the paper-width models (parameter counts)'),
    json: flag('print JSON instead of the table'),
  },
  async run({ values: v }, io) {
    const info = await initBackend(undefined, { log: v.json ? () => {} : io.log });
    const rows = await zooTable({
      size: v.size,
      batch: v.batch,
      steps: v.steps,
      models: v.models,
      paper: !v['no-paper'],
      log: v.json ? undefined : io.log,
    });
    if (v.json) io.log(JSON.stringify({ backend: info.name, size: v.size, batch: v.batch, rows }, null, 2));
    else io.log(`\nbackend: ${info.name}\n${formatZoo(rows, v.size, v.batch)}`);
    return rows.some((r) => r.error) ? 1 : 0;
  },
});
