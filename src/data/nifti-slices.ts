/**
 * 2-D slice datasets from NIfTI image (+ label) volumes.
 */
import * as path from 'path';
import { DataError } from './errors';
import { LazyDataset, type LazyDatasetSpec } from './lazy';
import { readNifti, type NiftiVolume } from './nifti';
import { axisCodes, extractSlice, reorient, sliceCount, sliceShape, type SliceAxis } from './orientation';
import { resizeBilinear, resizeNearest } from './resize';
import type { Sample, SampleInfo } from './types';
import { applyWindow, resolveWindow, type IntensityWindow } from './window';

/** Options of {@link openNiftiSlices}. */
export interface NiftiSlicesOptions {
  /** Image volume (`.nii` / `.nii.gz`). */
  image: string;
  /** Label volume on the same voxel grid (integer class ids). Optional. */
  label?: string;
  /** Slice plane. Default `'axial'`. */
  axis?: SliceAxis;
  /** Output `[H, W]` (bilinear for the image, nearest for the mask). Default: the slice's own size. */
  size?: readonly [number, number];
  /** Intensity mapping. Default `{ percentiles: [1, 99] }` (use e.g. `'abdomen'` for CT). */
  window?: IntensityWindow;
  /** Image channels (grey replicated for 3). Default 1. */
  channels?: 1 | 3;
  /**
   * Label id -> class id (e.g. many organs -> a few classes). Ids not listed
   * in a record map to 0 (background). Default: identity (ids must be <= 255).
   */
  labelMap?: Readonly<Record<number, number>> | ((id: number) => number);
  /** Mask class names (index 0 = background). Default `'background'`, `'class 1'`, ... up to the largest class id. */
  maskClasses?: readonly string[];
  /** Keep only slices with at least this many foreground (class > 0) pixels, counted before resizing. Default 0 (all). */
  minForeground?: number;
  /** Volume index for 4-D images. Default 0. */
  frame?: number;
  site?: string;
  patientId?: string;
  modality?: string;
  /** Dataset name (and sample id prefix). Default: the image file name without `.nii(.gz)`. */
  name?: string;
  /** LRU cache of decoded slices. Default 0 (off). */
  cacheSize?: number;
}

interface SliceEntry {
  slice: number;
}

/** A dataset of 2-D slices of one (image, label) volume pair, RAS-canonical. */
export class NiftiSliceDataset extends LazyDataset<SliceEntry> {
  constructor(
    spec: LazyDatasetSpec<SliceEntry>,
    /** The image volume after reorientation to RAS+. */
    readonly volume: NiftiVolume,
    /** The label volume (class ids after `labelMap`) after reorientation, if any. */
    readonly labelVolume: NiftiVolume | undefined,
    /** The `[low, high]` intensities mapped to [0, 1]. */
    readonly windowRange: [number, number],
    /** Slice plane. */
    readonly axis: SliceAxis,
  ) {
    super(spec);
  }
}

function niftiStem(file: string): string {
  return path.basename(file).replace(/\.nii(\.gz)?$/i, '');
}

/**
 * Open a NIfTI image (+ optional label) volume as a dataset of 2-D slices.
 * Both volumes are read and reoriented to RAS+ at open time; `load(i)`
 * extracts, windows and resizes one slice. A label volume whose dimensions
 * differ from the image's is a `shape-mismatch` {@link DataError} naming
 * both files and both shapes. Without a label the task is still
 * `'segmentation'` and samples carry no mask (for inference).
 */
