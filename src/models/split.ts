/**
 * Cutting a functional tfjs model into client / server parts for split
 * learning (SplitFed: Thapa et al., arXiv:2004.12088; MedSegNet10: arXiv:2503.20830).
 *
 * `splitModel` rebuilds the graph of a built `tf.LayersModel` as 2 or 3 smaller
 * LayersModels that REUSE the original layers (so they share its weights), and
 * records every tensor crossing a cut. Skip connections are handled
 * explicitly: a tensor produced in one part and consumed in another becomes an
 * output of the producer and an input of the consumer, so it is sent (and
 * counted) like any other activation. In the U-shaped split, tensors going
 * straight from the client front to the client back never leave the client.
 *
 * `splitStep` runs one forward/backward pass through the parts as explicit
 * messages (activations up, activations down, gradients back), returning the
 * gradients of every weight and the message log with byte counts.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelSpec, SplitPoints } from './types';
import { inputsOf, isInputLayer, nodeOf, outputsOf as graphOutputs, type LayerLike, type NodeLike, type SymbolicTensorLike as SymTensor } from './graph';

/** The two split layouts of split learning. */
export type SplitMode = 'two-part' | 'u-shaped';

/** Where to cut. `cut` defaults to the architecture's declared split points. */
export interface SplitSpec {
  mode: SplitMode;
  /** two-part: a layer name; u-shaped: [frontEnd, bodyEnd] layer names. */
  cut?: string | [string, string];
}

/** Who holds a part. */
export type PartRole = 'client-front' | 'server' | 'client-back';

/** One tensor crossing between parts, per sample shape (without batch dim). */
export interface BoundaryTensor {
  /** Producing layer name (and output index when the layer has several). */
  name: string;
  /** Shape without the batch dimension. */
  shape: number[];
  from: PartRole;
  to: PartRole;
  /** True when it crosses the client/server boundary (sent over the wire). */
  communicated: boolean;
}

/** One part of a split network. */
export interface SplitPart {
  role: PartRole;
  /** Shares its layers (and so its weights) with the original model. */
  model: tf.LayersModel;
  /** Where each input comes from: 'input' (the image) or a boundary tensor name. */
  inputs: string[];
  /** Boundary tensor names (or 'output' for the network's prediction), in model output order. */
  outputs: string[];
}

/** The result of {@link splitModel}. */
export interface SplitNetwork {
  mode: SplitMode;
  cut: string | [string, string];
  /** [front, server] or [front, server, back]. */
  parts: SplitPart[];
  boundaries: BoundaryTensor[];
}

function tensorKey(t: SymTensor): string {
  const outs = nodeOf(t).outputTensors;
  return outs.length > 1 ? `${t.sourceLayer.name}:${t.tensorIndex}` : t.sourceLayer.name;
}

interface Graph {
  /** Producing node of every layer in the model (one node per layer). */
  nodeByLayer: Map<string, { layer: LayerLike; node: NodeLike }>;
  /** Layer names in topological order (inputs first). */
  order: string[];
  /** Layer name -> names of the layers whose outputs it consumes. */
  parents: Map<string, string[]>;
}

function readGraph(model: tf.LayersModel): Graph {
  const nodeByLayer = new Map<string, { layer: LayerLike; node: NodeLike }>();
  const parents = new Map<string, string[]>();
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (t: SymTensor) => {
    const layer = t.sourceLayer;
    const node = nodeOf(t);
    const prev = nodeByLayer.get(layer.name);
    if (prev && prev.node !== node) {
      throw new Error(`splitModel: layer '${layer.name}' is applied more than once in the model; shared layers cannot be split`);
    }
    const st = state.get(layer.name);
    if (st === 'done') return;
    if (st === 'visiting') throw new Error(`splitModel: cycle at layer '${layer.name}'`);
    state.set(layer.name, 'visiting');
    nodeByLayer.set(layer.name, { layer, node });
    const ps: string[] = [];
    const ins = isInputLayer(layer) ? [] : node.inputTensors;
    for (const it of ins) {
      visit(it);
      ps.push(it.sourceLayer.name);
    }
    parents.set(layer.name, ps);
    state.set(layer.name, 'done');
    order.push(layer.name);
  };
  for (const out of graphOutputs(model)) visit(out);
  return { nodeByLayer, order, parents };
}

