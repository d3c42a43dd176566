/**
 * A paper's reproduction recipe as data: what it claims (./claims), the
 * settings of each scale with what each is based on, the departures from the
 * paper, and how to produce result rows. One recipe file sits beside each
 * method (src/fl/recipes/, src/merge/recipe.ts, src/moe/recipe.ts,
 * src/forge/recipe.ts); `medfl reproduce` (src/experiment/reproduce) runs them.
 *
 * Two kinds:
 * - 'grid': the paper's comparisons are experiment grids (`medfl run` configs,
 *   src/experiment/config) run by the grid runner with seeds and resume; the
 *   rows' arm is `{ grid, data, model, strategy, budget }` and the metrics are
 *   dice, iou, worstSiteDice (the lowest per-site test Dice), attack
 *   (site-inference accuracy), attackOverChance, bytes.
 * - 'method': one call of the method's comparison driver per seed, mapped to
 *   rows by the recipe itself.
 * Both may add `facts` (deterministic rows: parameters, FLOPs, bytes).
 */
import type { Claim, ClaimRow } from './claims';

/** The two scales of `medfl reproduce`. */
export type RecipeScale = 'cpu' | 'paper';

/** Where one setting's value comes from. */
export type SettingBasis = 'paper' | 'released code' | 'our choice' | 'cpu scale';

/** One setting of a recipe and what it is based on. */
export interface RecipeSetting {
  setting: string;
  value: string;
  basis: SettingBasis;
  /** Why (required for 'our choice' and 'cpu scale'). */
  why?: string;
}

/**
 * Data folders by dataset key (`kvasir`, `ham10000`, `cvc`, `ct`): from
 * `--data kvasir=DIR,...`, env `MEDFL_DATA_<KEY>` (e.g. MEDFL_DATA_KVASIR), or
 * the shared samples.
 */
export type DataRoots = Record<string, string>;

/** What every recipe hook gets. */
export interface RecipeContext {
  scale: RecipeScale;
  /** Smoke-test mode (tiny budgets, for CI): the claims table is not a result. */
  quick: boolean;
  data: DataRoots;
  seeds: number[];
  log: (line: string) => void;
}

/** One experiment grid of a grid recipe. */
export interface GridPlan {
  /** Names the grid in rows (`arm.grid`) and its results folder. */
  label: string;
  /** A raw experiment config (validated like a `medfl run` file; relative paths resolve from the repository). */
  config: Record<string, unknown>;
}

/** Fields shared by both recipe kinds. */
export interface RecipeBase {
  /** `medfl reproduce <id>`. */
  id: string;
  title: string;
  /** e.g. 'arXiv:2503.20830 (Shiranthika, Hafezi Kafshgari, Hadizadeh, Saeedi; SFU)'. */
  citation: string;
  /** What the paper claims, in a few sentences (the notebooks open with it). */
  summary: string;
  claims: Claim[];
  /** The settings at a scale, each with its basis. */
  settings(scale: RecipeScale): RecipeSetting[];
  /** Every departure from the paper, at any scale. */
  departures: string[];
  /** Default number of seeds (at least 3 for a result). */
  seeds: number;
  /** Deterministic rows (parameters, FLOPs, ...), computed once per run. */
  facts?(ctx: RecipeContext): Promise<ClaimRow[]>;
  /** Paper scale: the models and batches whose training memory must fit (checked before anything trains). */
  paperModels?(): { model: string; width: number; size: number; batchSize: number; imagesPerEpoch: number; epochs: number }[];
}

/** A paper whose comparisons are experiment grids. */
export interface GridRecipe extends RecipeBase {
  kind: 'grid';
  grids(ctx: RecipeContext): GridPlan[];
}

/** A paper run by its method's comparison driver, once per seed. */
export interface MethodRecipe extends RecipeBase {
  kind: 'method';
  /** The inputs the results depend on (the driver's options): a resume with other inputs is refused. */
  inputs(ctx: RecipeContext): unknown;
  /** Run one seed; `detail` is stored as is (JSON) beside the rows. */
  runSeed(ctx: RecipeContext, seed: number): Promise<{ rows: ClaimRow[]; detail: unknown }>;
}

/** A reproduction recipe. */
export type PaperRecipe = GridRecipe | MethodRecipe;
