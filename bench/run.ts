/**
 * Standalone runner for the medfl benchmark, the same as `medfl bench` (same
 * options, same argument layer; `--help` lists them):
 *   npx tsx bench/run.ts [--models unet,segnet] [--size 128] [--batch 8] [--width 4]
 *                        [--repeats 5] [--warmup 3] [--no-torch] [--json out.json]
 */
import { main } from '../src/cli/index';

main(['bench', ...process.argv.slice(2)]).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    console.error(e);
    process.exitCode = 1;
  },
);
