/**
 * tfjs-core 4.22's `Engine.gradients` with a linear-time tape filter.
 *
 * Before back-propagating, tfjs-core keeps the tape nodes that lie on a path
 * from the variables `xs` to `y` (`getFilteredNodesXToY`, tfjs-core
 * src/tape.ts). Its forward sweep tests each node input with a loop over all
 * of `xs` whose body does not depend on the loop index, so every input that
 * is not a function of `xs` costs `xs.length` identical lookups: O(tape x
 * inputs x variables). DUCK-Net (~6 000 tape nodes, 550 variables) spent
 * ~300 ms of a ~1.4 s training step there; DeepLabV3 ~4 ms.
 *
 * {@link installLinearTapeFilter} replaces `Engine.prototype.gradients` with
 * the same method (same checks, same order of gradient accumulation, same
 * tape clean-up) whose filter does that test once per input. The results are
 * identical (tested); it is installed only on tfjs-core 4.22.0, whose
 * internals it mirrors, and `MEDFL_TAPE_FILTER=0` keeps tfjs' own.
 */
import * as tf from '@tensorflow/tfjs';

interface TapeTensor {
  id: number;
  shape: number[];
  dtype: string;
  dispose(): void;
}
export interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, TapeTensor>;
  outputs: TapeTensor[];
  saved?: TapeTensor[];
  gradient?: (dys: Array<TapeTensor | null>) => Record<string, () => TapeTensor>;
}
interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T>(nameOrFn: string | (() => T), fn?: () => T): T;
}
type GradientsFn = (
  this: EngineInternals,
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy?: tf.Tensor,
  allowNoGradients?: boolean,
) => { value: tf.Tensor; grads: tf.Tensor[] };

/**
 * The tape nodes connecting `xs` to `y`, in tape order, with inputs that are
 * not a function of `xs` pruned (tfjs-core's `getFilteredNodesXToY`, each
 * input tested once).
 */
export function filterTapeXToY(tape: TapeNode[], xs: Array<{ id: number }>, y: { id: number }): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    for (const name in node.inputs) {
      if (fromX.has(node.inputs[name].id)) {
        for (const o of node.outputs) fromX.add(o.id);
        nodesFromX.add(node.id);
        break;
      }
    }
  }
  const leadToY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => leadToY.has(o.id))) {
      for (const name in node.inputs) {
        leadToY.add(node.inputs[name].id);
        nodesToY.add(node.id);
      }
    }
  }
  const filtered: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const pruned: Record<string, TapeTensor> = {};
    for (const name in node.inputs) if (fromX.has(node.inputs[name].id)) pruned[name] = node.inputs[name];
    filtered.push({ ...node, inputs: pruned, outputs: node.outputs });
  }
  return filtered;
}

/** tfjs-core's `backpropagateGradients` (src/tape.ts), unchanged. */
function backpropagate(grads: Record<number, tf.Tensor>, tape: TapeNode[], tidy: <T>(f: () => T) => T): void {
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    const dys = node.outputs.map((o) => (grads[o.id] != null ? (grads[o.id] as unknown as TapeTensor) : null));
    if (node.gradient == null) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
    const inputGradients = node.gradient(dys);
    for (const inputName in node.inputs) {
      if (!(inputName in inputGradients)) {
        throw new Error(`Cannot backprop through input ${inputName}. Available gradients found: ${Object.keys(inputGradients)}.`);
      }
      const dx = tidy(() => inputGradients[inputName]()) as unknown as tf.Tensor;
      if (dx.dtype !== 'float32') {
        throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${inputName} must have 'float32' dtype, but has '${dx.dtype}'`);
      }
      const x = node.inputs[inputName];
      if (!tf.util.arraysEqual(dx.shape, x.shape)) {
        throw new Error(
          `Error in gradient for op ${node.kernelName}. The gradient of input '${inputName}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`,
        );
      }
      const cur = grads[x.id];
      if (cur == null) {
        grads[x.id] = dx;
      } else {
        grads[x.id] = tf.add(cur, dx);
        cur.dispose();
      }
    }
  }
}

/** `Engine.prototype.gradients` of tfjs-core 4.22 with {@link filterTapeXToY}. */
const gradients: GradientsFn = function (this: EngineInternals, f, xs, dy, allowNoGradients = false) {
  tf.util.assert(xs.length > 0, () => 'gradients() received an empty list of xs.');
  if (dy != null && dy.dtype !== 'float32') throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
  const y = this.scopedRun(
    () => this.startTape(),
    () => this.endTape(),
    () => this.tidy('forward', f),
  );
  tf.util.assert(y instanceof tf.Tensor, () => 'The result y returned by f() must be a tensor.');
  const filtered = filterTapeXToY(this.state.activeTape ?? [], xs, y);
  if (!allowNoGradients && filtered.length === 0 && xs.length > 0) {
    throw new Error(
      'Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.',
    );
  }
  return this.tidy('backward', () => {
    const acc: Record<number, tf.Tensor> = {};
    acc[y.id] = dy == null ? tf.ones(y.shape) : dy;
    backpropagate(acc, filtered, (fn) => this.tidy(fn));
    const grads = xs.map((x) => acc[x.id]);
    if (this.state.gradientDepth === 0) {
      // Not a higher-order gradient: release what the tape saved.
      for (const node of this.state.activeTape ?? []) for (const t of node.saved ?? []) t.dispose();
      this.state.activeTape = null;
    }
    return { value: y, grads };
  });
};

let original: GradientsFn | null = null;

/**
 * Install {@link filterTapeXToY} into tfjs-core's engine (idempotent). Returns
 * false (and changes nothing) on a tfjs-core other than 4.22.0, whose
 * `Engine.gradients` this mirrors, or with `MEDFL_TAPE_FILTER=0`.
 */
export function installLinearTapeFilter(): boolean {
  if (process.env.MEDFL_TAPE_FILTER === '0') return false;
  const proto = Object.getPrototypeOf(tf.engine()) as { gradients: GradientsFn };
  if (proto.gradients === gradients) return true;
  if (tf.version_core !== '4.22.0' || !String(proto.gradients).includes('getFilteredNodesXToY')) return false;
  original = proto.gradients;
  proto.gradients = gradients;
  return true;
}

/** Put tfjs-core's own `Engine.gradients` back (for A/B tests); returns whether it was replaced. */
export function uninstallLinearTapeFilter(): boolean {
  if (!original) return false;
  (Object.getPrototypeOf(tf.engine()) as { gradients: GradientsFn }).gradients = original;
  original = null;
  return true;
}
