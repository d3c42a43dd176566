/**
 * Lazy access to danfojs-node: importing it costs about a second (it pulls
 * in its own tfjs build), so medfl loads it only when a DataFrame is
 * actually requested, never when `medfl` itself is required.
 */
import type * as Danfo from 'danfojs-node';

let cached: typeof Danfo | undefined;

/** The danfojs-node module, required on first call (then cached). */
export function danfo(): typeof Danfo {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  cached ??= require('danfojs-node') as typeof Danfo;
  return cached;
}
