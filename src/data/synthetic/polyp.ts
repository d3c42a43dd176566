/**
 * Colonoscopy-like scene renderer (a Kvasir-SEG stand-in; Jha et al. 2020,
 * arXiv:1911.07069): pink-red mucosa with ring-shaped haustral folds around
 * a dark lumen, a vessel pattern, endoscope vignetting and saturated
 * specular highlights, and one polyp drawn as a raised dome (perturbed
 * ellipse, Lambert + Phong shading: bright top, darker rim, a soft cast
 * shadow) with its own finer texture and a slightly different colour.
 *
 * Classes ({@link POLYP_CLASSES}) are the polyp size: `small` (radius
 * 0.10-0.20 of the shorter side) and `large` (0.18-0.36); the ranges overlap
 * and large polyps are a little more lobulated. With `empty` no polyp is
 * drawn (empty mask); the class is then not visible.
 *
 * The mask is the polyp footprint (`rho / r(phi) < 1`); specular highlights
 * on it stay inside the mask.
 */
import type { Rng } from '../../util/rng';
import { BlobField, clamp01, fbm, fillDisc, mix, randomHarmonics, smoothstep, valueNoise, type Rgb } from './raster';
import type { Scene, SceneRequest } from './scene';

/** Image-level classes of the `polyp` task (index = label). */
export const POLYP_CLASSES = ['small', 'large'] as const;

interface PolypLook {
  mucosa: Rgb;
  polyp: Rgb;
  r0: number;
  aspect: number;
  amps: number[];
  phases: number[];
  textureAmp: number;
  vessels: number;
}

function polypLook(rng: Rng, label: number): PolypLook {
  const mucosa: Rgb = [
    clamp01(rng.uniform(0.78, 0.95)),
    clamp01(rng.uniform(0.38, 0.55)),
    clamp01(rng.uniform(0.33, 0.48)),
  ];
  const pale = rng.uniform(0, 0.5);
  const polyp: Rgb = [
    clamp01(mix(mucosa[0] * rng.uniform(0.95, 1.08), 0.92, pale)),
    clamp01(mix(mucosa[1] * rng.uniform(0.82, 1.05), 0.66, pale)),
    clamp01(mix(mucosa[2] * rng.uniform(0.82, 1.05), 0.6, pale)),
  ];
  const large = label === 1;
  const h = randomHarmonics(rng, 4, large ? rng.uniform(0.03, 0.1) : rng.uniform(0.01, 0.06), 1);
  return {
    mucosa,
    polyp,
    r0: large ? rng.uniform(0.18, 0.36) : rng.uniform(0.1, 0.2),
    aspect: rng.uniform(0.7, 1),
    amps: h.amps,
    phases: h.phases,
    textureAmp: rng.uniform(0.05, 0.14),
    vessels: rng.uniform(0.1, 0.45),
  };
}

