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
import * as fs from 'fs';
import * as path from 'path';
import type { RoundRecord, RunSummary } from './types';

/** What a strategy saves after a round: named weight lists plus JSON metadata. */
export interface CheckpointState {
  arrays: Record<string, Float32Array[]>;
  meta: Record<string, unknown>;
}

/** The contents of `config.json`. */
export interface RunConfigFile {
  config: unknown;
  seed: number;
  backend: string;
  startedAt: string;
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

  /** Keep only the records of rounds <= `lastRound` (rewrites `rounds.jsonl` atomically); returns them. */
  truncateRounds(lastRound: number): RoundRecord[] {
    const kept = this.readRounds().filter((r) => r.round <= lastRound);
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

  /** The last complete checkpoint, or null when none was written. */
  readCheckpoint(): { round: number; state: CheckpointState } | null {
    for (const name of ['checkpoint', 'checkpoint.old']) {
      const dir = this.p(name);
      const sj = path.join(dir, 'state.json');
      const wb = path.join(dir, 'weights.bin');
      if (!fs.existsSync(sj) || !fs.existsSync(wb)) continue;
      const st = JSON.parse(fs.readFileSync(sj, 'utf8')) as { round: number; layout: Record<string, number[]>; meta: Record<string, unknown> };
      const bytes = fs.readFileSync(wb);
      const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      const arrays: Record<string, Float32Array[]> = {};
      let off = 0;
      for (const k of Object.keys(st.layout).sort()) {
        arrays[k] = st.layout[k].map((n) => {
          const a = all.slice(off, off + n);
          off += n;
          return a;
        });
      }
      if (off !== all.length) throw new Error(`RunWriter: '${wb}' holds ${all.length} floats but state.json describes ${off}`);
      return { round: st.round, state: { arrays, meta: st.meta } };
    }
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
 * training loss, pooled and global Dice/IoU, then `dice:<site>` per site.
 */
export function roundsToCsv(records: readonly RoundRecord[]): string {
  const sites = [...new Set(records.flatMap((r) => Object.keys(r.test ?? {})))].sort();
  const head = ['round', 'seconds', 'bytes_up', 'bytes_down', 'cum_bytes_up', 'cum_bytes_down', 'participants', 'dropped', 'train_loss', 'pooled_dice', 'pooled_iou', 'global_dice', 'global_iou', ...sites.map((s) => `dice:${s}`)];
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
      fmt(r.pooled?.dice),
      fmt(r.pooled?.iou),
      fmt(r.global?.dice),
      fmt(r.global?.iou),
      ...sites.map((s) => fmt(r.test?.[s]?.dice)),
    ];
  });
  return [head, ...rows].map((row) => row.map((c) => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(',')).join('\n') + '\n';
}
