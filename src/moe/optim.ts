/**
 * Adam (Kingma & Ba 2014, arXiv:1412.6980) whose moment state is kept per
 * variable, so each step may update a different subset of the variables and
 * variables outside the subset are left exactly untouched (PyTorch's behaviour
 * for parameters whose `.grad` is None). tfjs' own Adam keys its moments by the
 * position in the gradient list and breaks when that list changes.
 *
 * M4oE needs this: in phase 1 a batch of modality m updates the shared layers,
 * expert m and head m only; the other experts and heads must not drift on
 * momentum, and the gate is not trained at all.
 */
import * as tf from '@tensorflow/tfjs';

/** Options of {@link SubsetAdam}. Defaults: lr 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-8 (PyTorch's). */
export interface SubsetAdamOptions {
  learningRate?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

interface Moments {
  m: tf.Variable;
  v: tf.Variable;
  t: number;
}

/** Adam with per-variable state and step counts (bias correction uses each variable's own step count). */
export class SubsetAdam {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  private readonly state = new Map<tf.Variable, Moments>();

  constructor(options: SubsetAdamOptions = {}) {
    this.learningRate = options.learningRate ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    if (!(this.learningRate > 0)) throw new Error(`SubsetAdam: learningRate must be > 0, got ${options.learningRate}`);
  }

  /**
   * One step: gradients of the scalar `loss()` w.r.t. `vars` (those with no path to
   * the loss are skipped), Adam update of exactly those. Returns the loss value.
   *
   * The update is batched: the variables updated at the same step count are
   * flattened and concatenated, updated with one set of element-wise kernels and
   * split back (a handful of kernels per step instead of ~12 per variable). Every
   * element goes through the same float32 operations in the same order as a
   * per-variable update, so the results are identical.
   */
  step(loss: () => tf.Scalar, vars: readonly tf.Variable[]): number {
    if (vars.length === 0) throw new Error('SubsetAdam.step: no variables to update');
    const { value, grads } = tf.variableGrads(loss, vars as tf.Variable[]);
    try {
      // Variables with a gradient, grouped by their step count after this step.
      const groups = new Map<number, Array<{ v: tf.Variable; g: tf.Tensor; s: Moments }>>();
      const seen = new Set<tf.Variable>();
      for (const v of vars) {
        const g = grads[v.name];
        if (!g || seen.has(v)) continue;
        seen.add(v);
        let s = this.state.get(v);
        if (!s) {
          const zero = tf.zerosLike(v);
          s = { m: tf.variable(zero, false), v: tf.variable(zero, false), t: 0 };
          zero.dispose();
          this.state.set(v, s);
        }
        s.t += 1;
        const list = groups.get(s.t) ?? [];
        list.push({ v, g, s });
        groups.set(s.t, list);
      }
      for (const [t, list] of groups) this.update(t, list);
      return value.dataSync()[0];
    } finally {
      value.dispose();
      tf.dispose(Object.values(grads));
    }
  }

  /** Adam update of variables sharing step count `t` (flattened into one vector when more than one). */
  private update(t: number, list: Array<{ v: tf.Variable; g: tf.Tensor; s: Moments }>): void {
    const c1 = 1 - this.beta1 ** t;
    const c2 = 1 - this.beta2 ** t;
    tf.tidy(() => {
      const flat = (ts: tf.Tensor[]): tf.Tensor => (ts.length === 1 ? ts[0] : tf.concat(ts.map((x) => tf.reshape(x, [-1]))));
      const g = flat(list.map((e) => e.g));
      const m0 = flat(list.map((e) => e.s.m));
      const v0 = flat(list.map((e) => e.s.v));
      const w0 = flat(list.map((e) => e.v));
      const m = tf.add(tf.mul(m0, this.beta1), tf.mul(g, 1 - this.beta1));
      const vv = tf.add(tf.mul(v0, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
      const update = tf.div(tf.mul(m, this.learningRate / c1), tf.add(tf.sqrt(tf.div(vv, c2)), this.epsilon));
      const w = tf.sub(w0, update);
      if (list.length === 1) {
        const { v, s } = list[0];
        s.m.assign(m);
        s.v.assign(vv);
        v.assign(w);
        return;
      }
      const sizes = list.map((e) => e.v.size);
      const ms = tf.split(m, sizes);
      const vs = tf.split(vv, sizes);
      const ws = tf.split(w, sizes);
      list.forEach(({ v, s }, i) => {
        s.m.assign(tf.reshape(ms[i], v.shape));
        s.v.assign(tf.reshape(vs[i], v.shape));
        v.assign(tf.reshape(ws[i], v.shape));
      });
    });
  }

  /** Number of variables with state. */
  get size(): number {
    return this.state.size;
  }

  /** Free the moment tensors. */
  dispose(): void {
    for (const s of this.state.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.state.clear();
  }
}
