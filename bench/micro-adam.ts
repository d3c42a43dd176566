/**
 * tf.train.adam vs createAdam: CPU ms per applyGradients over a list of
 * variables shaped like a small segmentation network (min of 9 interleaved):
 *   npx tsx bench/micro-adam.ts
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { createAdam } from '../src/backend/adam';
import { cpuMs } from '../src/bench';

async function main(): Promise<void> {
  await initBackend('wasm', { log: () => {} });
  const shapes: number[][] = [];
  for (const c of [16, 32, 64, 128, 256]) shapes.push([3, 3, c, c], [c], [c], [3, 3, c, c], [c], [c]);
  const vars = shapes.map((s, i) => tf.variable(tf.randomNormal(s, 0, 0.1, 'float32', i), true, `microadam_${i}`));
  const grads = vars.map((v, i) => ({ name: v.name, tensor: tf.randomNormal(v.shape, 0, 1, 'float32', 100 + i) }));
  const total = vars.reduce((a, v) => a + v.size, 0);
  const opts = { tfjs: tf.train.adam(1e-3), fused: createAdam(1e-3) };
  const t: Record<string, number[]> = { tfjs: [], fused: [] };
  for (let i = 0; i < 10; i++) {
    for (const k of ['tfjs', 'fused'] as const) {
      const a = cpuMs();
      opts[k].applyGradients(grads);
      if (i > 0) t[k].push(cpuMs() - a);
    }
  }
  console.log(`${vars.length} variables, ${total} parameters: tf.train.adam ${Math.min(...t.tfjs).toFixed(2)} ms, createAdam ${Math.min(...t.fused).toFixed(2)} ms`);
}
main();
