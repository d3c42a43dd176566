/**
 * M4oE model builders (Jiang & Shen 2024, arXiv:2405.09446): a Swin-Unet with
 * MoE feed-forwards in every encoder, bottleneck and decoder Swin block
 * ({@link buildM4oESwin}, the paper's), and a CPU-scale U-Net whose double convs
 * are MoE blocks ({@link buildMoeUnet}). Both take several modalities with their
 * own class sets and give one output head per modality.
 *
 * Model I/O (both builders, `variant: 'moe'`):
 * - inputs `[image [N, H, W, C], modality [N, M]]` (one-hot modality of each sample,
 *   see `modalityOneHot`; read only under hard routing);
 * - outputs `[head_0, ..., head_{M-1}, moe_stats]`: head m is `[N, H, W, K_m]`
 *   (`K_m = modalities[m].numClasses`; sigmoid when 1, softmax otherwise) and is
 *   computed for every sample; the loss and the prediction of a sample use ONLY its
 *   own modality's head (the official code instead picks one head per sample and
 *   zero-pads the channels to the largest K; same values for the chosen head).
 *   `moe_stats` is `[N, L, 3E]`: the routing statistics of the L MoE layers.
 * With `variant: 'shared'` the same network is built without MoE (the plain
 * project blocks, no gate, no modality input, no `moe_stats`) for the
 * "one shared model" baseline; with a single modality that is a plain
 * single-task model (the "separate models" baseline).
 *
 * Experts: E = number of modalities (official: `num_experts = len(num_classes)`),
 * expert m belonging to modality m under hard routing.
 */
import * as tf from '@tensorflow/tfjs';
import { SeededInit } from '../models/blocks/init';
import { doubleConv, upConv } from '../models/blocks/conv';
import { PatchEmbed, PatchExpand, PatchMerging, SwinBlock, TokenLayerNorm, TokenLinear } from '../models/blocks/swin';
import { SWIN_UNET_PATCH, SWIN_UNET_STAGES, swinUnetPlan, swinUnetWindows } from '../models/swin-unet/build';
import { UNET_WIDTH_MULTIPLIERS } from '../models/unet';
import { MoEConvMix, moeDoubleConv } from './conv-moe';
import { SwinMoEBlock, type MoEGate, type MoERouting } from './swin-moe-block';

type Sym = tf.SymbolicTensor;

/** One imaging modality / source: its name and output channels (1 = binary sigmoid, K > 1 = K-class softmax incl. background). */
export interface M4oEModality {
  name: string;
  numClasses: number;
}

/** With or without mixture of experts. */
export type M4oEVariant = 'moe' | 'shared';

/** Options shared by the M4oE builders. */
export interface M4oEModelOptions {
  /** `[H, W, C]` of one image. */
  inputShape: [number, number, number];
  /** The modalities (order = modality id = expert index = head index). */
  modalities: readonly M4oEModality[];
  /** Base width (swin: embed dim C, default 16; unet: first level, default 4). */
  width?: number;
  /** Seeds every initializer. Default 0. */
  seed?: number;
  /** Soft gate: 'paper' (softmax over experts, default) or 'code' (released code's channel gate). */
  gate?: MoEGate;
  /** Experts kept per token / sample under the paper gate. Default E (dense). */
  topK?: number;
  /** Initial routing. Default 'soft'. */
  routing?: MoERouting;
  /** 'moe' (default) or 'shared' (no MoE: the plain blocks). */
  variant?: M4oEVariant;
}

/** Swin-specific options of {@link buildM4oESwin} (defaults as the project's Swin-Unet). */
export interface M4oESwinOptions extends M4oEModelOptions {
  /** Blocks per encoder stage (stage 4 = bottleneck; decoder reuses depths[2..0]). Default [2, 2, 2, 2]. */
  depths?: number[];
  /** One window side for every stage (default: per stage, `swinUnetWindows`). */
  windowSize?: number;
  /** MLP / expert hidden ratio. Default 4. */
  mlpRatio?: number;
  /** Channels per attention head. Default 32. */
  headDim?: number;
}

/** Name of the routing-statistics output layer. */
export const MOE_STATS_OUTPUT = 'moe_stats';

