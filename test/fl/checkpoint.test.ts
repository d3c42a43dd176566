/**
 * Corrupt checkpoints: `RunWriter.readCheckpoint` throws a DataError naming
 * the file and what is wrong (never a bare RangeError / SyntaxError), and
 * falls back to an intact `checkpoint.old/` (saying so in `recovered`).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DataError } from '../../src/data/errors';
import { RunWriter } from '../../src/fl/results';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-ckpt-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const arrays = () => ({ global: [Float32Array.from([1, 2, 3]), Float32Array.from([4])], 'site:a': [Float32Array.from([-1.5])] });

/** A run folder with a checkpoint of `round` (5 floats). */
function writer(name: string, round = 4): RunWriter {
  const w = new RunWriter(path.join(tmp, name));
  w.init({ config: {}, seed: 1, backend: 'cpu', startedAt: 'now' });
  w.writeCheckpoint(round, { arrays: arrays(), meta: { serverStep: 3 } });
  return w;
}

/** The DataError `readCheckpoint` throws; asserts its file and that the message mentions every string. */
function corrupt(w: RunWriter, file: string, mentions: string[]): DataError {
  let caught: unknown;
  try {
    w.readCheckpoint();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof DataError, `expected a DataError, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`);
  const e = caught as DataError;
  assert.is(e.file, file);
  assert.ok(e.message.startsWith(`${file}: `), e.message);
  for (const m of mentions) assert.ok(e.message.includes(m), `message should mention '${m}': ${e.message}`);
  return e;
}

test('truncated weights.bin: DataError naming weights.bin, its size and the expected size', () => {
  const w = writer('trunc');
  const wb = path.join(w.dir, 'checkpoint', 'weights.bin');
  fs.truncateSync(wb, 18); // 4.5 floats of 5
  corrupt(w, wb, ['18 bytes, not a whole number of float32 values (truncated?)', 'expected 5 float32 values (20 bytes)', 'round 4']);
  fs.truncateSync(wb, 12); // whole floats, too few
  corrupt(w, wb, ['holds 3 float32 values (12 bytes) (truncated?)', 'expected 5 float32 values (20 bytes)']);
});

test('garbage or malformed state.json: DataError naming state.json', () => {
  const w = writer('garbage');
  const sj = path.join(w.dir, 'checkpoint', 'state.json');
  fs.writeFileSync(sj, '\u0000\u0000garbage{');
  corrupt(w, sj, ['not valid JSON', 'starting', 'expected a checkpoint state.json']);
  fs.writeFileSync(sj, '{"round": 4, "layout": {"global": [3, 1], "site:a": [1]}, "meta": {}'); // torn write
  corrupt(w, sj, ['not valid JSON']);
  fs.writeFileSync(sj, JSON.stringify({ round: -1, layout: {}, meta: {} }));
  corrupt(w, sj, ['round is -1', 'integer >= 0']);
  fs.writeFileSync(sj, JSON.stringify({ round: 4, layout: { global: [3, 'x'] }, meta: {} }));
  corrupt(w, sj, [`layout['global'] is [3,"x"]`]);
  fs.writeFileSync(sj, JSON.stringify([1, 2]));
  corrupt(w, sj, ['holds [1,2], not an object']);
});

test('layout mismatch: weights.bin of whole floats but not as many as state.json describes', () => {
  const w = writer('layout');
  const sj = path.join(w.dir, 'checkpoint', 'state.json');
  const st = JSON.parse(fs.readFileSync(sj, 'utf8'));
  st.layout.global = [3, 2]; // 6 floats described, 5 stored
  fs.writeFileSync(sj, JSON.stringify(st));
  corrupt(w, path.join(w.dir, 'checkpoint', 'weights.bin'), ['holds 5 float32 values (20 bytes) (truncated?)', 'expected 6 float32 values (24 bytes)']);
  st.layout.global = [3]; // 4 described, 5 stored
  fs.writeFileSync(sj, JSON.stringify(st));
  const e = corrupt(w, path.join(w.dir, 'checkpoint', 'weights.bin'), ['holds 5 float32 values (20 bytes)', 'expected 4 float32 values (16 bytes)']);
  assert.not.ok(e.message.includes('truncated'));
});

test('a checkpoint folder with only one of its two files is corrupt (not silently skipped)', () => {
  const w = writer('half');
  fs.rmSync(path.join(w.dir, 'checkpoint', 'weights.bin'));
  corrupt(w, path.join(w.dir, 'checkpoint', 'weights.bin'), ['file is missing']);
});

test('corrupt checkpoint/ falls back to an intact checkpoint.old/ and says why; both corrupt names both', () => {
  const w = writer('fallback', 4);
  fs.cpSync(path.join(w.dir, 'checkpoint'), path.join(w.dir, 'checkpoint.old'), { recursive: true });
  const old = path.join(w.dir, 'checkpoint.old', 'state.json');
  const st = JSON.parse(fs.readFileSync(old, 'utf8'));
  fs.writeFileSync(old, JSON.stringify({ ...st, round: 3 }));
  // intact checkpoint/: read it, no recovery note
  const fresh = w.readCheckpoint()!;
  assert.is(fresh.round, 4);
  assert.is(fresh.recovered, undefined);
  // corrupt checkpoint/: the older round from checkpoint.old/, with the reason
  const wb = path.join(w.dir, 'checkpoint', 'weights.bin');
  fs.truncateSync(wb, 7);
  const back = w.readCheckpoint()!;
  assert.is(back.round, 3);
  assert.equal(Array.from(back.state.arrays.global[0]), [1, 2, 3]);
  assert.equal(back.state.meta, { serverStep: 3 });
  assert.ok(back.recovered!.startsWith(`${wb}: 7 bytes`), back.recovered);
  assert.ok(back.recovered!.includes(`resumed from ${path.join(w.dir, 'checkpoint.old')} (round 3) instead`), back.recovered);
  // both corrupt: the error names checkpoint/'s file and checkpoint.old/'s problem
  fs.writeFileSync(old, 'garbage');
  corrupt(w, wb, ['7 bytes', `the fallback ${path.join(w.dir, 'checkpoint.old')} is unusable too (${old}: not valid JSON`]);
});

test.run();
