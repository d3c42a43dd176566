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
    summary: 'train on the embedded synthetic multi-site data and print per-site Dice/IoU',
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
          epochs: { type: 'string' },
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
        epochs: num(values.epochs, 'epochs'),
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
