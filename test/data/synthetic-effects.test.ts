import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applySiteEffects, type SiteProfile } from '../../src/data/synthetic';
import {
  BlobField,
  fbm,
  fillDisc,
  fillNormal,
  gaussianBlur,
  normalQuantile,
  resizeBilinear,
  smoothstep,
  strokePolyline,
} from '../../src/data/synthetic/raster';
import { createRng } from '../../src/util/rng';

const close = (a: number, b: number, tol = 1e-5): boolean => Math.abs(a - b) <= tol;

const neutral: SiteProfile = {
  name: 'n',
  samples: 0,
  classMix: [1],
  gain: [1, 1, 1],
  offset: [0, 0, 0],
  gamma: 1,
  contrast: 1,
  brightness: 0,
  blur: 0,
  noise: 0,
  speckle: 0,
  resolution: 1,
  vignette: 0,
};

function flat(h: number, w: number, rgb: [number, number, number]): Float32Array {
  const a = new Float32Array(h * w * 3);
  for (let i = 0; i < h * w; i++) a.set(rgb, i * 3);
  return a;
}

test('smoothstep fixtures', () => {
  const table: Array<[number, number, number, number]> = [
    [0, 1, -1, 0],
    [0, 1, 0.25, 0.15625],
    [0, 1, 0.5, 0.5],
    [0, 1, 2, 1],
    [1, 0, 0.25, 0.84375],
  ];
  for (const [a, b, x, want] of table) assert.ok(close(smoothstep(a, b, x), want, 1e-12), `smoothstep(${a},${b},${x})`);
});

test('normalQuantile matches the standard normal table; fillNormal has mean 0, variance 1', () => {
  const table: Array<[number, number]> = [
    [0.5, 0],
    [0.975, 1.959963985],
    [0.8413447461, 1],
    [0.001, -3.090232306],
    [1e-6, -4.753424309],
  ];
  for (const [p, z] of table) assert.ok(close(normalQuantile(p), z, 1e-6), `quantile(${p}) = ${normalQuantile(p)}`);
  assert.throws(() => normalQuantile(1), /p must be in \(0, 1\)/);
  const x = fillNormal(createRng(1), new Float32Array(40001));
  let m = 0;
  for (const v of x) m += v;
  m /= x.length;
  let v2 = 0;
  for (const v of x) v2 += (v - m) ** 2;
  v2 /= x.length;
  // sd of the mean 0.005, of the variance ~0.007.
  assert.ok(Math.abs(m) < 0.02, `mean ${m}`);
  assert.ok(Math.abs(v2 - 1) < 0.04, `variance ${v2}`);
});

test('gaussianBlur: constant stays constant, an impulse spreads as the hand-computed kernel', () => {
  const c = gaussianBlur(flat(9, 9, [0.3, 0.6, 0.9]), 9, 9, 3, 1.5);
  for (let i = 0; i < c.length; i++) assert.ok(close(c[i], [0.3, 0.6, 0.9][i % 3]));
  const imp = new Float32Array(11 * 11);
  imp[5 * 11 + 5] = 1;
  const b = gaussianBlur(imp, 11, 11, 1, 1);
  // sigma 1, radius 3: k0 = 1 / (1 + 2 (e^-0.5 + e^-2 + e^-4.5)) = 0.399050, centre = k0^2.
  assert.ok(close(b[5 * 11 + 5], 0.399050 ** 2, 1e-5), `centre ${b[5 * 11 + 5]}`);
  assert.ok(close(b[5 * 11 + 6], 0.399050 ** 2 * Math.exp(-0.5), 1e-5));
  let sum = 0;
  for (const v of b) sum += v;
  assert.ok(close(sum, 1, 1e-5));
  assert.is(gaussianBlur(imp, 11, 11, 1, 0)[5 * 11 + 5], 1);
});

test('resizeBilinear 2x2 -> 4x4 (half-pixel centres, clamped edges)', () => {
  const out = resizeBilinear(Float32Array.from([0, 1, 2, 3]), 2, 2, 1, 4, 4);
  const want = [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3];
  want.forEach((v, i) => assert.ok(close(out[i], v), `pixel ${i}: ${out[i]} vs ${v}`));
});

test('strokePolyline and fillDisc coverage fixtures', () => {
  const a = new Float32Array(25);
  strokePolyline(a, 5, 5, [0, 2.5, 5, 2.5], 0.5);
  for (let y = 0; y < 5; y++) for (let x = 0; x < 5; x++) assert.is(a[y * 5 + x], y === 2 ? 1 : 0, `(${x},${y})`);
  const d = new Float32Array(25);
  fillDisc(d, 5, 5, 2.5, 2.5, 1);
  assert.is(d[12], 1);
  assert.ok(close(d[7], 0.5) && close(d[11], 0.5) && close(d[13], 0.5) && close(d[17], 0.5));
  assert.ok(close(d[6], 1.5 - Math.SQRT2));
  assert.is(d[0], 0);
});

