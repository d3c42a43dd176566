/**
 * Generic folder loaders: image/mask folder pairs (segmentation), class-per-
 * subfolder (classification), and CVC-ClinicDB on top of the former.
 * All return lazy datasets ({@link LazyDataset}): listing at open, decoding in `load`.
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import { DataError } from './errors';
import { IMAGE_EXTENSIONS, isDir, listFiles, naturalCompare, pairImagesWithMasks, requireDir, stem } from './files';
import { decodeImage, decodeMask, type FailOn, type ResizeKernel } from './image';
import { LazyDataset } from './lazy';
import { resizeNearest } from './resize';
import type { Sample, SampleInfo, SampleMeta } from './types';

/** Decoding options shared by the image loaders (all optional). */
export interface ImageLoadOptions {
  /** Output `[H, W]` of images and masks. Default: each file's own size (shapes may then differ). */
  size?: readonly [number, number];
  /** Image channels: 3 (sRGB) or 1 (grey). Default 3. */
  channels?: 1 | 3;
  /** Image resize kernel (masks always use nearest neighbour). Default `'linear'`. */
  kernel?: ResizeKernel;
  /** Mask binarisation threshold on grey 0..255 (`v > t` -> 1). Default 127. */
  maskThreshold?: number;
  /** sharp strictness, see {@link decodeImage}. Default `'error'`. */
  failOn?: FailOn;
  /** LRU cache of decoded samples, in samples. Default 0 (off). */
  cacheSize?: number;
}

/** What the decoder needs for one image (+ optional mask) sample. */
export interface ImageEntry {
  image: string;
  mask?: string;
}

/**
 * Decode one image (+ mask) entry into a {@link Sample}. When both exist,
 * their original sizes must agree, else a `size-mismatch` {@link DataError}
 * naming both files. The mask is resized (nearest) to the image's output size.
 */
export async function decodeImageEntry(entry: ImageEntry & { info: SampleInfo }, options: ImageLoadOptions): Promise<Sample> {
  const [img, mask] = await Promise.all([
    decodeImage(entry.image, { size: options.size, channels: options.channels ?? 3, kernel: options.kernel, failOn: options.failOn }),
    entry.mask === undefined
      ? Promise.resolve(undefined)
      : decodeMask(entry.mask, { threshold: options.maskThreshold ?? 127, failOn: options.failOn }),
  ]);
  let maskData: Uint8Array | undefined;
  if (mask && entry.mask !== undefined) {
    if (mask.originalSize[0] !== img.originalSize[0] || mask.originalSize[1] !== img.originalSize[1]) {
      throw new DataError({
        file: entry.mask,
        otherFiles: [entry.image],
        kind: 'size-mismatch',
        expected: `a mask of the image's size ${img.originalSize[1]}x${img.originalSize[0]} (WxH)`,
        problem: `mask is ${mask.originalSize[1]}x${mask.originalSize[0]} (WxH)`,
      });
    }
    maskData = mask.data;
    if (img.shape[0] !== mask.shape[0] || img.shape[1] !== mask.shape[1]) {
      maskData = resizeNearest(maskData, mask.shape, [img.shape[0], img.shape[1]]);
    }
  }
  const info = entry.info;
  return {
    id: info.id,
    label: info.label,
    meta: { ...info.meta },
    image: img.data,
    shape: img.shape,
    ...(maskData ? { mask: maskData } : {}),
  };
}

/** Options of {@link openImageMaskFolder}. */
export interface ImageMaskFolderOptions extends ImageLoadOptions {
  /** Folder of images (JPEG/PNG/TIFF/...). */
  images: string;
  /** Folder of masks paired by file stem. */
  masks: string;
  /** Appended to the image stem to get the mask stem. Default ''. */
  maskSuffix?: string;
  /** Only masks with this extension (e.g. '.png'). Default: any image extension. */
  maskExt?: string;
  /** Keep images without a mask (loaded without `mask`). Default false: DataError naming the image. */
  allowMissingMasks?: boolean;
  /** `meta.site` of every sample. Default undefined. */
  site?: string;
  /** `meta.modality` of every sample. Default undefined. */
  modality?: string;
  /** Mask class names, index 0 = background. Default `['background', 'foreground']`. */
  maskClasses?: readonly string[];
  /** Dataset name. Default: the images folder's name. */
  name?: string;
  /** Extra per-sample meta (e.g. patient ids), from the sample id (file stem). */
  metaFor?: (id: string) => SampleMeta;
}

/**
 * Open a generic image/mask folder pair (binary segmentation by default):
 * masks are matched by file stem (+ `maskSuffix`). Throws {@link DataError}
 * for a missing folder or an image without a mask.
 */
