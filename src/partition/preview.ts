/**
 * Partition preview: labels and metadata of a dataset named by a short spec
 * (no pixels are decoded), one partitioner built from plain options, and the
 * partition report — what `medfl partition` prints.
 *
 * Dataset specs: `embedded` (syntheticSites: 4 hospitals x 32 images, 16 px),
 * `ham10000:<dir or csv>` (the CSV alone is enough), `kvasir:<dir>`, or a
 * class-per-folder directory. Partitioner defaults: sites 4, alpha 0.5
 * (quantity: 1), k 2, column 'site', seed 42, minPartitionSize 10 (Flower's),
 * quantity scheme power-law, pathological class assignment random;
 * inner-Dirichlet uses equal site sizes.
 */
import * as path from 'path';
import type { Dataset } from '../data/types';
import { DataError } from '../data/errors';
import { syntheticSites } from '../data/synthetic';
import { openHam10000 } from '../data/ham10000';
import { openKvasirSeg } from '../data/kvasir';
import { openClassFolder } from '../data/folder';
import { isDir, isFile, readCsv } from '../data/files';
import { HAM10000_CLASSES, HAM10000_SOURCES_METADATA } from '../data/ham10000';
import { PartitionInput, PartitionLogger, Partitioner, partitionInput } from './base';
import { iid } from './iid';
import { dirichlet } from './dirichlet';
import { innerDirichlet } from './inner-dirichlet';
import { pathological, ClassAssignment } from './pathological';
import { quantity, QuantityScheme } from './quantity';
import { naturalId } from './natural-id';
import { partitionReport, type PartitionReport } from './report';

/** Scheme names accepted by `--scheme`. */
export const PARTITION_SCHEMES = ['iid', 'dirichlet', 'inner-dirichlet', 'pathological', 'quantity', 'natural-id'] as const;

/**
 * Labels + metadata of the dataset named by `spec` (see module doc); `seed`
 * seeds the embedded synthetic set. A spec that names nothing throws a
 * `DataError` of kind 'invalid-option'; loader failures throw as the loaders do.
 */
export async function loadPartitionInput(spec: string, seed: number): Promise<PartitionInput & { name: string }> {
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
    } else if (await isFile(path.join(target, HAM10000_SOURCES_METADATA))) {
      metadataFile = path.join(target, HAM10000_SOURCES_METADATA);
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
  throw new DataError({ file: spec, kind: 'invalid-option', problem: 'names no dataset', expected: 'embedded, ham10000:<dir or csv>, kvasir:<dir> or an existing folder' });
}

/** Quantity schemes a preview can use (`sizes` needs explicit sizes). */
export const PREVIEW_QUANTITY_SCHEMES = ['linear', 'square', 'exponential', 'power-law', 'dirichlet'] as const satisfies readonly QuantityScheme[];

/** Class assignments of the pathological scheme. */
export const CLASS_ASSIGNMENTS = ['random', 'first-class', 'deterministic'] as const satisfies readonly ClassAssignment[];

/** Plain options of {@link buildPartitioner} (defaults in the module doc). */
export interface PartitionerOptions {
  scheme: PartitionScheme;
  /** Default 4 (natural-id: one site per column value). */
  sites?: number;
  /** Dirichlet / inner-Dirichlet concentration (default 0.5) or quantity power-law / Dirichlet parameter (default 1). */
  alpha?: number;
  /** Classes per site for pathological. Default 2. */
  k?: number;
  /** natural-id column. Default 'site'. */
  column?: string;
  /** Metadata key whose samples stay together (e.g. 'lesion_id'). */
  groupBy?: string;
  /** Default 42. */
  seed?: number;
  /** Dirichlet minPartitionSize. Default 10. */
  minSize?: number;
  /** Quantity scheme. Default 'power-law'. */
  sizeScheme?: QuantityScheme;
  /** Pathological class assignment. Default 'random'. */
  classAssignment?: ClassAssignment;
  logger?: PartitionLogger;
}

/** A scheme name accepted by {@link buildPartitioner}. */
export type PartitionScheme = (typeof PARTITION_SCHEMES)[number];

/** One partitioner from plain options; throws the partitioner's own error for invalid values. */
export function buildPartitioner(o: PartitionerOptions): Partitioner {
  const sites = o.sites ?? 4;
  const base = { seed: o.seed ?? 42, groupBy: o.groupBy, logger: o.logger };
  switch (o.scheme) {
    case 'iid':
      return iid({ ...base, sites });
    case 'dirichlet':
      return dirichlet({ ...base, sites, alpha: o.alpha ?? 0.5, minPartitionSize: o.minSize ?? 10 });
    case 'inner-dirichlet':
      return innerDirichlet({ ...base, sizes: new Array(Number.isInteger(sites) && sites > 0 ? sites : NaN).fill(1 / sites), alpha: o.alpha ?? 0.5 });
    case 'pathological':
      return pathological({ ...base, sites, k: o.k ?? 2, classAssignment: o.classAssignment ?? 'random' });
    case 'quantity':
      return quantity({ ...base, sites, scheme: o.sizeScheme ?? 'power-law', alpha: o.alpha ?? 1 });
    case 'natural-id':
      return naturalId({ ...base, column: o.column ?? 'site', sites: o.sites });
    default:
      throw new Error(`buildPartitioner: scheme '${String(o.scheme)}' is not one of ${PARTITION_SCHEMES.join(', ')}`);
  }
}

/** What {@link previewPartition} found. */
export interface PartitionPreview {
  /** Dataset name. */
  dataset: string;
  /** Samples partitioned. */
  samples: number;
  /** Scheme as reported (`dirichlet (groupBy lesion_id)`). */
  scheme: string;
  /** Index lists per site. */
  assignment: number[][];
  report: PartitionReport;
  /** Partitioner warnings (e.g. a retry limit reached). */
  warnings: string[];
}

/** Assign `input` with `partitioner` and summarise it (the warnings it logged are passed in `warnings`). */
export function previewPartition(input: PartitionInput & { name: string }, partitioner: Partitioner, options: { scheme: string; seed: number; warnings?: string[] }): PartitionPreview {
  const assignment = partitioner.assign(input);
  const labels = input.labels ?? new Array(input.meta?.length ?? input.ids?.length ?? 0).fill(0);
  const classNames = input.labels ? input.classNames : ['all'];
  const report = partitionReport(assignment, labels, { classNames, scheme: options.scheme, seed: options.seed });
  return { dataset: input.name, samples: labels.length, scheme: options.scheme, assignment, report, warnings: options.warnings ?? [] };
}
