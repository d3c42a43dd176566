import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lineChart, trainingCurves, roundCurves } from '../../src/viz/line';
import { barChart, groupedBarChart, stackedBarChart, matrixRows } from '../../src/viz/bar';
import { heatmap } from '../../src/viz/heatmap';
import type { RoundRecord } from '../../src/fl/types';
import type { SegmentationSummary } from '../../src/train';

const summary = (dice: number, images = 4): SegmentationSummary => ({ images, dice, iou: dice / (2 - dice), precision: dice, recall: dice, validImages: images, pooledDice: dice });

function record(round: number, test: Record<string, number> | undefined, loss: Record<string, number>, globalDice?: number): RoundRecord {
  const sites = test ? Object.keys(test) : [];
  return {
    round,
    strategy: 'fedavg',
    selected: Object.keys(loss),
    participants: Object.keys(loss),
    dropped: [],
    trainLoss: loss,
    test: test ? Object.fromEntries(sites.map((s) => [s, summary(test[s])])) : undefined,
    pooled: test ? { images: 8, dice: (test.a + test.b) / 2, iou: 0, precision: 0, recall: 0 } : undefined,
    global: globalDice === undefined ? undefined : summary(globalDice),
    bytes: { up: {}, down: {}, totalUp: 0, totalDown: 0, cumulativeUp: 0, cumulativeDown: 0 },
    trainSeconds: 0,
    evalSeconds: 0,
    seconds: 0,
  };
}

test('lineChart: default x = 1..n, non-finite y -> null gaps, titles as {text}', () => {
  const f = lineChart([{ name: 'loss', y: [0.5, NaN, 0.25, Infinity] }, { name: 'b', x: ['r1', 'r2'], y: [1, null], dash: 'dash' }], { title: 'T', xTitle: 'epoch', yRange: [0, 1] });
  assert.is(f.data.length, 2);
  assert.equal(f.data[0], { type: 'scatter', mode: 'lines+markers', name: 'loss', x: [1, 2, 3, 4], y: [0.5, null, 0.25, null] });
  assert.equal(f.data[1].x, ['r1', 'r2']);
  assert.equal(f.data[1].line, { dash: 'dash' });
  assert.equal(f.layout.title, { text: 'T' });
  assert.equal(f.layout.xaxis, { title: { text: 'epoch' } });
  assert.equal(f.layout.yaxis, { range: [0, 1] });
});

test('lineChart: x/y length mismatch is an error naming the series', () => {
  assert.throws(() => lineChart([{ name: 'site-0', x: [1, 2], y: [1] }]), /site-0.*2 x values but 1 y/);
});

test('trainingCurves: epoch + 1 on x, one line per named run', () => {
  const logs = [
    { epoch: 0, loss: 0.9, images: 8, seconds: 1 },
    { epoch: 1, loss: 0.4, images: 8, seconds: 1 },
  ];
  const one = trainingCurves(logs);
  assert.equal(one.data.map((t) => [t.name, t.x, t.y]), [['loss', [1, 2], [0.9, 0.4]]]);
  const two = trainingCurves({ unet: logs, segnet: logs.slice(0, 1) }, { logY: true });
  assert.equal(two.data.map((t) => t.name), ['unet', 'segnet']);
  assert.is((two.layout.yaxis as Record<string, unknown>).type, 'log');
});

test('roundCurves: per-site Dice (sorted sites), pooled dashed, global dotted, gaps for unevaluated rounds', () => {
  const recs = [
    record(0, { b: 0.2, a: 0.4 }, { a: 1, b: 3 }, 0.5),
    record(1, undefined, { a: 0.5, b: 1.5 }),
    record(2, { a: 0.8, b: 0.6 }, { a: 0.2, b: 0.4 }, 0.75),
  ];
  const f = roundCurves(recs);
  assert.equal(f.data.map((t) => t.name), ['a', 'b', 'pooled', 'global test']);
  assert.equal(f.data[0].x, [1, 2, 3]);
  assert.equal(f.data[0].y, [0.4, null, 0.8]);
  assert.equal(f.data[1].y, [0.2, null, 0.6]);
  assert.equal(f.data[2].y, [0.30000000000000004, null, 0.7]);
  assert.equal(f.data[2].line, { dash: 'dash' });
  assert.equal(f.data[3].y, [0.5, null, 0.75]);
  assert.equal((f.layout.yaxis as Record<string, unknown>).range, [0, 1]);

  const loss = roundCurves(recs, { metric: 'loss' });
  assert.equal(loss.data.map((t) => t.name), ['a', 'b', 'mean over sites']);
  assert.equal(loss.data[2].y, [2, 1, 0.30000000000000004]);

  // Several runs: pooled only by default, prefixed names, legend groups.
  const multi = roundCurves({ fedavg: recs, local: recs.slice(0, 1) });
  assert.equal(multi.data.map((t) => t.name), ['fedavg: pooled', 'fedavg: global test', 'local: pooled', 'local: global test']);
  assert.is(multi.data[2].legendgroup, 'local');
});

