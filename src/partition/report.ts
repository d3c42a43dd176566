/**
 * Partition report: per-site sizes and class counts, label-skew heterogeneity
 * against the pooled distribution, as JSON, a danfojs DataFrame, a plotly
 * figure spec and a plain-text table.
 *
 * Heterogeneity (per site s, between its label distribution P_s and the
 * pooled distribution Q of all assigned samples):
 * - `jsDivergence`: Jensen-Shannon divergence in bits (log base 2), in [0, 1];
 * - `totalVariation`: ½·Σ|P_s − Q|, in [0, 1];
 * - `hellinger`: sqrt(1 − Σ sqrt(P_s·Q)), in [0, 1].
 * The 1-D earth mover's distance over class indices is deliberately NOT used:
 * diagnostic classes are nominal (class 2 is not "between" classes 1 and 3),
 * so EMD over their indices would depend on an arbitrary ordering. Total
 * variation is the EMD under the 0/1 ground metric, i.e. the meaningful variant.
 * `mean` is the unweighted mean over non-empty sites; empty sites report `null`.
 */
import type * as dfd from 'danfojs-node';
import { danfo } from '../util/dataframe';

/** One site in the report. */
export interface SiteSummary {
  size: number;
  classCounts: Record<string, number>;
}

/** A heterogeneity measure, per site and averaged. */
export interface HeterogeneityMeasure {
  mean: number | null;
  perSite: (number | null)[];
}

/** All heterogeneity measures. */
export interface Heterogeneity {
  jsDivergence: HeterogeneityMeasure;
  totalVariation: HeterogeneityMeasure;
  hellinger: HeterogeneityMeasure;
}

/** The report; `JSON.stringify` gives exactly `{ sites, heterogeneity, scheme, seed }`. */
export interface PartitionReport {
  sites: SiteSummary[];
  heterogeneity: Heterogeneity;
  scheme: string;
  seed: number | null;
}

/** Options of {@link partitionReport}. */
export interface PartitionReportOptions {
  /** Class names (index = label). Default: `'0'`, `'1'`, ... up to the largest label. */
  classNames?: readonly string[];
  /** Scheme name (default 'unknown'). */
  scheme?: string;
  /** Seed used (default null). */
  seed?: number | null;
}

/** Jensen-Shannon divergence in bits between two distributions of equal length. */
export function jsDivergence(p: readonly number[], q: readonly number[]): number {
  let d = 0;
  for (let i = 0; i < p.length; i++) {
    const m = (p[i] + q[i]) / 2;
    if (p[i] > 0) d += 0.5 * p[i] * Math.log2(p[i] / m);
    if (q[i] > 0) d += 0.5 * q[i] * Math.log2(q[i] / m);
  }
  return Math.max(0, d);
}

/** Total variation distance ½·Σ|p − q|. */
export function totalVariation(p: readonly number[], q: readonly number[]): number {
  let d = 0;
  for (let i = 0; i < p.length; i++) d += Math.abs(p[i] - q[i]);
  return d / 2;
}

/** Hellinger distance sqrt(1 − Σ sqrt(p·q)). */
export function hellinger(p: readonly number[], q: readonly number[]): number {
  let bc = 0;
  for (let i = 0; i < p.length; i++) bc += Math.sqrt(p[i] * q[i]);
  return Math.sqrt(Math.max(0, 1 - bc));
}

function normalise(c: readonly number[]): number[] | null {
  const t = c.reduce((a, b) => a + b, 0);
  return t > 0 ? c.map((x) => x / t) : null;
}

function measure(dists: (number[] | null)[], q: number[], f: (p: number[], q: number[]) => number): HeterogeneityMeasure {
  const perSite = dists.map((p) => (p ? f(p, q) : null));
  const vals = perSite.filter((v): v is number => v !== null);
  return { mean: vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null, perSite };
}

/**
 * Build the report of an assignment (`assign` output) given every sample's label.
 * The pooled distribution is over the assigned samples only.
 */
export function partitionReport(assignment: readonly (readonly number[])[], labels: readonly number[], opts: PartitionReportOptions = {}): PartitionReport {
  const maxLabel = labels.reduce((m, l) => Math.max(m, l), -1);
  const names = opts.classNames && opts.classNames.length > 0 ? opts.classNames : Array.from({ length: maxLabel + 1 }, (_, i) => String(i));
  if (maxLabel >= names.length) throw new Error(`partitionReport: label ${maxLabel} has no class name (${names.length} names)`);
  const counts = assignment.map((idx) => {
    const c = new Array(names.length).fill(0);
    for (const i of idx) {
      const l = labels[i];
      if (l === undefined) throw new Error(`partitionReport: index ${i} has no label (labels has ${labels.length})`);
      c[l]++;
    }
    return c;
  });
  const pooled = names.map((_, k) => counts.reduce((s, c) => s + c[k], 0));
  const q = normalise(pooled) ?? names.map(() => 0);
  const dists = counts.map(normalise);
  return {
    sites: counts.map((c, s) => ({
      size: assignment[s].length,
      classCounts: Object.fromEntries(names.map((n, k) => [n, c[k]])),
    })),
    heterogeneity: {
      jsDivergence: measure(dists, q, jsDivergence),
      totalVariation: measure(dists, q, totalVariation),
      hellinger: measure(dists, q, hellinger),
    },
    scheme: opts.scheme ?? 'unknown',
    seed: opts.seed ?? null,
  };
}