export async function openNiftiSlices(options: NiftiSlicesOptions): Promise<NiftiSliceDataset> {
  const axis = options.axis ?? 'axial';
  if (!['axial', 'coronal', 'sagittal'].includes(axis)) {
    throw new DataError({ file: options.image, kind: 'invalid-option', expected: "axis 'axial', 'coronal' or 'sagittal'", problem: `got axis '${axis}'` });
  }
  const rawImage = await readNifti(options.image, { frame: options.frame });
  let rawLabel: NiftiVolume | undefined;
  if (options.label !== undefined) {
    rawLabel = await readNifti(options.label);
    const a = rawImage.header.dims.slice(0, 3).join('x');
    const b = rawLabel.header.dims.slice(0, 3).join('x');
    if (a !== b) {
      throw new DataError({
        file: options.label,
        otherFiles: [options.image],
        kind: 'shape-mismatch',
        expected: `a label volume with the image's dimensions ${a}`,
        problem: `label volume ${options.label} is ${b}, image ${options.image} is ${a}`,
      });
    }
  }
  const volume = reorient(rawImage, 'RAS');
  let labelVolume: NiftiVolume | undefined;
  let maxClass = 0;
  if (rawLabel) {
    const lab = reorient(rawLabel, 'RAS');
    if (lab.shape.join('x') !== volume.shape.join('x')) {
      throw new DataError({
        file: options.label as string,
        otherFiles: [options.image],
        kind: 'shape-mismatch',
        expected: `the same voxel grid as the image after reorientation (image ${axisCodes(rawImage.affine)} ${volume.shape.join('x')})`,
        problem: `label is ${axisCodes(rawLabel.affine)} ${lab.shape.join('x')} after reorientation`,
      });
    }
    const lm = options.labelMap;
    const map = lm === undefined ? undefined : typeof lm === 'function' ? lm : (id: number) => lm[id] ?? 0;
    const mapped = new Float32Array(lab.data.length);
    const memo = new Map<number, number>();
    for (let v = 0; v < lab.data.length; v++) {
      const id = Math.round(lab.data[v]);
      let cls = memo.get(id);
      if (cls === undefined) {
        cls = map ? map(id) : id;
        if (!Number.isInteger(cls) || cls < 0 || cls > 255) {
          throw new DataError({
            file: options.label as string,
            kind: 'invalid-option',
            expected: 'class ids that are integers in [0, 255] (pass labelMap to merge ids)',
            problem: `label ${id} maps to ${cls}`,
          });
        }
        memo.set(id, cls);
      }
      mapped[v] = cls;
      if (cls > maxClass) maxClass = cls;
    }
    if (lm !== undefined && typeof lm !== 'function') for (const c of Object.values(lm)) maxClass = Math.max(maxClass, c);
    labelVolume = { ...lab, data: mapped };
  }
  const windowRange = resolveWindow(options.window ?? { percentiles: [1, 99] }, volume.data);
  const name = options.name ?? niftiStem(options.image);
  const maskClasses = labelVolume
    ? options.maskClasses
      ? [...options.maskClasses]
      : ['background', ...Array.from({ length: maxClass }, (_, k) => `class ${k + 1}`)]
    : [];
  if (labelVolume && maskClasses.length <= maxClass) {
    throw new DataError({
      file: options.label as string,
      kind: 'invalid-option',
      expected: `maskClasses with at least ${maxClass + 1} names (class ids go up to ${maxClass})`,
      problem: `got ${maskClasses.length} names`,
    });
  }
  const count = sliceCount(volume.shape, axis);
  const minFg = options.minForeground ?? 0;
  const entries: (SliceEntry & { info: SampleInfo })[] = [];
  for (let s = 0; s < count; s++) {
    let fg: number | undefined;
    if (labelVolume) {
      const lab = extractSlice(labelVolume.data, labelVolume.shape, axis, s);
      fg = 0;
      for (let p = 0; p < lab.length; p++) if (lab[p] > 0) fg++;
      if (fg < minFg) continue;
    }
    entries.push({
      slice: s,
      info: {
        id: `${name}:${axis}:${s}`,
        meta: {
          ...(options.site !== undefined ? { site: options.site } : {}),
          ...(options.patientId !== undefined ? { patientId: options.patientId } : {}),
          ...(options.modality !== undefined ? { modality: options.modality } : {}),
          file: options.image,
          ...(options.label !== undefined ? { labelFile: options.label } : {}),
          axis,
          slice: s,
          ...(fg !== undefined ? { foregroundPixels: fg } : {}),
        },
      },
    });
  }
  const channels = options.channels ?? 1;
  const size = options.size;
  const decode = async (e: SliceEntry & { info: SampleInfo }): Promise<Sample> => {
    const [h, w] = sliceShape(volume.shape, axis);
    let img = applyWindow(extractSlice(volume.data, volume.shape, axis, e.slice), windowRange);
    let shape: [number, number] = [h, w];
    if (size && (size[0] !== h || size[1] !== w)) {
      img = resizeBilinear(img, [h, w, 1], size);
      shape = [size[0], size[1]];
    }
    let image = img;
    if (channels === 3) {
      image = new Float32Array(img.length * 3);
      for (let p = 0; p < img.length; p++) image[3 * p] = image[3 * p + 1] = image[3 * p + 2] = img[p];
    }
    let mask: Uint8Array | undefined;
    if (labelVolume) {
      mask = Uint8Array.from(extractSlice(labelVolume.data, labelVolume.shape, axis, e.slice));
      if (shape[0] !== h || shape[1] !== w) mask = resizeNearest(mask, [h, w], shape);
    }
    return {
      id: e.info.id,
      meta: { ...e.info.meta },
      image,
      shape: [shape[0], shape[1], channels],
      ...(mask ? { mask } : {}),
    };
  };
  return new NiftiSliceDataset(
    {
      name,
      task: 'segmentation',
      classNames: [],
      maskClasses,
      entries,
      decode,
      cacheSize: options.cacheSize,
    },
    volume,
    labelVolume,
    windowRange,
    axis,
  );
}