function checkModalities(mods: readonly M4oEModality[], who: string): void {
  if (!Array.isArray(mods) || mods.length < 1) throw new Error(`${who}: modalities must be a non-empty array of { name, numClasses }`);
  const seen = new Set<string>();
  mods.forEach((m, i) => {
    if (typeof m.name !== 'string' || m.name === '') throw new Error(`${who}: modalities[${i}].name must be a non-empty string`);
    if (seen.has(m.name)) throw new Error(`${who}: modality name '${m.name}' is repeated`);
    seen.add(m.name);
    if (!Number.isInteger(m.numClasses) || m.numClasses < 1) {
      throw new Error(`${who}: modalities[${i}] ('${m.name}') numClasses must be an integer >= 1, got ${m.numClasses}`);
    }
  });
}

/** Stack per-layer statistics `[N, 3E]` into `[N, L, 3E]` (layer `moe_stats`). */
function stackStats(stats: Sym[], numExperts: number): Sym {
  const rows = stats.map((s, i) => tf.layers.reshape({ name: `moe_stats_${i}`, targetShape: [1, 3 * numExperts] }).apply(s) as Sym);
  if (rows.length === 1) return tf.layers.reshape({ name: MOE_STATS_OUTPUT, targetShape: [1, 3 * numExperts] }).apply(stats[0]) as Sym;
  return tf.layers.concatenate({ name: MOE_STATS_OUTPUT, axis: 1 }).apply(rows) as Sym;
}

function headActivation(k: number): 'sigmoid' | 'softmax' {
  return k === 1 ? 'sigmoid' : 'softmax';
}

/**
 * M4oE Swin-Unet (Jiang & Shen 2024, arXiv:2405.09446; official
 * `SwinTransformerSys` of `swin_transformer_moe_decoder_encoder.py`): the project's
 * Swin-Unet layout (`src/models/swin-unet/build.ts`: patch embedding, 3 encoder stages
 * + merging, bottleneck, 3 decoder stages with skip concat + linear fuse, final 4x
 * expansion) where every Swin block is a {@link SwinMoEBlock} (layers
 * `enc{s}_block{j}`, `bottleneck_block{j}`, `dec{s}_block{j}`), and one bias-free
 * 1x1 projection + activation per modality (`head{m}`, `head{m}_act`), as the
 * code's `outputs` ModuleDict.
 *
 * Defaults: width 16, depths [2, 2, 2, 2], windows per stage, mlpRatio 4, gate
 * 'paper', dense soft routing. Departures from the paper / code: as the project's
 * Swin-Unet (trained from scratch, no drop path, per-stage windows at small sizes);
 * the gate variants and routing statistics are documented on `SwinMoEBlock`.
 */
