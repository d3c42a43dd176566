/**
 * The run folder of a federated run, written so that a crash never leaves
 * half-written results:
 *
 * ```
 * <dir>/config.json      { config, seed, backend, startedAt }   (written once, temp + rename)
 * <dir>/rounds.jsonl     one RoundRecord per line; each line appended whole, then fsync
 * <dir>/checkpoint/      state.json + weights.bin of the last completed round
 *                        (written to checkpoint.tmp, then swapped in by rename)
 * <dir>/summary.json     RunSummary            (temp + rename, at the end)
 * <dir>/summary.csv      one row per round     (temp + rename, at the end)
 * ```
 *
 * Order per round: the round line is appended first, then the checkpoint is
 * swapped in. On resume, lines of rounds after the checkpoint (a crash between
 * the two writes) and a torn last line are dropped, so `rounds.jsonl` and the
 * checkpoint always agree.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DataError } from '../data/errors';
import { readCheckpointDir } from './checkpoint-file';
import type { Dataset } from '../data/types';
import type { RoundRecord, RunSummary } from './types';
import type { Site } from '../data/site';

/** What a strategy saves after a round: named weight lists plus JSON metadata. */
export interface CheckpointState {
  arrays: Record<string, Float32Array[]>;
  meta: Record<string, unknown>;
}

/** What a run was trained on: checked when it is resumed. */
export interface DataFingerprint {
  /** `[H, W, C]` of the model input. */
  inputShape: number[];
  /** Per site, in site order: image counts and a SHA-256 of the sample ids of each split (validation only when the site has one). */
  sites: { name: string; train: number; test: number; trainIds: string; testIds: string; validation?: number; validationIds?: string }[];
}

/** The contents of `config.json`. */
export interface RunConfigFile {
  config: unknown;
  seed: number;
  backend: string;
  startedAt: string;
  /** Absent in folders written before fingerprints existed (then resume cannot check the data). */
  fingerprint?: DataFingerprint;
}

function idsHash(ds: Dataset): string {
  const h = createHash('sha256');
  for (let i = 0; i < ds.length; i++) h.update(`${ds.info(i).id}\n`);
  return h.digest('hex').slice(0, 16);
}

/** The fingerprint of `sites` (sample ids read with `info`, no image decoded). */
export function dataFingerprint(sites: readonly Site[], inputShape: readonly number[]): DataFingerprint {
  return {
    inputShape: [...inputShape],
    sites: sites.map((s) => ({
      name: s.name,
      train: s.train.length,
      test: s.test.length,
      trainIds: idsHash(s.train),
      testIds: idsHash(s.test),
      ...(s.validation ? { validation: s.validation.length, validationIds: idsHash(s.validation) } : {}),
    })),
  };
}

/** What differs between a stored fingerprint and the current one, one line each (empty when they match). */
export function fingerprintChanges(stored: DataFingerprint, now: DataFingerprint): string[] {
  const out: string[] = [];
  if (stored.inputShape.join('x') !== now.inputShape.join('x')) out.push(`image size ${now.inputShape.join('x')} (was ${stored.inputShape.join('x')})`);
  const was = new Map(stored.sites.map((s) => [s.name, s]));
  const is = new Map(now.sites.map((s) => [s.name, s]));
  for (const s of stored.sites) if (!is.has(s.name)) out.push(`site '${s.name}' is missing`);
  for (const s of now.sites) {
    const o = was.get(s.name);
    if (!o) {
      out.push(`site '${s.name}' is new`);
      continue;
    }
    for (const part of ['train', 'test', 'validation'] as const) {
      if (o[part] !== s[part]) out.push(`site '${s.name}' ${part}: ${s[part] ?? 'no'} images (was ${o[part] ?? 'none'})`);
      else if (o[`${part}Ids`] !== s[`${part}Ids`]) out.push(`site '${s.name}' ${part}: other images (same count ${s[part]}, different sample ids)`);
    }
  }
  if (out.length === 0 && stored.sites.map((s) => s.name).join() !== now.sites.map((s) => s.name).join()) out.push(`site order ${now.sites.map((s) => s.name).join(', ')} (was ${stored.sites.map((s) => s.name).join(', ')})`);
  return out;
}

/**
 * Take the exclusive lock of a run folder (`<dir>/.medfl.lock`: pid, host,
 * start time), so two processes never write one run. A lock left by a
 * process of this host that no longer exists (a crash, kill -9) is stale and
 * taken over. Returns the release function. Throws naming the holder.
 */
