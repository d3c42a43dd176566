/**
 * Dermoscopy-like scene renderer (a HAM10000 / ISIC stand-in; Tschandl et
 * al. 2018, arXiv:1803.10417): textured skin with hairs, vignetting and an
 * optional dermatoscope field-of-view ring, and one pigmented lesion drawn as
 * a perturbed ellipse with a pigment network, colour variegation and a
 * darker centre.
 *
 * Classes ({@link LESION_CLASSES}) differ the way the clinical ABCD rule
 * says they do, with overlapping ranges so that no single cue separates them:
 * - `nevus`: small to medium, regular border, fairly uniform brown, regular
 *   network, soft fading border;
 * - `melanoma`: larger, irregular and ragged border (more and stronger
 *   harmonics), colour variegation (black, blue-grey, red, light brown),
 *   atypical network, eccentric dark blotch;
 * - `keratosis` (seborrhoeic): lighter tan / waxy, sharp "stuck-on" border,
 *   no network but cerebriform fissures, milia-like bright dots and
 *   comedo-like dark dots.
 *
 * The mask is the lesion (`rho / r(phi) < 1`); hairs drawn over the lesion do
 * not change it (as in the real ground truths); pixels hidden by the
 * dermatoscope ring are removed from it.
 */
import type { Rng } from '../../util/rng';
import {
  BlobField,
  bezierPoints,
  clamp01,
  fbm,
  fillDisc,
  mix,
  randomHarmonics,
  smoothstep,
  strokePolyline,
  valueNoise,
  worleyEdges,
  type Rgb,
} from './raster';
import type { Scene, SceneRequest } from './scene';

/** Image-level classes of the `lesion` task (index = label). */
export const LESION_CLASSES = ['nevus', 'melanoma', 'keratosis'] as const;

/** Per-patient (per-lesion) appearance, drawn from the class. */
interface LesionLook {
  skin: Rgb;
  erythema: number;
  base: Rgb;
  alts: Rgb[];
  variegation: number;
  r0: number;
  aspect: number;
  amps: number[];
  phases: number[];
  ragged: number;
  edge: number;
  centreDark: number;
  centreOffset: [number, number];
  peripheralFade: number;
  network: number;
  networkCells: number;
  networkWidth: number;
  networkAtypia: number;
  /** Amplitude of the fine intralesional mottling. */
  mottle: number;
  fissures: number;
  milia: number;
  comedo: number;
}

function tint(rng: Rng, c: Rgb, lo: number, hi: number, jitter: number): Rgb {
  const k = rng.uniform(lo, hi);
  return [
    clamp01(c[0] * k + rng.normal(0, jitter)),
    clamp01(c[1] * k + rng.normal(0, jitter)),
    clamp01(c[2] * k + rng.normal(0, jitter)),
  ];
}

