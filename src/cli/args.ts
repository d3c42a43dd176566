/**
 * The one argument layer of the `medfl` command line.
 *
 * Every command declares an options table (name -> {@link OptionSpec}: type,
 * range or choices, default, help text, optional one-letter alias) and at
 * most one positional slot; {@link parseArgv} turns `argv` into typed values
 * and {@link formatHelp} prints the table. What the layer guarantees for
 * every command:
 *
 * - `--help` / `-h` prints the usage with every option, its default and its
 *   range, and the command exits 0;
 * - values that look like negative numbers (`--alpha -1`) are values, then
 *   range-checked: `--alpha must be > 0, got -1`;
 * - an unknown flag names the closest valid one (`unknown option --round;
 *   did you mean --rounds?`) and lists the valid options;
 * - every bad argument is a {@link UsageError}: `main` prints
 *   `medfl <cmd>: message` plus a hint to `--help` and exits 2; any other
 *   error exits 1.
 *
 * Syntax: `--name value`, `--name=value`, `-x value`, `-xvalue`; booleans
 * take no value (`--quick`, or `--quick=true|false`); `list` options take
 * comma-separated items and may repeat (`--models unet,segnet --models cgnet`);
 * `--` ends the options. A value starting with `-` that is not a number must
 * be written `--name=-value`.
 */

/** A bad command line: exit code 2, message printed as `medfl <cmd>: message`. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Where a command writes: `log` for results, `error` for diagnostics. */
export interface Io {
  log(line: string): void;
  error(line: string): void;
}

/** The process's stdout / stderr. */
export const consoleIo: Io = {
  log: (line) => console.log(line),
  error: (line) => console.error(line),
};

/** Bounds of a numeric option (all optional; `min` / `max` inclusive, `gt` / `lt` exclusive). */
export interface NumericRange {
  min?: number;
  max?: number;
  gt?: number;
  lt?: number;
}

interface OptionBase {
  /** One line of help text. */
  help: string;
  /** One-letter alias (`-x`); `h` is reserved for help. */
  short?: string;
  /** Placeholder shown in the help (`--out DIR`); default from the type. */
  metavar?: string;
  /** Help-only description of a default decided elsewhere (e.g. `'64 (--quick 32)'`); the value stays undefined. */
  defaultHelp?: string;
}

/** Free text. */
export interface StringOption extends OptionBase {
  type: 'string';
  default?: string;
}
/** A whole number, optionally bounded. */
export interface IntOption extends OptionBase, NumericRange {
  type: 'int';
  default?: number;
}
/** A finite number, optionally bounded. */
export interface NumberOption extends OptionBase, NumericRange {
  type: 'number';
  default?: number;
}
/** A flag: present = true, absent = false. */
export interface BooleanOption extends OptionBase {
  type: 'boolean';
}
/** One of a fixed set of words. */
export interface ChoiceOption<C extends string = string> extends OptionBase {
  type: 'choice';
  choices: readonly C[];
  default?: C;
}
/** Comma-separated words (repeatable), optionally restricted to `choices`. */
export interface ListOption extends OptionBase {
  type: 'list';
  choices?: readonly string[];
  default?: readonly string[];
}

/** One row of an options table. */
export type OptionSpec = StringOption | IntOption | NumberOption | BooleanOption | ChoiceOption | ListOption;

/** A command's options: flag name (without `--`) -> spec. */
export type OptionTable = Record<string, OptionSpec>;

type Extra<T> = Partial<Omit<T, 'type' | 'help'>>;

/** A string option. */
export function string<E extends Extra<StringOption> = {}>(help: string, extra?: E): StringOption & NoInfer<E> {
  return { type: 'string', help, ...(extra as E) };
}
/** An integer option. */
export function int<E extends Extra<IntOption> = {}>(help: string, extra?: E): IntOption & NoInfer<E> {
  return { type: 'int', help, ...(extra as E) };
}
/** A number option. */
export function number<E extends Extra<NumberOption> = {}>(help: string, extra?: E): NumberOption & NoInfer<E> {
  return { type: 'number', help, ...(extra as E) };
}
/** A boolean flag (default false). */
export function flag<E extends Extra<BooleanOption> = {}>(help: string, extra?: E): BooleanOption & NoInfer<E> {
  return { type: 'boolean', help, ...(extra as E) };
}
/** A choice among `choices`. */
export function choice<const C extends string, E extends Extra<ChoiceOption<C>> = {}>(choices: readonly C[], help: string, extra?: E): ChoiceOption<C> & NoInfer<E> {
  return { type: 'choice', choices, help, ...(extra as E) };
}
/** A comma-separated list option. */
export function list<E extends Extra<ListOption> = {}>(help: string, extra?: E): ListOption & NoInfer<E> {
  return { type: 'list', help, ...(extra as E) };
}

