/**
 * FedTrimmedAvg (Yin et al. 2018, arXiv:1803.01498; Flower's FedTrimmedAvg):
 * FedAvg whose aggregate is the coordinate-wise trimmed mean: with n clients,
 * the floor(beta n) smallest and floor(beta n) largest values of each
 * coordinate are dropped and the rest averaged (unweighted), as scipy's
 * trim_mean that Flower calls. `beta` defaults to Flower's 0.2.
 */
import { fedAvgFamily, FEDAVG_OPTIONS, fedAvgLabel, type FedAvgOptions } from './fedavg';
import type { StrategyDefinition } from './registry';
import { reduceSortedCoordinates } from './aggregate';

/** Coordinate-wise trimmed mean cutting `beta` (in [0, 0.5)) from each end. Pure. */
export function trimmedMean(lists: readonly (readonly Float32Array[])[], beta: number): Float32Array[] {
  if (!(beta >= 0 && beta < 0.5)) throw new Error(`trimmedMean: beta must be in [0, 0.5), got ${beta}`);
  const n = lists.length;
  const cut = Math.floor(beta * n);
  return reduceSortedCoordinates(
    lists,
    (c) => {
      let s = 0;
      for (let k = cut; k < n - cut; k++) s += c[k];
      return s / (n - 2 * cut);
    },
    'trimmedMean',
  );
}

/** Registry entry of 'fedtrimmedavg'. */
export const fedTrimmedAvgDefinition: StrategyDefinition = {
  name: 'fedtrimmedavg',
  summary: 'FedTrimmedAvg (arXiv:1803.01498): coordinate-wise trimmed mean, beta cut from each end',
  options: { ...FEDAVG_OPTIONS, beta: { kind: 'number', min: 0, max: 0.49, doc: 'fraction cut from each end (default 0.2)' } },
  acceptsDp: true,
  label: (o) => fedAvgLabel('fedtrimmedavg', o as FedAvgOptions) + (o.beta !== undefined ? `-b${o.beta}` : ''),
  create: (o, init) => fedAvgFamily('fedtrimmedavg', o as FedAvgOptions, init, (results) => trimmedMean(results.map((r) => r.weights), (o.beta as number | undefined) ?? 0.2)),
};
