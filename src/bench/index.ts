/**
 * `medfl bench`: training / inference throughput and memory of every
 * registered architecture on the current tfjs backend, optionally against a
 * PyTorch twin of the same layer graph (bench/torch/bench_torch.py).
 *
 * Per model (random data, seeded; NHWC `[batch, size, size, 3]`, one output
 * channel, logits + sigmoid cross-entropy, Adam lr 1e-3):
 * - training step = forward (training mode) + backward + Adam update;
 * - inference = `model.predict` (BatchNorm in inference mode) of a copy with
 *   every conv -> BatchNorm pair folded into one conv (src/models/fold;
 *   `fold: false` / `--no-fold` for the model as built);
 * - `warmup` untimed steps, then `repeats` timed samples; medians are
 *   reported. A sample is k consecutive steps, k chosen after the warm-up so
 *   that it lasts at least `minSampleMs` (default 250 ms; the same for the
 *   PyTorch twin): one CPU-time reading comes in scheduler ticks of a few
 *   milliseconds, which made single steps of the small fast models (CGNet,
 *   ~30 ms per inference batch) swing by 10-30% between runs.
 *
 * Thread counts (`threads`, default 1 and all cores): for each count T,
 * medfl's native addon runs its kernels on T threads (src/backend/addon;
 * tfjs-wasm's own kernels stay single-threaded) and PyTorch runs with
 * `torch.set_num_threads(T)`. Times are measured both as process CPU time
 * and as wall time. For T = 1, images/s and the ratio use CPU time (robust on
 * a shared machine: it excludes time the process waited for a core); for
 * T > 1 they use wall time (CPU time sums over threads), so run those on an
 * idle machine.
 *
 * Width: a number, or 'paper' / 'default' for each model's
 * `capabilities.paperWidth` / `defaultWidth`.
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
import { accumulatedStep } from '../train/loop';
import { createModel, MODEL_NAMES } from '../models/registry';
import { describeModel, type ModelGraph } from './graph';
import { cpuMs } from './kernel-profiler';
import { nativeKernels, nativeKernelsVariant } from '../backend/native';
import { nativeAddonInfo, nativeThreads, setNativeThreads } from '../backend/addon';
import { getModelSpec } from '../models/registry';
import { foldBatchNorm } from '../models/fold';
import * as os from 'node:os';
import { runTorchTwin, torchUnavailable, type TorchTiming } from './torch';

/** Options of {@link runBench}. */
export interface BenchOptions {
  /** Architectures (registry names). Default: all of MODEL_NAMES. */
  models?: string[];
  /** Square input size. Default 128. */
  size?: number;
  /** Batch size. Default 8. */
  batch?: number;
  /** Model width (base channels), or 'paper' / 'default' (each model's paperWidth / defaultWidth). Default 'default'. */
  width?: number | 'paper' | 'default';
  /**
   * Training micro-batch: gradients accumulated over chunks of at most this
   * many samples (src/train/loop's `accumulatedStep`; BatchNorm statistics
   * per chunk), so large batches fit the 4 GiB wasm heap. Default: off.
   */
  microBatch?: number;
  /** Inference on a BatchNorm-folded copy of each model (src/models/fold). Default true. */
  fold?: boolean;
  /** Thread counts to measure (medfl's native addon and PyTorch alike). Default [1, all cores] (`os.availableParallelism()`). */
  threads?: number[];
  /** Timed steps per measurement (median reported). Default 5. */
  repeats?: number;
  /** Untimed steps first. Default 3. */
  warmup?: number;
  /** Shortest timed sample in milliseconds: each sample repeats the step until it lasts this long (k steps, k fixed after the warm-up). Default 250. */
  minSampleMs?: number;
  /** Also time the PyTorch twins (skipped with a message when torch is absent). Default true. */
  torch?: boolean;
  /** Progress / table sink. Default console.log. */
  out?: (s: string) => void;
  /** Write the results as JSON to this path. */
  json?: string;
}

