/**
 * Image and mask decoding (sharp / libvips) to medfl's plain arrays, and PNG
 * encoders for notebook previews.
 *
 * - Images: `Float32Array` row-major `[H, W, C]` in [0, 1], C = 3 (sRGB) or 1
 *   (libvips `b-w` luminance). Alpha is dropped. EXIF orientation is NOT
 *   applied (image and mask files must stay pixel-aligned even when only one
 *   of them carries an orientation tag).
 * - Masks: `Uint8Array` row-major `[H, W]` of class ids. Palette PNGs are
 *   decoded through their palette (never by raw index: HAM10000's Tschandl
 *   masks map index 0 to white = lesion), then converted to grey, then
 *   thresholded (lossy JPEG masks such as Kvasir-SEG), then resized with
 *   nearest neighbour ({@link resizeNearest}) so only real class ids appear.
 */
import { promises as fsp } from 'fs';
import sharp from 'sharp';
import { DataError, errorMessage } from './errors';
import { resizeNearest } from './resize';

/** A file path or an in-memory encoded image (JPEG, PNG, TIFF, WebP, ...). */
export type ImageSource = string | Buffer | Uint8Array;

/** sharp's resize kernels. `linear` with libvips' reducers is area-aware when shrinking. */
export type ResizeKernel = 'nearest' | 'linear' | 'cubic' | 'mitchell' | 'lanczos2' | 'lanczos3';

/** How strict sharp/libvips is about damaged files (sharp's `failOn`). */
export type FailOn = 'none' | 'truncated' | 'error' | 'warning';

/** Options of {@link decodeImage}. */
export interface DecodeImageOptions {
  /** Output `[H, W]`; the image is stretched to it (no crop, no letterbox). Default: original size. */
  size?: readonly [number, number];
  /** 3 = sRGB, 1 = grey (luminance). Default 3. */
  channels?: 1 | 3;
  /**
   * Resize kernel. Default `'linear'`: libvips reduces with a kernel widened by
   * the shrink factor, i.e. area-like anti-aliasing when downsampling.
   */
  kernel?: ResizeKernel;
  /**
   * Strictness (sharp `failOn`). Default `'error'`: libtiff/libjpeg warnings
   * pass (CVC-ClinicDB's TIFFs declare a wrong photometric tag and only warn),
   * truncated or corrupt files are rejected.
   */
  failOn?: FailOn;
}

/** A decoded image. */
export interface DecodedImage {
  /** Row-major `[H, W, C]`, float32 in [0, 1]. */
  data: Float32Array;
  shape: [number, number, number];
  /** `[H, W]` of the file before resizing. */
  originalSize: [number, number];
}

/** Options of {@link decodeMask}. */
export interface DecodeMaskOptions {
  /** Output `[H, W]` (nearest-neighbour, always). Default: original size. */
  size?: readonly [number, number];
  /**
   * Binarisation threshold on the grey value (0..255): `v > threshold` -> 1,
   * else 0. Default 127 (robust to JPEG noise around 0/255).
   * `null` keeps the grey values as class ids (multi-class PNG label maps).
   */
  threshold?: number | null;
  /**
   * With `threshold: null`: map grey values to class ids (unlisted values -> 0
   * for a record). Applied before resizing.
   */
  valueMap?: Readonly<Record<number, number>> | ((value: number) => number);
  /** See {@link DecodeImageOptions.failOn}. Default `'error'`. */
  failOn?: FailOn;
}

/** A decoded mask. */
export interface DecodedMask {
  /** Row-major `[H, W]` class ids. */
  data: Uint8Array;
  shape: [number, number];
  /** `[H, W]` of the file before resizing. */
  originalSize: [number, number];
}

function describe(src: ImageSource): string {
  return typeof src === 'string' ? src : `<buffer of ${src.length} bytes>`;
}

function checkSize(size: readonly [number, number] | undefined, file: string): void {
  if (size === undefined) return;
  if (size.length !== 2 || !size.every((v) => Number.isInteger(v) && v > 0)) {
    throw new DataError({
      file,
      kind: 'invalid-option',
      expected: 'size = [height, width] of positive integers',
      problem: `got size ${JSON.stringify(size)}`,
    });
  }
}

