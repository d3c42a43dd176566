import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import {
  bceDiceLoss,
  binaryCrossEntropy,
  categoricalCrossEntropy,
  diceLoss,
  focalLoss,
  LossFunction,
  segmentationLoss,
  smpDiceLoss,
  tverskyLoss,
} from '../../src/metrics/losses';
import { createRng } from '../../src/util/rng';
import { close } from './helpers';

test.before(async () => {
  await tf.setBackend('cpu');
});

/** Run a loss, return its value, dispose everything, and check nothing leaked. */
function value(loss: LossFunction, yTrue: number[], yPred: number[], shape: number[]): number {
  const before = tf.memory().numTensors;
  const yt = tf.tensor(yTrue, shape);
  const yp = tf.tensor(yPred, shape);
  const out = loss(yt, yp);
  assert.is(out.rank, 0);
  const v = out.dataSync()[0];
  tf.dispose([yt, yp, out]);
  assert.is(tf.memory().numTensors, before, 'tensor leak');
  return v;
}

const logit = (p: number) => Math.log(p / (1 - p));
const TOL = 1e-5;

// Binary fixture [1, 2, 2, 1]: y = 1 0 1 0, p = 0.8 0.3 0.6 0.1
const by = [1, 0, 1, 0];
const bp = [0.8, 0.3, 0.6, 0.1];
const bShape = [1, 2, 2, 1];

test('BCE from probabilities and from logits vs hand computation', () => {
  const expected = -(Math.log(0.8) + Math.log(0.7) + Math.log(0.6) + Math.log(0.9)) / 4;
  close(value(binaryCrossEntropy(), by, bp, bShape), expected, TOL);
  close(value(binaryCrossEntropy({ fromLogits: true }), by, bp.map(logit), bShape), expected, TOL);
  // extreme logits stay finite and match the closed form softplus(-x) for y = 1
  close(value(binaryCrossEntropy({ fromLogits: true }), [1], [-50], [1, 1]), 50, 1e-3);
  // clipping: p = 0 for a positive gives -log(1e-7), not Infinity
  close(value(binaryCrossEntropy(), [1], [0], [1, 1]), -Math.log(1e-7), 1e-2);
});

test('categorical CE from probabilities / logits / with class weights', () => {
  // [1, 1, 2, 3]: y = e0, e2 ; p = (0.7, 0.2, 0.1), (0.2, 0.3, 0.5)
  const y = [1, 0, 0, 0, 0, 1];
  const p = [0.7, 0.2, 0.1, 0.2, 0.3, 0.5];
  const shape = [1, 1, 2, 3];
  close(value(categoricalCrossEntropy(), y, p, shape), -(Math.log(0.7) + Math.log(0.5)) / 2, TOL);
  // log p are logits whose softmax is p
  close(value(categoricalCrossEntropy({ fromLogits: true }), y, p.map(Math.log), shape), -(Math.log(0.7) + Math.log(0.5)) / 2, TOL);
  close(value(categoricalCrossEntropy({ classWeights: [2, 1, 1] }), y, p, shape), -(2 * Math.log(0.7) + Math.log(0.5)) / 2, TOL);
});

