/**
 * `medfl <command> [options]`: the command table, the top-level usage and
 * {@link main}. Every command is a thin caller of a library function, so
 * notebooks and the command line do the same thing; every command's
 * arguments go through the one layer in `./args`.
 *
 * Exit codes: 0 ok, 2 bad arguments (`medfl <cmd>: message` + a hint to
 * `--help`), 1 any other failure (`MEDFL_DEBUG=1` adds the stack).
 */
import { UsageError, consoleIo, closest, runCommand, type Command, type Io, type OptionTable } from './args';
import { demoCommand } from './demo';
import { partitionCommand } from './partition';
import { runCommandSpec } from './run';
import { compareCommand } from './compare';
import { datasetsCommand } from './datasets';
import { medmergeCommand } from './medmerge';
import { medforgeCommand } from './medforge';
import { m4oeCommand } from './m4oe';
import { benchCommand } from './bench';
import { zooCommand } from './zoo';
import { reproduceCommand } from './reproduce';
import { flowerCommand } from './flower';

/** Every command, in the order the usage lists them. */
export const COMMANDS: readonly Command<OptionTable>[] = [
  demoCommand,
  partitionCommand,
  runCommandSpec,
  reproduceCommand,
  compareCommand,
  datasetsCommand,
  medmergeCommand,
  medforgeCommand,
  m4oeCommand,
  benchCommand,
  zooCommand,
  flowerCommand,
];

/** The top-level usage: every command with its summary. */
export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: medfl <command> [options]     (medfl <command> --help, or medfl help <command>, for its options)',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Environment: MEDFL_BACKEND=wasm|cpu|tensorflow forces the engine; MEDFL_DEBUG=1 prints stacks.',
  ].join('\n');
}

/**
 * Run the CLI with `argv` (without node and script); resolves to the exit
 * code. `io` receives every line (default: stdout / stderr).
 */
export async function main(argv: readonly string[], io: Io = consoleIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'help' && rest.length > 0) return main([rest[0], '--help'], io);
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    (name ? io.log : io.error)(usage());
    return name ? 0 : 2;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    const near = closest(name, COMMANDS.map((c) => c.name));
    io.error(`medfl: unknown command '${name}'${near ? `; did you mean '${near}'?` : ''}. Valid: ${COMMANDS.map((c) => c.name).join(', ')}`);
    return 2;
  }
  try {
    return await runCommand(cmd, rest, io);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    io.error(`medfl ${name}: ${msg}`);
    if (e instanceof UsageError) {
      io.error(`run 'medfl ${name} --help' for the options`);
      return 2;
    }
    if (process.env.MEDFL_DEBUG && e instanceof Error && e.stack) io.error(e.stack);
    return 1;
  }
}
