import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BASE_NOISE_LEVEL,
  LESION_CLASSES,
  POLYP_CLASSES,
  siteProfiles,
  syntheticSample,
  syntheticSites,
  type SiteProfile,
  type SyntheticSitesOptions,
} from '../../src/data/synthetic';
import type { Sample } from '../../src/data/types';

function sameBits(a: Float32Array | Uint8Array, b: Float32Array | Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function sameSample(a: Sample, b: Sample): boolean {
  return (
    a.id === b.id &&
    a.label === b.label &&
    JSON.stringify(a.meta) === JSON.stringify(b.meta) &&
    sameBits(a.image, b.image) &&
    a.mask !== undefined &&
    b.mask !== undefined &&
    sameBits(a.mask, b.mask)
  );
}

function bySite(samples: readonly Sample[], site: number): Sample[] {
  return samples.filter((s) => s.meta.siteIndex === site);
}

function maskSum(s: Sample): number {
  let n = 0;
  for (const v of s.mask!) n += v;
  return n;
}

// ---------------------------------------------------------------- determinism

test('same options give bit-identical data, for both tasks', () => {
  for (const task of ['polyp', 'lesion'] as const) {
    const opts: SyntheticSitesOptions = { task, sites: 2, samplesPerSite: 3, size: 24, seed: 7 };
    const a = syntheticSites(opts);
    const b = syntheticSites(opts);
    assert.is(a.length, 6);
    for (let i = 0; i < a.length; i++) assert.ok(sameSample(a.get(i), b.get(i)), `${task} sample ${i} differs`);
  }
});

test('a different seed gives different images', () => {
  const a = syntheticSites({ sites: 1, samplesPerSite: 3, size: 24, seed: 1 });
  const b = syntheticSites({ sites: 1, samplesPerSite: 3, size: 24, seed: 2 });
  for (let i = 0; i < 3; i++) assert.not.ok(sameBits(a.get(i).image, b.get(i).image), `sample ${i} equal across seeds`);
});

test("a site's samples do not depend on the other sites' sizes", () => {
  const base = { task: 'lesion' as const, size: 20, seed: 11 };
  const a = syntheticSites({ ...base, sites: 3, samplesPerSite: [2, 4, 3] });
  const b = syntheticSites({ ...base, sites: 3, samplesPerSite: [6, 4, 1] });
  const a1 = bySite(a.samples, 1);
  const b1 = bySite(b.samples, 1);
  assert.is(a1.length, 4);
  for (let i = 0; i < 4; i++) assert.ok(sameSample(a1[i], b1[i]), `site 1 sample ${i} changed`);
  // Growing a site only appends: its first images stay the same.
  assert.ok(sameSample(bySite(a.samples, 0)[1], bySite(b.samples, 0)[1]));
  assert.ok(sameSample(bySite(a.samples, 2)[0], bySite(b.samples, 2)[0]));
});

test('syntheticSample reproduces the dataset sample (and beyond the site size)', () => {
  const opts: SyntheticSitesOptions = { sites: 3, samplesPerSite: 4, size: 20, seed: 5 };
  const ds = syntheticSites(opts);
  assert.ok(sameSample(syntheticSample(opts, 2, 3), bySite(ds.samples, 2)[3]));
  const bigger = syntheticSites({ ...opts, samplesPerSite: 6 });
  assert.ok(sameSample(syntheticSample(opts, 1, 5), bySite(bigger.samples, 1)[5]));
  assert.throws(() => syntheticSample(opts, 3, 0), /site 3 out of range \[0, 3\)/);
});

test('profiles from siteProfiles passed back as sites reproduce the data; editing one site changes only it', () => {
  const opts: SyntheticSitesOptions = { sites: 3, samplesPerSite: 2, size: 20, seed: 9, heterogeneity: 0.7 };
  const ref = syntheticSites(opts);
  const profiles = siteProfiles(opts);
  const same = syntheticSites({ ...opts, sites: profiles });
  for (let i = 0; i < ref.length; i++) assert.ok(sameSample(ref.get(i), same.get(i)), `sample ${i} differs`);
  const edited: SiteProfile[] = profiles.map((p) => ({ ...p }));
  edited[1] = { ...edited[1], gain: [0.5, 0.5, 0.5], name: 'scanner-b' };
  const ds = syntheticSites({ ...opts, sites: edited });
  assert.ok(sameSample(ref.get(0), ds.get(0)));
  assert.ok(sameSample(ref.get(5), ds.get(5)));
  assert.is(ds.get(2).meta.site, 'scanner-b');
  assert.ok(sameBits(ref.get(2).mask!, ds.get(2).mask!), 'site effects must not move the mask');
  assert.not.ok(sameBits(ref.get(2).image, ds.get(2).image));
});

// ---------------------------------------------------------------- shapes, ranges, metadata

test('shapes, value ranges, ids and metadata', () => {
  const cases: Array<[SyntheticSitesOptions, [number, number, number], string, readonly string[], string]> = [
    [{ task: 'polyp', size: 32 }, [32, 32, 3], 'endoscopy', POLYP_CLASSES, 'polyp'],
    [{ task: 'lesion', size: [24, 40], channels: 1 }, [24, 40, 1], 'dermoscopy', LESION_CLASSES, 'lesion'],
    [{ task: 'polyp', size: [40, 20], channels: 1 }, [40, 20, 1], 'endoscopy', POLYP_CLASSES, 'polyp'],
  ];
  for (const [opts, shape, modality, classes, maskName] of cases) {
    const ds = syntheticSites({ ...opts, sites: 2, samplesPerSite: [3, 2], seed: 4 });
    assert.is(ds.length, 5);
    assert.is(ds.task, 'segmentation+classification');
    assert.equal([...ds.classNames], [...classes]);
    assert.equal([...ds.maskClasses], ['background', maskName]);
    assert.is(ds.name, `synthetic-${opts.task}`);
    const ids = ds.samples.map((s) => s.id);
    assert.equal(ids, ['site0-0000', 'site0-0001', 'site0-0002', 'site1-0000', 'site1-0001']);
    for (const s of ds.samples) {
      assert.equal(s.shape, shape);
      assert.ok(s.image instanceof Float32Array);
      assert.is(s.image.length, shape[0] * shape[1] * shape[2]);
      for (const v of s.image) assert.ok(v >= 0 && v <= 1 && Number.isFinite(v), `pixel ${v} out of [0, 1]`);
      assert.ok(s.mask instanceof Uint8Array);
      assert.is(s.mask!.length, shape[0] * shape[1]);
      for (const v of s.mask!) assert.ok(v === 0 || v === 1, `mask value ${v}`);
      assert.ok(Number.isInteger(s.label) && s.label! >= 0 && s.label! < classes.length);
      assert.is(s.meta.modality, modality);
      assert.is(s.meta.synthetic, true);
      assert.is(s.meta.site, `site-${s.meta.siteIndex}`);
      assert.is(s.meta.className, classes[s.label!]);
      assert.ok(String(s.id).startsWith(`site${s.meta.siteIndex}-`));
      assert.is(ds.info(ds.samples.indexOf(s)).id, s.id);
    }
  }
});

test('defaults: 4 sites x 32 images of 64x64x3 polyp scenes', () => {
  const p = siteProfiles();
  assert.is(p.length, 4);
  assert.equal(
    p.map((x) => x.samples),
    [32, 32, 32, 32],
  );
  assert.equal(p[0].classMix, [0.5, 0.5]);
  const s = syntheticSample({}, 0, 0);
  assert.equal(s.shape, [64, 64, 3]);
  assert.is(s.meta.modality, 'endoscopy');
});

test('mask foreground fraction is sensible for non-empty images', () => {
  for (const task of ['polyp', 'lesion'] as const) {
    const ds = syntheticSites({ task, sites: 2, samplesPerSite: 20, size: 32, seed: 3, emptyFraction: 0 });
    let total = 0;
    for (const s of ds.samples) {
      const f = maskSum(s) / (32 * 32);
      assert.ok(f > 0.005 && f < 0.6, `${task} ${s.id}: foreground fraction ${f}`);
      total += f;
    }
    const mean = total / ds.length;
    assert.ok(mean > 0.03 && mean < 0.35, `${task}: mean foreground fraction ${mean}`);
  }
});

test('emptyFraction is respected and empty images have empty masks', () => {
  const n = 200;
  const ds = syntheticSites({ sites: 1, samplesPerSite: n, size: 16, seed: 2, emptyFraction: 0.3 });
  const empty = ds.samples.filter((s) => s.meta.empty === true);
  // Binomial(200, 0.3): mean 60, sd 6.5; allow 3 sd.
  assert.ok(empty.length > 40 && empty.length < 80, `empty count ${empty.length}`);
  for (const s of empty) assert.is(maskSum(s), 0);
  const def = syntheticSites({ sites: 1, samplesPerSite: n, size: 16, seed: 2 });
  const defEmpty = def.samples.filter((s) => s.meta.empty === true).length;
  // Default 0.05: mean 10, sd 3.1.
  assert.ok(defEmpty >= 1 && defEmpty <= 20, `default empty count ${defEmpty}`);
  const all = syntheticSites({ sites: 1, samplesPerSite: 5, size: 16, emptyFraction: 1 });
  for (const s of all.samples) assert.is(maskSum(s), 0);
  const lesion = syntheticSites({ task: 'lesion', sites: 1, samplesPerSite: 30, size: 32, seed: 2 });
  for (const s of lesion.samples) {
    assert.is(s.meta.empty, false);
    assert.ok(maskSum(s) > 0, `${s.id}: lesion masks are never empty by default`);
  }
});

test('non-empty polyp images at 32x32 have a visible mask', () => {
  const ds = syntheticSites({ sites: 1, samplesPerSite: 60, size: 32, seed: 8, emptyFraction: 0.2 });
  for (const s of ds.samples) assert.is(maskSum(s) > 0, s.meta.empty === false, s.id);
});

// ---------------------------------------------------------------- patients

test('imagesPerPatient groups consecutive images into patients sharing a label', () => {
  const ds = syntheticSites({ task: 'lesion', sites: 2, samplesPerSite: 7, imagesPerPatient: 3, size: 16, seed: 1 });
  const s0 = bySite(ds.samples, 0);
  assert.equal(
    s0.map((s) => s.meta.patientId),
    ['site0-p0000', 'site0-p0000', 'site0-p0000', 'site0-p0001', 'site0-p0001', 'site0-p0001', 'site0-p0002'],
  );
  assert.is(bySite(ds.samples, 1)[0].meta.patientId, 'site1-p0000');
  assert.is(s0[0].meta.lesionId, s0[0].meta.patientId);
  const big = syntheticSites({ sites: 1, samplesPerSite: 60, imagesPerPatient: 4, size: 16, seed: 6 });
  for (let i = 0; i < 60; i += 4) {
    const labels = big.samples.slice(i, i + 4).map((s) => s.label);
    assert.ok(labels.every((l) => l === labels[0]), `patient ${i / 4} has labels ${labels}`);
  }
  // Images of one patient are different views, not copies.
  assert.not.ok(sameBits(big.get(0).image, big.get(1).image));
});

// ---------------------------------------------------------------- class mix

test('explicit classMix table is followed per site', () => {
  const n = 200;
  const ds = syntheticSites({
    sites: 3,
    samplesPerSite: n,
    size: 16,
    seed: 12,
    classMix: [
      [1, 0],
      [0, 3],
      [1, 1],
    ],
  });
  const frac1 = [0, 1, 2].map((k) => bySite(ds.samples, k).filter((s) => s.label === 1).length / n);
  assert.is(frac1[0], 0);
  assert.is(frac1[1], 1);
  // Binomial(200, 0.5): sd 0.035; allow ~3 sd.
  assert.ok(Math.abs(frac1[2] - 0.5) < 0.11, `site 2 fraction of class 1: ${frac1[2]}`);
  const p = siteProfiles({ sites: 3, classMix: [[1, 0], [0, 3], [1, 1]] });
  assert.equal(p.map((x) => x.classMix), [[1, 0], [0, 1], [0.5, 0.5]]);
});

test("classMix 'skewed' draws distinct Dirichlet proportions per site and labels follow them", () => {
  const opts: SyntheticSitesOptions = { task: 'lesion', sites: 4, samplesPerSite: 150, size: 16, seed: 21, classMix: 'skewed' };
  const profiles = siteProfiles(opts);
  for (const p of profiles) {
    assert.is(p.classMix.length, 3);
    assert.ok(Math.abs(p.classMix.reduce((a, b) => a + b, 0) - 1) < 1e-9);
  }
  const spread = Math.max(...profiles.map((p) => p.classMix[0])) - Math.min(...profiles.map((p) => p.classMix[0]));
  assert.ok(spread > 0.1, `skewed mixes barely differ: ${spread}`);
  const ds = syntheticSites(opts);
  profiles.forEach((p, k) => {
    const s = bySite(ds.samples, k);
    for (let c = 0; c < 3; c++) {
      const f = s.filter((x) => x.label === c).length / s.length;
      // Binomial(150, p): sd <= 0.041; allow 3 sd.
      assert.ok(Math.abs(f - p.classMix[c]) < 0.125, `site ${k} class ${c}: ${f} vs ${p.classMix[c]}`);
    }
  });
  // A site's mix does not depend on the number of sites.
  assert.equal(siteProfiles({ ...opts, sites: 2 })[1].classMix, profiles[1].classMix);
});

// ---------------------------------------------------------------- heterogeneity

test('heterogeneity 0 gives identical neutral profiles', () => {
  const p = siteProfiles({ sites: 3, heterogeneity: 0, seed: 4 });
  for (const x of p) {
    assert.equal(x.gain, [1, 1, 1]);
    assert.equal(x.offset, [0, 0, 0]);
    assert.is(x.gamma, 1);
    assert.is(x.contrast, 1);
    assert.is(x.brightness, 0);
    assert.is(x.blur, 0);
    assert.is(x.noise, BASE_NOISE_LEVEL);
    assert.is(x.speckle, 0);
    assert.is(x.resolution, 1);
    assert.is(x.vignette, 0);
  }
  const q = siteProfiles({ sites: 3, heterogeneity: 1, seed: 4 });
  assert.ok(q.some((x) => x.gain[0] !== 1 && x.resolution < 1 && x.noise > BASE_NOISE_LEVEL));
});

test('per-site mean colours spread much more at heterogeneity 1 than at 0; the scenes stay the same', () => {
  const spreadAt = (heterogeneity: number): { spread: number; masks: Uint8Array[] } => {
    const ds = syntheticSites({ sites: 6, samplesPerSite: 12, size: 24, seed: 31, heterogeneity });
    const means = [0, 1, 2, 3, 4, 5].map((k) => {
      const m = [0, 0, 0];
      const s = bySite(ds.samples, k);
      for (const x of s) for (let i = 0; i < x.image.length; i++) m[i % 3] += x.image[i];
      return m.map((v) => v / (s.length * 24 * 24));
    });
    let spread = 0;
    for (let c = 0; c < 3; c++) {
      const vals = means.map((m) => m[c]);
      const mu = vals.reduce((a, b) => a + b, 0) / vals.length;
      spread += Math.sqrt(vals.reduce((a, b) => a + (b - mu) ** 2, 0) / vals.length) / 3;
    }
    return { spread, masks: ds.samples.map((s) => s.mask!) };
  };
  const h0 = spreadAt(0);
  const h1 = spreadAt(1);
  assert.ok(h1.spread > 3 * h0.spread, `spread at 1 (${h1.spread}) not >> spread at 0 (${h0.spread})`);
  assert.ok(h1.spread > 0.03, `spread at 1 too small: ${h1.spread}`);
  h0.masks.forEach((m, i) => assert.ok(sameBits(m, h1.masks[i]), `mask ${i} depends on heterogeneity`));
});

// ---------------------------------------------------------------- mask alignment

test('lesion masks cover the dark lesion: inside is darker than outside', () => {
  const ds = syntheticSites({ task: 'lesion', sites: 2, samplesPerSite: 15, size: 32, seed: 13, heterogeneity: 0 });
  for (const s of ds.samples) {
    let inL = 0;
    let outL = 0;
    let nIn = 0;
    for (let i = 0; i < 32 * 32; i++) {
      const l = 0.299 * s.image[i * 3] + 0.587 * s.image[i * 3 + 1] + 0.114 * s.image[i * 3 + 2];
      if (s.mask![i]) {
        inL += l;
        nIn++;
      } else outL += l;
    }
    const diff = inL / nIn - outL / (32 * 32 - nIn);
    assert.ok(diff < -0.03, `${s.id}: luminance inside - outside = ${diff}`);
  }
});

test('the mask marks exactly where the object is drawn (same image with and without it)', () => {
  for (const task of ['polyp', 'lesion'] as const) {
    const opts: SyntheticSitesOptions = { task, sites: 2, samplesPerSite: 10, size: 48, seed: 17, heterogeneity: 0.5 };
    const full = syntheticSites({ ...opts, emptyFraction: 0 });
    const bare = syntheticSites({ ...opts, emptyFraction: 1 });
    for (let n = 0; n < full.length; n++) {
      const a = full.get(n);
      const b = bare.get(n);
      assert.is(maskSum(b), 0);
      let changedIn = 0;
      let changed = 0;
      let maskN = 0;
      for (let i = 0; i < 48 * 48; i++) {
        let d = 0;
        for (let c = 0; c < 3; c++) d = Math.max(d, Math.abs(a.image[i * 3 + c] - b.image[i * 3 + c]));
        const m = a.mask![i] === 1;
        if (m) maskN++;
        if (d > 0.02) {
          changed++;
          if (m) changedIn++;
        }
      }
      assert.ok(maskN > 0, `${task} ${a.id}: empty mask`);
      assert.ok(changedIn / maskN > 0.85, `${task} ${a.id}: only ${changedIn}/${maskN} mask pixels show the object`);
      assert.ok(changedIn / changed > 0.5, `${task} ${a.id}: ${changed - changedIn} of ${changed} changed pixels lie outside the mask`);
    }
  }
});

// ---------------------------------------------------------------- errors

test('bad options throw clear errors', () => {
  const cases: Array<[SyntheticSitesOptions, RegExp]> = [
    [{ sites: 0 }, /`sites` = 0 is invalid \(expected an integer >= 1/],
    [{ sites: 2.5 }, /`sites` = 2.5/],
    [{ sites: [] }, /`sites` = \[\] is invalid \(expected at least one SiteProfile\)/],
    [{ size: 15 }, /`size` = 15 is invalid \(expected integers >= 16/],
    [{ size: [64, 8] }, /`size` = \[64,8\]/],
    [{ task: 'retina' as never }, /`task` = 'retina' is invalid \(expected one of 'polyp', 'lesion'\)/],
    [{ channels: 2 as never }, /`channels` = 2 is invalid \(expected 1 or 3\)/],
    [{ heterogeneity: 1.5 }, /`heterogeneity` = 1.5 is invalid \(expected a number in \[0, 1\]\)/],
    [{ emptyFraction: -0.1 }, /`emptyFraction` = -0.1/],
    [{ imagesPerPatient: 0 }, /`imagesPerPatient` = 0/],
    [{ samplesPerSite: -1 }, /`samplesPerSite` = -1/],
    [{ sites: 3, samplesPerSite: [1, 2] }, /`samplesPerSite` = \[1,2\] is invalid \(expected 3 integers >= 0 \(one per site\)\)/],
    [{ sites: 2, classMix: [[1, 1]] }, /`classMix` .* \(expected 2 rows \(one per site\) of 2 non-negative weights/],
    [{ sites: 1, classMix: [[1, -1]] }, /`classMix`/],
    [{ sites: 1, classMix: [[0, 0]] }, /positive sum/],
    [{ classMix: 'lopsided' as never }, /`classMix` = 'lopsided' is invalid/],
    [{ skewAlpha: 0 }, /`skewAlpha` = 0/],
    [{ seed: Number.NaN }, /`seed`/],
  ];
  for (const [opts, re] of cases) assert.throws(() => syntheticSites(opts), re, JSON.stringify(opts));
  const good = siteProfiles({ sites: 1 })[0];
  const badProfiles: Array<[Partial<SiteProfile>, RegExp]> = [
    [{ gain: [1, -1, 1] }, /sites\[0\] \('site-0'\)\.gain = \[1,-1,1\] \(expected three finite numbers > 0\)/],
    [{ resolution: 0 }, /\.resolution = 0 \(expected a number in \(0, 1\]\)/],
    [{ classMix: [1] }, /\.classMix = \[1\] \(expected an array of 2 class proportions\)/],
    [{ samples: 1.5 }, /\.samples = 1.5/],
  ];
  for (const [patch, re] of badProfiles) {
    assert.throws(() => syntheticSites({ sites: [{ ...good, ...patch } as SiteProfile] }), re, JSON.stringify(patch));
  }
});

test.run();
