/**
 * `medfl partition`: preview a site partition of a dataset (labels and
 * metadata only, no pixels are decoded) as a text table or JSON report.
 *
 *   medfl partition [--dataset embedded|ham10000:<dir or csv>|kvasir:<dir>|<folder>]
 *                   [--scheme iid|dirichlet|inner-dirichlet|pathological|quantity|natural-id]
 *                   [--sites N] [--alpha A] [--k K] [--column COL] [--group-by KEY]
 *                   [--seed S] [--min-size M] [--size-scheme S] [--class-assignment M] [--json]
 *
 * Defaults: dataset embedded (syntheticSites: 4 hospitals x 32 images, 16 px),
 * scheme iid, sites 4, alpha 0.5, k 2, column 'site', seed 42; `--min-size`
 * is Dirichlet's minPartitionSize (default 10, Flower's), `--size-scheme` the
 * quantity scheme (default power-law), `--class-assignment` the pathological
 * mode (default random). Inner-Dirichlet uses equal site sizes.
 * Exit codes: 0 ok, 2 bad arguments, 1 data / partition error.
 */
import * as path from 'path';
import { parseArgs } from 'util';
import type { Dataset } from '../data/types';
import { syntheticSites } from '../data/synthetic';
import { openHam10000 } from '../data/ham10000';
import { openKvasirSeg } from '../data/kvasir';
import { openClassFolder } from '../data/folder';
import { isDir, isFile, readCsv } from '../data/files';
import { HAM10000_CLASSES } from '../data/ham10000';
import { PartitionInput, Partitioner, partitionInput } from './base';
import { iid } from './iid';
import { dirichlet } from './dirichlet';
import { innerDirichlet } from './inner-dirichlet';
import { pathological, ClassAssignment } from './pathological';
import { quantity, QuantityScheme } from './quantity';
import { naturalId } from './natural-id';
import { partitionReport, reportText } from './report';

/** Scheme names accepted by `--scheme`. */
export const PARTITION_SCHEMES = ['iid', 'dirichlet', 'inner-dirichlet', 'pathological', 'quantity', 'natural-id'] as const;

const USAGE = `usage: medfl partition [--dataset embedded|ham10000:<dir|csv>|kvasir:<dir>|<folder>]
  [--scheme ${PARTITION_SCHEMES.join('|')}] [--sites N] [--alpha A] [--k K]
  [--column COL] [--group-by KEY] [--seed S] [--min-size M] [--size-scheme S]
  [--class-assignment random|first-class|deterministic] [--json] [--svg FILE]`;

class UsageError extends Error {}

/** Labels + metadata of the dataset named by `--dataset`. */
async function loadInput(spec: string, seed: number): Promise<PartitionInput & { name: string }> {
  const withName = (ds: Dataset): PartitionInput & { name: string } => {
    const inp = partitionInput(ds);
    return { ...inp, name: ds.name };
  };
  if (spec === 'embedded') {
    return withName(syntheticSites({ sites: 4, samplesPerSite: 32, size: 16, seed }));
  }
  if (spec.startsWith('ham10000:')) {
    const target = path.resolve(spec.slice('ham10000:'.length) || '.');
    let root = target;
    let metadataFile: string | undefined;
    if (await isFile(target)) {
      root = path.dirname(target);
      metadataFile = target;
    } else if (await isFile(path.join(target, 'HAM10000_metadata_subset_with_dataset.csv'))) {
      metadataFile = path.join(target, 'HAM10000_metadata_subset_with_dataset.csv');
    }
    try {
      return withName(await openHam10000({ root, metadataFile, masks: false }));
    } catch (err) {
      // No images next to the CSV: a partition preview only needs the metadata.
      const csv = metadataFile ?? path.join(root, 'HAM10000_metadata.csv');
      if (!(await isFile(csv))) throw err;
      const table = await readCsv(csv);
      for (const c of ['lesion_id', 'image_id', 'dx']) {
        if (!table.columns.includes(c)) throw new Error(`${csv}: missing column '${c}' (columns: ${table.columns.join(', ')})`);
      }
      const classes = HAM10000_CLASSES as readonly string[];
      const labels = table.rows.map((r, i) => {
        const l = classes.indexOf(r.dx);
        if (l < 0) throw new Error(`${csv}: row ${i + 2} has dx '${r.dx}', expected one of ${classes.join(', ')}`);
        return l;
      });
      return {
        name: 'ham10000',
        labels,
        ids: table.rows.map((r) => r.image_id),
        meta: table.rows.map((r) => ({ ...r, lesionId: r.lesion_id, patientId: r.lesion_id, site: r.dataset })),
        classNames: classes,
      };
    }
  }
  if (spec.startsWith('kvasir:')) return withName(await openKvasirSeg({ root: path.resolve(spec.slice('kvasir:'.length)) }));
  if (await isDir(spec)) return withName(await openClassFolder({ root: path.resolve(spec) }));
  throw new UsageError(`--dataset '${spec}': expected embedded, ham10000:<dir>, kvasir:<dir> or an existing folder`);
}

