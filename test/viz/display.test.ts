import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { liveLine, show, showTable, showPng, showImage, showHtml, notebookDisplay, inNotebook, setNotebookDisplay, resetPlotlySession, type NotebookDisplay } from '../../src/viz/display';
import { heatmap } from '../../src/viz/heatmap';
import { tableHtml } from '../../src/viz/html';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'medfl-viz-display-'));
const fake = path.join(dir, 'plotly.min.js');
fs.writeFileSync(fake, 'window.Plotly={newPlot:function(){}};/*FAKE-BUNDLE*/\n');
// uvu loads every test file before running any: point at this file's bundle before each test.
test.before.each(() => {
  process.env.MEDFL_PLOTLY_JS = fake;
});

function recorder(): NotebookDisplay & { calls: [string, unknown][] } {
  const calls: [string, unknown][] = [];
  return { calls, html: (s) => calls.push(['html', s]), png: (b) => calls.push(['png', b]) };
}
const fig = heatmap([[1, 2]], { title: 'h' });
const count = (s: string, sub: string) => s.split(sub).length - 1;

test('outside a notebook: show returns the figure HTML without the bundle and displays nothing', () => {
  setNotebookDisplay(undefined);
  assert.is(notebookDisplay(), null);
  assert.is(inNotebook(), false);
  const html = show(fig)!;
  assert.is(count(html, 'FAKE-BUNDLE'), 0);
  assert.match(html, /<div id="medfl-[0-9a-f]{12}" class="medfl-figure"/);
  assert.is(showHtml('<b>x</b>'), false);
  assert.is(showPng(new Uint8Array([1])), false);
});

test('outside a notebook: show({file}) writes a standalone page; showTable prints text unless print: false', () => {
  const file = path.join(dir, 'fig.html');
  show([fig, fig], { file, title: 'two' });
  const page = fs.readFileSync(file, 'utf8');
  assert.is(count(page, 'FAKE-BUNDLE'), 1);
  assert.is(count(page, 'class="medfl-figure"'), 2);
  const logged: unknown[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => logged.push(a.join(' '));
  try {
    showTable([{ a: 1 }]);
    showTable([{ a: 2 }], { print: false });
  } finally {
    console.log = orig;
  }
  assert.equal(logged, ['a\n-\n1']);
});

test('in a notebook: the plotly bundle goes out once per session, figures every time', () => {
  const rec = recorder();
  setNotebookDisplay(rec);
  assert.is(show(fig), undefined); // nothing for tslab to echo
  show(fig);
  assert.is(rec.calls.length, 2);
  assert.is(count(rec.calls[0][1] as string, 'FAKE-BUNDLE'), 1);
  assert.is(count(rec.calls[1][1] as string, 'FAKE-BUNDLE'), 0);
  assert.match(rec.calls[1][1] as string, /var P=window\.Plotly;.*P\.newPlot\("medfl-[0-9a-f]{12}"/);
  resetPlotlySession();
  show(fig);
  assert.is(count(rec.calls[2][1] as string, 'FAKE-BUNDLE'), 1);
  // plotly: 'none' never sends a bundle
  resetPlotlySession();
  show(fig, { plotly: 'none' });
  assert.is(count(rec.calls[3][1] as string, 'FAKE-BUNDLE'), 0);
  setNotebookDisplay(undefined);
});

test('in a notebook: showTable, showPng, showImage go to the display', async () => {
  const rec = recorder();
  setNotebookDisplay(rec);
  assert.is(showTable([{ site: 'a', dice: 0.5 }]), undefined);
  assert.equal(rec.calls[0], ['html', tableHtml([{ site: 'a', dice: 0.5 }])]);
  assert.ok((rec.calls[0][1] as string).startsWith('<table class="medfl-table"'));
  assert.is(showPng(new Uint8Array([9])), true);
  assert.equal(rec.calls[1], ['png', new Uint8Array([9])]);
  await showImage({ data: new Uint8Array(12).fill(200), width: 2, height: 2 });
  assert.is(rec.calls[2][0], 'png');
  const png = rec.calls[2][1] as Uint8Array;
  assert.equal([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  // a display without png() gets an <img> data URL
  const htmlOnly: [string][] = [];
  setNotebookDisplay({ html: (s) => htmlOnly.push([s]) });
  showPng(new Uint8Array([1, 2, 3]));
  assert.equal(htmlOnly, [['<img src="data:image/png;base64,AQID">']]);
  setNotebookDisplay(undefined);
});

test('auto-detection through globalThis.__tslab__ (the kernel\'s own tslab module)', () => {
  const rec = recorder();
  const g = globalThis as { __tslab__?: unknown };
  g.__tslab__ = { require: (id: string) => (id === 'tslab' ? { display: rec } : undefined) };
  try {
    setNotebookDisplay(undefined);
    assert.is(notebookDisplay(), rec);
    show(fig);
    assert.is(count(rec.calls[0][1] as string, 'FAKE-BUNDLE'), 1);
    // a kernel whose require throws is "not a notebook"
    g.__tslab__ = { require: () => { throw new Error('no'); } };
    assert.is(notebookDisplay(), null);
    // null forces "no notebook" even under tslab
    g.__tslab__ = { require: () => ({ display: rec }) };
    setNotebookDisplay(null);
    assert.is(notebookDisplay(), null);
  } finally {
    delete g.__tslab__;
    setNotebookDisplay(undefined);
  }
});

test('liveLine: in a tslab kernel one display entry is overwritten by every update; elsewhere plain lines', () => {
  const plain: string[] = [];
  liveLine((t) => plain.push(t)).update('a');
  assert.equal(plain, ['a']);
  const shown: string[][] = [];
  const g = globalThis as { __tslab__?: unknown };
  const saved = g.__tslab__;
  g.__tslab__ = { require: (id: string) => (id === 'tslab' ? { newDisplay: () => { const entry: string[] = []; shown.push(entry); return { text: (t: string) => entry.push(t) }; } } : undefined) };
  try {
    const line = liveLine(() => assert.unreachable('no fallback inside tslab'));
    line.update('[grid] 0/2 done');
    line.update('[grid] 1/2 done');
    assert.equal(shown, [['[grid] 0/2 done', '[grid] 1/2 done']], 'one entry, updated in place');
  } finally {
    g.__tslab__ = saved;
  }
});

test.run();
