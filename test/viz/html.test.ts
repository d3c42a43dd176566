import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { figureHtml, figureDivHtml, writeFigureHtml, plotlyScriptTag, scriptJson, tableHtml, tableText, escapeHtml, findPlotlyBundle } from '../../src/viz/html';
import { lineChart } from '../../src/viz/line';

// A stand-in bundle so the tests do not depend on plotly.js-dist-min being installed.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-viz-'));
const fake = path.join(dir, 'plotly.min.js');
fs.writeFileSync(fake, '/**\n* plotly.js v9.9.9\n*/\nwindow.Plotly={newPlot:function(){}};var s="</script>";\n');
// uvu loads every test file before running any: point at this file's bundle before each test.
test.before.each(() => {
  process.env.MEDFL_PLOTLY_JS = fake;
});

const count = (s: string, sub: string) => s.split(sub).length - 1;
const fig = lineChart([{ name: 'site-0', y: [0.25, 0.75] }], { title: 'Dice </script><b>' });

test('findPlotlyBundle: MEDFL_PLOTLY_JS wins; version read from the bundle header', () => {
  assert.equal(findPlotlyBundle(), { file: fake, version: '9.9.9' });
});

test('figureHtml: one inline plotly script, every figure div, data in escaped JSON', () => {
  const html = figureHtml([fig, fig], 'Run <1>');
  assert.ok(html.startsWith('<!DOCTYPE html>'));
  assert.is(count(html, 'window.Plotly={newPlot'), 1);
  assert.is(count(html, '/* plotly.js 9.9.9'), 1);
  // the bundle's own "</script>" string was neutralised so the tag is not closed early
  assert.ok(html.includes('var s="<\\/script>"'));
  assert.ok(html.includes('<div id="medfl-fig-0"'));
  assert.ok(html.includes('<div id="medfl-fig-1"'));
  assert.ok(html.includes('<title>Run &lt;1&gt;</title>'));
  assert.ok(html.includes('"y":[0.25,0.75]'));
  // the figure title cannot close the drawing script
  assert.ok(html.includes('Dice \\u003c/script>\\u003cb>'));
  // <script> tags: bundle + 2 figures
  assert.is(count(html, '<script'), 3);
  assert.is(count(html, '</script>'), 3);
});

test('figureHtml: cdn and none sources', () => {
  const cdn = figureHtml([fig], 't', { plotly: 'cdn' });
  assert.ok(cdn.includes('<script src="https://cdn.jsdelivr.net/npm/plotly.js-dist-min@9.9.9/plotly.min.js"'));
  assert.is(count(cdn, 'window.Plotly={newPlot'), 0);
  const none = figureHtml([fig], 't', { plotly: 'none' });
  assert.is(count(none, '<script'), 1);
  assert.throws(() => plotlyScriptTag('bogus' as never), /'inline', 'cdn' or 'none'/);
});

test('figureHtml: a missing bundle is an actionable error', () => {
  process.env.MEDFL_PLOTLY_JS = path.join(dir, 'nope.js');
  try {
    // with the env file absent the resolver falls back to node resolution; force that to fail too
    const found = findPlotlyBundle();
    if (found === null) assert.throws(() => figureHtml([fig]), /npm install plotly\.js-dist-min.*plotly: 'cdn'/);
    else assert.not.equal(found.file, path.join(dir, 'nope.js'));
  } finally {
    process.env.MEDFL_PLOTLY_JS = fake;
  }
});

test('writeFigureHtml: writes the page atomically, creating folders', () => {
  const file = path.join(dir, 'a', 'b', 'report.html');
  const abs = writeFigureHtml(file, [fig], 'report');
  assert.is(abs, file);
  const html = fs.readFileSync(file, 'utf8');
  assert.is(count(html, 'window.Plotly={newPlot'), 1);
  assert.equal(fs.readdirSync(path.dirname(file)), ['report.html']);
});

test('figureDivHtml: typed arrays become JSON arrays; ids are validated', () => {
  const html = figureDivHtml({ data: [{ type: 'scatter', y: new Float32Array([0.5, 2]) }], layout: { height: 300 } }, 'f1');
  assert.ok(html.includes('"y":[0.5,2]'));
  assert.ok(html.includes('min-height:300px'));
  assert.ok(html.includes('"responsive":true'));
  assert.throws(() => figureDivHtml(fig, '1bad id'), /must start with a letter/);
  assert.is(scriptJson({ a: '\u2028<' }), '{"a":"\\u2028\\u003c"}');
});

test('tableHtml / tableText: rows or DataFrame, escaping, number formatting, truncation', async () => {
  const rows = [
    { site: '<A>', n: 12, dice: 0.123456 },
    { site: 'B', n: 3, dice: NaN },
  ];
  const html = tableHtml(rows, { digits: 3 });
  assert.ok(html.includes('<th>site</th><th>n</th><th>dice</th>'));
  assert.ok(html.includes('<td style="text-align:left">&lt;A&gt;</td><td style="text-align:right">12</td><td style="text-align:right">0.123</td>'));
  assert.ok(html.includes('>NaN</td>'));
  assert.is(tableText(rows, { digits: 2 }), ['site   n  dice', '----  --  ----', '<A>   12  0.12', 'B      3   NaN'].join('\n'));
  const dfd = await import('danfojs-node');
  const df = new dfd.DataFrame(rows.map((r) => ({ ...r, site: r.site.replace(/[<>]/g, '') })));
  const t = tableText(df as never, { digits: 2, index: true });
  assert.is(t.split('\n')[2], '0  A     12  0.12');
  const many = tableHtml(Array.from({ length: 5 }, (_, i) => ({ i })), { maxRows: 2 });
  assert.ok(many.includes('... 3 more rows'));
  assert.is(escapeHtml(`"'&`), '&quot;&#39;&amp;');
});

test.run();