function unreadable(src: ImageSource, err: unknown): DataError {
  return new DataError({
    file: describe(src),
    kind: 'unreadable',
    expected: 'a readable, undamaged image file (JPEG, PNG, TIFF, WebP, ...)',
    problem: `cannot decode: ${errorMessage(err)}`,
    underlying: err,
  });
}

/**
 * True for TIFFs that declare Photometric=BlackIsZero (grey) but store 3+
 * samples per pixel, e.g. CVC-ClinicDB's `Original/*.tif` (the samples are R,G,B).
 */
function isGreyTaggedRgbTiff(meta: sharp.Metadata): boolean {
  return meta.format === 'tiff' && meta.space === 'b-w' && (meta.channels ?? 0) >= 3 && !meta.isPalette;
}

interface RawPixels {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
  /** Largest representable value (255 or 65535). */
  max: number;
}

/**
 * Decode to raw 8-bit pixels with exactly `want` channels (3 sRGB or 1 grey),
 * optionally resized by sharp.
 */
async function decodeRaw(
  src: ImageSource,
  want: 1 | 3,
  failOn: FailOn,
  resize?: { size: readonly [number, number]; kernel: ResizeKernel },
): Promise<{ raw: RawPixels; originalSize: [number, number] }> {
  if (typeof src === 'string') {
    try {
      await fsp.access(src);
    } catch {
      throw new DataError({ file: src, kind: 'missing-file', expected: 'an existing image file', problem: 'file not found' });
    }
  }
  const input = typeof src === 'string' ? src : Buffer.from(src.buffer, src.byteOffset, src.byteLength);
  try {
    const meta = await sharp(input, { failOn }).metadata();
    if (!meta.width || !meta.height) throw new Error('image has no width/height');
    const originalSize: [number, number] = [meta.height, meta.width];
    let pipeline: sharp.Sharp;
    if (isGreyTaggedRgbTiff(meta)) {
      // libvips treats band 0 as grey and the rest as extra bands; it outputs
      // [g, g, g, extra...] in sRGB. Rebuild the true RGB image from bands 0, 3, 4.
      const { data, info } = await sharp(input, { failOn }).raw().toBuffer({ resolveWithObject: true });
      const nIn = meta.channels as number;
      if (info.channels !== nIn + 2) {
        throw new Error(`grey-tagged ${nIn}-sample TIFF decoded to ${info.channels} bands; cannot recover RGB`);
      }
      const n = info.width * info.height;
      const rgb = Buffer.alloc(n * 3);
      for (let p = 0; p < n; p++) {
        rgb[3 * p] = data[p * info.channels];
        rgb[3 * p + 1] = data[p * info.channels + 3];
        rgb[3 * p + 2] = data[p * info.channels + 4];
      }
      pipeline = sharp(rgb, { raw: { width: info.width, height: info.height, channels: 3 } });
    } else {
      pipeline = sharp(input, { failOn });
    }
    pipeline = pipeline.removeAlpha().toColourspace(want === 3 ? 'srgb' : 'b-w');
    if (resize) {
      pipeline = pipeline.resize({ width: resize.size[1], height: resize.size[0], fit: 'fill', kernel: resize.kernel });
    }
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    // 16-bit inputs (grey16/rgb16 PNG, TIFF) come back as 2 bytes per sample.
    const max = data.length === info.width * info.height * info.channels * 2 ? 65535 : 255;
    let raw: RawPixels = { data, width: info.width, height: info.height, channels: info.channels, max };
    if (raw.channels !== want) raw = selectChannels(raw, want);
    return { raw, originalSize };
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw unreadable(src, err);
  }
}

/** Keep the first `want` channels (or the first, replicated) of a raw buffer. */
function selectChannels(raw: RawPixels, want: 1 | 3): RawPixels {
  const n = raw.width * raw.height;
  const bytesPer = raw.max > 255 ? 2 : 1;
  const out = Buffer.alloc(n * want * bytesPer);
  for (let p = 0; p < n; p++) {
    for (let k = 0; k < want; k++) {
      const from = Math.min(k, raw.channels - 1);
      if (bytesPer === 1) out[p * want + k] = raw.data[p * raw.channels + from];
      else out.writeUInt16LE(raw.data.readUInt16LE(2 * (p * raw.channels + from)), 2 * (p * want + k));
    }
  }
  return { ...raw, data: out, channels: want };
}

