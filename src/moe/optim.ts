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
   */
  step(loss: () => tf.Scalar, vars: readonly tf.Variable[]): number {
    if (vars.length === 0) throw new Error('SubsetAdam.step: no variables to update');
    const { value, grads } = tf.variableGrads(loss, vars as tf.Variable[]);
    try {
      for (const v of vars) {
        const g = grads[v.name];
        if (!g) continue;
        let s = this.state.get(v);
        if (!s) {
          const zero = tf.zerosLike(v);
          s = { m: tf.variable(zero, false), v: tf.variable(zero, false), t: 0 };
          zero.dispose();
          this.state.set(v, s);
        }
        const st = s;
        st.t += 1;
        const c1 = 1 - this.beta1 ** st.t;
        const c2 = 1 - this.beta2 ** st.t;
        tf.tidy(() => {
          const m = tf.add(tf.mul(st.m, this.beta1), tf.mul(g, 1 - this.beta1));
          const vv = tf.add(tf.mul(st.v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
          st.m.assign(m);
          st.v.assign(vv);
          const update = tf.div(tf.mul(m, this.learningRate / c1), tf.add(tf.sqrt(tf.div(vv, c2)), this.epsilon));
          v.assign(tf.sub(v, update));
        });
      }
      return value.dataSync()[0];
    } finally {
      value.dispose();
      tf.dispose(Object.values(grads));
    }
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
