/**
 * JSON for result files whose numbers may be NaN or infinite (a metric that
 * is undefined, an interval of one seed): written as `null`, read back as
 * NaN. Every `null` of such a file is a number that was not finite.
 */

/** `JSON.stringify` with non-finite numbers as `null`, indented by 2, newline-terminated. */
export function stringifyNumbers(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
}

/** `JSON.parse` with every `null` read as NaN (the inverse of {@link stringifyNumbers} for numbers). */
export function parseNumbers<T>(text: string): T {
  return JSON.parse(text, (_k, v) => (v === null ? NaN : v)) as T;
}
