/**
 * Swin-Unet builder (Cao et al. 2021, arXiv:2105.05537; official code
 * HuCaoFighting/Swin-Unet, `SwinTransformerSys`). See `../swin-unet.ts` for
 * the architecture summary and every departure from the paper / code.
 */
import * as tf from '@tensorflow/tfjs';
import type { ResolvedModelOptions } from '../types';
import { SeededInit } from '../blocks/init';
import { PatchEmbed, PatchExpand, PatchMerging, SwinBlock, TokenLayerNorm, TokenLinear, effectiveWindow } from '../blocks/swin';

/** Swin-Unet knobs beyond the zoo options (all optional; defaults = paper / official code). */
export interface SwinUnetOptions extends ResolvedModelOptions {
  /** One window side M for all stages (official semantics). Default: per stage, see {@link swinUnetWindows}. */
  windowSize?: number;
  /** Swin blocks per encoder stage; stage 4 is the bottleneck; decoder stages reuse depths[2..0]. Default [2, 2, 2, 2]. */
  depths?: number[];
  /** Target channels per attention head (paper: 96 / 3 = 32). Default 32. */
  headDim?: number;
  /** MLP ratio. Default 4. */
  mlpRatio?: number;
  /** Stochastic depth: linearly 0 -> rate over the encoder blocks (official 0.1; config 0.2). Default 0. */
  dropPathRate?: number;
}

/** Patch size of the embedding (paper: 4). */
export const SWIN_UNET_PATCH = 4;
/** Encoder stages (paper: 4, the last being the bottleneck). */
export const SWIN_UNET_STAGES = 4;
/** The paper's window at 224x224. */
export const SWIN_UNET_PAPER_WINDOW = 7;

/**
 * Heads for a stage of `dim` channels: the divisor of `dim` nearest below
 * `round(dim / headDim)` (at least 1). Paper width 96 gives 3, 6, 12, 24.
 */
