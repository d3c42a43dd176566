import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  accuracy,
  balancedAccuracy,
  classificationReport,
  confusionMatrix,
  macroF1,
  rocAuc,
  rocAucOneVsRest,
} from '../../src/metrics/classification';
import { createRng } from '../../src/util/rng';
import { allClose, close } from './helpers';

// yTrue 0 0 1 1 2 2 / yPred 0 1 1 1 0 2
//   confusion rows=true: [[1,1,0],[0,2,0],[1,0,1]]
//   class 0: tp1 fp1 fn1 -> P 1/2 R 1/2 F1 1/2
//   class 1: tp2 fp1 fn0 -> P 2/3 R 1   F1 4/5
//   class 2: tp1 fp0 fn1 -> P 1   R 1/2 F1 2/3
const yT = [0, 0, 1, 1, 2, 2];
const yP = [0, 1, 1, 1, 0, 2];

test('confusion matrix, accuracy, per-class and macro scores (hand computed)', () => {
  assert.equal(confusionMatrix(yT, yP, 3), [[1, 1, 0], [0, 2, 0], [1, 0, 1]]);
  close(accuracy(yT, yP), 4 / 6);
  const r = classificationReport(yT, yP, 3);
  allClose(r.perClass.map((c) => c.precision), [1 / 2, 2 / 3, 1]);
  allClose(r.perClass.map((c) => c.recall), [1 / 2, 1, 1 / 2]);
  allClose(r.perClass.map((c) => c.f1), [1 / 2, 4 / 5, 2 / 3]);
  assert.equal(r.perClass.map((c) => c.support), [2, 2, 2]);
  close(r.macroF1, 59 / 90);
  close(macroF1(yT, yP, 3), 59 / 90);
  close(r.balancedAccuracy, 2 / 3);
  close(balancedAccuracy(yT, yP, 3), 2 / 3);
  close(r.macroPrecision, (1 / 2 + 2 / 3 + 1) / 3);
});

test('all correct and all wrong', () => {
  const t = [0, 1, 1, 0];
  const good = classificationReport(t, t, 2);
  assert.is(good.accuracy, 1);
  assert.is(good.macroF1, 1);
  assert.is(good.balancedAccuracy, 1);
  const bad = classificationReport(t, [1, 0, 0, 1], 2);
  assert.is(bad.accuracy, 0);
  assert.is(bad.macroF1, 0);
  assert.is(bad.balancedAccuracy, 0);
});

test('undefined cases: NaN and excluded, never a silent 0 or 1', () => {
  // class 3 absent from labels and predictions -> NaN precision/recall/F1, excluded from macro
  const r = classificationReport(yT, yP, 4);
  assert.ok(Number.isNaN(r.perClass[3].f1) && Number.isNaN(r.perClass[3].precision) && Number.isNaN(r.perClass[3].recall));
  close(r.macroF1, 59 / 90);
  assert.is(r.macroF1Classes, 3);
  close(r.balancedAccuracy, 2 / 3);
  // class 1 has support but is never predicted: precision NaN, recall 0, F1 0
  //   class 0: tp1 fp1 fn0 -> F1 2/3 ; macro F1 = (2/3 + 0) / 2
  const s = classificationReport([0, 1], [0, 0], 2);
  close(s.perClass[1].precision, NaN);
  close(s.perClass[1].recall, 0);
  close(s.perClass[1].f1, 0);
  close(s.macroF1, 1 / 3);
  close(s.balancedAccuracy, 0.5);
  close(accuracy([], []), NaN);
});

test('binary ROC AUC with ties equals the hand count', () => {
  // positives 0.4, 0.8, 0.9 vs negatives 0.1, 0.4, 0.8:
  //   0.4: beats 0.1, ties 0.4 -> 1.5 ; 0.8: beats 0.1, 0.4, ties 0.8 -> 2.5 ; 0.9: 3  => 7/9
  close(rocAuc([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.4, 0.8, 0.8, 0.9]), 7 / 9, 1e-12);
  close(rocAuc([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8]), 1);
  close(rocAuc([1, 0, 1, 0], [0.1, 0.9, 0.2, 0.8]), 0);
  close(rocAuc([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]), 0.5);
  close(rocAuc([true, false], [2, -3]), 1);
  close(rocAuc([1, 1, 1], [0.1, 0.2, 0.3]), NaN);
  close(rocAuc([0, 0], [0.1, 0.2]), NaN);
  assert.throws(() => rocAuc([0, 2], [0.1, 0.2]), /expected 0 or 1/);
});

test('binary ROC AUC equals the pairwise Mann-Whitney count on random tied data', () => {
  const rng = createRng('auc');
  for (let trial = 0; trial < 5; trial++) {
    const n = 30 + rng.int(30);
    const y = Array.from({ length: n }, () => (rng.bernoulli(0.4) ? 1 : 0));
    const s = Array.from({ length: n }, () => rng.int(6) / 5); // many ties
    let num = 0;
    let pairs = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++)
        if (y[i] === 1 && y[j] === 0) {
          pairs++;
          num += s[i] > s[j] ? 1 : s[i] === s[j] ? 0.5 : 0;
        }
    close(rocAuc(y, s), num / pairs, 1e-12);
  }
});

test('one-vs-rest macro AUC (hand computed) and classes without positives', () => {
  const yTrue = [0, 1, 2, 0];
  const scores = [0.6, 0.3, 0.1, 0.2, 0.35, 0.45, 0.2, 0.2, 0.6, 0.3, 0.4, 0.3];
  // class 0: pos {0.6, 0.3} vs neg {0.2, 0.2} -> 1
  // class 1: pos {0.35} vs neg {0.3, 0.2, 0.4} -> 2/3
  // class 2: pos {0.6} vs neg {0.1, 0.45, 0.3} -> 1
  const r = rocAucOneVsRest(yTrue, scores, 3);
  allClose(r.perClass, [1, 2 / 3, 1], 1e-12);
  close(r.macro, 8 / 9, 1e-12);
  assert.is(r.validClasses, 3);
  const withMissing = rocAucOneVsRest(yTrue, scores.flatMap((v, i) => (i % 3 === 2 ? [v, 0] : [v])), 4);
  allClose(withMissing.perClass, [1, 2 / 3, 1, NaN], 1e-12);
  close(withMissing.macro, 8 / 9, 1e-12);
  assert.is(withMissing.validClasses, 3);
  assert.throws(() => rocAucOneVsRest(yTrue, scores, 4), /\[4, 4\]/);
});

test('bad labels throw', () => {
  assert.throws(() => confusionMatrix([0, 3], [0, 1], 3), /yTrue\[1\] = 3/);
  assert.throws(() => confusionMatrix([0, 1], [0], 3), /2 labels but yPred has 1/);
});

test.run();