function rawValue(raw: RawPixels, i: number): number {
  return raw.max > 255 ? raw.data.readUInt16LE(2 * i) : raw.data[i];
}

/** Width and height `[H, W]` from the file header, without decoding pixels. */
export async function imageSize(src: ImageSource, failOn: FailOn = 'error'): Promise<[number, number]> {
  try {
    const input = typeof src === 'string' ? src : Buffer.from(src.buffer, src.byteOffset, src.byteLength);
    const meta = await sharp(input, { failOn }).metadata();
    if (!meta.width || !meta.height) throw new Error('image has no width/height');
    return [meta.height, meta.width];
  } catch (err) {
    throw unreadable(src, err);
  }
}

/** Samples per pixel from the file header (alpha included; 3 for CVC-ClinicDB's grey-tagged RGB TIFFs), without decoding pixels. */
export async function imageChannels(src: ImageSource, failOn: FailOn = 'error'): Promise<number> {
  try {
    const input = typeof src === 'string' ? src : Buffer.from(src.buffer, src.byteOffset, src.byteLength);
    const meta = await sharp(input, { failOn }).metadata();
    if (!meta.channels) throw new Error('image has no channel count');
    return meta.channels;
  } catch (err) {
    throw unreadable(src, err);
  }
}

/**
 * Decode an image to float32 `[H, W, C]` in [0, 1].
 * Defaults: original size, 3 channels, `'linear'` kernel, `failOn: 'error'`.
 * Throws {@link DataError} (`missing-file` / `unreadable`) naming the file.
 */
export async function decodeImage(src: ImageSource, options: DecodeImageOptions = {}): Promise<DecodedImage> {
  const channels = options.channels ?? 3;
  checkSize(options.size, describe(src));
  const { raw, originalSize } = await decodeRaw(
    src,
    channels,
    options.failOn ?? 'error',
    options.size ? { size: options.size, kernel: options.kernel ?? 'linear' } : undefined,
  );
  const n = raw.width * raw.height * channels;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rawValue(raw, i) / raw.max;
  return { data, shape: [raw.height, raw.width, channels], originalSize };
}

/**
 * Decode a mask to a `Uint8Array` `[H, W]` of class ids: palette -> grey ->
 * threshold (default `> 127` -> 1) or value map -> nearest-neighbour resize.
 * Throws {@link DataError} naming the file.
 */
export async function decodeMask(src: ImageSource, options: DecodeMaskOptions = {}): Promise<DecodedMask> {
  checkSize(options.size, describe(src));
  const threshold = options.threshold === undefined ? 127 : options.threshold;
  const { raw, originalSize } = await decodeRaw(src, 1, options.failOn ?? 'error');
  const n = raw.width * raw.height;
  let ids = new Uint8Array(n);
  const scale = raw.max > 255 ? 255 / raw.max : 1;
  if (threshold !== null) {
    for (let i = 0; i < n; i++) ids[i] = rawValue(raw, i) * scale > threshold ? 1 : 0;
  } else {
    const vm = options.valueMap;
    const map = vm === undefined ? undefined : typeof vm === 'function' ? vm : (v: number) => vm[v] ?? 0;
    for (let i = 0; i < n; i++) {
      const v = raw.max > 255 ? rawValue(raw, i) : raw.data[i];
      const id = map ? map(v) : v;
      if (!Number.isInteger(id) || id < 0 || id > 255) {
        throw new DataError({
          file: describe(src),
          kind: 'invalid-option',
          expected: 'class ids that are integers in [0, 255] (use valueMap)',
          problem: `pixel value ${v} maps to ${id}`,
        });
      }
      ids[i] = id;
    }
  }
  let shape: [number, number] = [raw.height, raw.width];
  if (options.size && (options.size[0] !== raw.height || options.size[1] !== raw.width)) {
    ids = resizeNearest(ids, shape, options.size);
    shape = [options.size[0], options.size[1]];
  }
  return { data: ids, shape, originalSize };
}