test('BlobField relative distance: circle, stretched and rotated ellipse, one harmonic', () => {
  const circle = new BlobField({ cx: 0, cy: 0, r0: 0.25, aspect: 1, rotation: 0, amps: [], phases: [] });
  assert.ok(close(circle.relDist(0.125, 0), 0.5));
  assert.ok(close(circle.relDist(0, -0.25), 1));
  const ell = new BlobField({ cx: 0.1, cy: 0, r0: 0.25, aspect: 2, rotation: 0, amps: [], phases: [] });
  assert.ok(close(ell.relDist(0.35, 0), 0.5));
  assert.ok(close(ell.relDist(0.1, 0.125), 0.5));
  const rot = new BlobField({ cx: 0, cy: 0, r0: 0.25, aspect: 2, rotation: Math.PI / 2, amps: [], phases: [] });
  assert.ok(close(rot.relDist(0, 0.25), 0.5));
  const lobed = new BlobField({ cx: 0, cy: 0, r0: 0.25, aspect: 1, rotation: 0, amps: [0.2], phases: [0] });
  assert.ok(close(lobed.relDist(0.3, 0), 1), 'r(0) = 0.25 * 1.2');
  assert.ok(close(lobed.relDist(0, 0.1), 0.5), 'r(pi/2) = 0.25 * 0.8');
});

test('fbm is seeded and spans exactly [0, 1]', () => {
  const a = fbm(createRng(3), 20, 30, 4, 3);
  const b = fbm(createRng(3), 20, 30, 4, 3);
  assert.equal(Array.from(a), Array.from(b));
  assert.is(Math.min(...a), 0);
  assert.is(Math.max(...a), 1);
});

test('applySiteEffects: neutral profile is the identity; gain, gamma, contrast, brightness fixtures', () => {
  const img = flat(8, 8, [0.2, 0.5, 0.6]);
  const id = applySiteEffects(img, 8, 8, neutral, createRng(0));
  for (let i = 0; i < id.length; i++) assert.ok(close(id[i], img[i]), `identity pixel ${i}`);
  const table: Array<[Partial<SiteProfile>, [number, number, number]]> = [
    [{ gain: [0.5, 1, 1.5] }, [0.1, 0.5, 0.9]],
    [{ offset: [0.1, -0.1, 0.5] }, [0.3, 0.4, 1]],
    [{ gamma: 2 }, [0.04, 0.25, 0.36]],
    [{ contrast: 2 }, [0, 0.5, 0.7]],
    [{ brightness: 0.1 }, [0.3, 0.6, 0.7]],
  ];
  for (const [patch, want] of table) {
    const out = applySiteEffects(img, 8, 8, { ...neutral, ...patch }, createRng(0));
    for (let c = 0; c < 3; c++) assert.ok(close(out[27 * 3 + c], want[c], 2e-4), `${JSON.stringify(patch)} ch ${c}: ${out[27 * 3 + c]}`);
  }
  // The input is not modified.
  assert.ok(close(img[0], 0.2));
});

test('applySiteEffects: blur and resolution keep flat images flat; noise has the requested std', () => {
  const img = flat(32, 32, [0.4, 0.4, 0.4]);
  const soft = applySiteEffects(img, 32, 32, { ...neutral, blur: 0.05, resolution: 0.4 }, createRng(0));
  for (const v of soft) assert.ok(close(v, 0.4));
  const noisy = applySiteEffects(img, 32, 32, { ...neutral, noise: 0.05 }, createRng(1));
  let m = 0;
  for (const v of noisy) m += v;
  m /= noisy.length;
  let sd = 0;
  for (const v of noisy) sd += (v - m) ** 2;
  sd = Math.sqrt(sd / noisy.length);
  assert.ok(Math.abs(m - 0.4) < 0.005, `noise mean ${m}`);
  assert.ok(Math.abs(sd - 0.05) < 0.004, `noise sd ${sd}`);
  const other = applySiteEffects(img, 32, 32, { ...neutral, noise: 0.05 }, createRng(2));
  assert.not.equal(Array.from(other.slice(0, 10)), Array.from(noisy.slice(0, 10)));
  // Blur really smooths an edge.
  const edge = new Float32Array(32 * 32 * 3);
  for (let i = 0; i < 32 * 32; i++) if (i % 32 >= 16) edge.fill(1, i * 3, i * 3 + 3);
  const blurred = applySiteEffects(edge, 32, 32, { ...neutral, blur: 2 / 32 }, createRng(0));
  const j = (10 * 32 + 15) * 3;
  assert.ok(blurred[j] > 0.2 && blurred[j] < 0.5, `left of the edge ${blurred[j]}`);
});

test.run();
