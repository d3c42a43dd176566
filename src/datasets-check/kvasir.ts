/** Layout check of Kvasir-SEG (`images/`, `masks/`, optional `kavsir_bboxes.json`) and of CVC-ClinicDB. */
import { promises as fsp } from 'fs';
import * as path from 'path';
import { IMAGE_EXTENSIONS } from '../data/files';
import { CVC_CLINICDB_LAYOUTS, describeCvcClinicDbLayouts, findCvcClinicDbLayout } from '../data/folder';
import { imageChannels } from '../data/image';
import { CheckBuilder, checkPairs, filesWith, isDir, isFile, stem } from './common';
import { deepDecode, type DeepItem } from './deep';
import type { CheckDatasetOptions, DatasetCheck } from './types';

/** Check a Kvasir-SEG folder (or its parent): the layout `openKvasirSeg` reads. */
export async function checkKvasir(root: string, options: CheckDatasetOptions = {}): Promise<DatasetCheck> {
  let dir = root;
  if (!(await isDir(path.join(dir, 'images'))) && (await isDir(path.join(dir, 'Kvasir-SEG')))) dir = path.join(dir, 'Kvasir-SEG');
  const b = new CheckBuilder('kvasir', dir, options);
  const imgDir = path.join(dir, 'images');
  const maskDir = path.join(dir, 'masks');
  const hasImages = await isDir(imgDir);
  const hasMasks = await isDir(maskDir);
  if (!hasImages) b.missing.push('images/');
  if (!hasMasks) b.missing.push('masks/');
  if (hasImages && hasMasks) {
    const items = await checkPairs(b, await filesWith(imgDir, IMAGE_EXTENSIONS), await filesWith(maskDir, IMAGE_EXTENSIONS), {
      sizeChecks: options.sizeChecks ?? 5,
      what: 'Kvasir-SEG',
    });
    if (options.deep) await deepDecode(b, items, options);
  } else if (hasImages) {
    b.found.images = (await filesWith(imgDir, IMAGE_EXTENSIONS)).length;
  }
  let boxFile: string | undefined;
  for (const n of ['kavsir_bboxes.json', 'kvasir_bboxes.json']) if (await isFile(path.join(dir, n))) boxFile = path.join(dir, n);
  if (boxFile) {
    try {
      b.found.bboxEntries = Object.keys(JSON.parse(await fsp.readFile(boxFile, 'utf8')) as object).length;
    } catch (err) {
      b.problems.push(`${path.basename(boxFile)} is not valid JSON (${(err as Error).message.split('\n')[0]})`);
    }
  } else {
    b.notes.push('kavsir_bboxes.json absent (optional: bounding boxes in meta.bboxes)');
  }
  return b.done();
}

/**
 * Check a CVC-ClinicDB folder (or its parent) in any layout `openCvcClinicDb`
 * reads ({@link CVC_CLINICDB_LAYOUTS}: `Original/` + `Ground Truth/` TIFFs,
 * `png/Original/` + `png/Ground Truth/`, or `images/` + `masks/` pairs). For
 * `images/` + `masks/`, frames with one channel and masks with three (from
 * the headers of the first pair) are reported as swapped folders.
 */
export async function checkCvc(root: string, options: CheckDatasetOptions = {}): Promise<DatasetCheck> {
  const layout = await findCvcClinicDbLayout(root);
  const dir = layout?.root ?? ((await isDir(path.join(root, 'CVC-ClinicDB'))) ? path.join(root, 'CVC-ClinicDB') : root);
  const b = new CheckBuilder('cvc', dir, options);
  if (!layout) {
    b.missing.push(`one of ${describeCvcClinicDbLayouts()}`);
    return b.done();
  }
  const rel = (p: string) => path.relative(dir, p);
  const others: string[] = [];
  for (const l of CVC_CLINICDB_LAYOUTS) if (l.format !== layout.format && (await isDir(path.join(dir, l.images)))) others.push(`${l.images}/ (format: '${l.format}')`);
  b.notes.push(`format: '${layout.format}' (${rel(layout.images)}/, ${rel(layout.masks)}/)${others.length ? `; also present: ${others.join(', ')}` : ''}`);
  const images = await filesWith(layout.images, IMAGE_EXTENSIONS);
  if (!(await isDir(layout.masks))) {
    b.missing.push(rel(layout.masks) + '/');
    b.found.images = images.length;
    return b.done();
  }
  const masks = await filesWith(layout.masks, IMAGE_EXTENSIONS);
  const items = await checkPairs(b, images, masks, { sizeChecks: options.sizeChecks ?? 5, what: 'CVC-ClinicDB' });
  if (layout.format === 'pairs') await checkSwapped(b, items);
  const nonNumeric = images.filter((f) => !/^\d+$/.test(path.basename(f, path.extname(f))));
  if (nonNumeric.length) b.notes.push(`${nonNumeric.length} frames are not named <number>.<ext>: no sequence / patient grouping for them (${b.list(nonNumeric)})`);
  if (options.deep) await deepDecode(b, items, options);
  return b.done();
}

/** Problem when the first pair's frame has 1 channel and its mask 3+ (folders swapped, as in some mirrors). */
async function checkSwapped(b: CheckBuilder, items: readonly DeepItem[]): Promise<void> {
  const image = items.find((i) => i.role === 'image');
  const mask = image && items.find((i) => i.role === 'mask' && stem(i.file) === stem(image.file));
  if (!image || !mask) return;
  try {
    const [ci, cm] = await Promise.all([imageChannels(image.file), imageChannels(mask.file)]);
    if (ci === 1 && cm >= 3) {
      b.problems.push(`${b.rel(image.file)} has 1 channel but its mask ${b.rel(mask.file)} has ${cm}: images/ and masks/ look swapped (expected colour frames in images/, one-channel masks in masks/)`);
    }
  } catch {
    // unreadable headers are reported by the size checks / the deep pass
  }
}
