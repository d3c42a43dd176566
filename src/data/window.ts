/**
 * Intensity windows mapping scanner values to [0, 1]: CT Hounsfield presets,
 * explicit centre/width, percentile (MR) and min-max normalisation.
 */

/** A window by centre and width (e.g. CT level/width in HU). Maps `[c - w/2, c + w/2]` to [0, 1]. */
export interface CenterWidth {
  center: number;
  width: number;
}

/**
 * CT window presets in Hounsfield units (common radiology values):
 * lung c -600 w 1500 ([-1350, 150]); abdomen / soft-tissue c 40 w 400
 * ([-160, 240]); mediastinum c 50 w 350; liver c 60 w 160; bone c 400 w 1800
 * ([-500, 1300]); brain c 40 w 80 ([0, 80]).
 */
export const CT_WINDOWS = {
  lung: { center: -600, width: 1500 },
  abdomen: { center: 40, width: 400 },
  'soft-tissue': { center: 40, width: 400 },
  mediastinum: { center: 50, width: 350 },
  liver: { center: 60, width: 160 },
  bone: { center: 400, width: 1800 },
  brain: { center: 40, width: 80 },
} as const satisfies Record<string, CenterWidth>;

/** Name of a {@link CT_WINDOWS} preset. */
export type CtWindowName = keyof typeof CT_WINDOWS;

/**
 * How intensities are mapped to [0, 1]:
 * - a {@link CT_WINDOWS} name or `{ center, width }` (fixed window, clamped);
 * - `{ percentiles: [lo, hi] }` (e.g. `[1, 99]`, MR normalisation: the
 *   volume's lo-th..hi-th percentiles, linear interpolation as numpy, over
 *   all voxels, or the non-zero ones with `nonzero: true`);
 * - `'minmax'`: the volume's min..max.
 */
export type IntensityWindow = CtWindowName | CenterWidth | { percentiles: readonly [number, number]; nonzero?: boolean } | 'minmax';

/** Percentile `p` (0..100) of `values` with numpy's default linear interpolation. */
export function percentile(values: ArrayLike<number>, p: number): number {
  return percentiles(values, [p])[0];
}

/** Several percentiles (0..100) of `values` at once (one sort). NaNs are ignored. */
export function percentiles(values: ArrayLike<number>, ps: readonly number[]): number[] {
  let count = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i])) count++;
  const sorted = new Float64Array(count);
  for (let i = 0, k = 0; i < values.length; i++) if (!Number.isNaN(values[i])) sorted[k++] = values[i];
  if (sorted.length === 0) throw new RangeError('percentile of an empty (or all-NaN) array');
  sorted.sort();
  return ps.map((p) => {
    if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
    const rank = (p / 100) * (sorted.length - 1);
    const lo = Math.floor(rank);
    const hi = Math.min(lo + 1, sorted.length - 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
  });
}

/** The `[low, high]` intensity range of a window for a volume's values. */
export function resolveWindow(window: IntensityWindow, values: ArrayLike<number>): [number, number] {
  if (typeof window === 'string') {
    if (window === 'minmax') {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      return [lo, hi];
    }
    const preset = (CT_WINDOWS as Record<string, CenterWidth>)[window];
    if (!preset) throw new Error(`unknown window '${window}'; use one of ${[...Object.keys(CT_WINDOWS), 'minmax'].join(', ')}, {center, width} or {percentiles: [lo, hi]}`);
    return [preset.center - preset.width / 2, preset.center + preset.width / 2];
  }
  if ('percentiles' in window) {
    let src: ArrayLike<number> = values;
    if (window.nonzero) {
      const nz: number[] = [];
      for (let i = 0; i < values.length; i++) if (values[i] !== 0) nz.push(values[i]);
      if (nz.length > 0) src = nz;
    }
    const [lo, hi] = percentiles(src, window.percentiles);
    return [lo, hi];
  }
  if (!(window.width > 0)) throw new Error(`window width must be > 0, got ${window.width}`);
  return [window.center - window.width / 2, window.center + window.width / 2];
}

/**
 * Map values linearly from `[low, high]` to [0, 1], clamping outside.
 * A degenerate range (`high <= low`, e.g. a constant volume) gives 0 for
 * values `<= low` and 1 above.
 */
export function applyWindow(values: ArrayLike<number>, range: readonly [number, number]): Float32Array {
  const [lo, hi] = range;
  const out = new Float32Array(values.length);
  const span = hi - lo;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(span > 0)) out[i] = v > lo ? 1 : 0;
    else {
      const t = (v - lo) / span;
      out[i] = t <= 0 ? 0 : t >= 1 ? 1 : t;
    }
  }
  return out;
}

