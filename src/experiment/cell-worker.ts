/**
 * Child-process side of `medfl run --jobs N`: runs ONE cell of an experiment
 * grid with its own single-threaded engine and exits. Started by the runner
 * (./runner `startCellProcess`), never imported by library code:
 *
 *   node cell-worker.js <experiment folder> <cell id>
 *
 * It reads `<experiment folder>/experiment.json` (the validated grid, the
 * base folder of relative data paths, the engine), builds the cell's sites
 * exactly as the in-process runner does and calls the same `runCell`, so
 * `--jobs 1` and `--jobs N` give bit-identical results. Exit codes: 0 done,
 * 3 done but flagged (a site failed in every round), 1 crashed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, type BackendName } from '../backend';
import { batchProgress, roundLines, runCell } from './cell';
import { expandGrid } from './grid';
import { buildExperimentSites } from './sites';
import type { ExperimentConfig } from './config';

/** Prefix of the line a crashed cell process prints last (its error message). */
export const CELL_ERROR_MARK = 'medfl-cell-error: ';

/** What the runner stores in experiment.json for its cell processes. */
export interface ExperimentFile {
  config: ExperimentConfig;
  baseDir: string;
  backend: string;
  quick: boolean;
  startedAt: string;
}

async function main(dir: string, id: string): Promise<number> {
  const file = JSON.parse(fs.readFileSync(path.join(dir, 'experiment.json'), 'utf8')) as ExperimentFile;
  const cell = expandGrid(file.config).find((c) => c.id === id);
  if (!cell) throw new Error(`cell '${id}' is not in ${path.join(dir, 'experiment.json')}`);
  // Test seam (documented, tests only): MEDFL_TEST_CRASH_CELL=<id> makes that cell's first process die, to exercise the retry.
  const marker = path.join(dir, id, '.test-crashed');
  if (process.env.MEDFL_TEST_CRASH_CELL === id && !fs.existsSync(marker)) {
    fs.mkdirSync(path.dirname(marker), { recursive: true });
    fs.writeFileSync(marker, '');
    process.exit(70);
  }
  await initBackend(file.backend as BackendName, { log: () => {} });
  const built = await buildExperimentSites(cell, file.baseDir);
  const result = await runCell(cell, built.sites, dir, {
    onRound: (rec) => roundLines(cell.id, cell.budget.rounds, rec).forEach((l) => console.log(l)),
    onProgress: batchProgress(cell.id, (l) => console.log(l)),
  });
  return result.status === 'ok' ? 0 : 3;
}

if (require.main === module) {
  const [dir, id] = process.argv.slice(2);
  main(dir, id).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      console.error(e instanceof Error ? e.stack ?? e.message : String(e));
      // the last line: what the runner reports for this cell
      console.error(`${CELL_ERROR_MARK}${(e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' | ')}`);
      process.exitCode = 1;
    },
  );
}