export function acquireRunLock(dir: string): () => void {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, '.medfl.lock');
  const mine = JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, mine, { flag: 'wx' });
      return () => {
        try {
          if (fs.readFileSync(file, 'utf8') === mine) fs.rmSync(file, { force: true });
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let holder: { pid?: number; host?: string; startedAt?: string } = {};
    try {
      holder = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      // unreadable (torn write by a crashed process): stale
    }
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'EPERM';
      }
      // A killed process not yet reaped by its parent (a zombie, state Z on Linux) still answers signal 0.
      try {
        return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return true;
      }
    };
    const stale = typeof holder.pid !== 'number' || (holder.host === os.hostname() && !alive(holder.pid));
    if (!stale) {
      throw new Error(`run folder '${dir}' is in use by process ${holder.pid} on ${holder.host} since ${holder.startedAt} (lock file ${file}); wait for it, or delete the lock file if that process is gone`);
    }
    fs.rmSync(file, { force: true });
  }
  throw new Error(`run folder '${dir}': could not take the lock ${file}`);
}

function fsyncWrite(file: string, data: string | Uint8Array): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, data as never);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Write a file atomically: to `<file>.tmp-<pid>`, fsync, then rename over `file`. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fsyncWrite(tmp, data);
  fs.renameSync(tmp, file);
}

/** Writes and reads one run folder (see the module comment for the layout). */
export class RunWriter {
  constructor(readonly dir: string) {}

  private p(name: string): string {
    return path.join(this.dir, name);
  }

  /** Create the folder and write `config.json`. Refuses a folder that already holds rounds (use `resume`). */
  init(file: RunConfigFile): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const rounds = this.p('rounds.jsonl');
    if (fs.existsSync(rounds) && fs.statSync(rounds).size > 0) {
      throw new Error(`RunWriter: '${this.dir}' already holds a run (rounds.jsonl is not empty); pass resume: '${this.dir}' to continue it or choose another outDir`);
    }
    for (const f of ['rounds.jsonl', 'summary.json', 'summary.csv']) fs.rmSync(this.p(f), { force: true });
    fs.rmSync(this.p('checkpoint'), { recursive: true, force: true });
    writeFileAtomic(this.p('config.json'), JSON.stringify(file, null, 2) + '\n');
  }

  /** Read `config.json`; throws naming the folder when absent or invalid. */
  readConfig(): RunConfigFile {
    const f = this.p('config.json');
    if (!fs.existsSync(f)) throw new Error(`RunWriter: no config.json in '${this.dir}' (not a run folder)`);
    try {
      return JSON.parse(fs.readFileSync(f, 'utf8')) as RunConfigFile;
    } catch (e) {
      throw new Error(`RunWriter: '${f}' is not valid JSON (${(e as Error).message})`);
    }
  }

  /** Append one complete JSON line to `rounds.jsonl` and fsync it. */
  appendRound(record: RoundRecord): void {
    const line = JSON.stringify(record) + '\n';
    const fd = fs.openSync(this.p('rounds.jsonl'), 'a');
    try {
      fs.writeSync(fd, line);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** The complete records of `rounds.jsonl` (a torn last line is ignored). */
  readRounds(): RoundRecord[] {
    const f = this.p('rounds.jsonl');
    if (!fs.existsSync(f)) return [];
    const out: RoundRecord[] = [];
    for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as RoundRecord);
      } catch {
        break; // torn write at the end
      }
    }
    return out;
  }

  /** Keep only the records of rounds <= `lastRound`, one per round (the last written), in round order; rewrites `rounds.jsonl` atomically and returns them. */
  truncateRounds(lastRound: number): RoundRecord[] {
    const byRound = new Map<number, RoundRecord>();
    for (const r of this.readRounds()) if (r.round <= lastRound) byRound.set(r.round, r);
    const kept = [...byRound.values()].sort((a, b) => a.round - b.round);
    writeFileAtomic(this.p('rounds.jsonl'), kept.map((r) => JSON.stringify(r) + '\n').join(''));
    return kept;
  }

  /**
   * Save the state after `round` atomically: written to `checkpoint.tmp`,
   * then the old `checkpoint` is moved to `checkpoint.old`, the new one renamed
   * in, and the old removed. {@link readCheckpoint} falls back to `checkpoint.old`.
   */
  writeCheckpoint(round: number, state: CheckpointState): void {
    const tmp = this.p('checkpoint.tmp');
    const cur = this.p('checkpoint');
    const old = this.p('checkpoint.old');
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    const keys = Object.keys(state.arrays).sort();
    const layout: Record<string, number[]> = {};
    let total = 0;
    for (const k of keys) {
      layout[k] = state.arrays[k].map((a) => a.length);
      total += layout[k].reduce((s, n) => s + n, 0);
    }
    const buf = new Float32Array(total);
    let off = 0;
    for (const k of keys) {
      for (const a of state.arrays[k]) {
        buf.set(a, off);
        off += a.length;
      }
    }
    fsyncWrite(path.join(tmp, 'weights.bin'), new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
    fsyncWrite(path.join(tmp, 'state.json'), JSON.stringify({ round, layout, meta: state.meta, littleEndian: true }) + '\n');
    fs.rmSync(old, { recursive: true, force: true });
    if (fs.existsSync(cur)) fs.renameSync(cur, old);
    fs.renameSync(tmp, cur);
    fs.rmSync(old, { recursive: true, force: true });
  }

  /**
   * The last complete checkpoint, or null when none was written.
   *
   * Every part is validated: `state.json` must be JSON with an integer
   * `round` >= 0, a `layout` of non-negative integer lengths per key and a
   * `meta` object; `weights.bin` must hold whole little-endian float32 values,
   * exactly as many as the layout describes. A folder with only one of the two
   * files is corrupt too. Any of these throws a {@link DataError} naming the
   * file, what was found and what was expected.
   *
   * Fallback: when `checkpoint/` is absent or corrupt and `checkpoint.old/`
   * (left by a crash in the middle of {@link writeCheckpoint}'s swap) is
   * intact, that one is returned, with `recovered` saying why; its round is
   * then the one to resume from (the caller truncates `rounds.jsonl` to it).
   * When both are corrupt the error names the `checkpoint/` file and says
   * what is wrong with `checkpoint.old/` too.
   */
  readCheckpoint(): { round: number; state: CheckpointState; recovered?: string } | null {
    let firstError: DataError | undefined;
    for (const name of ['checkpoint', 'checkpoint.old']) {
      const dir = this.p(name);
      if (!fs.existsSync(dir)) continue;
      try {
        const ck = readCheckpointDir(dir);
        if (!firstError) return ck;
        return { ...ck, recovered: `${firstError.message}; resumed from ${dir} (round ${ck.round}) instead` };
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        if (firstError) {
          throw new DataError({
            file: firstError.file,
            kind: firstError.kind,
            expected: firstError.expected,
            problem: `${firstError.problem}; the fallback ${dir} is unusable too (${e.file}: ${e.problem})`,
          });
        }
        firstError = e;
      }
    }
    if (firstError) throw firstError;
    return null;
  }

  /** Write `summary.json` and `summary.csv` (one row per round), each atomically. */
  finish(summary: RunSummary, records: readonly RoundRecord[]): void {
    writeFileAtomic(this.p('summary.json'), JSON.stringify(summary, null, 2) + '\n');
    writeFileAtomic(this.p('summary.csv'), roundsToCsv(records));
  }
}