function classNamesOf(r: PartitionReport): string[] {
  return r.sites.length ? Object.keys(r.sites[0].classCounts) : [];
}

/** Per-site table as a danfojs DataFrame: columns site, size, one per class, js, tv, hellinger (loads danfojs-node on first use). */
export function reportDataFrame(r: PartitionReport): dfd.DataFrame {
  const names = classNamesOf(r);
  const data: Record<string, (number | string | null)[]> = { site: r.sites.map((_, s) => s), size: r.sites.map((x) => x.size) };
  for (const n of names) data[n] = r.sites.map((x) => x.classCounts[n]);
  data.js = r.heterogeneity.jsDivergence.perSite;
  data.tv = r.heterogeneity.totalVariation.perSite;
  data.hellinger = r.heterogeneity.hellinger.perSite;
  return new (danfo().DataFrame)(data);
}

/** A plotly trace (plain JSON). */
export type PlotlyTrace = Record<string, unknown>;

/** Plain-JSON plotly figure: stacked class-share bars per site (left) and a class x site share heatmap (right). */
export function reportFigure(r: PartitionReport, title = `Partition (${r.scheme})`): { data: PlotlyTrace[]; layout: Record<string, unknown> } {
  const names = classNamesOf(r);
  const siteLabels = r.sites.map((s, i) => `site ${i} (n=${s.size})`);
  const share = (s: SiteSummary, n: string) => (s.size > 0 ? s.classCounts[n] / Object.values(s.classCounts).reduce((a, b) => a + b, 0) : 0);
  const bars: PlotlyTrace[] = names.map((n) => ({
    type: 'bar',
    name: n,
    x: siteLabels,
    y: r.sites.map((s) => share(s, n)),
    xaxis: 'x',
    yaxis: 'y',
    hovertemplate: `%{x}<br>${n}: %{y:.1%}<extra></extra>`,
  }));
  const heat: PlotlyTrace = {
    type: 'heatmap',
    x: siteLabels,
    y: names,
    z: names.map((n) => r.sites.map((s) => share(s, n))),
    xaxis: 'x2',
    yaxis: 'y2',
    colorscale: 'Viridis',
    zmin: 0,
    zmax: 1,
    colorbar: { title: { text: 'share' } },
    showlegend: false,
  };
  const js = r.heterogeneity.jsDivergence.mean;
  return {
    data: [...bars, heat],
    layout: {
      title: { text: `${title}${js === null ? '' : ` — mean JS ${js.toFixed(3)} bits`}` },
      barmode: 'stack',
      xaxis: { domain: [0, 0.45], title: { text: 'site' } },
      yaxis: { title: { text: 'class share' }, range: [0, 1] },
      xaxis2: { domain: [0.55, 1], anchor: 'y2', title: { text: 'site' } },
      yaxis2: { anchor: 'x2', title: { text: 'class' } },
      legend: { title: { text: 'class' } },
    },
  };
}

const fmt = (v: number | null) => (v === null ? '-' : v.toFixed(3));

/** Plain-text table for the CLI: one row per site, a pooled row and the mean heterogeneity. */
export function reportText(r: PartitionReport): string {
  const names = classNamesOf(r);
  const header = ['site', 'n', ...names, 'JS', 'TV', 'Hell'];
  const h = r.heterogeneity;
  const rows: string[][] = r.sites.map((s, i) => [
    String(i),
    String(s.size),
    ...names.map((n) => String(s.classCounts[n])),
    fmt(h.jsDivergence.perSite[i]),
    fmt(h.totalVariation.perSite[i]),
    fmt(h.hellinger.perSite[i]),
  ]);
  const total = names.map((n) => r.sites.reduce((a, s) => a + s.classCounts[n], 0));
  rows.push(['all', String(r.sites.reduce((a, s) => a + s.size, 0)), ...total.map(String), '', '', '']);
  rows.push(['mean', '', ...names.map(() => ''), fmt(h.jsDivergence.mean), fmt(h.totalVariation.mean), fmt(h.hellinger.mean)]);
  const widths = header.map((c, j) => Math.max(c.length, ...rows.map((r2) => r2[j].length)));
  const line = (cells: string[]) => cells.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ');
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  const lines = [`scheme: ${r.scheme}   seed: ${r.seed ?? '-'}   sites: ${r.sites.length}`, line(header), sep];
  rows.forEach((row, i) => {
    if (i === r.sites.length) lines.push(sep);
    lines.push(line(row));
  });
  lines.push('JS = Jensen-Shannon divergence (bits), TV = total variation, Hell = Hellinger; each vs the pooled label distribution.');
  return lines.join('\n');
}
