/**
 * Child-process side of `medfl reproduce <method paper> --jobs N`: runs ONE
 * seed of a method recipe with its own single-threaded engine and exits.
 * Started by ./reproduce (`runSeedProcess`), never imported by library code:
 *
 *   node reproduce-worker.js <reproduction folder> <seed> <engine>
 *
 * It reads `<folder>/reproduce.json` (paper, scale, quick, seeds, data) and
 * calls the same `runMethodSeed` as `--jobs 1`, so both give the same rows.
 * Exit codes: 0 done, 1 crashed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RecipeContext } from '../metrics/recipe';
import { getRecipe, initWorkerBackend, runMethodSeed } from './reproduce';

async function main(dir: string, seed: number, engine: string): Promise<void> {
  const stamp = JSON.parse(fs.readFileSync(path.join(dir, 'reproduce.json'), 'utf8')) as Pick<RecipeContext, 'scale' | 'quick' | 'seeds' | 'data'> & { paper: string };
  await initWorkerBackend(engine);
  const ctx: RecipeContext = { scale: stamp.scale, quick: stamp.quick, seeds: stamp.seeds, data: stamp.data, log: (l) => console.log(l) };
  await runMethodSeed(getRecipe(stamp.paper), ctx, dir, seed);
}

if (require.main === module) {
  const [dir, seed, engine] = process.argv.slice(2);
  main(dir, Number(seed), engine).then(
    () => {
      process.exitCode = 0;
    },
    (e) => {
      console.error(e instanceof Error ? e.stack ?? e.message : String(e));
      process.exitCode = 1;
    },
  );
}