function lesionLook(rng: Rng, label: number): LesionLook {
  const t = rng.next();
  const skin: Rgb = [
    mix(0.95, 0.74, t) + rng.normal(0, 0.015),
    mix(0.8, 0.54, t) + rng.normal(0, 0.015),
    mix(0.72, 0.42, t) + rng.normal(0, 0.015),
  ];
  const erythema = rng.uniform(0, 1);
  const aspect = rng.uniform(0.75, 1);
  if (label === 1) {
    // melanoma
    const h = randomHarmonics(rng, 7, rng.uniform(0.05, 0.1), 0.9);
    return {
      skin,
      erythema,
      base: tint(rng, [0.42, 0.25, 0.23], 0.7, 1.1, 0.025),
      alts: [
        tint(rng, [0.14, 0.09, 0.09], 0.8, 1.2, 0.015),
        tint(rng, [0.45, 0.48, 0.58], 0.85, 1.1, 0.03),
        tint(rng, [0.74, 0.42, 0.42], 0.85, 1.1, 0.03),
      ],
      variegation: rng.uniform(0.45, 0.9),
      r0: rng.uniform(0.16, 0.3),
      aspect,
      amps: h.amps,
      phases: h.phases,
      ragged: rng.uniform(0.04, 0.1),
      edge: rng.uniform(0.02, 0.08),
      centreDark: rng.uniform(0.2, 0.45),
      centreOffset: [rng.normal(0, 0.3), rng.normal(0, 0.3)],
      peripheralFade: rng.uniform(0, 0.25),
      network: rng.uniform(0.15, 0.4),
      networkCells: rng.uniform(16, 26),
      networkWidth: rng.uniform(0.14, 0.26),
      networkAtypia: rng.uniform(0.6, 1),
      mottle: rng.uniform(0.08, 0.2),
      fissures: 0,
      milia: 0,
      comedo: rng.uniform(0, 20),
    };
  }
  if (label === 2) {
    // seborrhoeic keratosis
    const h = randomHarmonics(rng, 5, rng.uniform(0.03, 0.08), 1);
    return {
      skin,
      erythema,
      base: tint(rng, [0.62, 0.45, 0.39], 0.65, 1.08, 0.02),
      alts: [tint(rng, [0.42, 0.28, 0.25], 0.8, 1.1, 0.02), tint(rng, [0.78, 0.64, 0.54], 0.9, 1.05, 0.02)],
      variegation: rng.uniform(0.15, 0.4),
      r0: rng.uniform(0.13, 0.26),
      aspect,
      amps: h.amps,
      phases: h.phases,
      ragged: rng.uniform(0.01, 0.04),
      edge: rng.uniform(0.015, 0.05),
      centreDark: rng.uniform(0, 0.15),
      centreOffset: [rng.normal(0, 0.15), rng.normal(0, 0.15)],
      peripheralFade: rng.uniform(0, 0.1),
      network: 0,
      networkCells: 14,
      networkWidth: 0.1,
      networkAtypia: 0,
      mottle: rng.uniform(0.1, 0.2),
      fissures: rng.uniform(0.12, 0.3),
      milia: rng.uniform(30, 90),
      comedo: rng.uniform(20, 60),
    };
  }
  // nevus (label 0)
  const h = randomHarmonics(rng, 4, rng.uniform(0.015, 0.05), 1.2);
  return {
    skin,
    erythema,
    base: tint(rng, [0.56, 0.35, 0.31], 0.75, 1.12, 0.02),
    alts: [tint(rng, [0.38, 0.22, 0.2], 0.85, 1.1, 0.015)],
    variegation: rng.uniform(0.05, 0.3),
    r0: rng.uniform(0.11, 0.22),
    aspect,
    amps: h.amps,
    phases: h.phases,
    ragged: rng.uniform(0, 0.03),
    edge: rng.uniform(0.06, 0.16),
    centreDark: rng.uniform(0.08, 0.3),
    centreOffset: [rng.normal(0, 0.08), rng.normal(0, 0.08)],
    peripheralFade: rng.uniform(0.1, 0.4),
    network: rng.uniform(0.2, 0.45),
    networkCells: rng.uniform(18, 26),
    networkWidth: rng.uniform(0.16, 0.26),
    networkAtypia: rng.uniform(0, 0.25),
    mottle: rng.uniform(0.04, 0.1),
    fissures: 0,
    milia: 0,
    comedo: 0,
  };
}

/** Scatter `count` anti-aliased dots of radius `rad` px inside the blob (rel. distance < 0.9). */
function scatterDots(
  rng: Rng,
  blob: BlobField,
  alpha: Float32Array,
  h: number,
  w: number,
  count: number,
  rad: number,
): void {
  const s = Math.min(h, w);
  const br = blob.boundingRadius();
  for (let n = 0; n < count; n++) {
    for (let tries = 0; tries < 8; tries++) {
      const u = blob.shape.cx + rng.uniform(-br, br);
      const v = blob.shape.cy + rng.uniform(-br, br);
      if (blob.relDist(u, v) < 0.9) {
        fillDisc(alpha, h, w, u * s + w / 2, v * s + h / 2, rad * rng.uniform(0.7, 1.3), rng.uniform(0.5, 1));
        break;
      }
    }
  }
}

