/**
 * Run folders and resume: an interrupted run resumed from its checkpoint ends
 * with exactly the weights of an uninterrupted one; torn / orphan lines are
 * dropped; files are complete; config mismatches are refused.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend } from '../../src/backend';
import { runFederated } from '../../src/fl/rounds';
import { RunWriter, roundsToCsv } from '../../src/fl/results';
import { maxAbsDiff } from '../../src/models/weights';
import type { FederatedConfig, RoundRecord } from '../../src/fl/types';
import { tinyConfig, tinySites } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-fl-'));

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const sites = tinySites(2, 6);
const base: FederatedConfig = tinyConfig(
  { name: 'fedavg', fedbn: true, serverOptimizer: { name: 'fedadam', learningRate: 0.01 }, clientFraction: 1 },
  { rounds: 3, dropout: { probability: 0.3 } },
);

test('resume after round 1 of 3 equals the uninterrupted run (FedAdam state, FedBN site state, seeded dropout)', async () => {
  const full = await runFederated({ ...base, outDir: path.join(tmp, 'full') }, sites);
  const dir = path.join(tmp, 'cut');
  let err: unknown = null;
  try {
    await runFederated({ ...base, outDir: dir }, sites, undefined, {
      beforeRound: (r) => {
        if (r === 1) throw new Error('simulated crash');
      },
    });
  } catch (e) {
    err = e;
  }
  assert.match(String(err), /simulated crash/);
  assert.is(new RunWriter(dir).readRounds().length, 1);
  assert.not.ok(fs.existsSync(path.join(dir, 'summary.json')), 'no summary for an unfinished run');
  // A crash between the round line and the checkpoint leaves an orphan line (and maybe a torn one).
  fs.appendFileSync(path.join(dir, 'rounds.jsonl'), JSON.stringify({ round: 1, bogus: true }) + '\n{"round": 2, "tor');
  const resumed = await runFederated({ ...base, resume: dir }, sites);
  assert.is(maxAbsDiff(resumed.globalWeights, full.globalWeights), 0, 'same final global weights');
  for (const s of sites) assert.is(maxAbsDiff(resumed.siteWeights[s.name], full.siteWeights[s.name]), 0, `same FedBN weights of ${s.name}`);
  assert.equal(resumed.records.map((r) => r.participants), full.records.map((r) => r.participants));
  assert.is(resumed.summary.resumedFrom, 0);
  assert.is(resumed.summary.roundsRun, 2);
  const lines = fs.readFileSync(path.join(dir, 'rounds.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as RoundRecord);
  assert.equal(lines.map((l) => l.round), [0, 1, 2]);
  assert.is(lines[2].bytes.cumulativeUp, full.records[2].bytes.cumulativeUp, 'cumulative bytes continue across the resume');
  const files = fs.readdirSync(dir).sort();
  assert.equal(files, ['checkpoint', 'config.json', 'rounds.jsonl', 'summary.csv', 'summary.json']);
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  assert.equal(cfg.config.strategy, base.strategy);
  assert.is(cfg.seed, 5);
  assert.is(cfg.backend, 'wasm');
  const csv = fs.readFileSync(path.join(dir, 'summary.csv'), 'utf8').trim().split('\n');
  assert.is(csv.length, 4);
  assert.ok(csv[0].startsWith('round,seconds,bytes_up'));
  // Resuming a finished run trains nothing more.
  const again = await runFederated({ ...base, resume: dir }, sites);
  assert.is(again.summary.roundsRun, 0);
  assert.is(maxAbsDiff(again.globalWeights, full.globalWeights), 0);
});

test('resume refuses a different config; a used folder is not overwritten', async () => {
  const dir = path.join(tmp, 'full');
  try {
    await runFederated({ ...base, learningRate: 0.5, resume: dir }, sites);
    assert.unreachable('should throw');
  } catch (e) {
    assert.match(String(e), /config differs/);
  }
  try {
    await runFederated({ ...base, outDir: dir }, sites);
    assert.unreachable('should throw');
  } catch (e) {
    assert.match(String(e), /already holds a run/);
  }
});

test('local strategy resumes exactly too', async () => {
  const cfg = tinyConfig({ name: 'local' }, { rounds: 2 });
  const full = await runFederated(cfg, sites);
  const dir = path.join(tmp, 'local');
  await runFederated({ ...cfg, outDir: dir }, sites, undefined, { beforeRound: (r) => { if (r === 1) throw new Error('stop'); } }).catch(() => undefined);
  const res = await runFederated({ ...cfg, resume: dir }, sites);
  for (const s of sites) assert.is(maxAbsDiff(res.siteWeights[s.name], full.siteWeights[s.name]), 0);
});

test('RunWriter: checkpoint round trip, fallback to checkpoint.old, CSV escaping', () => {
  const w = new RunWriter(path.join(tmp, 'writer'));
  w.init({ config: {}, seed: 1, backend: 'cpu', startedAt: 'now' });
  assert.is(w.readCheckpoint(), null);
  const arrays = { global: [Float32Array.from([1, 2, 3]), Float32Array.from([4])], 'site:a': [Float32Array.from([-1.5])] };
  w.writeCheckpoint(4, { arrays, meta: { serverStep: 3 } });
  const back = w.readCheckpoint()!;
  assert.is(back.round, 4);
  assert.equal(back.state.meta, { serverStep: 3 });
  assert.equal(Object.keys(back.state.arrays).sort(), ['global', 'site:a']);
  assert.equal(Array.from(back.state.arrays.global[0]), [1, 2, 3]);
  assert.equal(Array.from(back.state.arrays['site:a'][0]), [-1.5]);
  // Crash after moving the old checkpoint away, before renaming the new one in.
  fs.renameSync(path.join(w.dir, 'checkpoint'), path.join(w.dir, 'checkpoint.old'));
  assert.is(w.readCheckpoint()!.round, 4);
  const rec = { round: 0, trainLoss: { 'a,b': 1 }, participants: [], dropped: [], bytes: { totalUp: 1, totalDown: 2, cumulativeUp: 1, cumulativeDown: 2, up: {}, down: {} }, seconds: 1, test: { 'x"y': { dice: 0.5 } } } as unknown as RoundRecord;
  const csv = roundsToCsv([rec]).trim().split('\n');
  assert.ok(csv[0].endsWith('"dice:x""y"'), csv[0]);
  assert.ok(csv[1].endsWith(',0.5'), csv[1]);
});

test.run();