/** PyTorch figures of one model at the row's thread count (medians, milliseconds per step). */
export interface TorchResult {
  version: string;
  /** Images/s on the row's basis (CPU time for 1 thread, wall time otherwise), comparable with medfl's. */
  trainImgPerSec: number;
  inferImgPerSec: number;
  trainCpuMs: number;
  trainWallMs: number;
  inferCpuMs?: number;
  inferWallMs?: number;
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
  /** Threads of medfl's native kernels and of PyTorch for this row. Default 1. */
  threads?: number;
  /** What images/s and ratios are computed from: process CPU time (1 thread) or wall time (more). Default 'cpu'. */
  basis?: 'cpu' | 'wall';
  /** tfjs `countParams()` (includes BN moving statistics). */
  params: number;
  /** Median ms per training step: process CPU time and wall time. */
  trainCpuMs: number;
  trainWallMs: number;
  /** Training images/s on the row's basis (median CPU time for 1 thread, wall time otherwise). */
  trainImgPerSec: number;
  /** Training images/s from the median wall time. */
  trainWallImgPerSec: number;
  inferCpuMs: number;
  inferWallMs: number;
  /** Inference images/s on the row's basis. */
  inferImgPerSec: number;
  /** Inference images/s from the median wall time. */
  inferWallImgPerSec?: number;
  /** Peak live tensor bytes of one training step, incl. weights, Adam state and the batch. */
  peakTensorBytes: number;
  /** Size of the wasm heap (process-wide high-water mark; wasm only). */
  wasmHeapBytes: number | null;
  rssBytes: number;
  torch?: TorchResult;
  /** medfl / PyTorch training throughput at the same thread count. */
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

/** Median per-step CPU and wall milliseconds over `repeats` samples of k steps each (k: a sample lasts at least `minSampleMs`). */
function timeSteps(fn: () => void, warmup: number, repeats: number, minSampleMs: number): { cpu: number; wall: number } {
  for (let i = 0; i < warmup; i++) fn();
  const t0 = performance.now();
  fn();
  const k = Math.max(1, Math.ceil(minSampleMs / Math.max(1e-3, performance.now() - t0)));
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const c0 = cpuMs();
    const w0 = performance.now();
    for (let j = 0; j < k; j++) fn();
    cpu.push((cpuMs() - c0) / k);
    wall.push((performance.now() - w0) / k);
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
async function benchModel(
  name: string, size: number, batch: number, width: number | undefined, warmup: number, repeats: number, minSampleMs: number, threads: number, microBatch?: number, fold = true,
): Promise<BenchResult> {
  const basis = threads === 1 ? 'cpu' : 'wall';
  const baseline = tf.memory().numBytes;
  const model = createModel(name, { inputShape: [size, size, 3], numClasses: 1, outputActivation: 'none', width, seed: 1 });
  const opt = createAdam(1e-3); // medfl's default Adam (tfjs semantics, fused on wasm)
  const x = tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', 1);
  const y = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([batch, size, size, 1], 0, 1, 'float32', 2), 0.5), 'float32'));
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  let rss = process.memoryUsage().rss;
  const lossOf = (xs: tf.Tensor4D, ys: tf.Tensor) => tf.losses.sigmoidCrossEntropy(ys, model.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar;
  const trainStep = () => {
    if (microBatch !== undefined && microBatch < batch) {
      accumulatedStep(opt, vars, x, y, microBatch, lossOf);
    } else {
      const l = opt.minimize(() => lossOf(x as tf.Tensor4D, y), true, vars);
      l?.dataSync();
      l?.dispose();
    }
    rss = Math.max(rss, process.memoryUsage().rss);
  };
  let inferModel = model;
  if (fold) {
    try {
      inferModel = (await foldBatchNorm(model)).model;
    } catch {
      inferModel = model; // a layer that does not round-trip: time the model as built
    }
  }
  const inferStep = () => {
    const p = inferModel.predict(x) as tf.Tensor;
    p.dataSync();
    p.dispose();
  };
  try {
    const train = timeSteps(trainStep, warmup, repeats, minSampleMs);
    const infer = timeSteps(inferStep, Math.max(1, warmup >> 1), repeats, minSampleMs);
    const prof = await tf.profile(() => trainStep());
    return {
      model: name, backend: tf.getBackend(), size, batch, width: width ?? null, threads, basis, params: model.countParams(),
      trainCpuMs: train.cpu, trainWallMs: train.wall, trainImgPerSec: (1000 * batch) / (basis === 'cpu' ? train.cpu : train.wall), trainWallImgPerSec: (1000 * batch) / train.wall,
      inferCpuMs: infer.cpu, inferWallMs: infer.wall, inferImgPerSec: (1000 * batch) / (basis === 'cpu' ? infer.cpu : infer.wall), inferWallImgPerSec: (1000 * batch) / infer.wall,
      peakTensorBytes: prof.peakBytes - baseline, wasmHeapBytes: wasmHeapBytes(), rssBytes: rss,
    };
  } finally {
    tf.dispose([x, y]);
    opt.dispose();
    if (inferModel !== model) inferModel.dispose();
    model.dispose();
  }
}