export function buildM4oESwin(opts: M4oESwinOptions): tf.LayersModel {
  const who = 'buildM4oESwin';
  checkModalities(opts.modalities, who);
  const [h, w, cin] = opts.inputShape;
  const width = opts.width ?? 16;
  const seed = opts.seed ?? 0;
  const depths = opts.depths ?? [2, 2, 2, 2];
  const headDim = opts.headDim ?? 32;
  const mlpRatio = opts.mlpRatio ?? 4;
  const variant = opts.variant ?? 'moe';
  const M = opts.modalities.length;
  const divisor = SWIN_UNET_PATCH * 2 ** (SWIN_UNET_STAGES - 1);
  if (h % divisor !== 0 || w % divisor !== 0) throw new Error(`${who}: input ${h}x${w} must be divisible by ${divisor}`);
  if (depths.length !== SWIN_UNET_STAGES || !depths.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new Error(`${who}: depths must be ${SWIN_UNET_STAGES} positive integers, got ${JSON.stringify(depths)}`);
  }
  if (variant !== 'moe' && variant !== 'shared') throw new Error(`${who}: variant must be 'moe' or 'shared', got '${String(variant)}'`);
  const windows = swinUnetWindows(opts.inputShape, opts.windowSize);
  const plan = swinUnetPlan(opts.inputShape, width, headDim);
  const init = new SeededInit(seed);
  const image = tf.input({ shape: [h, w, cin], name: 'input' });
  const route = variant === 'moe' ? tf.input({ shape: [M], name: 'modality' }) : null;
  const stats: Sym[] = [];
  let blockCounter = 0;

  const stage = (x: Sym, s: number, prefix: string): Sym => {
    let y = x;
    for (let j = 0; j < depths[s]; j++) {
      blockCounter += 1;
      const common = {
        name: `${prefix}_block${j + 1}`,
        numHeads: plan[s].heads,
        windowSize: windows[s],
        shiftSize: j % 2 === 0 ? 0 : Math.floor(windows[s] / 2),
        mlpRatio,
      };
      if (route) {
        const block = new SwinMoEBlock({
          ...common,
          numExperts: M,
          gate: opts.gate,
          topK: opts.topK,
          routing: opts.routing,
          initSeed: seed * 1009 + blockCounter,
        });
        const [out, st] = block.apply([y, route]) as Sym[];
        y = out;
        stats.push(st);
      } else {
        const tn = (): ReturnType<SeededInit['truncNormal']> => init.truncNormal(0.02);
        const block = new SwinBlock({
          ...common,
          qkvInitializer: tn(),
          projInitializer: tn(),
          fc1Initializer: tn(),
          fc2Initializer: tn(),
          biasTableInitializer: tn(),
        });
        y = block.apply(y) as Sym;
      }
    }
    return y;
  };

  let x = new PatchEmbed({ name: 'patch_embed', embedDim: width, kernelInitializer: init.glorot() }).apply(image) as Sym;
  const skips: Sym[] = [];
  for (let s = 0; s < SWIN_UNET_STAGES - 1; s++) {
    skips.push(x);
    x = stage(x, s, `enc${s + 1}`);
    x = new PatchMerging({ name: `enc${s + 1}_merge`, kernelInitializer: init.truncNormal(0.02) }).apply(x) as Sym;
  }
  x = stage(x, SWIN_UNET_STAGES - 1, 'bottleneck');
  x = new TokenLayerNorm({ name: 'bottleneck_norm' }).apply(x) as Sym;
  const last = plan[SWIN_UNET_STAGES - 1].dim;
  x = new PatchExpand({ name: 'bottleneck_expand', scale: 2, outDim: last / 2, kernelInitializer: init.truncNormal(0.02) }).apply(x) as Sym;
  for (let s = SWIN_UNET_STAGES - 2; s >= 0; s--) {
    const dim = plan[s].dim;
    x = tf.layers.concatenate({ name: `dec${s + 1}_concat`, axis: -1 }).apply([x, skips[s]]) as Sym;
    x = new TokenLinear({ name: `dec${s + 1}_fuse`, units: dim, kernelInitializer: init.truncNormal(0.02) }).apply(x) as Sym;
    x = stage(x, s, `dec${s + 1}`);
    if (s > 0) x = new PatchExpand({ name: `dec${s + 1}_expand`, scale: 2, outDim: dim / 2, kernelInitializer: init.truncNormal(0.02) }).apply(x) as Sym;
  }
  x = new TokenLayerNorm({ name: 'dec1_norm' }).apply(x) as Sym;
  x = new PatchExpand({ name: 'final_expand', scale: SWIN_UNET_PATCH, outDim: width, kernelInitializer: init.truncNormal(0.02) }).apply(x) as Sym;
  const heads = opts.modalities.map((m, i) => {
    const logits = new TokenLinear({ name: `head${i}`, units: m.numClasses, useBias: false, kernelInitializer: init.glorot() }).apply(x) as Sym;
    return tf.layers.activation({ name: `head${i}_act`, activation: headActivation(m.numClasses) }).apply(logits) as Sym;
  });
  const outputs = route ? [...heads, stackStats(stats, M)] : heads;
  return tf.model({ inputs: route ? [image, route] : image, outputs, name: variant === 'moe' ? 'm4oe_swin' : 'shared_swin' });
}

/**
 * MoE U-Net (CPU-scale M4oE analogue, not in the paper): the project's U-Net
 * (`src/models/unet.ts`: 4 encoder levels of double convs + max-pool, bottleneck,
 * 4 decoder levels of transposed conv + skip concat + double conv, channels
 * `w, 2w, 4w, 8w, 16w`) where every double conv (`enc{l}`, `bott`, `dec{l}`) is a
 * {@link moeDoubleConv} with E expert double convs and a GAP gate, plus one 1x1 conv
 * head per modality (`head{m}` with bias, `head{m}_act`). Default width 4; inputs
 * divisible by 16. Parameters grow ~E-fold in the double convs (the experts).
 */
