/** M4oE comparison driver: defaults as a table (the run itself is covered through `medfl m4oe` in test/cli). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveM4oESettings, type M4oEComparisonOptions, type M4oESettings } from '../../src/moe/command';

const CASES: [string, M4oEComparisonOptions, Partial<M4oESettings>][] = [
  ['unet defaults', {}, { builder: 'unet', size: 48, samples: 48, test: 24, phase1Epochs: 5, phase2Epochs: 5, batchSize: 8, width: undefined }],
  ['swin defaults', { builder: 'swin' }, { size: 64 }],
  ['quick', { quick: true, builder: 'swin' }, { size: 32, samples: 24, test: 12, phase1Epochs: 3, phase2Epochs: 3 }],
  ['test images at least 4', { samples: 4 }, { samples: 4, test: 4, capReal: true }],
  ['epochs and phases', { epochs: 2, phase2Epochs: 7 }, { phase1Epochs: 2, phase2Epochs: 7 }],
];

for (const [name, options, expected] of CASES) {
  test(`resolveM4oESettings: ${name}`, () => {
    const s = resolveM4oESettings(options);
    for (const [k, v] of Object.entries(expected)) assert.equal(s[k as keyof M4oESettings], v, k);
  });
}

test('resolveM4oESettings: Swin-Unet sizes are multiples of 32', () => {
  assert.throws(() => resolveM4oESettings({ builder: 'swin', size: 48 }), /size 48: the Swin-Unet needs a multiple of 32 \(nearest: 64\)/);
  assert.not.throws(() => resolveM4oESettings({ size: 48 }));
});

test.run();
