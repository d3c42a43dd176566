/**
 * The small synthetic set a MedForge contributor ships with its plugin
 * (arXiv:2502.16055 uses distilled data: `distill_dm.py`, dataset
 * distillation by distribution matching, Zhao & Bilen, arXiv:2110.04181 /
 * WACV 2023). The merge coefficients are searched on these sets, never on
 * real images of another site.
 *
 * Methods:
 * - 'distribution-matching' (the paper's): learn `perClass` images per class
 *   so that their mean embedding under a RANDOMLY INITIALISED network (a new
 *   one every iteration) matches the mean embedding of the real images of
 *   that class: `L = sum_c || mean emb(real_c) - mean emb(syn_c) ||^2`,
 *   minimised over the synthetic pixels with SGD (momentum 0.5).
 *   Embedding net: `depth` blocks of conv3x3 (He-normal) -> ReLU ->
 *   avg-pool 2, then global average pooling. Departures: no differentiable
 *   siamese augmentation (DSA), no instance norm in the embedder, pixels
 *   clipped to [0, 1] after each step; for segmentation each synthetic image
 *   keeps the mask of the real image it was initialised from (DM itself has
 *   no masks; our extension).
 * - 'copy-paste' (segmentation): copy-paste samples of the site's own images
 *   (src/oversample/copy-paste).
 * - 'smote' (classification): SMOTE interpolations of the site's images
 *   within each class (src/oversample/smote), `perClass` per class.
 * - 'real-subset': `perClass` real images per class (no privacy; a reference).
 */
import * as tf from '@tensorflow/tfjs';
import type { Sample } from '../data/types';
import { createRng, type Rng } from '../util/rng';
import { copyPasteSamples } from '../oversample/copy-paste';
import { smote } from '../oversample/smote';

/** How a contributor builds its synthetic set. */
export type SyntheticMethod = 'distribution-matching' | 'copy-paste' | 'smote' | 'real-subset';

/** Options of {@link distributionMatching}. */
export interface DistributionMatchingOptions {
  /** Synthetic images per class (default 2; DM's "ipc"). */
  perClass?: number;
  /** Optimisation steps (default 50). */
  iterations?: number;
  /** Pixel learning rate (default 1, SGD momentum 0.5 as DM). */
  learningRate?: number;
  /** Real images per class per step (default 16). */
  realBatch?: number;
  /** 'real' (default: start from random real images of the class) or 'noise' (uniform [0, 1]). */
  init?: 'real' | 'noise';
  /** Channels of the random embedder's first block (doubled per block; default 16). */
  embedWidth?: number;
  /** Blocks of the random embedder (default 2). */
  embedDepth?: number;
  /** Default 0. */
  seed?: number;
}

/** Result of {@link distributionMatching}. */
export interface DistributionMatchingResult {
  samples: Sample[];
  /** Matching loss per iteration (before the step). */
  losses: number[];
}

function classesOf(samples: readonly Sample[], owner: string): Map<number, number[]> {
  const byClass = new Map<number, number[]>();
  samples.forEach((s, i) => {
    if (s.label === undefined) throw new Error(`${owner}: sample '${s.id}' has no label (distillation is per class)`);
    if (!byClass.has(s.label)) byClass.set(s.label, []);
    byClass.get(s.label)!.push(i);
  });
  return new Map([...byClass.entries()].sort((a, b) => a[0] - b[0]));
}

function stack(samples: readonly Sample[], idx: readonly number[]): tf.Tensor4D {
  const [H, W, C] = samples[idx[0]].shape;
  const v = new Float32Array(idx.length * H * W * C);
  idx.forEach((i, k) => v.set(samples[i].image, k * H * W * C));
  return tf.tensor4d(v, [idx.length, H, W, C]);
}

/** Random embedder weights for one DM step (He-normal, seeded). */
function randomEmbedder(rng: Rng, channels: number, width: number, depth: number): tf.Tensor4D[] {
  const ws: tf.Tensor4D[] = [];
  let cin = channels;
  for (let d = 0; d < depth; d++) {
    const cout = width * 2 ** d;
    const n = 9 * cin * cout;
    const std = Math.sqrt(2 / (9 * cin));
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = rng.normal(0, std);
    ws.push(tf.tensor4d(v, [3, 3, cin, cout]));
    cin = cout;
  }
  return ws;
}

function embed(x: tf.Tensor4D, ws: readonly tf.Tensor4D[]): tf.Tensor2D {
  let h = x;
  for (const w of ws) {
    h = tf.relu(tf.conv2d(h, w, 1, 'same'));
    if (h.shape[1] >= 2 && h.shape[2] >= 2) h = tf.avgPool(h, 2, 2, 'valid');
  }
  return tf.mean(h, [1, 2]) as tf.Tensor2D;
}

/**
 * Distil `samples` (one site's training images, all one shape, with labels)
 * into `perClass` synthetic images per class by distribution matching (see
 * module doc). Synthetic sample ids `dm-c<class>-<k>`, `meta.synthetic = 'distribution-matching'`.
 */
