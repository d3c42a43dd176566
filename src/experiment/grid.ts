/**
 * Grid expansion: an experiment is datasets x models x strategies x seeds x
 * budgets; every combination is one CELL with its own run folder
 * (`results/<experiment>/<cell id>/`), trained by one `runFederated` call and
 * resumable on its own.
 *
 * Cell ids name only the dimensions that vary, so a one-dataset, one-model,
 * one-seed, one-budget experiment keeps one folder per strategy label:
 * `[<data>__][<model>__]<strategy>[__s<seed>][__<budget>]`.
 *
 * Seeds: a cell's `seed` draws the model initialisation and batch order; its
 * `dataSeed` draws partition and splits: the experiment's `splitSeed` (same
 * splits in every cell, so comparisons are paired), or the cell's seed with
 * `resplit` (repeated random splits).
 */
import type { StrategyConfig } from '../fl/types';
import type { BudgetConfig, DataConfig, ExperimentConfig, ExperimentModelConfig } from './config';

/** What a cell's sites are built from (see ./sites). */
export interface SitesSpec {
  data: DataConfig;
  partition: ExperimentConfig['partition'];
  featureShift: ExperimentConfig['featureShift'];
  oversample: ExperimentConfig['oversample'];
  split: ExperimentConfig['split'];
  /** Seed of the synthetic data, partition, splits and oversampling. */
  dataSeed: number;
  /** k-fold: which fold of `split.folds` is the test split. */
  fold?: { k: number; index: number };
}

/** One cell of the grid. */
export interface ExperimentCell extends SitesSpec {
  /** Folder name under the experiment's results folder. */
  id: string;
  model: ExperimentModelConfig;
  strategy: StrategyConfig & { label: string };
  /** Seed of model initialisation and batch order. */
  seed: number;
  budget: BudgetConfig;
  privacy: ExperimentConfig['privacy'];
  dropout: ExperimentConfig['dropout'];
  siteFailures: ExperimentConfig['siteFailures'];
  learningRateSchedule: ExperimentConfig['learningRateSchedule'];
  loss: ExperimentConfig['loss'];
  selection?: ExperimentConfig['selection'];
  convergence?: ExperimentConfig['convergence'];
  /** The cell's coordinates, for tables and pairing. */
  dims: { data: string; model: string; strategy: string; seed: number; budget: string; fold: number };
}

/** Every cell of `cfg`, in data, model, budget, strategy, seed, fold order (with `split.folds` = k, one cell per fold; ids end in `__f<i>`). */
export function expandGrid(cfg: ExperimentConfig): ExperimentCell[] {
  const many = { data: cfg.datasets.length > 1, model: cfg.models.length > 1, seed: cfg.seeds.length > 1, budget: cfg.budgets.length > 1 };
  const cells: ExperimentCell[] = [];
  for (const data of cfg.datasets) {
    for (const model of cfg.models) {
      for (const budget of cfg.budgets) {
        for (const strategy of cfg.strategies) {
          for (const seed of cfg.seeds) {
           for (const fold of cfg.split.folds ? Array.from({ length: cfg.split.folds }, (_, i) => i) : [-1]) {
            const parts = [...(many.data ? [data.label] : []), ...(many.model ? [model.label] : []), strategy.label, ...(many.seed ? [`s${seed}`] : []), ...(fold >= 0 ? [`f${fold}`] : []), ...(many.budget ? [budget.label] : [])];
            cells.push({
              id: parts.join('__'),
              data,
              partition: cfg.partition,
              featureShift: cfg.featureShift,
              oversample: cfg.oversample,
              split: cfg.split,
              dataSeed: cfg.resplit ? seed : cfg.splitSeed,
              ...(fold >= 0 ? { fold: { k: cfg.split.folds as number, index: fold } } : {}),
              model,
              strategy,
              seed,
              budget,
              privacy: cfg.privacy,
              dropout: cfg.dropout,
              siteFailures: cfg.siteFailures,
              learningRateSchedule: cfg.learningRateSchedule,
              loss: cfg.loss,
              ...(cfg.selection ? { selection: cfg.selection } : {}),
              ...(cfg.convergence ? { convergence: cfg.convergence } : {}),
              dims: { data: data.label, model: model.label, strategy: strategy.label, seed, budget: budget.label, fold: Math.max(0, fold) },
            });
           }
          }
        }
      }
    }
  }
  return cells;
}

/** Key of a cell's sites: cells with equal keys share the same sites. */
export function sitesKey(spec: SitesSpec): string {
  return JSON.stringify([spec.data, spec.partition, spec.featureShift, spec.oversample, spec.split, spec.dataSeed, spec.fold ?? null]);
}