type BaseValue<S> = S extends { type: 'int' | 'number' }
  ? number
  : S extends { type: 'boolean' }
    ? boolean
    : S extends { type: 'list' }
      ? string[]
      : S extends { type: 'choice'; choices: readonly (infer C)[] }
        ? C
        : string;

/** The parsed type of one option: booleans are always set; others are undefined unless given or defaulted. */
export type OptionValue<S> = S extends { type: 'boolean' } ? boolean : S extends { default: unknown } ? BaseValue<S> : BaseValue<S> | undefined;

/** Parsed values of a whole table. */
export type OptionValues<T extends OptionTable> = { -readonly [K in keyof T]: OptionValue<T[K]> };

/** The positional arguments a command takes (default: none). */
export interface PositionalSpec {
  /** Shown in the usage, e.g. `<experiment.json>`. */
  name: string;
  help: string;
  /** Fewest accepted. Default 1. */
  min?: number;
  /** Most accepted. Default 1; `Infinity` for a list. */
  max?: number;
}

/** What {@link parseArgv} needs. */
export interface ArgvSpec<T extends OptionTable> {
  options: T;
  positionals?: PositionalSpec;
}

/** The result of {@link parseArgv}. */
export interface ParsedArgs<T extends OptionTable> {
  /** True when `--help` / `-h` was given (nothing else is validated then). */
  help: boolean;
  values: OptionValues<T>;
  positionals: string[];
  /** The options present on the command line (not defaulted). */
  given: ReadonlySet<keyof T & string>;
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** Does `s` read as a number (so `-1` is a value, not a flag)? */
function isNumeric(s: string): boolean {
  return NUMERIC.test(s) || /^[+-]?Infinity$/.test(s);
}

/** Edit distance with adjacent transpositions (optimal string alignment); small strings only. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The candidate closest to `word` when it is plausibly a typo (a word of 3+
 * characters within edit distance max(1, min(3, length / 3)), or a 2+
 * character prefix of the candidate or the other way round); undefined
 * otherwise. Ties go to the earlier candidate.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  for (const c of candidates) {
    const d = editDistance(word, c);
    const prefix = word.length >= 2 && (c.startsWith(word) || word.startsWith(c));
    if (((word.length >= 3 && d <= limit) || prefix) && d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

/** The range of `r` in words (`> 0`, `>= 1 and <= 10`), or '' when unbounded. */
export function rangeText(r: NumericRange): string {
  const parts: string[] = [];
  if (r.gt !== undefined) parts.push(`> ${r.gt}`);
  if (r.min !== undefined) parts.push(`>= ${r.min}`);
  if (r.lt !== undefined) parts.push(`< ${r.lt}`);
  if (r.max !== undefined) parts.push(`<= ${r.max}`);
  return parts.join(' and ');
}

function inRange(x: number, r: NumericRange): boolean {
  return !((r.gt !== undefined && !(x > r.gt)) || (r.min !== undefined && !(x >= r.min)) || (r.lt !== undefined && !(x < r.lt)) || (r.max !== undefined && !(x <= r.max)));
}

function quoteList(words: readonly string[]): string {
  return words.join(', ');
}

function checkChoice(name: string, value: string, choices: readonly string[]): void {
  if (choices.includes(value)) return;
  const near = closest(value, choices);
  throw new UsageError(`--${name} must be one of ${quoteList(choices)}; got '${value}'${near ? ` (did you mean '${near}'?)` : ''}`);
}

/** Convert and validate one raw value of option `name`. */
function convert(name: string, spec: OptionSpec, raw: string): string | number | string[] {
  switch (spec.type) {
    case 'int':
    case 'number': {
      const x = raw.trim() === '' ? NaN : Number(raw);
      const isInt = spec.type === 'int';
      if (!Number.isFinite(x) || (isInt && !Number.isInteger(x))) throw new UsageError(`--${name} must be ${isInt ? 'an integer' : 'a number'}, got '${raw}'`);
      if (!inRange(x, spec)) throw new UsageError(`--${name} must be ${isInt ? 'an integer ' : ''}${rangeText(spec)}, got ${x}`);
      return x;
    }
    case 'choice':
      checkChoice(name, raw, spec.choices);
      return raw;
    case 'list': {
      const items = raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      if (items.length === 0) throw new UsageError(`--${name} needs at least one item, got '${raw}'`);
      if (spec.choices) for (const it of items) checkChoice(name, it, spec.choices);
      return items;
    }
    default:
      return raw;
  }
}

function validateTable(options: OptionTable): void {
  const shorts = new Set<string>();
  for (const [name, spec] of Object.entries(options)) {
    if (name === 'help') throw new Error(`options table: '--help' is built in`);
    if (spec.short !== undefined) {
      if (spec.short.length !== 1 || spec.short === 'h' || shorts.has(spec.short)) throw new Error(`options table: bad or duplicate short alias '-${spec.short}' of --${name}`);
      shorts.add(spec.short);
    }
  }
}

function unknownOption(token: string, options: OptionTable): never {
  const names = Object.keys(options);
  const bare = token.replace(/^-+/, '').split('=')[0];
  const near = closest(bare, names);
  const valid = [...names.map((n) => `--${n}`), '--help'].join(', ');
  throw new UsageError(`unknown option ${token.split('=')[0]}${near ? `; did you mean --${near}?` : ''}\nvalid options: ${valid}`);
}

/**
 * Parse `argv` (the arguments after the command name) against a table.
 * Throws {@link UsageError} for every bad argument (unknown flag, missing or
 * malformed value, value out of range, wrong number of positionals).
 */
export function parseArgv<T extends OptionTable>(argv: readonly string[], spec: ArgvSpec<T>): ParsedArgs<T> {
  const { options } = spec;
  validateTable(options);
  const values: Record<string, unknown> = {};
  const given = new Set<string>();
  const positionals: string[] = [];
  const byShort = new Map<string, string>();
  for (const [name, s] of Object.entries(options)) if (s.short) byShort.set(s.short, name);

  const dashDash = argv.indexOf('--');
  const optionPart = dashDash < 0 ? argv : argv.slice(0, dashDash);
  if (optionPart.includes('--help') || optionPart.includes('-h')) {
    return { help: true, values: values as OptionValues<T>, positionals, given: given as Set<keyof T & string> };
  }

  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (i === dashDash) {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string;
    let inline: string | undefined;
    if (token.startsWith('--')) {
      const eq = token.indexOf('=');
      name = eq < 0 ? token.slice(2) : token.slice(2, eq);
      inline = eq < 0 ? undefined : token.slice(eq + 1);
      if (!Object.prototype.hasOwnProperty.call(options, name)) unknownOption(token, options);
    } else if (token.startsWith('-') && token.length > 1 && !isNumeric(token)) {
      const long = byShort.get(token[1]);
      if (long === undefined || (token.length > 2 && options[long].type === 'boolean')) unknownOption(token, options);
      name = long;
      inline = token.length > 2 ? token.slice(2).replace(/^=/, '') : undefined;
    } else {
      positionals.push(token);
      continue;
    }
    const opt = options[name];
    given.add(name);
    if (opt.type === 'boolean') {
      if (inline === undefined || inline === 'true') values[name] = true;
      else if (inline === 'false') values[name] = false;
      else throw new UsageError(`--${name} takes no value (or =true / =false), got '${inline}'`);
      continue;
    }
    let raw = inline;
    if (raw === undefined) {
      const next = argv[i + 1];
      if (next === undefined || i + 1 === dashDash) throw new UsageError(`--${name} needs a value (${metavarOf(opt)})`);
      if (next.startsWith('-') && next.length > 1 && !isNumeric(next)) {
        throw new UsageError(`--${name} needs a value (${metavarOf(opt)}), got the option ${next}; write --${name}=${next} if that is the value`);
      }
      raw = next;
      i++;
    }
    if (raw === '') throw new UsageError(`--${name} needs a value (${metavarOf(opt)}), got ''`);
    const v = convert(name, opt, raw);
    values[name] = opt.type === 'list' && Array.isArray(values[name]) ? [...(values[name] as string[]), ...(v as string[])] : v;
  }

  for (const [name, opt] of Object.entries(options)) {
    if (given.has(name)) continue;
    if (opt.type === 'boolean') values[name] = false;
    else if (opt.default !== undefined) values[name] = Array.isArray(opt.default) ? [...opt.default] : opt.default;
  }

  const pos = spec.positionals;
  const min = pos ? (pos.min ?? 1) : 0;
  const max = pos ? (pos.max ?? 1) : 0;
  if (positionals.length < min) throw new UsageError(`missing argument ${pos!.name}: ${pos!.help}`);
  if (positionals.length > max) {
    throw new UsageError(max === 0 ? `unexpected argument '${positionals[0]}' (this command takes options only)` : `too many arguments: expected at most ${max} ${pos!.name}, got ${positionals.map((p) => `'${p}'`).join(' ')}`);
  }
  return { help: false, values: values as OptionValues<T>, positionals, given: given as Set<keyof T & string> };
}

function metavarOf(spec: OptionSpec): string {
  if (spec.metavar) return spec.metavar;
  switch (spec.type) {
    case 'int':
      return 'N';
    case 'number':
      return 'X';
    case 'choice':
      return spec.choices.join('|');
    case 'list':
      return spec.choices ? `${spec.choices.slice(0, 2).join(',')},...` : 'A,B,...';
    default:
      return 'VALUE';
  }
}

function formatDefault(spec: OptionSpec): string | undefined {
  if (spec.defaultHelp !== undefined) return spec.defaultHelp;
  if (spec.type === 'boolean' || spec.default === undefined) return undefined;
  return Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default);
}

