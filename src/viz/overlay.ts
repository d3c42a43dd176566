/**
 * Image figures: an RGB raster ({@link imageFigure}, e.g. `previewGrid`
 * output) and image + mask overlays ({@link maskOverlayFigure}): the ground
 * truth as a semi-transparent fill, the prediction as a one-pixel contour.
 * Pixels go into a plotly `image` trace either as raw RGB `z` (sync, pure) or
 * as a PNG data URL `source` ({@link maskOverlayFigurePng}, smaller JSON, uses sharp).
 */
import { MASK_COLORS } from '../data/image';
import { compact, titleObject, type PlotlyFigure, type PlotlyLayout, type PlotlyTrace } from './types';

/** An 8-bit RGB raster, row-major `[height, width, 3]` (same shape as `previewGrid`'s PreviewImage). */
export interface RgbRaster {
  data: Uint8Array;
  width: number;
  height: number;
}

/** One panel of an overlay figure. */
export interface OverlayPanel {
  /** Image, row-major `[H, W, C]` float in [0, 1], C = 1 or 3 (a `Sample.image`). */
  image: Float32Array;
  /** `[H, W, C]` of `image`. */
  shape: readonly [number, number, number];
  /** Ground-truth class map `[H, W]` (0 = background), drawn as a translucent fill. */
  mask?: Uint8Array;
  /** Predicted class map `[H, W]`, drawn as a contour (its boundary pixels). */
  prediction?: Uint8Array;
  /** Panel title. */
  title?: string;
}

/** Options of {@link overlayRgb} / {@link maskOverlayFigure}. */
export interface MaskOverlayOptions {
  /** Opacity of the ground-truth fill. Default 0.4. */
  alpha?: number;
  /** Fill colour of class k is `colors[(k - 1) % colors.length]`. Default `MASK_COLORS` (class 1 red). */
  colors?: readonly (readonly [number, number, number])[];
  /** Colour of the prediction contour (all classes). Default yellow `[255, 255, 0]`. */
  contourColor?: readonly [number, number, number];
  /** Downsample (nearest) so the longer side is at most this (keeps `z` JSON small). Default 256 for `z`, none for PNG. */
  maxSide?: number;
  /** Figure title. */
  title?: string;
  /** Width of one panel in pixels (height follows the aspect ratio). Default 320. */
  panelWidth?: number;
}

function checkPanel(p: OverlayPanel, where: string): void {
  const [h, w, c] = p.shape;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1 || (c !== 1 && c !== 3)) {
    throw new RangeError(`${where}: shape must be [H, W, 1 | 3] with H, W >= 1, got [${p.shape.join(', ')}]`);
  }
  if (p.image.length !== h * w * c) throw new RangeError(`${where}: image has ${p.image.length} values, shape [${h}, ${w}, ${c}] needs ${h * w * c}`);
  for (const [name, m] of [['mask', p.mask], ['prediction', p.prediction]] as const) {
    if (m && m.length !== h * w) throw new RangeError(`${where}: ${name} has ${m.length} values, the image is ${h}x${w} (needs ${h * w})`);
  }
}

/**
 * The panel as RGB bytes: image (grey replicated) -> ground-truth fill
 * `round((1 - alpha)·pixel + alpha·colour)` -> prediction boundary pixels
 * (prediction > 0 with a 4-neighbour of another class, or on the image edge)
 * painted `contourColor`. Pure.
 */
export function overlayRgb(panel: OverlayPanel, options: MaskOverlayOptions = {}): RgbRaster {
  checkPanel(panel, 'overlayRgb');
  const [h, w, c] = panel.shape;
  const alpha = options.alpha ?? 0.4;
  const colors = options.colors ?? MASK_COLORS;
  const contour = options.contourColor ?? [255, 255, 0];
  const out = new Uint8Array(h * w * 3);
  for (let p = 0; p < h * w; p++) {
    const cls = panel.mask ? panel.mask[p] : 0;
    const col = cls > 0 ? colors[(cls - 1) % colors.length] : undefined;
    for (let k = 0; k < 3; k++) {
      const raw = panel.image[p * c + (c === 1 ? 0 : k)];
      const v = Math.min(1, Math.max(0, Number.isFinite(raw) ? raw : 0)) * 255;
      out[3 * p + k] = Math.round(col ? (1 - alpha) * v + alpha * col[k] : v);
    }
  }
  const pred = panel.prediction;
  if (pred) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const p = y * w + x;
        const v = pred[p];
        if (v === 0) continue;
        const edge =
          x === 0 || y === 0 || x === w - 1 || y === h - 1 || pred[p - 1] !== v || pred[p + 1] !== v || pred[p - w] !== v || pred[p + w] !== v;
        if (edge) for (let k = 0; k < 3; k++) out[3 * p + k] = contour[k];
      }
    }
  }
  return { data: out, width: w, height: h };
}

/** Nearest-neighbour downsample of a raster so that max(width, height) <= maxSide (unchanged when already small). */
export function limitRaster(r: RgbRaster, maxSide: number | undefined): RgbRaster {
  if (maxSide === undefined || Math.max(r.width, r.height) <= maxSide) return r;
  const s = maxSide / Math.max(r.width, r.height);
  const W = Math.max(1, Math.round(r.width * s));
  const H = Math.max(1, Math.round(r.height * s));
  const out = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    const sy = Math.min(r.height - 1, Math.floor(((y + 0.5) * r.height) / H));
    for (let x = 0; x < W; x++) {
      const sx = Math.min(r.width - 1, Math.floor(((x + 0.5) * r.width) / W));
      for (let k = 0; k < 3; k++) out[(y * W + x) * 3 + k] = r.data[(sy * r.width + sx) * 3 + k];
    }
  }
  return { data: out, width: W, height: H };
}

