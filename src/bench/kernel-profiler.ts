/**
 * Per-kernel CPU-time profile of whatever runs on the active tfjs backend.
 *
 * Wraps every kernel registered for the backend with a timer while `fn`
 * runs, then restores them. Times are process CPU time (user + system,
 * `process.cpuUsage`), which is robust to other processes sharing the cores
 * (wall time is not). Times are inclusive: a kernel that calls another
 * (medfl's backprop kernels call BatchMatMul / Conv2D / Transpose) counts
 * it too, so the column does not sum to the step time. Meant for synchronous
 * backends (wasm, cpu); on asynchronous ones it measures dispatch only.
 */
import * as tf from '@tensorflow/tfjs';

/** Accumulated time of one kernel. */
export interface KernelTiming {
  kernel: string;
  /** Inclusive milliseconds (CPU time unless another clock was given) over all calls. */
  ms: number;
  calls: number;
}

/** Process CPU time in milliseconds (user + system). */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Run `fn` with every kernel of `backendName` timed; timings sorted by time,
 * descending. `clock` (milliseconds) defaults to process CPU time; pass
 * `performance.now` for wall time (what a multi-threaded kernel saves shows
 * only there).
 */
export function withKernelTimings<T>(fn: () => T, backendName = tf.getBackend(), clock: () => number = cpuMs): { result: T; timings: KernelTiming[] } {
  const times = new Map<string, KernelTiming>();
  const configs = tf.getKernelsForBackend(backendName) as Array<tf.KernelConfig & { kernelFunc: tf.KernelFunc }>;
  const originals = configs.map((c) => c.kernelFunc);
  configs.forEach((cfg, i) => {
    const orig = originals[i];
    cfg.kernelFunc = ((args: Parameters<tf.KernelFunc>[0]) => {
      const t0 = clock();
      try {
        return orig(args);
      } finally {
        const e = times.get(cfg.kernelName) ?? { kernel: cfg.kernelName, ms: 0, calls: 0 };
        e.ms += clock() - t0;
        e.calls++;
        times.set(cfg.kernelName, e);
      }
    }) as tf.KernelFunc;
  });
  try {
    const result = fn();
    return { result, timings: [...times.values()].sort((a, b) => b.ms - a.ms) };
  } finally {
    configs.forEach((cfg, i) => {
      cfg.kernelFunc = originals[i];
    });
  }
}
