/**
 * HTML for plotly figures and tables: the plotly.js bundle (from the npm
 * package `plotly.js-dist-min`, inlined so saved notebooks and reports work
 * offline), one `<div>` + `<script>` per figure, standalone report pages and
 * HTML tables of danfojs DataFrames / row arrays.
 */
import * as fs from 'fs';
import * as path from 'path';
import { isDataFrameLike, tableRows, type PlotlyFigure, type TableInput } from './types';

/** Where the plotly.js code comes from. */
export type PlotlySource =
  /** Inline the whole `plotly.js-dist-min` bundle (~4.6 MiB; works offline). Default. */
  | 'inline'
  /** A `<script src>` to the same version on jsDelivr (needs internet when viewed). */
  | 'cdn'
  /** No plotly script at all (the page already has `window.Plotly`). */
  | 'none';

/** The located plotly.js bundle. */
export interface PlotlyBundle {
  file: string;
  version: string;
}

/** Default plotly config of every figure (responsive, no plotly logo). */
export const DEFAULT_PLOTLY_CONFIG: Readonly<Record<string, unknown>> = Object.freeze({ responsive: true, displaylogo: false });

let bundleCache: { key: string; file: string; version: string; code?: string } | undefined;

/**
 * Find `plotly.js-dist-min/plotly.min.js`: `MEDFL_PLOTLY_JS` (a file path)
 * when set, else Node resolution from medfl's own folder, else from the
 * notebook's folder (tslab's `require`), else from the working directory.
 * Returns null when none works. The result (and the bundle's text) is
 * cached until `MEDFL_PLOTLY_JS` changes.
 */
export function findPlotlyBundle(): PlotlyBundle | null {
  const env = process.env.MEDFL_PLOTLY_JS;
  if (bundleCache && bundleCache.key === (env ?? '')) return { file: bundleCache.file, version: bundleCache.version };
  const candidates: (() => string)[] = [];
  if (env) candidates.push(() => path.resolve(env));
  candidates.push(() => require.resolve('plotly.js-dist-min/plotly.min.js'));
  const tslabReq = (globalThis as { __tslab__?: { require?: NodeRequire } }).__tslab__?.require;
  if (tslabReq && typeof tslabReq.resolve === 'function') candidates.push(() => tslabReq.resolve('plotly.js-dist-min/plotly.min.js'));
  candidates.push(() => require.resolve('plotly.js-dist-min/plotly.min.js', { paths: [process.cwd()] }));
  for (const c of candidates) {
    let file: string;
    try {
      file = c();
    } catch {
      continue;
    }
    if (!fs.existsSync(file)) continue;
    let version = 'unknown';
    try {
      version = JSON.parse(fs.readFileSync(path.join(path.dirname(file), 'package.json'), 'utf8')).version ?? 'unknown';
    } catch {
      const m = /plotly\.js v([0-9][^\s*]*)/.exec(fs.readFileSync(file, 'utf8').slice(0, 300));
      if (m) version = m[1];
    }
    bundleCache = { key: env ?? '', file, version };
    return { file, version };
  }
  return null;
}

function requireBundle(): PlotlyBundle {
  const b = findPlotlyBundle();
  if (!b) {
    throw new Error(
      "medfl viz: cannot find the plotly.js bundle 'plotly.js-dist-min/plotly.min.js'. Install it (npm install plotly.js-dist-min), " +
        "set MEDFL_PLOTLY_JS to the file, or pass plotly: 'cdn'.",
    );
  }
  return b;
}

/** The `<script>` that loads plotly.js for `source` (empty for 'none'). */
export function plotlyScriptTag(source: PlotlySource = 'inline'): string {
  if (source === 'none') return '';
  if (source === 'cdn') {
    const v = findPlotlyBundle()?.version;
    const ver = v && v !== 'unknown' ? `@${v}` : '';
    return `<script src="https://cdn.jsdelivr.net/npm/plotly.js-dist-min${ver}/plotly.min.js" charset="utf-8"></script>`;
  }
  if (source !== 'inline') throw new Error(`medfl viz: plotly source must be 'inline', 'cdn' or 'none', got '${String(source)}'`);
  const b = requireBundle();
  if (!bundleCache?.code) {
    // `</script` cannot occur in the bundle's code outside strings/regexes, where `<\/script` means the same.
    const code = fs.readFileSync(b.file, 'utf8').replace(/<\/script/gi, '<\\/script');
    bundleCache = { key: process.env.MEDFL_PLOTLY_JS ?? '', file: b.file, version: b.version, code };
  }
  return `<script type="text/javascript">/* plotly.js ${b.version} (plotly.js-dist-min, MIT) */\n${bundleCache.code}\n</script>`;
}

/** JSON for embedding inside `<script>`: typed arrays become arrays, `<`, U+2028/9 are escaped. */
export function scriptJson(value: unknown): string {
  const json = JSON.stringify(value, (_k, v: unknown) => (ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number>) : v));
  return (json ?? 'null').replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Escape text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/**
 * One figure as `<div id>` + `<script>` that draws it with `window.Plotly`
 * (waiting, up to 10 s, until plotly is loaded: a bundle in an earlier output
 * may still be evaluating). `id` must be unique on the page.
 */
