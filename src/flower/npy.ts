/**
 * NumPy `.npy` (format 1.0) for float32 arrays: the payload of a Flower
 * `Array` whose `stype` is `numpy.ndarray` (Python's `Array(ndarray)` stores
 * `np.save(..., allow_pickle=False)` bytes). The encoder writes exactly the
 * bytes numpy 2.x writes (header keys sorted, the spare space numpy leaves
 * for growing the first axis, padding to a 64-byte boundary), because a
 * Flower object id is the SHA-256 of these bytes.
 */

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** numpy's ARRAY_ALIGN: the header ends on a multiple of this. */
const ALIGN = 64;
/** numpy's GROWTH_AXIS_MAX_DIGITS: spare header room for the growth axis. */
const GROWTH_DIGITS = 21;

/** Python's `repr` of a shape tuple: `()`, `(5,)`, `(3, 4)`. */
function shapeRepr(shape: readonly number[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/** The `.npy` bytes of a C-order little-endian float32 array of `shape`. */
export function encodeNpy(values: Float32Array, shape: readonly number[]): Uint8Array {
  const size = shape.reduce((a, b) => a * b, 1);
  if (values.length !== size) throw new Error(`encodeNpy: shape [${shape.join(', ')}] holds ${size} values, got ${values.length}`);
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeRepr(shape)}, }`;
  if (shape.length > 0) header += ' '.repeat(GROWTH_DIGITS - String(shape[0]).length);
  const pre = MAGIC.length + 2 + 2;
  const pad = ALIGN - ((pre + header.length + 1) % ALIGN);
  header += `${' '.repeat(pad)}\n`; // numpy pads a full 64 bytes when already aligned
  const out = new Uint8Array(pre + header.length + values.length * 4);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  const body = new DataView(out.buffer, pre + header.length);
  for (let i = 0; i < values.length; i++) body.setFloat32(i * 4, values[i], true);
  return out;
}

/** A decoded float32 `.npy`. */
export interface NpyArray {
  shape: number[];
  values: Float32Array;
}

/**
 * Decode `.npy` bytes holding a float32 or float64 array (formats 1.0-3.0,
 * C order, either byte order) as float32 values: float64 (what Flower's
 * FedAdam / FedYogi / FedAdagrad server update produces) is rounded to the
 * nearest float32. Throws, naming `what`, for any other dtype, Fortran order
 * or a truncated payload.
 */
export function decodeNpy(bytes: Uint8Array, what = 'array'): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new Error(`${what}: not a .npy payload (no \\x93NUMPY magic)`);
  const major = bytes[6];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    headerLen = dv.getUint32(8, true);
    start = 12;
  } else throw new Error(`${what}: unsupported .npy format version ${major}.${bytes[7]}`);
  const header = Buffer.from(bytes.subarray(start, start + headerLen)).toString('latin1');
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new Error(`${what}: malformed .npy header ${JSON.stringify(header.trim())}`);
  const width = descr === '<f4' || descr === '>f4' ? 4 : descr === '<f8' || descr === '>f8' ? 8 : 0;
  if (!width) throw new Error(`${what}: dtype '${descr}' is not float32 ('<f4') or float64 ('<f8'); medfl nodes exchange float weights`);
  if (fortran === 'True') throw new Error(`${what}: Fortran-order arrays are not supported`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`${what}: bad shape (${shapeText})`);
  const size = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  if (bytes.length - offset !== size * width) throw new Error(`${what}: shape [${shape.join(', ')}] needs ${size * width} data bytes, the payload has ${bytes.length - offset}`);
  const values = new Float32Array(size);
  const little = descr[0] === '<';
  if (width === 4) for (let i = 0; i < size; i++) values[i] = dv.getFloat32(offset + i * 4, little);
  else for (let i = 0; i < size; i++) values[i] = dv.getFloat64(offset + i * 8, little);
  return { shape, values };
}
