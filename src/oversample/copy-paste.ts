/**
 * Segmentation-aware copy-paste synthesis (Ghiasi et al. 2021 "Simple
 * Copy-Paste", arXiv:2012.07177, with Dwibedi et al. 2017 "Cut, Paste and
 * Learn", arXiv:1708.01642 blending): cut a foreground region (lesion, polyp)
 * with its mask from a donor, scale + rotate it about its bounding-box centre,
 * and paste it onto a recipient with a feathered alpha.
 *
 * Shapes: images row-major `[H, W, C]` float32 in [0, 1], masks `[H, W]` class ids.
 * Donor and recipient may differ in H, W but must share C.
 * - Image sampled bilinearly, mask by nearest neighbour (inverse mapping from
 *   the recipient grid, so there are no holes).
 * - Alpha is feathered INWARD: a pasted pixel at chessboard distance d (>= 1)
 *   from the nearest non-pasted pixel gets alpha = min(1, d / (feather + 1));
 *   pixels outside the pasted footprint keep the recipient exactly, pixels
 *   deeper than `feather` are exactly the warped donor, the rim is a blend.
 * - Mask policy (`maskPolicy`): `'overwrite'` (default) — every pasted pixel
 *   takes the donor's class (the object is in front, rim included);
 *   `'union'` — pasted pixels take the donor class only where the recipient
 *   mask is background (existing recipient objects are kept).
 * Defaults: classes = every non-zero donor class, scale U(0.75, 1.25),
 * rotation U(-30°, 30°), feather 2 px, centre uniform over positions where the
 * warped object fits (clipped at the border when it cannot fit), seed 42.
 */
import type { Sample } from '../data/types';
import { Rng, createRng } from '../util/rng';

/** An image with its mask. */
export interface MaskedImage {
  image: Float32Array;
  mask?: Uint8Array;
  shape: readonly [number, number, number];
}

/** Options of {@link copyPaste}. */
export interface CopyPasteOptions {
  /** Donor mask classes to cut (default: all non-zero). */
  classes?: readonly number[];
  /** Scale range (default [0.75, 1.25]). */
  scale?: readonly [number, number];
  /** Rotation range in degrees (default [-30, 30]). */
  rotation?: readonly [number, number];
  /** Feather width in pixels, integer >= 0 (default 2). */
  feather?: number;
  /** Default 'overwrite'. */
  maskPolicy?: 'overwrite' | 'union';
  /** Paste centre [y, x] in recipient pixels (default random). */
  center?: readonly [number, number];
  /** Default 42. */
  seed?: number;
}

/** What was done. */
export interface CopyPasteParams {
  scale: number;
  angleDeg: number;
  /** Recipient pixel the donor anchor is mapped to. */
  center: [number, number];
  /** Donor anchor (rounded bounding-box centre of the cut region). */
  anchor: [number, number];
  feather: number;
}

/** Result of one paste. */
export interface CopyPasteResult {
  image: Float32Array;
  mask: Uint8Array;
  shape: [number, number, number];
  /** Blend weight per recipient pixel `[H, W]` (0 = recipient). */
  alpha: Float32Array;
  /** 1 where the donor object landed `[H, W]` (the footprint). */
  pasted: Uint8Array;
  params: CopyPasteParams;
}

function check(owner: string, what: string, m: MaskedImage, needMask: boolean): void {
  const [H, W, C] = m.shape;
  if (m.image.length !== H * W * C) throw new Error(`${owner}: ${what} image has ${m.image.length} values, shape ${m.shape.join('x')} needs ${H * W * C}`);
  if (needMask && !m.mask) throw new Error(`${owner}: ${what} has no mask`);
  if (m.mask && m.mask.length !== H * W) throw new Error(`${owner}: ${what} mask has ${m.mask.length} values, expected ${H}x${W}`);
}

/** Chessboard distance (>= 1) of footprint pixels to the nearest non-footprint pixel (image border counts as outside). */
function insideDistance(fp: Uint8Array, H: number, W: number, cap: number): Float32Array {
  const d = new Float32Array(H * W);
  for (let i = 0; i < H * W; i++) d[i] = fp[i] ? cap : 0;
  // Two-pass chamfer (chessboard metric), border treated as outside.
  const at = (y: number, x: number) => (y < 0 || x < 0 || y >= H || x >= W ? 0 : d[y * W + x]);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      if (!fp[i]) continue;
      d[i] = Math.min(d[i], at(y - 1, x - 1) + 1, at(y - 1, x) + 1, at(y - 1, x + 1) + 1, at(y, x - 1) + 1);
    }
  for (let y = H - 1; y >= 0; y--)
    for (let x = W - 1; x >= 0; x--) {
      const i = y * W + x;
      if (!fp[i]) continue;
      d[i] = Math.min(d[i], at(y + 1, x + 1) + 1, at(y + 1, x) + 1, at(y + 1, x - 1) + 1, at(y, x + 1) + 1);
    }
  return d;
}