export function swinHeads(dim: number, headDim = 32): number {
  let h = Math.max(1, Math.round(dim / headDim));
  while (dim % h !== 0) h -= 1;
  return h;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Does one window `m` (shift m/2 in odd blocks) tile every stage of a `gridH x gridW` token grid (official rule)? */
export function windowFits(gridH: number, gridW: number, m: number, stages = SWIN_UNET_STAGES): boolean {
  for (let s = 0; s < stages; s++) {
    const gh = gridH / 2 ** s;
    const gw = gridW / 2 ** s;
    if (!Number.isInteger(gh) || !Number.isInteger(gw)) return false;
    try {
      effectiveWindow(gh, gw, m, Math.floor(m / 2));
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * Window side of one stage with a `gh x gw` token grid: the largest divisor
 * of gcd(gh, gw) not above `maxWindow` (paper: 7). When the grid's smaller side
 * is <= 7 and divides the other, that is the side itself: one window, unshifted,
 * exactly the official clamp (`min(input_resolution) <= window_size`).
 */
export function stageWindow(gh: number, gw: number, maxWindow = SWIN_UNET_PAPER_WINDOW): number {
  const g = gcd(gh, gw);
  for (let m = Math.min(maxWindow, g); m > 1; m--) if (g % m === 0) return m;
  return 1;
}

/**
 * Requested window of each of the 4 stages for an `[H, W, C]` input: `windowSize`
 * for all stages when given (must fit every stage, see {@link windowFits}),
 * else {@link stageWindow} of each stage's grid `(H/4, W/4) / 2^s`.
 * 224 -> [7, 7, 7, 7] (the paper's M = 7); 64 -> [4, 4, 4, 2]; 128 -> [4, 4, 4, 4];
 * 96 -> [6, 6, 6, 3]; 160 -> [5, 5, 5, 5].
 */
export function swinUnetWindows(inputShape: [number, number, number], windowSize?: number): number[] {
  const gridH = inputShape[0] / SWIN_UNET_PATCH;
  const gridW = inputShape[1] / SWIN_UNET_PATCH;
  if (windowSize !== undefined) {
    if (!Number.isInteger(windowSize) || windowSize < 1 || !windowFits(gridH, gridW, windowSize)) {
      throw new Error(
        `swin-unet: window ${windowSize} does not tile the token grids of a ${inputShape[0]}x${inputShape[1]} input ` +
          `(default windows: ${JSON.stringify(swinUnetWindows(inputShape))})`,
      );
    }
    return Array.from({ length: SWIN_UNET_STAGES }, () => windowSize);
  }
  return Array.from({ length: SWIN_UNET_STAGES }, (_, s) => stageWindow(gridH / 2 ** s, gridW / 2 ** s));
}

/** Per-stage plan: channels, heads, token grid (H/4/2^s) for a given input and width. */
export interface SwinStagePlan {
  dim: number;
  heads: number;
  grid: [number, number];
}

/** Channels `width * 2^s`, heads from {@link swinHeads}, grids `(H/4) / 2^s` for s = 0..3. */
export function swinUnetPlan(inputShape: [number, number, number], width: number, headDim = 32): SwinStagePlan[] {
  const [h, w] = inputShape;
  return Array.from({ length: SWIN_UNET_STAGES }, (_, s) => {
    const dim = width * 2 ** s;
    const f = SWIN_UNET_PATCH * 2 ** s;
    return { dim, heads: swinHeads(dim, headDim), grid: [h / f, w / f] as [number, number] };
  });
}

/** Build the Swin-Unet functional model: input `[H, W, C]`, output `[N, H, W, numClasses]`. */
export function buildSwinUnet(opts: SwinUnetOptions): tf.LayersModel {
  const [h, w, cin] = opts.inputShape;
  const depths = opts.depths ?? [2, 2, 2, 2];
  const headDim = opts.headDim ?? 32;
  const mlpRatio = opts.mlpRatio ?? 4;
  const dropPathRate = opts.dropPathRate ?? 0;
  const divisor = SWIN_UNET_PATCH * 2 ** (SWIN_UNET_STAGES - 1);
  if (h % divisor !== 0 || w % divisor !== 0) {
    throw new Error(`swin-unet: input ${h}x${w} must be divisible by ${divisor} (patch 4, three patch mergings)`);
  }
  if (depths.length !== SWIN_UNET_STAGES || !depths.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new Error(`swin-unet: depths must be ${SWIN_UNET_STAGES} positive integers, got ${JSON.stringify(depths)}`);
  }
  const windows = swinUnetWindows(opts.inputShape, opts.windowSize);
  const plan = swinUnetPlan(opts.inputShape, opts.width, headDim);
  const init = new SeededInit(opts.seed);
  const total = depths.reduce((a, b) => a + b, 0);
  const dpr = (i: number): number => (total > 1 ? (dropPathRate * i) / (total - 1) : 0);
  const firstBlock = depths.map((_, s) => depths.slice(0, s).reduce((a, b) => a + b, 0));
  let blockCounter = 0;

  const stage = (x: tf.SymbolicTensor, s: number, prefix: string): tf.SymbolicTensor => {
    let y = x;
    for (let j = 0; j < depths[s]; j++) {
      blockCounter += 1;
      const block = new SwinBlock({
        name: `${prefix}_block${j + 1}`,
        numHeads: plan[s].heads,
        windowSize: windows[s],
        shiftSize: j % 2 === 0 ? 0 : Math.floor(windows[s] / 2),
        mlpRatio,
        dropPath: dpr(firstBlock[s] + j),
        dropPathSeed: opts.seed * 131 + blockCounter,
        qkvInitializer: init.truncNormal(0.02),
        projInitializer: init.truncNormal(0.02),
        fc1Initializer: init.truncNormal(0.02),
        fc2Initializer: init.truncNormal(0.02),
        biasTableInitializer: init.truncNormal(0.02),
      });
      y = block.apply(y) as tf.SymbolicTensor;
    }
    return y;
  };

  const input = tf.input({ shape: [h, w, cin], name: 'input' });
  let x = new PatchEmbed({ name: 'patch_embed', embedDim: opts.width, kernelInitializer: init.glorot() }).apply(input) as tf.SymbolicTensor;

  // Encoder: skips are each stage's INPUT, as the official forward_features.
  const skips: tf.SymbolicTensor[] = [];
  for (let s = 0; s < SWIN_UNET_STAGES - 1; s++) {
    skips.push(x);
    x = stage(x, s, `enc${s + 1}`);
    x = new PatchMerging({ name: `enc${s + 1}_merge`, kernelInitializer: init.truncNormal(0.02) }).apply(x) as tf.SymbolicTensor;
  }
  x = stage(x, SWIN_UNET_STAGES - 1, 'bottleneck');
  x = new TokenLayerNorm({ name: 'bottleneck_norm' }).apply(x) as tf.SymbolicTensor;
  const last = plan[SWIN_UNET_STAGES - 1].dim;
  x = new PatchExpand({ name: 'bottleneck_expand', scale: 2, outDim: last / 2, kernelInitializer: init.truncNormal(0.02) })
    .apply(x) as tf.SymbolicTensor;

  // Decoder: concat skip -> linear 2D -> D -> Swin blocks -> patch expand.
  for (let s = SWIN_UNET_STAGES - 2; s >= 0; s--) {
    const dim = plan[s].dim;
    x = tf.layers.concatenate({ name: `dec${s + 1}_concat`, axis: -1 }).apply([x, skips[s]]) as tf.SymbolicTensor;
    x = new TokenLinear({ name: `dec${s + 1}_fuse`, units: dim, kernelInitializer: init.truncNormal(0.02) }).apply(x) as tf.SymbolicTensor;
    x = stage(x, s, `dec${s + 1}`);
    if (s > 0) {
      x = new PatchExpand({ name: `dec${s + 1}_expand`, scale: 2, outDim: dim / 2, kernelInitializer: init.truncNormal(0.02) })
        .apply(x) as tf.SymbolicTensor;
    }
  }
  x = new TokenLayerNorm({ name: 'dec1_norm' }).apply(x) as tf.SymbolicTensor;
  x = new PatchExpand({ name: 'final_expand', scale: SWIN_UNET_PATCH, outDim: opts.width, kernelInitializer: init.truncNormal(0.02) })
    .apply(x) as tf.SymbolicTensor;
  x = new TokenLinear({ name: 'head', units: opts.numClasses, useBias: false, kernelInitializer: init.glorot() }).apply(x) as tf.SymbolicTensor;
  const activation = opts.outputActivation === 'none' ? 'linear' : opts.outputActivation;
  const output = tf.layers.activation({ name: 'head_act', activation }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: 'swin_unet' });
}