/** The help line(s) of one option: `  -x, --name METAVAR  help [range; default D]`. */
function optionHead(name: string, spec: OptionSpec | undefined): string {
  return spec === undefined ? '-h, --help' : `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.type === 'boolean' ? '' : ` ${metavarOf(spec)}`}`;
}

function optionLines(name: string, spec: OptionSpec | undefined, width: number): string[] {
  const head = optionHead(name, spec);
  const notes: string[] = [];
  if (spec && (spec.type === 'int' || spec.type === 'number')) {
    const r = rangeText(spec);
    notes.push(spec.type === 'int' ? `integer${r ? ` ${r}` : ''}` : r);
  }
  if (spec && spec.type === 'list' && spec.choices) notes.push(`of ${spec.choices.join(', ')}`);
  const d = spec && formatDefault(spec);
  if (d !== undefined) notes.push(`default ${d}`);
  const kept = notes.filter(Boolean);
  const text = `${spec ? spec.help : 'print this help and exit'}${kept.length ? ` [${kept.join('; ')}]` : ''}`;
  const left = `  ${head}`;
  if (left.length + 2 <= width) return [`${left.padEnd(width)}${text}`];
  return [left, `${' '.repeat(width)}${text}`];
}

/** What {@link formatHelp} prints about a command. */
export interface HelpSpec<T extends OptionTable> extends ArgvSpec<T> {
  /** `medfl <name>`. */
  name: string;
  /** One line. */
  summary: string;
  /** Further paragraphs (paper, data, departures), printed as given. */
  description?: string;
  /** The usage after the command name when it is not `[options] <positional>` (e.g. `check <path>... [options]`). */
  usage?: string;
}

