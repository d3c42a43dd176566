/** `medfl bench`: train / infer images per second and memory of every architecture, with the PyTorch ratio ({@link runBench}). */
import { defineCommand, flag, int, list, string } from './args';
import { parseBenchWidth, runBench } from '../bench';

/** The `bench` command; defaults are `runBench`'s. */
export const benchCommand = defineCommand({
  name: 'bench',
  summary: 'benchmark every architecture (train/infer img/s, memory) and the PyTorch ratio',
  options: {
    models: list('architectures (registry names, see `medfl zoo`)', { defaultHelp: 'all' }),
    size: int('input side in pixels (square)', { min: 1, defaultHelp: '128' }),
    batch: int('batch size', { min: 1, defaultHelp: '8' }),
    width: string("model width (base channels): a number, 'paper' or 'default' (each model's paperWidth / defaultWidth)", { metavar: 'W', defaultHelp: 'default' }),
    threads: list('thread counts to measure, e.g. 1,2 (medfl native addon and PyTorch alike; 1 thread: CPU-time figures, more: wall time)', { defaultHelp: '1,<all cores>' }),
    'micro-batch': int('train in chunks of at most this many samples with gradient accumulation (BatchNorm statistics per chunk; fits large batches in the 4 GiB wasm heap)', { min: 1, defaultHelp: 'off' }),
    repeats: int('timed steps per measurement (median reported)', { min: 1, defaultHelp: '5' }),
    warmup: int('untimed steps first', { min: 0, defaultHelp: '3' }),
    'min-sample-ms': int('shortest timed sample: the step repeats until a sample lasts this long (scheduler-tick resolution of CPU time)', { min: 0, defaultHelp: '250' }),
    'no-torch': flag('skip the PyTorch twins'),
    'no-fold': flag('time inference on the model as built (default: BatchNorm folded into the preceding convs)'),
    json: string('also write the results as JSON', { metavar: 'FILE' }),
  },
  async run({ values: v }, io) {
    await runBench({
      models: v.models,
      size: v.size,
      batch: v.batch,
      width: v.width === undefined ? undefined : parseBenchWidth(v.width),
      threads: v.threads?.map((t) => {
        const n = Number(t);
        if (!Number.isInteger(n) || n < 1) throw new Error(`--threads: expected positive integers, got '${t}'`);
        return n;
      }),
      repeats: v.repeats,
      microBatch: v['micro-batch'],
      warmup: v.warmup,
      minSampleMs: v['min-sample-ms'],
      torch: !v['no-torch'],
      fold: !v['no-fold'],
      json: v.json,
      out: io.log,
    });
    return 0;
  },
});