function ancestors(g: Graph, name: string): Set<string> {
  if (!g.nodeByLayer.has(name)) {
    throw new Error(`splitModel: no layer named '${name}' in the model`);
  }
  const seen = new Set<string>();
  const stack = [name];
  while (stack.length) {
    const n = stack.pop() as string;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const p of g.parents.get(n) ?? []) stack.push(p);
  }
  return seen;
}

/** Default cut of an architecture for a mode. */
export function defaultCut(spec: Pick<ModelSpec, 'capabilities'> | SplitPoints, mode: SplitMode): string | [string, string] {
  const points = 'capabilities' in spec ? spec.capabilities.split : spec;
  return mode === 'two-part' ? points.twoPart : points.uShaped;
}

/**
 * Cut `model` into parts. `spec.cut` names layers of `model` (see
 * `SplitPoints` in ./types for the semantics). Throws when a name is unknown,
 * when the cut leaves a part empty, or (u-shaped) when the back would have to
 * feed the server.
 */
export function splitModel(model: tf.LayersModel, spec: SplitSpec): SplitNetwork {
  if (!spec.cut) throw new Error(`splitModel: spec.cut is required (use defaultCut(getModelSpec(name), '${spec.mode}'))`);
  const g = readGraph(model);
  const roleOf = new Map<string, PartRole>();
  let cut: string | [string, string];
  if (spec.mode === 'two-part') {
    if (typeof spec.cut !== 'string') throw new Error(`splitModel: two-part cut must be one layer name, got ${JSON.stringify(spec.cut)}`);
    cut = spec.cut;
    const front = ancestors(g, cut);
    for (const n of g.order) roleOf.set(n, front.has(n) ? 'client-front' : 'server');
  } else if (spec.mode === 'u-shaped') {
    if (!Array.isArray(spec.cut) || spec.cut.length !== 2) {
      throw new Error(`splitModel: u-shaped cut must be [frontEnd, bodyEnd], got ${JSON.stringify(spec.cut)}`);
    }
    cut = [spec.cut[0], spec.cut[1]];
    const front = ancestors(g, cut[0]);
    const body = ancestors(g, cut[1]);
    if (!body.has(cut[0])) throw new Error(`splitModel: bodyEnd '${cut[1]}' does not depend on frontEnd '${cut[0]}'`);
    for (const n of g.order) roleOf.set(n, front.has(n) ? 'client-front' : body.has(n) ? 'server' : 'client-back');
  } else {
    throw new Error(`splitModel: unknown mode '${(spec as SplitSpec).mode}'. Valid: two-part, u-shaped`);
  }

  const roles: PartRole[] = spec.mode === 'two-part' ? ['client-front', 'server'] : ['client-front', 'server', 'client-back'];
  for (const r of roles) {
    const count = g.order.filter((n) => roleOf.get(n) === r && !isInputLayer(g.nodeByLayer.get(n)!.layer)).length;
    if (count === 0) throw new Error(`splitModel: cut ${JSON.stringify(cut)} leaves the ${r} part empty`);
  }
  // The u-shaped back may consume front and server tensors, but nothing may flow back.
  const rank: Record<PartRole, number> = { 'client-front': 0, server: 1, 'client-back': 2 };

  const modelOutputs = new Set(graphOutputs(model).map((t) => t.id));
  const boundaries = new Map<string, BoundaryTensor>();
  // Tensors each part must receive (key -> symbolic tensor in the original graph).
  const needs = new Map<PartRole, Map<string, SymTensor>>(roles.map((r) => [r, new Map()]));
  const gives = new Map<PartRole, Map<string, SymTensor>>(roles.map((r) => [r, new Map()]));
  for (const n of g.order) {
    const { node } = g.nodeByLayer.get(n)!;
    const to = roleOf.get(n)!;
    if (isInputLayer(g.nodeByLayer.get(n)!.layer)) continue;
    for (const it of node.inputTensors) {
      const from = roleOf.get(it.sourceLayer.name)!;
      if (from === to) continue;
      if (rank[from] > rank[to]) {
        throw new Error(`splitModel: layer '${n}' (${to}) consumes '${it.sourceLayer.name}' (${from}); parts must flow front -> server -> back`);
      }
      const key = isInputLayer(it.sourceLayer) ? 'input' : tensorKey(it);
      needs.get(to)!.set(key, it);
      if (key !== 'input') {
        gives.get(from)!.set(key, it);
        boundaries.set(`${key}->${to}`, {
          name: key,
          shape: it.shape.slice(1).map((d) => d ?? -1),
          from,
          to,
          communicated: (from === 'server') !== (to === 'server'),
        });
      }
    }
  }
  // The model's output must be produced by the last part.
  const last = roles[roles.length - 1];
  for (const t of graphOutputs(model)) {
    if (roleOf.get(t.sourceLayer.name) !== last) {
      throw new Error(`splitModel: the model output '${t.sourceLayer.name}' is not in the ${last} part; move the cut earlier`);
    }
  }

  const parts: SplitPart[] = roles.map((role) => {
    const inputMap = new Map<number, unknown>();
    const inputs: tf.SymbolicTensor[] = [];
    const inputNames: string[] = [];
    const needed = [...needs.get(role)!.entries()];
    if (role === 'client-front') {
      for (const t of inputsOf(model)) needed.unshift(['input', t]);
    }
    const seenIds = new Set<number>();
    for (const [key, t] of needed) {
      if (seenIds.has(t.id)) continue;
      seenIds.add(t.id);
      const inp = tf.input({ shape: t.shape.slice(1) as number[], name: `${role}_in_${key.replace(/[^A-Za-z0-9_]/g, '_')}` });
      inputMap.set(t.id, inp);
      inputs.push(inp);
      inputNames.push(key);
    }
    for (const n of g.order) {
      if (roleOf.get(n) !== role) continue;
      const { layer, node } = g.nodeByLayer.get(n)!;
      if (isInputLayer(layer)) continue;
      const args = node.inputTensors.map((t) => {
        const m = inputMap.get(t.id);
        if (m === undefined) throw new Error(`splitModel: internal error, '${t.name}' not available in ${role}`);
        return m;
      });
      const out = layer.apply(args.length === 1 ? args[0] : args, node.callArgs ?? {});
      const outs = Array.isArray(out) ? out : [out];
      node.outputTensors.forEach((t, i) => inputMap.set(t.id, outs[i]));
    }
    const outputs: tf.SymbolicTensor[] = [];
    const outputNames: string[] = [];
    for (const [key, t] of gives.get(role)!) {
      outputs.push(inputMap.get(t.id) as tf.SymbolicTensor);
      outputNames.push(key);
    }
    for (const t of graphOutputs(model)) {
      if (roleOf.get(t.sourceLayer.name) === role && modelOutputs.has(t.id)) {
        outputs.push(inputMap.get(t.id) as tf.SymbolicTensor);
        outputNames.push('output');
      }
    }
    const partModel = tf.model({ inputs, outputs, name: `${model.name}_${role}` });
    return { role, model: partModel, inputs: inputNames, outputs: outputNames };
  });

  return { mode: spec.mode, cut, parts, boundaries: [...boundaries.values()] };
}

