/**
 * Example predictions of a finished grid cell, for notebooks and reports:
 * the cell's model is rebuilt from its run folder (the kept best-validation
 * weights of its checkpoint, else the last global weights) and applied to the
 * first test images of its sites, rebuilt exactly as the cell saw them.
 * Only strategies with one global model (centralized, FedAvg, SplitFed, ...)
 * have one; a local-only cell is refused by name.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { RunWriter } from '../fl/results';
import { createModel } from '../models/registry';
import { setWeights } from '../models/weights';
import type { OverlayPanel } from '../viz';
import { cellInputShape } from './cell';
import type { ExperimentFile } from './cell-worker';
import { expandGrid } from './grid';
import { buildExperimentSites } from './sites';

/** Options of {@link cellPredictions}. */
export interface CellPredictionOptions {
  /** Test images (pooled over sites, in site order). Default 4. */
  count?: number;
  /** Foreground threshold of the sigmoid output. Default 0.5. */
  threshold?: number;
}

/**
 * Panels (image `[H, W, C]`, ground-truth mask, predicted mask, title) of the
 * first `count` test images of cell `cellId` of the grid run in `gridDir`
 * (the folder holding experiment.json). Throws naming the folder when the cell
 * has not finished or has no global model.
 */
export async function cellPredictions(gridDir: string, cellId: string, options: CellPredictionOptions = {}): Promise<OverlayPanel[]> {
  const file = JSON.parse(fs.readFileSync(path.join(gridDir, 'experiment.json'), 'utf8')) as ExperimentFile;
  const cell = expandGrid(file.config).find((c) => c.id === cellId);
  if (!cell) throw new Error(`cell '${cellId}' is not in ${path.join(gridDir, 'experiment.json')}`);
  if (cell.strategy.name === 'local') throw new Error(`cell '${cellId}': local-only training has no global model (one model per site)`);
  const ck = new RunWriter(path.join(gridDir, cellId)).readCheckpoint();
  const weights = ck?.state.arrays['medfl.kept/global'] ?? ck?.state.arrays.global;
  if (!ck || !weights) throw new Error(`${path.join(gridDir, cellId)}: no checkpoint with a global model (unfinished cell, or a strategy without one such as local-only)`);
  const shape = cellInputShape(cell);
  const built = await buildExperimentSites(cell, file.baseDir);
  const model = createModel(cell.model.name, { inputShape: shape, numClasses: 1, width: cell.model.width, seed: cell.seed });
  try {
    setWeights(model, weights);
    const out: OverlayPanel[] = [];
    const threshold = options.threshold ?? 0.5;
    for (const site of built.sites) {
      for (let i = 0; i < site.test.length && out.length < (options.count ?? 4); i++) {
        const s = await site.test.load(i);
        const prob = tf.tidy(() => (model.predict(tf.tensor4d(s.image, [1, ...shape])) as tf.Tensor).dataSync());
        const prediction = Uint8Array.from(prob, (p) => (p >= threshold ? 1 : 0));
        out.push({ image: s.image, shape, mask: s.mask, prediction, title: `${site.name} ${s.id}` });
      }
    }
    return out;
  } finally {
    model.dispose();
  }
}
