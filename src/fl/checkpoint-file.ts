/**
 * Reading one checkpoint folder of a run (`state.json` + `weights.bin`, as
 * `RunWriter.writeCheckpoint` writes them) with every part validated, so a
 * corrupt checkpoint is an error naming the file instead of a bare
 * `RangeError` / `SyntaxError`. `RunWriter.readCheckpoint` (results.ts)
 * chooses between `checkpoint/` and `checkpoint.old/`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DataError, errorMessage } from '../data/errors';
import type { CheckpointState } from './results';

/** A corrupt checkpoint file: a DataError naming it. */
function checkpointError(file: string, problem: string, expected: string, underlying?: unknown): DataError {
  return new DataError({ file, kind: 'unreadable', expected, problem, underlying });
}

/**
 * Read and validate one checkpoint folder (`state.json` + `weights.bin`); throws a DataError naming
 * the file (`state.json` or `weights.bin`), what is wrong and what was expected.
 */
export function readCheckpointDir(dir: string): { round: number; state: CheckpointState } {
  const sj = path.join(dir, 'state.json');
  const wb = path.join(dir, 'weights.bin');
  const stateExpected = 'a checkpoint state.json: {"round": <integer >= 0>, "layout": {<key>: [<array lengths>]}, "meta": {...}} as written by RunWriter.writeCheckpoint';
  for (const f of [sj, wb]) if (!fs.existsSync(f)) throw checkpointError(f, 'file is missing', `${path.basename(f)} next to ${path.basename(f === sj ? wb : sj)} in ${dir}`);
  const text = fs.readFileSync(sj, 'utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const shown = text.length > 40 ? `${JSON.stringify(text.slice(0, 40))}...` : JSON.stringify(text);
    throw checkpointError(sj, `not valid JSON (${errorMessage(e)}; ${text.length} bytes, starting ${shown})`, stateExpected, e);
  }
  const st = raw as { round?: unknown; layout?: unknown; meta?: unknown };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw checkpointError(sj, `holds ${JSON.stringify(raw)?.slice(0, 40)}, not an object`, stateExpected);
  if (typeof st.round !== 'number' || !Number.isInteger(st.round) || st.round < 0) throw checkpointError(sj, `round is ${JSON.stringify(st.round)}`, stateExpected);
  if (st.layout === null || typeof st.layout !== 'object' || Array.isArray(st.layout)) throw checkpointError(sj, `layout is ${JSON.stringify(st.layout)}`, stateExpected);
  const layout = st.layout as Record<string, unknown>;
  for (const [k, v] of Object.entries(layout)) {
    if (!Array.isArray(v) || !v.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 0)) {
      throw checkpointError(sj, `layout['${k}'] is ${JSON.stringify(v).slice(0, 60)}`, stateExpected);
    }
  }
  if (st.meta === null || typeof st.meta !== 'object' || Array.isArray(st.meta)) throw checkpointError(sj, `meta is ${JSON.stringify(st.meta)}`, stateExpected);
  const keys = Object.keys(layout).sort();
  const want = keys.reduce((s, k) => s + (layout[k] as number[]).reduce((a, n) => a + n, 0), 0);
  const bytes = fs.readFileSync(wb);
  const binExpected = `${want} float32 values (${want * 4} bytes), as ${path.basename(sj)}'s layout of round ${st.round} describes`;
  if (bytes.byteLength % 4 !== 0) throw checkpointError(wb, `${bytes.byteLength} bytes, not a whole number of float32 values (truncated?)`, binExpected);
  if (bytes.byteLength !== want * 4) throw checkpointError(wb, `holds ${bytes.byteLength / 4} float32 values (${bytes.byteLength} bytes)${bytes.byteLength < want * 4 ? ' (truncated?)' : ''}`, binExpected);
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const arrays: Record<string, Float32Array[]> = {};
  let off = 0;
  for (const k of keys) {
    arrays[k] = (layout[k] as number[]).map((n) => {
      const a = all.slice(off, off + n);
      off += n;
      return a;
    });
  }
  return { round: st.round, state: { arrays, meta: st.meta as Record<string, unknown> } };
}

