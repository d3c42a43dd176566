/**
 * A worker thread that dies is detected: the pool restarts it and retries
 * the affected jobs once (results bit-identical to in-process training, in
 * job order); a worker that dies again fails its sites with the reason, which
 * the round loop records as a site failure. Workers are killed from the test
 * through `observeWorkerStarts` (the pool's test seam).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Worker } from 'worker_threads';
import { initBackend } from '../../src/backend';
import { runFederated } from '../../src/fl/rounds';
import { observeWorkerStarts } from '../../src/fl/parallel';
import { SiteFailureError } from '../../src/fl/types';
import { maxAbsDiff } from '../../src/models/weights';
import { tinyConfig, tinySites } from './helpers';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

test('a worker killed during a job, and one killed between rounds, are restarted: no site fails, weights = in-process', async () => {
  const sites = tinySites(3, 6);
  const cfg = tinyConfig({ name: 'fedavg' }, { rounds: 2 });
  const one = await runFederated(cfg, sites);
  const started: { worker: Worker; slot: number }[] = [];
  let killedMidJob = false;
  const stop = observeWorkerStarts((worker, slot) => {
    started.push({ worker, slot });
    // The first worker of slot 0 dies right after acknowledging its first message (a site's data).
    if (slot === 0 && !killedMidJob) {
      killedMidJob = true;
      worker.once('message', () => void worker.terminate());
    }
  });
  try {
    const two = await runFederated({ ...cfg, workers: 2 }, sites, undefined, {
      // Slot 1's worker dies while idle, before round 2: its future jobs must not be lost.
      beforeRound: (round) => {
        if (round === 1) void started.filter((s) => s.slot === 1).at(-1)?.worker.terminate();
      },
    });
    assert.is(maxAbsDiff(one.globalWeights, two.globalWeights), 0);
    for (const r of two.records) {
      assert.equal(r.dropped, []);
      assert.equal(r.participants, sites.map((s) => s.name));
    }
    assert.equal(two.summary.siteFailures, []);
    assert.equal(started.map((s) => s.slot).sort(), [0, 0, 1, 1]);
  } finally {
    stop();
  }
});

test('a worker that dies again on the retry fails its sites with the reason; the other slot trains', async () => {
  const sites = tinySites(3, 6);
  const cfg = tinyConfig({ name: 'fedavg' }, { rounds: 2, workers: 2, siteFailures: 'skip' });
  let starts0 = 0;
  const stop = observeWorkerStarts((worker, slot) => {
    if (slot !== 0) return;
    starts0++;
    worker.once('message', () => void worker.terminate());
  });
  try {
    const res = await runFederated(cfg, sites);
    for (const r of res.records) {
      assert.equal(r.participants, [sites[1].name]);
      assert.equal(r.dropped.map((d) => [d.site, d.reason]), [[sites[0].name, 'error'], [sites[2].name, 'error']]);
      for (const d of r.dropped) assert.match(d.message ?? '', /^worker thread died: exit code 1 /, d.message);
    }
    assert.is(starts0, 4, 'one start and one restart per round');
    // Default policy: a site failing every round ends the run with the reason.
    try {
      await runFederated({ ...cfg, siteFailures: 'fail' }, sites);
      assert.unreachable('expected a SiteFailureError');
    } catch (e) {
      assert.instance(e, SiteFailureError);
      assert.match((e as Error).message, /site '.+' failed in every round it was selected: worker thread died: exit code 1/);
    }
  } finally {
    stop();
  }
});

test.run();
