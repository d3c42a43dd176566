/**
 * FedMedian (Yin et al. 2018, "Byzantine-Robust Distributed Learning",
 * arXiv:1803.01498; Flower's FedMedian): FedAvg whose aggregate is the
 * coordinate-wise median of the clients' weights (unweighted by sample
 * counts; even counts take the mean of the two middle values, as numpy's
 * median). Sampling, FedProx, FedBN, server optimizer: FedAvg's options.
 */
import { fedAvgFamily, FEDAVG_OPTIONS, fedAvgLabel, type Aggregator, type FedAvgOptions } from './fedavg';
import type { StrategyDefinition } from './registry';

/** Coordinate-wise median of equally laid-out weight lists. Pure. */
export function coordinateMedian(lists: readonly (readonly Float32Array[])[]): Float32Array[] {
  if (lists.length === 0) throw new Error('coordinateMedian: no weight lists');
  const n = lists.length;
  const column = new Float64Array(n);
  return lists[0].map((first, i) => {
    const out = new Float32Array(first.length);
    for (let j = 0; j < first.length; j++) {
      for (let k = 0; k < n; k++) column[k] = lists[k][i][j];
      column.sort();
      out[j] = n % 2 ? column[(n - 1) / 2] : (column[n / 2 - 1] + column[n / 2]) / 2;
    }
    return out;
  });
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
