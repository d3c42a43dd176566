/** `medfl partition`: preview a site partition of a dataset (labels and metadata only) as a text table or JSON report. */
import { UsageError, choice, defineCommand, flag, int, number, string } from './args';
import { CLASS_ASSIGNMENTS, PARTITION_SCHEMES, PREVIEW_QUANTITY_SCHEMES, buildPartitioner, loadPartitionInput, previewPartition } from '../partition/preview';
import { reportText } from '../partition/report';
import type { Partitioner } from '../partition/base';
import { DataError } from '../data/errors';
import { reportSvg } from '../partition/svg';
import { writeTextAtomic } from './output';

/** The `partition` command; exit 0 ok, 2 bad arguments, 1 data / partition error. */
export const partitionCommand = defineCommand({
  name: 'partition',
  summary: 'preview a site partition of a dataset (labels and metadata only, no pixels decoded)',
  description:
    'datasets: embedded (4 synthetic hospitals x 32 images), ham10000:<dir or metadata csv>, kvasir:<dir>,\n' +
    'or a folder with one sub-folder per class.',
  options: {
    dataset: string('what to partition', { metavar: 'SPEC', default: 'embedded' }),
    scheme: choice(PARTITION_SCHEMES, 'partition scheme', { default: 'iid' }),
    sites: int('number of sites', { min: 1, defaultHelp: '4 (natural-id: one per column value)' }),
    alpha: number('Dirichlet concentration / quantity parameter', { gt: 0, defaultHelp: '0.5 (quantity: 1)' }),
    k: int('classes per site (pathological)', { min: 1, default: 2 }),
    column: string('metadata column of natural-id', { metavar: 'COL', default: 'site' }),
    'group-by': string('metadata key whose samples stay on one site (e.g. lesion_id)', { metavar: 'KEY' }),
    seed: int('seed of the assignment', { default: 42 }),
    'min-size': int("Dirichlet's minimum site size (Flower's minPartitionSize)", { min: 0, default: 10 }),
    'size-scheme': choice(PREVIEW_QUANTITY_SCHEMES, 'quantity scheme', { default: 'power-law' }),
    'class-assignment': choice(CLASS_ASSIGNMENTS, 'pathological class assignment', { default: 'random' }),
    json: flag('print the report as JSON'),
    svg: string('also write the report as an SVG figure', { metavar: 'FILE' }),
  },
  async run({ values: v }, io) {
    const warnings: string[] = [];
    let partitioner: Partitioner;
    try {
      partitioner = buildPartitioner({
        scheme: v.scheme,
        sites: v.sites,
        alpha: v.alpha,
        k: v.k,
        column: v.column,
        groupBy: v['group-by'],
        seed: v.seed,
        minSize: v['min-size'],
        sizeScheme: v['size-scheme'],
        classAssignment: v['class-assignment'],
        logger: { warn: (m) => warnings.push(m) },
      });
    } catch (e) {
      // the partitioner rejects a combination of the options given
      throw new UsageError(e instanceof Error ? e.message : String(e));
    }
    const input = await loadPartitionInput(v.dataset, v.seed).catch((e: unknown) => {
      if (e instanceof DataError && e.kind === 'invalid-option') throw new UsageError(`--dataset ${e.message}`);
      throw e;
    });
    const scheme = v['group-by'] ? `${v.scheme} (groupBy ${v['group-by']})` : v.scheme;
    const p = previewPartition(input, partitioner, { scheme, seed: v.seed, warnings });
    if (v.svg) {
      writeTextAtomic(v.svg, reportSvg(p.report, { title: `${p.dataset}: ${scheme}, ${p.assignment.length} sites, seed ${v.seed}` }));
    }
    if (v.json) io.log(JSON.stringify(p.report, null, 2));
    else {
      io.log(`dataset: ${p.dataset} (${p.samples} samples)`);
      io.log(reportText(p.report));
      for (const w of p.warnings) io.log(`warning: ${w}`);
    }
    return 0;
  },
});
