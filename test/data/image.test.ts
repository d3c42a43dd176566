import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeImage, decodeMask, encodeImagePng, encodeMaskPng, encodeOverlayPng, imageSize, MASK_COLORS } from '../../src/data/image';
import { rejectsDataError, rmTemp, shared, tempDir } from './helpers';

function rawPng(data: number[], width: number, height: number, channels: 1 | 3): Promise<Buffer> {
  return sharp(Buffer.from(data), { raw: { width, height, channels } }).png().toBuffer();
}

// --- a hand-made 8-bit palette PNG (colour type 3), to test palette-aware mask decoding ---
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** Palette PNG with HAM10000's encoding: index 0 -> white (lesion), index 255 -> black. */
function hamStylePalettePng(indices: number[][]): Buffer {
  const h = indices.length;
  const w = indices[0].length;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 3; // palette
  const plte = Buffer.alloc(256 * 3); // every entry black ...
  plte[0] = plte[1] = plte[2] = 255; // ... except index 0 = white
  const rows = indices.map((r) => Buffer.from([0, ...r]));
  const idat = zlib.deflateSync(Buffer.concat(rows));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('PLTE', plte),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('decodeImage: RGB PNG values / 255 in [H, W, 3] row-major order', async () => {
  const png = await rawPng([255, 0, 0, 0, 51, 102, 10, 20, 30, 255, 255, 255], 2, 2, 3);
  const img = await decodeImage(png);
  assert.equal(img.shape, [2, 2, 3]);
  assert.equal(img.originalSize, [2, 2]);
  const expected = [255, 0, 0, 0, 51, 102, 10, 20, 30, 255, 255, 255].map((v) => v / 255);
  for (let i = 0; i < 12; i++) assert.ok(Math.abs(img.data[i] - expected[i]) < 1e-6, `pixel value ${i}`);
});

test('decodeImage: grey PNG -> 1 channel as is, 3 channels replicated; resize gives the requested shape', async () => {
  const png = await rawPng([0, 64, 128, 255, 32, 16], 3, 2, 1);
  const g = await decodeImage(png, { channels: 1 });
  assert.equal(g.shape, [2, 3, 1]);
  assert.equal(Array.from(g.data).map((v) => Math.round(v * 255)), [0, 64, 128, 255, 32, 16]);
  const rgb = await decodeImage(png, { channels: 3 });
  assert.equal(rgb.shape, [2, 3, 3]);
  assert.equal(Math.round(rgb.data[3 * 2 + 1] * 255), 128);
  const big = await decodeImage(png, { size: [5, 7], channels: 1 });
  assert.equal(big.shape, [5, 7, 1]);
  assert.equal(big.originalSize, [2, 3]);
  assert.ok(big.data.every((v) => v >= 0 && v <= 1));
});

test('decodeMask: threshold 127 binarises, null keeps values, valueMap remaps', async () => {
  const png = await rawPng([0, 100, 127, 128, 200, 255], 3, 2, 1);
  assert.equal(Array.from((await decodeMask(png)).data), [0, 0, 0, 1, 1, 1]);
  assert.equal(Array.from((await decodeMask(png, { threshold: 150 })).data), [0, 0, 0, 0, 1, 1]);
  assert.equal(Array.from((await decodeMask(png, { threshold: null })).data), [0, 100, 127, 128, 200, 255]);
  const mapped = await decodeMask(png, { threshold: null, valueMap: { 255: 2, 128: 1 } });
  assert.equal(Array.from(mapped.data), [0, 0, 0, 1, 0, 2]);
});

test('decodeMask: nearest resize only produces class ids of the source', async () => {
  const png = await rawPng([0, 255, 255, 0], 2, 2, 1);
  const m = await decodeMask(png, { size: [4, 4] });
  assert.equal(m.shape, [4, 4]);
  assert.equal(Array.from(m.data), [0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0]);
});

test('decodeMask: palette PNG decoded through the palette (index 0 = white -> 1), not by raw index', async () => {
  const png = hamStylePalettePng([
    [0, 255, 255],
    [255, 0, 0],
  ]);
  const meta = await sharp(png).metadata();
  assert.is(meta.isPalette, true, 'fixture is a palette PNG');
  const m = await decodeMask(png);
  assert.equal(Array.from(m.data), [1, 0, 0, 0, 1, 1]);
});

test('CVC-ClinicDB grey-tagged RGB TIFF decodes to the same pixels as its lossless PNG copy', async () => {
  const tif = shared('cvc-clinicdb', 'CVC-ClinicDB', 'Original', '26.tif');
  const png = shared('cvc-clinicdb', 'CVC-ClinicDB', 'png', 'Original', '26.png');
  const a = await decodeImage(tif);
  const b = await decodeImage(png);
  assert.equal(a.shape, [288, 384, 3]);
  assert.equal(a.shape, b.shape);
  let maxDiff = 0;
  for (let i = 0; i < a.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.data[i] - b.data[i]));
  assert.is(maxDiff, 0);
  // not a grey image: the channels differ somewhere
  let coloured = false;
  for (let p = 0; p < a.data.length; p += 3) if (a.data[p] !== a.data[p + 1]) coloured = true;
  assert.ok(coloured);
});

