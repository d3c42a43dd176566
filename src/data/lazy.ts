/**
 * The lazy {@link Dataset} every file loader returns: sample infos are built
 * once at open time (file listing / CSV), pixels are decoded on `load(i)`,
 * optionally through a small LRU cache.
 */
import type { Dataset, DatasetTask, Sample, SampleInfo } from './types';

/**
 * A least-recently-used cache of at most `capacity` entries (`capacity` 0
 * disables it). Used to keep recently decoded samples.
 */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`LruCache: capacity must be a non-negative integer, got ${capacity}`);
    }
  }

  get size(): number {
    return this.map.size;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** The value, marking it most recently used; `undefined` when absent. */
  get(key: K): V | undefined {
    if (!this.map.has(key)) return undefined;
    const v = this.map.get(key) as V;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  /** Insert (or refresh) a value, evicting the least recently used beyond capacity. */
  set(key: K, value: V): void {
    if (this.capacity === 0) return;
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.capacity) {
      const oldest = this.map.keys().next().value as K;
      this.map.delete(oldest);
    }
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }
}

/** Common constructor fields of {@link LazyDataset}. */
export interface LazyDatasetSpec<E> {
  name: string;
  task: DatasetTask;
  classNames: readonly string[];
  maskClasses: readonly string[];
  /** One entry per sample: its info plus whatever `decode` needs (file paths, slice index). */
  entries: readonly (E & { info: SampleInfo })[];
  /** Decode one entry into a sample (pixels + mask). */
  decode: (entry: E & { info: SampleInfo }) => Promise<Sample>;
  /** LRU cache capacity in samples. Default 0 (off). */
  cacheSize?: number;
}

/**
 * A random-access dataset over precomputed entries, decoding on demand.
 * `info(i)` is synchronous and cheap; `load(i)` decodes (or hits the cache).
 * Cached samples are shared objects: copy before mutating them in place.
 */
export class LazyDataset<E = unknown> implements Dataset {
  readonly name: string;
  readonly length: number;
  readonly task: DatasetTask;
  readonly classNames: readonly string[];
  readonly maskClasses: readonly string[];
  private readonly entries: readonly (E & { info: SampleInfo })[];
  private readonly decode: (entry: E & { info: SampleInfo }) => Promise<Sample>;
  private readonly cache: LruCache<number, Promise<Sample>>;

  constructor(spec: LazyDatasetSpec<E>) {
    this.name = spec.name;
    this.task = spec.task;
    this.classNames = spec.classNames;
    this.maskClasses = spec.maskClasses;
    this.entries = spec.entries;
    this.length = spec.entries.length;
    this.decode = spec.decode;
    this.cache = new LruCache(spec.cacheSize ?? 0);
  }

  /** The entry behind sample `i` (file paths etc.). */
  entry(i: number): E & { info: SampleInfo } {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new RangeError(`${this.name}: sample index ${i} out of range [0, ${this.length})`);
    }
    return this.entries[i];
  }

  info(i: number): SampleInfo {
    const info = this.entry(i).info;
    return { id: info.id, label: info.label, meta: { ...info.meta } };
  }

  load(i: number): Promise<Sample> {
    const entry = this.entry(i);
    const hit = this.cache.get(i);
    if (hit) return hit;
    const p = this.decode(entry);
    if (this.cache.capacity > 0) {
      this.cache.set(i, p);
      p.catch(() => this.cache.delete(i));
    }
    return p;
  }

  /** Number of samples currently cached. */
  get cachedCount(): number {
    return this.cache.size;
  }
}

/**
 * Several datasets seen as one (e.g. one NIfTI-slice dataset per volume).
 * All parts must share task, class names and mask classes.
 */
export class ConcatDataset implements Dataset {
  readonly length: number;
  readonly task: DatasetTask;
  readonly classNames: readonly string[];
  readonly maskClasses: readonly string[];
  private readonly offsets: number[] = [];

  constructor(
    readonly parts: readonly Dataset[],
    readonly name = parts.map((p) => p.name).join('+'),
  ) {
    if (parts.length === 0) throw new Error('ConcatDataset: need at least one dataset');
    const first = parts[0];
    for (const p of parts) {
      if (p.task !== first.task || p.classNames.join('\u0000') !== first.classNames.join('\u0000') || p.maskClasses.join('\u0000') !== first.maskClasses.join('\u0000')) {
        throw new Error(
          `ConcatDataset: '${p.name}' (task ${p.task}, classes [${p.classNames}], mask classes [${p.maskClasses}]) does not match '${first.name}' (task ${first.task}, classes [${first.classNames}], mask classes [${first.maskClasses}])`,
        );
      }
    }
    let n = 0;
    for (const p of parts) {
      this.offsets.push(n);
      n += p.length;
    }
    this.length = n;
    this.task = first.task;
    this.classNames = first.classNames;
    this.maskClasses = first.maskClasses;
  }

  private locate(i: number): [Dataset, number] {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new RangeError(`${this.name}: sample index ${i} out of range [0, ${this.length})`);
    }
    let lo = 0;
    let hi = this.parts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.offsets[mid] <= i) lo = mid;
      else hi = mid - 1;
    }
    return [this.parts[lo], i - this.offsets[lo]];
  }

  info(i: number): SampleInfo {
    const [d, j] = this.locate(i);
    return d.info(j);
  }

  load(i: number): Promise<Sample> {
    const [d, j] = this.locate(i);
    return d.load(j);
  }
}
