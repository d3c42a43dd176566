/**
 * Worker-thread side of ./parallel: one tfjs engine and one model per
 * worker; trains sites with the same `trainClient` as the in-process path.
 * Started by `startWorker` (never imported by library code).
 */
import { parentPort, workerData } from 'worker_threads';
import type * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../backend';
import { InMemoryDataset, type DatasetTask } from '../data/types';
import { createModel } from '../models/registry';
import { trainClient } from './strategy';
import type { WorkerInit, WorkerProgress, WorkerReply, WorkerRequest } from './parallel';
import type { BatchLog } from '../train';

if (parentPort) {
  const port = parentPort;
  const init = workerData as WorkerInit;
  const ready: Promise<tf.LayersModel> = (async () => {
    await initBackend(init.backend as BackendName, { log: () => {} });
    return createModel(init.model.name, init.model.options);
  })();
  const datasets = new Map<string, InMemoryDataset>();
  const handle = async (msg: WorkerRequest): Promise<void> => {
    try {
      if (msg.type === 'data') {
        datasets.set(msg.site, new InMemoryDataset(msg.name, msg.samples, msg.task as DatasetTask, msg.classNames, msg.maskClasses));
        port.postMessage({ id: msg.id, ok: true } satisfies WorkerReply);
        return;
      }
      const model = await ready;
      const ds = datasets.get(msg.site);
      if (!ds) throw new Error(`worker: no data for site '${msg.site}'`);
      const onBatch = msg.progress ? (log: BatchLog) => port.postMessage({ id: msg.id, progress: log } satisfies WorkerProgress) : undefined;
      const r = await trainClient(model, { site: { name: msg.site, train: ds, test: ds }, weights: msg.start, seed: msg.seed, config: msg.config }, msg.settings, onBatch);
      port.postMessage({ id: msg.id, ok: true, weights: r.weights, loss: r.loss, metrics: r.metrics } satisfies WorkerReply, r.weights.map((w) => w.buffer as ArrayBuffer));
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      // A WebAssembly trap (out-of-bounds access, Aborted()) leaves this thread's engine unusable.
      const fatal = (e instanceof Error && e.name === 'RuntimeError') || /Aborted\(|memory access out of bounds/.test(error);
      port.postMessage({ id: msg.id, ok: false, error, ...(fatal ? { fatal: true } : {}) } satisfies WorkerReply);
    }
  };
  let chain = Promise.resolve();
  port.on('message', (msg: WorkerRequest) => {
    chain = chain.then(() => handle(msg));
  });
}
