import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { confusionStats } from '../../src/metrics/confusion';
import { CumulativeClassificationMetric, CumulativeSegmentationMetric } from '../../src/metrics/cumulative';
import { classificationReport, rocAucOneVsRest } from '../../src/metrics/classification';
import { pixelAccuracy, reduceSegmentationMetric, SEGMENTATION_METRICS } from '../../src/metrics/segmentation';
import { createRng } from '../../src/util/rng';
import { close } from './helpers';

function randomMaps(seed: string, N: number, H: number, W: number, K: number): [Uint8Array, Uint8Array] {
  const rng = createRng(seed);
  const p = new Uint8Array(N * H * W);
  const t = new Uint8Array(N * H * W);
  for (let i = 0; i < p.length; i++) {
    t[i] = rng.int(K);
    p[i] = rng.bernoulli(0.7) ? t[i] : rng.int(K);
  }
  return [p, t];
}

test('aggregate over batches equals the one-shot computation, for every reduction', () => {
  const [p, t] = randomMaps('cum', 7, 5, 6, 3);
  const size = 30;
  for (const reduction of ['mean-image', 'pooled', 'none'] as const) {
    const m = new CumulativeSegmentationMetric({ numClasses: 3, reduction });
    m.update(p.subarray(0, 3 * size), t.subarray(0, 3 * size), [3, 5, 6]);
    m.update(p.subarray(3 * size, 4 * size), t.subarray(3 * size, 4 * size)); // single [H, W] image
    m.update([p.subarray(4 * size, 5 * size), p.subarray(5 * size)], [t.subarray(4 * size, 5 * size), t.subarray(5 * size)]);
    assert.is(m.numImages, 6); // the last list item holds 2 images' pixels as one map
    const oneShot = confusionStats(
      [p.subarray(0, size), p.subarray(size, 2 * size), p.subarray(2 * size, 3 * size), p.subarray(3 * size, 4 * size), p.subarray(4 * size, 5 * size), p.subarray(5 * size)],
      [t.subarray(0, size), t.subarray(size, 2 * size), t.subarray(2 * size, 3 * size), t.subarray(3 * size, 4 * size), t.subarray(4 * size, 5 * size), t.subarray(5 * size)],
      { numClasses: 3 },
    );
    const agg = m.aggregate();
    for (const name of SEGMENTATION_METRICS) {
      assert.equal(agg.scores[name], reduceSegmentationMetric(oneShot, name, { reduction }), `${reduction} ${name}`);
    }
    assert.equal(agg.pixelAccuracy, pixelAccuracy(oneShot, { reduction }));
  }
});

test('aggregate is idempotent and does not consume the buffer; reset clears it', () => {
  const [p, t] = randomMaps('idem', 4, 4, 4, 2);
  const m = new CumulativeSegmentationMetric({ numClasses: 2, metrics: ['dice', 'iou'] });
  m.update(p.subarray(0, 32), t.subarray(0, 32), [2, 4, 4]);
  const a1 = m.aggregate();
  const a2 = m.aggregate();
  assert.equal(a1, a2);
  assert.equal(Object.keys(a1.scores), ['dice', 'iou']);
  m.update(p.subarray(32), t.subarray(32), [2, 4, 4]);
  const a3 = m.aggregate();
  assert.is(a3.numImages, 4);
  assert.equal(a3.scores.dice, reduceSegmentationMetric(confusionStats(p, t, { numClasses: 2, shape: [4, 4, 4] }), 'dice'));
  // a per-call reduction override leaves the default alone
  const pooled = m.aggregate('pooled');
  assert.is(pooled.scores.dice!.reduction, 'pooled');
  assert.is(m.aggregate().scores.dice!.reduction, 'mean-image');
  m.reset();
  assert.is(m.numImages, 0);
  const empty = m.aggregate();
  assert.is(empty.numImages, 0);
  close(empty.scores.dice!.mean, NaN);
});

test('updateFromProbabilities thresholds / argmaxes, and updateStats copies its input', () => {
  const m = new CumulativeSegmentationMetric({ numClasses: 2 });
  // [1, 1, 4, 1] sigmoid outputs vs truth 1 1 0 0 -> pred 1 0 1 0 -> dice 0.5
  m.updateFromProbabilities(Float32Array.from([0.9, 0.2, 0.6, 0.1]), [1, 1, 4, 1], Uint8Array.from([1, 1, 0, 0]));
  close(m.aggregate().scores.dice!.mean, 0.5);
  const s = confusionStats(Uint8Array.from([1, 1]), Uint8Array.from([1, 1]), { numClasses: 2 });
  m.updateStats(s);
  s.tp[1] = 1000; // mutating the caller's object must not change the buffer
  close(m.aggregate().scores.dice!.mean, 0.75);
  close(m.aggregate('pooled').scores.dice!.mean, 6 / 8); // tp 3 fp 1 fn 1
  assert.throws(() => m.updateStats(confusionStats([0], [0], { numClasses: 3 })), /numClasses 3, expected 2/);
  assert.throws(() => new CumulativeSegmentationMetric({ numClasses: 2, metrics: ['hd' as 'dice'] }), /unknown metric 'hd'/);
});

test('cumulative classification equals the one-shot report and AUC', () => {
  const rng = createRng('cls');
  const K = 3;
  const n = 20;
  const yTrue = Array.from({ length: n }, () => rng.int(K));
  const scores = Array.from({ length: n * K }, () => rng.uniform());
  const m = new CumulativeClassificationMetric(K);
  m.update(yTrue.slice(0, 8), undefined, scores.slice(0, 8 * K));
  m.update(yTrue.slice(8), undefined, scores.slice(8 * K));
  const argmax = Array.from({ length: n }, (_, i) => {
    const row = scores.slice(i * K, i * K + K);
    return row.indexOf(Math.max(...row));
  });
  const a = m.aggregate();
  assert.equal(a, m.aggregate());
  assert.is(a.numSamples, n);
  assert.equal(a.confusion, classificationReport(yTrue, argmax, K).confusion);
  close(a.macroF1, classificationReport(yTrue, argmax, K).macroF1);
  assert.equal(a.auc, rocAucOneVsRest(yTrue, scores, K));
  m.reset();
  assert.is(m.aggregate().numSamples, 0);

  const b = new CumulativeClassificationMetric(2, 1);
  b.update([0, 1, 1, 0], undefined, [0.2, 0.7, 0.4, 0.6]);
  // preds 0 1 0 1 ; AUC: pos {0.7, 0.4} vs neg {0.2, 0.6} -> (2 + 1) / 4
  close(b.aggregate().accuracy, 0.5);
  close(b.aggregate().auc!.macro, 0.75);
  assert.throws(() => b.update([0, 2], [0, 1]), /yTrue\[1\] = 2/);
  assert.is(b.aggregate().numSamples, 4); // the failed update left the buffer alone
});

test.run();