/** Paste the donor's foreground onto the recipient. */
export function copyPaste(donor: MaskedImage, recipient: MaskedImage, opts: CopyPasteOptions = {}): CopyPasteResult {
  const o = 'copyPaste';
  check(o, 'donor', donor, true);
  check(o, 'recipient', recipient, false);
  const [dh, dw, C] = donor.shape;
  const [H, W, rc] = recipient.shape;
  if (rc !== C) throw new Error(`${o}: donor has ${C} channels, recipient ${rc}`);
  const scaleR = opts.scale ?? [0.75, 1.25];
  const rotR = opts.rotation ?? [-30, 30];
  if (!(scaleR[0] > 0 && scaleR[0] <= scaleR[1])) throw new Error(`${o}: 'scale' must be [lo, hi] with 0 < lo <= hi, got ${JSON.stringify(scaleR)}`);
  if (!(rotR[0] <= rotR[1])) throw new Error(`${o}: 'rotation' must be [lo, hi] with lo <= hi`);
  const feather = opts.feather ?? 2;
  if (!Number.isInteger(feather) || feather < 0) throw new Error(`${o}: 'feather' must be an integer >= 0, got ${feather}`);
  const policy = opts.maskPolicy ?? 'overwrite';
  if (policy !== 'overwrite' && policy !== 'union') throw new Error(`${o}: 'maskPolicy' must be 'overwrite' or 'union', got ${String(policy)}`);
  const dmask = donor.mask!;
  const classes = new Set(opts.classes ?? Array.from(new Set(dmask)).filter((c) => c !== 0));
  let y0 = dh, y1 = -1, x0 = dw, x1 = -1;
  for (let y = 0; y < dh; y++)
    for (let x = 0; x < dw; x++)
      if (classes.has(dmask[y * dw + x])) {
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
      }
  if (y1 < 0) throw new Error(`${o}: donor mask has no pixel of classes ${[...classes].join(', ') || '(none)'}`);

  const rng: Rng = createRng(opts.seed ?? 42);
  const scale = rng.uniform(scaleR[0], scaleR[1]);
  const angleDeg = rng.uniform(rotR[0], rotR[1]);
  const th = (angleDeg * Math.PI) / 180;
  const cos = Math.cos(th);
  const sin = Math.sin(th);
  const ay = Math.round((y0 + y1) / 2);
  const ax = Math.round((x0 + x1) / 2);
  // Extent of the warped bounding box around the anchor.
  let ey = 0;
  let ex = 0;
  for (const [py, px] of [[y0, x0], [y0, x1], [y1, x0], [y1, x1]]) {
    const vy = (py - ay) * scale;
    const vx = (px - ax) * scale;
    ey = Math.max(ey, Math.abs(cos * vy + sin * vx) + 1);
    ex = Math.max(ex, Math.abs(-sin * vy + cos * vx) + 1);
  }
  let cy: number;
  let cx: number;
  if (opts.center) {
    [cy, cx] = opts.center;
    if (!Number.isInteger(cy) || !Number.isInteger(cx)) throw new Error(`${o}: 'center' must be integer pixels, got ${JSON.stringify(opts.center)}`);
  } else {
    const pick = (e: number, n: number) => {
      const lo = Math.ceil(e);
      const hi = Math.floor(n - 1 - e);
      return lo <= hi ? rng.intBetween(lo, hi) : Math.floor((n - 1) / 2);
    };
    cy = pick(ey, H);
    cx = pick(ex, W);
  }

  const pastedClass = new Uint8Array(H * W);
  const pasted = new Uint8Array(H * W);
  const warped = new Float32Array(H * W * C);
  const r = Math.ceil(Math.max(ey, ex)) + 1;
  for (let y = Math.max(0, cy - r); y <= Math.min(H - 1, cy + r); y++) {
    for (let x = Math.max(0, cx - r); x <= Math.min(W - 1, cx + r); x++) {
      // Inverse map: recipient (y, x) -> donor (sy, sx); forward is rotation by th then scale.
      const vy = (y - cy) / scale;
      const vx = (x - cx) / scale;
      const sy = ay + cos * vy - sin * vx;
      const sx = ax + sin * vy + cos * vx;
      const ny = Math.round(sy);
      const nx = Math.round(sx);
      if (ny < 0 || nx < 0 || ny >= dh || nx >= dw) continue;
      const cls = dmask[ny * dw + nx];
      if (!classes.has(cls)) continue;
      const i = y * W + x;
      pasted[i] = 1;
      pastedClass[i] = cls;
      const fy = Math.min(Math.max(sy, 0), dh - 1);
      const fx = Math.min(Math.max(sx, 0), dw - 1);
      const qy = Math.floor(fy);
      const qx = Math.floor(fx);
      const qy1 = Math.min(qy + 1, dh - 1);
      const qx1 = Math.min(qx + 1, dw - 1);
      const ty = fy - qy;
      const tx = fx - qx;
      for (let k = 0; k < C; k++) {
        const a = donor.image[(qy * dw + qx) * C + k];
        const b = donor.image[(qy * dw + qx1) * C + k];
        const c = donor.image[(qy1 * dw + qx) * C + k];
        const d = donor.image[(qy1 * dw + qx1) * C + k];
        warped[i * C + k] = (a * (1 - tx) + b * tx) * (1 - ty) + (c * (1 - tx) + d * tx) * ty;
      }
    }
  }
  const dist = insideDistance(pasted, H, W, feather + 1);
  const alpha = new Float32Array(H * W);
  const image = Float32Array.from(recipient.image);
  const mask = recipient.mask ? Uint8Array.from(recipient.mask) : new Uint8Array(H * W);
  for (let i = 0; i < H * W; i++) {
    if (!pasted[i]) continue;
    const a = Math.min(1, dist[i] / (feather + 1));
    alpha[i] = a;
    for (let k = 0; k < C; k++) {
      const j = i * C + k;
      image[j] = a === 1 ? warped[j] : a * warped[j] + (1 - a) * image[j];
    }
    if (policy === 'overwrite' || mask[i] === 0) mask[i] = pastedClass[i];
  }
  return {
    image,
    mask,
    shape: [H, W, C],
    alpha,
    pasted,
    params: { scale, angleDeg, center: [cy, cx], anchor: [ay, ax], feather },
  };
}