export function buildMoeUnet(opts: M4oEModelOptions): tf.LayersModel {
  const who = 'buildMoeUnet';
  checkModalities(opts.modalities, who);
  const [h, w, cin] = opts.inputShape;
  if (h % 16 !== 0 || w % 16 !== 0) throw new Error(`${who}: input ${h}x${w} must be divisible by 16 (four 2x poolings)`);
  const width = opts.width ?? 4;
  const seed = opts.seed ?? 0;
  const variant = opts.variant ?? 'moe';
  if (variant !== 'moe' && variant !== 'shared') throw new Error(`${who}: variant must be 'moe' or 'shared', got '${String(variant)}'`);
  const M = opts.modalities.length;
  const init = new SeededInit(seed);
  const image = tf.input({ shape: [h, w, cin], name: 'input' });
  const route = variant === 'moe' ? tf.input({ shape: [M], name: 'modality' }) : null;
  const stats: Sym[] = [];
  let blocks = 0;
  const block = (x: Sym, name: string, filters: number): Sym => {
    blocks += 1;
    if (!route) return doubleConv(x, name, filters, init);
    const [out, st] = moeDoubleConv(x, route, name, {
      filters,
      numExperts: M,
      gate: opts.gate,
      topK: opts.topK,
      routing: opts.routing,
      init,
      gateSeed: seed * 1009 + blocks,
    });
    stats.push(st);
    return out;
  };
  const skips: Sym[] = [];
  let x: Sym = image;
  for (let level = 1; level <= 4; level++) {
    x = block(x, `enc${level}`, width * UNET_WIDTH_MULTIPLIERS[level - 1]);
    skips.push(x);
    x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `enc${level}_pool` }).apply(x) as Sym;
  }
  x = block(x, 'bott', width * UNET_WIDTH_MULTIPLIERS[4]);
  for (let level = 4; level >= 1; level--) {
    const filters = width * UNET_WIDTH_MULTIPLIERS[level - 1];
    const up = upConv(x, `dec${level}_up`, filters, init);
    const cat = tf.layers.concatenate({ axis: -1, name: `dec${level}_concat` }).apply([skips[level - 1], up]) as Sym;
    x = block(cat, `dec${level}`, filters);
  }
  const heads = opts.modalities.map((m, i) => {
    const logits = tf.layers
      .conv2d({ filters: m.numClasses, kernelSize: 1, padding: 'same', useBias: true, kernelInitializer: init.glorot(), name: `head${i}` })
      .apply(x) as Sym;
    return tf.layers.activation({ name: `head${i}_act`, activation: headActivation(m.numClasses) }).apply(logits) as Sym;
  });
  const outputs = route ? [...heads, stackStats(stats, M)] : heads;
  return tf.model({ inputs: route ? [image, route] : image, outputs, name: variant === 'moe' ? 'moe_unet' : 'shared_unet' });
}

/** Registry-style alias of {@link buildMoeUnet}. */
export const moeUnet = buildMoeUnet;

/** The MoE layers of a model (Swin MoE blocks and conv MoE mixers), in graph order. */
export function moeLayers(model: tf.LayersModel): Array<SwinMoEBlock | MoEConvMix> {
  return model.layers.filter((l): l is SwinMoEBlock | MoEConvMix => l instanceof SwinMoEBlock || l instanceof MoEConvMix);
}

/** Set the routing of every MoE layer of `model` ('hard' = phase 1, 'soft' = phase 2). Returns the number of layers changed. */
export function setRouting(model: tf.LayersModel, routing: MoERouting): number {
  if (routing !== 'soft' && routing !== 'hard') throw new Error(`setRouting: routing must be 'soft' or 'hard', got '${String(routing)}'`);
  const layers = moeLayers(model);
  for (const l of layers) l.routing = routing;
  return layers.length;
}

/** Is this trainable weight part of a gating network (`gate_kernel` / `gate_bias` of an MoE layer)? */
export function isGateWeight(weight: tf.LayerVariable): boolean {
  return /\/gate_(kernel|bias)(_\d+)?$/.test(weight.name);
}

/**
 * Trainable weights of expert `e` in every MoE layer: Swin `expert{e}_*` weights, or
 * the weights of the conv expert branches `*_e{e}_*`.
 */
export function expertWeights(model: tf.LayersModel, e: number): tf.LayerVariable[] {
  const swin = new RegExp(`/expert${e}_`);
  const conv = new RegExp(`_e${e}_\\d_(conv|bn)`);
  return model.trainableWeights.filter((w) => swin.test(w.name) || conv.test(w.name));
}

/** Does the model have the MoE routing-statistics output? */
export function hasMoEStats(model: tf.LayersModel): boolean {
  return model.outputNames.includes(MOE_STATS_OUTPUT);
}
