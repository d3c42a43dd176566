import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { overlayRgb, limitRaster, rasterZ, maskOverlayFigure, maskOverlayFigurePng, imageFigure } from '../../src/viz/overlay';

test('overlayRgb: grey replicated, GT fill alpha-blended, prediction boundary painted', () => {
  // 3x3 grey image at 0.5 (-> 127.5), mask class 1 at the centre, prediction = all ones.
  const image = new Float32Array(9).fill(0.5);
  const mask = new Uint8Array(9);
  mask[4] = 1;
  const prediction = new Uint8Array(9).fill(1);
  const r = overlayRgb({ image, shape: [3, 3, 1], mask, prediction }, { alpha: 0.5, colors: [[230, 25, 75]], contourColor: [255, 255, 0] });
  assert.is(r.width, 3);
  assert.is(r.height, 3);
  // Centre: not a boundary of the prediction (all 4 neighbours equal), so it keeps the fill:
  // round(.5*127.5 + .5*230) = 179, round(.5*127.5 + .5*25) = 76, round(.5*127.5 + .5*75) = 101.
  assert.equal([...r.data.slice(12, 15)], [179, 76, 101]);
  // Every other pixel lies on the image edge -> contour colour.
  for (const p of [0, 1, 2, 3, 5, 6, 7, 8]) assert.equal([...r.data.slice(3 * p, 3 * p + 3)], [255, 255, 0], `pixel ${p}`);
});

test('overlayRgb: RGB image without masks is the clamped 8-bit image; class ids cycle through colours', () => {
  const image = new Float32Array([0, 0.2, 1.5, -1, 1, 0.5]);
  const r = overlayRgb({ image, shape: [1, 2, 3] });
  assert.equal([...r.data], [0, 51, 255, 0, 255, 128]);
  const two = overlayRgb({ image: new Float32Array(2), shape: [1, 2, 1], mask: new Uint8Array([2, 3]) }, { alpha: 1, colors: [[1, 2, 3], [4, 5, 6]] });
  // class 2 -> colors[1]; class 3 -> colors[(3 - 1) % 2] = colors[0].
  assert.equal([...two.data], [4, 5, 6, 1, 2, 3]);
});

test('overlayRgb: shape checks name the field', () => {
  assert.throws(() => overlayRgb({ image: new Float32Array(5), shape: [2, 2, 1] }), /image has 5 values/);
  assert.throws(() => overlayRgb({ image: new Float32Array(4), shape: [2, 2, 1], mask: new Uint8Array(3) }), /mask has 3 values/);
  assert.throws(() => overlayRgb({ image: new Float32Array(8), shape: [2, 2, 2] }), /\[H, W, 1 \| 3\]/);
});

test('limitRaster / rasterZ: nearest downsample keeps the aspect; z is rows of [r,g,b]', () => {
  // 4 wide x 2 high; pixel value = 10 * x + y in every channel.
  const data = new Uint8Array(4 * 2 * 3);
  for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) for (let k = 0; k < 3; k++) data[(y * 4 + x) * 3 + k] = 10 * x + y;
  const small = limitRaster({ data, width: 4, height: 2 }, 2);
  assert.is(small.width, 2);
  assert.is(small.height, 1);
  // Sample centres: x' = 0 -> x = floor(0.5 * 4 / 2) = 1; x' = 1 -> 3; y = floor(0.5 * 2 / 1) = 1.
  assert.equal(rasterZ(small), [[[11, 11, 11], [31, 31, 31]]]);
  assert.is(limitRaster({ data, width: 4, height: 2 }, 10).width, 4);
});

test('maskOverlayFigure: one image trace per panel on its own axes, titles as annotations', () => {
  const panel = { image: new Float32Array(6 * 4 * 3).fill(0.25), shape: [4, 6, 3] as [number, number, number], mask: new Uint8Array(24), title: 'GT' };
  const f = maskOverlayFigure([panel, { ...panel, prediction: new Uint8Array(24), title: 'pred' }], { panelWidth: 300, title: 'case 1' });
  assert.is(f.data.length, 2);
  assert.equal([f.data[0].type, f.data[0].xaxis, f.data[0].yaxis], ['image', 'x', 'y']);
  assert.equal([f.data[1].xaxis, f.data[1].yaxis], ['x2', 'y2']);
  const z = f.data[0].z as number[][][];
  assert.is(z.length, 4);
  assert.is(z[0].length, 6);
  assert.equal(z[0][0], [64, 64, 64]);
  const y2 = f.layout.yaxis2 as Record<string, unknown>;
  assert.is(y2.scaleanchor, 'x2');
  assert.is(y2.autorange, 'reversed');
  assert.equal((f.layout.annotations as { text: string }[]).map((a) => a.text), ['GT', 'pred']);
  assert.is(f.layout.width, 620);
  assert.is(f.layout.height, 300 * (4 / 6) + 70);
});

test('maskOverlayFigurePng: PNG data URL source instead of z', async () => {
  const f = await maskOverlayFigurePng({ image: new Float32Array(4 * 4), shape: [4, 4, 1], mask: new Uint8Array(16).fill(1) });
  const src = f.data[0].source as string;
  assert.ok(src.startsWith('data:image/png;base64,'));
  const png = Buffer.from(src.slice('data:image/png;base64,'.length), 'base64');
  assert.equal([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  assert.is(f.data[0].z, undefined);
});

test('imageFigure: validates the raster and embeds it as z', () => {
  const f = imageFigure({ data: new Uint8Array([1, 2, 3, 4, 5, 6]), width: 2, height: 1 }, { title: 'grid' });
  assert.equal(f.data[0].z, [[[1, 2, 3], [4, 5, 6]]]);
  assert.equal(f.layout.title, { text: 'grid' });
  assert.throws(() => imageFigure({ data: new Uint8Array(5), width: 2, height: 1 }), /5 bytes for a 2x1/);
});

test.run();
