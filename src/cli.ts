#!/usr/bin/env node
/**
 * `medfl <command> [options]`: the command-line face of the library.
 * Every command is a thin wrapper over a library function, so notebooks and
 * the CLI do the same thing.
 */
import { parseArgs } from 'node:util';

type Command = {
  summary: string;
  run: (argv: string[]) => Promise<number>;
};

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${v}'`);
  return n;
}

class UsageError extends Error {}

const COMMANDS: Record<string, Command> = {
  demo: {
    summary: 'centralized vs local vs FedAvg vs SplitFed on the embedded multi-site data: per-site Dice/IoU, bytes',
    async run(argv) {
      const { values } = parseArgs({
        args: argv,
        options: {
          sites: { type: 'string' },
          samples: { type: 'string' },
          size: { type: 'string' },
          task: { type: 'string' },
          model: { type: 'string' },
          width: { type: 'string' },
          rounds: { type: 'string' },
          'local-epochs': { type: 'string' },
          workers: { type: 'string' },
          out: { type: 'string' },
          seed: { type: 'string' },
          backend: { type: 'string' },
        },
        strict: true,
      });
      const { runDemo } = await import('./experiment/demo');
      const { parseBackendName } = await import('./backend');
      const task = values.task;
      if (task !== undefined && task !== 'polyp' && task !== 'lesion') throw new UsageError(`--task must be 'polyp' or 'lesion', got '${task}'`);
      await runDemo({
        sites: num(values.sites, 'sites'),
        samplesPerSite: num(values.samples, 'samples'),
        size: num(values.size, 'size'),
        task,
        model: values.model,
        width: num(values.width, 'width'),
        rounds: num(values.rounds, 'rounds'),
        localEpochs: num(values['local-epochs'], 'local-epochs'),
        workers: num(values.workers, 'workers'),
        outDir: values.out,
        seed: num(values.seed, 'seed'),
        backend: values.backend ? parseBackendName(values.backend, '--backend') : undefined,
      });
      return 0;
    },
  },
  partition: {
    summary: 'preview a site partition (--dataset, --scheme, --sites, --alpha, --seed, --json)',
    async run(argv) {
      const { partitionCommand } = await import('./partition/cli');
      return partitionCommand(argv);
    },
  },
  run: {
    summary: 'run an experiment config: medfl run experiments/<name>.json [--quick] [--results DIR]',
    async run(argv) {
      const { values, positionals } = parseArgs({
        args: argv,
        options: { quick: { type: 'boolean' }, results: { type: 'string' } },
        allowPositionals: true,
        strict: true,
      });
      if (positionals.length !== 1) throw new UsageError('expected one experiment file, e.g. medfl run experiments/multisite-fedavg.json --quick');
      const { runExperiment } = await import('./experiment/runner');
      await runExperiment(positionals[0], { quick: values.quick, resultsDir: values.results });
      return 0;
    },
  },
  compare: {
    summary: 'compare finished experiment runs: medfl compare <run dir>... [--html FILE]',
    async run(argv) {
      const { values, positionals } = parseArgs({ args: argv, options: { html: { type: 'string' } }, allowPositionals: true, strict: true });
      if (positionals.length === 0) throw new UsageError('expected one or more run folders (experiments/results/<name>)');
      const { compareRuns } = await import('./experiment/compare');
      const text = compareRuns(positionals, { html: values.html });
      console.log(text);
      return 0;
    },
  },
  datasets: {
    summary: 'check a dataset folder layout: medfl datasets check <path> [--kind kvasir|ham10000|cvc|nifti] [--json]',
    async run(argv) {
      const { datasetsCheckCommand } = await import('./datasets-check');
      return datasetsCheckCommand(argv);
    },
  },
  medmerge: {
    summary: 'MedMerge vs FT / LP-FT / uniform / task arithmetic [--task segmentation|classification] [--data embedded|real] [--quick] [--json FILE]',
    async run(argv) {
      const { medmergeCommand } = await import('./experiment/methods');
      return medmergeCommand(argv);
    },
  },
  medforge: {
    summary: 'MedForge Fusion / Mixture as sites arrive vs single-site / FedAvg, with bytes [--mode fusion|mixture|both] [--data embedded|real] [--quick]',
    async run(argv) {
      const { medforgeCommand } = await import('./experiment/methods');
      return medforgeCommand(argv);
    },
  },
  m4oe: {
    summary: 'M4oE vs one shared model vs per-modality models [--builder unet|swin] [--data embedded|real] [--quick] [--json FILE]',
    async run(argv) {
      const { m4oeCommand } = await import('./experiment/methods');
      return m4oeCommand(argv);
    },
  },
  bench: {
    summary: 'benchmark every architecture (train/infer img/s, memory) and the PyTorch ratio: [--models a,b] [--size 128] [--batch 8] [--width W] [--repeats 5] [--warmup 3] [--no-torch] [--json FILE]',
    async run(argv) {
      const { values } = parseArgs({
        args: argv,
        options: {
          models: { type: 'string' },
          size: { type: 'string' },
          batch: { type: 'string' },
          width: { type: 'string' },
          repeats: { type: 'string' },
          warmup: { type: 'string' },
          'no-torch': { type: 'boolean' },
          json: { type: 'string' },
        },
        strict: true,
      });
      const { runBench } = await import('./bench');
      await runBench({
        models: values.models?.split(','),
        size: num(values.size, 'size'),
        batch: num(values.batch, 'batch'),
        width: num(values.width, 'width'),
        repeats: num(values.repeats, 'repeats'),
        warmup: num(values.warmup, 'warmup'),
        torch: !values['no-torch'],
        json: values.json,
      });
      return 0;
    },
  },
  zoo: {
    summary: 'table of the ten architectures: parameters and training speed',
    async run(argv) {
      const { zooCommand } = await import('./experiment/zoo');
      return zooCommand(argv);
    },
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(width)}  ${c.summary}`);
  return ['usage: medfl <command> [options]', '', 'commands:', ...lines, '', 'Environment: MEDFL_BACKEND=wasm|cpu|tensorflow forces the engine.'].join('\n');
}

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`medfl: unknown command '${name}'. Valid: ${Object.keys(COMMANDS).join(', ')}`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`medfl ${name}: ${msg}`);
      return 2;
    }
    console.error(`medfl ${name}: ${msg}`);
    if (process.env.MEDFL_DEBUG) console.error(e);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