function num(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new UsageError(`--${name} must be a number, got '${v}'`);
  return x;
}

/**
 * Run `medfl partition` with `argv` (the arguments after the command name);
 * writes the report through `out` (default console.log). Returns the exit code.
 */
export async function partitionCommand(argv: string[], out: (s: string) => void = (s) => console.log(s)): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        dataset: { type: 'string', default: 'embedded' },
        scheme: { type: 'string', default: 'iid' },
        sites: { type: 'string' },
        alpha: { type: 'string' },
        k: { type: 'string' },
        column: { type: 'string' },
        'group-by': { type: 'string' },
        seed: { type: 'string' },
        'min-size': { type: 'string' },
        'size-scheme': { type: 'string' },
        'class-assignment': { type: 'string' },
        json: { type: 'boolean', default: false },
        svg: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    out(`medfl partition: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    out(USAGE);
    return 0;
  }
  const warnings: string[] = [];
  const logger = { warn: (m: string) => warnings.push(m) };
  try {
    const scheme = String(values.scheme);
    if (!(PARTITION_SCHEMES as readonly string[]).includes(scheme)) {
      throw new UsageError(`--scheme '${scheme}' is not one of ${PARTITION_SCHEMES.join(', ')}`);
    }
    const seed = num('seed', values.seed as string | undefined, 42);
    const sites = num('sites', values.sites as string | undefined, 4);
    const groupBy = values['group-by'] as string | undefined;
    const base = { seed, groupBy, logger };
    let part: Partitioner;
    try {
      switch (scheme) {
        case 'iid':
          part = iid({ ...base, sites });
          break;
        case 'dirichlet':
          part = dirichlet({
            ...base,
            sites,
            alpha: num('alpha', values.alpha as string | undefined, 0.5),
            minPartitionSize: num('min-size', values['min-size'] as string | undefined, 10),
          });
          break;
        case 'inner-dirichlet':
          part = innerDirichlet({
            ...base,
            sizes: new Array(Number.isInteger(sites) && sites > 0 ? sites : NaN).fill(1 / sites),
            alpha: num('alpha', values.alpha as string | undefined, 0.5),
          });
          break;
        case 'pathological':
          part = pathological({
            ...base,
            sites,
            k: num('k', values.k as string | undefined, 2),
            classAssignment: (values['class-assignment'] as ClassAssignment | undefined) ?? 'random',
          });
          break;
        case 'quantity':
          part = quantity({
            ...base,
            sites,
            scheme: (values['size-scheme'] as QuantityScheme | undefined) ?? 'power-law',
            alpha: num('alpha', values.alpha as string | undefined, 1),
          });
          break;
        default:
          part = naturalId({
            ...base,
            column: (values.column as string | undefined) ?? 'site',
            sites: values.sites === undefined ? undefined : sites,
          });
      }
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const input = await loadInput(String(values.dataset), seed);
    const assignment = part.assign(input);
    const labels = input.labels ?? new Array(input.meta?.length ?? input.ids?.length ?? 0).fill(0);
    const classNames = input.labels ? input.classNames : ['all'];
    const schemeName = groupBy ? `${scheme} (groupBy ${groupBy})` : scheme;
    const report = partitionReport(assignment, labels, { classNames, scheme: schemeName, seed });
    if (typeof values.svg === 'string') {
      const { reportSvg } = await import('./svg');
      const { writeFileSync, renameSync } = await import('fs');
      const tmp = `${values.svg}.tmp-${process.pid}`;
      writeFileSync(tmp, reportSvg(report, { title: `${input.name}: ${schemeName}, ${assignment.length} sites, seed ${seed}` }));
      renameSync(tmp, values.svg);
    }
    if (values.json) out(JSON.stringify(report, null, 2));
    else {
      out(`dataset: ${input.name} (${labels.length} samples)`);
      out(reportText(report));
      for (const w of warnings) out(`warning: ${w}`);
    }
    return 0;
  } catch (err) {
    const usage = err instanceof UsageError;
    out(`medfl partition: ${(err as Error).message}${usage ? `\n${USAGE}` : ''}`);
    return usage ? 2 : 1;
  }
}
