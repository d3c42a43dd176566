/**
 * A dependency-free SVG rendering of a partition report: one stacked bar per
 * site (class shares, bar width label = sample count) plus the per-site
 * Jensen-Shannon divergence. For READMEs, papers and `medfl partition --svg`;
 * notebooks use the interactive plotly figure (`reportFigure`).
 */
import type { PartitionReport } from './report';

/** Categorical palette (colour-blind-friendly, Okabe-Ito + extras). */
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#999999', '#882255', '#44AA99'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Options of {@link reportSvg}. */
export interface ReportSvgOptions {
  title?: string;
  /** Pixel width of the drawing. Default 640. */
  width?: number;
  /** Pixel height of the plot area. Default 260. */
  height?: number;
}

/** Render `report` as an SVG document (a string). */
export function reportSvg(report: PartitionReport, options: ReportSvgOptions = {}): string {
  const W = options.width ?? 640;
  const plotH = options.height ?? 260;
  const classes = [...new Set(report.sites.flatMap((s) => Object.keys(s.classCounts)))];
  const left = 48;
  const right = 150;
  const top = options.title ? 36 : 16;
  const bottom = 46;
  const H = top + plotH + bottom;
  const n = report.sites.length;
  const slot = (W - left - right) / Math.max(1, n);
  const barW = Math.min(60, slot * 0.7);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  if (options.title) parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(options.title)}</text>`);
  // Axis and gridlines (share 0..1).
  for (let k = 0; k <= 4; k++) {
    const y = top + plotH - (k / 4) * plotH;
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end">${(k * 25).toString()}%</text>`);
  }
  report.sites.forEach((site, i) => {
    const x = left + i * slot + (slot - barW) / 2;
    let y = top + plotH;
    const total = site.size || 1;
    classes.forEach((c, j) => {
      const h = ((site.classCounts[c] ?? 0) / total) * plotH;
      if (h <= 0) return;
      y -= h;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE[j % PALETTE.length]}"><title>site ${i} ${esc(c)}: ${site.classCounts[c]}</title></rect>`);
    });
    const js = report.heterogeneity.jsDivergence.perSite[i];
    parts.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${top + plotH + 15}" text-anchor="middle">site ${i}</text>`);
    parts.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${top + plotH + 28}" text-anchor="middle" fill="#555">n=${site.size}</text>`);
    if (js !== null && js !== undefined) {
      parts.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${top + plotH + 41}" text-anchor="middle" fill="#555">JS ${js.toFixed(2)}</text>`);
    }
  });
  classes.forEach((c, j) => {
    const y = top + 8 + j * 16;
    parts.push(`<rect x="${W - right + 16}" y="${y - 9}" width="11" height="11" fill="${PALETTE[j % PALETTE.length]}"/>`);
    parts.push(`<text x="${W - right + 32}" y="${y}">${esc(c)}</text>`);
  });
  const mean = report.heterogeneity.jsDivergence.mean;
  if (mean !== null) {
    parts.push(`<text x="${W - right + 16}" y="${top + 8 + classes.length * 16 + 10}" fill="#555">mean JS ${mean.toFixed(3)} bits</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}
