import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { partitionReport } from '../../src/partition/report';
import { reportSvg } from '../../src/partition/svg';

test('reportSvg draws one bar segment per non-empty (site, class) with height proportional to the share', () => {
  // Site 0: 3 of class a, 1 of b; site 1: 2 of b.
  const report = partitionReport([[0, 1, 2, 3], [4, 5]], [0, 0, 0, 1, 1, 1], { classNames: ['a', 'b'], scheme: 'fixture', seed: 1 });
  const svg = reportSvg(report, { height: 200 });
  assert.ok(svg.startsWith('<svg') && svg.trim().endsWith('</svg>'));
  const segs = [...svg.matchAll(/<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" fill="[^"]+"><title>site (\d) (\w+): (\d+)<\/title>/g)];
  assert.is(segs.length, 3, 'three non-empty segments');
  const byKey = Object.fromEntries(segs.map((m) => [`${m[3]}:${m[4]}`, Number(m[2])]));
  assert.ok(Math.abs(byKey['0:a'] - 150) < 0.1, '3/4 of 200 px');
  assert.ok(Math.abs(byKey['0:b'] - 50) < 0.1, '1/4 of 200 px');
  assert.ok(Math.abs(byKey['1:b'] - 200) < 0.1, 'full bar');
  assert.match(svg, /n=4/);
  assert.match(svg, /mean JS/);
});

test('reportSvg escapes class names', () => {
  const report = partitionReport([[0], [1]], [0, 1], { classNames: ['<x>', 'a&b'] });
  const svg = reportSvg(report);
  assert.not.match(svg, /<x>/);
  assert.match(svg, /&lt;x&gt;/);
  assert.match(svg, /a&amp;b/);
});

test.run();