/** Options of {@link copyPasteSamples}. */
export interface CopyPasteSamplesOptions extends Omit<CopyPasteOptions, 'center' | 'seed'> {
  /** Number of new samples. */
  count: number;
  /** Donors must contain this mask class (default: any non-zero). Only this class is cut. */
  maskClass?: number;
  /** Donors must have this image label (e.g. a rare diagnosis); the new sample gets it. */
  label?: number;
  /** Default 42. */
  seed?: number;
}

/** A synthesised sample with where it came from. */
export interface CopyPasteSample extends Sample {
  provenance: { donor: number; recipient: number; params: CopyPasteParams };
}

/**
 * Make `count` new samples by pasting objects from random eligible donors onto
 * random recipients among `samples` (all from the SAME site, so nothing
 * leaves it) — e.g. to raise the share of a rare lesion class or grow a small
 * site. New ids `<recipient id>+cp<k>`; meta copied from the recipient with
 * `synthetic: 'copy-paste'`; label = `opts.label` when given, else the donor's.
 */
export function copyPasteSamples(samples: readonly Sample[], opts: CopyPasteSamplesOptions): CopyPasteSample[] {
  const o = 'copyPasteSamples';
  if (!Number.isInteger(opts.count) || opts.count < 0) throw new Error(`${o}: 'count' must be an integer >= 0, got ${opts.count}`);
  const donors = samples.flatMap((s, i) => {
    if (!s.mask) return [];
    if (opts.label !== undefined && s.label !== opts.label) return [];
    const ok = opts.maskClass === undefined ? s.mask.some((v) => v !== 0) : s.mask.includes(opts.maskClass);
    return ok ? [i] : [];
  });
  if (opts.count > 0 && donors.length === 0) {
    throw new Error(`${o}: no donor sample with ${opts.label !== undefined ? `label ${opts.label} and ` : ''}mask class ${opts.maskClass ?? '> 0'}`);
  }
  if (opts.count > 0 && samples.length === 0) throw new Error(`${o}: no recipients`);
  const rng = createRng(opts.seed ?? 42);
  const out: CopyPasteSample[] = [];
  for (let t = 0; t < opts.count; t++) {
    const d = donors[rng.int(donors.length)];
    const r = rng.int(samples.length);
    const res = copyPaste(samples[d], samples[r], {
      ...opts,
      classes: opts.maskClass !== undefined ? [opts.maskClass] : opts.classes,
      seed: rng.nextUint32(),
    });
    const rec = samples[r];
    out.push({
      id: `${rec.id}+cp${t}`,
      label: opts.label ?? samples[d].label,
      meta: { ...rec.meta, synthetic: 'copy-paste' },
      image: res.image,
      mask: res.mask,
      shape: res.shape,
      provenance: { donor: d, recipient: r, params: res.params },
    });
  }
  return out;
}
