/**
 * HAM10000 dermoscopy (Tschandl et al., Sci Data 5:180161, 2018,
 * arXiv:1803.10417) with the Tschandl lesion segmentations (Nat Med 2020).
 */
import * as path from 'path';
import type { DataFrame } from 'danfojs-node';
import { DataError } from './errors';
import { decodeImageEntry, type ImageEntry, type ImageLoadOptions } from './folder';
import { isDir, listFiles, readCsv, requireColumns, stem } from './files';
import { LazyDataset, type LazyDatasetSpec } from './lazy';
import type { DatasetTask, SampleInfo } from './types';

/** The 7 HAM10000 diagnoses in label order (label = index). */
export const HAM10000_CLASSES = ['akiec', 'bcc', 'bkl', 'df', 'mel', 'nv', 'vasc'] as const;

/** One HAM10000 diagnosis code. */
export type Ham10000Dx = (typeof HAM10000_CLASSES)[number];

/** Columns the metadata CSV must have. */
export const HAM10000_REQUIRED_COLUMNS: readonly string[] = ['lesion_id', 'image_id', 'dx'];

/** Image folders searched under the root, in this order. */
export const HAM10000_IMAGE_DIRS: readonly string[] = ['HAM10000_images_part_1', 'HAM10000_images_part_2', 'HAM10000_images'];

/** A metadata row: CSV strings, except `age` parsed to a number (NaN when blank). */
export type Ham10000Row = Record<string, string | number>;

/** The HAM10000 metadata CSV that adds the `dataset` (acquisition source) column: the sites of a natural partition. */
export const HAM10000_SOURCES_METADATA = 'HAM10000_metadata_subset_with_dataset.csv';

/** Options of {@link openHam10000}. */
export interface Ham10000Options extends ImageLoadOptions {
  /** Folder holding the image folders, the mask folder and the metadata CSV. */
  root: string;
  /**
   * Metadata CSV (relative paths resolve against `root`). Default
   * `'HAM10000_metadata.csv'`. `HAM10000_metadata_subset_with_dataset.csv`
   * adds the `dataset` (source site) column.
   */
  metadataFile?: string;
  /** Mask folder under root. Default `'HAM10000_segmentations_lesion_tschandl'`. */
  maskDir?: string;
  /** Load masks: `'auto'` (default) when the mask folder exists, `true` requires it, `false` skips them. */
  masks?: 'auto' | boolean;
  /** Keep samples whose mask file is missing (loaded without `mask`). Default false: DataError. */
  allowMissingMasks?: boolean;
}

/**
 * HAM10000 as a lazy dataset plus its metadata table. Sample `i` is metadata
 * row `i` of {@link rows} / {@link metadata} (only rows whose image exists).
 */
export class Ham10000Dataset extends LazyDataset<ImageEntry> {
  /** Metadata rows of the samples, in sample order (plain objects). */
  readonly rows: readonly Ham10000Row[];
  /** CSV header. */
  readonly columns: readonly string[];
  /** The metadata CSV that was read. */
  readonly metadataFile: string;
  /** CSV rows whose image file was not found under root (not an error: partial copies are normal). */
  readonly missingImages: number;
  /** `image_id`s of those rows. */
  readonly missingImageIds: readonly string[];
  private frame: DataFrame | undefined;

  constructor(
    spec: LazyDatasetSpec<ImageEntry>,
    extra: { rows: Ham10000Row[]; columns: string[]; metadataFile: string; missingImageIds: string[] },
  ) {
    super(spec);
    this.rows = extra.rows;
    this.columns = extra.columns;
    this.metadataFile = extra.metadataFile;
    this.missingImageIds = extra.missingImageIds;
    this.missingImages = extra.missingImageIds.length;
  }

  /**
   * The sample rows as a danfojs-node DataFrame (row i = sample i), built on
   * first access (danfojs is loaded lazily: it costs ~1 s to import).
   */
  get metadata(): DataFrame {
    if (!this.frame) {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const danfo = require('danfojs-node') as typeof import('danfojs-node');
      const cols = [...this.columns];
      const data = this.rows.map((r) => cols.map((c) => r[c]));
      this.frame = new danfo.DataFrame(data, { columns: cols });
    }
    return this.frame;
  }

  /** Metadata row of sample `i`. */
  row(i: number): Ham10000Row {
    this.entry(i);
    return { ...this.rows[i] };
  }
}

/**
 * Open HAM10000. Samples are the metadata rows whose `image_id.jpg` exists in
 * one of {@link HAM10000_IMAGE_DIRS} (the rest are counted in
 * `missingImages`). Label = index of `dx` in {@link HAM10000_CLASSES}.
 * `meta` carries every CSV column plus `lesionId` (= `lesion_id`),
 * `patientId` (= `lesion_id` too: HAM10000 publishes no patient id, and
 * lesion is the finest safe grouping), `site` (the `dataset` column when the
 * CSV has it, else undefined), `modality: 'dermoscopy'`, `file`, `maskFile`.
 * Task: `'segmentation+classification'` with masks, else `'classification'`.
 * Masks (`<image_id>_segmentation.png`) are palette PNGs for most images and
 * are decoded through the palette (lesion = 1).
 */
