/**
 * BatchNorm folding for inference: a copy of a model in which every
 * `Conv2D -> BatchNormalization` pair (the BN the conv's only consumer, the
 * conv without activation, BN over the channel axis) becomes one `Conv2D`
 * with a bias:
 *
 * ```
 * s  = gamma / sqrt(movingVariance + epsilon)        (gamma = 1 without scale)
 * W' = W * s      (per output channel, W [KH, KW, C, K])
 * b' = (b - movingMean) * s + beta                    (b = 0 without bias, beta = 0 without center)
 * ```
 *
 * and the BatchNormalization layer becomes a linear `Activation` of the same
 * name (the graph and every other layer are unchanged, so output names and
 * shapes match). On medfl's wasm engine the conv then runs as one native
 * `FusedConv2D` (conv + bias in one call) and the BN pass over the
 * activation disappears. Inference only: the copy has no BatchNorm layers to
 * train. Outputs equal the original's `predict` up to float32 rounding
 * (the affine map is applied to the weights instead of the activations).
 */
import * as tf from '@tensorflow/tfjs';

interface LayerJson {
  class_name: string;
  config: Record<string, unknown> & { name: string };
  inbound_nodes?: unknown[];
  name?: string;
}

/** Names of the layers whose output feeds `layer` (every call site). */
function inboundNames(layer: LayerJson): string[] {
  const names: string[] = [];
  for (const node of (layer.inbound_nodes ?? []) as unknown[][]) {
    for (const edge of node as unknown[][]) if (Array.isArray(edge) && typeof edge[0] === 'string') names.push(edge[0]);
  }
  return names;
}

/** What {@link foldBatchNorm} did. */
export interface FoldResult {
  /** The folded copy (the caller disposes it). */
  model: tf.LayersModel;
  /** `[conv, batchNorm]` layer names that were folded. */
  folded: [string, string][];
}

/**
 * A folded inference copy of `model` (see module doc); `model` is not
 * changed. Models with nothing to fold come back as a plain copy. Custom
 * layers must be registered for serialization (medfl's are).
 */
export async function foldBatchNorm(model: tf.LayersModel): Promise<FoldResult> {
  const topology = model.toJSON(null, false) as unknown as { config: { layers: LayerJson[]; output_layers?: unknown[] } };
  const layers = topology.config.layers;
  const consumers = new Map<string, number>();
  for (const l of layers) for (const n of inboundNames(l)) consumers.set(n, (consumers.get(n) ?? 0) + 1);
  for (const out of (topology.config.output_layers ?? []) as unknown[][]) {
    if (typeof out[0] === 'string') consumers.set(out[0], (consumers.get(out[0]) ?? 0) + 1);
  }
  const byName = new Map(layers.map((l) => [l.config.name, l]));
  const folded: [string, string][] = [];
  for (const bn of layers) {
    if (bn.class_name !== 'BatchNormalization') continue;
    const axis = bn.config.axis;
    const ins = inboundNames(bn);
    if (ins.length !== 1 || !(axis === -1 || axis === 3 || (Array.isArray(axis) && axis.length === 1 && (axis[0] === -1 || axis[0] === 3)))) continue;
    const conv = byName.get(ins[0]);
    if (!conv || conv.class_name !== 'Conv2D' || consumers.get(conv.config.name) !== 1) continue;
    const act = conv.config.activation;
    if (act !== undefined && act !== null && act !== 'linear') continue;
    if (conv.config.data_format !== undefined && conv.config.data_format !== 'channelsLast' && conv.config.data_format !== 'channels_last') continue;
    conv.config.use_bias = true;
    bn.class_name = 'Activation';
    const cfg: LayerJson['config'] = { name: bn.config.name, trainable: false, activation: 'linear' };
    if (bn.config.dtype != null) cfg.dtype = bn.config.dtype;
    bn.config = cfg;
    folded.push([conv.config.name, bn.config.name]);
  }
  const copy = await tf.models.modelFromJSON({ modelTopology: topology as unknown as tf.io.ModelJSON['modelTopology'] });
  const convOf = new Map(folded.map(([c, b]) => [c, b]));
  for (const layer of copy.layers) {
    const src = model.getLayer(layer.name);
    if (folded.some(([, b]) => b === layer.name)) continue; // the linear Activation that replaced a BN
    const bnName = convOf.get(layer.name);
    if (!bnName) {
      if (src.weights.length) layer.setWeights(src.getWeights());
      continue;
    }
    const bn = model.getLayer(bnName) as unknown as { weights: tf.LayerVariable[]; getConfig(): Record<string, unknown> };
    const cfg = bn.getConfig();
    const eps = (cfg.epsilon as number | undefined) ?? 1e-3;
    const w = src.getWeights();
    const kernel = w[0];
    const K = kernel.shape[kernel.shape.length - 1];
    const named = new Map(bn.weights.map((v) => [v.originalName.split('/').pop() ?? v.name, v.read()]));
    const values = tf.tidy(() => {
      const gamma = named.get('gamma') ?? tf.ones([K]);
      const beta = named.get('beta') ?? tf.zeros([K]);
      const mean = named.get('moving_mean')!;
      const variance = named.get('moving_variance')!;
      const s = tf.div(gamma, tf.sqrt(tf.add(variance, eps)));
      const b0 = w.length > 1 ? w[1] : tf.zeros([K]);
      return [tf.mul(kernel, s), tf.add(tf.mul(tf.sub(b0, mean), s), beta)];
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
  return { model: copy, folded };
}
