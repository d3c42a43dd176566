/**
 * Run the PyTorch twin of a model (bench/torch/bench_torch.py) with Debian's
 * python3-torch and parse its timings. Never part of the test suite.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ModelGraph } from './graph';

/** Timings printed by bench_torch.py (milliseconds per step, medians). */
export interface TorchTiming {
  torch: string;
  threads: number;
  batch: number;
  /** Parameters + BatchNorm running statistics of the twin. */
  weights: number;
  trainCpuMsMedian: number;
  trainWallMsMedian: number;
  inferCpuMsMedian: number;
  inferWallMsMedian: number;
}

/** Default interpreter: Debian's python (python3-torch), not a pyenv shim. */
export const DEFAULT_PYTHON = '/usr/bin/python3';

/** Path of bench/torch/bench_torch.py (works from src/ and from a compiled dist/). */
export function torchScriptPath(): string {
  const candidates = [
    path.resolve(__dirname, '../../bench/torch/bench_torch.py'),
    path.resolve(__dirname, '../../../bench/torch/bench_torch.py'),
    path.resolve(process.cwd(), 'bench/torch/bench_torch.py'),
  ];
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`medfl bench: bench/torch/bench_torch.py not found (looked in ${candidates.join(', ')})`);
  return found;
}

/** Null when `python` can import torch, else the reason. */
export function torchUnavailable(python = DEFAULT_PYTHON): string | null {
  const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.error) return `${python} not runnable (${r.error.message})`;
  if (r.status !== 0) return `${python} cannot import torch (install Debian's python3-torch: apt-get install -y python3-torch)`;
  return null;
}

/** Options of {@link runTorchTwin}. */
export interface TorchRunOptions {
  batch: number;
  threads: number;
  warmup: number;
  repeats: number;
  /** Each timed sample repeats the step until it lasts this long (as medfl's side). Default 0 (one step). */
  minSampleMs?: number;
  python?: string;
  /** Seconds before the python process is killed. Default 600. */
  timeoutS?: number;
}

/** Time the twin of `graph`; throws with python's stderr when it fails. */
export function runTorchTwin(graph: ModelGraph, o: TorchRunOptions): TorchTiming {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-bench-'));
  const file = path.join(dir, `${graph.name}.json`);
  try {
    fs.writeFileSync(file, JSON.stringify(graph));
    const args = [torchScriptPath(), file, '--batch', String(o.batch), '--threads', String(o.threads), '--warmup', String(o.warmup), '--repeats', String(o.repeats), '--min-sample-ms', String(o.minSampleMs ?? 0)];
    const r = spawnSync(o.python ?? DEFAULT_PYTHON, args, {
      encoding: 'utf8',
      timeout: (o.timeoutS ?? 600) * 1000,
      env: { ...process.env, OMP_NUM_THREADS: String(o.threads), MKL_NUM_THREADS: String(o.threads) },
    });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`bench_torch.py failed for ${graph.name}: ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
    const line = r.stdout.trim().split('\n').pop() ?? '';
    return JSON.parse(line) as TorchTiming;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
