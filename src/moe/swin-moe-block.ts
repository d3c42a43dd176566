/**
 * Swin Transformer block whose MLP is a mixture of experts, the building block
 * of M4oE (Jiang & Shen 2024, arXiv:2405.09446; official code
 * JefferyJiang-YF/M4oE, `SwinTransformerBlockEncoder/Decoder` + `MoEFFN_Gating`
 * + `MoEFFN_dataset` in `networks/swin_transformer_moe_decoder_encoder.py`).
 * Serializable tfjs layer `MedflSwinMoEBlock` on NHWC token maps.
 */
import * as tf from '@tensorflow/tfjs';
import {
  cyclicShift,
  effectiveWindow,
  gelu,
  layerNorm,
  linear,
  relativePositionOneHot,
  windowPartition,
  windowReverse,
  windowAttention,
  attentionWeights,
  LAYER_NORM_EPSILON,
  type EffectiveWindow,
  type LayerArgs,
} from '../models/blocks/swin';
import type { Initializer } from '../models/blocks/init';
import { checkTopK, fixedRoutingStats, routingStats, routingWeights } from './gating';

type Shape = Array<number | null>;

/** How the experts of an MoE layer are chosen: learned soft gate, or the sample's own modality expert. */
export type MoERouting = 'soft' | 'hard';

/**
 * Which gate an MoE layer uses under soft routing:
 * - `'paper'` (default, as the paper describes): a linear router `C -> E` on each
 *   token, softmax over the E experts (optionally top-k + renormalised), output
 *   `sum_e w_e(x) * expert_e(x)`.
 * - `'code'` (the released code's `MoEFFN_Gating`): a linear `C -> C` on each token,
 *   softmax over the C CHANNELS, multiplying the plain SUM of the experts:
 *   `softmax_c(W x + b) ⊙ sum_e expert_e(x)`. It weighs no expert (every expert
 *   contributes equally), so its routing statistics are uniform 1/E and top-k
 *   does not apply.
 */
export type MoEGate = 'paper' | 'code';

/** Positive 31-bit seed of weight `index` of a layer seeded with `seed` (distinct per weight). */
export function weightSeed(seed: number, index: number): number {
  return ((Math.imul((seed | 0) ^ 0x2545f491, 2654435761) + Math.imul(index + 1, 40503)) >>> 1) % 2147483647;
}

function transposeMatrix(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

/**
 * `sum_e w[..., e] * ys[e]` for experts `ys[e] [..., C]` and weights `w [..., E]` (broadcast over tokens).
 * Computed as `addN_e(ys[e] * w[..., e:e+1])`: the weights are split (E tiny slices)
 * instead of stacking the expert maps on a new last axis, whose Pack / Unpack
 * (forward and gradient) are strided copies that were ~10x slower than the
 * experts' own convolutions on the wasm backend.
 */
export function mixExperts(ys: readonly tf.Tensor[], w: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const e = w.shape[w.rank - 1];
    if (ys.length !== e) throw new Error(`mixExperts: ${ys.length} expert outputs but ${e} weights per row`);
    if (e === 1) return tf.mul(ys[0], w);
    const ws = tf.split(w, e, -1);
    const terms = ys.map((y, i) => tf.mul(y, ws[i]));
    return tf.addN(terms);
  });
}

/** Options of {@link SwinMoEBlock}. */
export interface SwinMoEBlockArgs extends LayerArgs {
  /** Attention heads (must divide C). */
  numHeads: number;
  /** Requested window side M (clamped to the grid as the official block). */
  windowSize: number;
  /** Cyclic shift (0 = W-MSA, M/2 = SW-MSA). Default 0. */
  shiftSize?: number;
  /** Expert MLP hidden = floor(C * mlpRatio), as the Swin MLP. Default 4. */
  mlpRatio?: number;
  /** Number of experts E (official: one per dataset / modality). */
  numExperts: number;
  /** Soft gate flavour. Default 'paper'. */
  gate?: MoEGate;
  /** Experts kept per token under the paper gate (renormalised). Default E (dense soft gating). */
  topK?: number;
  /** Current routing (mutable through {@link SwinMoEBlock.routing}). Default 'soft'. */
  routing?: MoERouting;
  /** Seed of the layer's truncated-normal(0.02) initializers (one stream per weight). Default 0. */
  initSeed?: number;
  /** LayerNorm epsilon. Default 1e-5. */
  epsilon?: number;
  /** Additive SW-MSA mask value. Default -100 (official). */
  maskValue?: number;
}

