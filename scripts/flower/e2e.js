#!/usr/bin/env node
/**
 * `npm run test:flower`: medfl nodes in a real Flower deployment, on loopback.
 *
 *  1. the Python venv (scripts/flower/venv.sh: pinned flwr);
 *  2. medfl's initial weights (`medfl flower weights`), a `flower-superlink
 *     --insecure` on 127.0.0.1 (gRPC Fleet API), three `medfl flower node`s
 *     serving the embedded synthetic sites;
 *  3. the ServerApp (flower/) with Flower's FedAvg for ROUNDS rounds, then
 *     medfl's in-process `runFederated` with its FedAvg on the same data,
 *     seeds and settings, twice:
 *     - round by round: every round r of medfl's FedAvg started from the
 *       global weights Flower had before round r (the ServerApp saves them)
 *       must give Flower's global weights after round r within float32
 *       tolerance (TOL, absolute);
 *     - end to end (ROUNDS rounds from the same initial weights): the largest
 *       difference is reported. It is not held to TOL: Flower sums the
 *       clients' float32 weights in the order their replies arrive, medfl in
 *       float64, and the last-bit difference of round 1 grows through the
 *       following rounds' training (Adam, BatchNorm on 18 images), by the
 *       same amount as between two in-process runs whose aggregation differs
 *       only in summation order;
 *     and the pooled test Dice must have risen above the initial model's;
 *  4. faults: a round in which one node is killed (SIGKILL) as soon as it
 *     starts training: the strategy aggregates the other two (its minimum is
 *     2); the node restarts, the SuperLink restarts (nodes retry with backoff
 *     and register again), and a last round needs all three nodes again.
 *
 * Every process is started in its own process group and killed on exit
 * (success, failure, timeout, Ctrl-C). Logs go to a temporary folder, kept
 * on failure. Exit code 0 when every check passed.
 */
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const ROUNDS = 3;
const TOL = 1e-5;
const TOTAL_TIMEOUT_MS = 15 * 60 * 1000;
/** Data and model of the run (the nodes and the in-process reference use the same). */
const SETUP = { sites: 3, samples: 24, size: 32, width: 4, seed: 0, dataSeed: 0, lr: 0.01, localEpochs: 3, batchSize: 8 };
const NODE_ARGS = ['--sites', SETUP.sites, '--samples', SETUP.samples, '--size', SETUP.size, '--width', SETUP.width, '--seed', SETUP.seed, '--data-seed', SETUP.dataSeed, '--heartbeat-interval', 10].map(String);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-flower-'));
const procs = new Set();
const t0 = Date.now();
let failed = false;

