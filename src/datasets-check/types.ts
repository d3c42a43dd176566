/** Result types of the dataset layout checker (`medfl datasets check`). */

/** Layouts the checker knows (see datasets/README.md). */
export type DatasetKind = 'kvasir' | 'ham10000' | 'cvc' | 'nifti';

/** What to check a folder as: one kind, or detect it from the contents. */
export type DatasetKindOption = DatasetKind | 'auto';

/** The outcome of {@link checkDataset}. */
export interface DatasetCheck {
  /** The kind checked (detected for 'auto'; 'unknown' when detection failed). */
  kind: DatasetKind | 'unknown';
  /** The folder checked (absolute), after stepping into e.g. `Kvasir-SEG/`. */
  root: string;
  /** True when the layout can be opened by medfl's loader: nothing missing, no problems. */
  ok: boolean;
  /** Counts of what was found (e.g. images, masks, pairs, csvRows, volumes). */
  found: Record<string, number>;
  /** Required files/folders that are absent (paths relative to `root`, or absolute when `root` itself is absent). */
  missing: string[];
  /** Things that make the loader fail (an image without a mask, a bad CSV, a label volume on another grid). */
  problems: string[];
  /** Informational remarks that do not fail the check (optional files absent, partial copies). */
  notes: string[];
  /** True when every file was decoded ({@link CheckDatasetOptions.deep}); false for the header-only check. */
  deep: boolean;
  /** Deep check only: every file that failed to decode, with the decoder's reason (empty otherwise). */
  bad: BadFile[];
}

/** A file the deep check could not decode. */
export interface BadFile {
  /** Path relative to the checked root. */
  file: string;
  /** Which decoder read it: `decodeImage`, `decodeMask` or `readNifti`. */
  role: 'image' | 'mask' | 'volume';
  /** The decoder's reason (the `problem` of its DataError). */
  reason: string;
}

/** Options of {@link checkDataset}. */
export interface CheckDatasetOptions {
  /** Image/mask pairs whose sizes are compared from file headers (sharp metadata). Default 5; 0 = none. */
  sizeChecks?: number;
  /** At most this many NIfTI headers are read (volumes beyond are counted only). Default 2000. */
  maxNiftiHeaders?: number;
  /** How many offending files to name in one problem line. Default 3. */
  examples?: number;
  /**
   * Decode every image, mask and volume the loader would read with medfl's
   * own decoders, one file at a time, and list each file that fails
   * (`bad`, plus one problem line). Default false: headers only (fast, but a
   * file cut after its header passes).
   */
  deep?: boolean;
  /**
   * Progress lines of the deep check, for folders of 200 files or more (one
   * line per 100 files). The CLI passes its diagnostics stream. Default: silent.
   */
  log?: (line: string) => void;
}
