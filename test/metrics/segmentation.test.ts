import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { confusionStats } from '../../src/metrics/confusion';
import {
  dice,
  iou,
  pixelAccuracy,
  reduceSegmentationMetric,
  scoreFromCounts,
  SegmentationMetricName,
  segmentationMetrics,
} from '../../src/metrics/segmentation';
import { allClose, close } from './helpers';

type Row = Record<SegmentationMetricName, number>;
const N = NaN;

// Binary 2x2 images (numClasses 2, background excluded). Expected values computed by hand
// from the foreground counts written beside each case.
const binaryCases: [string, number[], number[], Row][] = [
  // name, pred, truth, expected
  ['all correct (tp2 fp0 fn0 tn2)', [0, 1, 1, 0], [0, 1, 1, 0],
    { dice: 1, iou: 1, precision: 1, recall: 1, f1: 1, accuracy: 1, specificity: 1 }],
  ['all wrong (tp0 fp2 fn2 tn0)', [1, 0, 0, 1], [0, 1, 1, 0],
    { dice: 0, iou: 0, precision: 0, recall: 0, f1: 0, accuracy: 0, specificity: 0 }],
  ['both empty -> NaN everywhere', [0, 0, 0, 0], [0, 0, 0, 0],
    { dice: N, iou: N, precision: N, recall: N, f1: N, accuracy: N, specificity: N }],
  ['empty truth, non-empty prediction (tp0 fp1 fn0 tn3)', [1, 0, 0, 0], [0, 0, 0, 0],
    { dice: 0, iou: 0, precision: 0, recall: N, f1: 0, accuracy: 0.75, specificity: 0.75 }],
  ['empty prediction, non-empty truth (tp0 fp0 fn1 tn3)', [0, 0, 0, 0], [1, 0, 0, 0],
    { dice: 0, iou: 0, precision: N, recall: 0, f1: 0, accuracy: 0.75, specificity: 1 }],
  ['half right (tp1 fp1 fn1 tn1)', [1, 0, 1, 0], [1, 1, 0, 0],
    { dice: 0.5, iou: 1 / 3, precision: 0.5, recall: 0.5, f1: 0.5, accuracy: 0.5, specificity: 0.5 }],
  ['all foreground, all correct (tp4, no negatives)', [1, 1, 1, 1], [1, 1, 1, 1],
    { dice: 1, iou: 1, precision: 1, recall: 1, f1: 1, accuracy: 1, specificity: N }],
];

for (const [name, p, t, expected] of binaryCases) {
  test(`binary: ${name}`, () => {
    const stats = confusionStats(Uint8Array.from(p), Uint8Array.from(t), { numClasses: 2, shape: [2, 2] });
    const all = segmentationMetrics(stats);
    for (const m of Object.keys(expected) as SegmentationMetricName[]) {
      const s = all[m]!;
      assert.equal(s.classes, [1]);
      close(s.perClass[0], expected[m], 1e-12, m);
      close(s.mean, expected[m], 1e-12, `${m} mean`);
      assert.is(s.validCount[0], Number.isNaN(expected[m]) ? 0 : 1, `${m} validCount`);
    }
  });
}

test('scoreFromCounts: F1 equals Dice for any counts', () => {
  for (const [tp, fp, fn, tn] of [[3, 1, 2, 5], [0, 4, 0, 1], [7, 0, 0, 0], [1, 0, 9, 0]]) {
    assert.is(scoreFromCounts('f1', tp, fp, fn, tn), scoreFromCounts('dice', tp, fp, fn, tn));
    const p = tp / (tp + fp);
    const r = tp / (tp + fn);
    if (tp > 0) close(scoreFromCounts('f1', tp, fp, fn, tn), (2 * p * r) / (p + r), 1e-12);
  }
});

// Multi-class 2x3 (see confusion.test.ts for the counts):
//   class 0: tp2 fp1 fn0 tn3 -> dice 4/5, iou 2/3
//   class 1: tp1 fp0 fn1 tn4 -> dice 2/3, iou 1/2
//   class 2: tp1 fp1 fn1 tn3 -> dice 1/2, iou 1/3
const mTruth = Uint8Array.from([0, 1, 1, 2, 2, 0]);
const mPred = Uint8Array.from([0, 1, 2, 2, 0, 0]);

test('multi-class without background (default)', () => {
  const d = dice(mPred, mTruth, { numClasses: 3, shape: [2, 3] });
  assert.equal(d.classes, [1, 2]);
  allClose(d.perClass, [2 / 3, 1 / 2]);
  close(d.mean, 7 / 12);
  const j = iou(mPred, mTruth, { numClasses: 3, shape: [2, 3] });
  allClose(j.perClass, [1 / 2, 1 / 3]);
  close(j.mean, 5 / 12);
});

