import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InMemoryDataset, Sample, SubsetDataset } from '../../src/data/types';
import { createRng } from '../../src/util/rng';
import { iid } from '../../src/partition/iid';
import { naturalId } from '../../src/partition/natural-id';
import { IDENTITY_SHIFT, ShiftParams, applyShift, featureShift, gaussianBlur, resizeBilinear } from '../../src/partition/feature-shift';

function toyDataset(n = 12, H = 8, W = 10, C = 3): InMemoryDataset {
  const rng = createRng(11);
  const samples: Sample[] = Array.from({ length: n }, (_, i) => {
    const image = new Float32Array(H * W * C).map(() => rng.next());
    const mask = new Uint8Array(H * W).map(() => (rng.next() < 0.3 ? 1 : 0));
    return { id: `s${i}`, label: i % 2, meta: { site: `h${i % 3}` }, image, mask, shape: [H, W, C] };
  });
  return new InMemoryDataset('toy', samples, 'segmentation+classification', ['a', 'b'], ['bg', 'fg']);
}

const P = (over: Partial<ShiftParams>): ShiftParams => ({ ...IDENTITY_SHIFT, gain: [1, 1, 1], ...over });

test('applyShift: identity leaves pixels unchanged; hand-computed point ops', () => {
  const img = Float32Array.from([0.3, 0.5, 0.8, 0.1, 0.2, 0.9]);
  assert.equal(Array.from(applyShift(img, [1, 2, 3], P({}))), Array.from(img));
  // gain 2 on R, gamma 2: 0.3 -> 0.6 -> 0.36; G, B unchanged then squared.
  const out = applyShift(img, [1, 2, 3], P({ gain: [2, 1, 1], gamma: 2 }));
  const expected = [0.36, 0.25, 0.64, 0.04, 0.04, 0.81];
  out.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `${i}: ${v}`));
  // contrast 2 about 0.5 with brightness 0.1 and clipping: 0.3 -> 0.1+0.1 = 0.2; 0.8 -> 1.1+0.1 -> 1.
  const c = applyShift(img, [1, 2, 3], P({ contrast: 2, brightness: 0.1 }));
  assert.ok(Math.abs(c[0] - 0.2) < 1e-6);
  assert.is(c[2], 1);
  // Grey image uses the mean gain.
  const g = applyShift(Float32Array.from([0.25]), [1, 1, 1], P({ gain: [1, 2, 3] }));
  assert.ok(Math.abs(g[0] - 0.5) < 1e-6);
});

test('blur and resolution keep the size; constant images are fixed points; blur conserves the mean', () => {
  const flat = new Float32Array(6 * 7 * 2).fill(0.4);
  for (const v of resizeBilinear(resizeBilinear(flat, 6, 7, 2, 3, 3), 3, 3, 2, 6, 7)) assert.ok(Math.abs(v - 0.4) < 1e-6);
  assert.is(applyShift(flat, [6, 7, 2], P({ resolutionScale: 0.5, blurSigma: 1 })).length, flat.length);
  // Interior impulse: blur spreads it but keeps the sum (far from the borders).
  const imp = new Float32Array(15 * 15);
  imp[7 * 15 + 7] = 1;
  const b = gaussianBlur(imp, 15, 15, 1, 1);
  assert.ok(Math.abs(b.reduce((a, x) => a + x, 0) - 1) < 1e-5);
  assert.ok(b[7 * 15 + 7] < 0.5 && b[7 * 15 + 8] > 0);
});

test('featureShift: same assignment as the inner partitioner, deterministic, different per site, masks untouched', async () => {
  const ds = toyDataset();
  const inner = iid({ sites: 3, seed: 4 });
  const fs = featureShift(inner, { seed: 9 });
  assert.equal(fs.assign(ds), inner.assign(ds));
  const p0 = fs.params(0);
  assert.equal(fs.params(0), p0);
  assert.equal(featureShift(iid({ sites: 3, seed: 4 }), { seed: 9 }).params(2), fs.params(2));
  assert.not.equal(fs.params(0), fs.params(1));
  assert.not.equal(featureShift(inner, { seed: 10 }).params(0), p0);
  const sites = fs.sites(ds);
  const again = featureShift(iid({ sites: 3, seed: 4 }), { seed: 9 }).sites(ds);
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < sites[s].length; i++) {
      const a = await sites[s].load(i);
      const b = await again[s].load(i);
      const orig = ds.get(inner.assign(ds)[s][i]);
      assert.equal(Array.from(a.image), Array.from(b.image), 'deterministic pixels');
      assert.equal(a.shape, orig.shape);
      assert.equal(Array.from(a.mask!), Array.from(orig.mask!), 'mask untouched');
      assert.not.equal(Array.from(a.image), Array.from(orig.image), 'image transformed');
      for (const v of a.image) assert.ok(v >= 0 && v <= 1);
    }
  }
  // The same image through two sites' transforms differs.
  const img = ds.get(0);
  assert.not.equal(Array.from(applyShift(img.image, img.shape, fs.params(0), 1)), Array.from(applyShift(img.image, img.shape, fs.params(1), 1)));
});

test('featureShift: explicit params, identity sites, ranges respected, validation', async () => {
  const ds = toyDataset();
  const fixed = featureShift(naturalId({ column: 'site' }), { identitySites: [1], ranges: { gamma: [1.5, 1.5], noiseStd: [0, 0] } });
  const sites = fixed.sites(ds);
  assert.is(sites.length, 3);
  const s1 = await sites[1].load(0);
  const orig = ds.get((sites[1].base as SubsetDataset).indices[0]);
  assert.equal(Array.from(s1.image), Array.from(orig.image));
  assert.ok(Math.abs(fixed.params(2).gamma - 1.5) < 1e-12);
  for (let s = 0; s < 20; s++) {
    const p = featureShift(iid({ sites: 2 }), { seed: s }).params(s);
    assert.ok(p.resolutionScale >= 0.5 && p.resolutionScale <= 1 && p.blurSigma >= 0 && p.blurSigma <= 1);
    assert.ok(p.gain.every((g) => g >= 0.85 && g <= 1.15));
  }
  const explicit = featureShift(iid({ sites: 2 }), { params: [P({ gamma: 2 }), P({})] });
  assert.is(explicit.params(0).gamma, 2);
  assert.throws(() => explicit.params(2), /no explicit params for site 2/);
  assert.throws(() => featureShift(iid({ sites: 2 }), { ranges: { gamma: [2, 1] } }), /gamma/);
  assert.throws(() => featureShift(iid({ sites: 2 }), { ranges: { resolutionScale: [0.5, 2] } }), /resolutionScale/);
});

test.run();
