/**
 * Shared types of the synthetic scene renderers (one renderer per task).
 */
import type { Rng } from '../../util/rng';

/** What a scene renderer is asked to draw. */
export interface SceneRequest {
  /**
   * Stream for what is fixed per synthetic patient (class-dependent object
   * shape and colour, skin / mucosa tone): every image of one patient shows
   * the same object.
   */
  patient: Rng;
  /** Stream for what changes per image (view, position, texture, hairs, highlights). */
  image: Rng;
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
  /** Image-level class index into the task's class names. */
  label: number;
  /** Draw no object (empty mask). */
  empty: boolean;
}

/** A rendered scene before site ("scanner") effects. */
export interface Scene {
  /** Interleaved RGB, `[H, W, 3]`, float32 in [0, 1]. */
  rgb: Float32Array;
  /** Binary object mask `[H, W]` in {0, 1}. */
  mask: Uint8Array;
}

/** A task's scene renderer. */
export type SceneRenderer = (req: SceneRequest) => Scene;