/**
 * Swin block with an MoE feed-forward: `y = x + WMSA(LN1(x))`, then
 * `out = y + MoE(LN2(y))`, where the attention is exactly the project's
 * `SwinBlock` (same weight names `norm1_*`, `qkv_*`, `relative_position_bias_table`,
 * `proj_*`, `norm2_*`) and the MoE holds E experts `expert{e}_fc1_*`,
 * `expert{e}_fc2_*`, each the Swin MLP (linear C -> rC, exact GELU, linear rC -> C),
 * plus the gate `gate_kernel` / `gate_bias` (`[C, E]` for 'paper', `[C, C]` for 'code').
 *
 * Inputs `[x [N, H, W, C], route [N, E]]` (route: one-hot expert of each sample,
 * used only under hard routing). Outputs `[out [N, H, W, C], stats [N, 3E]]`
 * (routing statistics, see `gating.ts`).
 * Routing: 'soft' = the gate (see {@link MoEGate}); 'hard' = each sample goes to the
 * expert of its route one-hot only (official `MoEFFN_dataset`), the other experts
 * and the gate get exactly zero gradient. With E = 1 and the paper gate the block
 * equals `SwinBlock` (softmax over one expert is 1).
 *
 * Departures: drop path is not implemented (official 0.1 / config 0.2; the
 * project's Swin-Unet keeps it off by default as well); all experts are
 * evaluated on every token and weighted (dense compute, top-k only zeroes weights),
 * which gives the same values as sparse dispatch.
 */
export class SwinMoEBlock extends tf.layers.Layer {
  static className = 'MedflSwinMoEBlock';
  readonly numHeads: number;
  readonly windowSize: number;
  readonly shiftSize: number;
  readonly mlpRatio: number;
  readonly numExperts: number;
  readonly gate: MoEGate;
  readonly topK: number;
  readonly initSeed: number;
  readonly epsilon: number;
  readonly maskValue: number;
  /** Current routing; set 'hard' for phase 1, 'soft' for phase 2 (see `setRouting`). */
  routing: MoERouting;
  private effective?: EffectiveWindow;
  private oneHotT?: Float32Array;
  private readonly masks = new Map<string, Float32Array>();
  private w: Record<string, tf.LayerVariable> = {};

  constructor(args: SwinMoEBlockArgs) {
    super(args);
    this.numHeads = args.numHeads;
    this.windowSize = args.windowSize;
    this.shiftSize = args.shiftSize ?? 0;
    this.mlpRatio = args.mlpRatio ?? 4;
    this.numExperts = args.numExperts;
    this.gate = args.gate ?? 'paper';
    this.topK = args.topK ?? args.numExperts;
    this.routing = args.routing ?? 'soft';
    this.initSeed = args.initSeed ?? 0;
    this.epsilon = args.epsilon ?? LAYER_NORM_EPSILON;
    this.maskValue = args.maskValue ?? -100;
    if (!Number.isInteger(this.numHeads) || this.numHeads < 1) throw new Error(`SwinMoEBlock: numHeads must be a positive integer, got ${args.numHeads}`);
    if (!Number.isInteger(this.windowSize) || this.windowSize < 1) throw new Error(`SwinMoEBlock: windowSize must be a positive integer, got ${args.windowSize}`);
    if (!Number.isInteger(this.numExperts) || this.numExperts < 1) throw new Error(`SwinMoEBlock: numExperts must be a positive integer, got ${args.numExperts}`);
    if (this.gate !== 'paper' && this.gate !== 'code') throw new Error(`SwinMoEBlock: gate must be 'paper' or 'code', got '${String(args.gate)}'`);
    if (this.routing !== 'soft' && this.routing !== 'hard') throw new Error(`SwinMoEBlock: routing must be 'soft' or 'hard', got '${String(args.routing)}'`);
    checkTopK(this.topK, this.numExperts);
    if (this.gate === 'code' && this.topK !== this.numExperts) {
      throw new Error(`SwinMoEBlock: topK ${this.topK} needs gate 'paper' (the code's channel gate does not select experts)`);
    }
  }

  /** Window and shift in use (known after build). */
  get effectiveWindow(): EffectiveWindow | undefined {
    return this.effective;
  }

