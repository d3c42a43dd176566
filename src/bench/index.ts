/**
 * `medfl bench`: training / inference throughput and memory of every
 * registered architecture on the current tfjs backend, optionally against a
 * PyTorch twin of the same layer graph (bench/torch/bench_torch.py).
 *
 * Per model (random data, seeded; NHWC `[batch, size, size, 3]`, one output
 * channel, logits + sigmoid cross-entropy, Adam lr 1e-3):
 * - training step = forward (training mode) + backward + Adam update;
 * - inference = `model.predict` (BatchNorm in inference mode);
 * - `warmup` untimed steps, then `repeats` timed steps; medians are reported.
 *
 * Times are measured both as process CPU time and as wall time. On a shared
 * machine CPU time is the robust figure (it excludes time the process waited
 * for a core); images/s are derived from the median CPU time of a step, and
 * the wall-clock figures are kept alongside. PyTorch runs single-threaded
 * (`torch.set_num_threads(1)`) for the ratio, which compares like with like
 * with single-threaded wasm; a 2-thread run is reported as information (wall
 * time, since CPU time sums over threads).
 *
 * Memory: `peakTensorBytes` is the engine's peak of live tensor bytes during
 * one training step (`tf.profile`), counted from before the model was built
 * (weights + Adam state + batch + activations/gradients); `wasmHeapBytes` (wasm backend only) and
 * `rssBytes` are process-wide high-water marks after the model ran (the wasm
 * heap never shrinks), so they include earlier models of the same run.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { createAdam } from '../backend/adam';
import { createModel, MODEL_NAMES } from '../models/registry';
import { describeModel } from './graph';
import { cpuMs } from './kernel-profiler';
import { nativeKernels, nativeKernelsVariant } from '../backend/native';
import { runTorchTwin, torchUnavailable, type TorchTiming } from './torch';

/** Options of {@link runBench}. */
export interface BenchOptions {
  /** Architectures (registry names). Default: all of MODEL_NAMES. */
  models?: string[];
  /** Square input size. Default 128. */
  size?: number;
  /** Batch size. Default 8. */
  batch?: number;
  /** Model width (base channels). Default: each model's defaultWidth. */
  width?: number;
  /** Timed steps per measurement (median reported). Default 5. */
  repeats?: number;
  /** Untimed steps first. Default 2. */
  warmup?: number;
  /** Also time the PyTorch twins (skipped with a message when torch is absent). Default true. */
  torch?: boolean;
  /** Progress / table sink. Default console.log. */
  out?: (s: string) => void;
  /** Write the results as JSON to this path. */
  json?: string;
}

/** PyTorch figures of one model (medians, milliseconds per step). */
export interface TorchResult {
  version: string;
  /** 1 thread: CPU-time based, comparable with medfl's figures. */
  trainImgPerSec: number;
  inferImgPerSec: number;
  trainCpuMs: number;
  trainWallMs: number;
  /** 2 threads, wall-clock based (information only). */
  trainImgPerSec2Threads?: number;
  /** Parameters + BN statistics of the twin (should equal medfl's `params`). */
  weights: number;
}

/** One row of the benchmark. */
export interface BenchResult {
  model: string;
  backend: string;
  size: number;
  batch: number;
  width: number | null;
  /** tfjs `countParams()` (includes BN moving statistics). */
  params: number;
  /** Median ms per training step: process CPU time and wall time. */
  trainCpuMs: number;
  trainWallMs: number;
  /** Training images/s from the median CPU time. */
  trainImgPerSec: number;
  /** Training images/s from the median wall time. */
  trainWallImgPerSec: number;
  inferCpuMs: number;
  inferWallMs: number;
  inferImgPerSec: number;
  /** Peak live tensor bytes of one training step, incl. weights, Adam state and the batch. */
  peakTensorBytes: number;
  /** Size of the wasm heap (process-wide high-water mark; wasm only). */
  wasmHeapBytes: number | null;
  rssBytes: number;
  torch?: TorchResult;
  /** medfl / PyTorch (1 thread) training throughput. */
  trainRatio?: number;
  inferRatio?: number;
  /** Why the torch twin was skipped. */
  torchSkipped?: string;
  /** Set when the model failed to build or run (other fields are then 0). */
  error?: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}

function timeSteps(fn: () => void, warmup: number, repeats: number): { cpu: number; wall: number } {
  for (let i = 0; i < warmup; i++) fn();
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const c0 = cpuMs();
    const w0 = performance.now();
    fn();
    cpu.push(cpuMs() - c0);
    wall.push(performance.now() - w0);
  }
  return { cpu: median(cpu), wall: median(wall) };
}