/** Render one dermoscopy-like image. See the module comment for the class cues. */
export function renderLesion(req: SceneRequest): Scene {
  const h = req.height;
  const w = req.width;
  const s = Math.min(h, w);
  const look = lesionLook(req.patient, req.label);
  const im = req.image;

  // View of this patient's lesion in this image: shift, rotation, zoom.
  const zoom = im.uniform(0.9, 1.1);
  const blob = new BlobField({
    cx: im.normal(0, 0.05),
    cy: im.normal(0, 0.05),
    r0: look.r0 * zoom,
    aspect: look.aspect,
    rotation: im.uniform(0, 2 * Math.PI),
    amps: look.amps,
    phases: look.phases,
  });

  // Texture fields (fixed draw order; class-specific ones only when used).
  const skinTex = fbm(im, h, w, 3, 4, 0.55);
  const pores = valueNoise(im, h, w, s / 2.5);
  const ery = fbm(im, h, w, 2, 2);
  const rag = fbm(im, h, w, 7, 2);
  const vars = look.alts.map((_, k) => fbm(im, h, w, 3 + k, 3));
  const var2 = vars[Math.min(1, vars.length - 1)];
  const net = look.network > 0 ? worleyEdges(im, h, w, look.networkCells * zoom) : null;
  const fiss = look.fissures > 0 ? fbm(im, h, w, 9, 2) : null;
  const mottle = fbm(im, h, w, 10, 2);
  const ss = smoothstep;
  const lerp = mix;
  const clamp = clamp01;

  const rgb = new Float32Array(h * w * 3);
  const mask = new Uint8Array(h * w);
  const alts = look.alts;
  for (let y = 0; y < h; y++) {
    const v = (y + 0.5 - h / 2) / s;
    for (let x = 0; x < w; x++) {
      const u = (x + 0.5 - w / 2) / s;
      const i = y * w + x;
      const st = (0.9 + 0.18 * skinTex[i]) * (1 - 0.06 * pores[i]);
      const e = (ery[i] - 0.5) * look.erythema;
      const sr = look.skin[0] * st + 0.08 * e;
      const sg = look.skin[1] * st - 0.04 * e;
      const sb = look.skin[2] * st - 0.03 * e;
      let r = sr;
      let g = sg;
      let b = sb;
      if (!req.empty) {
        const d = blob.relDist(u, v, 1 + look.ragged * (rag[i] - 0.5) * 2);
        if (d < 1) mask[i] = 1;
        const edge = look.edge;
        if (d < 1 + edge) {
          const alpha = 1 - ss(1 - edge, 1 + edge, d);
          let lr = look.base[0];
          let lg = look.base[1];
          let lb = look.base[2];
          for (let k = 0; k < alts.length; k++) {
            const wk = ss(0.5, 0.78, vars[k][i]) * look.variegation;
            lr = lerp(lr, alts[k][0], wk);
            lg = lerp(lg, alts[k][1], wk);
            lb = lerp(lb, alts[k][2], wk);
          }
          const ex = blob.frame.x - look.centreOffset[0];
          const ey = blob.frame.y - look.centreOffset[1];
          const dark = 1 - look.centreDark * (1 - ss(0, 0.85, Math.sqrt(ex * ex + ey * ey)));
          lr *= dark;
          lg *= dark;
          lb *= dark;
          const mt = 1 + look.mottle * (mottle[i] - 0.5) * 2;
          lr *= mt;
          lg *= mt;
          lb *= mt;
          const fade = look.peripheralFade * ss(0.45, 1, d);
          lr = lerp(lr, sr * 0.85, fade);
          lg = lerp(lg, sg * 0.85, fade);
          lb = lerp(lb, sb * 0.85, fade);
          if (net !== null) {
            const lw = look.networkWidth * (1 + look.networkAtypia * (var2[i] - 0.5) * 2.5);
            const line = 1 - ss(0, Math.max(0.02, lw), net[i]);
            const k = 1 - look.network * line * (1 - 0.6 * ss(0.6, 1, d));
            lr *= k;
            lg *= k;
            lb *= k;
          }
          if (fiss !== null) {
            const ridge = 1 - Math.abs(2 * fiss[i] - 1);
            const k = 1 - look.fissures * ss(0.75, 0.95, ridge);
            lr *= k;
            lg *= k;
            lb *= k;
          }
          r = lerp(r, lr, alpha);
          g = lerp(g, lg, alpha);
          b = lerp(b, lb, alpha);
        }
      }
      rgb[i * 3] = r;
      rgb[i * 3 + 1] = g;
      rgb[i * 3 + 2] = b;
    }
  }

  // Keratosis dots (milia-like bright, comedo-like dark), melanoma dark dots/globules.
  if (!req.empty && (look.milia > 0 || look.comedo > 0)) {
    const area = Math.PI * blob.shape.r0 * blob.shape.r0;
    const rad = Math.max(0.5, 0.012 * s);
    const bright = new Float32Array(h * w);
    const dark = new Float32Array(h * w);
    const dots = im.fork('dots');
    scatterDots(dots, blob, bright, h, w, Math.round(look.milia * area), rad);
    scatterDots(dots, blob, dark, h, w, Math.round(look.comedo * area), rad);
    for (let i = 0; i < h * w; i++) {
      if (bright[i] > 0) {
        const a = bright[i] * 0.65;
        rgb[i * 3] = lerp(rgb[i * 3], 0.93, a);
        rgb[i * 3 + 1] = lerp(rgb[i * 3 + 1], 0.88, a);
        rgb[i * 3 + 2] = lerp(rgb[i * 3 + 2], 0.72, a);
      }
      if (dark[i] > 0) {
        const a = dark[i] * 0.85;
        rgb[i * 3] = lerp(rgb[i * 3], 0.14, a);
        rgb[i * 3 + 1] = lerp(rgb[i * 3 + 1], 0.1, a);
        rgb[i * 3 + 2] = lerp(rgb[i * 3 + 2], 0.08, a);
      }
    }
  }

  // Hairs: thin dark quadratic curves crossing the field.
  // (Own streams, so an empty image differs from the full one only by the lesion.)
  const hr = im.fork('hairs');
  const hairs = hr.bernoulli(0.45) ? 0 : hr.intBetween(1, 7);
  if (hairs > 0) {
    const hairAlpha = new Float32Array(h * w);
    const hairCol: Rgb = tint(hr, [0.12, 0.08, 0.06], 0.6, 1.6, 0.01);
    for (let k = 0; k < hairs; k++) {
      const ang = hr.uniform(0, 2 * Math.PI);
      const len = hr.uniform(0.5, 1.3) * s;
      const mx = hr.uniform(0, w);
      const my = hr.uniform(0, h);
      const dx = (Math.cos(ang) * len) / 2;
      const dy = (Math.sin(ang) * len) / 2;
      const bend = hr.normal(0, 0.15) * s;
      const pts = bezierPoints(
        [mx - dx, my - dy],
        [mx - Math.sin(ang) * bend, my + Math.cos(ang) * bend],
        [mx + dx, my + dy],
        24,
      );
      strokePolyline(hairAlpha, h, w, pts, Math.max(0.3, hr.uniform(0.004, 0.009) * s));
    }
    for (let i = 0; i < h * w; i++) {
      const a = hairAlpha[i] * 0.9;
      if (a > 0) {
        rgb[i * 3] = lerp(rgb[i * 3], hairCol[0], a);
        rgb[i * 3 + 1] = lerp(rgb[i * 3 + 1], hairCol[1], a);
        rgb[i * 3 + 2] = lerp(rgb[i * 3 + 2], hairCol[2], a);
      }
    }
  }

  // Illumination: vignette, a gentle gradient, and sometimes the dark
  // circular field of view of a contact dermatoscope.
  const light = im.fork('light');
  const vig = light.uniform(0.1, 0.4);
  const gAng = light.uniform(0, 2 * Math.PI);
  const gAmt = light.uniform(0, 0.15);
  const ring = light.bernoulli(0.3);
  const ringR = light.uniform(0.5, 0.66);
  for (let y = 0; y < h; y++) {
    const v = (y + 0.5 - h / 2) / s;
    for (let x = 0; x < w; x++) {
      const u = (x + 0.5 - w / 2) / s;
      const i = y * w + x;
      const rr = Math.sqrt(u * u + v * v);
      let k = (1 - vig * ss(0.25, 0.75, rr)) * (1 + gAmt * (u * Math.cos(gAng) + v * Math.sin(gAng)));
      if (ring) {
        const inside = 1 - ss(ringR - 0.5 / s, ringR + 0.5 / s, rr);
        k = lerp(0.04, k, inside);
        if (inside < 0.5) mask[i] = 0;
      }
      for (let c = 0; c < 3; c++) rgb[i * 3 + c] = clamp(rgb[i * 3 + c] * k);
    }
  }
  return { rgb, mask };
}