export async function openHam10000(options: Ham10000Options): Promise<Ham10000Dataset> {
  const root = options.root;
  if (!(await isDir(root))) {
    throw new DataError({ file: root, kind: 'missing-folder', expected: 'the HAM10000 folder', problem: 'folder not found' });
  }
  const metadataFile = path.resolve(root, options.metadataFile ?? 'HAM10000_metadata.csv');
  const table = await readCsv(metadataFile);
  requireColumns(table, HAM10000_REQUIRED_COLUMNS, metadataFile);

  const imageDirs: string[] = [];
  for (const d of HAM10000_IMAGE_DIRS) if (await isDir(path.join(root, d))) imageDirs.push(path.join(root, d));
  if (imageDirs.length === 0) {
    throw new DataError({
      file: path.join(root, HAM10000_IMAGE_DIRS[0]),
      kind: 'missing-folder',
      expected: `an image folder under the root: ${HAM10000_IMAGE_DIRS.join(' or ')}`,
      problem: 'folder not found',
    });
  }
  const imageById = new Map<string, string>();
  for (const d of imageDirs) {
    for (const f of await listFiles(d, ['.jpg', '.jpeg', '.png'])) if (!imageById.has(stem(f))) imageById.set(stem(f), f);
  }

  const maskDir = path.join(root, options.maskDir ?? 'HAM10000_segmentations_lesion_tschandl');
  const maskMode = options.masks ?? 'auto';
  let useMasks = maskMode === true || (maskMode === 'auto' && (await isDir(maskDir)));
  const maskById = new Map<string, string>();
  if (useMasks) {
    for (const f of await listFiles(maskDir, ['.png'], 'the HAM10000 lesion mask folder')) {
      const s = stem(f);
      if (s.endsWith('_segmentation')) maskById.set(s.slice(0, -'_segmentation'.length), f);
    }
  }

  const hasSite = table.columns.includes('dataset');
  const rows: Ham10000Row[] = [];
  const missingImageIds: string[] = [];
  const entries: (ImageEntry & { info: SampleInfo })[] = [];
  const seen = new Set<string>();
  for (let r = 0; r < table.rows.length; r++) {
    const raw = table.rows[r];
    const id = raw.image_id.replace(/\.(jpe?g|png)$/i, '');
    const image = imageById.get(id);
    if (!image) {
      missingImageIds.push(id);
      continue;
    }
    if (seen.has(id)) continue;
    seen.add(id);
    const label = (HAM10000_CLASSES as readonly string[]).indexOf(raw.dx);
    if (label < 0) {
      throw new DataError({
        file: metadataFile,
        kind: 'csv-format',
        expected: `dx in ${HAM10000_CLASSES.join(', ')}`,
        problem: `row ${r + 2} (image_id ${id}) has dx '${raw.dx}'`,
      });
    }
    const row: Ham10000Row = { ...raw };
    if ('age' in raw) row.age = raw.age.trim() === '' ? NaN : Number(raw.age);
    const mask = useMasks ? maskById.get(id) : undefined;
    if (useMasks && !mask && !options.allowMissingMasks) {
      throw new DataError({
        file: image,
        kind: 'missing-mask',
        expected: `a mask ${path.join(maskDir, `${id}_segmentation.png`)}`,
        problem: 'image has no mask; pass allowMissingMasks: true or masks: false',
      });
    }
    rows.push(row);
    entries.push({
      image,
      mask,
      info: {
        id,
        label,
        meta: {
          ...row,
          lesionId: raw.lesion_id,
          patientId: raw.lesion_id,
          site: hasSite && raw.dataset !== '' ? raw.dataset : undefined,
          modality: 'dermoscopy',
          file: image,
          ...(mask !== undefined ? { maskFile: mask } : {}),
        },
      },
    });
  }
  if (entries.length === 0) {
    throw new DataError({
      file: imageDirs[0],
      kind: 'empty',
      expected: `images named <image_id>.jpg for the rows of ${metadataFile}`,
      problem: `none of the ${table.rows.length} rows has an image`,
    });
  }
  if (useMasks && maskById.size === 0) useMasks = false;
  const task: DatasetTask = useMasks ? 'segmentation+classification' : 'classification';
  return new Ham10000Dataset(
    {
      name: 'HAM10000',
      task,
      classNames: [...HAM10000_CLASSES],
      maskClasses: useMasks ? ['background', 'lesion'] : [],
      entries,
      decode: (e) => decodeImageEntry(e, options),
      cacheSize: options.cacheSize,
    },
    { rows, columns: table.columns, metadataFile, missingImageIds },
  );
}
