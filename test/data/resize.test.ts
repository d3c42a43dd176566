import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resizeBilinear, resizeNearest } from '../../src/data/resize';

test('nearest 2x2 -> 4x4 replicates each pixel into a 2x2 block', () => {
  const out = resizeNearest(Uint8Array.from([1, 2, 3, 4]), [2, 2], [4, 4]);
  assert.equal(Array.from(out), [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  assert.ok(out instanceof Uint8Array);
});

test('nearest 4x4 -> 2x2 takes source pixels floor((o + 0.5) * 2) = 1 and 3', () => {
  const src = Uint8Array.from(Array.from({ length: 16 }, (_, i) => i));
  // rows/cols 1 and 3 -> values 5, 7, 13, 15
  assert.equal(Array.from(resizeNearest(src, [4, 4], [2, 2])), [5, 7, 13, 15]);
});

test('nearest keeps channels together and never invents values', () => {
  const src = Float32Array.from([0, 10, 1, 11, 2, 12]); // [1, 3, 2]
  const out = resizeNearest(src, [1, 3, 2], [2, 5]);
  const allowed = new Set(Array.from(src));
  for (const v of out) assert.ok(allowed.has(v));
  // x = 0..4 -> floor((x + .5) * 3 / 5) = 0, 0, 1, 2, 2
  assert.equal(Array.from(out.slice(0, 10)), [0, 10, 0, 10, 1, 11, 2, 12, 2, 12]);
});

test('bilinear 1x2 -> 1x4 with half-pixel centres: 0, 0.25, 0.75, 1 of the ramp', () => {
  // sx = (x + 0.5) * 2 / 4 - 0.5 = -0.25 (clamped 0), 0.25, 0.75, 1.25 (clamped 1)
  const out = resizeBilinear(Float32Array.from([0, 1]), [1, 2], [1, 4]);
  assert.equal(Array.from(out), [0, 0.25, 0.75, 1]);
});

test('bilinear 2x2 -> 1x1 is the mean; identity size is a copy', () => {
  assert.equal(Array.from(resizeBilinear(Float32Array.from([0, 2, 4, 6]), [2, 2], [1, 1])), [3]);
  const src = Float32Array.from([1, 2, 3, 4, 5, 6]);
  assert.equal(Array.from(resizeBilinear(src, [2, 3], [2, 3])), [1, 2, 3, 4, 5, 6]);
});

test('shape mismatches throw', () => {
  assert.throws(() => resizeNearest(new Uint8Array(5), [2, 2], [4, 4]), /does not match shape/);
  assert.throws(() => resizeBilinear(new Float32Array(4), [2, 2], [0, 4]), /positive integer/);
});

test.run();
