/**
 * `medfl datasets check <path>`: does a folder hold a dataset layout medfl's
 * loaders can open, and if not, what is missing? Checks file presence,
 * image/mask pairing, CSV columns and codes, image/mask sizes (from headers)
 * and NIfTI grids (from headers); by default it never decodes whole images or
 * volumes (a file cut after its header passes, and the result says so in a
 * note). With `deep: true` (`--deep`) it also decodes every image, mask and
 * volume the loader would read, one at a time, and lists each bad file with
 * the decoder's reason. Layouts: datasets/README.md.
 */
import * as path from 'path';
import { checkCvc, checkKvasir } from './kvasir';
import { checkHam10000 } from './ham10000';
import { checkNifti, isNiftiName } from './nifti';
import { entries, filesWith, isDir } from './common';
import { IMAGE_EXTENSIONS } from '../data/files';
import { describeCvcClinicDbLayouts, findCvcClinicDbLayout } from '../data/folder';
import type { CheckDatasetOptions, DatasetCheck, DatasetKind, DatasetKindOption } from './types';

export type { BadFile, CheckDatasetOptions, DatasetCheck, DatasetKind, DatasetKindOption } from './types';
export { checkKvasir, checkCvc } from './kvasir';
export { checkHam10000, HAM10000_MASK_DIR, HAM10000_METADATA_FILES } from './ham10000';
export { checkNifti, classifyVolume, readNiftiHeaderOnly } from './nifti';

/** The kinds `checkDataset` accepts, 'auto' first. */
export const DATASET_KINDS: readonly DatasetKindOption[] = ['auto', 'kvasir', 'ham10000', 'cvc', 'nifti'];

async function hasNifti(dir: string, depth: number): Promise<boolean> {
  const list = await entries(dir);
  if (!list) return false;
  for (const d of list) if (d.isFile() && isNiftiName(d.name)) return true;
  if (depth > 0) for (const d of list) if (d.isDirectory() && (await hasNifti(path.join(dir, d.name), depth - 1))) return true;
  return false;
}

/**
 * Guess the layout of `root` from its contents (null when none fits):
 * a `HAM10000_metadata*.csv` or `HAM10000_images*` folder -> ham10000;
 * `Original/` or `png/Original/` (or a `CVC-ClinicDB/` child) -> cvc;
 * `images/` + `masks/` holding TIFF frames -> cvc (Kvasir-SEG is JPEG; CVC-ClinicDB
 * mirrors keep the original TIFFs in such folders);
 * `images/` + `masks/` (or a `Kvasir-SEG/` child) -> kvasir;
 * any `.nii(.gz)` within 6 levels -> nifti.
 */
export async function detectDatasetKind(root: string): Promise<DatasetKind | null> {
  const list = await entries(root);
  if (!list) return null;
  const names = list.map((d) => d.name);
  if (names.some((n) => /^HAM10000_(metadata.*\.csv|images.*)$/i.test(n))) return 'ham10000';
  if (names.includes('CVC-ClinicDB')) return 'cvc';
  const cvc = await findCvcClinicDbLayout(root);
  if (cvc && cvc.format !== 'pairs') return 'cvc';
  if (names.includes('Kvasir-SEG')) return 'kvasir';
  if (names.includes('images') && names.includes('masks')) {
    const frames = await filesWith(path.join(root, 'images'), IMAGE_EXTENSIONS);
    return frames.some((f) => /\.tiff?$/i.test(f)) ? 'cvc' : 'kvasir';
  }
  if (await hasNifti(root, 6)) return 'nifti';
  return null;
}

/**
 * Validate the layout at `root` as `kind` (default 'auto': detected with
 * {@link detectDatasetKind}). Never throws for data problems: everything is
 * reported in the result (`ok`, `missing`, `problems`, `notes`).
 */
export async function checkDataset(root: string, kind: DatasetKindOption = 'auto', options: CheckDatasetOptions = {}): Promise<DatasetCheck> {
  const abs = path.resolve(root);
  if (!DATASET_KINDS.includes(kind)) throw new Error(`checkDataset: kind '${String(kind)}' is not one of ${DATASET_KINDS.join(', ')}`);
  if (!(await isDir(abs))) {
    return { kind: kind === 'auto' ? 'unknown' : kind, root: abs, ok: false, found: {}, missing: [abs], problems: [`${abs} is not a folder`], notes: [], deep: options.deep ?? false, bad: [] };
  }
  const k = kind === 'auto' ? await detectDatasetKind(abs) : kind;
  switch (k) {
    case 'kvasir':
      return checkKvasir(abs, options);
    case 'cvc':
      return checkCvc(abs, options);
    case 'ham10000':
      return checkHam10000(abs, options);
    case 'nifti':
      return checkNifti(abs, options);
    default:
      return {
        kind: 'unknown',
        root: abs,
        ok: false,
        found: {},
        missing: [],
        problems: [
          'no known layout found: expected HAM10000_metadata.csv + HAM10000_images_part_*/ (ham10000), ' +
            `${describeCvcClinicDbLayouts()} with TIFF frames (cvc), images/ + masks/ (kvasir) or .nii/.nii.gz volumes (nifti); see datasets/README.md`,
        ],
        notes: [],
        deep: options.deep ?? false,
        bad: [],
      };
  }
}

/** Human-readable report of one check (what `medfl datasets check` prints). */
export function formatDatasetCheck(c: DatasetCheck): string {
  const found = Object.entries(c.found).map(([k, v]) => `${k} ${v}`).join(', ');
  const lines = [`${c.root}: ${c.kind} — ${c.ok ? 'OK' : 'NOT OK'}${c.deep ? ' (every file decoded)' : ''}`, `  found:    ${found || '-'}`];
  if (c.missing.length) lines.push(`  missing:  ${c.missing.join(', ')}`);
  for (const p of c.problems) lines.push(`  problem:  ${p}`);
  for (const x of c.bad) lines.push(`  bad:      ${x.file}: ${x.reason}`);
  for (const n of c.notes) lines.push(`  note:     ${n}`);
  return lines.join('\n');
}
