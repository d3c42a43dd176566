/**
 * Mixture-of-experts convolutional blocks for the U-Net family: a CPU-scale
 * counterpart of M4oE's MoE feed-forward (Jiang & Shen 2024, arXiv:2405.09446),
 * where each expert is a whole U-Net double conv and the gate looks at the
 * global-average-pooled block input. Not in the paper (M4oE is Swin-Unet only):
 * this is the same routing / gating / two-phase machinery applied to conv blocks.
 *
 * Serializable tfjs layer `MedflMoEConvMix` (the gate + mixing); the experts are
 * ordinary functional-graph branches built by {@link moeDoubleConv}.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerArgs } from '../models/blocks/swin';
import { doubleConv } from '../models/blocks/conv';
import type { SeededInit } from '../models/blocks/init';
import { checkTopK, fixedRoutingStats, routingStats, routingWeights } from './gating';
import { mixExperts, weightSeed, type MoEGate, type MoERouting } from './swin-moe-block';

type Shape = Array<number | null>;
type Sym = tf.SymbolicTensor;

/** Options of {@link MoEConvMix}. */
export interface MoEConvMixArgs extends LayerArgs {
  /** Number of experts E (= number of expert inputs). */
  numExperts: number;
  /** Soft gate flavour (see `MoEGate`). Default 'paper'. */
  gate?: MoEGate;
  /** Experts kept per sample under the paper gate. Default E. */
  topK?: number;
  /** Current routing (mutable). Default 'soft'. */
  routing?: MoERouting;
  /** Seed of the gate's truncated-normal(0.02) kernel. Default 0. */
  initSeed?: number;
}

/**
 * Gate + mixture of E expert feature maps, per sample.
 * Inputs `[x [N, H, W, Cin], route [N, E], y_1 .. y_E [N, H', W', Cout]]`
 * (x = the block input the gate looks at; y_e = expert outputs).
 * Outputs `[out [N, H', W', Cout], stats [N, 3E]]` (statistics: `gating.ts`).
 * - soft, 'paper': `p = softmax(GAP(x) W + b)`, W `[Cin, E]`; top-k + renormalise;
 *   `out = sum_e w_e y_e`.
 * - soft, 'code': `g = softmax_c(GAP(x) W + b)`, W `[Cin, Cout]`;
 *   `out = g ⊙ sum_e y_e` (the released code's channel gate, moved to pooled features).
 * - hard: `out = y_{route}` (one-hot weights; other experts get zero gradient).
 */
export class MoEConvMix extends tf.layers.Layer {
  static className = 'MedflMoEConvMix';
  readonly numExperts: number;
  readonly gate: MoEGate;
  readonly topK: number;
  readonly initSeed: number;
  /** Current routing (see `setRouting`). */
  routing: MoERouting;
  private kernel?: tf.LayerVariable;
  private bias?: tf.LayerVariable;

  constructor(args: MoEConvMixArgs) {
    super(args);
    this.numExperts = args.numExperts;
    this.gate = args.gate ?? 'paper';
    this.topK = args.topK ?? args.numExperts;
    this.routing = args.routing ?? 'soft';
    this.initSeed = args.initSeed ?? 0;
    if (!Number.isInteger(this.numExperts) || this.numExperts < 1) throw new Error(`MoEConvMix: numExperts must be a positive integer, got ${args.numExperts}`);
    if (this.gate !== 'paper' && this.gate !== 'code') throw new Error(`MoEConvMix: gate must be 'paper' or 'code', got '${String(args.gate)}'`);
    if (this.routing !== 'soft' && this.routing !== 'hard') throw new Error(`MoEConvMix: routing must be 'soft' or 'hard', got '${String(args.routing)}'`);
    checkTopK(this.topK, this.numExperts);
    if (this.gate === 'code' && this.topK !== this.numExperts) throw new Error(`MoEConvMix: topK ${this.topK} needs gate 'paper'`);
  }