/** A raster as plotly image `z`: rows of `[r, g, b]` pixels. */
export function rasterZ(r: RgbRaster): number[][][] {
  const z: number[][][] = [];
  for (let y = 0; y < r.height; y++) {
    const row: number[][] = [];
    for (let x = 0; x < r.width; x++) {
      const o = (y * r.width + x) * 3;
      row.push([r.data[o], r.data[o + 1], r.data[o + 2]]);
    }
    z.push(row);
  }
  return z;
}

type PixelSource = { z: number[][][] } | { source: string };

/** Lay out image traces side by side, one subplot (own axes, aspect kept) per panel. */
function panelsFigure(panels: { px: PixelSource; width: number; height: number; title?: string }[], title: string | undefined, panelWidth: number): PlotlyFigure {
  const n = panels.length;
  const gap = n > 1 ? 0.02 : 0;
  const data: PlotlyTrace[] = [];
  const layout: PlotlyLayout = compact({ title: titleObject(title), margin: { l: 10, r: 10, t: title ? 60 : 40, b: 10 } });
  const annotations: Record<string, unknown>[] = [];
  let maxAspect = 0;
  panels.forEach((p, i) => {
    const ax = i === 0 ? '' : String(i + 1);
    data.push({ type: 'image', ...p.px, xaxis: `x${ax}`, yaxis: `y${ax}`, hoverinfo: 'x+y', name: p.title ?? `panel ${i + 1}` });
    const domain = [i / n + (i > 0 ? gap / 2 : 0), (i + 1) / n - (i < n - 1 ? gap / 2 : 0)];
    layout[`xaxis${ax}`] = { domain, visible: false, constrain: 'domain' };
    layout[`yaxis${ax}`] = { visible: false, autorange: 'reversed', scaleanchor: `x${ax}`, constrain: 'domain', anchor: `x${ax}` };
    if (p.title) {
      annotations.push({ text: p.title, showarrow: false, xref: 'paper', yref: 'paper', x: (domain[0] + domain[1]) / 2, y: 1, xanchor: 'center', yanchor: 'bottom' });
    }
    maxAspect = Math.max(maxAspect, p.height / p.width);
  });
  if (annotations.length) layout.annotations = annotations;
  layout.width = Math.round(panelWidth * n + 20);
  layout.height = Math.round(panelWidth * maxAspect + (title ? 70 : 50));
  return { data, layout };
}

function asPanels(panels: OverlayPanel | readonly OverlayPanel[]): readonly OverlayPanel[] {
  const list = Array.isArray(panels) ? (panels as readonly OverlayPanel[]) : [panels as OverlayPanel];
  if (list.length === 0) throw new RangeError('maskOverlayFigure: no panels');
  return list;
}

/**
 * Image + ground truth (fill) + prediction (contour) panels side by side, as
 * plotly image traces with raw RGB `z` (downsampled to `maxSide`, default 256).
 */
export function maskOverlayFigure(panels: OverlayPanel | readonly OverlayPanel[], options: MaskOverlayOptions = {}): PlotlyFigure {
  const list = asPanels(panels);
  const rasters = list.map((p) => limitRaster(overlayRgb(p, options), options.maxSide ?? 256));
  return panelsFigure(
    rasters.map((r, i) => ({ px: { z: rasterZ(r) }, width: r.width, height: r.height, title: list[i].title })),
    options.title,
    options.panelWidth ?? 320,
  );
}

/** Encode a raster as a `data:image/png;base64,...` URL (sharp). */
export async function rasterDataUrl(r: RgbRaster): Promise<string> {
  const sharp = (await import('sharp')).default;
  const png = await sharp(Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength), { raw: { width: r.width, height: r.height, channels: 3 } })
    .png()
    .toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

/** As {@link maskOverlayFigure}, with each panel as a PNG data URL `source` (full size unless `maxSide`). */
export async function maskOverlayFigurePng(panels: OverlayPanel | readonly OverlayPanel[], options: MaskOverlayOptions = {}): Promise<PlotlyFigure> {
  const list = asPanels(panels);
  const rasters = list.map((p) => limitRaster(overlayRgb(p, options), options.maxSide));
  const urls = await Promise.all(rasters.map(rasterDataUrl));
  return panelsFigure(
    rasters.map((r, i) => ({ px: { source: urls[i] }, width: r.width, height: r.height, title: list[i].title })),
    options.title,
    options.panelWidth ?? 320,
  );
}

/** Options of {@link imageFigure}. */
export interface ImageFigureOptions {
  title?: string;
  /** Displayed width in pixels. Default: the raster's width, at most 900. */
  width?: number;
  /** Downsample (nearest) so the longer side is at most this. Default: none (large rasters make large `z` JSON). */
  maxSide?: number;
}

/** One RGB raster (e.g. `previewGrid(samples)`) as a single-panel image figure (raw `z`, no downsampling unless `maxSide`). */
export function imageFigure(raster: RgbRaster, options: ImageFigureOptions = {}): PlotlyFigure {
  if (raster.data.length !== raster.width * raster.height * 3) {
    throw new RangeError(`imageFigure: ${raster.data.length} bytes for a ${raster.width}x${raster.height} RGB raster (needs ${raster.width * raster.height * 3})`);
  }
  const r = limitRaster(raster, options.maxSide);
  const width = options.width ?? Math.min(900, Math.max(r.width, 200));
  return panelsFigure([{ px: { z: rasterZ(r) }, width: r.width, height: r.height }], options.title, width);
}
