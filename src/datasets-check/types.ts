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
}

/** Options of {@link checkDataset}. */
export interface CheckDatasetOptions {
  /** Image/mask pairs whose sizes are compared from file headers (sharp metadata). Default 5; 0 = none. */
  sizeChecks?: number;
  /** At most this many NIfTI headers are read (volumes beyond are counted only). Default 2000. */
  maxNiftiHeaders?: number;
  /** How many offending files to name in one problem line. Default 3. */
  examples?: number;
}