  override build(inputShape: Shape | Shape[]): void {
    const shapes = inputShape as Shape[];
    if (!Array.isArray(shapes[0]) || shapes.length !== 2 + this.numExperts) {
      throw new Error(`MoEConvMix: expects [x, route, ${this.numExperts} expert outputs], got ${JSON.stringify(inputShape)}`);
    }
    const cin = shapes[0][3];
    const cout = shapes[2][3];
    if (shapes[0].length !== 4 || cin === null || cout === null) throw new Error(`MoEConvMix: x and the experts must be NHWC with known channels`);
    if (shapes[1].length !== 2 || shapes[1][1] !== this.numExperts) throw new Error(`MoEConvMix: route must be [N, ${this.numExperts}], got ${JSON.stringify(shapes[1])}`);
    for (const s of shapes.slice(2)) {
      if (JSON.stringify(s.slice(1)) !== JSON.stringify(shapes[2].slice(1))) throw new Error(`MoEConvMix: expert outputs differ in shape: ${JSON.stringify(shapes.slice(2))}`);
    }
    const out = this.gate === 'paper' ? this.numExperts : cout;
    this.kernel = this.addWeight('gate_kernel', [cin, out], 'float32', tf.initializers.truncatedNormal({ stddev: 0.02, seed: weightSeed(this.initSeed, 0) }));
    this.bias = this.addWeight('gate_bias', [out], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape[] {
    const shapes = inputShape as Shape[];
    return [shapes[2], [shapes[0][0], 3 * this.numExperts]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
    return tf.tidy(() => {
      if (!Array.isArray(inputs) || inputs.length !== 2 + this.numExperts) throw new Error(`MoEConvMix '${this.name}': expects [x, route, experts...]`);
      const [x, route, ...ys] = inputs;
      const n = x.shape[0];
      const E = this.numExperts;
      if (this.routing === 'hard') return [mixExperts(ys, tf.reshape(route, [n, 1, 1, E])), fixedRoutingStats(route)];
      const pooled = tf.mean(x, [1, 2]); // [N, Cin]
      const logits = tf.add(tf.matMul(pooled, this.kernel!.read()), this.bias!.read());
      if (this.gate === 'code') {
        const g = tf.reshape(tf.softmax(logits, -1), [n, 1, 1, -1]);
        return [tf.mul(g, ys.length === 1 ? ys[0] : tf.addN(ys)), fixedRoutingStats(tf.fill([n, E], 1 / E))];
      }
      const { probs, weights } = routingWeights(logits, this.topK);
      return [mixExperts(ys, tf.reshape(weights, [n, 1, 1, E])), routingStats(probs, weights)];
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), numExperts: this.numExperts, gate: this.gate, topK: this.topK, routing: this.routing, initSeed: this.initSeed };
  }
}

/** Register {@link MoEConvMix} with tfjs serialization (idempotent). */
export function registerMoEConvMix(): void {
  tf.serialization.registerClass(MoEConvMix);
}
registerMoEConvMix();

/** Options of {@link moeDoubleConv}. */
export interface MoEDoubleConvOptions {
  filters: number;
  numExperts: number;
  gate?: MoEGate;
  topK?: number;
  routing?: MoERouting;
  init: SeededInit;
  /** Seed of the gate. */
  gateSeed: number;
}

/**
 * MoE U-Net double conv: E parallel experts, each a `doubleConv` (two
 * `3x3 conv -> BN -> ReLU`, layers `${name}_e{e}_{1,2}_*`), mixed by
 * {@link MoEConvMix} `${name}_moe` with the gate on GAP(x).
 * `[N, H, W, Cin]` + route `[N, E]` -> `[[N, H, W, filters], stats [N, 3E]]`.
 */
export function moeDoubleConv(x: Sym, route: Sym, name: string, opts: MoEDoubleConvOptions): [Sym, Sym] {
  const experts = Array.from({ length: opts.numExperts }, (_, e) => doubleConv(x, `${name}_e${e}`, opts.filters, opts.init));
  const mix = new MoEConvMix({
    name: `${name}_moe`,
    numExperts: opts.numExperts,
    gate: opts.gate,
    topK: opts.topK,
    routing: opts.routing,
    initSeed: opts.gateSeed,
  });
  const [out, stats] = mix.apply([x, route, ...experts]) as Sym[];
  return [out, stats];
}
