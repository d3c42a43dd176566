import * as tf from '@tensorflow/tfjs';

/** A tfjs-layers kernel initializer. */
export type Initializer = ReturnType<typeof tf.initializers.heNormal>;

/**
 * Hands out seeded kernel initializers so a model built twice with the same
 * `seed` has identical weights (tfjs layers otherwise seed from Math.random).
 * Each call advances an internal counter, so every layer gets its own stream.
 */
export class SeededInit {
  private counter = 0;

  constructor(private readonly seed: number) {}

  private nextSeed(): number {
    this.counter += 1;
    // Keep seeds positive 31-bit integers (tfjs passes them to seedrandom).
    return (Math.imul(this.seed ^ 0x5bd1e995, 2654435761) + this.counter * 7919) >>> 1;
  }

  /** He-normal (Kaiming), the default for conv layers followed by ReLU. */
  he(): Initializer {
    return tf.initializers.heNormal({ seed: this.nextSeed() });
  }

  /** Glorot-uniform (Xavier), for linear / attention projections and heads. */
  glorot(): Initializer {
    return tf.initializers.glorotUniform({ seed: this.nextSeed() });
  }

  /** Truncated normal with the given std (ViT / Swin linear layers use 0.02). */
  truncNormal(stddev = 0.02): Initializer {
    return tf.initializers.truncatedNormal({ stddev, seed: this.nextSeed() });
  }
}
