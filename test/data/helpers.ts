import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as assert from 'uvu/assert';
import { DataError, type DataErrorKind } from '../../src/data/errors';

/** The shared real-data folder: env MEDFL_SHARED_DATA, else the repo root's sibling `shared/data`. */
export const SHARED_DATA = process.env.MEDFL_SHARED_DATA ?? path.resolve(__dirname, '../../../shared/data');

/** Path under the shared data folder. */
export function shared(...parts: string[]): string {
  return path.join(SHARED_DATA, ...parts);
}

/** A fresh temporary folder (removed by the caller with {@link rmTemp}). */
export function tempDir(prefix = 'medfl-data-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function rmTemp(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Assert that `fn` rejects with a DataError of `kind` whose message contains every string of `mentions`. */
export async function rejectsDataError(fn: () => Promise<unknown>, kind: DataErrorKind, mentions: string[]): Promise<DataError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof DataError, `expected a DataError, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`);
  const e = caught as DataError;
  assert.is(e.kind, kind, `kind of: ${e.message}`);
  for (const m of mentions) assert.ok(e.message.includes(m), `message should mention '${m}': ${e.message}`);
  return e;
}

/** Fraction of non-zero entries. */
export function fraction(mask: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) n++;
  return n / mask.length;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
