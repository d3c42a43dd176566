import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openKvasirSeg } from '../../src/data/kvasir';
import type { Sample } from '../../src/data/types';
import { fraction, median, rejectsDataError, shared } from './helpers';

const ROOT = shared('kvasir-seg');
let samples: Sample[] = [];

test('opens the 100 Kvasir-SEG pairs from the parent folder or the Kvasir-SEG folder', async () => {
  const ds = await openKvasirSeg({ root: ROOT, size: [64, 64] });
  assert.is(ds.length, 100);
  assert.is(ds.task, 'segmentation');
  assert.equal([...ds.maskClasses], ['background', 'polyp']);
  const direct = await openKvasirSeg({ root: shared('kvasir-seg', 'Kvasir-SEG') });
  assert.is(direct.length, 100);
  assert.is(direct.info(7).id, ds.info(7).id);
  const ids = new Set(Array.from({ length: ds.length }, (_, i) => ds.info(i).id));
  assert.is(ids.size, 100);
  // decode every sample once, at 64x64
  samples = [];
  for (let i = 0; i < ds.length; i++) samples.push(await ds.load(i));
});

test('bbox metadata from kavsir_bboxes.json: original sizes and boxes inside them', async () => {
  const ds = await openKvasirSeg({ root: ROOT });
  const info = ds.info(0);
  assert.is(info.id, 'cju0qkwl35piu0993l0dewei2');
  // from SOURCES / the JSON: 622x529 with one box (38, 5)-(430, 338)
  assert.equal(info.meta.originalSize, [529, 622]);
  assert.equal(info.meta.bboxes, [{ label: 'polyp', xmin: 38, ymin: 5, xmax: 430, ymax: 338 }]);
  assert.is(info.meta.site, 'Kvasir-SEG');
  for (let i = 0; i < ds.length; i++) {
    const m = ds.info(i).meta;
    const [h, w] = m.originalSize as [number, number];
    const boxes = m.bboxes as { xmin: number; ymin: number; xmax: number; ymax: number }[];
    assert.ok(boxes.length >= 1);
    for (const b of boxes) assert.ok(b.xmin >= 0 && b.ymin >= 0 && b.xmax <= w && b.ymax <= h && b.xmin < b.xmax && b.ymin < b.ymax);
  }
});

test('resized samples are [64, 64, 3] in [0, 1] with binary masks of plausible size', () => {
  assert.is(samples.length, 100);
  const fractions: number[] = [];
  for (const s of samples) {
    assert.equal(s.shape, [64, 64, 3]);
    assert.is(s.image.length, 64 * 64 * 3);
    assert.ok(s.image.every((v) => v >= 0 && v <= 1));
    assert.ok(s.mask instanceof Uint8Array);
    assert.is(s.mask!.length, 64 * 64);
    assert.ok(s.mask!.every((v) => v === 0 || v === 1), 'mask is binary');
    const f = fraction(s.mask!);
    assert.ok(f > 0 && f < 1, `${s.id}: polyp fraction ${f}`);
    fractions.push(f);
  }
  // polyps cover a minority of the frame on average
  const med = median(fractions);
  assert.ok(med > 0.02 && med < 0.5, `median polyp fraction ${med}`);
});

test('masks follow the bounding boxes (polyp pixels fall mostly inside a box)', () => {
  // Checked on the resized 64x64 masks: map each pixel centre back to original coordinates.
  let inside = 0;
  let total = 0;
  for (const s of samples.slice(0, 20)) {
    const [h, w] = s.meta.originalSize as [number, number];
    const boxes = s.meta.bboxes as { xmin: number; ymin: number; xmax: number; ymax: number }[];
    for (let r = 0; r < 64; r++) {
      for (let c = 0; c < 64; c++) {
        if (!s.mask![r * 64 + c]) continue;
        const x = ((c + 0.5) * w) / 64;
        const y = ((r + 0.5) * h) / 64;
        total++;
        if (boxes.some((b) => x >= b.xmin - w / 64 && x <= b.xmax + w / 64 && y >= b.ymin - h / 64 && y <= b.ymax + h / 64)) inside++;
      }
    }
  }
  assert.ok(inside / total > 0.97, `${inside}/${total} polyp pixels inside boxes`);
});

test('missing root folder is a DataError naming it', async () => {
  await rejectsDataError(() => openKvasirSeg({ root: shared('kvasir-seg', 'nope') }), 'missing-folder', ['nope']);
});

test.run();
