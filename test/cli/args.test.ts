/** The argument layer: parsing tables (ints, numbers, choices, lists, booleans, defaults), errors, help text. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError, choice, closest, flag, formatHelp, int, list, number, parseArgv, rangeText, string } from '../../src/cli/args';

const OPTIONS = {
  sites: int('sites', { min: 1, default: 4 }),
  seed: int('seed'),
  alpha: number('alpha', { gt: 0, default: 0.5 }),
  shift: number('shift'),
  frac: number('fraction', { min: 0, max: 1 }),
  mode: choice(['fusion', 'mixture', 'both'], 'mode', { default: 'both' }),
  task: choice(['a', 'b'], 'task'),
  models: list('models'),
  kinds: list('kinds', { choices: ['x', 'y', 'z'], default: ['x'] }),
  quick: flag('quick', { short: 'q' }),
  out: string('out', { short: 'o', metavar: 'DIR' }),
  name: string('name', { default: 'n0' }),
};

const DEFAULTS = { sites: 4, alpha: 0.5, mode: 'both', kinds: ['x'], quick: false, name: 'n0' };

// ---- success: [argv, expected values (defaults merged in), expected positionals]
const OK: [string[], Record<string, unknown>, string[]][] = [
  [[], {}, []],
  [['--sites', '7'], { sites: 7 }, []],
  [['--sites=7'], { sites: 7 }, []],
  [['--seed', '-3'], { seed: -3 }, []],
  [['--seed=-3'], { seed: -3 }, []],
  [['--sites', '1e1'], { sites: 10 }, []],
  [['--alpha', '0.25'], { alpha: 0.25 }, []],
  [['--alpha', '.5'], { alpha: 0.5 }, []],
  [['--shift', '-1.5'], { shift: -1.5 }, []],
  [['--shift', '-2e-3'], { shift: -0.002 }, []],
  [['--frac', '0'], { frac: 0 }, []],
  [['--frac', '1'], { frac: 1 }, []],
  [['--mode', 'fusion'], { mode: 'fusion' }, []],
  [['--task', 'b'], { task: 'b' }, []],
  [['--models', 'unet,segnet'], { models: ['unet', 'segnet'] }, []],
  [['--models', 'unet', '--models', ' cgnet , '], { models: ['unet', 'cgnet'] }, []],
  [['--kinds', 'y,z'], { kinds: ['y', 'z'] }, []],
  [['--quick'], { quick: true }, []],
  [['-q'], { quick: true }, []],
  [['--quick=false'], { quick: false }, []],
  [['-o', 'dir'], { out: 'dir' }, []],
  [['-odir'], { out: 'dir' }, []],
  [['--out', 'a', '--out', 'b'], { out: 'b' }, []],
  [['--out=-weird'], { out: '-weird' }, []],
  [['--name', 'x y'], { name: 'x y' }, []],
  [['--', '--sites', '-q'], {}, ['--sites', '-q']],
  [['p1', '--sites', '2', 'p2'], { sites: 2 }, ['p1', 'p2']],
  [['-1'], {}, ['-1']],
];

for (const [argv, expected, positionals] of OK) {
  test(`parse ${JSON.stringify(argv)}`, () => {
    const r = parseArgv(argv, { options: OPTIONS, positionals: { name: '<p>', help: 'p', min: 0, max: Infinity } });
    assert.is(r.help, false);
    const values = Object.fromEntries(Object.entries(r.values).filter(([, v]) => v !== undefined));
    assert.equal(values, { ...DEFAULTS, ...expected });
    assert.equal(r.positionals, positionals);
  });
}

test('given: the options present on the command line, not the defaulted ones', () => {
  const r = parseArgv(['--sites', '4', '-q'], { options: OPTIONS });
  assert.equal([...r.given].sort(), ['quick', 'sites']);
});

test('defaults are copies (a list default is not shared between parses)', () => {
  const a = parseArgv([], { options: OPTIONS });
  a.values.kinds.push('z');
  assert.equal(parseArgv([], { options: OPTIONS }).values.kinds, ['x']);
});

// ---- failures: [argv, message]
const BAD: [string[], RegExp][] = [
  [['--sites', 'x'], /^--sites must be an integer, got 'x'$/],
  [['--sites', '2.5'], /^--sites must be an integer, got '2.5'$/],
  [['--sites', '0'], /^--sites must be an integer >= 1, got 0$/],
  [['--sites', '-1'], /^--sites must be an integer >= 1, got -1$/],
  [['--alpha', '-1'], /^--alpha must be > 0, got -1$/],
  [['--alpha', '0'], /^--alpha must be > 0, got 0$/],
  [['--alpha', 'NaN'], /^--alpha must be a number, got 'NaN'$/],
  [['--alpha', ' '], /^--alpha must be a number, got ' '$/],
  [['--frac', '1.5'], /^--frac must be >= 0 and <= 1, got 1.5$/],
  [['--mode', 'merge'], /^--mode must be one of fusion, mixture, both; got 'merge'$/],
  [['--mode', 'mixtur'], /did you mean 'mixture'\?/],
  [['--kinds', 'x,w'], /^--kinds must be one of x, y, z; got 'w'$/],
  [['--models', ','], /^--models needs at least one item/],
  [['--sites'], /^--sites needs a value \(N\)$/],
  [['--out', '--quick'], /^--out needs a value \(DIR\), got the option --quick/],
  [['--out='], /^--out needs a value/],
  [['--quick=yes'], /^--quick takes no value/],
  [['--round'], /^unknown option --round\n/],
  [['--sties', '3'], /^unknown option --sties; did you mean --sites\?\nvalid options: --sites, --seed, /],
  [['--bogus'], /^unknown option --bogus\nvalid options: .*--help$/],
  [['-x'], /^unknown option -x/],
  [['-qq'], /^unknown option -qq/],
  [['extra'], /^unexpected argument 'extra'/],
];

for (const [argv, message] of BAD) {
  test(`usage error ${JSON.stringify(argv)}`, () => {
    try {
      parseArgv(argv, { options: OPTIONS });
      assert.unreachable('should throw');
    } catch (e) {
      assert.instance(e, UsageError);
      assert.match((e as Error).message, message);
    }
  });
}

test('positional counts: missing and too many', () => {
  const spec = { options: {}, positionals: { name: '<file>', help: 'the file' } };
  assert.throws(() => parseArgv([], spec), (e: Error) => e instanceof UsageError && /^missing argument <file>: the file$/.test(e.message));
  assert.throws(() => parseArgv(['a', 'b'], spec), (e: Error) => e instanceof UsageError && /too many arguments/.test(e.message));
  assert.equal(parseArgv(['a'], spec).positionals, ['a']);
});

test('--help / -h win over everything else before --', () => {
  assert.is(parseArgv(['--sites', 'x', '--help'], { options: OPTIONS }).help, true);
  assert.is(parseArgv(['-h'], { options: OPTIONS, positionals: { name: '<f>', help: 'f' } }).help, true);
  assert.throws(() => parseArgv(['--', '--help'], { options: OPTIONS }), /unexpected argument/);
});

test('a table may not redefine --help, reuse -h or repeat a short alias', () => {
  assert.throws(() => parseArgv([], { options: { help: flag('x') } }), /built in/);
  assert.throws(() => parseArgv([], { options: { a: flag('x', { short: 'h' }) } }), /-h/);
  assert.throws(() => parseArgv([], { options: { a: flag('x', { short: 'a' }), b: flag('y', { short: 'a' }) } }), /duplicate/);
});

test('closest / rangeText', () => {
  assert.is(closest('round', ['sites', 'rounds', 'seed']), 'rounds');
  assert.is(closest('sede', ['sites', 'rounds', 'seed']), 'seed');
  assert.is(closest('zzzz', ['sites', 'rounds']), undefined);
  assert.is(closest('local', ['local-epochs', 'seed']), 'local-epochs');
  assert.is(rangeText({ gt: 0 }), '> 0');
  assert.is(rangeText({ min: 0, max: 1 }), '>= 0 and <= 1');
  assert.is(rangeText({}), '');
});

test('formatHelp: usage, every option with metavar, range and default, and -h', () => {
  const text = formatHelp({ name: 'x', summary: 'does x', options: OPTIONS, positionals: { name: '<file>', help: 'input file', max: Infinity } });
  assert.match(text, /^usage: medfl x \[options\] <file>\.\.\.\n\ndoes x\n/);
  assert.match(text, /<file>\.\.\. +input file/);
  assert.match(text, /--sites N +sites \[integer >= 1; default 4\]/);
  assert.match(text, /--alpha X +alpha \[> 0; default 0\.5\]/);
  assert.match(text, /--frac X +fraction \[>= 0 and <= 1\]/);
  assert.match(text, /--mode fusion\|mixture\|both +mode \[default both\]/);
  assert.match(text, /--kinds x,y,\.\.\. +kinds \[of x, y, z; default x\]/);
  assert.match(text, /-q, --quick +quick\n/);
  assert.match(text, /-o, --out DIR +out\n/);
  assert.match(text, /-h, --help +print this help and exit$/);
});

test.run();
