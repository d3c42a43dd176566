/**
 * Layout check of NIfTI volume collections. Recognised pairings (see
 * datasets/README.md):
 * - MSD / nnU-Net: `imagesTr/<case>[_0000].nii.gz` + `labelsTr/<case>.nii.gz` (also imagesTs/labelsTs, images/labels);
 * - TotalSegmentator release: `<subject>/ct.nii.gz` + `<subject>/segmentations/<structure>.nii.gz`;
 * - flat pairs in one folder: `<case>_image.nii.gz` + `<case>_label.nii.gz`
 *   (role words: image/img/ct/mr/t1/... vs label/seg/mask/gt/...);
 * - one image with per-structure binary masks of the same grid next to it.
 * Only headers are read (first bytes, gunzipped partially), so large
 * collections are checked quickly; `deep: true` then reads every volume
 * whole with `readNifti`, one at a time.
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { parseNiftiHeader } from '../data/nifti';
import { errorMessage } from '../data/errors';
import { CheckBuilder, entries } from './common';
import { deepDecode } from './deep';
import type { CheckDatasetOptions, DatasetCheck } from './types';

const LABEL_WORDS = new Set(['seg', 'segmentation', 'segmentations', 'label', 'labels', 'mask', 'masks', 'gt', 'lbl', 'annotation']);
const IMAGE_WORDS = new Set(['ct', 'image', 'img', 'mr', 'mri', 't1', 't1w', 't2', 't2w', 'flair', 'pet', 'vol', 'volume', 'scan']);
const LABEL_DIRS = /^(labels?(tr|ts)?|segmentations?|masks?|gt|annotations?)$/i;
const IMAGE_DIRS = /^(images?(tr|ts)?|imgs?)$/i;

/** True for `.nii` / `.nii.gz` file names. */
export function isNiftiName(name: string): boolean {
  return /\.nii(\.gz)?$/i.test(name);
}

function niftiStem(file: string): string {
  return path.basename(file).replace(/\.nii(\.gz)?$/i, '');
}

type Role = 'image' | 'label' | 'other';

interface Volume {
  file: string;
  dir: string;
  role: Role;
  key: string;
  tokens: string[];
  dims?: string;
}

/** Role and pairing key of a volume from its folder and name. */
export function classifyVolume(file: string): { role: Role; key: string } {
  const dirName = path.basename(path.dirname(file));
  let tokens = niftiStem(file).toLowerCase().split(/[_\-.\s]+/).filter(Boolean);
  const inImageDir = IMAGE_DIRS.test(dirName);
  if (inImageDir && tokens.length > 1 && /^\d{4}$/.test(tokens[tokens.length - 1])) tokens = tokens.slice(0, -1); // nnU-Net channel suffix
  const hasLabelWord = tokens.some((t) => LABEL_WORDS.has(t));
  const hasImageWord = tokens.some((t) => IMAGE_WORDS.has(t));
  let role: Role = 'other';
  if (LABEL_DIRS.test(dirName) || (hasLabelWord && !inImageDir)) role = 'label';
  else if (inImageDir || hasImageWord) role = 'image';
  const key = tokens.filter((t) => !LABEL_WORDS.has(t) && !IMAGE_WORDS.has(t)).join('_');
  return { role, key };
}

