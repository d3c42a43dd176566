/**
 * Krum and Multi-Krum (Blanchard et al. 2017, "Machine Learning with
 * Adversaries: Byzantine Tolerant Gradient Descent", arXiv:1703.02757;
 * Flower's Krum / MultiKrum): each client's score is the sum of squared L2
 * distances from its weights to its n - f - 2 nearest neighbours (at least
 * 1), with f = `numMaliciousNodes`; the `numNodesToSelect` lowest-scoring
 * clients (1 = Krum) are averaged weighted by their sample counts, as Flower
 * does. Ties keep client order. FedAvg's other options apply.
 */
import { fedAvgFamily, FEDAVG_OPTIONS, fedAvgLabel, weightedMean, type FedAvgOptions } from './fedavg';
import type { StrategyDefinition } from './registry';

/** Squared L2 distance over all arrays (float64 accumulation). */
function sqDistance(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    for (let j = 0; j < x.length; j++) {
      const d = x[j] - y[j];
      s += d * d;
    }
  }
  return s;
}

/** Krum scores and the indices selected (lowest scores first). Pure. */
export function krumSelect(lists: readonly (readonly Float32Array[])[], numMalicious: number, numToSelect: number): { scores: number[]; selected: number[] } {
  const n = lists.length;
  if (n === 0) throw new Error('krumSelect: no weight lists');
  const dist = Array.from({ length: n }, () => new Float64Array(n));
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) dist[i][j] = dist[j][i] = sqDistance(lists[i], lists[j]);
  const closest = Math.max(1, n - numMalicious - 2);
  const scores = dist.map((row, i) => {
    const others = [...row].filter((_, j) => j !== i).sort((a, b) => a - b);
    return others.slice(0, closest).reduce((a, b) => a + b, 0);
  });
  const order = scores.map((s, i) => [s, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return { scores, selected: order.slice(0, Math.max(1, Math.min(numToSelect, n))).map((x) => x[1]) };
}

/** Registry entry of 'krum' (Multi-Krum with `numNodesToSelect` > 1). */
export const krumDefinition: StrategyDefinition = {
  name: 'krum',
  summary: 'Krum / Multi-Krum (arXiv:1703.02757): average the client(s) closest to their n-f-2 neighbours',
  options: {
    ...FEDAVG_OPTIONS,
    numMaliciousNodes: { kind: 'integer', min: 0, doc: 'f, clients assumed Byzantine (default 0)' },
    numNodesToSelect: { kind: 'integer', min: 1, doc: 'clients averaged (default 1 = Krum; > 1 = Multi-Krum)' },
  },
  acceptsDp: true,
  label: (o) => fedAvgLabel(((o.numNodesToSelect as number | undefined) ?? 1) > 1 ? `multikrum${o.numNodesToSelect}` : 'krum', o as FedAvgOptions),
  create: (o, init) =>
    fedAvgFamily('krum', o as FedAvgOptions, init, (results, ctx) => {
      const { selected } = krumSelect(results.map((r) => r.weights), (o.numMaliciousNodes as number | undefined) ?? 0, (o.numNodesToSelect as number | undefined) ?? 1);
      return weightedMean(selected.map((i) => results[i]), ctx);
    }),
};
