/**
 * The deep pass of the layout checker (`medfl datasets check --deep`): decode
 * every image, mask and volume the loaders would read, with the loaders' own
 * decoders ({@link decodeImage}, {@link decodeMask}, {@link readNifti}), one
 * file at a time so memory stays bounded by the largest single file, and
 * list each file that fails with the decoder's reason.
 */
import { decodeImage, decodeMask } from '../data/image';
import { readNifti } from '../data/nifti';
import { DataError, errorMessage } from '../data/errors';
import type { CheckBuilder } from './common';
import type { CheckDatasetOptions } from './types';

/** What a file is, i.e. which decoder reads it. */
export type DeepRole = 'image' | 'mask' | 'volume';

/** One file for the deep pass. */
export interface DeepItem {
  file: string;
  role: DeepRole;
}

/** Folders with at least this many files get progress lines (when `options.log` is given). */
export const DEEP_PROGRESS_MIN_FILES = 200;

/** Progress is reported after every this many files. */
export const DEEP_PROGRESS_EVERY = 100;

async function decodeOne(item: DeepItem): Promise<void> {
  switch (item.role) {
    case 'image':
      await decodeImage(item.file);
      return;
    case 'mask':
      await decodeMask(item.file);
      return;
    case 'volume': {
      const v = await readNifti(item.file);
      // A 4-D file: also read the last frame, so a file cut after frame 0 is caught.
      const frames = v.header.dims[3] ?? 1;
      if (v.header.dims.length === 4 && frames > 1) await readNifti(item.file, { frame: frames - 1 });
      return;
    }
  }
}

/**
 * Decode `items` in order, one at a time; record every failure in
 * `b.bad` (file relative to the root, the decoder's reason), the counts in
 * `b.found.decoded` / `b.found.bad`, and one problem line when any failed.
 * With {@link DEEP_PROGRESS_MIN_FILES} files or more, `options.log` gets a
 * progress line every {@link DEEP_PROGRESS_EVERY} files.
 */
export async function deepDecode(b: CheckBuilder, items: readonly DeepItem[], options: CheckDatasetOptions): Promise<void> {
  const log = items.length >= DEEP_PROGRESS_MIN_FILES ? options.log : undefined;
  let ok = 0;
  for (const [i, item] of items.entries()) {
    try {
      await decodeOne(item);
      ok++;
    } catch (err) {
      const reason = err instanceof DataError ? err.problem : errorMessage(err);
      b.bad.push({ file: b.rel(item.file), role: item.role, reason });
    }
    if (log && ((i + 1) % DEEP_PROGRESS_EVERY === 0 || i + 1 === items.length)) {
      log(`[medfl] datasets check --deep ${b.root}: decoded ${i + 1}/${items.length} files, ${b.bad.length} bad`);
    }
  }
  b.found.decoded = ok;
  b.found.bad = b.bad.length;
  if (b.bad.length > 0) {
    b.problems.push(`${b.bad.length} of ${items.length} file${items.length > 1 ? 's' : ''} fail to decode: ${b.bad.slice(0, b.examples).map((x) => x.file).join(', ')}${b.bad.length > b.examples ? ` (+${b.bad.length - b.examples} more)` : ''} (each listed under bad)`);
  }
}