/** Read the NIfTI header of a (possibly gzipped) file from its first bytes only. */
export async function readNiftiHeaderOnly(file: string): Promise<ReturnType<typeof parseNiftiHeader>> {
  const fh = await fsp.open(file, 'r');
  let head: Buffer;
  try {
    const buf = Buffer.alloc(65536);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    head = zlib.gunzipSync(head, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  }
  return parseNiftiHeader(head, file);
}

async function walk(dir: string, depth: number, out: string[], dicom: { n: number }): Promise<void> {
  const list = await entries(dir);
  if (!list) return;
  for (const d of list) {
    const p = path.join(dir, d.name);
    if (d.isDirectory() && depth > 0) await walk(p, depth - 1, out, dicom);
    else if (d.isFile() && isNiftiName(d.name)) out.push(p);
    else if (d.isFile() && (/\.dcm$/i.test(d.name) || /^(CT|MR|PT)\.[\d.]+/.test(d.name))) dicom.n++;
  }
}

/** Check a folder tree of NIfTI volumes (depth <= 6): roles, pairs, grids (from headers). */
export async function checkNifti(root: string, options: CheckDatasetOptions = {}): Promise<DatasetCheck> {
  const b = new CheckBuilder('nifti', root, options);
  const files: string[] = [];
  const dicom = { n: 0 };
  await walk(root, 6, files, dicom);
  files.sort();
  b.found.volumes = files.length;
  if (dicom.n) b.notes.push(`${dicom.n} DICOM files found: medfl reads NIfTI only (convert series with dcm2niix)`);
  if (files.length === 0) {
    b.missing.push('*.nii / *.nii.gz volumes');
    return b.done();
  }
  const maxHeaders = options.maxNiftiHeaders ?? 2000;
  const vols: Volume[] = [];
  const unreadable: string[] = [];
  for (const [i, f] of files.entries()) {
    const { role, key } = classifyVolume(f);
    const v: Volume = { file: f, dir: path.dirname(f), role, key, tokens: key ? key.split('_') : [] };
    if (i < maxHeaders) {
      try {
        v.dims = (await readNiftiHeaderOnly(f)).dims.slice(0, 3).join('x');
      } catch (err) {
        unreadable.push(`${b.rel(f)} (${errorMessage(err)})`);
      }
    }
    vols.push(v);
  }
  if (files.length > maxHeaders) b.notes.push(`only the first ${maxHeaders} headers were read (grids of the rest not checked)`);
  if (unreadable.length) b.problems.push(`${unreadable.length} unreadable NIfTI file${unreadable.length > 1 ? 's' : ''}: ${unreadable.slice(0, b.examples).join('; ')}`);

  const images = vols.filter((v) => v.role === 'image');
  const labels = vols.filter((v) => v.role === 'label');
  const others = vols.filter((v) => v.role === 'other');
  b.found.images = images.length;
  b.found.labels = labels.length;
  const claimed = new Set<Volume>();
  const paired = new Map<Volume, Volume[]>();
  const sameGrid = (a: Volume, c: Volume) => a.dims === undefined || c.dims === undefined || a.dims === c.dims;
  const labelDirOf = (dir: string): string[] => {
    const base = path.basename(dir);
    const m = /^images?(tr|ts)?$/i.exec(base);
    const sib = m ? [path.join(path.dirname(dir), `labels${m[1] ?? ''}`), path.join(path.dirname(dir), `label${m[1] ?? ''}`)] : [];
    return [dir, ...sib];
  };
  const inScope = (img: Volume, lab: Volume) => labelDirOf(img.dir).some((d) => d.toLowerCase() === lab.dir.toLowerCase());
  const claim = (img: Volume, labs: Volume[]) => {
    paired.set(img, labs);
    labs.forEach((l) => claimed.add(l));
  };
  // 1) exact key on the same grid; 2) key subset on the same grid.
  for (const pass of ['exact', 'subset'] as const) {
    for (const img of images) {
      if (paired.has(img)) continue;
      const cand = labels.find((l) => {
        if (claimed.has(l) || !inScope(img, l) || !sameGrid(img, l)) return false;
        if (pass === 'exact') return l.key === img.key;
        const [small, big] = l.tokens.length <= img.tokens.length ? [l.tokens, img.tokens] : [img.tokens, l.tokens];
        return small.length > 0 && small.every((t) => big.includes(t));
      });
      if (cand) claim(img, [cand]);
    }
  }
  // 3) TotalSegmentator: <dir>/segmentations/*.nii.gz; 4) per-structure masks of the same grid beside the image.
  for (const img of images) {
    if (paired.has(img)) continue;
    const segDir = path.join(img.dir, 'segmentations');
    let group = vols.filter((v) => v.dir === segDir && !claimed.has(v));
    if (group.length === 0) group = others.filter((o) => o.dir === img.dir && !claimed.has(o) && o.dims !== undefined && o.dims === img.dims);
    if (group.length > 0) claim(img, group);
  }
  // Grid mismatches: a same-named label that is still unclaimed and sits on another grid.
  const mismatches: string[] = [];
  for (const img of images) {
    if (paired.has(img)) continue;
    const l = labels.find((x) => !claimed.has(x) && inScope(img, x) && x.key === img.key && x.dims !== undefined && img.dims !== undefined && x.dims !== img.dims);
    if (l) mismatches.push(`${b.rel(l.file)} is ${l.dims} but ${b.rel(img.file)} is ${img.dims}`);
  }
  for (const [img, labs] of paired) {
    const bad = labs.filter((l) => l.dims !== undefined && img.dims !== undefined && l.dims !== img.dims);
    if (bad.length) mismatches.push(`${b.list(bad.map((x) => x.file))} not on the grid of ${b.rel(img.file)} (${img.dims})`);
  }
  if (mismatches.length) b.problems.push(`label volume on another voxel grid: ${mismatches.slice(0, b.examples).join('; ')}`);
  b.found.pairs = paired.size;
  b.found.structureMasks = [...paired.values()].filter((l) => l.length > 1 || l[0].role !== 'label').reduce((s, l) => s + l.length, 0);
  const lonelyImages = images.filter((i) => !paired.has(i));
  const lonelyLabels = labels.filter((l) => !claimed.has(l));
  const lonelyOthers = others.filter((o) => !claimed.has(o));
  if (lonelyImages.length) b.notes.push(`${lonelyImages.length} image volume${lonelyImages.length > 1 ? 's' : ''} without a label (usable for inference only): ${b.list(lonelyImages.map((v) => v.file))}`);
  if (lonelyLabels.length) b.notes.push(`${lonelyLabels.length} label volume${lonelyLabels.length > 1 ? 's' : ''} without an image: ${b.list(lonelyLabels.map((v) => v.file))}`);
  if (lonelyOthers.length) b.notes.push(`${lonelyOthers.length} volume${lonelyOthers.length > 1 ? 's' : ''} of unknown role (name them *_image / *_label): ${b.list(lonelyOthers.map((v) => v.file))}`);
  if (paired.size === 0 && b.problems.length === 0) b.problems.push('no image volume could be paired with a label volume (see notes for the naming rules)');
  if (options.deep) await deepDecode(b, files.map((file) => ({ file, role: 'volume' as const })), options);
  return b.done();
}
