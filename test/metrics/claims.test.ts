/** Claim verdicts on synthetic grids with known effects: a true effect, no effect, an effect in the wrong direction, an order, a gap. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { claimsMarkdown, formatClaimsTable, judgeClaim, type Claim, type ClaimRow, type GreaterClaim } from '../../src/metrics/claims';

/** Rows of strategies over seeds: dice = base[strategy] + noise[seed] (+ jitter), iou = dice - 0.1. */
function grid(base: Record<string, number>, jitter: Record<string, number[]> = {}, seeds = [0, 1, 2, 3, 4]): ClaimRow[] {
  const noise = [0.05, -0.03, 0.02, -0.04, 0.01];
  return Object.entries(base).flatMap(([strategy, b]) =>
    seeds.map((seed) => {
      const d = b + noise[seed] + (jitter[strategy]?.[seed] ?? 0);
      return { seed, arm: { data: 'kvasir', model: 'unet', strategy }, metrics: { dice: d, iou: d - 0.1 } };
    }),
  );
}

const greater = (a: string, b: string): GreaterClaim => ({ id: `${a}>${b}`, text: `${a} > ${b}`, paper: 'yes', metric: 'iou', kind: 'greater', a: { strategy: a }, b: { strategy: b } });

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

test('pairs are matched on the open coordinates: two datasets with opposite effects pool to nothing, one dataset shows its effect', () => {
  const rows = [...grid({ a: 0.6, b: 0.5 }), ...grid({ a: 0.5, b: 0.6 }).map((r) => ({ ...r, arm: { ...r.arm, data: 'ham' } }))];
  assert.match(judgeClaim(greater('a', 'b'), rows).measured, /\(10 pairs\)/);
  assert.is(judgeClaim(greater('a', 'b'), rows).verdict, 'inconclusive');
  const onKvasir: Claim = { ...greater('a', 'b'), a: { strategy: 'a', data: 'kvasir' }, b: { strategy: 'b', data: 'kvasir' } };
  assert.is(judgeClaim(onKvasir, rows).verdict, 'reproduced');
  const onHam: Claim = { ...greater('a', 'b'), a: { strategy: 'a', data: 'ham' }, b: { strategy: 'b', data: 'ham' } };
  assert.is(judgeClaim(onHam, rows).verdict, 'contradicted');
});

test('above a constant (e.g. chance): interval above -> reproduced, below -> contradicted, straddling -> inconclusive', () => {
  const rows = grid({ attack: 0.6 });
  const above = (value: number): Claim => ({ id: 'above', text: 'above chance', paper: '', metric: 'dice', kind: 'above', a: { strategy: 'attack' }, value });
  assert.is(judgeClaim(above(0.25), rows).verdict, 'reproduced');
  assert.is(judgeClaim(above(0.9), rows).verdict, 'contradicted');
  assert.is(judgeClaim(above(0.6), rows).verdict, 'inconclusive');
});

test('extreme and ratio facts: the expected group is the min / max; ratios against a bound', () => {
  const facts: ClaimRow[] = [['cgnet', 0.5e6], ['unet', 31e6], ['refinenet', 75e6]].map(([model, p]) => ({ seed: 0, arm: { model: String(model) }, metrics: { params: Number(p) } }));
  const ext = (which: 'min' | 'max', expect: string): Claim => ({ id: 'x', text: 'x', paper: '', metric: 'params', kind: 'extreme', among: {}, by: 'model', which, expect });
  assert.is(judgeClaim(ext('min', 'cgnet'), facts).verdict, 'reproduced');
  assert.is(judgeClaim(ext('max', 'refinenet'), facts).verdict, 'reproduced');
  const wrong = judgeClaim(ext('max', 'unet'), facts);
  assert.is(wrong.verdict, 'contradicted');
  assert.match(wrong.measured, /max refinenet/);
  assert.is(judgeClaim(ext('max', 'swin-unet'), facts).verdict, 'inconclusive');
  const ratio = (max: number): Claim => ({ id: 'r', text: 'r', paper: '', metric: 'params', kind: 'ratio', a: { model: 'cgnet' }, b: { model: 'unet' }, max });
  assert.is(judgeClaim(ratio(0.1), facts).verdict, 'reproduced');
  assert.is(judgeClaim(ratio(0.01), facts).verdict, 'contradicted');
});

test('notWorse (non-inferiority): equal arms pass the margin, a clearly worse arm is contradicted', () => {
  const rows = grid({ mixture: 0.5, fusion: 0.5, worse: 0.4 }, { mixture: [0.004, -0.003, 0.002, -0.001, 0.0] });
  const nw = (a: string, b: string, margin: number): Claim => ({ id: 'nw', text: 'nw', paper: '', metric: 'dice', kind: 'notWorse', a: { strategy: a }, b: { strategy: b }, margin });
  assert.is(judgeClaim(nw('mixture', 'fusion', 0.02), rows).verdict, 'reproduced');
  assert.is(judgeClaim(nw('worse', 'fusion', 0.02), rows).verdict, 'contradicted');
  assert.is(judgeClaim(nw('mixture', 'fusion', 0.0), rows).verdict, 'inconclusive');
});

test('markdown table escapes pipes and bolds the verdict', () => {
  const v = judgeClaim(greater('centralized', 'local'), grid({ centralized: 0.55, local: 0.5 }));
  const md = claimsMarkdown([{ ...v, claim: { ...v.claim, text: 'a | b' } }]);
  assert.match(md, /^\| claim \| paper \|/);
  assert.match(md, /a \\| b/);
  assert.match(md, /\*\*reproduced\*\*/);
});

test.run();