test('soft Dice loss: binary, smoothing, multi-class with/without background, per image', () => {
  // binary: Σyp = 1.4, Σy = 2, Σp = 1.8 ; smooth 1 -> 1 - 3.8/4.8 ; smooth 0 -> 1 - 2.8/3.8
  close(value(diceLoss(), by, bp, bShape), 1 - 3.8 / 4.8, TOL);
  close(value(diceLoss({ smooth: 0 }), by, bp, bShape), 1 - 2.8 / 3.8, TOL);
  close(value(diceLoss({ smooth: 0, fromLogits: true }), by, bp.map(logit), bShape), 1 - 2.8 / 3.8, TOL);
  // K = 2, [1, 1, 2, 2]: y = e0, e1 ; p = (0.6, 0.4), (0.3, 0.7)
  //   class 0: Σyp 0.6, Σy 1, Σp 0.9 -> (1.2 + 1)/(1.9 + 1) ; class 1: Σyp 0.7, Σy 1, Σp 1.1 -> (1.4 + 1)/(2.1 + 1)
  const y = [1, 0, 0, 1];
  const p = [0.6, 0.4, 0.3, 0.7];
  const shape = [1, 1, 2, 2];
  close(value(diceLoss(), y, p, shape), 1 - (2.2 / 2.9 + 2.4 / 3.1) / 2, TOL);
  close(value(diceLoss({ includeBackground: false }), y, p, shape), 1 - 2.4 / 3.1, TOL);
  // softmax of logits log p equals p
  close(value(diceLoss({ fromLogits: true }), y, p.map(Math.log), shape), 1 - (2.2 / 2.9 + 2.4 / 3.1) / 2, TOL);
  // per image vs batch, smooth 0, [2, 1, 2, 1]: image 1 perfect (dice 1), image 2 swapped (dice 0)
  //   perImage -> 1 - (1 + 0)/2 = 0.5 ; batch: Σyp 2, Σy 3, Σp 3 -> 1 - 4/6
  const y2 = [1, 1, 1, 0];
  const p2 = [1, 1, 0, 1];
  close(value(diceLoss({ smooth: 0, perImage: true }), y2, p2, [2, 1, 2, 1]), 0.5, TOL);
  close(value(diceLoss({ smooth: 0 }), y2, p2, [2, 1, 2, 1]), 1 / 3, TOL);
});

test('Tversky loss: hand value, and alpha = beta = 0.5 equals Dice', () => {
  // TP = 1.4, FP = Σ(1-y)p = 0.4, FN = Σy(1-p) = 0.6 ; α 0.3, β 0.7, s 1
  close(value(tverskyLoss({ alpha: 0.3, beta: 0.7 }), by, bp, bShape), 1 - 2.4 / (1.4 + 0.12 + 0.42 + 1), TOL);
  const rng = createRng('tversky');
  const y = Array.from({ length: 24 }, () => (rng.bernoulli(0.5) ? 1 : 0));
  const p = Array.from({ length: 24 }, () => rng.uniform());
  close(value(tverskyLoss({ smooth: 0 }), y, p, [2, 2, 3, 2]), value(diceLoss({ smooth: 0 }), y, p, [2, 2, 3, 2]), TOL);
});

test('focal loss: hand value; gamma 0 and no alpha give BCE; logits match', () => {
  // y = 1, p = 0.8: 0.25 · 0.2² · -ln 0.8 ; y = 0, p = 0.3: 0.75 · 0.3² · -ln 0.7
  const expected = (0.25 * 0.04 * -Math.log(0.8) + 0.75 * 0.09 * -Math.log(0.7)) / 2;
  close(value(focalLoss(), [1, 0], [0.8, 0.3], [1, 2, 1, 1]), expected, TOL);
  close(value(focalLoss({ fromLogits: true }), [1, 0], [logit(0.8), logit(0.3)], [1, 2, 1, 1]), expected, TOL);
  close(value(focalLoss({ gamma: 0, alpha: null }), by, bp, bShape), value(binaryCrossEntropy(), by, bp, bShape), TOL);
});

test('BCE + Dice is the weighted sum of its parts', () => {
  const bce = -(Math.log(0.8) + Math.log(0.7) + Math.log(0.6) + Math.log(0.9)) / 4;
  const dl = 1 - 3.8 / 4.8;
  close(value(bceDiceLoss(), by, bp, bShape), bce + dl, TOL);
  close(value(bceDiceLoss({ bceWeight: 0.5, diceWeight: 2 }), by, bp, bShape), 0.5 * bce + 2 * dl, TOL);
  const y = [1, 0, 0, 1];
  const p = [0.6, 0.4, 0.3, 0.7];
  close(
    value(bceDiceLoss({ crossEntropy: 'categorical', includeBackground: false }), y, p, [1, 1, 2, 2]),
    -(Math.log(0.6) + Math.log(0.7)) / 2 + (1 - 2.4 / 3.1),
    TOL,
  );
});

