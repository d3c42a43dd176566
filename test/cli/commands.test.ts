/** `main`: --help on every command, did-you-mean, range errors, missing positionals, exit codes. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { COMMANDS, usage } from '../../src/cli/index';
import { medfl } from './helpers';

const NAMES = ['demo', 'partition', 'run', 'reproduce', 'compare', 'datasets', 'medmerge', 'medforge', 'm4oe', 'bench', 'zoo', 'flower'];

test('the command table holds every command once', () => {
  assert.equal(COMMANDS.map((c) => c.name).sort(), [...NAMES].sort());
  for (const name of NAMES) assert.ok(usage().includes(`\n  ${name} `), `top usage lists ${name}`);
});

for (const cmd of COMMANDS) {
  for (const flag of ['--help', '-h']) {
    test(`${cmd.name} ${flag}: exit 0, usage with every option of its table`, async () => {
      const r = await medfl([cmd.name, flag]);
      assert.is(r.code, 0, r.text);
      assert.is(r.err, '');
      assert.ok(r.out.startsWith(`usage: medfl ${cmd.name} `), r.out);
      for (const [name, spec] of Object.entries(cmd.options)) {
        assert.ok(new RegExp(`--${name}\\b`).test(r.out), `--${name} listed`);
        assert.ok(r.out.includes(spec.help), `help text of --${name}`);
      }
      assert.match(r.out, /-h, --help/);
    });
  }
}

test('--help with other (even invalid) arguments still prints the help', async () => {
  const r = await medfl(['demo', '--sites', 'many', '--help']);
  assert.is(r.code, 0);
  assert.match(r.out, /^usage: medfl demo/);
});

test('medfl / medfl --help / unknown command', async () => {
  const none = await medfl([]);
  assert.is(none.code, 2);
  assert.match(none.err, /^usage: medfl <command>/);
  const help = await medfl(['--help']);
  assert.is(help.code, 0);
  assert.match(help.out, /^usage: medfl <command>/);
  const sub = await medfl(['help', 'zoo']);
  assert.is(sub.code, 0);
  assert.match(sub.out, /^usage: medfl zoo/);
  const bad = await medfl(['partiton']);
  assert.is(bad.code, 2);
  assert.match(bad.err, /unknown command 'partiton'; did you mean 'partition'\?/);
});

test('did-you-mean: demo --round 3 -> exit 2, suggests --rounds and lists the options', async () => {
  const r = await medfl(['demo', '--round', '3']);
  assert.is(r.code, 2);
  assert.is(r.out, '');
  assert.match(r.err, /^medfl demo: unknown option --round; did you mean --rounds\?/);
  assert.match(r.err, /valid options: --sites, --samples, .*--rounds.*--help/);
  assert.match(r.err, /run 'medfl demo --help'/);
});

test("partition --alpha -1: exit 2 with a range message (not Node's 'ambiguous')", async () => {
  const r = await medfl(['partition', '--scheme', 'dirichlet', '--alpha', '-1']);
  assert.is(r.code, 2);
  assert.match(r.err, /^medfl partition: --alpha must be > 0, got -1$/m);
  assert.not.match(r.err, /ambiguous/);
});

const MISSING: [string[], RegExp][] = [
  [['run'], /^medfl run: missing argument <experiment\.json>/],
  [['compare'], /^medfl compare: missing argument <run dir>/],
  [['reproduce'], /^medfl reproduce: missing argument <paper>/],
  [['reproduce', 'medsegnet'], /^medfl reproduce: unknown paper 'medsegnet'; expected one of medsegnet10, multisite-ct, medmerge, m4oe, medforge/],
  [['reproduce', 'medmerge', '--data', 'kvasir'], /^medfl reproduce: --data: expected KEY=DIR pairs/],
  [['datasets'], /^medfl datasets: missing argument <path>/],
  [['datasets', 'check'], /^medfl datasets: no path given/],
  [['flower'], /^medfl flower: missing argument <node\|weights>/],
  [['flower', 'node', '--site', 'site-0'], /^medfl flower: node: --superlink HOST:PORT is required/],
  [['flower', 'node', '--superlink', '127.0.0.1:9092'], /^medfl flower: node: --site NAME is required/],
  [['flower', 'weights'], /^medfl flower: weights: --out DIR is required/],
];
for (const [argv, message] of MISSING) {
  test(`missing positional: ${argv.join(' ')} -> exit 2`, async () => {
    const r = await medfl(argv);
    assert.is(r.code, 2, r.text);
    assert.match(r.err, message);
  });
}

const USAGE: [string[], RegExp][] = [
  [['run', 'a.json', 'b.json'], /too many arguments/],
  [['demo', 'extra'], /unexpected argument 'extra'/],
  [['demo', '--task', 'brain'], /--task must be one of polyp, lesion; got 'brain'/],
  [['demo', '--backend', 'gpu'], /--backend must be one of wasm, cpu, tensorflow/],
  [['bench', '--size', '0'], /--size must be an integer >= 1, got 0/],
  [['bench', '--json'], /--json needs a value \(FILE\)/],
  [['zoo', '--steps', 'two'], /--steps must be an integer, got 'two'/],
  [['partition', '--scheme', 'dirichet'], /did you mean 'dirichlet'/],
  [['partition', '--sites', 'x'], /--sites must be an integer, got 'x'/],
  [['datasets', 'check', '.', '--kind', 'dicom'], /--kind must be one of auto, kvasir, ham10000, cvc, nifti; got 'dicom'/],
  [['flower', 'serve'], /unknown action 'serve' \(valid: node, weights\)/],
  [['flower', 'node', '--superlink', 'localhost', '--site', 'site-0'], /--superlink must be HOST:PORT, got 'localhost'/],
  [['flower', 'node', '--superlink', 'h:1', '--site', 's', '--heartbeat-interval', '5'], /--heartbeat-interval must be >= 10 and <= 1800, got 5/],
];
for (const [argv, message] of USAGE) {
  test(`usage error: ${argv.join(' ')} -> exit 2`, async () => {
    const r = await medfl(argv);
    assert.is(r.code, 2, r.text);
    assert.match(r.err, message);
    assert.match(r.err, new RegExp(`run 'medfl ${argv[0]} --help'`));
  });
}

test('other errors: exit 1 with medfl <cmd>: message and no --help hint', async () => {
  const missing = path.join(os.tmpdir(), 'medfl-no-such-experiment.json');
  const r = await medfl(['run', missing]);
  assert.is(r.code, 1, r.text);
  assert.match(r.err, /^medfl run: /);
  assert.not.match(r.err, /--help/);
  const cmp = await medfl(['compare', fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-empty-run-'))]);
  assert.is(cmp.code, 1, cmp.text);
});

test.run();
