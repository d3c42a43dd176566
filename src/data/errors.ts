/**
 * The one error type of the real-data layer.
 *
 * Every loader failure a user can act on (missing folder, image without a
 * mask, unreadable file, image/mask size mismatch, unknown CSV column, NIfTI
 * label volume on another grid) is a {@link DataError} that names the file and
 * says what was expected, so a notebook user can fix the data and re-run.
 */

/** What went wrong, as a literal union (handy for `catch` branches and tests). */
export type DataErrorKind =
  | 'missing-folder'
  | 'missing-file'
  | 'missing-mask'
  | 'unreadable'
  | 'size-mismatch'
  | 'csv-column'
  | 'csv-format'
  | 'nifti-format'
  | 'shape-mismatch'
  | 'empty'
  | 'invalid-option';

/** Constructor fields of {@link DataError}. */
export interface DataErrorDetails {
  /** The file or folder concerned (the first one when several are). */
  file: string;
  /** What the loader expected to find there. */
  expected: string;
  /** What it found instead / the underlying problem. */
  problem: string;
  kind: DataErrorKind;
  /** Other files involved (e.g. the label volume next to the image volume). */
  otherFiles?: string[];
  /** Underlying error (e.g. from sharp or zlib). */
  underlying?: unknown;
}

/**
 * A data-loading failure that names the file, what was expected and what was
 * found. `message` reads: `<file>: <problem> (expected <expected>)`.
 */
export class DataError extends Error {
  /** The file or folder concerned. */
  readonly file: string;
  /** Other files involved, if any. */
  readonly otherFiles: readonly string[];
  /** What the loader expected. */
  readonly expected: string;
  /** What went wrong. */
  readonly problem: string;
  readonly kind: DataErrorKind;
  /** The underlying error (from sharp, zlib, ...), when there is one. */
  readonly underlying?: unknown;

  constructor(details: DataErrorDetails) {
    const others = details.otherFiles && details.otherFiles.length > 0 ? ` [with ${details.otherFiles.join(', ')}]` : '';
    super(`${details.file}${others}: ${details.problem} (expected ${details.expected})`);
    this.name = 'DataError';
    this.file = details.file;
    this.otherFiles = details.otherFiles ?? [];
    this.expected = details.expected;
    this.problem = details.problem;
    this.kind = details.kind;
    if (details.underlying !== undefined) this.underlying = details.underlying;
  }
}

/** The message of an unknown thrown value (first line only, for compact errors). */
export function errorMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0];
}