/** PyTorch twin of `name`'s layer graph at this size / width. */
function torchGraph(name: string, o: { size: number; width?: number }): ModelGraph {
  const model = createModel(name, { inputShape: [o.size, o.size, 3], numClasses: 1, outputActivation: 'none', width: o.width, seed: 1 });
  try {
    return describeModel(model, name);
  } finally {
    model.dispose();
  }
}

function addTorch(r: BenchResult, graph: ModelGraph, o: { batch: number; warmup: number; repeats: number; minSampleMs: number; threads: number }): void {
  const t: TorchTiming = runTorchTwin(graph, { batch: o.batch, warmup: o.warmup, repeats: o.repeats, minSampleMs: o.minSampleMs, threads: o.threads });
  const cpu = o.threads === 1;
  r.torch = {
    version: t.torch,
    trainImgPerSec: (1000 * o.batch) / (cpu ? t.trainCpuMsMedian : t.trainWallMsMedian),
    inferImgPerSec: (1000 * o.batch) / (cpu ? t.inferCpuMsMedian : t.inferWallMsMedian),
    trainCpuMs: t.trainCpuMsMedian,
    trainWallMs: t.trainWallMsMedian,
    inferCpuMs: t.inferCpuMsMedian,
    inferWallMs: t.inferWallMsMedian,
    weights: t.weights,
  };
  r.trainRatio = r.trainImgPerSec / r.torch.trainImgPerSec;
  r.inferRatio = r.inferImgPerSec / r.torch.inferImgPerSec;
}

/** The width a model runs at: a number as given, 'paper' / 'default' from its capabilities (undefined: the builder's default). */
export function resolveBenchWidth(name: string, width: BenchOptions['width']): number | undefined {
  if (width === undefined || width === 'default') return undefined;
  if (width === 'paper') return getModelSpec(name).capabilities.paperWidth;
  return width;
}

