/**
 * Standalone runner for the medfl benchmark (the lead wires `medfl bench`):
 *   npx tsx bench/run.ts [--models unet,segnet] [--size 128] [--batch 8] [--width 4]
 *                        [--repeats 5] [--warmup 2] [--no-torch] [--json out.json]
 */
import { runBench } from '../src/bench';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const num = (name: string) => (arg(name) != null ? Number(arg(name)) : undefined);

runBench({
  models: arg('models')?.split(','),
  size: num('size'),
  batch: num('batch'),
  width: num('width'),
  repeats: num('repeats'),
  warmup: num('warmup'),
  torch: !process.argv.includes('--no-torch'),
  json: arg('json'),
}).catch((e) => {
  console.error(e);
  process.exit(1);
});
