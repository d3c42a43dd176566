import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  euclideanDistanceTransform,
  hausdorffDistance,
  hausdorffPerClass,
  hd95,
  maskSurface,
  percentile,
  surfaceDistances,
} from '../../src/metrics/hd95';
import { createRng } from '../../src/util/rng';
import { allClose, close } from './helpers';

/** H x W mask with the rectangle rows [r0, r1] x cols [c0, c1] (inclusive) set. */
function rect(H: number, W: number, r0: number, r1: number, c0: number, c1: number): Uint8Array {
  const m = new Uint8Array(H * W);
  for (let y = r0; y <= r1; y++) for (let x = c0; x <= c1; x++) m[y * W + x] = 1;
  return m;
}

test('surface: 4-connected boundary, image edge counts as outside', () => {
  // 3x3 all ones: every pixel but the centre is on the surface
  assert.equal(Array.from(maskSurface(new Uint8Array(9).fill(1), [3, 3])), [1, 1, 1, 1, 0, 1, 1, 1, 1]);
  // 5x5 with a 3x3 block in the middle: ring of 8, centre interior
  const s = maskSurface(rect(5, 5, 1, 3, 1, 3), [5, 5]);
  assert.is(s.reduce((a, b) => a + b, 0), 8);
  assert.is(s[12], 0);
});

test('percentile uses linear interpolation (numpy default)', () => {
  close(percentile([1, 2, 3, 4], 50), 2.5);
  close(percentile([4, 1, 3, 2], 95), 3.85); // pos 2.85 -> 3 + 0.85
  close(percentile([5], 95), 5);
  close(percentile([], 95), NaN);
});

// Two 4x4 squares in a 10x10 image, B = A shifted 2 columns right.
// Surface of each: the 12-pixel ring. Directed distances A->B (by hand):
//   top/bottom rows, cols 2,3,4,5 -> 2,1,0,0 ; middle rows, col 2 -> 2, col 5 -> 1
//   => {0 x4, 1 x4, 2 x4}; B->A is the mirror image. HD = HD95 = 2 (both modes).
const A = rect(10, 10, 2, 5, 2, 5);
const Bx = rect(10, 10, 2, 5, 4, 7);
// B shifted 3 rows down: A->B distances {0 x4, 1 x2, 2 x2, 3 x4}, all vertical.
const By = rect(10, 10, 5, 8, 2, 5);

test('two squares offset by k pixels, with and without spacing', () => {
  const shape = [10, 10] as const;
  const table: [Uint8Array, Uint8Array, [number, number] | undefined, number, number][] = [
    // a, b, spacing, expected HD, expected HD95
    [A, Bx, undefined, 2, 2],
    [A, Bx, [1, 0.5], 1, 1],
    [A, Bx, [3, 1], 2, 2], // horizontal offset: row spacing does not matter
    [A, By, undefined, 3, 3],
    [A, By, [0.5, 1], 1.5, 1.5],
    [A, A, undefined, 0, 0],
  ];
  for (const [a, b, spacing, hd, h95] of table) {
    for (const mode of ['union', 'max-directed'] as const) {
      close(hausdorffDistance(a, b, { shape, spacing, mode }), hd, 1e-12, `HD ${mode} ${spacing}`);
      close(hd95(a, b, { shape, spacing, mode }), h95, 1e-12, `HD95 ${mode} ${spacing}`);
    }
  }
  const d = Array.from(surfaceDistances(A, By, shape)).sort((x, y) => x - y);
  assert.equal(d, [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 3, 3]);
  // union median of {0x8, 1x4, 2x4, 3x8}: pos 11.5 between 1 and 2
  close(hausdorffDistance(A, By, { shape, percentile: 50 }), 1.5);
});

test("'union' (medpy) and 'max-directed' (MONAI) differ where the directed sets differ", () => {
  // single pixel at (5,5) vs the 3x3 square around it (surface = 8-ring):
  //   P->G: {1}; G->P: {1,1,1,1, √2 x4}
  //   union median of 9 values {1 x5, √2 x4} = 1
  //   max-directed median = max(1, (1 + √2)/2)
  const shape = [10, 10] as const;
  const P = rect(10, 10, 5, 5, 5, 5);
  const G = rect(10, 10, 4, 6, 4, 6);
  close(hausdorffDistance(P, G, { shape, percentile: 50 }), 1);
  close(hausdorffDistance(P, G, { shape, percentile: 50, mode: 'max-directed' }), (1 + Math.SQRT2) / 2);
  close(hausdorffDistance(P, G, { shape }), Math.SQRT2);
  // union 95th: pos 7.6 in {1 x5, √2 x4} -> √2 ; directed G->P 95th: pos 6.65 -> √2
  close(hd95(P, G, { shape }), Math.SQRT2);
  close(hd95(P, G, { shape, mode: 'max-directed' }), Math.SQRT2);
});

test('empty masks give NaN (either or both)', () => {
  const shape = [10, 10] as const;
  const empty = new Uint8Array(100);
  close(hd95(empty, A, { shape }), NaN);
  close(hd95(A, empty, { shape }), NaN);
  close(hd95(empty, empty, { shape }), NaN);
});