function say(line) {
  console.log(`[test:flower ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);
}
function check(ok, what) {
  say(`${ok ? 'PASS' : 'FAIL'}: ${what}`);
  if (!ok) failed = true;
  return ok;
}

/** Start `cmd` in its own process group, output to work/<name>.log. */
function start(name, cmd, args, env = {}) {
  const logFile = path.join(work, `${name}.log`);
  const out = fs.openSync(logFile, 'a');
  const p = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', out, out], detached: true });
  fs.closeSync(out);
  const h = { name, p, logFile, exited: false };
  p.on('exit', () => {
    h.exited = true;
    procs.delete(h);
  });
  procs.add(h);
  return h;
}
/** Every live descendant of `pid` (Linux /proc; empty elsewhere): Flower starts SuperExec in a new session, outside the process group. */
function descendants(pid) {
  const children = new Map();
  try {
    for (const d of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (!children.has(ppid)) children.set(ppid, []);
        children.get(ppid).push(Number(d));
      } catch {
        // exited meanwhile
      }
    }
  } catch {
    return [];
  }
  const out = [];
  const walk = (p) => (children.get(p) || []).forEach((c) => { out.push(c); walk(c); });
  walk(pid);
  return out;
}
function killGroup(h, signal = 'SIGKILL') {
  const all = descendants(h.p.pid);
  for (const target of [-h.p.pid, ...all]) {
    try {
      process.kill(target, signal);
    } catch {
      // already gone
    }
  }
}
function cleanup() {
  for (const h of [...procs]) killGroup(h);
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { cleanup(); process.exit(130); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const logOf = (h) => (fs.existsSync(h.logFile) ? fs.readFileSync(h.logFile, 'utf8') : '');
const count = (text, re) => (text.match(re) || []).length;

/** Wait until `test()` is truthy (polled), or throw after `ms` naming `what`. */
async function until(what, test, ms) {
  const end = Date.now() + ms;
  for (;;) {
    const v = test();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await sleep(250);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function main() {
  setTimeout(() => {
    say(`FAIL: the whole test ran past ${TOTAL_TIMEOUT_MS / 60000} min`);
    cleanup();
    process.exit(1);
  }, TOTAL_TIMEOUT_MS).unref();
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} missing: run npm run build first`);
  say(`work folder ${work}`);

  // ---- 1. venv
  const venv = spawnSync('bash', [path.join(ROOT, 'scripts', 'flower', 'venv.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (venv.status !== 0) throw new Error('scripts/flower/venv.sh failed');
  const bin = venv.stdout.trim().split('\n').pop();
  const flwrVersion = spawnSync(path.join(bin, 'python'), ['-c', 'import flwr; print(flwr.__version__)'], { encoding: 'utf8' }).stdout.trim();
  say(`flwr ${flwrVersion} (${bin})`);
  const pyEnv = { PATH: `${bin}${path.delimiter}${process.env.PATH}`, FLWR_HOME: path.join(work, 'flwr-home'), FLWR_INTERNAL_GRPC_FLEET_API: '1' };

  // ---- 2. initial weights, SuperLink, nodes
  const initial = path.join(work, 'initial');
  const w = spawnSync(process.execPath, [CLI, 'flower', 'weights', '--out', initial, ...NODE_ARGS.slice(4, 10)], { encoding: 'utf8' });
  if (w.status !== 0) throw new Error(`medfl flower weights failed:\n${w.stdout}${w.stderr}`);
  say(w.stdout.trim());
  const fleetPort = await freePort();
  const httpPort = await freePort();
  fs.mkdirSync(pyEnv.FLWR_HOME, { recursive: true });
  fs.writeFileSync(path.join(pyEnv.FLWR_HOME, 'config.toml'), `[superlink]\ndefault = "medfl-local"\n\n[superlink.medfl-local]\naddress = "127.0.0.1:${httpPort}"\ninsecure = true\n`);
  let superlinkStarts = 0;
  const startSuperlink = async () => {
    const h = start(`superlink-${++superlinkStarts}`, path.join(bin, 'flower-superlink'), ['--insecure', '--fleet-api-address', `127.0.0.1:${fleetPort}`, '--host', '127.0.0.1', '--port', String(httpPort), '--disable-runtime-dependency-installation'], pyEnv);
    await until('the SuperLink to listen', () => /Application startup complete/.test(logOf(h)) && /Fleet API \(gRPC-rere\)/.test(logOf(h)), 60_000);
    return h;
  };
  let superlink = await startSuperlink();
  say(`SuperLink up: Fleet API (gRPC) 127.0.0.1:${fleetPort}, HTTP API 127.0.0.1:${httpPort}`);
  const nodes = [];
  const startNode = (k) => start(`node-site-${k}`, process.execPath, [CLI, 'flower', 'node', '--superlink', `127.0.0.1:${fleetPort}`, '--site', `site-${k}`, ...NODE_ARGS]);
  for (let k = 0; k < SETUP.sites; k++) nodes.push(startNode(k));
  await until('three activated nodes', () => nodes.every((h) => /activated as node/.test(logOf(h))), 120_000);
  say('three medfl nodes activated');

  // ---- 3. FedAvg through Flower
  let runs = 0;
  const flwrRun = async (name, config, onRunning) => {
    const out = path.join(work, name);
    const overrides = { 'initial-weights': initial, 'out-dir': out, lr: SETUP.lr, 'local-epochs': SETUP.localEpochs, 'batch-size': SETUP.batchSize, seed: SETUP.seed, 'round-timeout': 300, ...config };
    const text = Object.entries(overrides).map(([k, v]) => `${k}=${typeof v === 'string' ? `'${v}'` : v}`).join(' ');
    const h = start(`flwr-run-${++runs}-${name}`, path.join(bin, 'flwr'), ['run', path.join(ROOT, 'flower'), 'medfl-local', '--run-config', text, '--stream'], pyEnv);
    if (onRunning) await onRunning();
    await until(`${name}: the ServerApp's history.json`, () => fs.existsSync(path.join(out, 'history.json')), 300_000);
    killGroup(h, 'SIGTERM');
    return { out, history: JSON.parse(fs.readFileSync(path.join(out, 'history.json'), 'utf8')) };
  };
  const all3 = { 'min-train-nodes': 3, 'min-evaluate-nodes': 3, 'min-available-nodes': 3 };
  const fed = await flwrRun('fedavg', { strategy: 'fedavg', 'num-server-rounds': ROUNDS, ...all3 });
  const aggregated = fed.history.rounds.map((r) => r.results);
  check(aggregated.length === ROUNDS && aggregated.every((n) => n === 3), `Flower FedAvg aggregated ${ROUNDS} rounds of 3 replies each (got ${JSON.stringify(aggregated)})`);

  // In-process reference: medfl's own FedAvg on the same sites, seeds and settings.
  const { initBackend } = require(path.join(ROOT, 'dist', 'backend'));
  const { runFederated } = require(path.join(ROOT, 'dist', 'fl', 'rounds'));
  const { flowerSites } = require(path.join(ROOT, 'dist', 'flower', 'command'));
  const { readWeightsDir } = require(path.join(ROOT, 'dist', 'flower', 'weights-dir'));
  const { createModel } = require(path.join(ROOT, 'dist', 'models', 'registry'));
  const { evaluateSegmentation } = require(path.join(ROOT, 'dist', 'train'));
  const { flowerWeightNames } = require(path.join(ROOT, 'dist', 'flower', 'site-app'));
  const { resolveRunConfig } = require(path.join(ROOT, 'dist', 'fl', 'strategy'));
  const { createStrategy } = require(path.join(ROOT, 'dist', 'fl', 'registry'));
  const { getWeights, weightSpecs } = require(path.join(ROOT, 'dist', 'models', 'weights'));
  await initBackend('wasm', { log: () => {} });
  const sites = await flowerSites({ sites: SETUP.sites, samplesPerSite: SETUP.samples, size: SETUP.size, dataSeed: SETUP.dataSeed });
  const model = { name: 'unet', inputShape: [SETUP.size, SETUP.size, 3], numClasses: 1, width: SETUP.width };
  const ref = await runFederated({ strategy: { name: 'fedavg' }, model, rounds: ROUNDS, localEpochs: SETUP.localEpochs, batchSize: SETUP.batchSize, learningRate: SETUP.lr, seed: SETUP.seed }, sites);
  const probe = createModel('unet', { ...model, seed: SETUP.seed });
  const names = flowerWeightNames(probe);
  /** A weights directory in model order (checks the names). */
  const inModelOrder = (dir) => {
    const byName = new Map(readWeightsDir(dir).map((x) => [x.name, x.values]));
    return names.map((n) => {
      const v = byName.get(n);
      if (!v) throw new Error(`${dir}: no weight '${n}'`);
      return v;
    });
  };
  const worstDiff = (a, b) => {
    let d = 0;
    let at = '';
    a.forEach((x, i) => {
      for (let j = 0; j < x.length; j++) {
        const e = Math.abs(x[j] - b[i][j]);
        if (!(e <= d)) [d, at] = [e, names[i]];
      }
    });
    return { d, at };
  };
  const flowerRounds = [];
  for (let r = 0; r <= ROUNDS; r++) flowerRounds.push(inModelOrder(path.join(fed.out, `round-${r}`)));
  const e2e = worstDiff(inModelOrder(path.join(fed.out, 'final')), ref.globalWeights);
  // Round by round: medfl's FedAvg (the registry's 'fedavg', unchanged) fed Flower's global weights before each round.
  const cfg = resolveRunConfig({ strategy: { name: 'fedavg' }, model, rounds: ROUNDS, localEpochs: SETUP.localEpochs, batchSize: SETUP.batchSize, learningRate: SETUP.lr, seed: SETUP.seed });
  const inner = createStrategy({ name: 'fedavg' }, { config: cfg, model: probe, initial: getWeights(probe), specs: weightSpecs(probe), sites });
  const perRound = [];
  const stepper = {
    name: 'fedavg',
    execution: 'parallel',
    configureTrain: (ctx, _global, present) => inner.configureTrain(ctx, flowerRounds[ctx.round], present),
    aggregateTrain: (ctx, _global, results, failures) => {
      const agg = inner.aggregateTrain(ctx, flowerRounds[ctx.round], results, failures);
      perRound.push(worstDiff(agg.weights, flowerRounds[ctx.round + 1]));
      return agg;
    },
  };
  await runFederated({ strategy: stepper, model, rounds: ROUNDS, localEpochs: SETUP.localEpochs, batchSize: SETUP.batchSize, learningRate: SETUP.lr, seed: SETUP.seed }, sites);
  const start0 = worstDiff(flowerRounds[0], getWeights(probe));
  check(start0.d === 0, `Flower's round-0 global weights are medfl's initial weights bit for bit (largest difference ${start0.d})`);
  perRound.forEach((x, i) => check(x.d <= TOL, `round ${i + 1}: largest |w_flower - w_medfl| = ${x.d.toExponential(3)} (at '${x.at}'; medfl's FedAvg round from Flower's round-${i} weights; tolerance ${TOL})`));
  say(`info: end to end after ${ROUNDS} rounds (both from the same initial weights): largest |w_flower - w_medfl| = ${e2e.d.toExponential(3)} at '${e2e.at}' (float32 summation order, amplified by training; see the header)`);
  // Initial model's pooled test Dice (image-weighted, as Flower weights by num-examples).
  let sum = 0;
  let n = 0;
  for (const s of sites) {
    const r = (await evaluateSegmentation(probe, s.test, { numClasses: 2, groupBy: '\u0000none' })).overall;
    sum += r.dice * r.images;
    n += r.images;
  }
  probe.dispose();
  const initialDice = sum / n;
  say(`Dice per round (pooled test, Flower | in-process): initial ${initialDice.toFixed(4)}`);
  for (let r = 1; r <= ROUNDS; r++) {
    const f = fed.history.evaluate[String(r)] || {};
    const m = ref.records[r - 1].pooled;
    say(`  round ${r}: Dice ${Number(f.dice).toFixed(4)} | ${m.dice.toFixed(4)}   IoU ${Number(f.iou).toFixed(4)} | ${m.iou.toFixed(4)}   loss ${Number(f.loss).toFixed(4)}`);
  }
  const finalDice = Number(fed.history.evaluate[String(ROUNDS)]?.dice);
  check(finalDice > initialDice, `pooled Dice rose: ${initialDice.toFixed(4)} -> ${finalDice.toFixed(4)}`);

  // ---- 4. faults: a node killed mid-round
  const victim = nodes[2];
  const trainsBefore = count(logOf(victim), /received 'train'/g);
  const killed = await flwrRun('killed-node', { strategy: 'fedavg', 'num-server-rounds': 1, 'min-train-nodes': 2, 'min-evaluate-nodes': 2, 'min-available-nodes': 2 }, async () => {
    await until('site-2 to start training', () => count(logOf(victim), /received 'train'/g) > trainsBefore, 120_000);
    killGroup(victim);
    say('killed the site-2 node (SIGKILL) while it trained');
  });
  const kr = killed.history.rounds[0] || { results: 0, failures: [] };
  check(kr.results === 2 && kr.failures.length === 1, `round with a killed node: ${kr.results} replies aggregated, ${kr.failures.length} failure(s) (${kr.failures.map((f) => f.reason).join('; ').slice(0, 120)})`);

  // restarted node rejoins; SuperLink restart: nodes retry with backoff and register again
  nodes[2] = startNode(2);
  await until('the restarted node to activate', () => /activated as node/.test(logOf(nodes[2])), 120_000);
  say('site-2 node restarted and activated');
  const noticed = (h) => count(logOf(h), /SuperLink unavailable|reconnecting|registering again/g);
  const before = nodes.map(noticed);
  killGroup(superlink);
  await until('the SuperLink to exit', () => superlink.exited, 20_000);
  say('SuperLink killed; nodes retry');
  await until('every node to notice and retry', () => nodes.every((h, i) => noticed(h) > before[i]), 60_000);
  say(`node logs: ${[...new Set(nodes.flatMap((h) => (logOf(h).match(/.*retrying in .*/g) || []).slice(-1)))].join(' | ')}`);
  const activations = nodes.map((h) => count(logOf(h), /activated as node/g));
  superlink = await startSuperlink();
  say('SuperLink restarted');
  await until('every node to register again', () => nodes.every((h, i) => count(logOf(h), /activated as node/g) > activations[i]), 120_000);
  say('all three nodes registered again with the restarted SuperLink');
  const rejoin = await flwrRun('rejoined', { strategy: 'fedavg', 'num-server-rounds': 1, 'malformed-probe': true, ...all3 });
  // malformed messages first (unknown type, no arrays, wrong shapes): an error reply each, then the nodes train as usual
  const probes = rejoin.history.probe || [];
  const expected = { 'unknown-type': /unsupported message type 'query'/, 'missing-arrays': /no ArrayRecord/, 'shape-mismatch': /has shape \[1\], the local model's weight has/ };
  const good = probes.filter((p) => p.code === 2 && expected[p.case] && expected[p.case].test(p.error || ''));
  check(probes.length === 9 && good.length === 9, `malformed messages: ${good.length} of 9 expected error replies (${[...new Set(probes.map((p) => `${p.case}: ${p.error}`))].join(' | ').slice(0, 400)})`);
  const rr = rejoin.history.rounds[0] || { results: 0 };
  check(rr.results === 3, `after the malformed messages, the node restart and the SuperLink restart: ${rr.results} of 3 replies aggregated`);
  check(nodes.every((h) => !h.exited), 'every node process is still running');
  say(`flwr ${flwrVersion}; ${failed ? 'FAILED' : 'all checks passed'} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

main()
  .catch((e) => {
    failed = true;
    say(`FAIL: ${e && e.stack ? e.stack : e}`);
  })
  .finally(() => {
    cleanup();
    if (failed) {
      say(`logs kept in ${work}`);
      for (const f of fs.readdirSync(work).filter((x) => x.endsWith('.log'))) {
        const text = fs.readFileSync(path.join(work, f), 'utf8').split('\n').slice(-15).join('\n');
        console.log(`---- ${f} (last lines)\n${text}`);
      }
    } else fs.rmSync(work, { recursive: true, force: true });
    process.exit(failed ? 1 : 0);
  });
