/**
 * A local Flower deployment for medfl on loopback, shared by the demo
 * (scripts/flower/demo.js) and the test (scripts/flower/e2e.js): the pinned
 * venv, medfl's initial weights, a `flower-superlink --insecure` with the gRPC
 * Fleet API on 127.0.0.1, `medfl flower node`s, and `flwr run` of the
 * ServerApp in flower/. Every process runs in its own process group with its
 * output in `<work>/<name>.log`; `cleanup()` kills them and their descendants
 * (Flower starts SuperExec in a new session, outside the group).
 */
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const count = (text, re) => (text.match(re) || []).length;

/** Wait until `test()` is truthy (polled every 250 ms), or throw after `ms` naming `what`. */
async function until(what, test, ms) {
  const end = Date.now() + ms;
  for (;;) {
    const v = test();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await sleep(250);
  }
}

/** A free TCP port on 127.0.0.1. */
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

/** Every live descendant of `pid` (Linux /proc; empty elsewhere). */
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
  const walk = (p) => (children.get(p) || []).forEach((c) => {
    out.push(c);
    walk(c);
  });
  walk(pid);
  return out;
}

class LocalFlower {
  /**
   * @param {{ work: string, say: (line: string) => void, nodeArgs?: string[] }} o
   *   work: folder for logs, weights and Flower's home; nodeArgs: model / data
   *   options shared by `medfl flower weights` and every node.
   */
  constructor(o) {
    this.work = o.work;
    this.say = o.say;
    this.nodeArgs = o.nodeArgs || [];
    this.procs = new Set();
    this.runs = 0;
    this.superlinkStarts = 0;
  }

  /** Start `cmd` in its own process group, output to work/<name>.log. */
  start(name, cmd, args, env = {}) {
    const logFile = path.join(this.work, `${name}.log`);
    const out = fs.openSync(logFile, 'a');
    const p = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', out, out], detached: true });
    fs.closeSync(out);
    const h = { name, p, logFile, exited: false };
    p.on('exit', () => {
      h.exited = true;
      this.procs.delete(h);
    });
    this.procs.add(h);
    return h;
  }

  /** Kill a started process, its group and its descendants. */
  kill(h, signal = 'SIGKILL') {
    for (const target of [-h.p.pid, ...descendants(h.p.pid)]) {
      try {
        process.kill(target, signal);
      } catch {
        // already gone
      }
    }
  }

  cleanup() {
    for (const h of [...this.procs]) this.kill(h);
  }

  logOf(h) {
    return fs.existsSync(h.logFile) ? fs.readFileSync(h.logFile, 'utf8') : '';
  }

  /** The pinned venv (scripts/flower/venv.sh); returns flwr's version. */
  venv() {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} missing: run npm run build first`);
    const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'flower', 'venv.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (r.status !== 0) throw new Error('scripts/flower/venv.sh failed');
    this.bin = r.stdout.trim().split('\n').pop();
    this.env = { PATH: `${this.bin}${path.delimiter}${process.env.PATH}`, FLWR_HOME: path.join(this.work, 'flwr-home'), FLWR_INTERNAL_GRPC_FLEET_API: '1' };
    return spawnSync(path.join(this.bin, 'python'), ['-c', 'import flwr; print(flwr.__version__)'], { encoding: 'utf8' }).stdout.trim();
  }

  /** `medfl flower weights` into work/initial (model options from nodeArgs); returns the folder. */
  initialWeights() {
    const dir = path.join(this.work, 'initial');
    const keep = new Set(['--size', '--width', '--seed', '--model', '--classes', '--channels']);
    const args = [];
    for (let i = 0; i < this.nodeArgs.length; i += 2) if (keep.has(this.nodeArgs[i])) args.push(this.nodeArgs[i], this.nodeArgs[i + 1]);
    const r = spawnSync(process.execPath, [CLI, 'flower', 'weights', '--out', dir, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`medfl flower weights failed:\n${r.stdout}${r.stderr}`);
    this.say(r.stdout.trim());
    this.initial = dir;
    return dir;
  }

  /** Start (or restart, on the same ports) the SuperLink; resolves once its Fleet API (gRPC) and HTTP API listen. */
  async startSuperlink() {
    if (!this.fleetPort) {
      this.fleetPort = await freePort();
      this.httpPort = await freePort();
      fs.mkdirSync(this.env.FLWR_HOME, { recursive: true });
      fs.writeFileSync(path.join(this.env.FLWR_HOME, 'config.toml'), `[superlink]\ndefault = "medfl-local"\n\n[superlink.medfl-local]\naddress = "127.0.0.1:${this.httpPort}"\ninsecure = true\n`);
    }
    const args = ['--insecure', '--fleet-api-address', `127.0.0.1:${this.fleetPort}`, '--host', '127.0.0.1', '--port', String(this.httpPort), '--disable-runtime-dependency-installation'];
    const h = this.start(`superlink-${++this.superlinkStarts}`, path.join(this.bin, 'flower-superlink'), args, this.env);
    await until('the SuperLink to listen', () => /Application startup complete/.test(this.logOf(h)) && /Fleet API \(gRPC-rere\)/.test(this.logOf(h)), 60_000);
    this.superlink = h;
    return h;
  }

  /** Start `medfl flower node` for `site` (the site name). */
  startNode(site, extra = []) {
    return this.start(`node-${site}`, process.execPath, [CLI, 'flower', 'node', '--superlink', `127.0.0.1:${this.fleetPort}`, '--site', site, ...this.nodeArgs, ...extra]);
  }

  /**
   * `flwr run` of the ServerApp with run-config `overrides` (out-dir = work/<name>);
   * `onRunning` is awaited once the run is submitted. Resolves with the out
   * folder and the ServerApp's history.json.
   */
  async flwrRun(name, overrides, onRunning, timeoutMs = 300_000) {
    const out = path.join(this.work, name);
    const all = { 'initial-weights': this.initial, 'out-dir': out, ...overrides };
    const text = Object.entries(all).map(([k, v]) => `${k}=${typeof v === 'string' ? `'${v}'` : v}`).join(' ');
    const h = this.start(`flwr-run-${++this.runs}-${name}`, path.join(this.bin, 'flwr'), ['run', path.join(ROOT, 'flower'), 'medfl-local', '--run-config', text, '--stream'], this.env);
    if (onRunning) await onRunning(h);
    await until(`${name}: the ServerApp's history.json`, () => fs.existsSync(path.join(out, 'history.json')) || (h.exited && /ERROR|Exit Code/.test(this.logOf(h)) && 'failed'), timeoutMs);
    if (!fs.existsSync(path.join(out, 'history.json'))) throw new Error(`${name}: the ServerApp failed:\n${this.logOf(h).split('\n').slice(-25).join('\n')}`);
    this.kill(h, 'SIGTERM');
    return { out, log: h, history: JSON.parse(fs.readFileSync(path.join(out, 'history.json'), 'utf8')) };
  }
}

module.exports = { LocalFlower, ROOT, CLI, until, count, sleep };
