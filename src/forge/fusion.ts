/**
 * MedForge's two ways of using contributed plugins (arXiv:2502.16055):
 *
 * - Fusion: one model `W0 + delta(sum_i w_i * plugin_i)`, built step by step
 *   as contributors arrive: at step t the current fused state and the new
 *   plugin are combined with two searched coefficients (one searched
 *   coefficient for the first contributor), as `lorahubmerge` in the
 *   official `model_fusion.py`. `space` says what is combined:
 *   'factors' (the code, LoraHub-style: `down = sum w_i down_i`,
 *   `up = sum w_i up_i`, so the delta is `(sum w_i down_i)(sum w_i up_i)` —
 *   for a single plugin with coefficient w the delta scales by w^2) or
 *   'delta' (the paper's formula: `sum_i w_i * down_i @ up_i`).
 *   `level` 'whole' = one coefficient per plugin, 'layer' = one per plugin
 *   per adapted kernel (the code's `--level layer`).
 * - Mixture: keep every plugin; predict `sum_j w_j * f(x; W0 + delta_j)`
 *   (weighted sum of the plugins' output probabilities as `get_mixture_loss`,
 *   then clipped / renormalised, see {@link mixOutputs}). At step t two coefficients (a, b) are searched and
 *   the weights become `[a * w_prev..., b]` (the code's `weight_history`).
 */
import * as tf from '@tensorflow/tfjs';
import type { ForgeDelta, PluginState } from './lora';
import { forgeDeltaTensors, pluginDeltas } from './lora';

/** What fusion combines (see module doc). */
export type FusionSpace = 'factors' | 'delta';
/** One coefficient per plugin or per plugin and kernel. */
export type CoefficientLevel = 'whole' | 'layer';

function weightOf(w: number | readonly number[], layer: number): number {
  return typeof w === 'number' ? w : w[layer];
}

/**
 * Weighted combination of plugin states / deltas (see module doc).
 * `weights[i]` is part i's coefficient (a number) or its per-kernel
 * coefficients (one per factor, in factor order).
 */
export function combineDeltas(parts: readonly ForgeDelta[], weights: readonly (number | readonly number[])[], space: FusionSpace): ForgeDelta {
  if (parts.length === 0) throw new Error('combineDeltas: no parts');
  if (weights.length !== parts.length) throw new Error(`combineDeltas: ${parts.length} parts but ${weights.length} weights`);
  if (space === 'factors') {
    const ps = parts.map((p, i) => {
      if (p.kind !== 'factors') throw new Error(`combineDeltas: space 'factors' needs low-rank parts; part ${i} is a full delta`);
      return p.plugin;
    });
    const ref = ps[0];
    ps.forEach((p, i) => {
      if (p.rank !== ref.rank || p.alpha !== ref.alpha || p.factors.length !== ref.factors.length || p.factors.some((f, j) => f.index !== ref.factors[j].index)) {
        throw new Error(`combineDeltas: plugin ${i} differs from plugin 0 in rank, alpha or adapted kernels; use space 'delta'`);
      }
    });
    const plugin: PluginState = {
      rank: ref.rank,
      alpha: ref.alpha,
      factors: ref.factors.map((f, j) => {
        const down = new Float32Array(f.down.length);
        const up = new Float32Array(f.up.length);
        ps.forEach((p, i) => {
          const w = weightOf(weights[i], j);
          const pd = p.factors[j].down;
          const pu = p.factors[j].up;
          for (let k = 0; k < down.length; k++) down[k] += w * pd[k];
          for (let k = 0; k < up.length; k++) up[k] += w * pu[k];
        });
        return { index: f.index, layer: f.layer, shape: [...f.shape], down, up };
      }),
    };
    return { kind: 'factors', plugin };
  }
  if (space !== 'delta') throw new Error(`combineDeltas: unknown space '${String(space)}' (valid: factors, delta)`);
  const deltas = new Map<number, { shape: number[]; values: Float32Array }>();
  const order: number[] = [];
  tf.tidy(() => {
    const maps = parts.map((p) => (p.kind === 'factors' ? pluginDeltas(p.plugin) : forgeDeltaTensors(p)));
    for (const k of maps[0].keys()) order.push(k);
    order.forEach((index, j) => {
      let acc: tf.Tensor | null = null;
      maps.forEach((m, i) => {
        const d = m.get(index);
        if (!d) throw new Error(`combineDeltas: part ${i} does not adapt weight ${index}`);
        const term = tf.mul(d, weightOf(weights[i], j));
        acc = acc ? tf.add(acc, term) : term;
      });
      const t = acc as unknown as tf.Tensor;
      deltas.set(index, { shape: [...t.shape], values: (t.dataSync() as Float32Array).slice() });
    });
  });
  return { kind: 'delta', deltas };
}

/** Number of adapted kernels of a delta (the per-part width of 'layer'-level coefficients). */
export function deltaLayers(d: ForgeDelta): number {
  return d.kind === 'factors' ? d.plugin.factors.length : d.deltas.size;
}

/** Split a flat coefficient vector into per-part coefficients for {@link combineDeltas}. */
export function splitCoefficients(flat: readonly number[], parts: number, level: CoefficientLevel, layers: number): (number | number[])[] {
  if (level === 'whole') {
    if (flat.length !== parts) throw new Error(`splitCoefficients: ${flat.length} values for ${parts} parts`);
    return [...flat];
  }
  if (flat.length !== parts * layers) throw new Error(`splitCoefficients: ${flat.length} values for ${parts} parts x ${layers} layers`);
  return Array.from({ length: parts }, (_, i) => flat.slice(i * layers, (i + 1) * layers));
}

/** The code's mixture weight update: `[a * prev..., b]` (first step: `[b]`). */
export function composeMixtureWeights(prev: readonly number[], ab: readonly number[]): number[] {
  if (prev.length === 0) {
    if (ab.length !== 1) throw new Error(`composeMixtureWeights: the first step takes 1 coefficient, got ${ab.length}`);
    return [ab[0]];
  }
  if (ab.length !== 2) throw new Error(`composeMixtureWeights: later steps take 2 coefficients (a, b), got ${ab.length}`);
  return [...prev.map((w) => w * ab[0]), ab[1]];
}

/**
 * Mixture output `sum_j w_j * outputs_j` (same-shape probability outputs);
 * create inside a tidy. `'clip'` (default) clips to [0, 1] and, for
 * multi-channel (softmax) outputs, renormalises over the last axis, so a
 * probability loss stays bounded when the searched weights are negative or
 * do not sum to 1 (departure: the code feeds the raw weighted sum to
 * PyTorch's CrossEntropyLoss, which treats it as logits). `'none'` returns
 * the raw sum.
 */
export function mixOutputs(outputs: readonly tf.Tensor[], weights: readonly number[], normalize: 'clip' | 'none' = 'clip'): tf.Tensor {
  if (outputs.length === 0 || outputs.length !== weights.length) {
    throw new Error(`mixOutputs: ${outputs.length} outputs but ${weights.length} weights`);
  }
  return tf.tidy(() => {
    const raw = tf.addN(outputs.map((o, j) => tf.mul(o, weights[j])));
    if (normalize === 'none') return raw;
    const clipped = tf.clipByValue(raw, 0, 1);
    const K = clipped.shape[clipped.rank - 1] as number;
    if (K === 1) return clipped;
    return tf.div(clipped, tf.maximum(tf.sum(clipped, -1, true), 1e-7));
  });
}