/** Brute-force EDT for checking. */
function bruteEdt(sites: Uint8Array, H: number, W: number, sy: number, sx: number): Float64Array {
  const out = new Float64Array(H * W).fill(Infinity);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      for (let v = 0; v < H; v++)
        for (let u = 0; u < W; u++)
          if (sites[v * W + u]) out[y * W + x] = Math.min(out[y * W + x], Math.hypot((y - v) * sy, (x - u) * sx));
  return out;
}

test('distance transform equals brute force on random masks (with anisotropic spacing)', () => {
  const rng = createRng('hd95-edt');
  for (let trial = 0; trial < 6; trial++) {
    const H = 7 + rng.int(8);
    const W = 7 + rng.int(8);
    const sites = new Uint8Array(H * W);
    const p = [0.02, 0.1, 0.4][trial % 3];
    for (let i = 0; i < sites.length; i++) sites[i] = rng.bernoulli(p) ? 1 : 0;
    const spacing: [number, number] = trial < 3 ? [1, 1] : [0.7, 1.9];
    const fast = euclideanDistanceTransform(sites, [H, W], spacing);
    const slow = bruteEdt(sites, H, W, spacing[0], spacing[1]);
    if (sites.some((v) => v)) allClose(fast, slow, 1e-9, `trial ${trial}`);
    else assert.ok(fast.every((v) => v === Infinity));
  }
});

test('HD95 equals a brute-force surface-to-surface computation on random blobs', () => {
  const rng = createRng('hd95-blobs');
  const H = 16;
  const W = 16;
  for (let trial = 0; trial < 5; trial++) {
    const a = new Uint8Array(H * W);
    const b = new Uint8Array(H * W);
    for (let i = 0; i < a.length; i++) {
      a[i] = rng.bernoulli(0.3) ? 1 : 0;
      b[i] = rng.bernoulli(0.3) ? 1 : 0;
    }
    const spacing: [number, number] = [1.5, 0.8];
    const sa = maskSurface(a, [H, W]);
    const sb = maskSurface(b, [H, W]);
    const pts = (s: Uint8Array) => Array.from(s).flatMap((v, i) => (v ? [[Math.floor(i / W), i % W]] : []));
    const directed = (from: number[][], to: number[][]) =>
      from.map(([y, x]) => Math.min(...to.map(([v, u]) => Math.hypot((y - v) * spacing[0], (x - u) * spacing[1]))));
    const dab = directed(pts(sa), pts(sb));
    const dba = directed(pts(sb), pts(sa));
    close(hd95(a, b, { shape: [H, W], spacing }), percentile([...dab, ...dba], 95), 1e-9);
    close(
      hd95(a, b, { shape: [H, W], spacing, mode: 'max-directed' }),
      Math.max(percentile(dab, 95), percentile(dba, 95)),
      1e-9,
    );
    close(hausdorffDistance(a, b, { shape: [H, W], spacing }), Math.max(...dab, ...dba), 1e-9);
  }
});

test('256x256 discs run fast (distance transform, not all pairs)', () => {
  const H = 256;
  const W = 256;
  const disc = (cy: number, cx: number, r: number) => {
    const m = new Uint8Array(H * W);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if ((y - cy) ** 2 + (x - cx) ** 2 <= r * r) m[y * W + x] = 1;
    return m;
  };
  const t0 = Date.now();
  const d = hd95(disc(128, 128, 80), disc(128, 138, 80), { shape: [H, W] });
  const ms = Date.now() - t0;
  // shift of 10 px: the largest surface distance is 10, the 95th percentile a little below
  assert.ok(d > 7 && d <= 10, `hd95 ${d}`);
  assert.ok(ms < 1500, `took ${ms} ms`);
});

test('per-class HD over a batch of class maps', () => {
  // two 10x10 images, 3 classes. image 0: class 1 = A vs Bx (HD95 2), class 2 absent in both -> NaN
  // image 1: class 1 = A vs By (3), class 2 = single pixel only in pred -> NaN (truth empty)
  const img0p = A.slice();
  const img0t = Bx.slice();
  const img1p = A.slice();
  const img1t = By.slice();
  img1p[99] = 2;
  const pred = new Uint8Array(200);
  pred.set(img0p, 0);
  pred.set(img1p, 100);
  const truth = new Uint8Array(200);
  truth.set(img0t, 0);
  truth.set(img1t, 100);
  const r = hausdorffPerClass(pred, truth, { numClasses: 3, shape: [2, 10, 10], reduction: 'none' });
  assert.equal(r.classes, [1, 2]);
  allClose(r.perImage![0], [2, NaN]);
  allClose(r.perImage![1], [3, NaN]);
  allClose(r.perClass, [2.5, NaN]);
  assert.equal(r.validCount, [2, 0]);
  close(r.mean, 2.5);
  assert.throws(() => hd95(A, Bx, { shape: [10, 9] }), /holds 90 pixels/);
  assert.throws(() => hd95(A, Bx, { shape: [10, 10], spacing: [0, 1] }), /spacing/);
});

test.run();
