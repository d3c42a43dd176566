/**
 * Notebook display helpers for the tslab Jupyter kernel.
 *
 * Detection: tslab sets `globalThis.__tslab__` (with the notebook's
 * `require`) before running a cell; `require('tslab')` through it returns the
 * kernel's own `tslab` module, whose `display` writes rich outputs. medfl
 * therefore needs no dependency on tslab. Elsewhere (scripts, tests) nothing
 * is displayed: {@link show} returns the HTML (and writes a page when
 * `file` is given), {@link showTable} prints a text table.
 *
 * Plotly: the first figure shown in a kernel session carries the whole
 * plotly.js bundle inline (so a saved notebook renders offline); later
 * figures reuse `window.Plotly`. Re-running after a kernel restart inlines it
 * again. Clearing that first output and saving loses the bundle for the other
 * outputs (call {@link resetPlotlySession} and re-show).
 */
import { randomBytes } from 'crypto';
import { figureDivHtml, plotlyScriptTag, tableHtml, tableText, writeFigureHtml, type PlotlySource, type TableFormatOptions } from './html';
import type { RgbRaster } from './overlay';
import type { PlotlyFigure, TableInput } from './types';

/** The part of tslab's `display` medfl uses (any object with `html` works, e.g. for other kernels or tests). */
export interface NotebookDisplay {
  html(s: string): void;
  png?(b: Uint8Array): void;
  markdown?(s: string): void;
}

interface VizSession {
  plotlyLoaded: boolean;
  /** undefined = auto-detect; null = force "no notebook". */
  override?: NotebookDisplay | null;
}

const SESSION_KEY = Symbol.for('medfl.viz.session');

function session(): VizSession {
  const g = globalThis as unknown as Record<symbol, VizSession | undefined>;
  let s = g[SESSION_KEY];
  if (!s) {
    s = { plotlyLoaded: false };
    g[SESSION_KEY] = s;
  }
  return s;
}

/**
 * Use `display` for all output (e.g. `tslab.display`, or a recorder in
 * tests); `null` disables notebook output; `undefined` restores
 * auto-detection. Also resets the plotly-loaded flag.
 */
export function setNotebookDisplay(display: NotebookDisplay | null | undefined): void {
  const s = session();
  s.override = display;
  s.plotlyLoaded = false;
}

/** Forget that plotly.js was already sent to the notebook (the next {@link show} inlines it again). */
export function resetPlotlySession(): void {
  session().plotlyLoaded = false;
}

/** The notebook display in use, or null outside a tslab kernel (see the module comment). */
export function notebookDisplay(): NotebookDisplay | null {
  const s = session();
  if (s.override !== undefined) return s.override;
  const req = (globalThis as { __tslab__?: { require?: (id: string) => unknown } }).__tslab__?.require;
  if (typeof req !== 'function') return null;
  try {
    const mod = req('tslab') as { display?: NotebookDisplay } | undefined;
    return mod?.display && typeof mod.display.html === 'function' ? mod.display : null;
  } catch {
    return null;
  }
}

/** A status line that is rewritten in place (see {@link liveLine}). */
export interface LiveLine {
  /** Show `text` as the line's new content. */
  update(text: string): void;
}

/**
 * A progress line updated in place: in a tslab notebook one output entry
 * (tslab's `newDisplay`) overwritten by every `update`; elsewhere (or with a
 * display set by {@link setNotebookDisplay}) every update goes to `fallback`
 * (default console.log), one line each, as a terminal log should.
 */
export function liveLine(fallback: (text: string) => void = (t) => console.log(t)): LiveLine {
  const s = session();
  const req = (globalThis as { __tslab__?: { require?: (id: string) => unknown } }).__tslab__?.require;
  if (s.override === undefined && typeof req === 'function') {
    try {
      const mod = req('tslab') as { newDisplay?: () => { text(t: string): void } } | undefined;
      if (typeof mod?.newDisplay === 'function') {
        const d = mod.newDisplay();
        return { update: (t) => d.text(t) };
      }
    } catch {
      // not a usable tslab: plain lines
    }
  }
  return { update: fallback };
}

