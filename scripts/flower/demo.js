#!/usr/bin/env node
/**
 * `npm run flower:demo -- [--strategy fedavg|fedprox|fedadam] [--rounds N] [--sites N]`:
 * a local Flower deployment with medfl sites, on loopback. Creates the venv
 * (pinned flwr), writes medfl's initial weights, starts `flower-superlink
 * --insecure`, one `medfl flower node` per embedded synthetic site, and runs
 * the ServerApp in flower/ with Flower's strategy, streaming its log; then
 * stops everything. Logs and the run's weights stay in the printed folder.
 */
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { LocalFlower, until } = require('./local');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
const strategy = option('strategy', 'fedavg');
const rounds = Number(option('rounds', '3'));
const sites = Number(option('sites', '3'));
if (!['fedavg', 'fedprox', 'fedadam'].includes(strategy)) {
  console.error(`flower demo: --strategy must be fedavg, fedprox or fedadam, got '${strategy}'`);
  process.exit(2);
}
if (!(Number.isInteger(rounds) && rounds >= 1) || !(Number.isInteger(sites) && sites >= 2)) {
  console.error('flower demo: --rounds must be an integer >= 1 and --sites an integer >= 2');
  process.exit(2);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-flower-demo-'));
const say = (line) => console.log(`[flower demo] ${line}`);
const local = new LocalFlower({ work, say, nodeArgs: ['--sites', String(sites), '--size', '32', '--width', '4', '--seed', '0', '--heartbeat-interval', '10'] });
process.on('exit', () => local.cleanup());
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { local.cleanup(); process.exit(130); });

(async () => {
  say(`work folder ${work}`);
  say(`flwr ${local.venv()}`);
  local.initialWeights();
  await local.startSuperlink();
  say(`SuperLink: Fleet API (gRPC) 127.0.0.1:${local.fleetPort}, HTTP API 127.0.0.1:${local.httpPort}`);
  const nodes = Array.from({ length: sites }, (_, k) => local.startNode(`site-${k}`));
  await until('every node to activate', () => nodes.every((h) => /activated as node/.test(local.logOf(h))), 120_000);
  say(`${sites} medfl nodes activated; running Flower's ${strategy} for ${rounds} rounds`);
  let shown = 0;
  const follow = setInterval(() => {
    const h = [...local.procs].find((p) => p.name.startsWith('flwr-run-'));
    if (!h) return;
    const lines = local.logOf(h).split('\n');
    for (const l of lines.slice(shown, Math.max(shown, lines.length - 1))) if (!/Installed:/.test(l)) console.log(l);
    shown = Math.max(shown, lines.length - 1);
  }, 500);
  const run = await local.flwrRun(strategy, { strategy, 'num-server-rounds': rounds, lr: 0.01, 'local-epochs': 3, 'min-train-nodes': sites, 'min-evaluate-nodes': sites, 'min-available-nodes': sites }, undefined, 1_800_000);
  clearInterval(follow);
  for (const [r, m] of Object.entries(run.history.evaluate)) say(`round ${r}: pooled test Dice ${Number(m.dice).toFixed(4)}, IoU ${Number(m.iou).toFixed(4)}, loss ${Number(m.loss).toFixed(4)}`);
  const failures = run.history.rounds.flatMap((r) => r.failures.map((f) => `round ${r.round}: ${f.reason}`));
  if (failures.length) {
    say(`${failures.length} failed replies:\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  }
  say(`final global weights: ${path.join(run.out, 'final')}; logs: ${work}`);
})()
  .catch((e) => {
    say(`failed: ${e && e.message ? e.message : e} (logs: ${work})`);
    process.exitCode = 1;
  })
  .finally(() => local.cleanup());
