/**
 * Kvasir-SEG polyp segmentation (Jha et al., "Kvasir-SEG: A Segmented Polyp
 * Dataset", MMM 2020, arXiv:1911.07069).
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import { DataError, errorMessage } from './errors';
import { decodeImageEntry, type ImageEntry, type ImageLoadOptions } from './folder';
import { isDir, isFile, pairImagesWithMasks } from './files';
import { LazyDataset } from './lazy';

/** One polyp bounding box of `kavsir_bboxes.json` (pixel coordinates of the original image). */
export interface KvasirBox {
  label: string;
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
}

/** Options of {@link openKvasirSeg}. */
export interface KvasirSegOptions extends ImageLoadOptions {
  /** The `Kvasir-SEG` folder (holding `images/`, `masks/`) or its parent. */
  root: string;
  /** `meta.site` of every sample. Default `'Kvasir-SEG'`. */
  site?: string;
  /** Keep images without a mask. Default false (DataError naming the image). */
  allowMissingMasks?: boolean;
}

/**
 * Open Kvasir-SEG: `images/<id>.jpg` with `masks/<id>.jpg` (same names; the
 * masks are lossy JPEGs, binarised at grey > `maskThreshold`, default 127).
 * When `kavsir_bboxes.json` (sic, the original name; `kvasir_bboxes.json` is
 * accepted too) is present, `meta.bboxes` holds the sample's boxes and
 * `meta.originalSize` its `[H, W]`. `meta.patientId` is undefined (Kvasir
 * publishes none): group splits then fall back to one group per image.
 */
export async function openKvasirSeg(options: KvasirSegOptions): Promise<LazyDataset<ImageEntry>> {
  let root = options.root;
  if (!(await isDir(path.join(root, 'images'))) && (await isDir(path.join(root, 'Kvasir-SEG')))) {
    root = path.join(root, 'Kvasir-SEG');
  }
  if (!(await isDir(path.join(root, 'images')))) {
    throw new DataError({
      file: path.join(root, 'images'),
      kind: 'missing-folder',
      expected: 'the Kvasir-SEG folder (with images/ and masks/) or its parent as root',
      problem: 'folder not found',
    });
  }
  const pairs = await pairImagesWithMasks(path.join(root, 'images'), path.join(root, 'masks'), {
    allowMissingMasks: options.allowMissingMasks,
  });
  if (pairs.length === 0) {
    throw new DataError({ file: path.join(root, 'images'), kind: 'empty', expected: 'Kvasir-SEG images', problem: 'no images found' });
  }
  let boxes: Record<string, { height?: number; width?: number; bbox?: KvasirBox[] }> | undefined;
  for (const name of ['kavsir_bboxes.json', 'kvasir_bboxes.json']) {
    const f = path.join(root, name);
    if (await isFile(f)) {
      try {
        boxes = JSON.parse(await fsp.readFile(f, 'utf8'));
      } catch (err) {
        throw new DataError({ file: f, kind: 'unreadable', expected: 'JSON {id: {height, width, bbox: [...]}}', problem: errorMessage(err), underlying: err });
      }
      break;
    }
  }
  const site = options.site ?? 'Kvasir-SEG';
  const entries = pairs.map((p) => {
    const b = boxes?.[p.id];
    return {
      image: p.image,
      mask: p.mask,
      info: {
        id: p.id,
        meta: {
          site,
          modality: 'endoscopy',
          file: p.image,
          ...(p.mask !== undefined ? { maskFile: p.mask } : {}),
          ...(b
            ? {
                bboxes: (b.bbox ?? []).map((x) => ({ label: x.label, xmin: x.xmin, ymin: x.ymin, xmax: x.xmax, ymax: x.ymax })),
                originalSize: [b.height, b.width],
              }
            : {}),
        },
      },
    };
  });
  return new LazyDataset<ImageEntry>({
    name: 'Kvasir-SEG',
    task: 'segmentation',
    classNames: [],
    maskClasses: ['background', 'polyp'],
    entries,
    decode: (e) => decodeImageEntry(e, options),
    cacheSize: options.cacheSize,
  });
}
