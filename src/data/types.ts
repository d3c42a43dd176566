/**
 * The data contract every loader, partitioner, oversampler and trainer shares.
 *
 * Pixel data is held as plain typed arrays (never tensors) so samples can be
 * cached, transferred to worker threads and freed without touching the tfjs
 * engine. Tensors are made per batch by {@link toBatch}.
 */

/** Per-sample metadata. Free-form, but these keys have fixed meanings. */
export interface SampleMeta {
  /** Hospital / acquisition site the sample comes from (natural partition key). */
  site?: string;
  /** Patient identifier: all samples of one patient must stay on one side of a split. */
  patientId?: string;
  /** Lesion identifier (HAM10000 `lesion_id`), a finer grouping key than the patient. */
  lesionId?: string;
  /** Imaging modality, e.g. 'dermoscopy', 'endoscopy', 'CT', 'MR'. */
  modality?: string;
  /** File the image was read from, for error messages and provenance. */
  file?: string;
  /** Anything else (CSV columns, slice index, ...). */
  [key: string]: unknown;
}

/** What is known about a sample without decoding pixels (cheap, synchronous). */
export interface SampleInfo {
  /** Stable identifier, unique inside its dataset. */
  id: string;
  /** Image-level class index into `Dataset.classNames`, when the task has one. */
  label?: number;
  meta: SampleMeta;
}

/**
 * One decoded sample.
 * - `image`: NHWC layout without the N, i.e. row-major `[H, W, C]`, float32 in [0, 1].
 * - `mask`: optional class map, row-major `[H, W]`, integer class ids
 *   (0 = background) indexing `Dataset.maskClasses`.
 */
export interface Sample extends SampleInfo {
  image: Float32Array;
  /** `[H, W, C]` of `image` (and `[H, W]` of `mask`). */
  shape: [number, number, number];
  mask?: Uint8Array;
}

/** Which supervision a dataset carries. */
export type DatasetTask = 'segmentation' | 'classification' | 'segmentation+classification';

/**
 * A random-access collection of samples. Loaders decode lazily in `load`
 * (so 10,000 full-size images never sit in memory at once); `info` is cheap.
 */
export interface Dataset {
  readonly name: string;
  readonly length: number;
  readonly task: DatasetTask;
  /** Image-level class names (index = `SampleInfo.label`). Empty when there are none. */
  readonly classNames: readonly string[];
  /** Mask class names, index 0 = background. Empty when there are no masks. */
  readonly maskClasses: readonly string[];
  /** Metadata of sample `i` without decoding it. */
  info(i: number): SampleInfo;
  /** Decode sample `i`. */
  load(i: number): Promise<Sample>;
}

/** A dataset whose samples are already decoded and held in memory. */
export class InMemoryDataset implements Dataset {
  readonly length: number;

  constructor(
    readonly name: string,
    readonly samples: readonly Sample[],
    readonly task: DatasetTask,
    readonly classNames: readonly string[] = [],
    readonly maskClasses: readonly string[] = [],
  ) {
    this.length = samples.length;
  }

  info(i: number): SampleInfo {
    const s = this.get(i);
    return { id: s.id, label: s.label, meta: s.meta };
  }

  /** Synchronous access to a decoded sample. */
  get(i: number): Sample {
    if (!Number.isInteger(i) || i < 0 || i >= this.samples.length) {
      throw new RangeError(`${this.name}: sample index ${i} out of range [0, ${this.samples.length})`);
    }
    return this.samples[i];
  }

  async load(i: number): Promise<Sample> {
    return this.get(i);
  }

  /** A new in-memory dataset holding the samples at `indices` (in that order). */
  subset(indices: readonly number[], name = this.name): InMemoryDataset {
    return new InMemoryDataset(
      name,
      indices.map((i) => this.get(i)),
      this.task,
      this.classNames,
      this.maskClasses,
    );
  }
}

/** A view of another dataset restricted to some indices (lazy: nothing is decoded). */
export class SubsetDataset implements Dataset {
  readonly length: number;
  readonly task: DatasetTask;
  readonly classNames: readonly string[];
  readonly maskClasses: readonly string[];

  constructor(
    readonly parent: Dataset,
    readonly indices: readonly number[],
    readonly name = `${parent.name}[subset]`,
  ) {
    for (const i of indices) {
      if (!Number.isInteger(i) || i < 0 || i >= parent.length) {
        throw new RangeError(`${parent.name}: subset index ${i} out of range [0, ${parent.length})`);
      }
    }
    this.length = indices.length;
    this.task = parent.task;
    this.classNames = parent.classNames;
    this.maskClasses = parent.maskClasses;
  }

  info(i: number): SampleInfo {
    return this.parent.info(this.indexOf(i));
  }

  load(i: number): Promise<Sample> {
    return this.parent.load(this.indexOf(i));
  }

  private indexOf(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.indices.length) {
      throw new RangeError(`${this.name}: sample index ${i} out of range [0, ${this.indices.length})`);
    }
    return this.indices[i];
  }
}

/** Decode every sample of a dataset into memory (for small sets and tests). */
export async function materialize(ds: Dataset, name = ds.name): Promise<InMemoryDataset> {
  const samples: Sample[] = [];
  for (let i = 0; i < ds.length; i++) samples.push(await ds.load(i));
  return new InMemoryDataset(name, samples, ds.task, ds.classNames, ds.maskClasses);
}
