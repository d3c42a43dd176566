import * as assert from 'uvu/assert';

/** Assert |actual - expected| <= tol, treating NaN == NaN. */
export function close(actual: number, expected: number, tol = 1e-9, msg = ''): void {
  if (Number.isNaN(expected)) {
    assert.ok(Number.isNaN(actual), `${msg} expected NaN, got ${actual}`);
    return;
  }
  assert.ok(Math.abs(actual - expected) <= tol, `${msg} expected ${expected}, got ${actual}`);
}

/** Element-wise {@link close} on two arrays of equal length. */
export function allClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-9, msg = ''): void {
  assert.is(actual.length, expected.length, `${msg} length`);
  for (let i = 0; i < expected.length; i++) close(actual[i], expected[i], tol, `${msg}[${i}]`);
}