  override build(inputShape: Shape | Shape[]): void {
    const shapes = inputShape as Shape[];
    if (!Array.isArray(shapes[0]) || shapes.length !== 2) {
      throw new Error(`SwinMoEBlock: expects two inputs [x [N,H,W,C], route [N,E]], got ${JSON.stringify(inputShape)}`);
    }
    const [s, r] = shapes;
    const [, h, w, c] = s;
    if (s.length !== 4 || h === null || w === null || c === null) throw new Error(`SwinMoEBlock: x must be NHWC with known H, W, C, got ${JSON.stringify(s)}`);
    if (r.length !== 2 || r[1] !== this.numExperts) {
      throw new Error(`SwinMoEBlock: route must be [N, ${this.numExperts}] (one-hot expert per sample), got ${JSON.stringify(r)}`);
    }
    if (c % this.numHeads !== 0) throw new Error(`SwinMoEBlock: channels ${c} are not divisible by numHeads ${this.numHeads}`);
    this.effective = effectiveWindow(h, w, this.windowSize, this.shiftSize);
    const m = this.effective.window;
    const hidden = Math.floor(c * this.mlpRatio);
    let index = 0;
    const tn = (): Initializer => tf.initializers.truncatedNormal({ stddev: 0.02, seed: weightSeed(this.initSeed, index++) });
    const zeros = tf.initializers.zeros();
    const ones = tf.initializers.ones();
    const add = (name: string, shape: number[], init: Initializer): void => {
      this.w[name] = this.addWeight(name, shape, 'float32', init);
    };
    add('norm1_gamma', [c], ones);
    add('norm1_beta', [c], zeros);
    add('qkv_kernel', [c, 3 * c], tn());
    add('qkv_bias', [3 * c], zeros);
    add('relative_position_bias_table', [(2 * m - 1) * (2 * m - 1), this.numHeads], tn());
    add('proj_kernel', [c, c], tn());
    add('proj_bias', [c], zeros);
    add('norm2_gamma', [c], ones);
    add('norm2_beta', [c], zeros);
    for (let e = 0; e < this.numExperts; e++) {
      add(`expert${e}_fc1_kernel`, [c, hidden], tn());
      add(`expert${e}_fc1_bias`, [hidden], zeros);
      add(`expert${e}_fc2_kernel`, [hidden, c], tn());
      add(`expert${e}_fc2_bias`, [c], zeros);
    }
    const gateOut = this.gate === 'paper' ? this.numExperts : c;
    add('gate_kernel', [c, gateOut], tn());
    add('gate_bias', [gateOut], zeros);
    this.oneHotT = transposeMatrix(relativePositionOneHot(m), m * m * m * m, (2 * m - 1) * (2 * m - 1));
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape[] {
    const shapes = inputShape as Shape[];
    return [shapes[0], [shapes[0][0], 3 * this.numExperts]];
  }

  /** Window attention on `[B*nW, n, C]` windows: the project's shared Swin attention. */
  private attention(windows: tf.Tensor, h: number, w: number, m: number, shift: number): tf.Tensor {
    return windowAttention(windows, {
      h, w, m, shift,
      numHeads: this.numHeads,
      oneHotT: this.oneHotT!,
      masks: this.masks,
      maskValue: this.maskValue,
      ...attentionWeights(this.w),
    });
  }

  /** Output of expert `e` on normalised tokens `z [..., C]`. */
  private expert(z: tf.Tensor, e: number): tf.Tensor {
    const hidden = gelu(linear(z, this.w[`expert${e}_fc1_kernel`].read(), this.w[`expert${e}_fc1_bias`].read()));
    return linear(hidden, this.w[`expert${e}_fc2_kernel`].read(), this.w[`expert${e}_fc2_bias`].read());
  }

  /** MoE feed-forward on `z [N, H, W, C]` with routes `route [N, E]`: `[out, stats]`. */
  private moe(z: tf.Tensor, route: tf.Tensor): [tf.Tensor, tf.Tensor] {
    const n = z.shape[0];
    const E = this.numExperts;
    const ys = Array.from({ length: E }, (_, e) => this.expert(z, e));
    if (this.routing === 'hard') {
      return [mixExperts(ys, tf.reshape(route, [n, 1, 1, E])), fixedRoutingStats(route)];
    }
    const logits = linear(z, this.w.gate_kernel.read(), this.w.gate_bias.read());
    if (this.gate === 'code') {
      const sum = ys.length === 1 ? ys[0] : tf.addN(ys);
      return [tf.mul(tf.softmax(logits, -1), sum), fixedRoutingStats(tf.fill([n, E], 1 / E))];
    }
    const { probs, weights } = routingWeights(logits, this.topK);
    return [mixExperts(ys, weights), routingStats(probs, weights)];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
    return tf.tidy(() => {
      if (!Array.isArray(inputs) || inputs.length !== 2) throw new Error(`SwinMoEBlock '${this.name}': expects [x, route]`);
      const [x, route] = inputs;
      const [, h, w] = x.shape as [number, number, number, number];
      const eff = effectiveWindow(h, w, this.windowSize, this.shiftSize);
      if (eff.window !== this.effective!.window) {
        throw new Error(`SwinMoEBlock '${this.name}': built for window ${this.effective!.window}, but a ${h}x${w} grid needs window ${eff.window}`);
      }
      const { window: m, shift } = eff;
      const normed = layerNorm(x, this.w.norm1_gamma.read(), this.w.norm1_beta.read(), this.epsilon);
      const shifted = shift > 0 ? cyclicShift(normed, -shift, -shift) : normed;
      const merged = windowReverse(this.attention(windowPartition(shifted, m), h, w, m, shift), m, h, w);
      const y = tf.add(x, shift > 0 ? cyclicShift(merged, shift, shift) : merged);
      const z = layerNorm(y, this.w.norm2_gamma.read(), this.w.norm2_beta.read(), this.epsilon);
      const [ffn, stats] = this.moe(z, route);
      return [tf.add(y, ffn), stats];
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      numHeads: this.numHeads,
      windowSize: this.windowSize,
      shiftSize: this.shiftSize,
      mlpRatio: this.mlpRatio,
      numExperts: this.numExperts,
      gate: this.gate,
      topK: this.topK,
      routing: this.routing,
      initSeed: this.initSeed,
      epsilon: this.epsilon,
      maskValue: this.maskValue,
    };
  }
}

/** Register {@link SwinMoEBlock} with tfjs serialization (idempotent). */
export function registerSwinMoEBlock(): void {
  tf.serialization.registerClass(SwinMoEBlock);
}
registerSwinMoEBlock();