test('perfect predictions give (near) zero loss', () => {
  const y = [1, 0, 0, 1, 1, 0];
  const shape = [1, 2, 3, 1];
  const oneHot = [1, 0, 0, 1, 0, 1, 1, 0];
  const cases: [string, LossFunction, number[], number[], number[]][] = [
    ['bce', binaryCrossEntropy(), y, y, shape],
    ['dice', diceLoss(), y, y, shape],
    ['tversky', tverskyLoss({ alpha: 0.7, beta: 0.3 }), y, y, shape],
    ['focal', focalLoss(), y, y, shape],
    ['bce+dice', bceDiceLoss(), y, y, shape],
    ['cce', categoricalCrossEntropy(), oneHot, oneHot, [1, 2, 2, 2]],
    ['dice K=2', diceLoss({ includeBackground: false }), oneHot, oneHot, [1, 2, 2, 2]],
    ['bce logits', binaryCrossEntropy({ fromLogits: true }), y, y.map((v) => (v ? 30 : -30)), shape],
  ];
  for (const [name, loss, t, p, s] of cases) {
    const v = value(loss, t, p, s);
    assert.ok(v >= 0 && v < 1e-5, `${name}: ${v}`);
  }
});

test('gradients are finite (interior, saturated probabilities, logits) and nothing leaks', () => {
  const losses: [string, LossFunction, boolean][] = [
    ['bce', binaryCrossEntropy(), false],
    ['bce logits', binaryCrossEntropy({ fromLogits: true }), true],
    ['dice', diceLoss(), false],
    ['dice logits', diceLoss({ fromLogits: true }), true],
    ['tversky', tverskyLoss({ alpha: 0.3, beta: 0.7 }), false],
    ['focal', focalLoss(), false],
    ['focal gamma 0.5', focalLoss({ gamma: 0.5 }), false],
    ['focal logits', focalLoss({ fromLogits: true }), true],
    ['bce+dice', bceDiceLoss(), false],
  ];
  const y = [1, 0, 1, 0, 1, 0];
  const inputs = [
    [0.8, 0.3, 0.6, 0.1, 0.5, 0.5],
    [1, 0, 0, 1, 1, 0], // saturated: some perfect, some totally wrong
  ];
  const before = tf.memory().numTensors;
  for (const [name, loss, logits] of losses) {
    for (const raw of inputs) {
      const p = logits ? raw.map((v) => (v - 0.5) * 40) : raw;
      const yt = tf.tensor(y, [1, 2, 3, 1]);
      const yp = tf.tensor(p, [1, 2, 3, 1]);
      const g = tf.grad((x: tf.Tensor) => loss(yt, x))(yp);
      const vals = Array.from(g.dataSync());
      assert.ok(vals.every(Number.isFinite), `${name} grad ${vals}`);
      tf.dispose([yt, yp, g]);
    }
  }
  const yt = tf.tensor([1, 0, 0, 0, 0, 1], [1, 1, 2, 3]);
  const yp = tf.tensor([2, -1, 0, 0.5, 0.1, 3], [1, 1, 2, 3]);
  for (const loss of [categoricalCrossEntropy({ fromLogits: true }), diceLoss({ fromLogits: true, includeBackground: false })]) {
    const g = tf.grad((x: tf.Tensor) => loss(yt, x))(yp);
    assert.ok(Array.from(g.dataSync()).every(Number.isFinite));
    g.dispose();
  }
  tf.dispose([yt, yp]);
  assert.is(tf.memory().numTensors, before, 'tensor leak');
});

