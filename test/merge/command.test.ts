/** MedMerge comparison driver: defaults as a table (the run itself is covered through `medfl medmerge` in test/cli). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveMedMergeSettings, type MedMergeComparisonOptions, type MedMergeSettings } from '../../src/merge/command';

const CASES: [string, MedMergeComparisonOptions, Partial<MedMergeSettings>][] = [
  ['segmentation defaults', {}, { task: 'segmentation', data: 'embedded', size: 64, samples: 96, sourceEpochs: 10, lpEpochs: 5, ftEpochs: 5, width: 4, batchSize: 8, seed: 0, capReal: false }],
  ['segmentation quick', { quick: true }, { size: 32, samples: 48, sourceEpochs: 8, lpEpochs: 4, ftEpochs: 4, capReal: true }],
  ['classification defaults', { task: 'classification' }, { size: 64, samples: 192, sourceEpochs: 15, lpEpochs: 8, ftEpochs: 8, width: 8 }],
  ['classification quick', { task: 'classification', quick: true }, { size: 32, samples: 96, sourceEpochs: 10, lpEpochs: 6, ftEpochs: 6 }],
  ['epochs overrides every count, explicit counts override epochs', { epochs: 2, lpEpochs: 3 }, { sourceEpochs: 2, lpEpochs: 3, ftEpochs: 2 }],
  ['given samples cap real sets', { samples: 10 }, { samples: 10, capReal: true }],
];

for (const [name, options, expected] of CASES) {
  test(`resolveMedMergeSettings: ${name}`, () => {
    const s = resolveMedMergeSettings(options);
    for (const [k, v] of Object.entries(expected)) assert.equal(s[k as keyof MedMergeSettings], v, k);
  });
}

test('resolveMedMergeSettings: sizes the model cannot take', () => {
  assert.throws(() => resolveMedMergeSettings({ size: 40 }), /^size 40: the U-Net needs a multiple of 16 \(nearest: 48\)$/);
  assert.not.throws(() => resolveMedMergeSettings({ size: 20, task: 'classification' }));
});

test.run();
