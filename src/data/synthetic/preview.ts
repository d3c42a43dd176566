/**
 * Contact sheets of samples for visual checks: {@link previewGrid} builds the
 * RGB pixels (pure), {@link writePreviewPng} writes them as a PNG with sharp
 * (loaded only when called, so importing this module costs nothing).
 */
import type { Sample } from '../types';

/** Options of {@link previewGrid}. */
export interface PreviewGridOptions {
  /** Tiles per row (default 8, or fewer when there are fewer samples). */
  columns?: number;
  /** Draw the mask boundary in green over each image (default true). */
  outline?: boolean;
  /** Black gap between tiles in pixels (default 2). */
  gap?: number;
  /** Integer upscaling factor, nearest neighbour (default 1). */
  scale?: number;
}

/** An 8-bit RGB raster, row-major `[height, width, 3]`. */
export interface PreviewImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3;
}

/**
 * Tile samples row by row into one RGB image (1-channel images are shown
 * grey). Tiles are as large as the largest sample; smaller ones sit top-left.
 */
export function previewGrid(samples: readonly Sample[], options: PreviewGridOptions = {}): PreviewImage {
  if (samples.length === 0) throw new Error('previewGrid: no samples to show');
  const columns = Math.max(1, Math.min(options.columns ?? 8, samples.length));
  const outline = options.outline ?? true;
  const gap = options.gap ?? 2;
  const scale = options.scale ?? 1;
  if (!Number.isInteger(columns) || !Number.isInteger(gap) || gap < 0 || !Number.isInteger(scale) || scale < 1) {
    throw new Error(`previewGrid: columns, gap and scale must be integers (columns >= 1, gap >= 0, scale >= 1), got ${columns}, ${gap}, ${scale}`);
  }
  const tileH = Math.max(...samples.map((s) => s.shape[0])) * scale;
  const tileW = Math.max(...samples.map((s) => s.shape[1])) * scale;
  const rows = Math.ceil(samples.length / columns);
  const width = columns * tileW + (columns + 1) * gap;
  const height = rows * tileH + (rows + 1) * gap;
  const data = new Uint8Array(width * height * 3);
  samples.forEach((s, n) => {
    const [h, w, c] = s.shape;
    const ox = gap + (n % columns) * (tileW + gap);
    const oy = gap + Math.floor(n / columns) * (tileH + gap);
    for (let y = 0; y < h * scale; y++) {
      const sy = Math.floor(y / scale);
      for (let x = 0; x < w * scale; x++) {
        const sx = Math.floor(x / scale);
        const j = sy * w + sx;
        const o = ((oy + y) * width + ox + x) * 3;
        let edge = false;
        if (outline && s.mask && s.mask[j] !== 0) {
          edge =
            sx === 0 || sy === 0 || sx === w - 1 || sy === h - 1 ||
            s.mask[j - 1] === 0 || s.mask[j + 1] === 0 || s.mask[j - w] === 0 || s.mask[j + w] === 0;
        }
        if (edge) {
          data[o] = 0;
          data[o + 1] = 255;
          data[o + 2] = 0;
          continue;
        }
        for (let ch = 0; ch < 3; ch++) {
          const v = s.image[j * c + (c === 1 ? 0 : ch)];
          data[o + ch] = Math.round(Math.max(0, Math.min(1, v)) * 255);
        }
      }
    }
  });
  return { data, width, height, channels: 3 };
}

/** Write {@link previewGrid} of `samples` to `file` as PNG (uses sharp). */
export async function writePreviewPng(
  samples: readonly Sample[],
  file: string,
  options: PreviewGridOptions = {},
): Promise<{ width: number; height: number }> {
  const grid = previewGrid(samples, options);
  const sharp = (await import('sharp')).default;
  await sharp(Buffer.from(grid.data.buffer, grid.data.byteOffset, grid.data.byteLength), {
    raw: { width: grid.width, height: grid.height, channels: 3 },
  })
    .png()
    .toFile(file);
  return { width: grid.width, height: grid.height };
}
