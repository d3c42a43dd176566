/**
 * A model's weights as a directory both sides read: `index.json`
 * (`{ format: 'medfl-weights/1', arrays: [{ name, file, shape }] }`, model
 * order) and one float32 `.npy` per weight (`0000.npy`, ...). `medfl flower
 * weights` writes medfl's initial weights this way for the ServerApp
 * (flower/medfl_flower/server_app.py `load_weights`), and the ServerApp
 * writes its final global weights the same way.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeNpy, encodeNpy } from './npy';

export const WEIGHTS_FORMAT = 'medfl-weights/1';

/** One weight of a weights directory. */
export interface NamedWeight {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** Write `weights` to `dir` (created; existing index and files replaced). */
export function writeWeightsDir(dir: string, weights: readonly NamedWeight[]): void {
  fs.mkdirSync(dir, { recursive: true });
  const arrays = weights.map((w, i) => {
    const file = `${String(i).padStart(4, '0')}.npy`;
    fs.writeFileSync(path.join(dir, file), encodeNpy(w.values, w.shape));
    return { name: w.name, file, shape: w.shape };
  });
  const tmp = path.join(dir, 'index.json.tmp');
  fs.writeFileSync(tmp, `${JSON.stringify({ format: WEIGHTS_FORMAT, arrays }, null, 1)}\n`);
  fs.renameSync(tmp, path.join(dir, 'index.json'));
}

/** Read a weights directory (index order); errors name the file and what was expected. */
export function readWeightsDir(dir: string): NamedWeight[] {
  const indexFile = path.join(dir, 'index.json');
  if (!fs.existsSync(indexFile)) throw new Error(`weights directory '${dir}': no index.json`);
  const index = JSON.parse(fs.readFileSync(indexFile, 'utf8')) as { format?: string; arrays?: { name: string; file: string; shape: number[] }[] };
  if (index.format !== WEIGHTS_FORMAT || !Array.isArray(index.arrays)) throw new Error(`${indexFile}: format ${JSON.stringify(index.format)}, expected '${WEIGHTS_FORMAT}' with an 'arrays' list`);
  return index.arrays.map((a) => {
    const file = path.join(dir, a.file);
    const npy = decodeNpy(new Uint8Array(fs.readFileSync(file)), file);
    if (npy.shape.join(',') !== a.shape.join(',')) throw new Error(`${file}: shape [${npy.shape.join(', ')}], index.json says [${a.shape.join(', ')}]`);
    return { name: a.name, shape: npy.shape, values: npy.values };
  });
}
