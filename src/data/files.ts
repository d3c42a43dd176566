/**
 * File-system and CSV helpers shared by the loaders: folder checks that throw
 * {@link DataError}, natural-order listings, image/mask pairing by basename,
 * and a small RFC 4180 CSV parser.
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import { DataError, errorMessage } from './errors';

/** File extensions the image loaders pick up (lower case, with dot). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp', '.webp', '.gif'];

/** Natural (numeric-aware) string order: '2' < '10'. Locale-independent for ASCII names. */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true, sensitivity: 'variant' });
}

/** Throw a `missing-folder` {@link DataError} unless `dir` is an existing directory. */
export async function requireDir(dir: string, what: string): Promise<void> {
  let ok = false;
  try {
    ok = (await fsp.stat(dir)).isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new DataError({ file: dir, kind: 'missing-folder', expected: what, problem: 'folder not found' });
  }
}

/** Throw a `missing-file` {@link DataError} unless `file` is an existing regular file. */
export async function requireFile(file: string, what: string): Promise<void> {
  let ok = false;
  try {
    ok = (await fsp.stat(file)).isFile();
  } catch {
    ok = false;
  }
  if (!ok) throw new DataError({ file, kind: 'missing-file', expected: what, problem: 'file not found' });
}

/** True when `p` exists and is a directory. */
export async function isDir(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** True when `p` exists and is a regular file. */
export async function isFile(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * Files of `dir` (not recursive) whose extension is in `extensions`
 * (case-insensitive), in natural order, skipping hidden files. Full paths.
 */
export async function listFiles(dir: string, extensions: readonly string[] = IMAGE_EXTENSIONS, what = 'a folder of images'): Promise<string[]> {
  await requireDir(dir, what);
  const exts = new Set(extensions.map((e) => e.toLowerCase()));
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && !e.name.startsWith('.') && exts.has(path.extname(e.name).toLowerCase()))
    .map((e) => e.name)
    .sort(naturalCompare)
    .map((n) => path.join(dir, n));
}

/** File name without folder and extension. */
export function stem(file: string): string {
  return path.basename(file, path.extname(file));
}

/** Options of {@link pairImagesWithMasks}. */
export interface PairOptions {
  /** Appended to the image stem to get the mask stem (HAM: `'_segmentation'`). Default ''. */
  maskSuffix?: string;
  /** Mask extension (e.g. '.png'); default: any of {@link IMAGE_EXTENSIONS}, preferring the image's own. */
  maskExt?: string;
  /** Keep images that have no mask (their pair has `mask: undefined`). Default false: DataError. */
  allowMissingMasks?: boolean;
}

/** An image file and its mask file (when found). */
export interface ImageMaskPair {
  id: string;
  image: string;
  mask?: string;
}

/**
 * Pair every image of `imageDir` with the mask of the same stem (+ suffix) in
 * `maskDir`. Throws a `missing-mask` {@link DataError} naming the first image
 * without a mask (and how many lack one) unless `allowMissingMasks`.
 */
export async function pairImagesWithMasks(imageDir: string, maskDir: string, options: PairOptions = {}): Promise<ImageMaskPair[]> {
  const images = await listFiles(imageDir, IMAGE_EXTENSIONS, 'a folder of images');
  const masks = await listFiles(maskDir, IMAGE_EXTENSIONS, 'a folder of masks');
  const suffix = options.maskSuffix ?? '';
  const wantExt = options.maskExt === undefined ? undefined : normaliseExt(options.maskExt);
  const byStem = new Map<string, string[]>();
  for (const m of masks) {
    if (wantExt !== undefined && path.extname(m).toLowerCase() !== wantExt) continue;
    const s = stem(m);
    const list = byStem.get(s);
    if (list) list.push(m);
    else byStem.set(s, [m]);
  }
  const pairs: ImageMaskPair[] = [];
  const missing: string[] = [];
  for (const img of images) {
    const id = stem(img);
    const candidates = byStem.get(id + suffix);
    let mask: string | undefined;
    if (candidates) {
      const own = candidates.find((c) => path.extname(c).toLowerCase() === path.extname(img).toLowerCase());
      mask = own ?? candidates[0];
    }
    if (!mask) missing.push(img);
    pairs.push({ id, image: img, mask });
  }
  if (missing.length > 0 && !options.allowMissingMasks) {
    const expectName = `${stem(missing[0])}${suffix}${wantExt ?? '.<ext>'}`;
    throw new DataError({
      file: missing[0],
      kind: 'missing-mask',
      expected: `a mask ${path.join(maskDir, expectName)}`,
      problem: `image has no mask${missing.length > 1 ? ` (${missing.length} images lack one)` : ''}; pass allowMissingMasks: true to keep such images`,
    });
  }
  return pairs;
}

function normaliseExt(ext: string): string {
  const e = ext.toLowerCase();
  return e.startsWith('.') ? e : `.${e}`;
}

/** A parsed CSV: header names and rows of strings keyed by header. */
export interface CsvTable {
  columns: string[];
  rows: Record<string, string>[];
}

/**
 * Parse RFC 4180 CSV text (quoted fields, doubled quotes, CRLF/LF, BOM).
 * Every row must have as many fields as the header, else a `csv-format`
 * {@link DataError} naming `file` and the line.
 */
export function parseCsv(text: string, file = '<csv>'): CsvTable {
  const records: string[][] = [];
  let field = '';
  let row: string[] = [];
  let inQuotes = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let rowLine = 1;
  const endRow = (): void => {
    row.push(field);
    field = '';
    if (!(row.length === 1 && row[0] === '')) records.push(row);
    else if (records.length === 0) records.push(row);
    row = [];
  };
  const lines: number[] = [];
  for (; i < text.length; i++) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else inQuotes = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"' && field === '') inQuotes = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      const before = records.length;
      endRow();
      if (records.length > before) lines.push(rowLine);
      line++;
      rowLine = line;
    } else field += ch;
  }
  if (inQuotes) {
    throw new DataError({ file, kind: 'csv-format', expected: 'well-formed CSV', problem: `unterminated quoted field starting on line ${rowLine}` });
  }
  if (field !== '' || row.length > 0) {
    const before = records.length;
    endRow();
    if (records.length > before) lines.push(rowLine);
  }
  if (records.length === 0 || (records[0].length === 1 && records[0][0] === '')) {
    throw new DataError({ file, kind: 'csv-format', expected: 'a CSV file with a header row', problem: 'file is empty' });
  }
  const columns = records[0].map((c) => c.trim());
  const rows: Record<string, string>[] = [];
  for (let r = 1; r < records.length; r++) {
    const rec = records[r];
    if (rec.length !== columns.length) {
      throw new DataError({
        file,
        kind: 'csv-format',
        expected: `${columns.length} fields per row (${columns.join(',')})`,
        problem: `line ${lines[r] ?? r + 1} has ${rec.length} fields`,
      });
    }
    const obj: Record<string, string> = {};
    for (let c = 0; c < columns.length; c++) obj[columns[c]] = rec[c];
    rows.push(obj);
  }
  return { columns, rows };
}

/** Read and parse a CSV file ({@link parseCsv}); `missing-file`/`unreadable` DataErrors name it. */
export async function readCsv(file: string): Promise<CsvTable> {
  await requireFile(file, 'a CSV file');
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    throw new DataError({ file, kind: 'unreadable', expected: 'a readable CSV file', problem: errorMessage(err), underlying: err });
  }
  return parseCsv(text, file);
}

/** Throw a `csv-column` {@link DataError} listing the columns when one of `required` is absent. */
export function requireColumns(table: CsvTable, required: readonly string[], file: string): void {
  const missing = required.filter((c) => !table.columns.includes(c));
  if (missing.length > 0) {
    throw new DataError({
      file,
      kind: 'csv-column',
      expected: `columns ${required.join(', ')}`,
      problem: `missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; the header has ${table.columns.join(', ')}`,
    });
  }
}