function wasmHeapBytes(): number | null {
  if (tf.getBackend() !== 'wasm') return null;
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8?.buffer.byteLength ?? null;
}

function emptyResult(model: string, o: Required<Pick<BenchOptions, 'size' | 'batch'>>, width: number | null, error: string): BenchResult {
  return {
    model, backend: tf.getBackend(), size: o.size, batch: o.batch, width, params: 0,
    trainCpuMs: 0, trainWallMs: 0, trainImgPerSec: 0, trainWallImgPerSec: 0, inferCpuMs: 0, inferWallMs: 0, inferImgPerSec: 0,
    peakTensorBytes: 0, wasmHeapBytes: wasmHeapBytes(), rssBytes: process.memoryUsage().rss, error,
  };
}

/** Benchmark one model on the current backend (no torch). */
async function benchModel(name: string, size: number, batch: number, width: number | undefined, warmup: number, repeats: number): Promise<BenchResult> {
  const baseline = tf.memory().numBytes;
  const model = createModel(name, { inputShape: [size, size, 3], numClasses: 1, outputActivation: 'none', width, seed: 1 });
  const opt = createAdam(1e-3); // medfl's default Adam (tfjs semantics, fused on wasm)
  const x = tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', 1);
  const y = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([batch, size, size, 1], 0, 1, 'float32', 2), 0.5), 'float32'));
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  let rss = process.memoryUsage().rss;
  const trainStep = () => {
    const l = opt.minimize(() => tf.losses.sigmoidCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true, vars);
    l?.dataSync();
    l?.dispose();
    rss = Math.max(rss, process.memoryUsage().rss);
  };
  const inferStep = () => {
    const p = model.predict(x) as tf.Tensor;
    p.dataSync();
    p.dispose();
  };
  try {
    const train = timeSteps(trainStep, warmup, repeats);
    const infer = timeSteps(inferStep, Math.max(1, warmup >> 1), repeats);
    const prof = await tf.profile(() => trainStep());
    return {
      model: name, backend: tf.getBackend(), size, batch, width: width ?? null, params: model.countParams(),
      trainCpuMs: train.cpu, trainWallMs: train.wall, trainImgPerSec: (1000 * batch) / train.cpu, trainWallImgPerSec: (1000 * batch) / train.wall,
      inferCpuMs: infer.cpu, inferWallMs: infer.wall, inferImgPerSec: (1000 * batch) / infer.cpu,
      peakTensorBytes: prof.peakBytes - baseline, wasmHeapBytes: wasmHeapBytes(), rssBytes: rss,
    };
  } finally {
    tf.dispose([x, y]);
    opt.dispose();
    model.dispose();
  }
}

function addTorch(r: BenchResult, o: { size: number; batch: number; width?: number; warmup: number; repeats: number }): void {
  const model = createModel(r.model, { inputShape: [o.size, o.size, 3], numClasses: 1, outputActivation: 'none', width: o.width, seed: 1 });
  let graph;
  try {
    graph = describeModel(model, r.model);
  } finally {
    model.dispose();
  }
  const common = { batch: o.batch, warmup: o.warmup, repeats: o.repeats };
  const t1: TorchTiming = runTorchTwin(graph, { ...common, threads: 1 });
  let t2: TorchTiming | undefined;
  try {
    t2 = runTorchTwin(graph, { ...common, threads: 2 });
  } catch {
    t2 = undefined;
  }
  r.torch = {
    version: t1.torch,
    trainImgPerSec: (1000 * o.batch) / t1.trainCpuMsMedian,
    inferImgPerSec: (1000 * o.batch) / t1.inferCpuMsMedian,
    trainCpuMs: t1.trainCpuMsMedian,
    trainWallMs: t1.trainWallMsMedian,
    trainImgPerSec2Threads: t2 ? (1000 * o.batch) / t2.trainWallMsMedian : undefined,
    weights: t1.weights,
  };
  r.trainRatio = r.trainImgPerSec / r.torch.trainImgPerSec;
  r.inferRatio = r.inferImgPerSec / r.torch.inferImgPerSec;
}

/**
 * Run the benchmark (see module doc) and return one {@link BenchResult} per
 * model; models that fail to build or run are reported with `error` and
 * skipped. Prints progress and the final table through `out`.
 */