export function distributionMatching(samples: readonly Sample[], options: DistributionMatchingOptions = {}): DistributionMatchingResult {
  const o = 'distributionMatching';
  if (samples.length === 0) throw new Error(`${o}: no samples`);
  const perClass = options.perClass ?? 2;
  const iterations = options.iterations ?? 50;
  const lr = options.learningRate ?? 1;
  const realBatch = options.realBatch ?? 16;
  if (!Number.isInteger(perClass) || perClass < 1) throw new Error(`${o}: perClass must be an integer >= 1, got ${perClass}`);
  if (!Number.isInteger(iterations) || iterations < 0) throw new Error(`${o}: iterations must be an integer >= 0, got ${iterations}`);
  const [H, W, C] = samples[0].shape;
  const byClass = classesOf(samples, o);
  const rng = createRng(options.seed ?? 0);
  const classes = [...byClass.keys()];
  const inits: number[] = [];
  const initData = new Float32Array(classes.length * perClass * H * W * C);
  classes.forEach((c, ci) => {
    const pool = byClass.get(c)!;
    for (let k = 0; k < perClass; k++) {
      const slot = ci * perClass + k;
      if ((options.init ?? 'real') === 'real') {
        const i = pool[rng.int(pool.length)];
        inits.push(i);
        initData.set(samples[i].image, slot * H * W * C);
      } else {
        inits.push(pool[0]);
        for (let p = 0; p < H * W * C; p++) initData[slot * H * W * C + p] = rng.next();
      }
    }
  });
  const t0 = tf.tensor4d(initData, [classes.length * perClass, H, W, C]);
  const syn = tf.variable(t0, true);
  t0.dispose();
  // SGD with momentum 0.5 written out (tf.train.momentum keeps one tensor alive after dispose in tfjs 4.22)
  const vz = tf.zerosLike(syn);
  const velocity = tf.variable(vz, false);
  vz.dispose();
  const losses: number[] = [];
  try {
    for (let it = 0; it < iterations; it++) {
      const step = rng.fork(`it${it}`);
      const ws = randomEmbedder(step, C, options.embedWidth ?? 16, options.embedDepth ?? 2);
      const reals = classes.map((c) => {
        const pool = byClass.get(c)!;
        const idx = pool.length <= realBatch ? pool : step.sample(pool.length, realBatch).map((j) => pool[j]);
        return tf.tidy(() => tf.mean(embed(stack(samples, idx), ws), 0));
      });
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          let total = tf.scalar(0);
          classes.forEach((_, ci) => {
            const part = tf.slice(syn, [ci * perClass, 0, 0, 0], [perClass, H, W, C]) as tf.Tensor4D;
            const m = tf.mean(embed(part, ws), 0);
            total = tf.add(total, tf.sum(tf.square(tf.sub(reals[ci], m))));
          });
          return total as tf.Scalar;
        }, [syn]);
        losses.push(value.dataSync()[0]);
        velocity.assign(tf.add(tf.mul(velocity, 0.5), grads[syn.name]));
        syn.assign(tf.clipByValue(tf.sub(syn, tf.mul(velocity, lr)), 0, 1) as tf.Tensor4D);
      });
      tf.dispose([...ws, ...reals]);
    }
    const out = syn.dataSync() as Float32Array;
    const result: Sample[] = [];
    classes.forEach((c, ci) => {
      for (let k = 0; k < perClass; k++) {
        const slot = ci * perClass + k;
        const src = samples[inits[slot]];
        result.push({
          id: `dm-c${c}-${k}`,
          label: c,
          meta: { site: src.meta.site, synthetic: 'distribution-matching' },
          image: out.slice(slot * H * W * C, (slot + 1) * H * W * C),
          shape: [H, W, C],
          ...(src.mask ? { mask: src.mask.slice() } : {}),
        });
      }
    });
    return { samples: result, losses };
  } finally {
    velocity.dispose();
    syn.dispose();
  }
}

/** Options of {@link syntheticSet}. */
export interface SyntheticSetOptions extends DistributionMatchingOptions {
  method: SyntheticMethod;
}

/**
 * Build a contributor's synthetic set from its own training samples (see
 * module doc). `perClass` images per class ('copy-paste': `perClass` x
 * number of classes images in total).
 */
export function syntheticSet(samples: readonly Sample[], options: SyntheticSetOptions): Sample[] {
  const perClass = options.perClass ?? 2;
  const seed = options.seed ?? 0;
  switch (options.method) {
    case 'distribution-matching':
      return distributionMatching(samples, options).samples;
    case 'real-subset': {
      const rng = createRng(seed);
      const out: Sample[] = [];
      for (const [, pool] of classesOf(samples, 'syntheticSet')) {
        for (const j of rng.sample(pool.length, Math.min(perClass, pool.length))) out.push(samples[pool[j]]);
      }
      return out;
    }
    case 'copy-paste': {
      const nClasses = classesOf(samples, 'syntheticSet').size;
      return copyPasteSamples(samples, { count: perClass * nClasses, seed }).map(({ provenance, ...s }) => {
        void provenance;
        return s;
      });
    }
    case 'smote': {
      const byClass = classesOf(samples, 'syntheticSet');
      const labels = samples.map((s) => s.label as number);
      const strategy: Record<number, number> = {};
      for (const [c, pool] of byClass) strategy[c] = pool.length + perClass;
      const k = Math.max(1, Math.min(5, Math.min(...[...byClass.values()].map((p) => p.length)) - 1));
      const res = smote(samples.map((s) => s.image), labels, { samplingStrategy: strategy, k, seed });
      const shape = samples[0].shape;
      return res.samples.map((image, i) => ({
        id: `smote-${i}`,
        label: res.labels[i],
        meta: { site: samples[0].meta.site, synthetic: 'smote' },
        image,
        shape: [...shape] as [number, number, number],
      }));
    }
    default:
      throw new Error(`syntheticSet: unknown method '${String(options.method)}' (valid: distribution-matching, copy-paste, smote, real-subset)`);
  }
}

/**
 * Bytes of a synthetic set on the wire: float32 pixels (4 bytes each),
 * masks at 1 byte per pixel, labels at 4 bytes.
 */
export function syntheticBytes(samples: readonly Sample[]): number {
  return samples.reduce((s, x) => s + x.image.length * 4 + (x.mask ? x.mask.length : 0) + (x.label !== undefined ? 4 : 0), 0);
}
