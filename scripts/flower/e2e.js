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
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { LocalFlower, ROOT, until, count } = require('./local');

const ROUNDS = 3;
const TOL = 1e-5;
const TOTAL_TIMEOUT_MS = 15 * 60 * 1000;
/** Data and model of the run (the nodes and the in-process reference use the same). */
const SETUP = { sites: 3, samples: 24, size: 32, width: 4, seed: 0, dataSeed: 0, lr: 0.01, localEpochs: 3, batchSize: 8 };
const NODE_ARGS = ['--sites', SETUP.sites, '--samples', SETUP.samples, '--size', SETUP.size, '--width', SETUP.width, '--seed', SETUP.seed, '--data-seed', SETUP.dataSeed, '--heartbeat-interval', 10].map(String);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-flower-'));
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

const local = new LocalFlower({ work, say, nodeArgs: NODE_ARGS });
process.on('exit', () => local.cleanup());
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { local.cleanup(); process.exit(130); });
const logOf = (h) => local.logOf(h);

async function main() {
  setTimeout(() => {
    say(`FAIL: the whole test ran past ${TOTAL_TIMEOUT_MS / 60000} min`);
    local.cleanup();
    process.exit(1);
  }, TOTAL_TIMEOUT_MS).unref();
  say(`work folder ${work}`);

  // ---- 1. venv
  const flwrVersion = local.venv();
  say(`flwr ${flwrVersion} (${local.bin})`);

  // ---- 2. initial weights, SuperLink, nodes
  local.initialWeights();
  await local.startSuperlink();
  say(`SuperLink up: Fleet API (gRPC) 127.0.0.1:${local.fleetPort}, HTTP API 127.0.0.1:${local.httpPort}`);
  const nodes = [];
  const startNode = (k) => local.startNode(`site-${k}`);
  for (let k = 0; k < SETUP.sites; k++) nodes.push(startNode(k));
  await until('three activated nodes', () => nodes.every((h) => /activated as node/.test(logOf(h))), 120_000);
  say('three medfl nodes activated');

  // ---- 3. FedAvg through Flower
  const flwrRun = (name, config, onRunning) =>
    local.flwrRun(name, { lr: SETUP.lr, 'local-epochs': SETUP.localEpochs, 'batch-size': SETUP.batchSize, seed: SETUP.seed, 'round-timeout': 300, ...config }, onRunning);
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
    local.kill(victim);
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
  const superlink = local.superlink;
  local.kill(superlink);
  await until('the SuperLink to exit', () => superlink.exited, 20_000);
  say('SuperLink killed; nodes retry');
  await until('every node to notice and retry', () => nodes.every((h, i) => noticed(h) > before[i]), 60_000);
  say(`node logs: ${[...new Set(nodes.flatMap((h) => (logOf(h).match(/.*retrying in .*/g) || []).slice(-1)))].join(' | ')}`);
  const activations = nodes.map((h) => count(logOf(h), /activated as node/g));
  await local.startSuperlink();
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
    local.cleanup();
    if (failed) {
      say(`logs kept in ${work}`);
      for (const f of fs.readdirSync(work).filter((x) => x.endsWith('.log'))) {
        const text = fs.readFileSync(path.join(work, f), 'utf8').split('\n').slice(-15).join('\n');
        console.log(`---- ${f} (last lines)\n${text}`);
      }
    } else fs.rmSync(work, { recursive: true, force: true });
    process.exit(failed ? 1 : 0);
  });
