/**
 * What a medfl site answers to a Flower ServerApp: the "train" and
 * "evaluate" messages of Flower's strategies (FedAvg, FedProx, FedAdam, ...),
 * computed with medfl's own client — the same `trainClient` the in-process
 * round loop (`runFederated`) runs, in a worker thread (./fl/parallel's
 * `SiteTrainerPool`, one thread) so heartbeats keep going while tfjs trains.
 *
 * Messages (content keys as Flower's strategies write them):
 *
 * - train: one ArrayRecord (any key; Flower's 'arrays') whose keys are the
 *   model's tfjs weight names (`flowerWeightNames`) and one ConfigRecord
 *   ('config'): `lr` (Adam learning rate, default the node's), `local-epochs`,
 *   `batch-size`, `seed` (run seed), `server-round` (1-based; batch order is
 *   `roundSeed(seed, server-round - 1, site)`, as in-process round r - 1),
 *   `proximal-mu` (FedProx: the proximal term mu/2 ||w - w_global||^2).
 *   Reply: 'arrays' (ArrayRecord, same keys, float32 .npy) and 'metrics'
 *   (MetricRecord: `num-examples` = training images, `loss` = mean loss of
 *   the last local epoch).
 * - evaluate: the ArrayRecord to score on the site's held-out test split.
 *   Reply: 'metrics' with `dice`, `iou` (per-image means over the test
 *   images), `loss` (BCE + soft Dice per image, averaged) and `num-examples`
 *   (test images), so Flower's num-examples-weighted average is medfl's
 *   image-weighted pooled score.
 *
 * Anything else (another message type, no or several ArrayRecords, missing
 * or extra weight names, shapes that differ from the local model, non-float32
 * arrays, bad config values) throws an error naming the value; the node
 * replies with it and keeps running.
 *
 * Departures: the learning-rate schedules of `runFederated` are not sent by
 * Flower's strategies (constant rate `lr`); DP clipping is not configured
 * through the ConfigRecord.
 */
import * as tf from '@tensorflow/tfjs';
import type { Site } from '../data/site';
import { createModel } from '../models/registry';
import type { ModelConfig } from '../fl/types';
import { SiteTrainerPool } from '../fl/parallel';
import { roundSeed, type ClientConfig, type LocalTrainSettings, type TrainResult } from '../fl/strategy';
import { evaluateLoss, evaluateSegmentation } from '../train';
import { getWeights, setWeights } from '../models/weights';
import { arrayValues, float32Array, type FlowerArray, type FlowerMessage, type FlowerRecord, type RecordDict } from './objects';
import type { RecordValue } from './proto';

/**
 * The name of every weight of `model` in `model.weights` order: the tfjs
 * weight name as the model's builder gave it (`originalName`, without the
 * `_1` suffix tfjs adds when a second model with the same layer names is
 * built in one process). Throws when two weights share a name.
 */
export function flowerWeightNames(model: tf.LayersModel): string[] {
  const names = model.weights.map((w) => (w as unknown as { originalName?: string }).originalName ?? w.name);
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new Error(`model '${model.name}': two weights are both named '${n}'; Flower ArrayRecords need unique names`);
    seen.add(n);
  }
  return names;
}

/** Weights (model order) as an ArrayRecord keyed by `names`. */
export function toArrayRecord(names: readonly string[], shapes: readonly number[][], weights: readonly Float32Array[]): FlowerRecord {
  return { kind: 'array', arrays: new Map(names.map((n, i) => [n, float32Array(weights[i], shapes[i])])) };
}

/**
 * The weights (model order) of an ArrayRecord keyed by the model's weight
 * names. Throws listing missing and unexpected names, or naming the first
 * array whose shape differs from the local model's.
 */
