/**
 * `medfl compare <run>...`: one table (and optionally one plotly HTML page)
 * over the strategies of several finished experiment runs.
 */
import * as path from 'node:path';
import { readRuns, type ExperimentRow } from './runner';
import { formatTable, formatBytes } from '../util/table';
import { groupedBarChart, writeFigureHtml } from '../viz';

/** Rows of several runs, each strategy labelled `<run>/<strategy>`. */
export function collectRuns(dirs: readonly string[]): (ExperimentRow & { run: string })[] {
  return readRuns(dirs).flatMap((r) => r.rows.map((row) => ({ ...row, run: path.basename(r.dir) })));
}

/** Print (and with `html`, plot) a comparison of finished runs; returns the text table. */
export function compareRuns(dirs: readonly string[], options: { html?: string } = {}): string {
  const rows = collectRuns(dirs);
  const text = formatTable(
    ['run', 'strategy', 'pooled Dice', 'pooled IoU', 'bytes/round', 'site attack acc', 'seconds'],
    rows.map((r) => [r.run, r.strategy, r.pooledDice, r.pooledIou, formatBytes(r.bytesPerRound), Number.isFinite(r.siteAttackAccuracy) ? r.siteAttackAccuracy : '-', r.seconds]),
  );
  if (options.html) {
    const fig = groupedBarChart(
      rows.map((r) => ({ strategy: r.strategy, run: r.run, dice: r.pooledDice })),
      { x: 'strategy', y: 'dice', group: 'run', title: 'Pooled held-out Dice', yTitle: 'Dice', yRange: [0, 1] },
    );
    writeFigureHtml(options.html, [fig], 'medfl compare', { appendHtml: `<pre>${text.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</pre>` });
  }
  return text;
}
