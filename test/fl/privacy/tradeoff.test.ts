import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/backend/index';
import { syntheticSites } from '../../../src/data/synthetic';
import { computeEpsilon } from '../../../src/fl/privacy/dp';
import { privacyTradeoff } from '../../../src/fl/privacy/tradeoff';

const data = syntheticSites({ sites: 2, samplesPerSite: 8, size: 32, heterogeneity: 1, seed: 4 });

test('privacyTradeoff: one row per noise level with epsilon, Dice, site and membership scores', async () => {
  await initBackend('wasm', { log: () => {} });
  const tensors = tf.memory().numTensors;
  const seen: number[] = [];
  const rows = await privacyTradeoff({
    data,
    model: { name: 'unet', width: 2 },
    noiseMultipliers: [0, 1],
    training: { rounds: 2, clipNorm: 1 },
    siteAttack: { probe: { epochs: 100 } },
    onRow: (r) => seen.push(r.noiseMultiplier),
  });
  assert.is(tf.memory().numTensors, tensors, 'no tensor leak');
  assert.equal(seen, [0, 1]);
  assert.is(rows.length, 2);
  assert.is(rows[0].epsilon, Infinity);
  // client placement: replace-one adjacency -> multiplier sigma / 2, 2 rounds
  assert.ok(Math.abs(rows[1].epsilon - computeEpsilon({ noiseMultiplier: 0.5, steps: 2 }).epsilon) < 1e-9);
  for (const r of rows) {
    assert.ok(r.dice >= 0 && r.dice <= 1, `dice ${r.dice}`);
    assert.ok(r.siteAccuracy >= 0 && r.siteAccuracy <= 1);
    assert.is(r.siteChance, 0.5);
    assert.ok(r.membershipAuc >= 0 && r.membershipAuc <= 1);
    assert.ok(r.meanUpdateNorm > 0);
    assert.is(r.noisePlacement, 'client');
  }
  console.log(`    [measured] ${JSON.stringify(rows.map((r) => ({ sigma: r.noiseMultiplier, eps: +r.epsilon.toFixed(2), dice: +r.dice.toFixed(3), site: +r.siteAccuracy.toFixed(3), mia: +r.membershipAuc.toFixed(3) })))}`);
  let msg = '';
  try {
    await privacyTradeoff({ data, model: { name: 'unet' }, noiseMultipliers: [] });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.match(msg, /noiseMultipliers is empty/);
});

test.run();
