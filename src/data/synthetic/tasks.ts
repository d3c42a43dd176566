/**
 * The one table of synthetic tasks: class names, mask classes, modality and
 * scene renderer per task. Unknown task names throw an error listing these.
 */
import { LESION_CLASSES, renderLesion } from './lesion';
import { POLYP_CLASSES, renderPolyp } from './polyp';
import type { SceneRenderer } from './scene';

/** Everything the generator needs to know about one task. */
export interface SyntheticTaskSpec {
  /** Image-level class names (index = label). */
  classNames: readonly string[];
  /** Mask classes, index 0 = background. */
  maskClasses: readonly string[];
  /** `meta.modality` of the generated samples. */
  modality: string;
  /** Default fraction of images without an object (empty mask). */
  defaultEmptyFraction: number;
  /** Draws one clean scene. */
  render: SceneRenderer;
}

/** Synthetic tasks by name. */
export const SYNTHETIC_TASKS = {
  polyp: {
    classNames: POLYP_CLASSES,
    maskClasses: ['background', 'polyp'],
    modality: 'endoscopy',
    defaultEmptyFraction: 0.05,
    render: renderPolyp,
  },
  lesion: {
    classNames: LESION_CLASSES,
    maskClasses: ['background', 'lesion'],
    modality: 'dermoscopy',
    defaultEmptyFraction: 0,
    render: renderLesion,
  },
} as const satisfies Record<string, SyntheticTaskSpec>;

/** Name of a synthetic task: `'polyp'` (colonoscopy-like) or `'lesion'` (dermoscopy-like). */
export type SyntheticTask = keyof typeof SYNTHETIC_TASKS;

/** Valid task names, in table order. */
export const SYNTHETIC_TASK_NAMES = Object.keys(SYNTHETIC_TASKS) as SyntheticTask[];