export async function openImageMaskFolder(options: ImageMaskFolderOptions): Promise<LazyDataset<ImageEntry>> {
  const pairs = await pairImagesWithMasks(options.images, options.masks, {
    maskSuffix: options.maskSuffix,
    maskExt: options.maskExt,
    allowMissingMasks: options.allowMissingMasks,
  });
  if (pairs.length === 0) {
    throw new DataError({ file: options.images, kind: 'empty', expected: `image files (${IMAGE_EXTENSIONS.join(', ')})`, problem: 'no images found' });
  }
  const entries = pairs.map((p) => ({
    image: p.image,
    mask: p.mask,
    info: {
      id: p.id,
      meta: {
        ...(options.metaFor ? options.metaFor(p.id) : {}),
        ...(options.site !== undefined ? { site: options.site } : {}),
        ...(options.modality !== undefined ? { modality: options.modality } : {}),
        file: p.image,
        ...(p.mask !== undefined ? { maskFile: p.mask } : {}),
      },
    },
  }));
  return new LazyDataset<ImageEntry>({
    name: options.name ?? path.basename(path.resolve(options.images)),
    task: 'segmentation',
    classNames: [],
    maskClasses: options.maskClasses ?? ['background', 'foreground'],
    entries,
    decode: (e) => decodeImageEntry(e, options),
    cacheSize: options.cacheSize,
  });
}

/** Options of {@link openClassFolder}. */
export interface ClassFolderOptions extends Omit<ImageLoadOptions, 'maskThreshold'> {
  /** Folder with one subfolder per class. */
  root: string;
  /** Class names = subfolder names, in this order. Default: all subfolders, natural order. */
  classes?: readonly string[];
  /** Image extensions to pick up. Default {@link IMAGE_EXTENSIONS}. */
  extensions?: readonly string[];
  site?: string;
  modality?: string;
  /** Dataset name. Default: the root folder's name. */
  name?: string;
}

/**
 * Open a class-per-subfolder classification set (e.g. MedNIST
 * `MedNIST/{AbdomenCT,...}/*.jpeg`). Sample id = `<class>/<file stem>`,
 * label = index of the class in `classNames`.
 */
export async function openClassFolder(options: ClassFolderOptions): Promise<LazyDataset<ImageEntry>> {
  await requireDir(options.root, 'a folder with one subfolder per class');
  let classes: string[];
  if (options.classes) {
    classes = [...options.classes];
    for (const c of classes) await requireDir(path.join(options.root, c), `the subfolder of class '${c}'`);
  } else {
    const dirents = await fsp.readdir(options.root, { withFileTypes: true });
    classes = dirents.filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name).sort(naturalCompare);
  }
  if (classes.length === 0) {
    throw new DataError({ file: options.root, kind: 'empty', expected: 'one subfolder per class', problem: 'no subfolders found' });
  }
  const entries: (ImageEntry & { info: SampleInfo })[] = [];
  for (let label = 0; label < classes.length; label++) {
    const files = await listFiles(path.join(options.root, classes[label]), options.extensions ?? IMAGE_EXTENSIONS);
    for (const f of files) {
      entries.push({
        image: f,
        info: {
          id: `${classes[label]}/${stem(f)}`,
          label,
          meta: {
            ...(options.site !== undefined ? { site: options.site } : {}),
            ...(options.modality !== undefined ? { modality: options.modality } : {}),
            file: f,
            className: classes[label],
          },
        },
      });
    }
  }
  if (entries.length === 0) {
    throw new DataError({ file: options.root, kind: 'empty', expected: 'images inside the class subfolders', problem: 'no images found' });
  }
  return new LazyDataset<ImageEntry>({
    name: options.name ?? path.basename(path.resolve(options.root)),
    task: 'classification',
    classNames: classes,
    maskClasses: [],
    entries,
    decode: (e) => decodeImageEntry(e, options),
    cacheSize: options.cacheSize,
  });
}

/**
 * First frame of each of the 29 CVC-ClinicDB video sequences (from the
 * dataset README); sequence s covers frames `[start[s-1], start[s] - 1]`, the
 * last one ends at 612.
 */
export const CVC_CLINICDB_SEQUENCE_STARTS: readonly number[] = [
  1, 26, 51, 68, 79, 104, 127, 152, 178, 200, 206, 228, 253, 278, 298, 318, 343, 364, 384, 409, 429, 448, 467, 479, 504, 529, 547,
  572, 592,
];

/** CVC-ClinicDB sequence (1..29) of a frame number (1..612), or undefined outside that range. */
export function cvcClinicDbSequence(frame: number): number | undefined {
  if (!Number.isInteger(frame) || frame < 1 || frame > 612) return undefined;
  let s = 0;
  while (s + 1 < CVC_CLINICDB_SEQUENCE_STARTS.length && CVC_CLINICDB_SEQUENCE_STARTS[s + 1] <= frame) s++;
  return s + 1;
}

/** The folder layouts of CVC-ClinicDB that {@link findCvcClinicDbLayout} recognises. */
export type CvcClinicDbFormat = 'tiff' | 'png' | 'pairs';

