import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { previewGrid, writePreviewPng } from '../../src/data/synthetic';
import type { Sample } from '../../src/data/types';

function square(id: string, value: number, channels: 1 | 3): Sample {
  const image = new Float32Array(6 * 6 * channels).fill(value);
  const mask = new Uint8Array(36);
  for (let y = 1; y <= 4; y++) for (let x = 1; x <= 4; x++) mask[y * 6 + x] = 1;
  return { id, meta: {}, image, shape: [6, 6, channels], mask };
}

const samples = [square('a', 0.2, 3), square('b', 0.6, 1), square('c', 1, 3)];

test('previewGrid lays tiles out row by row with gaps, outlines masks in green', () => {
  const g = previewGrid(samples, { columns: 2, gap: 1 });
  // 2 columns x 6 + 3 gaps; 2 rows x 6 + 3 gaps.
  assert.is(g.width, 15);
  assert.is(g.height, 15);
  const px = (x: number, y: number): number[] => Array.from(g.data.slice((y * g.width + x) * 3, (y * g.width + x) * 3 + 3));
  assert.equal(px(0, 0), [0, 0, 0], 'gap');
  assert.equal(px(1, 1), [51, 51, 51], 'tile a, outside the mask: round(0.2 * 255)');
  assert.equal(px(2, 2), [0, 255, 0], 'tile a, mask boundary');
  assert.equal(px(3, 3), [51, 51, 51], 'tile a, mask interior');
  assert.equal(px(8, 1), [153, 153, 153], 'tile b (grey) starts at x = 1 + 6 + 1');
  assert.equal(px(1, 8), [255, 255, 255], 'tile c on the second row');
  const plain = previewGrid(samples, { columns: 3, gap: 0, outline: false, scale: 2 });
  assert.is(plain.width, 36);
  assert.is(plain.height, 12);
  assert.equal(Array.from(plain.data.slice(((2 * 36) + 2) * 3, ((2 * 36) + 2) * 3 + 3)), [51, 51, 51]);
  assert.throws(() => previewGrid([]), /no samples/);
});

test('writePreviewPng writes a PNG sharp can read back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medfl-preview-'));
  try {
    const file = join(dir, 'grid.png');
    const size = await writePreviewPng(samples, file, { columns: 3 });
    const meta = await sharp(file).metadata();
    assert.is(meta.format, 'png');
    assert.is(meta.width, size.width);
    assert.is(meta.height, size.height);
    assert.is(size.width, 3 * 6 + 4 * 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
