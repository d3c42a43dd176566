/**
 * DUCK-Net (Dumitru et al. 2023, arXiv:2311.02239; official code
 * github.com/RazvanDu/DUCK-Net `ModelArchitecture/DUCK_Net.py`).
 * One of the ten MedSegNet10 architectures (arXiv:2503.20830).
 */
import * as tf from '@tensorflow/tfjs';
import { SeededInit } from './blocks/init';
import { duckBlock, duckResidualChain } from './blocks/duck';
import type { ModelSpec, ResolvedModelOptions } from './types';

type Sym = tf.SymbolicTensor;

/** 2x2 stride-2 conv (bias, linear, Glorot kernel like Keras' default). */
function down(x: Sym, filters: number, name: string, init: SeededInit): Sym {
  return tf.layers
    .conv2d({ filters, kernelSize: 2, strides: 2, padding: 'same', kernelInitializer: init.glorot(), name })
    .apply(x) as Sym;
}

/**
 * Build DUCK-Net. Input `[N,H,W,C]` (H, W multiples of 32), output `[N,H,W,numClasses]`.
 *
 * With f = `width` (the paper's "starting filters", 17 or 34):
 * - secondary down-sampling path from the input: `side{1..5}` = chained 2x2
 *   stride-2 convs with 2f, 4f, 8f, 16f, 32f channels;
 * - encoder: `enc0` DUCK block (f) on the input; for k = 1..4:
 *   `enc{k}_down` (2x2 stride-2 conv of the previous level, 2^k f) +
 *   `side{k}` -> `enc{k}_add` -> `enc{k}` DUCK block (2^k f);
 * - bottom: `enc5_down` + `side5` -> `enc5_add` -> two residual blocks with 32f
 *   (`bottom_a_r{1,2}`) then two with 16f (`bottom_b_r{1,2}`);
 * - decoder, k = 4..0: `dec{k}_up` (nearest x2) + encoder level k ->
 *   `dec{k}_add` -> `dec{k}` DUCK block with 8f, 4f, 2f, f, f channels;
 * - `head`: 1x1 conv (bias) to numClasses, then `output_act` (absent for 'none').
 * DUCK block layer names are `<block>_...`, its output `<block>_bn_out`.
 *
 * Departures from the paper / released code: trained from scratch (as in the
 * paper); He-normal instead of he_uniform kernels (seeded); the head's
 * activation follows `outputActivation` (the code hard-codes sigmoid).
 */
export function buildDuckNet(options: ResolvedModelOptions): tf.LayersModel {
  const { inputShape, numClasses, outputActivation, width: f, seed } = options;
  const [h, w] = inputShape;
  if (h % 32 !== 0 || w % 32 !== 0) {
    throw new Error(`duck-net.ts: input height and width must be multiples of 32 (five 2x down-samplings), got ${h}x${w}`);
  }
  const init = new SeededInit(seed);
  const input = tf.input({ shape: inputShape, name: 'input' });

  // Secondary down-sampling path p1..p5.
  const side: Sym[] = [];
  let p = input;
  for (let k = 1; k <= 5; k++) {
    p = down(p, f * 2 ** k, `side${k}`, init);
    side.push(p);
  }

  // Encoder t0..t4.
  const skips: Sym[] = [duckBlock(input, { filters: f, name: 'enc0', init })];
  for (let k = 1; k <= 4; k++) {
    const l = down(skips[k - 1], f * 2 ** k, `enc${k}_down`, init);
    const s = tf.layers.add({ name: `enc${k}_add` }).apply([l, side[k - 1]]) as Sym;
    skips.push(duckBlock(s, { filters: f * 2 ** k, name: `enc${k}`, init }));
  }

  // Bottom.
  const l5 = down(skips[4], f * 32, 'enc5_down', init);
  const s5 = tf.layers.add({ name: 'enc5_add' }).apply([l5, side[4]]) as Sym;
  let y = duckResidualChain(s5, 2, { filters: f * 32, name: 'bottom_a', init });
  y = duckResidualChain(y, 2, { filters: f * 16, name: 'bottom_b', init });

  // Decoder.
  const decFilters = [f, f, 2 * f, 4 * f, 8 * f];
  for (let k = 4; k >= 0; k--) {
    const up = tf.layers.upSampling2d({ size: [2, 2], interpolation: 'nearest', name: `dec${k}_up` }).apply(y) as Sym;
    const c = tf.layers.add({ name: `dec${k}_add` }).apply([up, skips[k]]) as Sym;
    y = duckBlock(c, { filters: decFilters[k], name: `dec${k}`, init });
  }

  let out = tf.layers
    .conv2d({ filters: numClasses, kernelSize: 1, kernelInitializer: init.glorot(), name: 'head' })
    .apply(y) as Sym;
  if (outputActivation !== 'none') {
    out = tf.layers.activation({ activation: outputActivation, name: 'output_act' }).apply(out) as Sym;
  }
  return tf.model({ inputs: input, outputs: out, name: 'duck_net' });
}

/**
 * DUCK-Net (Dumitru et al. 2023, arXiv:2311.02239) in the zoo.
 * `width` = starting filters f (levels f, 2f, ..., 32f). defaultWidth 2
 * (the lightest useful size: DUCK-Net has ~260 convs and ~280 BatchNorms at any
 * width, so it stays the slowest zoo model on CPU), paperWidth 17 (the paper's
 * smaller model; it also reports 34).
 * Input sides multiples of 32. Split: client front = level-0 DUCK block, the
 * first down-sampling and `side1` (`enc1_add`; `side1`'s output also crosses
 * to the server because the secondary path continues there); U-shaped client
 * back = `dec0` (up-sampling, skip from `enc0`, DUCK block) + head.
 * See {@link buildDuckNet} for the structure and departures.
 */
export const duckNet: ModelSpec = {
  name: 'duck-net',
  displayName: 'DUCK-Net',
  capabilities: {
    divisibleBy: 32,
    minSize: 32,
    defaultWidth: 2,
    paperWidth: 17,
    split: { twoPart: 'enc1_add', uShaped: ['enc1_add', 'dec1_bn_out'] },
    paper: 'Dumitru et al. 2023, arXiv:2311.02239',
  },
  build(options: ResolvedModelOptions): tf.LayersModel {
    return buildDuckNet(options);
  },
};
