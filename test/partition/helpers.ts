import * as fs from 'fs';
import type { SampleMeta } from '../../src/data/types';
import type { PartitionInput } from '../../src/partition/base';
import { parseCsv } from '../../src/data/files';

export const HAM_CSV = '/work/shared/data/ham10000/HAM10000_metadata_subset_with_dataset.csv';
export const HAM_CLASSES = ['akiec', 'bcc', 'bkl', 'df', 'mel', 'nv', 'vasc'];

/** The HAM10000 subset CSV as a PartitionInput (parsed here, independently of the loaders). */
export function hamInput(): PartitionInput {
  const t = parseCsv(fs.readFileSync(HAM_CSV, 'utf8'), HAM_CSV);
  return {
    labels: t.rows.map((r) => HAM_CLASSES.indexOf(r.dx)),
    meta: t.rows.map((r) => ({ ...r, lesionId: r.lesion_id }) as SampleMeta),
    ids: t.rows.map((r) => r.image_id),
    classNames: HAM_CLASSES,
  };
}

/** `perClass` samples of each of `classes` classes, labels sorted ascending. */
export function sortedLabels(classes: number, perClass: number): number[] {
  return Array.from({ length: classes * perClass }, (_, i) => Math.floor(i / perClass));
}

/** Assert every index in [0, n) appears exactly once over the sites. */
export function exactlyOnce(sites: number[][], n: number): string | null {
  const seen = new Array(n).fill(0);
  for (const s of sites) for (const i of s) {
    if (!Number.isInteger(i) || i < 0 || i >= n) return `index ${i} out of range`;
    seen[i]++;
  }
  const bad = seen.findIndex((c) => c !== 1);
  return bad >= 0 ? `index ${bad} assigned ${seen[bad]} times` : null;
}

/** Class counts of one site. */
export function countsOf(site: number[], labels: readonly number[], classes: number): number[] {
  const c = new Array(classes).fill(0);
  for (const i of site) c[labels[i]]++;
  return c;
}

/** Grouped input: groups of sizes 1..4 (patient ids), labels mostly constant per group. */
export function groupedInput(nGroups: number, classes: number): PartitionInput {
  const labels: number[] = [];
  const meta: SampleMeta[] = [];
  for (let g = 0; g < nGroups; g++) {
    const size = 1 + (g % 4);
    for (let j = 0; j < size; j++) {
      labels.push(j === 3 ? (g + 1) % classes : g % classes);
      meta.push({ patientId: `p${g}`, hospital: `h${g % 3}` });
    }
  }
  return { labels, meta };
}

/** Number of sites each group's samples landed on. */
export function groupSpread(sites: number[][], meta: readonly SampleMeta[], key: string): Map<string, Set<number>> {
  const m = new Map<string, Set<number>>();
  sites.forEach((s, si) => s.forEach((i) => {
    const k = String(meta[i][key]);
    if (!m.has(k)) m.set(k, new Set());
    m.get(k)!.add(si);
  }));
  return m;
}