export function fromArrayRecord(arrays: ReadonlyMap<string, FlowerArray>, names: readonly string[], shapes: readonly number[][]): Float32Array[] {
  const missing = names.filter((n) => !arrays.has(n));
  const extra = [...arrays.keys()].filter((k) => !names.includes(k));
  if (missing.length || extra.length) {
    const list = (xs: string[]) => `${xs.slice(0, 5).map((x) => `'${x}'`).join(', ')}${xs.length > 5 ? ` and ${xs.length - 5} more` : ''}`;
    throw new Error(`the ArrayRecord does not match the local model (${names.length} weights):${missing.length ? ` missing ${list(missing)};` : ''}${extra.length ? ` unexpected ${list(extra)}` : ''}`);
  }
  return names.map((n, i) => {
    const { shape, values } = arrayValues(arrays.get(n) as FlowerArray, n);
    if (shape.join(',') !== shapes[i].join(',')) throw new Error(`array '${n}' has shape [${shape.join(', ')}], the local model's weight has [${shapes[i].join(', ')}]`);
    return values;
  });
}

/** The single record of `kind` in a message's content (undefined when absent and optional). */
function recordOf<K extends FlowerRecord['kind']>(content: RecordDict, kind: K, required: boolean): Extract<FlowerRecord, { kind: K }> | undefined {
  const found = [...content].filter(([, r]) => r.kind === kind);
  const label = kind === 'array' ? 'ArrayRecord' : kind === 'config' ? 'ConfigRecord' : 'MetricRecord';
  if (found.length > 1) throw new Error(`expected one ${label}, got ${found.length} (${found.map(([k]) => `'${k}'`).join(', ')})`);
  if (found.length === 0) {
    if (required) throw new Error(`the message carries no ${label} (records: ${[...content.keys()].map((k) => `'${k}'`).join(', ') || 'none'})`);
    return undefined;
  }
  return found[0][1] as Extract<FlowerRecord, { kind: K }>;
}