/** One message between client and server in {@link splitStep}. */
export interface SplitMessage {
  direction: 'up' | 'down';
  /** 'activation' (forward) or 'gradient' (backward) of boundary tensor `name`; 'labels' in two-part mode. */
  kind: 'activation' | 'gradient' | 'labels';
  name: string;
  shape: number[];
  bytes: number;
}

/** Output of {@link splitStep}. */
export interface SplitStepResult {
  loss: number;
  /** Gradient of the loss w.r.t. every trainable weight, keyed by variable name. Caller disposes. */
  grads: tf.NamedTensorMap;
  messages: SplitMessage[];
}

function bytesOf(t: tf.Tensor): number {
  return t.size * (t.dtype === 'float32' || t.dtype === 'int32' ? 4 : 1);
}

function trainableVars(part: SplitPart): tf.Variable[] {
  return part.model.trainableWeights.map((w) => w.read() as tf.Variable);
}

function outputsOf(part: SplitPart, inputs: tf.Tensor[], training: boolean): tf.Tensor[] {
  const out = part.model.apply(inputs, { training }) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out : [out];
}

/**
 * One forward+backward pass of `part`: the scalar `objective(outputs)`, its
 * gradients w.r.t. the part's inputs and trainable weights. With
 * `restoreStats`, non-trainable weights (BatchNorm moving statistics) are put
 * back afterwards, for passes that recompute a forward already done once
 * (tfjs cannot keep a tape between the forward message and the backward one),
 * so moving statistics are updated exactly once per step, as without a split.
 */
