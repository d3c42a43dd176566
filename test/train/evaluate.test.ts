/**
 * The shared evaluation loop (src/train/evaluate) and the evaluations built
 * on it, on one hand-made fixture: two 2x2 single-channel images whose pixel
 * values ARE the predicted foreground probabilities (the "model" is the
 * identity), with hand-computed Dice.
 *
 *   image 0 probs [0.9, 0.2, 0.7, 0.1] -> pred [1, 0, 1, 0]; mask [1, 1, 0, 0]
 *           TP 1, FP 1, FN 1 -> Dice 2/4 = 0.5, IoU 1/3
 *   image 1 probs [0.6, 0.6, 0.6, 0.6] -> pred [1, 1, 1, 1]; mask [0, 1, 0, 1]
 *           TP 2, FP 2, FN 0 -> Dice 4/6, IoU 2/4
 *   per-image mean Dice (0.5 + 2/3) / 2 = 7/12; pooled TP 3, FP 3, FN 1 -> 6/10
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { InMemoryDataset, type Sample } from '../../src/data/types';
import { CumulativeSegmentationMetric } from '../../src/metrics/cumulative';
import { evaluateBatches, evaluateSegmentation, evaluateTask, forEachPrediction, stackImages } from '../../src/train';

test.before(async () => {
  await initBackend('wasm', { log: () => {} });
});

const FIXTURE: Sample[] = [
  { id: 'a', image: Float32Array.from([0.9, 0.2, 0.7, 0.1]), shape: [2, 2, 1], mask: Uint8Array.from([1, 1, 0, 0]), meta: { site: 'x' } },
  { id: 'b', image: Float32Array.from([0.6, 0.6, 0.6, 0.6]), shape: [2, 2, 1], mask: Uint8Array.from([0, 1, 0, 1]), meta: { site: 'y' } },
];
const DICE = [0.5, 4 / 6];
const MEAN_DICE = 7 / 12;
const MEAN_IOU = (1 / 3 + 2 / 4) / 2;
const near = (a: number, b: number) => Math.abs(a - b) < 1e-9;

/** The identity "model": output = input image `[N, 2, 2, 1]`. */
function identityModel(): tf.LayersModel {
  const inp = tf.input({ shape: [2, 2, 1] });
  const out = tf.layers.conv2d({ filters: 1, kernelSize: 1, kernelInitializer: 'ones', biasInitializer: 'zeros' }).apply(inp) as tf.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: out });
}

test('evaluateBatches: batches -> predict -> accumulate gives the hand-computed Dice; inputs freed', async () => {
  for (const batchSize of [1, 2, 16]) {
    const metric = new CumulativeSegmentationMetric({ numClasses: 2, metrics: ['dice', 'iou'], includeBackground: false });
    const perImage: number[] = [];
    const batches: string[][] = [];
    const before = tf.memory().numTensors;
    const n = await evaluateBatches(FIXTURE, {
      batchSize,
      predict: (samples) => [stackImages(samples)],
      accumulate: (samples, [probs]) => {
        batches.push(samples.map((s) => s.id));
        assert.equal(probs.shape, [samples.length, 2, 2, 1]);
        forEachPrediction(probs, samples, (s, p, hw) => {
          const one = new CumulativeSegmentationMetric({ numClasses: 2, metrics: ['dice'], includeBackground: false });
          one.update(p, s.mask, hw);
          perImage.push(one.aggregate('mean-image').scores.dice!.mean);
          metric.update(p, s.mask, hw);
        }, { owner: 'test' });
      },
    });
    assert.is(tf.memory().numTensors, before, `batch ${batchSize}: no leak`);
    assert.is(n, 2);
    assert.equal(batches, batchSize === 1 ? [['a'], ['b']] : [['a', 'b']]);
    assert.ok(perImage.every((d, i) => near(d, DICE[i])), `per image ${perImage}`);
    const r = metric.aggregate('mean-image');
    assert.ok(near(r.scores.dice!.mean, MEAN_DICE), `dice ${r.scores.dice!.mean}`);
    assert.ok(near(r.scores.iou!.mean, MEAN_IOU), `iou ${r.scores.iou!.mean}`);
  }
});

test('evaluateBatches visits `indices` in the given order', async () => {
  const seen: number[][] = [];
  await evaluateBatches(FIXTURE, { indices: [1, 0], batchSize: 1, predict: () => [], accumulate: (_s, _o, idx) => seen.push([...idx]) });
  assert.equal(seen, [[1], [0]]);
});

test('evaluateSegmentation on the fixture: hand-computed Dice, IoU, pooled Dice, groups', async () => {
  const model = identityModel();
  const before = tf.memory().numTensors;
  const ev = await evaluateSegmentation(model, new InMemoryDataset('fixture', FIXTURE, 'segmentation'), { batchSize: 1 });
  assert.is(tf.memory().numTensors, before, 'no leak');
  assert.is(ev.overall.images, 2);
  assert.ok(near(ev.overall.dice, MEAN_DICE), `dice ${ev.overall.dice}`);
  assert.ok(near(ev.overall.iou, MEAN_IOU), `iou ${ev.overall.iou}`);
  assert.ok(near(ev.overall.pooledDice, 0.6), `pooled ${ev.overall.pooledDice}`);
  assert.equal(Object.keys(ev.groups), ['x', 'y']);
  assert.ok(near(ev.groups.x.dice, DICE[0]) && near(ev.groups.y.dice, DICE[1]));
  model.dispose();
});

test('evaluateTask (binary segmentation) on the fixture: the same Dice / IoU', async () => {
  const before = tf.memory().numTensors;
  const s = await evaluateTask((x) => tf.clone(x), FIXTURE, { task: 'segmentation', numClasses: 1 }, { batchSize: 1 });
  assert.is(tf.memory().numTensors, before, 'no leak');
  assert.is(s.images, 2);
  assert.ok(near(s.dice, MEAN_DICE) && near(s.iou, MEAN_IOU), `${s.dice} ${s.iou}`);
  assert.ok(Number.isFinite(s.loss) && Number.isNaN(s.accuracy));
});

test('a sample without a mask is reported by name', async () => {
  const bad: Sample[] = [{ ...FIXTURE[0], id: 'nomask', mask: undefined }];
  const model = identityModel();
  let msg = '';
  try {
    await evaluateSegmentation(model, new InMemoryDataset('bad', bad, 'segmentation'));
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.match(msg, /evaluateSegmentation: sample 'nomask' has no mask/);
  model.dispose();
});

test.run();