test('multi-class with background', () => {
  const d = dice(mPred, mTruth, { numClasses: 3, shape: [2, 3], includeBackground: true });
  assert.equal(d.classes, [0, 1, 2]);
  allClose(d.perClass, [4 / 5, 2 / 3, 1 / 2]);
  close(d.mean, 59 / 90);
  const stats = confusionStats(mPred, mTruth, { numClasses: 3 });
  const prec = reduceSegmentationMetric(stats, 'precision', { includeBackground: true });
  allClose(prec.perClass, [2 / 3, 1, 1 / 2]);
  const rec = reduceSegmentationMetric(stats, 'recall', { includeBackground: true });
  allClose(rec.perClass, [1, 1 / 2, 1 / 2]);
  const spec = reduceSegmentationMetric(stats, 'specificity', { includeBackground: true });
  allClose(spec.perClass, [3 / 4, 1, 3 / 4]);
  // overall pixel accuracy: pixels 0, 1, 3, 5 correct -> 4/6
  close(pixelAccuracy(stats).value, 2 / 3);
});

// Per-image vs pooled, 1x4 binary images:
//   A: all foreground, all right -> dice 1 (tp 4)
//   B: one foreground pixel missed -> dice 0 (tp 0, fn 1)
//   C: no foreground anywhere -> NaN, excluded
// mean-image = (1 + 0) / 2 = 0.5 with 2 valid; pooled tp 4, fn 1 -> 8/9.
const pA = [1, 1, 1, 1];
const tA = [1, 1, 1, 1];
const pB = [0, 0, 0, 0];
const tB = [1, 0, 0, 0];
const pC = [0, 0, 0, 0];
const tC = [0, 0, 0, 0];
const batchPred = Uint8Array.from([...pA, ...pB, ...pC]);
const batchTruth = Uint8Array.from([...tA, ...tB, ...tC]);

test('per-image mean and pooled differ on a crafted example', () => {
  const opts = { numClasses: 2, shape: [3, 1, 4] as const };
  const mi = dice(batchPred, batchTruth, { ...opts, reduction: 'mean-image' });
  close(mi.perClass[0], 0.5);
  assert.is(mi.validCount[0], 2);
  assert.is(mi.perImage, undefined);
  const po = dice(batchPred, batchTruth, { ...opts, reduction: 'pooled' });
  close(po.perClass[0], 8 / 9);
  assert.is(po.validCount[0], 1);
  const none = dice(batchPred, batchTruth, { ...opts, reduction: 'none' });
  assert.is(none.perImage!.length, 3);
  allClose(none.perImage!.map((r) => r[0]), [1, 0, NaN]);
  close(none.mean, 0.5);
  // pixel accuracy: per image 1, 3/4, 1 -> mean 11/12; pooled 11/12 as well here (equal sizes)
  const st = confusionStats(batchPred, batchTruth, opts);
  close(pixelAccuracy(st).value, 11 / 12);
  close(pixelAccuracy(st, { reduction: 'pooled' }).value, 11 / 12);
  allClose(pixelAccuracy(st, { reduction: 'none' }).perImage!, [1, 0.75, 1]);
});

test('mean over classes skips classes with no valid image and reports the count', () => {
  // class 2 never appears -> NaN, mean over class 1 only
  const d = dice(Uint8Array.from([1, 0, 1, 0]), Uint8Array.from([1, 1, 0, 0]), { numClasses: 3 });
  allClose(d.perClass, [0.5, NaN]);
  assert.equal(d.validCount, [1, 0]);
  close(d.mean, 0.5);
  assert.is(d.validClasses, 1);
  const empty = dice(Uint8Array.from([0, 0]), Uint8Array.from([0, 0]), { numClasses: 2 });
  close(empty.mean, NaN);
  assert.is(empty.validClasses, 0);
});

test('unknown reduction or metric throws', () => {
  const st = confusionStats(Uint8Array.from([0, 1]), Uint8Array.from([0, 1]), { numClasses: 2 });
  // @ts-expect-error testing a bad value
  assert.throws(() => reduceSegmentationMetric(st, 'dice', { reduction: 'mean' }), /unknown reduction 'mean'/);
  // @ts-expect-error testing a bad value
  assert.throws(() => reduceSegmentationMetric(st, 'hd', {}), /unknown metric 'hd'/);
});

test.run();