export function figureDivHtml(figure: PlotlyFigure, id: string): string {
  if (!/^[A-Za-z][\w-]*$/.test(id)) throw new Error(`figureDivHtml: id '${id}' must start with a letter and contain only letters, digits, '_' and '-'`);
  const h = typeof figure.layout.height === 'number' ? figure.layout.height : 450;
  const spec = { data: figure.data, layout: figure.layout, config: { ...DEFAULT_PLOTLY_CONFIG, ...(figure.config ?? {}) } };
  return (
    `<div id="${id}" class="medfl-figure" style="width:100%;min-height:${h}px;"></div>\n` +
    `<script type="text/javascript">(function(){var spec=${scriptJson(spec)};var tries=0;` +
    `function draw(){var P=window.Plotly;if(!P){if(tries++<200){setTimeout(draw,50);}return;}` +
    `P.newPlot(${JSON.stringify(id)},spec.data,spec.layout,spec.config);}draw();})();</script>`
  );
}

/** Options of {@link figureHtml}. */
export interface FigureHtmlOptions {
  /** Plotly source. Default 'inline' (the page works offline). */
  plotly?: PlotlySource;
  /** Text (plain, escaped) or HTML (`html: true`) shown under the title. */
  description?: string;
  /** Extra HTML appended after the figures (e.g. {@link tableHtml} output). */
  appendHtml?: string;
}

/**
 * A standalone HTML report page: title, optional description, then each
 * figure (ids `medfl-fig-0`, `medfl-fig-1`, ...) with one plotly script.
 */
export function figureHtml(figures: readonly PlotlyFigure[], title = 'medfl report', options: FigureHtmlOptions = {}): string {
  const body = figures.map((f, i) => `<section class="medfl-section">\n${figureDivHtml(f, `medfl-fig-${i}`)}\n</section>`).join('\n');
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    '<style>body{font-family:system-ui,sans-serif;margin:24px;max-width:1200px}table.medfl-table{border-collapse:collapse;font-size:13px}' +
      'table.medfl-table th,table.medfl-table td{border:1px solid #ccc;padding:3px 8px;text-align:right}table.medfl-table th{background:#f3f3f3}</style>',
    plotlyScriptTag(options.plotly ?? 'inline'),
    '</head>',
    '<body>',
    `<h1>${escapeHtml(title)}</h1>`,
    options.description ? `<p>${escapeHtml(options.description)}</p>` : '',
    body,
    options.appendHtml ?? '',
    '</body>',
    '</html>',
    '',
  ]
    .filter((l) => l !== '')
    .join('\n');
}

/** Write {@link figureHtml} to `file` (parent folders created; temp file + rename). Returns the absolute path. */
export function writeFigureHtml(file: string, figures: readonly PlotlyFigure[], title = 'medfl report', options: FigureHtmlOptions = {}): string {
  const html = figureHtml(figures, title, options);
  const abs = path.resolve(file);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  const tmp = `${abs}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, html);
  fs.renameSync(tmp, abs);
  return abs;
}

/** Options of {@link tableHtml} / {@link tableText}. */
export interface TableFormatOptions {
  /** Decimals of non-integer numbers. Default 4. */
  digits?: number;
  /** At most this many rows (a final '... N more rows' line). Default 200. */
  maxRows?: number;
  /** Show a DataFrame's index as the first column. Default false. */
  index?: boolean;
  /** Caption above the table. */
  caption?: string;
}

function cellText(v: unknown, digits: number): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    return Number.isInteger(v) ? String(v) : v.toFixed(digits);
  }
  if (typeof v === 'object') return JSON.stringify(v) ?? '';
  return String(v);
}

function tableCells(table: TableInput, opts: TableFormatOptions): { header: string[]; body: string[][]; numeric: boolean[]; more: number } {
  const digits = opts.digits ?? 4;
  const maxRows = opts.maxRows ?? 200;
  const { columns, rows } = tableRows(table);
  const withIndex = opts.index === true && isDataFrameLike(table) && Array.isArray(table.index);
  const header = withIndex ? ['', ...columns] : columns;
  const shown = rows.slice(0, maxRows);
  const body = shown.map((r, i) => {
    const cells = columns.map((c) => cellText(r[c], digits));
    return withIndex ? [String((table as { index: readonly unknown[] }).index[i]), ...cells] : cells;
  });
  const numeric = header.map((_, j) => {
    const col = withIndex ? j - 1 : j;
    return col >= 0 && shown.length > 0 && shown.every((r) => typeof r[columns[col]] === 'number' || r[columns[col]] == null);
  });
  return { header, body, numeric, more: rows.length - shown.length };
}

/** An HTML `<table class="medfl-table">` of a DataFrame or row objects (numbers right-aligned, text escaped). */
export function tableHtml(table: TableInput, options: TableFormatOptions = {}): string {
  const { header, body, numeric, more } = tableCells(table, options);
  const th = header.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const trs = body.map((r) => `<tr>${r.map((c, j) => `<td style="text-align:${numeric[j] ? 'right' : 'left'}">${escapeHtml(c)}</td>`).join('')}</tr>`);
  if (more > 0) trs.push(`<tr><td colspan="${header.length}">... ${more} more rows</td></tr>`);
  const caption = options.caption ? `<caption style="text-align:left;font-weight:bold">${escapeHtml(options.caption)}</caption>` : '';
  return `<table class="medfl-table" style="border-collapse:collapse">${caption}<thead><tr>${th}</tr></thead><tbody>${trs.join('')}</tbody></table>`;
}

/** The same table as aligned plain text (for consoles and logs). */
export function tableText(table: TableInput, options: TableFormatOptions = {}): string {
  const { header, body, numeric, more } = tableCells(table, options);
  const widths = header.map((h, j) => Math.max(h.length, ...body.map((r) => r[j].length)));
  const line = (cells: readonly string[]) => cells.map((c, j) => (numeric[j] ? c.padStart(widths[j]) : c.padEnd(widths[j]))).join('  ').trimEnd();
  const lines = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
  if (more > 0) lines.push(`... ${more} more rows`);
  if (options.caption) lines.unshift(options.caption);
  return lines.join('\n');
}
