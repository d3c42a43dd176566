/** Layout check of Kvasir-SEG (`images/`, `masks/`, optional `kavsir_bboxes.json`) and of CVC-ClinicDB. */
import { promises as fsp } from 'fs';
import * as path from 'path';
import { IMAGE_EXTENSIONS } from '../data/files';
import { CheckBuilder, checkPairs, filesWith, isDir, isFile } from './common';
import type { CheckDatasetOptions, DatasetCheck } from './types';

/** Check a Kvasir-SEG folder (or its parent): the layout `openKvasirSeg` reads. */
export async function checkKvasir(root: string, options: CheckDatasetOptions = {}): Promise<DatasetCheck> {
  let dir = root;
  if (!(await isDir(path.join(dir, 'images'))) && (await isDir(path.join(dir, 'Kvasir-SEG')))) dir = path.join(dir, 'Kvasir-SEG');
  const b = new CheckBuilder('kvasir', dir, options.examples);
  const imgDir = path.join(dir, 'images');
  const maskDir = path.join(dir, 'masks');
  const hasImages = await isDir(imgDir);
  const hasMasks = await isDir(maskDir);
  if (!hasImages) b.missing.push('images/');
  if (!hasMasks) b.missing.push('masks/');
  if (hasImages && hasMasks) {
    await checkPairs(b, await filesWith(imgDir, IMAGE_EXTENSIONS), await filesWith(maskDir, IMAGE_EXTENSIONS), {
      sizeChecks: options.sizeChecks ?? 5,
      what: 'Kvasir-SEG',
    });
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

/** Check a CVC-ClinicDB folder (or its parent): `Original/` + `Ground Truth/` (TIFF) and/or `png/Original/` + `png/Ground Truth/`. */
export async function checkCvc(root: string, options: CheckDatasetOptions = {}): Promise<DatasetCheck> {
  let dir = root;
  if (!(await isDir(path.join(dir, 'Original'))) && !(await isDir(path.join(dir, 'png'))) && (await isDir(path.join(dir, 'CVC-ClinicDB')))) {
    dir = path.join(dir, 'CVC-ClinicDB');
  }
  const b = new CheckBuilder('cvc', dir, options.examples);
  const tiff = await isDir(path.join(dir, 'Original'));
  const png = await isDir(path.join(dir, 'png', 'Original'));
  if (!tiff && !png) {
    b.missing.push('Original/ (or png/Original/)');
    if (!(await isDir(path.join(dir, 'Ground Truth'))) && !(await isDir(path.join(dir, 'png', 'Ground Truth')))) b.missing.push('Ground Truth/ (or png/Ground Truth/)');
    return b.done();
  }
  // The loader's 'auto' format reads the TIFFs when Original/ exists, else the PNG copies.
  const base = tiff ? dir : path.join(dir, 'png');
  b.notes.push(`format: ${tiff ? 'TIFF (Original/, Ground Truth/)' : 'PNG (png/Original/, png/Ground Truth/)'}${tiff && png ? '; png/ copies also present (format: "png")' : ''}`);
  const gt = path.join(base, 'Ground Truth');
  if (!(await isDir(gt))) {
    b.missing.push(path.relative(dir, gt) + '/');
    b.found.images = (await filesWith(path.join(base, 'Original'), IMAGE_EXTENSIONS)).length;
    return b.done();
  }
  const images = await filesWith(path.join(base, 'Original'), IMAGE_EXTENSIONS);
  await checkPairs(b, images, await filesWith(gt, IMAGE_EXTENSIONS), { sizeChecks: options.sizeChecks ?? 5, what: 'CVC-ClinicDB' });
  const nonNumeric = images.filter((f) => !/^\d+$/.test(path.basename(f, path.extname(f))));
  if (nonNumeric.length) b.notes.push(`${nonNumeric.length} frames are not named <number>.<ext>: no sequence / patient grouping for them (${b.list(nonNumeric)})`);
  return b.done();
}
