/**
 * `medfl compare <run>...`: one table (and optionally one plotly HTML page)
 * over several finished experiment runs: every group of seeds (dataset /
 * model / budget / strategy) with its final pooled Dice as mean and 95%
 * interval over seeds, bytes per round and seconds; bars with error bars.
 */
import * as path from 'node:path';
import { readRuns } from './runner';
import { formatTable, formatBytes } from '../util/table';
import { groupedBarChart, writeFigureHtml } from '../viz';
import { summarizeGrid, type GroupSummary } from './grid-summary';

/** The groups of several runs, each labelled with its run folder's name. */
export function collectRuns(dirs: readonly string[]): (GroupSummary & { run: string; smokeTest: boolean })[] {
  return readRuns(dirs).flatMap((r) => summarizeGrid(r.rows).groups.map((g) => ({ ...g, run: path.basename(r.dir), smokeTest: r.smokeTest })));
}

/** Print (and with `html`, plot) a comparison of finished runs; returns the text table. */
export function compareRuns(dirs: readonly string[], options: { html?: string } = {}): string {
  const groups = collectRuns(dirs);
  const setting = (g: GroupSummary) => [g.data, g.model, g.budget].join(' / ');
  const ci = (g: GroupSummary) => (g.seeds.length === 0 ? '-' : g.seeds.length === 1 ? `${g.dice.mean.toFixed(3)} (1 seed: no interval)` : `${g.dice.mean.toFixed(3)} [${g.dice.lower.toFixed(3)}, ${g.dice.upper.toFixed(3)}]`);
  const text = formatTable(
    ['run', 'data / model / budget', 'strategy', 'seeds', 'pooled Dice [95% CI]', 'pooled IoU', 'bytes/round', 'seconds'],
    groups.map((g) => [`${g.run}${g.smokeTest ? ' (quick: smoke test)' : ''}`, setting(g), g.strategy, String(g.seeds.length), ci(g), g.iou.mean, formatBytes(g.bytesPerRound), g.seconds]),
  );
  if (options.html) {
    const fig = groupedBarChart(
      groups.map((g) => ({ strategy: g.strategy, run: `${g.run}: ${setting(g)}`, dice: g.dice.mean, halfWidth: Number.isFinite(g.dice.halfWidth) ? g.dice.halfWidth : null })),
      { x: 'strategy', y: 'dice', group: 'run', error: 'halfWidth', title: 'Pooled held-out Dice (mean and 95% t interval over seeds)', yTitle: 'Dice', yRange: [0, 1], labelDigits: 3 },
    );
    writeFigureHtml(options.html, [fig], 'medfl compare', { appendHtml: `<pre>${text.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</pre>` });
  }
  return text;
}
