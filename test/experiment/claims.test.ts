/** Claim verdicts on synthetic grids with known effects: a true effect, no effect, an effect in the wrong direction, an order, a gap. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatClaimsTable, judgeClaim, type Claim } from '../../src/experiment/claims';
import type { ExperimentRow } from '../../src/experiment/runner';

/** Rows of strategies over seeds: dice = base[strategy] + noise[seed] (+ jitter), iou = dice - 0.1. */
function grid(base: Record<string, number>, jitter: Record<string, number[]> = {}, seeds = [0, 1, 2, 3, 4]): ExperimentRow[] {
  const noise = [0.05, -0.03, 0.02, -0.04, 0.01];
  return Object.entries(base).flatMap(([strategy, b]) =>
    seeds.map((seed) => {
      const d = b + noise[seed] + (jitter[strategy]?.[seed] ?? 0);
      return { cell: `${strategy}__s${seed}`, data: 'kvasir', model: 'unet', strategy, seed, fold: 0, budget: 'budget', dicePerSite: {}, pooledDice: d, pooledIou: d - 0.1, diceImageInterval: [NaN, NaN] as [number, number], bytesPerRound: 0, totalBytes: 0, seconds: 1, keptRound: 0, siteAttackAccuracy: NaN, siteAttackChance: NaN, siteFailures: [] };
    }),
  );
}

const greater = (a: string, b: string): Claim => ({ id: `${a}>${b}`, text: `${a} > ${b}`, paper: 'yes', metric: 'iou', kind: 'greater', a: { strategy: a }, b: { strategy: b } });

test('a true effect is reproduced, the reverse claim contradicted', () => {
  // centralized is 0.05 above local on every seed (same seed noise), with small jitter
  const rows = grid({ centralized: 0.55, local: 0.5 }, { centralized: [0.002, -0.003, 0.001, 0, -0.001] });
  assert.is(judgeClaim(greater('centralized', 'local'), rows).verdict, 'reproduced');
  assert.is(judgeClaim(greater('local', 'centralized'), rows).verdict, 'contradicted');
});

test('no effect (differences around 0) is inconclusive, not reproduced', () => {
  const rows = grid({ fedavg: 0.5, splitfed: 0.5 }, { fedavg: [0.02, -0.02, 0.01, -0.015, 0.005] });
  const v = judgeClaim(greater('fedavg', 'splitfed'), rows);
  assert.is(v.verdict, 'inconclusive');
  assert.match(v.measured, /\(5 pairs\)/);
});

test('order: all steps shown -> reproduced; one step reversed -> contradicted; one step unclear -> inconclusive', () => {
  const chain = (...s: string[]): Claim => ({ id: 'order', text: s.join(' > '), paper: '', metric: 'dice', kind: 'order', chain: s.map((strategy) => ({ strategy })) });
  const rows = grid({ centralized: 0.6, splitfed: 0.55, local: 0.45, flat: 0.55 }, { flat: [0.03, -0.03, 0.02, -0.02, 0.0] });
  assert.is(judgeClaim(chain('centralized', 'splitfed', 'local'), rows).verdict, 'reproduced');
  assert.is(judgeClaim(chain('centralized', 'local', 'splitfed'), rows).verdict, 'contradicted');
  assert.is(judgeClaim(chain('centralized', 'flat', 'local'), rows).verdict, 'reproduced');
  assert.is(judgeClaim(chain('flat', 'splitfed', 'local'), rows).verdict, 'inconclusive');
});

test('gap: inside the band -> reproduced; far outside -> contradicted; too wide -> inconclusive; too few pairs -> inconclusive', () => {
  const gap = (expected: number, tolerance: number, a = 'centralized', b = 'splitfed'): Claim => ({ id: 'gap', text: 'gap', paper: `${expected}`, metric: 'iou', kind: 'gap', a: { strategy: a }, b: { strategy: b }, expected, tolerance });
  const rows = grid({ centralized: 0.52, splitfed: 0.5, noisy: 0.5 }, { centralized: [0.001, -0.001, 0, 0.001, -0.001], noisy: [0.1, -0.1, 0.08, -0.09, 0.05] });
  assert.is(judgeClaim(gap(0.02, 0.01), rows).verdict, 'reproduced');
  assert.is(judgeClaim(gap(0.2, 0.05), rows).verdict, 'contradicted');
  assert.is(judgeClaim(gap(0.02, 0.01, 'centralized', 'noisy'), rows).verdict, 'inconclusive');
  assert.is(judgeClaim(gap(0.02, 0.01), rows.filter((r) => r.seed === 0)).verdict, 'inconclusive');
});

test('failed cells are left out of the pairs; the table lists claim, paper, measured, verdict', () => {
  const rows = grid({ centralized: 0.55, local: 0.5 });
  rows[0].failed = 'a site failed';
  const v = judgeClaim(greater('centralized', 'local'), rows);
  assert.match(v.measured, /\(4 pairs\)/);
  const table = formatClaimsTable([v]);
  assert.match(table, /^claim\s+paper\s+measured/);
  assert.match(table, /centralized > local\s+yes\s+\+0\.050/);
});

test.run();
