/**
 * Seeded pseudo-random numbers. medfl never calls `Math.random`: every
 * random choice goes through an {@link Rng} built from an explicit seed, so the
 * same config + seed gives the same partitions, synthetic data and training.
 *
 * Generator: sfc32 (Chris Doty-Humphrey's Small Fast Counter, 128-bit state),
 * seeded through splitmix32 so nearby seeds give unrelated streams.
 */

/** Hash a string or number into a 32-bit seed (FNV-1a for strings). */
export function hashSeed(value: number | string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`seed must be a finite number, got ${value}`);
    // Fold the full double (integers above 2^32 and fractions) into 32 bits.
    const hi = Math.floor(value / 4294967296);
    return (Math.imul(hi ^ 0x9e3779b9, 0x85ebca6b) ^ (value >>> 0)) >>> 0;
  }
  let h = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    h ^= value.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A seeded random stream with the distributions medfl needs. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | null = null;
  /** The seed this stream was created from (after hashing). */
  readonly seed: number;

  constructor(seed: number | string) {
    this.seed = hashSeed(seed);
    const sm = splitmix32(this.seed);
    this.a = sm();
    this.b = sm();
    this.c = sm();
    this.d = sm();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform float in [0, 1) with 32 bits of randomness. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform float in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [0, n). Throws for n < 1. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1) throw new Error(`Rng.int: n must be a positive integer, got ${n}`);
    // Rejection sampling avoids modulo bias.
    const limit = Math.floor(4294967296 / n) * n;
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  intBetween(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** Standard normal (Box-Muller, caching the second value). */
  normal(mean = 0, std = 1): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return mean + std * v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  /** Gamma(shape, 1) by Marsaglia-Tsang (with the shape<1 boost). */
  gamma(shape: number): number {
    if (!(shape > 0)) throw new Error(`Rng.gamma: shape must be > 0, got ${shape}`);
    if (shape < 1) {
      const u = this.next();
      return this.gamma(shape + 1) * Math.pow(u === 0 ? Number.MIN_VALUE : u, 1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.next();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** One draw from Dirichlet(alphas); returns proportions summing to 1. */
  dirichlet(alphas: readonly number[]): number[] {
    if (alphas.length === 0) throw new Error('Rng.dirichlet: need at least one alpha');
    const g = alphas.map((a) => this.gamma(a));
    let sum = g.reduce((s, x) => s + x, 0);
    if (sum === 0) {
      // All gammas underflowed (tiny alphas): the limit is a one-hot vector.
      const k = this.int(alphas.length);
      return alphas.map((_, i) => (i === k ? 1 : 0));
    }
    return g.map((x) => x / sum);
  }

  /** Bernoulli(p). */
  bernoulli(p: number): boolean {
    return this.next() < p;
  }

  /** In-place Fisher-Yates shuffle; returns the same array. */
  shuffle<T>(arr: T[]): T[] {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = arr[i];
      arr[i] = arr[j];
      arr[j] = t;
    }
    return arr;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /** One element chosen uniformly. */
  choice<T>(arr: readonly T[]): T {
    if (arr.length === 0) throw new Error('Rng.choice: empty array');
    return arr[this.int(arr.length)];
  }

  /** Index drawn with probability proportional to non-negative `weights`. */
  weightedIndex(weights: readonly number[]): number {
    const total = weights.reduce((s, w) => s + w, 0);
    if (!(total > 0)) throw new Error('Rng.weightedIndex: weights must have a positive sum');
    let r = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i];
      if (r < 0) return i;
    }
    return weights.length - 1;
  }

  /** `k` distinct indices from [0, n) (partial Fisher-Yates). */
  sample(n: number, k: number): number[] {
    if (k > n) throw new Error(`Rng.sample: cannot draw ${k} distinct values from ${n}`);
    const arr = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      const t = arr[i];
      arr[i] = arr[j];
      arr[j] = t;
    }
    return arr.slice(0, k);
  }

  /**
   * An independent child stream named by `label`: the same parent seed and
   * label always give the same child, whatever was drawn from the parent.
   */
  fork(label: string | number): Rng {
    return new Rng(hashSeed(`${this.seed}:${label}`));
  }
}

/** Create a seeded random stream. */
export function createRng(seed: number | string): Rng {
  return new Rng(seed);
}
