/** Layout check of HAM10000 (metadata CSV + image folders + optional Tschandl lesion masks). */
import * as path from 'path';
import { DataError } from '../data/errors';
import { readCsv, type CsvTable } from '../data/files';
import { HAM10000_CLASSES, HAM10000_IMAGE_DIRS, HAM10000_REQUIRED_COLUMNS } from '../data/ham10000';
import { deepDecode, type DeepItem } from './deep';
import { CheckBuilder, checkPairs, entries, filesWith, isDir, isFile, stem } from './common';
import type { CheckDatasetOptions, DatasetCheck } from './types';

/** The Tschandl lesion mask folder `openHam10000` looks for. */
export const HAM10000_MASK_DIR = 'HAM10000_segmentations_lesion_tschandl';

/** Metadata CSV names tried, in this order (the loader's default first). */
export const HAM10000_METADATA_FILES: readonly string[] = ['HAM10000_metadata.csv', 'HAM10000_metadata_subset_with_dataset.csv'];

/**
 * Check a HAM10000 root: the metadata CSV (required columns, known `dx`
 * codes), the image folders, which CSV rows have an image, and (when the mask
 * folder exists) that every such image has `<image_id>_segmentation.png`.
 * Rows without an image are a note, not a problem (partial copies are normal).
 */
export async function checkHam10000(root: string, options: CheckDatasetOptions = {}): Promise<DatasetCheck> {
  const b = new CheckBuilder('ham10000', root, options);
  // Metadata: the loader's default, else another HAM10000_metadata*.csv.
  let csvFile: string | undefined;
  for (const n of HAM10000_METADATA_FILES) if (!csvFile && (await isFile(path.join(root, n)))) csvFile = path.join(root, n);
  const others = ((await entries(root)) ?? []).filter((d) => d.isFile() && /^HAM10000_metadata.*\.csv$/i.test(d.name)).map((d) => path.join(root, d.name));
  if (!csvFile && others.length) csvFile = others[0];
  let table: CsvTable | undefined;
  const alt: string[] = [];
  if (!csvFile) {
    b.missing.push('HAM10000_metadata.csv');
  } else {
    if (path.basename(csvFile) !== 'HAM10000_metadata.csv') b.notes.push(`metadata: ${path.basename(csvFile)} (pass metadataFile to openHam10000)`);
    alt.push(...others.filter((f) => f !== csvFile).map((f) => path.basename(f)));
    if (alt.length) b.notes.push(`other metadata CSVs: ${alt.join(', ')}`);
    try {
      table = await readCsv(csvFile);
    } catch (err) {
      b.problems.push(err instanceof DataError ? `${b.rel(err.file)}: ${err.problem}` : String(err));
    }
  }
  if (table) {
    b.found.csvRows = table.rows.length;
    const lacking = HAM10000_REQUIRED_COLUMNS.filter((c) => !table!.columns.includes(c));
    if (lacking.length) {
      b.problems.push(`${b.rel(csvFile!)} lacks column${lacking.length > 1 ? 's' : ''} ${lacking.join(', ')} (header: ${table.columns.join(', ')})`);
      table = undefined;
    }
  }
  const imageDirs: string[] = [];
  for (const d of HAM10000_IMAGE_DIRS) if (await isDir(path.join(root, d))) imageDirs.push(path.join(root, d));
  if (imageDirs.length === 0) b.missing.push(`${HAM10000_IMAGE_DIRS.join(' or ')}/`);
  const imageById = new Map<string, string>();
  for (const d of imageDirs) for (const f of await filesWith(d, ['.jpg', '.jpeg', '.png'])) if (!imageById.has(stem(f))) imageById.set(stem(f), f);
  b.found.images = imageById.size;
  if (!table) return b.done();

  const classes = HAM10000_CLASSES as readonly string[];
  const badDx: string[] = [];
  const withImage: string[] = [];
  const withoutImage: string[] = [];
  const inCsv = new Set<string>();
  const sites = new Set<string>();
  table.rows.forEach((r, i) => {
    const id = r.image_id.replace(/\.(jpe?g|png)$/i, '');
    inCsv.add(id);
    if (!classes.includes(r.dx)) badDx.push(`row ${i + 2} (${id}): dx '${r.dx}'`);
    const img = imageById.get(id);
    if (img) {
      withImage.push(img);
      if (r.dataset) sites.add(r.dataset);
    } else withoutImage.push(id);
  });
  b.found.rowsWithImage = withImage.length;
  if (badDx.length) b.problems.push(`${badDx.length} row${badDx.length > 1 ? 's have' : ' has'} an unknown dx (expected ${classes.join(', ')}): ${badDx.slice(0, b.examples).join('; ')}`);
  if (withImage.length === 0 && imageDirs.length > 0) b.problems.push(`no CSV row has an image <image_id>.jpg in ${imageDirs.map((d) => b.rel(d)).join(', ')}`);
  if (withoutImage.length) b.notes.push(`${withoutImage.length} of ${table.rows.length} CSV rows have no image here (skipped by the loader; normal for a partial copy)`);
  const notInCsv = [...imageById.keys()].filter((id) => !inCsv.has(id));
  if (notInCsv.length) b.notes.push(`${notInCsv.length} images have no CSV row (ignored): ${notInCsv.slice(0, b.examples).join(', ')}`);
  if (table.columns.includes('dataset')) b.found.sites = sites.size;
  else {
    b.notes.push(
      `no 'dataset' column (source site) in ${path.basename(csvFile!)}: natural-id partitions by site need a CSV with it ` +
        `(the Dataverse 8-column metadata${alt.length ? `, or maybe ${alt.join(', ')}` : ''})`,
    );
  }

  const maskDir = path.join(root, HAM10000_MASK_DIR);
  let deepItems: DeepItem[] = withImage.map((file) => ({ file, role: 'image' }));
  if (await isDir(maskDir)) {
    const masks = await filesWith(maskDir, ['.png']);
    const pairB = new CheckBuilder('ham10000', root, options);
    deepItems = await checkPairs(pairB, withImage, masks, { maskSuffix: '_segmentation', sizeChecks: options.sizeChecks ?? 5, what: 'HAM10000' });
    b.found.masks = masks.length;
    b.found.pairs = pairB.found.pairs;
    b.problems.push(...pairB.problems.filter((p) => !p.startsWith('no HAM10000 images')));
  } else {
    b.notes.push(`${HAM10000_MASK_DIR}/ absent: classification only (no lesion masks)`);
  }
  if (options.deep) await deepDecode(b, deepItems, options);
  return b.done();
}