test('imageSize reads [H, W] from the header', async () => {
  assert.equal(await imageSize(shared('cvc-clinicdb', 'CVC-ClinicDB', 'Ground Truth', '1.tif')), [288, 384]);
});

test('missing, corrupt and truncated files are DataErrors naming the file', async () => {
  const dir = tempDir();
  try {
    const missing = path.join(dir, 'nope.png');
    await rejectsDataError(() => decodeImage(missing), 'missing-file', [missing]);
    const corrupt = path.join(dir, 'corrupt.png');
    fs.writeFileSync(corrupt, Buffer.from('this is not a PNG at all, just text'));
    await rejectsDataError(() => decodeImage(corrupt), 'unreadable', [corrupt]);
    await rejectsDataError(() => decodeMask(corrupt), 'unreadable', [corrupt]);
    const jpg = fs.readFileSync(shared('kvasir-seg', 'Kvasir-SEG', 'images', 'cju0qkwl35piu0993l0dewei2.jpg'));
    const truncated = path.join(dir, 'truncated.jpg');
    fs.writeFileSync(truncated, jpg.subarray(0, jpg.length >> 1));
    await rejectsDataError(() => decodeImage(truncated, { size: [32, 32] }), 'unreadable', [truncated]);
    await rejectsDataError(() => decodeImage(corrupt, { size: [0, 3] }), 'invalid-option', ['size']);
  } finally {
    rmTemp(dir);
  }
});

test('encodeImagePng round-trips within rounding; grey images become RGB', async () => {
  const img = Float32Array.from([0, 0.5, 1, 0.2, 0.4, 0.6]); // [1, 2, 3]
  const back = await decodeImage(await encodeImagePng(img, [1, 2, 3]));
  assert.equal(back.shape, [1, 2, 3]);
  for (let i = 0; i < 6; i++) assert.ok(Math.abs(back.data[i] - Math.round(img[i] * 255) / 255) < 1e-6);
  const grey = await decodeImage(await encodeImagePng(Float32Array.from([0.25, 2]), [1, 2, 1]));
  assert.equal(grey.shape, [1, 2, 3]);
  assert.equal(Array.from(grey.data).map((v) => Math.round(v * 255)), [64, 64, 64, 255, 255, 255]); // 2 clamps to 1
});

test('encodeOverlayPng blends the class colour with alpha; class 0 untouched', async () => {
  const img = new Float32Array([128 / 255, 128 / 255]); // [1, 2, 1]
  const png = await encodeOverlayPng(img, [1, 2, 1], Uint8Array.from([0, 1]), { alpha: 0.5 });
  const { data } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const [r, g, b] = MASK_COLORS[0]; // 230, 25, 75
  assert.equal(Array.from(data), [128, 128, 128, Math.round(64 + r / 2), Math.round(64 + g / 2), Math.round(64 + b / 2)]);
  assert.equal(Array.from(data.subarray(3)), [179, 77, 102]);
  const maskPng = await encodeMaskPng(Uint8Array.from([0, 2]), [1, 2]);
  const m = await sharp(maskPng).raw().toBuffer();
  assert.equal(Array.from(m), [0, 0, 0, ...MASK_COLORS[1]]);
});

test.run();