/** Parse `--width`: a positive integer, 'paper' or 'default'; throws naming the value otherwise. */
export function parseBenchWidth(value: string): number | 'paper' | 'default' {
  const v = value.trim().toLowerCase();
  if (v === 'paper' || v === 'default') return v;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--width: expected a positive integer, 'paper' or 'default', got '${value}'`);
  return n;
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
  const minSampleMs = options.minSampleMs ?? 250;
  if (!(minSampleMs >= 0)) throw new Error(`runBench: minSampleMs must be >= 0, got ${minSampleMs}`);
  if (!Number.isInteger(size) || size < 1) throw new Error(`runBench: size must be a positive integer, got ${size}`);
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`runBench: batch must be a positive integer, got ${batch}`);
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`runBench: repeats must be a positive integer, got ${repeats}`);
  if (options.microBatch !== undefined && (!Number.isInteger(options.microBatch) || options.microBatch < 1)) {
    throw new Error(`runBench: microBatch must be a positive integer, got ${options.microBatch}`);
  }
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`runBench: warmup must be a non-negative integer, got ${warmup}`);
  const osx = os as unknown as { availableParallelism?: () => number };
  const cores = Math.max(1, osx.availableParallelism ? osx.availableParallelism() : os.cpus().length);
  const threadList = [...new Set(options.threads ?? [1, cores])];
  if (threadList.some((t) => !Number.isInteger(t) || t < 1)) throw new Error(`runBench: threads must be positive integers, got ${threadList.join(', ')}`);
  const models = options.models ?? [...MODEL_NAMES];
  const unknown = models.filter((m) => !(MODEL_NAMES as readonly string[]).includes(m));
  if (unknown.length) throw new Error(`runBench: unknown model(s) ${unknown.join(', ')}. Valid: ${MODEL_NAMES.join(', ')}`);
  await initBackend(undefined, { log: () => {} });
  const wantTorch = options.torch ?? true;
  const noTorch = wantTorch ? torchUnavailable() : 'disabled';
  if (wantTorch && noTorch) out(`[bench] PyTorch comparison skipped: ${noTorch}`);
  const variant = tf.getBackend() === 'wasm' && nativeKernels(tf.backend()) ? nativeKernelsVariant() : null;
  const addon = nativeAddonInfo();
  const addonText = addon.loaded && addon.enabled ? `native addon ${addon.isa}` : `native addon off (${addon.enabled ? addon.reason : 'MEDFL_NATIVE_ADDON=0'})`;
  const engine = tf.getBackend() === 'wasm' ? `wasm (medfl native kernels: ${variant ?? 'off'}; ${addonText})` : tf.getBackend();
  out(`[bench] backend ${engine}, ${size}x${size}, batch ${batch}, width ${options.width ?? 'default'}${options.microBatch ? `, micro-batch ${options.microBatch}` : ''}${options.fold === false ? ', inference unfolded' : ', inference BN-folded'}, threads ${threadList.join(',')}, warmup ${warmup}, median of ${repeats} samples of >= ${minSampleMs} ms`);
  out('[bench] images/s: process CPU time for 1 thread, wall time for more (PyTorch alike, torch.set_num_threads(T))');
  const results: BenchResult[] = [];
  const prevThreads = nativeThreads();
  try {
    for (const name of models) {
      let width: number | undefined;
      let graph: ModelGraph | undefined;
      let graphError: string | undefined;
      for (const threads of threadList) {
        let r: BenchResult;
        setNativeThreads(threads);
        try {
          width = resolveBenchWidth(name, options.width);
          r = await benchModel(name, size, batch, width, warmup, repeats, minSampleMs, threads, options.microBatch, options.fold ?? true);
        } catch (e) {
          r = emptyResult(name, { size, batch }, width ?? null, e instanceof Error ? e.message : String(e));
          r.threads = threads;
          out(`[bench] ${name} (${threads} thread${threads > 1 ? 's' : ''}): skipped (${r.error})`);
          results.push(r);
          continue;
        }
        if (!noTorch) {
          try {
            if (!graph && !graphError) {
              try {
                graph = torchGraph(name, { size, width });
              } catch (e) {
                graphError = e instanceof Error ? e.message : String(e);
              }
            }
            if (!graph) throw new Error(graphError);
            addTorch(r, graph, { batch, warmup, repeats, minSampleMs, threads });
          } catch (e) {
            r.torchSkipped = e instanceof Error ? e.message : String(e);
          }
        } else {
          r.torchSkipped = noTorch;
        }
        out(`[bench] ${name} w${r.width ?? 'default'} ${threads}T: train ${r.trainImgPerSec.toFixed(1)} img/s, infer ${r.inferImgPerSec.toFixed(1)} img/s` +
          (r.torch ? `; torch train ${r.torch.trainImgPerSec.toFixed(1)}, infer ${r.torch.inferImgPerSec.toFixed(1)}; ratios ${r.trainRatio?.toFixed(2)} / ${r.inferRatio?.toFixed(2)}` : r.torchSkipped && wantTorch && !noTorch ? `, torch: ${r.torchSkipped}` : ''));
        results.push(r);
      }
    }
  } finally {
    setNativeThreads(prevThreads);
  }
  out(formatBenchTable(results));
  if (options.json) fs.writeFileSync(options.json, JSON.stringify({ date: new Date().toISOString(), results }, null, 2));
  return results;
}

/** Bytes as whole MiB (a numeric column; the header names the unit). */
function mib(bytes: number | null): string {
  return bytes == null ? '-' : (bytes / 2 ** 20).toFixed(0);
}

/**
 * Plain-text table of benchmark results (one row per model and thread count).
 * img/s columns are on each row's basis: CPU time for 1 thread, wall time
 * for more; `(wall)` is the training wall-clock figure.
 */
export function formatBenchTable(results: BenchResult[]): string {
  const header = ['model', 'width', 'thr', 'params', 'train img/s', '(wall)', 'torch train', 'train ratio', 'infer img/s', 'torch infer', 'infer ratio', 'peak MiB', 'heap MiB'];
  const rows = results.map((r) => {
    const head = [r.model, r.width == null ? 'def' : String(r.width), String(r.threads ?? 1)];
    if (r.error) return [...head, '-', 'error: ' + r.error.slice(0, 60), '', '', '', '', '', '', '', ''];
    const f = (v: number | undefined, d = 1) => (v == null || !Number.isFinite(v) ? '-' : v.toFixed(d));
    return [
      ...head, String(r.params), f(r.trainImgPerSec), f(r.trainWallImgPerSec), f(r.torch?.trainImgPerSec), f(r.trainRatio, 2),
      f(r.inferImgPerSec), f(r.torch?.inferImgPerSec), f(r.inferRatio, 2), mib(r.peakTensorBytes), mib(r.wasmHeapBytes),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export { describeModel, GRAPH_LAYER_CLASSES, type ModelGraph, type GraphNode } from './graph';
export { withKernelTimings, cpuMs, type KernelTiming } from './kernel-profiler';
export { runTorchTwin, torchUnavailable, type TorchTiming } from './torch';
