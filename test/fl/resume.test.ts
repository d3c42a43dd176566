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
import { bestAtRoundOne, candidatesOf, scale, scripted, tinyConfig, tinySites, validationSites } from './helpers';

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

/** Run `cfg` in `dir`, crashing before round `at`. */
async function crashAt(cfg: FederatedConfig, dir: string, at: number, data = sites): Promise<void> {
  await runFederated({ ...cfg, outDir: dir }, data, undefined, {
    beforeRound: (r) => {
      if (r === at) throw new Error('simulated crash');
    },
  }).then(
    () => assert.unreachable('should crash'),
    (e) => assert.match(String(e), /simulated crash/),
  );
}

test('resume keeps the best-validation model exactly: kept round before the crash, weights from the checkpoint', async () => {
  const vsites = validationSites();
  const { candidates, losses } = await candidatesOf(vsites);
  const order = bestAtRoundOne(losses);
  const cfg = tinyConfig(scripted(candidates, order, vsites[1].name), { rounds: 4, convergence: { patience: 2 } });
  const full = await runFederated({ ...cfg, outDir: path.join(tmp, 'kept-full') }, vsites);
  assert.is(full.summary.keptRound, 1);
  const dir = path.join(tmp, 'kept-cut');
  await crashAt(cfg, dir, 3, vsites);
  const resumed = await runFederated({ ...cfg, resume: dir }, vsites);
  assert.is(resumed.summary.resumedFrom, 2);
  assert.is(resumed.summary.keptRound, 1);
  assert.is(resumed.summary.keptValidationLoss, full.summary.keptValidationLoss);
  assert.is(JSON.stringify(resumed.summary.final), JSON.stringify(full.summary.final), "same final scores (as written: NaN -> null)");
  assert.is(resumed.summary.converged, full.summary.converged);
  assert.is(maxAbsDiff(resumed.globalWeights, candidates[order[1]]), 0, 'the kept global weights come back from the checkpoint');
  assert.is(maxAbsDiff(resumed.siteWeights[vsites[1].name], scale(candidates[order[1]], 0.9)), 0);
  assert.equal(Object.keys(resumed.siteWeights), [vsites[1].name]);
  // a finished run resumed again trains nothing and returns the same kept model
  const again = await runFederated({ ...cfg, resume: dir }, vsites);
  assert.is(again.summary.roundsRun, 0);
  assert.is(again.summary.keptRound, 1);
  assert.is(maxAbsDiff(again.globalWeights, candidates[order[1]]), 0);
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  assert.is(summary.keptRound, 1);
  assert.is(summary.selection, 'best-validation-loss');
  const csv = fs.readFileSync(path.join(dir, 'summary.csv'), 'utf8').split('\n');
  assert.ok(csv[0].includes(',train_loss,val_loss,pooled_dice,'), csv[0]);
});

test('resume with validation splits and a cosine schedule equals the uninterrupted run (FedAdam, FedBN, selection)', async () => {
  const vsites = validationSites();
  const cfg: FederatedConfig = { ...base, rounds: 4, learningRateSchedule: { name: 'cosine', minLearningRate: 1e-4 }, convergence: { patience: 2 } };
  const full = await runFederated(cfg, vsites);
  const dir = path.join(tmp, 'val-cut');
  await crashAt(cfg, dir, 2, vsites);
  const resumed = await runFederated({ ...cfg, resume: dir }, vsites);
  assert.equal(resumed.records.map((r) => r.meanValidationLoss), full.records.map((r) => r.meanValidationLoss));
  assert.is(resumed.summary.keptRound, full.summary.keptRound);
  assert.is(JSON.stringify(resumed.summary.final), JSON.stringify(full.summary.final), "same final scores (as written: NaN -> null)");
  assert.is(resumed.summary.converged, full.summary.converged);
  assert.is(maxAbsDiff(resumed.globalWeights, full.globalWeights), 0);
  for (const s of vsites) assert.is(maxAbsDiff(resumed.siteWeights[s.name], full.siteWeights[s.name]), 0, `same kept FedBN weights of ${s.name}`);
  // other validation images are other data: resume refuses them
  const moved = vsites.map((s) => ({ ...s, validation: s.train, train: s.validation! }));
  await runFederated({ ...cfg, resume: dir }, moved).then(
    () => assert.unreachable('should refuse'),
    (e) => assert.match(String(e), /validation: 6 images \(was 2\)/),
  );
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