/**
 * The CVC-ClinicDB layouts, in the order they are looked for (inside the
 * given root, or its `CVC-ClinicDB/` child):
 * - `'tiff'`: `Original/` + `Ground Truth/` (the official release, TIFF);
 * - `'png'`: `png/Original/` + `png/Ground Truth/` (lossless PNG copies);
 * - `'pairs'`: `images/` + `masks/` of TIFF (or PNG) files with matching stems,
 *   as in many mirrors of the dataset (some mirrors swap the two folders:
 *   `medfl datasets check` reports it from the channel counts).
 */
export const CVC_CLINICDB_LAYOUTS: readonly { format: CvcClinicDbFormat; images: string; masks: string }[] = [
  { format: 'tiff', images: 'Original', masks: 'Ground Truth' },
  { format: 'png', images: path.join('png', 'Original'), masks: path.join('png', 'Ground Truth') },
  { format: 'pairs', images: 'images', masks: 'masks' },
];

/** The layouts as one line for error messages: `Original/ + Ground Truth/ (tiff), ...`. */
export function describeCvcClinicDbLayouts(): string {
  return CVC_CLINICDB_LAYOUTS.map((l) => `${l.images}/ + ${l.masks}/ (${l.format})`).join(', ');
}

/** A CVC-ClinicDB layout found on disk. */
export interface CvcClinicDbLayout {
  /** The folder holding the layout (the given root or its `CVC-ClinicDB/` child). */
  root: string;
  format: CvcClinicDbFormat;
  /** Folder of the frames. */
  images: string;
  /** Folder of the ground-truth masks (may not exist: the caller reports it). */
  masks: string;
}

/**
 * Find the CVC-ClinicDB layout under `root` (or its `CVC-ClinicDB/` child):
 * the first of {@link CVC_CLINICDB_LAYOUTS} whose images folder exists, or
 * only `format` when given. Null when none is there.
 */
export async function findCvcClinicDbLayout(root: string, format: CvcClinicDbFormat | 'auto' = 'auto'): Promise<CvcClinicDbLayout | null> {
  const layouts = CVC_CLINICDB_LAYOUTS.filter((l) => format === 'auto' || l.format === format);
  for (const dir of [root, path.join(root, 'CVC-ClinicDB')]) {
    for (const l of layouts) {
      if (await isDir(path.join(dir, l.images))) return { root: dir, format: l.format, images: path.join(dir, l.images), masks: path.join(dir, l.masks) };
    }
  }
  return null;
}

/** Options of {@link openCvcClinicDb}. */
export interface CvcClinicDbOptions extends ImageLoadOptions {
  /** The `CVC-ClinicDB` folder (holding `Original/`, `Ground Truth/`, `png/` and/or `images/` + `masks/`) or its parent. */
  root: string;
  /**
   * Which layout of {@link CVC_CLINICDB_LAYOUTS} to read: `'tiff'`
   * (`Original/` + `Ground Truth/`), `'png'` (`png/Original/` +
   * `png/Ground Truth/`, lossless copies) or `'pairs'` (`images/` + `masks/`).
   * Default `'auto'`: the first of these whose images folder exists.
   */
  format?: 'auto' | CvcClinicDbFormat;
  /** `meta.site`. Default `'CVC-ClinicDB'`. */
  site?: string;
}

/**
 * Open CVC-ClinicDB (Bernal et al. 2015) colonoscopy frames + polyp masks.
 * `meta.sequence` (1..29, from the frame number) is also used as
 * `meta.patientId` (`'cvc-seq-<n>'`), the grouping key for splits: the
 * README says the 29 sequences come from 25 studies, without the mapping, so
 * two sequences of one patient may still land on different sides.
 * The original RGB TIFFs are mis-tagged (Photometric=BlackIsZero with 3
 * samples): {@link decodeImage} recovers the RGB bands.
 * Throws a `missing-folder` {@link DataError} naming the root and every
 * layout looked for when none is found.
 */
export async function openCvcClinicDb(options: CvcClinicDbOptions): Promise<LazyDataset<ImageEntry>> {
  const format = options.format ?? 'auto';
  const layout = await findCvcClinicDbLayout(options.root, format);
  if (!layout) {
    const looked = format === 'auto' ? describeCvcClinicDbLayouts() : CVC_CLINICDB_LAYOUTS.filter((l) => l.format === format).map((l) => `${l.images}/ + ${l.masks}/ (${l.format})`).join('');
    throw new DataError({
      file: options.root,
      kind: 'missing-folder',
      expected: `a CVC-ClinicDB folder (or its parent) with ${format === 'auto' ? 'one of ' : ''}${looked}`,
      problem: `no ${format === 'auto' ? 'CVC-ClinicDB layout' : `'${format}' layout`} found`,
    });
  }
  return openImageMaskFolder({
    ...options,
    images: layout.images,
    masks: layout.masks,
    site: options.site ?? 'CVC-ClinicDB',
    modality: 'endoscopy',
    maskClasses: ['background', 'polyp'],
    name: 'CVC-ClinicDB',
    metaFor: (id) => {
      const seq = /^\d+$/.test(id) ? cvcClinicDbSequence(Number(id)) : undefined;
      return seq === undefined ? {} : { sequence: seq, patientId: `cvc-seq-${seq}` };
    },
  });
}