function partGradients(
  part: SplitPart,
  inputs: tf.Tensor[],
  objective: (outs: tf.Tensor[]) => tf.Scalar,
  training: boolean,
  restoreStats: boolean,
  inputGrads = true,
): { value: number; dInputs: tf.Tensor[]; grads: tf.NamedTensorMap } {
  const stats = part.model.nonTrainableWeights;
  const saved = restoreStats ? stats.map((w) => w.read().clone()) : [];
  const vars = trainableVars(part);
  const wrt = inputGrads ? inputs : [];
  const { value, grads } = tf.engine().gradients(() => objective(outputsOf(part, inputs, training)), [...wrt, ...vars], undefined, true);
  const v = value.dataSync()[0];
  value.dispose();
  if (restoreStats) {
    stats.forEach((w, i) => w.write(saved[i]));
    tf.dispose(saved);
  }
  const named: tf.NamedTensorMap = {};
  vars.forEach((vr, i) => {
    const g = grads[wrt.length + i];
    if (g) named[vr.name] = g;
  });
  return { value: v, dInputs: grads.slice(0, wrt.length), grads: named };
}

/** <outputs, upstream gradients>: its gradient is the vector-Jacobian product. */
function dotWith(dOutputs: (tf.Tensor | null)[]): (outs: tf.Tensor[]) => tf.Scalar {
  return (outs) => {
    let total: tf.Tensor = tf.scalar(0);
    outs.forEach((o, i) => {
      const d = dOutputs[i];
      if (d) total = tf.add(total, tf.sum(tf.mul(o, d)));
    });
    return total as tf.Scalar;
  };
}

/**
 * One split-learning training step as explicit messages.
 *
 * - two-part: client front forward -> activations up (and labels up) ->
 *   server forward + loss + backward -> gradients of the activations down ->
 *   client backward.
 * - u-shaped: front forward -> activations up -> server forward -> server
 *   activations down -> client back forward + loss (labels never leave the
 *   client) -> back backward -> gradients of the server activations up ->
 *   server backward -> gradients of the front activations down -> front backward.
 *
 * `loss(yTrue, yPred)` must return a scalar. Tensors are NHWC. Weights are not
 * updated here: apply `grads` with an optimizer. Every message is logged with
 * its byte size (float32 = 4 bytes/element).
 */
