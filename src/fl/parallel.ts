/**
 * Training the sites of a round in parallel worker threads (`workers > 1`;
 * fedavg and local only: IIL/CIIL and SplitFed v2 are sequential by
 * definition, SplitFed v1 and centralized run in-process).
 *
 * Each worker owns one tfjs engine (the backend of the main thread, e.g.
 * wasm) and builds the model ONCE from (name, options, seed); per job it
 * receives the starting weights as transferable Float32Arrays, trains with
 * the same `trainClient` as the in-process path and sends the weights back
 * (transferred). Datasets: every site is pinned to one worker (site index
 * mod workers) and its training samples are decoded in the main thread and
 * sent (structured-clone copy of the typed arrays, not transferred, since the
 * main thread keeps using them) the first time that worker trains the site;
 * the worker keeps them as an InMemoryDataset for the following rounds. So
 * a lazily-loaded dataset is decoded once in the main thread and held in
 * memory by one worker.
 *
 * Results are delivered in job order, so aggregation order (and therefore
 * the floating-point result) does not depend on which worker finishes first.
 *
 * A worker that dies (exits, throws an uncaught error, is killed for memory,
 * or reports a WebAssembly trap that leaves its engine unusable) is detected:
 * its pending jobs are rejected, the next job for its slot starts a fresh
 * worker (the sites' data are sent again), and every job the death affected
 * is retried ONCE on the restarted worker. A job whose retry dies too fails
 * with `worker thread died: <exit code / error>` (the round loop records the
 * site as failed for that round). Retried results are bit-identical to
 * in-process training: the new worker builds the same model from the same
 * seed and trains from the same starting weights and batch seed.
 *
 * Worker entry: from the sources (tsx, tests) the worker is started with a
 * two-line eval script that does `require('tsx/cjs')` and requires
 * `worker.ts`; from the compiled package it starts `dist/fl/worker.js`
 * directly. Both paths are chosen from this file's own extension.
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { ModelOptions } from '../models/types';
import type { Sample } from '../data/types';
import type { ClientConfig, LocalTrainSettings, TrainInstruction, TrainResult } from './strategy';
import type { BatchLog } from '../train';
import type { Site } from '../data/site';

/** Data every worker starts with. */
export interface WorkerInit {
  backend: string;
  model: { name: string; options: ModelOptions };
}

/** Options of {@link SiteTrainerPool}. */
export interface SiteTrainerPoolOptions extends WorkerInit {
  /** Number of worker threads (>= 1). */
  workers: number;
  /** All sites of the run (fixes the site -> worker pinning). */
  sites: Site[];
}

/** Messages main -> worker. */
export type WorkerRequest =
  | { id: number; type: 'data'; site: string; name: string; task: string; classNames: string[]; maskClasses: string[]; samples: Sample[] }
  | { id: number; type: 'train'; site: string; start: Float32Array[]; seed: number; config: ClientConfig; settings: LocalTrainSettings; progress?: boolean };

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/**
 * Messages worker -> main. `fatal`: the job failed with a WebAssembly trap
 * (`memory access out of bounds`, `Aborted()`), after which the worker's
 * engine is unusable; the pool treats the worker as dead.
 */
export type WorkerReply = { id: number; ok: true; weights?: Float32Array[]; loss?: number; metrics?: Record<string, number> } | { id: number; ok: false; error: string; fatal?: boolean };

/** A progress message of a running train request (sent before its reply when the request asked for `progress`). */
export interface WorkerProgress {
  id: number;
  progress: BatchLog;
}

/** A worker thread that died while (or before) running a request; the message is the reason. */
class WorkerDiedError extends Error {}

/** Observer of worker starts (see {@link observeWorkerStarts}). */
export type WorkerStartObserver = (worker: Worker, slot: number) => void;

const startObservers = new Set<WorkerStartObserver>();

/**
 * Test / monitoring seam: `observer` is called with every worker thread any
 * {@link SiteTrainerPool} starts (first starts and restarts) and its slot
 * (site index mod `workers`), right after the thread is created. The tests
 * use it to kill a worker in the middle of a run. Returns a function that
 * removes the observer. Not part of the public API.
 */
export function observeWorkerStarts(observer: WorkerStartObserver): () => void {
  startObservers.add(observer);
  return () => {
    startObservers.delete(observer);
  };
}

/** Start a worker running ./worker (TypeScript through tsx, or the compiled .js). */
export function startWorker(init: WorkerInit): Worker {
  const fromSource = __filename.endsWith('.ts');
  const file = path.join(__dirname, fromSource ? 'worker.ts' : 'worker.js');
  if (fromSource) {
    return new Worker(`require('tsx/cjs');\nrequire(${JSON.stringify(file)});\n`, { eval: true, workerData: init });
  }
  return new Worker(file, { workerData: init });
}

class Handle {
  private readonly pending = new Map<number, { resolve: (r: WorkerReply) => void; reject: (e: Error) => void; onProgress?: (log: BatchLog) => void }>();
  private nextId = 1;
  readonly sent = new Set<string>();
  /** Why the worker died (null while it is alive). */
  dead: string | null = null;

