/** MedForge comparison driver: defaults as a table (the run itself is covered through `medfl medforge` in test/cli). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveMedForgeSettings, type MedForgeComparisonOptions, type MedForgeSettings } from '../../src/forge/command';

const CASES: [string, MedForgeComparisonOptions, Partial<MedForgeSettings>][] = [
  ['defaults', {}, { mode: 'both', task: 'segmentation', size: 48, samples: 40, sites: 4, budget: 40, rank: 4, baseEpochs: 10, localEpochs: 5, rounds: 5, distillIterations: 30, width: 4, batchSize: 8 }],
  ['quick', { quick: true }, { size: 32, samples: 16, sites: 3, budget: 12, baseEpochs: 4, localEpochs: 3, rounds: 3, distillIterations: 10 }],
  ['classification width', { task: 'classification' }, { width: 8 }],
  ['epochs overrides base, local and rounds', { epochs: 1 }, { baseEpochs: 1, localEpochs: 1, rounds: 1 }],
];

for (const [name, options, expected] of CASES) {
  test(`resolveMedForgeSettings: ${name}`, () => {
    const s = resolveMedForgeSettings(options);
    for (const [k, v] of Object.entries(expected)) assert.equal(s[k as keyof MedForgeSettings], v, k);
  });
}

test('resolveMedForgeSettings: bad size, publicSite without real data', () => {
  assert.throws(() => resolveMedForgeSettings({ size: 40 }), /size 40: the U-Net needs a multiple of 16/);
  assert.throws(() => resolveMedForgeSettings({ publicSite: 'rosendahl' }), /publicSite 'rosendahl' applies to real data only/);
});

test.run();