const metricRows = [
  { site: 'A', strategy: 'fedavg', dice: 0.8, sd: 0.1 },
  { site: 'B', strategy: 'fedavg', dice: 0.6, sd: 0.2 },
  { site: 'A', strategy: 'local', dice: 0.7, sd: 0.05 },
];

test('groupedBarChart: one trace per group, categories in first-seen order, missing cells null, error bars', () => {
  const f = groupedBarChart(metricRows, { x: 'site', y: 'dice', group: 'strategy', error: 'sd', labelDigits: 2 });
  assert.is(f.layout.barmode, 'group');
  assert.equal(f.data.map((t) => t.name), ['fedavg', 'local']);
  assert.equal(f.data[0].x, ['A', 'B']);
  assert.equal(f.data[0].y, [0.8, 0.6]);
  assert.equal(f.data[1].y, [0.7, null]);
  assert.equal(f.data[0].error_y, { type: 'data', array: [0.1, 0.2], visible: true });
  assert.equal(f.data[1].text, ['0.70', '']);
});

test('barChart: a danfojs DataFrame gives the same traces as the rows', async () => {
  const dfd = await import('danfojs-node');
  const df = new dfd.DataFrame(metricRows);
  const a = groupedBarChart(df as never, { x: 'site', y: 'dice', group: 'strategy' });
  const b = groupedBarChart(metricRows, { x: 'site', y: 'dice', group: 'strategy' });
  assert.equal(a, b);
});

test('barChart: errors for unknown columns and duplicated cells', () => {
  assert.throws(() => barChart(metricRows, { x: 'site', y: 'dsc' }), /no column 'dsc'.*site, strategy, dice, sd/);
  assert.throws(() => barChart(metricRows, { x: 'site', y: 'dice' }), /more than one row for site 'A'/);
});

test('stackedBarChart: normalize divides by the category total; horizontal puts categories on y', () => {
  const rows = matrixRows([[1, 3], [2, 0]], ['s0', 's1'], ['nv', 'mel'], { row: 'site', column: 'dx', value: 'n' });
  assert.equal(rows[1], { site: 's0', dx: 'mel', n: 3 });
  const f = stackedBarChart(rows, { x: 'site', y: 'n', group: 'dx', normalize: true });
  assert.is(f.layout.barmode, 'stack');
  assert.equal(f.data[0].y, [0.25, 1]);
  assert.equal(f.data[1].y, [0.75, 0]);
  assert.equal((f.layout.yaxis as Record<string, unknown>).range, [0, 1]);
  const h = stackedBarChart(rows, { x: 'site', y: 'n', group: 'dx', orientation: 'h' });
  assert.equal(h.data[0].y, ['s0', 's1']);
  assert.equal(h.data[0].x, [1, 2]);
  assert.is(h.data[0].orientation, 'h');
  assert.throws(() => matrixRows([[1, 2]], ['a'], ['x']), /row 0 has 2 values/);
});

test('heatmap: z gaps, value text with digits, category labels, checks', () => {
  const f = heatmap([[0.5, NaN], [1, 0.123456]], { x: ['s0', 's1'], y: [1, 2], digits: 3, zmin: 0, zmax: 1, title: 'Dice' });
  const t = f.data[0];
  assert.equal(t.z, [[0.5, null], [1, 0.123456]]);
  assert.equal(t.text, [['0.500', ''], ['1.000', '0.123']]);
  assert.equal(t.x, ['s0', 's1']);
  assert.equal(t.y, ['1', '2']);
  assert.is(t.zmin, 0);
  assert.is((f.layout.yaxis as Record<string, unknown>).autorange, 'reversed');
  assert.is(heatmap([[1]], { showValues: false }).data[0].text, undefined);
  assert.throws(() => heatmap([[1, 2], [3]]), /row 1 has 1 values/);
  assert.throws(() => heatmap([[1, 2]], { x: ['a'] }), /1 x labels for 2 columns/);
});

test.run();
