/**
 * FedMedian (Yin et al. 2018, "Byzantine-Robust Distributed Learning",
 * arXiv:1803.01498; Flower's FedMedian): FedAvg whose aggregate is the
 * coordinate-wise median of the clients' weights (unweighted by sample
 * counts; even counts take the mean of the two middle values, as numpy's
 * median). Sampling, FedProx, FedBN, server optimizer: FedAvg's options.
 */
import { fedAvgFamily, FEDAVG_OPTIONS, fedAvgLabel, type Aggregator, type FedAvgOptions } from './fedavg';
import type { StrategyDefinition } from './registry';
import { reduceSortedCoordinates } from './aggregate';

/** Coordinate-wise median of equally laid-out weight lists. Pure. */
export function coordinateMedian(lists: readonly (readonly Float32Array[])[]): Float32Array[] {
  const n = lists.length;
  return reduceSortedCoordinates(lists, (c) => (n % 2 ? c[(n - 1) / 2] : (c[n / 2 - 1] + c[n / 2]) / 2), 'coordinateMedian');
}

const median: Aggregator = (results) => coordinateMedian(results.map((r) => r.weights));

/** Registry entry of 'fedmedian'. */
export const fedMedianDefinition: StrategyDefinition = {
  name: 'fedmedian',
  summary: 'FedMedian (arXiv:1803.01498): coordinate-wise median of the client weights',
  options: FEDAVG_OPTIONS,
  acceptsDp: true,
  label: (o) => fedAvgLabel('fedmedian', o as FedAvgOptions),
  create: (o, init) => fedAvgFamily('fedmedian', o as FedAvgOptions, init, median),
};
