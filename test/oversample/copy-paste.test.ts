import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRng } from '../../src/util/rng';
import { MaskedImage, copyPaste, copyPasteSamples } from '../../src/oversample/copy-paste';
import type { Sample } from '../../src/data/types';

function randomImage(H: number, W: number, C: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return new Float32Array(H * W * C).map(() => rng.next());
}

/** Donor: a 5x6 rectangle of class 2 at rows 3..7, cols 2..7 in a 12x12 image. */
function donor(): MaskedImage {
  const mask = new Uint8Array(144);
  for (let y = 3; y <= 7; y++) for (let x = 2; x <= 7; x++) mask[y * 12 + x] = 2;
  return { image: randomImage(12, 12, 3, 1), mask, shape: [12, 12, 3] };
}

test('copyPaste (no warp): footprint is the translated mask; outside = recipient, core = donor, rim = convex blend', () => {
  const d = donor();
  const rec: MaskedImage = { image: randomImage(16, 16, 3, 2), mask: new Uint8Array(256), shape: [16, 16, 3] };
  const r = copyPaste(d, rec, { scale: [1, 1], rotation: [0, 0], center: [8, 9], feather: 1 });
  // Anchor = rounded bbox centre (5, 5): donor (y, x) lands at (y + 3, x + 4).
  assert.equal(r.params.anchor, [5, 5]);
  let core = 0;
  let rim = 0;
  for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) {
    const i = y * 16 + x;
    const dy = y - 3;
    const dx = x - 4;
    const inDonor = dy >= 0 && dy < 12 && dx >= 0 && dx < 12 && d.mask![dy * 12 + dx] === 2;
    assert.is(r.pasted[i], inDonor ? 1 : 0, `footprint at ${y},${x}`);
    assert.is(r.mask[i], inDonor ? 2 : 0, `mask at ${y},${x}`);
    for (let c = 0; c < 3; c++) {
      const got = r.image[i * 3 + c];
      const recv = rec.image[i * 3 + c];
      if (!inDonor) {
        assert.is(got, recv, `outside pixel ${y},${x} changed`);
        continue;
      }
      const don = d.image[(dy * 12 + dx) * 3 + c];
      const a = r.alpha[i];
      assert.ok(Math.abs(got - (a * don + (1 - a) * recv)) < 1e-6);
      const border = dy === 3 || dy === 7 || dx === 2 || dx === 7;
      if (border) {
        assert.is(a, 0.5);
        if (c === 0) rim++;
      } else {
        assert.is(a, 1);
        assert.is(got, don);
        if (c === 0) core++;
      }
    }
  }
  assert.is(core, 3 * 4);
  assert.is(rim, 30 - 12);
});

test('copyPaste (scale + rotation): changes only inside the footprint, mask aligned with the pasted pixels', () => {
  const d = donor();
  const recMask = new Uint8Array(24 * 20);
  for (let i = 0; i < 60; i++) recMask[i] = 1; // a recipient object in the top rows
  const rec: MaskedImage = { image: randomImage(24, 20, 3, 3), mask: recMask, shape: [24, 20, 3] };
  for (const seed of [1, 2, 3, 4]) {
    for (const maskPolicy of ['overwrite', 'union'] as const) {
      const r = copyPaste(d, rec, { seed, maskPolicy, scale: [0.8, 1.4], rotation: [-45, 45], feather: 2 });
      let area = 0;
      for (let i = 0; i < 24 * 20; i++) {
        const changed = [0, 1, 2].some((c) => r.image[i * 3 + c] !== rec.image[i * 3 + c]);
        if (!r.pasted[i]) {
          assert.not.ok(changed, `pixel ${i} changed outside the footprint`);
          assert.is(r.mask[i], recMask[i]);
          assert.is(r.alpha[i], 0);
          continue;
        }
        area++;
        assert.ok(r.alpha[i] > 0);
        const expectedMask = maskPolicy === 'overwrite' || recMask[i] === 0 ? 2 : recMask[i];
        assert.is(r.mask[i], expectedMask);
      }
      const s = r.params.scale;
      assert.ok(Math.abs(area - 30 * s * s) <= 0.35 * 30 * s * s + 4, `area ${area} vs ${30 * s * s}`);
    }
  }
  const a = copyPaste(d, rec, { seed: 7 });
  assert.equal(Array.from(copyPaste(d, rec, { seed: 7 }).image), Array.from(a.image));
  assert.not.equal(copyPaste(d, rec, { seed: 8 }).params, a.params);
});

test('copyPaste: validation', () => {
  const d = donor();
  const rec: MaskedImage = { image: randomImage(8, 8, 3, 3), shape: [8, 8, 3] };
  assert.throws(() => copyPaste({ ...d, mask: undefined }, rec), /donor has no mask/);
  assert.throws(() => copyPaste(d, { image: new Float32Array(64), shape: [8, 8, 1] }), /donor has 3 channels, recipient 1/);
  assert.throws(() => copyPaste(d, rec, { classes: [5] }), /no pixel of classes 5/);
  assert.throws(() => copyPaste(d, rec, { feather: 1.5 }), /feather/);
  assert.throws(() => copyPaste(d, rec, { scale: [0, 1] }), /scale/);
  assert.throws(() => copyPaste(d, { image: new Float32Array(10), shape: [8, 8, 3] }), /recipient image has 10 values/);
});

test('copyPasteSamples: rare-class donors only, label and provenance, seeded', () => {
  const samples: Sample[] = [0, 1, 2, 3].map((i) => {
    const mask = new Uint8Array(144);
    if (i === 1) mask.set(donor().mask!);
    if (i === 3) for (let j = 0; j < 20; j++) mask[j] = 1;
    return { id: `s${i}`, label: i === 1 ? 4 : 0, meta: { site: 'A' }, image: randomImage(12, 12, 3, 10 + i), mask, shape: [12, 12, 3] };
  });
  const out = copyPasteSamples(samples, { count: 5, maskClass: 2, seed: 3 });
  assert.is(out.length, 5);
  for (const s of out) {
    assert.is(s.provenance.donor, 1);
    assert.is(s.label, 4);
    assert.is(s.meta.site, 'A');
    assert.is(s.meta.synthetic, 'copy-paste');
    assert.ok(s.mask!.includes(2));
    assert.ok(s.id.startsWith(samples[s.provenance.recipient].id));
  }
  assert.equal(copyPasteSamples(samples, { count: 5, maskClass: 2, seed: 3 }).map((s) => s.provenance), out.map((s) => s.provenance));
  assert.throws(() => copyPasteSamples(samples, { count: 1, maskClass: 7 }), /no donor sample/);
});

test.run();
