import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hellinger, jsDivergence, partitionReport, reportDataFrame, reportFigure, reportText, totalVariation } from '../../src/partition/report';
import { medfl } from '../cli/helpers';
import { HAM_CSV } from './helpers';

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} vs ${b}`);

test('divergences: hand-computed values', () => {
  // P = [1, 0], Q = [.5, .5]: M = [.75, .25];
  // JS = .5·log2(1/.75) + .5·(.5·log2(.5/.75) + .5·log2(.5/.25)) = 0.31127812445913283
  close(jsDivergence([1, 0], [0.5, 0.5]), 0.31127812445913283);
  close(jsDivergence([1, 0], [0, 1]), 1);
  close(jsDivergence([0.3, 0.7], [0.3, 0.7]), 0);
  close(totalVariation([1, 0], [0.5, 0.5]), 0.5);
  close(totalVariation([0.2, 0.3, 0.5], [0.5, 0.3, 0.2]), 0.3);
  close(hellinger([1, 0], [0.5, 0.5]), Math.sqrt(1 - Math.SQRT1_2));
  close(hellinger([1, 0], [0, 1]), 1);
});

test('partitionReport: counts, per-site and mean heterogeneity, exact JSON keys', () => {
  const labels = [0, 0, 1, 1];
  // Site 0 = {0, 0}, site 1 = {1, 1}, site 2 = {} : pooled [.5, .5].
  const r = partitionReport([[0, 1], [2, 3], []], labels, { classNames: ['neg', 'pos'], scheme: 'toy', seed: 3 });
  assert.equal(JSON.parse(JSON.stringify(r)), {
    sites: [
      { size: 2, classCounts: { neg: 2, pos: 0 } },
      { size: 2, classCounts: { neg: 0, pos: 2 } },
      { size: 0, classCounts: { neg: 0, pos: 0 } },
    ],
    heterogeneity: r.heterogeneity,
    scheme: 'toy',
    seed: 3,
  });
  assert.equal(Object.keys(r), ['sites', 'heterogeneity', 'scheme', 'seed']);
  const h = r.heterogeneity;
  close(h.jsDivergence.perSite[0]!, 0.31127812445913283);
  assert.is(h.jsDivergence.perSite[2], null);
  close(h.jsDivergence.mean!, 0.31127812445913283);
  close(h.totalVariation.mean!, 0.5);
  close(h.hellinger.mean!, Math.sqrt(1 - Math.SQRT1_2));
  assert.throws(() => partitionReport([[0]], [3], { classNames: ['a'] }), /label 3 has no class name/);
});

test('reportDataFrame, reportFigure and reportText', () => {
  const r = partitionReport([[0, 1, 2], [3]], [0, 1, 1, 2], { classNames: ['a', 'b', 'c'], scheme: 's', seed: 1 });
  const df = reportDataFrame(r);
  assert.equal(df.shape, [2, 8]);
  assert.equal(df.columns, ['site', 'size', 'a', 'b', 'c', 'js', 'tv', 'hellinger']);
  assert.equal(df.column('b').values, [2, 0]);
  const fig = reportFigure(r);
  const bars = fig.data.filter((t) => t.type === 'bar');
  const heat = fig.data.filter((t) => t.type === 'heatmap');
  assert.is(bars.length, 3);
  assert.is(heat.length, 1);
  assert.is(fig.layout.barmode, 'stack');
  // Shares of site 0 stack to 1; the heatmap holds the same shares, classes x sites.
  const s0 = bars.reduce((a, t) => a + (t.y as number[])[0], 0);
  close(s0, 1);
  assert.equal(heat[0].z, [[1 / 3, 0], [2 / 3, 0], [0, 1]]);
  assert.is(JSON.parse(JSON.stringify(fig)).data.length, 4);
  const txt = reportText(r);
  const lines = txt.split('\n');
  assert.match(lines[0], /scheme: s\s+seed: 1\s+sites: 2/);
  assert.match(lines[1], /site\s+n\s+a\s+b\s+c\s+JS\s+TV\s+Hell/);
  assert.match(txt, /\n0\s+3\s+1\s+2\s+0\s/);
  assert.match(txt, /\nall\s+4\s+1\s+2\s+1/);
});

test('medfl partition: HAM10000 CSV, text and JSON; exit codes', async () => {
  const r = await medfl(['partition', '--dataset', `ham10000:${HAM_CSV}`, '--scheme', 'dirichlet', '--alpha', '0.3', '--sites', '5', '--seed', '42', '--group-by', 'lesion_id', '--json']);
  assert.is(r.code, 0, r.text);
  const json = JSON.parse(r.out);
  assert.equal(Object.keys(json), ['sites', 'heterogeneity', 'scheme', 'seed']);
  assert.is(json.sites.length, 5);
  assert.is(json.sites.reduce((a: number, s: { size: number }) => a + s.size, 0), 119);
  assert.equal(Object.keys(json.sites[0].classCounts), ['akiec', 'bcc', 'bkl', 'df', 'mel', 'nv', 'vasc']);
  assert.is(json.seed, 42);
  assert.is(json.scheme, 'dirichlet (groupBy lesion_id)');
  const text = await medfl(['partition', '--dataset', `ham10000:${HAM_CSV}`, '--scheme', 'natural-id', '--column', 'dataset']);
  assert.is(text.code, 0, text.text);
  assert.match(text.out, /^dataset: HAM10000 \(119 samples\)/);
  assert.match(text.out, /sites: 4/);
  const bad = await medfl(['partition', '--scheme', 'bogus']);
  assert.is(bad.code, 2);
  assert.match(bad.err, /--scheme must be one of iid, dirichlet, .*; got 'bogus'/);
  assert.is((await medfl(['partition', '--sites', 'x'])).code, 2);
  assert.is((await medfl(['partition', '--scheme', 'dirichlet', '--alpha', '0'])).code, 2);
  const spec = await medfl(['partition', '--dataset', 'no-such-folder']);
  assert.is(spec.code, 2);
  assert.match(spec.err, /--dataset no-such-folder: names no dataset \(expected embedded, ham10000:/);
  // a column the data does not have: data error
  const data = await medfl(['partition', '--dataset', `ham10000:${HAM_CSV}`, '--scheme', 'natural-id', '--column', 'scanner']);
  assert.is(data.code, 1, data.text);
  assert.match(data.err, /^medfl partition: /);
  const embedded = await medfl(['partition', '--scheme', 'dirichlet', '--alpha', '0.5', '--min-size', '0', '--seed', '-3']);
  assert.is(embedded.code, 0, embedded.text);
  assert.match(embedded.out, /^dataset: synthetic/);
});

test.run();
