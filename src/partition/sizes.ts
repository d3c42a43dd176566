/**
 * Site-size helpers shared by the size-driven partitioners (innerDirichlet, quantity).
 */

/**
 * Resolve requested sizes against `n` units: integers must sum to exactly `n`;
 * fractions (any non-integer present, or all values in [0, 1] summing to 1)
 * are turned into integer sizes by the largest-remainder rule.
 */
export function resolveSizes(owner: string, sizes: readonly number[], n: number, what: string): number[] {
  const isFraction = sizes.some((s) => !Number.isInteger(s)) || (sizes.every((s) => s <= 1) && Math.abs(sum(sizes) - 1) < 1e-9 && n !== 1);
  if (isFraction) {
    const tot = sum(sizes);
    if (Math.abs(tot - 1) > 1e-6) throw new Error(`${owner}: fractional sizes must sum to 1, got ${tot}`);
    return largestRemainder(sizes, n);
  }
  const tot = sum(sizes);
  if (tot !== n) throw new Error(`${owner}: sizes sum to ${tot} but there are ${n} ${what}`);
  return sizes.slice();
}

/** Validate a sizes array eagerly (non-empty, finite, >= 0; fractions sum to 1). */
export function validateSizes(owner: string, sizes: unknown): readonly number[] {
  if (!Array.isArray(sizes) || sizes.length === 0) throw new Error(`${owner}: 'sizes' must be a non-empty array`);
  sizes.forEach((s, i) => {
    if (typeof s !== 'number' || !Number.isFinite(s) || s < 0) {
      throw new Error(`${owner}: sizes[${i}] must be a finite number >= 0, got ${String(s)}`);
    }
  });
  if (sizes.some((s) => !Number.isInteger(s)) && Math.abs(sum(sizes) - 1) > 1e-6) {
    throw new Error(`${owner}: fractional sizes must sum to 1, got ${sum(sizes)}`);
  }
  return sizes;
}

/** Integer apportionment of `n` proportional to `weights` (Hamilton / largest remainder; ties to the lower index). */
export function largestRemainder(weights: readonly number[], n: number): number[] {
  const tot = sum(weights);
  const exact = weights.map((w) => (w / tot) * n);
  const out = exact.map(Math.floor);
  let left = n - sum(out);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let j = 0; left > 0; j = (j + 1) % order.length, left--) out[order[j][1]]++;
  return out;
}

function sum(a: readonly number[]): number {
  return a.reduce((s, x) => s + x, 0);
}