/** The `--help` text of a command: usage, summary, description, positionals, every option with its range and default. */
export function formatHelp<T extends OptionTable>(spec: HelpSpec<T>): string {
  const pos = spec.positionals;
  const posUsage = pos ? ((pos.max ?? 1) > 1 ? `${pos.name}...` : pos.name) : '';
  const usage = spec.usage ?? ['[options]', (pos?.min ?? 1) === 0 ? `[${posUsage}]` : posUsage].filter(Boolean).join(' ');
  const heads = [...Object.entries(spec.options).map(([n, s]) => optionHead(n, s)), optionHead('help', undefined)];
  const width = Math.min(34, Math.max(...heads.map((h) => h.length + 4)));
  const lines = [`usage: medfl ${spec.name} ${usage}`, '', spec.summary];
  if (spec.description) lines.push('', spec.description);
  if (pos) lines.push('', 'arguments:', `  ${posUsage.padEnd(width - 2)}${pos.help}`);
  lines.push('', 'options:');
  for (const [name, s] of Object.entries(spec.options)) lines.push(...optionLines(name, s, width));
  lines.push(...optionLines('help', undefined, width));
  return lines.join('\n');
}

/** A `medfl` command: its table and a thin `run` over the library. */
export interface Command<T extends OptionTable = OptionTable> extends HelpSpec<T> {
  /** Resolves to the exit code; throws {@link UsageError} for bad arguments. */
  run(args: ParsedArgs<T>, io: Io): Promise<number>;
}

/** Declare a command (checks the table once, keeps the option types). */
export function defineCommand<T extends OptionTable>(command: Command<T>): Command<T> {
  validateTable(command.options);
  return command;
}

/** Parse `argv` for `command`, print its help on `--help`, else run it. Usage errors propagate. */
export async function runCommand<T extends OptionTable>(command: Command<T>, argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgv(argv, command);
  if (args.help) {
    io.log(formatHelp(command));
    return 0;
  }
  return command.run(args, io);
}

/** Throw a {@link UsageError} when `size` is not a multiple of `divisor` (names the nearest valid size). */
export function requireMultiple(option: string, size: number, divisor: number, owner: string): void {
  if (size % divisor !== 0) {
    throw new UsageError(`--${option} ${size}: ${owner} needs a multiple of ${divisor} (nearest: ${Math.max(divisor, Math.round(size / divisor) * divisor)})`);
  }
}