/** Render one colonoscopy-like image. See the module comment. */
export function renderPolyp(req: SceneRequest): Scene {
  const h = req.height;
  const w = req.width;
  const s = Math.min(h, w);
  const halfU = w / s / 2;
  const halfV = h / s / 2;
  const look = polypLook(req.patient, req.label);
  const im = req.image;

  // Lumen: a dark far region somewhere in view.
  const la = im.uniform(0, 2 * Math.PI);
  const lrad = im.uniform(0, 0.4);
  const lx = Math.cos(la) * lrad;
  const ly = Math.sin(la) * lrad;
  const lr = im.uniform(0.07, 0.17);
  // Elliptical lumen: squash the distance along a random axis.
  const lumRot = im.uniform(0, Math.PI);
  const lumAsp = im.uniform(1, 1.8);
  const lc = Math.cos(lumRot);
  const ls = Math.sin(lumRot);

  // Polyp placement away from the lumen core, inside the frame (bounded retries).
  const r0 = look.r0 * im.uniform(0.9, 1.1);
  let cx = 0;
  let cy = 0;
  for (let t = 0; t < 12; t++) {
    cx = im.uniform(-halfU + r0 * 0.8, halfU - r0 * 0.8);
    cy = im.uniform(-halfV + r0 * 0.8, halfV - r0 * 0.8);
    if (Math.hypot(cx - lx, cy - ly) > lr + r0) break;
  }
  const blob = new BlobField({
    cx,
    cy,
    r0,
    aspect: look.aspect,
    rotation: im.uniform(0, 2 * Math.PI),
    amps: look.amps,
    phases: look.phases,
  });

  // Light: nearly coaxial with the camera, slightly off-axis.
  const la2 = im.uniform(0, 2 * Math.PI);
  const off = im.uniform(0.2, 0.6);
  let Lx = Math.cos(la2) * off;
  let Ly = Math.sin(la2) * off;
  let Lz = 1;
  const ln = Math.hypot(Lx, Ly, Lz);
  Lx /= ln;
  Ly /= ln;
  Lz /= ln;
  // Half vector between light and the viewer (0, 0, 1).
  let Hx = Lx;
  let Hy = Ly;
  let Hz = Lz + 1;
  const hn = Math.hypot(Hx, Hy, Hz);
  Hx /= hn;
  Hy /= hn;
  Hz /= hn;
  const dome = im.uniform(0.9, 1.6);
  const polypSpec = im.uniform(0.4, 1);

  const foldK = im.uniform(0.45, 0.9);
  const foldPhase = im.uniform(0, 2 * Math.PI);
  const foldStr = im.uniform(0.05, 0.16);
  const foldWarp = im.uniform(0.2, 0.5);
  const vignette = im.uniform(0.35, 0.7);

  const tex = fbm(im, h, w, 5, 3);
  const fine = valueNoise(im, h, w, s / 3);
  const warp = fbm(im, h, w, 2, 2);
  const ves = fbm(im, h, w, 3, 4, 0.6);
  const ptex = fbm(im, h, w, 14, 2);
  const specGate = valueNoise(im, h, w, 10);
  const foldVis = fbm(im, h, w, 2, 2);
  const ss = smoothstep;
  const lxy = Math.sqrt(Lx * Lx + Ly * Ly);
  const lerp = mix;
  const clamp = clamp01;

  const rgb = new Float32Array(h * w * 3);
  const mask = new Uint8Array(h * w);
  const illum = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    const v = (y + 0.5 - h / 2) / s;
    for (let x = 0; x < w; x++) {
      const u = (x + 0.5 - w / 2) / s;
      const i = y * w + x;
      const du = u - lx;
      const dv = v - ly;
      const da = lc * du + ls * dv;
      const db = (-ls * du + lc * dv) * lumAsp;
      const dl = Math.sqrt(da * da + db * db);
      // Brightness falls with depth towards the lumen and with the angle from the optical axis.
      const near = ss(0.25 * lr, 2.6 * lr, dl);
      const rr = Math.sqrt(u * u + v * v);
      const lum = (0.05 + 0.95 * near * (1.2 - 0.2 * near)) * (1 - vignette * ss(0.2, 0.75, rr));
      illum[i] = lum;
      // Haustral folds: rings that crowd towards the lumen (perspective), partly visible.
      const phase = 2 * Math.PI * (foldK / (dl + 0.08) + foldWarp * (warp[i] - 0.5)) + foldPhase;
      const vis = ss(0.3, 0.7, foldVis[i]) * ss(0.8 * lr, 2.2 * lr, dl);
      const sf = Math.sin(phase) * vis;
      const crease = ss(0.7, 1, -sf);
      let shade = (1 + foldStr * sf) * (1 - 0.3 * crease * near);
      shade *= 0.9 + 0.2 * tex[i] - 0.05 * fine[i];
      const vesRidge = 1 - Math.abs(2 * ves[i] - 1);
      const vessel = look.vessels * ss(0.88, 0.97, vesRidge);
      let r = look.mucosa[0] * shade;
      let g = look.mucosa[1] * shade;
      let b = look.mucosa[2] * shade;
      r = lerp(r, 0.62 * shade, vessel);
      g = lerp(g, 0.14 * shade, vessel);
      b = lerp(b, 0.16 * shade, vessel);
      // Wet fold crests catch the light.
      const crest = ss(0.95, 1, sf) * ss(0.65, 0.85, specGate[i]) * near;
      r = r * lum + crest * 0.6;
      g = g * lum + crest * 0.6;
      b = b * lum + crest * 0.6;

      if (!req.empty) {
        const d = blob.relDist(u, v);
        if (d < 1) mask[i] = 1;
        // Soft cast shadow around the base, on the side away from the light.
        if (d >= 1 && d < 1.35) {
          const away = Math.max(0, -(blob.frame.x * Lx + blob.frame.y * Ly) / (d * lxy + 1e-9));
          const k = 1 - 0.35 * (1 - ss(1, 1.35, d)) * (0.4 + 0.6 * away);
          r *= k;
          g *= k;
          b *= k;
        }
        const edge = 1.2 / (s * r0);
        if (d < 1 + edge) {
          const alpha = 1 - ss(1 - edge, 1 + edge, d);
          const dd = Math.min(d, 0.999);
          // Dome normal: (dome * p, sqrt(1 - |p|^2)), p = blob-frame position.
          let nx = dome * blob.frame.x;
          let ny = dome * blob.frame.y;
          let nz = Math.sqrt(1 - dd * dd);
          const nn = Math.sqrt(nx * nx + ny * ny + nz * nz);
          nx /= nn;
          ny /= nn;
          nz /= nn;
          const diff = Math.max(0, nx * Lx + ny * Ly + nz * Lz);
          const spec = Math.pow(Math.max(0, nx * Hx + ny * Hy + nz * Hz), 60) * polypSpec;
          const pt = 1 + look.textureAmp * (ptex[i] - 0.5) * 2;
          // Darker rim where the dome meets the wall.
          const rim = 1 - 0.2 * ss(0.75, 1, d);
          const pl = (0.45 + 0.65 * diff) * rim * pt * (0.35 + 0.65 * lum);
          const pr = look.polyp[0] * pl + spec;
          const pg = look.polyp[1] * pl + spec;
          const pb = look.polyp[2] * pl + spec;
          r = lerp(r, pr, alpha);
          g = lerp(g, pg, alpha);
          b = lerp(b, pb, alpha);
        }
      }
      rgb[i * 3] = r;
      rgb[i * 3 + 1] = g;
      rgb[i * 3 + 2] = b;
    }
  }

  // Small saturated specular blobs on well-lit mucosa.
  const spots = im.intBetween(2, 9);
  const specAlpha = new Float32Array(h * w);
  for (let k = 0; k < spots; k++) {
    const x = im.uniform(0, w);
    const y = im.uniform(0, h);
    const i = Math.min(h - 1, Math.floor(y)) * w + Math.min(w - 1, Math.floor(x));
    if (illum[i] < 0.5) continue;
    fillDisc(specAlpha, h, w, x, y, Math.max(0.4, im.uniform(0.006, 0.02) * s), im.uniform(0.7, 1));
  }
  for (let i = 0; i < h * w; i++) {
    const a = specAlpha[i];
    for (let c = 0; c < 3; c++) {
      const j = i * 3 + c;
      rgb[j] = clamp(a > 0 ? lerp(rgb[j], 1, a) : rgb[j]);
    }
  }
  return { rgb, mask };
}
