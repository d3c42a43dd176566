/** Small helpers shared by the layout checks. */
import { promises as fsp } from 'fs';
import * as path from 'path';
import { imageSize } from '../data/image';
import { errorMessage } from '../data/errors';
import type { DeepItem } from './deep';
import type { BadFile, CheckDatasetOptions, DatasetCheck, DatasetKind } from './types';

/** A result under construction. */
export class CheckBuilder {
  readonly found: Record<string, number> = {};
  readonly missing: string[] = [];
  readonly problems: string[] = [];
  readonly notes: string[] = [];
  /** Files the deep pass could not decode. */
  readonly bad: BadFile[] = [];
  /** How many offending files to name in one problem line. */
  readonly examples: number;
  /** Whether every file is decoded ({@link CheckDatasetOptions.deep}). */
  readonly deep: boolean;

  constructor(
    readonly kind: DatasetKind,
    public root: string,
    options: CheckDatasetOptions = {},
  ) {
    this.examples = options.examples ?? 3;
    this.deep = options.deep ?? false;
  }

  /** Name up to `examples` items and say how many more there are. */
  list(items: readonly string[]): string {
    const shown = items.slice(0, this.examples).map((p) => this.rel(p));
    return shown.join(', ') + (items.length > shown.length ? ` (+${items.length - shown.length} more)` : '');
  }

  /** `p` relative to the root (or as given when outside it). */
  rel(p: string): string {
    const r = path.relative(this.root, p);
    return r === '' ? '.' : r.startsWith('..') || path.isAbsolute(r) ? p : r;
  }

  /**
   * The result. A header-only check of a complete layout adds a note that
   * pixel data were not decoded (a file cut after its header passes it).
   */
  done(): DatasetCheck {
    if (!this.deep && this.missing.length === 0) {
      this.notes.push('headers only: pixels and voxels were not decoded (a file cut after its header passes); --deep (deep: true) decodes every file');
    }
    return {
      kind: this.kind,
      root: this.root,
      ok: this.missing.length === 0 && this.problems.length === 0,
      found: this.found,
      missing: this.missing,
      problems: this.problems,
      notes: this.notes,
      deep: this.deep,
      bad: this.bad,
    };
  }
}

/** Directory entries, or null when `dir` is not a readable directory. */
export async function entries(dir: string): Promise<import('fs').Dirent[] | null> {
  try {
    return (await fsp.readdir(dir, { withFileTypes: true })).filter((d) => !d.name.startsWith('.'));
  } catch {
    return null;
  }
}

export { isDir, isFile } from '../data/files';

/** Files (full paths) of `dir` whose lower-cased extension is in `exts`, sorted. */
export async function filesWith(dir: string, exts: readonly string[]): Promise<string[]> {
  const list = (await entries(dir)) ?? [];
  return list
    .filter((d) => d.isFile() && exts.includes(path.extname(d.name).toLowerCase()))
    .map((d) => path.join(dir, d.name))
    .sort();
}

/** File stem (name without folder and last extension). */
export function stem(file: string): string {
  return path.basename(file, path.extname(file));
}

/**
 * Pair images with masks by stem (+ suffix) and record counts and problems
 * under `found.images`, `found.masks`, `found.pairs`; compare the header
 * sizes of the first `sizeChecks` pairs. Returns what the loader would
 * decode (every image, then every paired mask) for the deep pass.
 */
export async function checkPairs(
  b: CheckBuilder,
  images: readonly string[],
  masks: readonly string[],
  opts: { maskSuffix?: string; sizeChecks: number; what: string },
): Promise<DeepItem[]> {
  const suffix = opts.maskSuffix ?? '';
  const maskByStem = new Map<string, string>();
  for (const m of masks) maskByStem.set(stem(m), m);
  const pairs: [string, string][] = [];
  const noMask: string[] = [];
  const used = new Set<string>();
  for (const img of images) {
    const m = maskByStem.get(stem(img) + suffix);
    if (m) {
      pairs.push([img, m]);
      used.add(m);
    } else noMask.push(img);
  }
  const orphanMasks = masks.filter((m) => !used.has(m));
  b.found.images = images.length;
  b.found.masks = masks.length;
  b.found.pairs = pairs.length;
  if (images.length === 0) b.problems.push(`no ${opts.what} images found`);
  if (noMask.length > 0) {
    b.problems.push(`${noMask.length} image${noMask.length > 1 ? 's have' : ' has'} no mask named <image stem>${suffix}.<ext>: ${b.list(noMask)}`);
  }
  if (orphanMasks.length > 0) b.notes.push(`${orphanMasks.length} mask${orphanMasks.length > 1 ? 's have' : ' has'} no image (ignored by the loader): ${b.list(orphanMasks)}`);
  const mismatched: string[] = [];
  for (const [img, m] of pairs.slice(0, opts.sizeChecks)) {
    try {
      const [a, c] = await Promise.all([imageSize(img), imageSize(m)]);
      if (a[0] !== c[0] || a[1] !== c[1]) mismatched.push(`${b.rel(m)} is ${c[1]}x${c[0]} but ${b.rel(img)} is ${a[1]}x${a[0]}`);
    } catch (err) {
      b.problems.push(`unreadable image or mask: ${errorMessage(err)}`);
    }
  }
  if (mismatched.length > 0) b.problems.push(`mask/image size mismatch (WxH): ${mismatched.slice(0, b.examples).join('; ')}`);
  return [...images.map((file) => ({ file, role: 'image' as const })), ...pairs.map(([, file]) => ({ file, role: 'mask' as const }))];
}