// ---------------------------------------------------------------------------
// Encoders (notebook previews)
// ---------------------------------------------------------------------------

/** Default overlay colours (RGB 0..255) for mask classes 1, 2, ... (class 0 is not drawn). */
export const MASK_COLORS: readonly (readonly [number, number, number])[] = [
  [230, 25, 75],
  [60, 180, 75],
  [255, 225, 25],
  [0, 130, 200],
  [245, 130, 48],
  [145, 30, 180],
  [70, 240, 240],
  [240, 50, 230],
  [210, 245, 60],
  [250, 190, 212],
];

function maskColor(id: number, colors: readonly (readonly [number, number, number])[]): readonly [number, number, number] {
  return colors[(id - 1) % colors.length];
}

function toRgbBytes(image: Float32Array, shape: readonly [number, number, number]): Buffer {
  const [h, w, c] = shape;
  if (image.length !== h * w * c) throw new RangeError(`image length ${image.length} does not match shape [${h}, ${w}, ${c}]`);
  if (c !== 1 && c !== 3) throw new RangeError(`image must have 1 or 3 channels, got ${c}`);
  const out = Buffer.alloc(h * w * 3);
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < 3; k++) {
      const v = image[p * c + (c === 1 ? 0 : k)];
      out[3 * p + k] = Math.round(Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * 255);
    }
  }
  return out;
}

/** Encode a float image `[H, W, C]` (C = 1 or 3, values clamped to [0, 1]) as an RGB PNG. */
export async function encodeImagePng(image: Float32Array, shape: readonly [number, number, number]): Promise<Buffer> {
  const [h, w] = shape;
  return sharp(toRgbBytes(image, shape), { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

/** Encode a class map `[H, W]` as an RGB PNG: background black, class k in `colors[k - 1]`. */
export async function encodeMaskPng(
  mask: Uint8Array,
  size: readonly [number, number],
  colors: readonly (readonly [number, number, number])[] = MASK_COLORS,
): Promise<Buffer> {
  const [h, w] = size;
  if (mask.length !== h * w) throw new RangeError(`mask length ${mask.length} does not match [${h}, ${w}]`);
  const out = Buffer.alloc(h * w * 3);
  for (let p = 0; p < h * w; p++) {
    if (mask[p] === 0) continue;
    const col = maskColor(mask[p], colors);
    out[3 * p] = col[0];
    out[3 * p + 1] = col[1];
    out[3 * p + 2] = col[2];
  }
  return sharp(out, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

/** Options of {@link encodeOverlayPng}. */
export interface OverlayOptions {
  /** Opacity of the class colour over the image. Default 0.45. */
  alpha?: number;
  /** Class colours (class k uses `colors[k - 1]`). Default {@link MASK_COLORS}. */
  colors?: readonly (readonly [number, number, number])[];
}

/** Encode an image `[H, W, C]` with its mask `[H, W]` alpha-blended on top, as an RGB PNG. */
export async function encodeOverlayPng(
  image: Float32Array,
  shape: readonly [number, number, number],
  mask: Uint8Array,
  options: OverlayOptions = {},
): Promise<Buffer> {
  const [h, w] = shape;
  if (mask.length !== h * w) throw new RangeError(`mask length ${mask.length} does not match image [${h}, ${w}]`);
  const alpha = options.alpha ?? 0.45;
  const colors = options.colors ?? MASK_COLORS;
  const rgb = toRgbBytes(image, shape);
  for (let p = 0; p < h * w; p++) {
    if (mask[p] === 0) continue;
    const col = maskColor(mask[p], colors);
    for (let k = 0; k < 3; k++) rgb[3 * p + k] = Math.round((1 - alpha) * rgb[3 * p + k] + alpha * col[k]);
  }
  return sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

/** Write an encoded PNG (from the encoders above) to `file`. */
export async function writePng(file: string, png: Buffer): Promise<void> {
  await fsp.writeFile(file, png);
}