test('usable as a tfjs model loss (compile + fit one step) without leaking', async () => {
  const model = tf.sequential({
    layers: [tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 1, kernelSize: 1, activation: 'sigmoid' })],
  });
  model.compile({ optimizer: tf.train.sgd(0.1), loss: bceDiceLoss() });
  const x = tf.tensor4d(Array.from({ length: 32 }, (_, i) => (i % 3) / 2), [2, 4, 4, 1]);
  const y = tf.tensor4d(Array.from({ length: 32 }, (_, i) => (i % 3 === 2 ? 1 : 0)), [2, 4, 4, 1]);
  const before = tf.memory().numTensors;
  const h = await model.fit(x, y, { epochs: 2, batchSize: 2, verbose: 0 });
  const losses = h.history.loss as number[];
  assert.ok(losses.every(Number.isFinite));
  assert.is(tf.memory().numTensors, before, 'tensor leak during fit');
  tf.dispose([x, y]);
  model.dispose();
});

test('shape mismatch and bad options throw', () => {
  const a = tf.zeros([1, 2, 2, 1]);
  const b = tf.zeros([1, 2, 2, 2]);
  assert.throws(() => diceLoss()(a, b), /differs from yPred shape/);
  assert.throws(() => binaryCrossEntropy()(a, tf.zeros([4])), /rank >= 2/);
  assert.throws(() => focalLoss({ gamma: -1 }), /gamma/);
  assert.throws(() => tverskyLoss({ alpha: -0.1 }), /alpha/);
  assert.throws(() => categoricalCrossEntropy({ classWeights: [1, 2, 3] })(b, b), /3 classWeights for K = 2/);
  tf.dispose([a, b]);
});

test('smpDiceLoss: hand-computed, segmentation_models_pytorch multiclass semantics (batch sums, absent classes count 0, mean over all classes)', () => {
  // y = [1, 0], p = [0.8, 0.4] as two classes: fg score 1.6 / 2.2, bg score 1.2 / 1.8
  close(value(smpDiceLoss(), [1, 0], [0.8, 0.4], [1, 1, 2, 1]), ((1 - 1.6 / 2.2) + (1 - 1.2 / 1.8)) / 2, TOL);
  // no foreground in the batch: the fg class is masked to 0 but still counts in the mean
  close(value(smpDiceLoss(), [0, 0], [0.3, 0.1], [1, 1, 2, 1]), (1 - 3.2 / 3.6) / 2, TOL);
  // a 1-channel sigmoid output equals the 2-channel softmax output [1 - p, p]
  close(value(smpDiceLoss(), [1, 0, 1, 0], [0.8, 0.3, 0.6, 0.1], [1, 2, 2, 1]), value(smpDiceLoss(), [0, 1, 1, 0, 0, 1, 1, 0], [0.2, 0.8, 0.7, 0.3, 0.4, 0.6, 0.9, 0.1], [1, 2, 2, 2]), TOL);
  // batch sums, not per image: two images give the loss of their concatenation
  close(value(smpDiceLoss(), [1, 0, 1, 0], [0.8, 0.3, 0.6, 0.1], [2, 1, 2, 1]), value(smpDiceLoss(), [1, 0, 1, 0], [0.8, 0.3, 0.6, 0.1], [1, 1, 4, 1]), TOL);
  // logits path
  close(value(smpDiceLoss({ fromLogits: true }), [1, 0], [logit(0.8), logit(0.4)], [1, 1, 2, 1]), ((1 - 1.6 / 2.2) + (1 - 1.2 / 1.8)) / 2, TOL);
});

test('segmentationLoss: names resolve, unknown names are refused with the list', () => {
  close(value(segmentationLoss('dice'), [1, 0], [0.8, 0.4], [1, 1, 2, 1]), value(smpDiceLoss(), [1, 0], [0.8, 0.4], [1, 1, 2, 1]), TOL);
  close(value(segmentationLoss('bce-dice'), by, bp, bShape), value(bceDiceLoss(), by, bp, bShape), TOL);
  assert.throws(() => segmentationLoss('focal' as never), /expected one of bce-dice, dice/);
});

test.run();