/** A number from a ConfigRecord value (double or int), checked; `fallback` when absent. */
function configNumber(config: ReadonlyMap<string, RecordValue> | undefined, key: string, fallback: number | undefined, check: { integer?: boolean; min?: number; gt?: number } = {}): number | undefined {
  const v = config?.get(key);
  if (v === undefined) return fallback;
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new Error(`config '${key}' must be a number, got ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  if (check.integer && !Number.isInteger(n)) throw new Error(`config '${key}' must be an integer, got ${n}`);
  if (check.min !== undefined && n < check.min) throw new Error(`config '${key}' must be >= ${check.min}, got ${n}`);
  if (check.gt !== undefined && !(n > check.gt)) throw new Error(`config '${key}' must be > ${check.gt}, got ${n}`);
  return n;
}

/** Options of {@link MedflSiteApp}. */
export interface SiteAppOptions {
  /** The site this node serves (its train and test splits never leave it). */
  site: Site;
  /** The network (built with `createModel(name, { ...options, seed })`, as `runFederated` builds it). */
  model: Required<Pick<ModelConfig, 'name' | 'inputShape'>> & ModelConfig;
  /** Run seed: model init and the default batch-order seed (a ConfigRecord `seed` wins). Default 0. */
  seed?: number;
  /** Defaults when the ConfigRecord leaves a value out: learning rate 1e-3, 1 local epoch, batch 8 (runFederated's). */
  defaults?: { learningRate?: number; localEpochs?: number; batchSize?: number };
  /** Evaluation batch size. Default 16. */
  evalBatchSize?: number;
  log?: (line: string) => void;
}

/** The message handler of one medfl site (see the module comment). */
export class MedflSiteApp {
  private constructor(
    private readonly options: SiteAppOptions,
    private readonly model: tf.LayersModel,
    private readonly pool: SiteTrainerPool,
    readonly names: string[],
    readonly shapes: number[][],
  ) {}

  /** Build the model (main thread, for evaluation and names) and the one-thread training pool. The tfjs backend must be initialised. */
  static create(options: SiteAppOptions): MedflSiteApp {
    const m = options.model;
    const modelOptions = { inputShape: m.inputShape, numClasses: m.numClasses ?? 1, outputActivation: m.outputActivation, width: m.width, seed: options.seed ?? 0 };
    const model = createModel(m.name, modelOptions);
    const pool = new SiteTrainerPool({ workers: 1, backend: tf.getBackend(), model: { name: m.name, options: modelOptions }, sites: [options.site] });
    return new MedflSiteApp(options, model, pool, flowerWeightNames(model), model.weights.map((w) => w.shape.map((d) => d ?? 0)));
  }

  /** The model's current (initial) weights, model order. */
  initialWeights(): Float32Array[] {
    return getWeights(this.model);
  }

  private get classes(): number {
    const n = this.options.model.numClasses ?? 1;
    return n === 1 ? 2 : n;
  }

  /** Answer one message (throws for anything it cannot answer; see the module comment). */
  async handle(message: FlowerMessage): Promise<RecordDict> {
    const type = message.metadata.messageType;
    const content = message.content;
    if (!content) throw new Error(`'${type}' message without content`);
    if (type === 'train') return this.train(content);
    if (type === 'evaluate') return this.evaluate(content);
    throw new Error(`unsupported message type '${type}' (a medfl node answers 'train' and 'evaluate')`);
  }

  private async train(content: RecordDict): Promise<RecordDict> {
    const arrays = recordOf(content, 'array', true)!;
    const config = recordOf(content, 'config', false)?.values;
    const weights = fromArrayRecord(arrays.arrays, this.names, this.shapes);
    const d = this.options.defaults ?? {};
    const epochs = configNumber(config, 'local-epochs', d.localEpochs ?? 1, { integer: true, min: 1 }) as number;
    const round = configNumber(config, 'server-round', 1, { integer: true, min: 1 }) as number;
    const seed = configNumber(config, 'seed', this.options.seed ?? 0, { integer: true, min: 0 }) as number;
    const mu = configNumber(config, 'proximal-mu', undefined, { min: 0 });
    const settings: LocalTrainSettings = {
      epochs,
      batchSize: configNumber(config, 'batch-size', d.batchSize ?? 8, { integer: true, min: 1 }) as number,
      learningRate: configNumber(config, 'lr', d.learningRate ?? 1e-3, { gt: 0 }) as number,
      encoding: (this.options.model.numClasses ?? 1) === 1 ? 'binary' : 'onehot',
      numClasses: this.classes,
      epochOffset: (round - 1) * epochs,
    };
    const site = this.options.site;
    const clientConfig: ClientConfig = mu !== undefined ? { proximalMu: mu } : {};
    let result: TrainResult | undefined;
    let failure: string | undefined;
    await this.pool.train(
      [{ site, weights, seed: roundSeed(seed, round - 1, site.name), config: clientConfig }],
      settings,
      (r) => (result = r),
      (_site, message) => (failure = message),
    );
    if (!result) throw new Error(`training failed: ${failure ?? 'no result'}`);
    const r = result as TrainResult;
    this.options.log?.(`[medfl] site '${site.name}' round ${round}: trained ${r.numExamples} images, loss ${r.loss.toFixed(4)}`);
    const metrics = new Map<string, RecordValue>([['num-examples', BigInt(r.numExamples)], ['loss', r.loss]]);
    for (const [k, v] of Object.entries(r.metrics)) metrics.set(k, v);
    return new Map<string, FlowerRecord>([
      ['arrays', toArrayRecord(this.names, this.shapes, r.weights)],
      ['metrics', { kind: 'metric', values: metrics }],
    ]);
  }

  private async evaluate(content: RecordDict): Promise<RecordDict> {
    const arrays = recordOf(content, 'array', true)!;
    const weights = fromArrayRecord(arrays.arrays, this.names, this.shapes);
    const site = this.options.site;
    setWeights(this.model, weights);
    const batchSize = this.options.evalBatchSize ?? 16;
    const scores = (await evaluateSegmentation(this.model, site.test, { batchSize, numClasses: this.classes, groupBy: '\u0000none' })).overall;
    const loss = await evaluateLoss(this.model, site.test, { batchSize, encoding: (this.options.model.numClasses ?? 1) === 1 ? 'binary' : 'onehot', numClasses: this.classes });
    this.options.log?.(`[medfl] site '${site.name}': evaluated ${site.test.length} test images, Dice ${scores.dice.toFixed(4)}, IoU ${scores.iou.toFixed(4)}`);
    return new Map<string, FlowerRecord>([
      ['metrics', { kind: 'metric', values: new Map<string, RecordValue>([['dice', scores.dice], ['iou', scores.iou], ['loss', loss.loss], ['num-examples', BigInt(site.test.length)]]) }],
    ]);
  }

  /** Stop the training thread and free the model. */
  async close(): Promise<void> {
    await this.pool.close();
    this.model.dispose();
  }
}