/** True when running inside a tslab kernel (or with a display set by {@link setNotebookDisplay}). */
export function inNotebook(): boolean {
  return notebookDisplay() !== null;
}

/** Options of {@link show}. */
export interface ShowOptions {
  /** Plotly source for the first figure of the session. Default 'inline'. */
  plotly?: PlotlySource;
  /** Also write a standalone HTML page of the figure(s) here (always, notebook or not). */
  file?: string;
  /** Title of that page. Default 'medfl figure'. */
  title?: string;
}

/**
 * Show one or more plotly figures. In a notebook: displays them (the first
 * time in the session with the plotly.js bundle) and returns undefined (so
 * tslab does not echo megabytes of HTML as the cell's value).
 * Elsewhere: returns the figures' `<div>`/`<script>` HTML (no bundle: use
 * {@link figureHtml} for a standalone page). Writes `file` when given, in both cases.
 */
export function show(figures: PlotlyFigure | readonly PlotlyFigure[], options: ShowOptions = {}): string | undefined {
  const list = Array.isArray(figures) ? (figures as readonly PlotlyFigure[]) : [figures as PlotlyFigure];
  const divs = list.map((f) => figureDivHtml(f, `medfl-${randomBytes(6).toString('hex')}`)).join('\n');
  if (options.file) writeFigureHtml(options.file, list, options.title ?? 'medfl figure', { plotly: options.plotly });
  const display = notebookDisplay();
  if (!display) return divs;
  const s = session();
  const source = options.plotly ?? 'inline';
  const html = s.plotlyLoaded || source === 'none' ? divs : `${plotlyScriptTag(source)}\n${divs}`;
  display.html(html);
  s.plotlyLoaded = true;
  return undefined;
}

/** Options of {@link showTable}. */
export interface ShowTableOptions extends TableFormatOptions {
  /** Outside a notebook, print the text table with console.log. Default true. */
  print?: boolean;
}

/**
 * Show a danfojs DataFrame or an array of row objects: an HTML table
 * ({@link tableHtml}) in a notebook, else a text table ({@link tableText})
 * printed to the console (unless `print: false`). Returns nothing (so tslab
 * echoes nothing); build the strings with tableHtml / tableText when needed.
 */
export function showTable(table: TableInput, options: ShowTableOptions = {}): void {
  const display = notebookDisplay();
  if (display) display.html(tableHtml(table, options));
  else if (options.print !== false) console.log(tableText(table, options));
}

/** Display raw HTML in a notebook. Returns false (and does nothing) outside one. */
export function showHtml(html: string): boolean {
  const display = notebookDisplay();
  if (!display) return false;
  display.html(html);
  return true;
}

/**
 * Display a PNG (bytes) in a notebook (falls back to an `<img>` data URL when
 * the display has no `png`). Returns false outside a notebook.
 */
export function showPng(png: Uint8Array): boolean {
  const display = notebookDisplay();
  if (!display) return false;
  if (typeof display.png === 'function') display.png(png);
  else display.html(`<img src="data:image/png;base64,${Buffer.from(png).toString('base64')}">`);
  return true;
}

/**
 * Encode an RGB raster (e.g. `previewGrid(samples)`) as PNG with sharp and
 * display it (nothing outside a notebook). Returns nothing, so tslab echoes
 * nothing; use {@link rasterDataUrl} or sharp for the bytes.
 */
export async function showImage(raster: RgbRaster): Promise<void> {
  const sharp = (await import('sharp')).default;
  const png = await sharp(Buffer.from(raster.data.buffer, raster.data.byteOffset, raster.data.byteLength), {
    raw: { width: raster.width, height: raster.height, channels: 3 },
  })
    .png()
    .toBuffer();
  showPng(png);
}

/** Display Markdown in a notebook (as a paragraph of escaped text when the display has no `markdown`). Returns false outside one. */
export function showMarkdown(md: string): boolean {
  const display = notebookDisplay();
  if (!display) return false;
  if (typeof display.markdown === 'function') display.markdown(md);
  else display.html(`<p>${md.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</p>`);
  return true;
}