export function splitStep(
  net: SplitNetwork,
  x: tf.Tensor,
  y: tf.Tensor,
  loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Scalar,
  options: { training?: boolean } = {},
): SplitStepResult {
  const training = options.training ?? true;
  const messages: SplitMessage[] = [];
  const log = (direction: 'up' | 'down', kind: SplitMessage['kind'], name: string, t: tf.Tensor) =>
    messages.push({ direction, kind, name, shape: t.shape.slice(), bytes: bytesOf(t) });
  const [front, server, back] = net.parts;
  const allGrads: tf.NamedTensorMap = {};
  const addGrads = (g: tf.NamedTensorMap) => {
    for (const [k, v] of Object.entries(g)) {
      if (allGrads[k]) {
        const s = tf.add(allGrads[k], v);
        allGrads[k].dispose();
        v.dispose();
        allGrads[k] = s;
      } else allGrads[k] = v;
    }
  };
  const run = (part: SplitPart, inputs: tf.Tensor[]) => outputsOf(part, inputs, training);
  const available = new Map<string, tf.Tensor>([['input', x]]);
  const owned: tf.Tensor[] = [];
  const gather = (part: SplitPart) => part.inputs.map((n) => {
    const t = available.get(n);
    if (!t) throw new Error(`splitStep: ${part.role} needs '${n}' which no earlier part produced`);
    return t;
  });
  try {
    // Forward through the front.
    const frontIn = gather(front);
    const frontOut = tf.tidy(() => run(front, frontIn));
    owned.push(...frontOut);
    frontOut.forEach((t, i) => available.set(front.outputs[i], t));
    for (const n of server.inputs) if (n !== 'input') log('up', 'activation', n, available.get(n)!);

    let lossValue: number;
    if (!back) {
      log('up', 'labels', 'labels', y);
      const serverIn = gather(server);
      // Server: forward, loss and backward in one pass.
      const iOut = server.outputs.indexOf('output');
      const sg = partGradients(server, serverIn, (outs) => loss(y, outs[iOut]), training, false);
      lossValue = sg.value;
      addGrads(sg.grads);
      owned.push(...sg.dInputs.filter((t): t is tf.Tensor => !!t));
      const dFront: (tf.Tensor | null)[] = front.outputs.map(() => null);
      server.inputs.forEach((n, i) => {
        const j = front.outputs.indexOf(n);
        if (j >= 0 && sg.dInputs[i]) {
          log('down', 'gradient', n, sg.dInputs[i]);
          dFront[j] = sg.dInputs[i];
        }
      });
      const fb = partGradients(front, frontIn, dotWith(dFront), training, true, false);
      addGrads(fb.grads);
      tf.dispose(fb.dInputs);
    } else {
      const serverIn = gather(server);
      const serverOut = tf.tidy(() => run(server, serverIn));
      owned.push(...serverOut);
      serverOut.forEach((t, i) => {
        available.set(server.outputs[i], t);
        log('down', 'activation', server.outputs[i], t);
      });
      const backIn = gather(back);
      const iOut = back.outputs.indexOf('output');
      const bg = partGradients(back, backIn, (outs) => loss(y, outs[iOut]), training, false);
      lossValue = bg.value;
      addGrads(bg.grads);
      const dBackIn = bg.dInputs;
      owned.push(...dBackIn.filter((t): t is tf.Tensor => !!t));
      // Route back-input gradients: to the server (sent up) or to the front (local).
      const dServer: (tf.Tensor | null)[] = server.outputs.map(() => null);
      const dFront: (tf.Tensor | null)[] = front.outputs.map(() => null);
      const accumulate = (arr: (tf.Tensor | null)[], j: number, g: tf.Tensor) => {
        if (arr[j]) {
          const s = tf.add(arr[j] as tf.Tensor, g);
          owned.push(s);
          arr[j] = s;
        } else arr[j] = g;
      };
      back.inputs.forEach((n, i) => {
        const g = dBackIn[i];
        if (!g || n === 'input') return;
        const js = server.outputs.indexOf(n);
        if (js >= 0) {
          log('up', 'gradient', n, g);
          accumulate(dServer, js, g);
          return;
        }
        const jf = front.outputs.indexOf(n);
        if (jf >= 0) accumulate(dFront, jf, g);
      });
      const sb = partGradients(server, serverIn, dotWith(dServer), training, true);
      addGrads(sb.grads);
      owned.push(...sb.dInputs.filter((t): t is tf.Tensor => !!t));
      server.inputs.forEach((n, i) => {
        const jf = front.outputs.indexOf(n);
        const g = sb.dInputs[i];
        if (jf >= 0 && g) {
          log('down', 'gradient', n, g);
          accumulate(dFront, jf, g);
        }
      });
      const fb = partGradients(front, frontIn, dotWith(dFront), training, true, false);
      addGrads(fb.grads);
      tf.dispose(fb.dInputs);
    }
    return { loss: lossValue, grads: allGrads, messages };
  } finally {
    tf.dispose(owned);
  }
}
