import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  argmaxToClassMap,
  concatConfusionStats,
  confusionStats,
  poolConfusionStats,
  probabilitiesToClassMap,
  thresholdToClassMap,
} from '../../src/metrics/confusion';

// 2x3 image, 3 classes. Hand count (one-vs-rest):
//   truth = 0 1 1 / 2 2 0     pred = 0 1 2 / 2 0 0
//   class 0: truth {0,5}, pred {0,4,5} -> tp 2, fp 1, fn 0, tn 3
//   class 1: truth {1,2}, pred {1}     -> tp 1, fp 0, fn 1, tn 4
//   class 2: truth {3,4}, pred {2,3}   -> tp 1, fp 1, fn 1, tn 3
const truth = Uint8Array.from([0, 1, 1, 2, 2, 0]);
const pred = Uint8Array.from([0, 1, 2, 2, 0, 0]);

test('per-class counts of a multi-class map match the hand count', () => {
  const s = confusionStats(pred, truth, { numClasses: 3, shape: [2, 3] });
  assert.is(s.numImages, 1);
  assert.equal(Array.from(s.tp), [2, 1, 1]);
  assert.equal(Array.from(s.fp), [1, 0, 1]);
  assert.equal(Array.from(s.fn), [0, 1, 1]);
  assert.equal(Array.from(s.tn), [3, 4, 3]);
  assert.equal(Array.from(s.pixels), [6]);
});

test('binary masks: tp/fp/fn/tn table', () => {
  const cases: [number[], number[], [number, number, number, number]][] = [
    // pred, truth, foreground [tp, fp, fn, tn]
    [[1, 1, 0, 0], [1, 1, 0, 0], [2, 0, 0, 2]],
    [[0, 0, 1, 1], [1, 1, 0, 0], [0, 2, 2, 0]],
    [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 4]],
    [[1, 0, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]],
  ];
  for (const [p, t, [tp, fp, fn, tn]] of cases) {
    const s = confusionStats(Int32Array.from(p), Int32Array.from(t), { numClasses: 2 });
    assert.equal([s.tp[1], s.fp[1], s.fn[1], s.tn[1]], [tp, fp, fn, tn], `pred ${p} truth ${t}`);
    // background is the mirror image of foreground
    assert.equal([s.tp[0], s.fp[0], s.fn[0], s.tn[0]], [tn, fn, fp, tp]);
  }
});

test('batched [N,H,W] equals a list of per-image maps; rows are per image', () => {
  const p = Uint8Array.from([1, 0, 0, 0, 1, 1, 1, 1]);
  const t = Uint8Array.from([1, 1, 0, 0, 0, 0, 1, 1]);
  const a = confusionStats(p, t, { numClasses: 2, shape: [2, 2, 2] });
  const b = confusionStats([p.subarray(0, 4), p.subarray(4)], [t.subarray(0, 4), t.subarray(4)], { numClasses: 2 });
  assert.equal(a, b);
  assert.is(a.numImages, 2);
  // image 0 fg: tp1 fp0 fn1 tn2 ; image 1 fg: tp2 fp2 fn0 tn0
  assert.equal(Array.from(a.tp), [2, 1, 0, 2]);
  assert.equal(Array.from(a.fp), [1, 0, 0, 2]);
  const pooled = poolConfusionStats(a);
  assert.equal(Array.from(pooled.tp), [2, 3]);
  assert.equal(Array.from(pooled.fp), [1, 2]);
  assert.equal(Array.from(pooled.fn), [2, 1]);
  assert.equal(Array.from(pooled.pixels), [8]);
  const cat = concatConfusionStats([b, a]);
  assert.is(cat.numImages, 4);
  assert.equal(Array.from(cat.tp.subarray(4)), Array.from(a.tp));
});

test('ignoreIndex skips pixels', () => {
  const s = confusionStats(Uint8Array.from([1, 1, 0]), Uint8Array.from([1, 255, 0]), { numClasses: 2, ignoreIndex: 255 });
  assert.equal([s.tp[1], s.fp[1], s.fn[1], s.tn[1]], [1, 0, 0, 1]);
  assert.equal(Array.from(s.pixels), [2]);
});

test('bad input throws with a useful message', () => {
  assert.throws(() => confusionStats(Uint8Array.from([0, 3]), Uint8Array.from([0, 1]), { numClasses: 3 }), /prediction.*pixel 1 is 3/);
  assert.throws(() => confusionStats(Int32Array.from([0, 1]), Int32Array.from([0, -1]), { numClasses: 3 }), /ground truth.*-1/);
  assert.throws(() => confusionStats(Uint8Array.from([0, 1]), Uint8Array.from([0]), { numClasses: 2 }), /2 pixels but truth has 1/);
  assert.throws(() => confusionStats(Uint8Array.from([0, 1]), Uint8Array.from([0, 1]), { numClasses: 1 }), /numClasses/);
  assert.throws(() => confusionStats(Uint8Array.from([0, 1]), Uint8Array.from([0, 1]), { numClasses: 2, shape: [3, 1] }), /holds 3/);
});

test('probabilities to class maps: threshold (>=) and argmax (first max wins)', () => {
  assert.equal(Array.from(thresholdToClassMap([0.2, 0.5, 0.7, 0.49], [1, 2, 2, 1])), [0, 1, 1, 0]);
  assert.equal(Array.from(thresholdToClassMap([-1, 0.5, 0, 2], [1, 2, 2, 1], 0)), [0, 1, 1, 1]);
  const probs = Float32Array.from([0.3, 0.3, 0.4, 0.5, 0.5, 0, 0.1, 0.8, 0.1]);
  assert.equal(Array.from(argmaxToClassMap(probs, [1, 1, 3, 3])), [2, 0, 1]);
  assert.equal(Array.from(probabilitiesToClassMap(probs, [1, 1, 3, 3])), [2, 0, 1]);
  assert.equal(Array.from(probabilitiesToClassMap([0.9, 0.1], [1, 1, 2, 1])), [1, 0]);
  assert.throws(() => thresholdToClassMap([0.1, 0.2], [1, 1, 1, 2]), /one channel/);
  assert.throws(() => argmaxToClassMap([0.1, 0.2, 0.3], [1, 1, 1, 2]), /holds 2 values/);
});

test.run();