  constructor(readonly worker: Worker) {
    worker.on('message', (r: WorkerReply | WorkerProgress) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      if ('progress' in r) {
        p.onProgress?.(r.progress);
        return;
      }
      if (!r.ok && r.fatal) {
        // The engine is unusable: this and every other pending job die with the worker.
        this.fail(`its engine failed: ${r.error}`);
        void worker.terminate();
        return;
      }
      this.pending.delete(r.id);
      p.resolve(r);
    });
    worker.on('error', (e: Error) => this.fail(`uncaught error: ${e.message}`));
    worker.on('exit', (code: number) => {
      if (this.dead === null) this.fail(`exit code ${code}`);
    });
  }

  private fail(reason: string): void {
    this.dead ??= reason;
    const err = new WorkerDiedError(this.dead);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  request(msg: WithoutId<WorkerRequest>, transfer: ArrayBuffer[] = [], onProgress?: (log: BatchLog) => void): Promise<WorkerReply> {
    if (this.dead !== null) return Promise.reject(new WorkerDiedError(this.dead));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }
}

/** A fixed pool of worker threads training sites (see the module comment). */
export class SiteTrainerPool {
  private readonly handles: (Handle | null)[];
  private readonly siteIndex: Map<string, number>;

  constructor(private readonly options: SiteTrainerPoolOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new Error(`SiteTrainerPool: workers must be an integer >= 1, got ${options.workers}`);
    this.handles = Array.from({ length: options.workers }, () => null);
    this.siteIndex = new Map(options.sites.map((s, i) => [s.name, i]));
  }

  /** The live worker of the site's slot, started (or restarted after a death) on demand. */
  private handleFor(site: string): Handle {
    const k = (this.siteIndex.get(site) ?? 0) % this.handles.length;
    let h = this.handles[k];
    if (!h || h.dead !== null) {
      if (h) void h.worker.terminate();
      h = new Handle(startWorker({ backend: this.options.backend, model: this.options.model }));
      this.handles[k] = h;
      for (const observe of startObservers) observe(h.worker, k);
    }
    return h;
  }

  private async ensureData(h: Handle, site: Site): Promise<void> {
    if (h.sent.has(site.name)) return;
    const ds = site.train;
    const samples: Sample[] = [];
    for (let i = 0; i < ds.length; i++) samples.push(await ds.load(i));
    const r = await h.request({ type: 'data', site: site.name, name: ds.name, task: ds.task, classNames: [...ds.classNames], maskClasses: [...ds.maskClasses], samples });
    if (!r.ok) throw new Error(r.error);
    h.sent.add(site.name);
  }

  /** One attempt at a job on its slot's (live) worker; rejects with WorkerDiedError if that worker dies. */
  private async attempt(job: TrainInstruction, settings: LocalTrainSettings, onBatch?: (site: string, log: BatchLog) => void): Promise<TrainResult> {
    const h = this.handleFor(job.site.name);
    await this.ensureData(h, job.site);
    const start = job.weights.map((w) => Float32Array.from(w));
    const r = await h.request(
      { type: 'train', site: job.site.name, start, seed: job.seed, config: job.config, settings, progress: onBatch !== undefined },
      start.map((w) => w.buffer as ArrayBuffer),
      onBatch && ((log) => onBatch(job.site.name, log)),
    );
    if (!r.ok) throw new Error(r.error);
    return { site: job.site.name, weights: r.weights as Float32Array[], start: job.weights, numExamples: job.site.train.length, loss: r.loss as number, metrics: r.metrics ?? {} };
  }

  /**
   * Train `jobs` on the workers; `onResult` / `onError` are called in job
   * order. A job whose data fails to load or whose training throws goes to
   * `onError`; a job whose worker dies is retried once on a restarted worker
   * and goes to `onError` (`worker thread died: ...`) if that one dies too.
   * `onBatch` (optional) gets every batch's progress as the workers send it
   * (interleaved across sites, in each site's order).
   */
  async train(
    jobs: readonly TrainInstruction[],
    settings: LocalTrainSettings,
    onResult: (r: TrainResult) => void,
    onError: (site: string, message: string) => void,
    onBatch?: (site: string, log: BatchLog) => void,
  ): Promise<void> {
    const promises = jobs.map(async (job): Promise<TrainResult> => {
      try {
        return await this.attempt(job, settings, onBatch);
      } catch (e) {
        if (!(e instanceof WorkerDiedError)) throw e;
      }
      try {
        return await this.attempt(job, settings, onBatch);
      } catch (e) {
        if (!(e instanceof WorkerDiedError)) throw e;
        throw new Error(`worker thread died: ${e.message} (the job was retried once on a restarted worker, which died too)`);
      }
    });
    // Avoid unhandled rejections while earlier jobs are awaited.
    promises.forEach((p) => p.catch(() => undefined));
    for (let i = 0; i < jobs.length; i++) {
      try {
        onResult(await promises[i]);
      } catch (e) {
        onError(jobs[i].site.name, (e as Error).message);
      }
    }
  }

  /** Stop every worker. */
  async close(): Promise<void> {
    await Promise.all(this.handles.map((h) => (h ? h.worker.terminate() : Promise.resolve(0))));
    this.handles.fill(null);
  }
}