export async function runBench(options: BenchOptions = {}): Promise<BenchResult[]> {
  const out = options.out ?? ((s: string) => console.log(s));
  const size = options.size ?? 128;
  const batch = options.batch ?? 8;
  const warmup = options.warmup ?? 3;
  const repeats = options.repeats ?? 5;
  if (!Number.isInteger(size) || size < 1) throw new Error(`runBench: size must be a positive integer, got ${size}`);
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`runBench: batch must be a positive integer, got ${batch}`);
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`runBench: repeats must be a positive integer, got ${repeats}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`runBench: warmup must be a non-negative integer, got ${warmup}`);
  const models = options.models ?? [...MODEL_NAMES];
  const unknown = models.filter((m) => !(MODEL_NAMES as readonly string[]).includes(m));
  if (unknown.length) throw new Error(`runBench: unknown model(s) ${unknown.join(', ')}. Valid: ${MODEL_NAMES.join(', ')}`);
  await initBackend(undefined, { log: () => {} });
  const wantTorch = options.torch ?? true;
  const noTorch = wantTorch ? torchUnavailable() : 'disabled';
  if (wantTorch && noTorch) out(`[bench] PyTorch comparison skipped: ${noTorch}`);
  const variant = tf.getBackend() === 'wasm' && nativeKernels(tf.backend()) ? nativeKernelsVariant() : null;
  const engine = tf.getBackend() === 'wasm' ? `wasm (medfl native kernels: ${variant ?? 'off'})` : tf.getBackend();
  out(`[bench] backend ${engine}, ${size}x${size}, batch ${batch}, warmup ${warmup}, median of ${repeats}; images/s from process CPU time`);
  const results: BenchResult[] = [];
  for (const name of models) {
    let r: BenchResult;
    try {
      r = await benchModel(name, size, batch, options.width, warmup, repeats);
    } catch (e) {
      r = emptyResult(name, { size, batch }, options.width ?? null, e instanceof Error ? e.message : String(e));
      out(`[bench] ${name}: skipped (${r.error})`);
      results.push(r);
      continue;
    }
    if (!noTorch) {
      try {
        addTorch(r, { size, batch, width: options.width, warmup, repeats });
      } catch (e) {
        r.torchSkipped = e instanceof Error ? e.message : String(e);
      }
    } else {
      r.torchSkipped = noTorch;
    }
    out(`[bench] ${name}: train ${r.trainImgPerSec.toFixed(1)} img/s, infer ${r.inferImgPerSec.toFixed(1)} img/s` +
      (r.torch ? `, torch(1 thread) train ${r.torch.trainImgPerSec.toFixed(1)} img/s, ratio ${r.trainRatio?.toFixed(2)}` : r.torchSkipped && wantTorch && !noTorch ? `, torch: ${r.torchSkipped}` : ''));
    results.push(r);
  }
  out(formatBenchTable(results));
  if (options.json) fs.writeFileSync(options.json, JSON.stringify({ date: new Date().toISOString(), results }, null, 2));
  return results;
}

/** Bytes as whole MiB (a numeric column; the header names the unit). */
function mib(bytes: number | null): string {
  return bytes == null ? '-' : (bytes / 2 ** 20).toFixed(0);
}

/** Plain-text table of benchmark results (one row per model). */
export function formatBenchTable(results: BenchResult[]): string {
  const header = ['model', 'params', 'train img/s', '(wall)', 'infer img/s', 'peak MiB', 'heap MiB', 'torch1 train', 'torch2 train', 'train ratio', 'torch1 infer', 'infer ratio'];
  const rows = results.map((r) => {
    if (r.error) return [r.model, '-', 'error: ' + r.error.slice(0, 60), '', '', '', '', '', '', '', '', ''];
    const f = (v: number | undefined, d = 1) => (v == null || !Number.isFinite(v) ? '-' : v.toFixed(d));
    return [
      r.model, String(r.params), f(r.trainImgPerSec), f(r.trainWallImgPerSec), f(r.inferImgPerSec), mib(r.peakTensorBytes), mib(r.wasmHeapBytes),
      f(r.torch?.trainImgPerSec), f(r.torch?.trainImgPerSec2Threads), f(r.trainRatio, 2), f(r.torch?.inferImgPerSec), f(r.inferRatio, 2),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export { describeModel, GRAPH_LAYER_CLASSES, type ModelGraph, type GraphNode } from './graph';
export { withKernelTimings, cpuMs, type KernelTiming } from './kernel-profiler';
export { runTorchTwin, torchUnavailable, type TorchTiming } from './torch';