const fmt = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '' : String(x));

/**
 * One CSV row per round: round, seconds, bytes (round and cumulative), mean
 * training loss, the mean validation loss (`val_loss`, only when some round
 * has one), pooled and global Dice/IoU, then `dice:<site>` per site.
 */
export function roundsToCsv(records: readonly RoundRecord[]): string {
  const sites = [...new Set(records.flatMap((r) => Object.keys(r.test ?? {})))].sort();
  const val = records.some((r) => r.meanValidationLoss !== undefined);
  const head = ['round', 'seconds', 'bytes_up', 'bytes_down', 'cum_bytes_up', 'cum_bytes_down', 'participants', 'dropped', 'train_loss', ...(val ? ['val_loss'] : []), 'pooled_dice', 'pooled_iou', 'global_dice', 'global_iou', ...sites.map((s) => `dice:${s}`)];
  const rows = records.map((r) => {
    const losses = Object.values(r.trainLoss);
    const loss = losses.length ? losses.reduce((a, b) => a + b, 0) / losses.length : NaN;
    return [
      String(r.round),
      fmt(r.seconds),
      fmt(r.bytes.totalUp),
      fmt(r.bytes.totalDown),
      fmt(r.bytes.cumulativeUp),
      fmt(r.bytes.cumulativeDown),
      String(r.participants.length),
      String(r.dropped.length),
      fmt(loss),
      ...(val ? [fmt(r.meanValidationLoss)] : []),
      fmt(r.pooled?.dice),
      fmt(r.pooled?.iou),
      fmt(r.global?.dice),
      fmt(r.global?.iou),
      ...sites.map((s) => fmt(r.test?.[s]?.dice)),
    ];
  });
  return [head, ...rows].map((row) => row.map((c) => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(',')).join('\n') + '\n';
}
