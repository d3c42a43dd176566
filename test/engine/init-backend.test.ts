/**
 * Engine selection: the default is wasm here (tfjs-node is not installed),
 * MEDFL_BACKEND forces a backend, bad names fail with the valid list, and the
 * choice is logged once.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend, parseBackendName, currentBackend } from '../../src/backend';

test.after(async () => {
  delete process.env.MEDFL_BACKEND;
  await initBackend('wasm', { log: () => {} });
});

test('default order skips the absent tfjs-node packages and lands on wasm, with medfl kernels registered', async () => {
  const logs: string[] = [];
  const info = await initBackend('wasm', { log: (m) => logs.push(m) });
  assert.is(info.name, 'wasm');
  assert.is(tf.getBackend(), 'wasm');
  for (const k of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput']) {
    assert.ok(tf.getKernel(k, 'wasm'), `${k} registered for wasm`);
  }
  // Calling again returns the same choice without logging again.
  const again = await initBackend(undefined, { log: (m) => logs.push(m) });
  assert.is(again.name, 'wasm');
  assert.ok(logs.length <= 1, `logged once, got ${JSON.stringify(logs)}`);
  assert.is(currentBackend()?.name, 'wasm');
});

test('MEDFL_BACKEND=cpu forces the CPU backend', async () => {
  process.env.MEDFL_BACKEND = 'cpu';
  const info = await initBackend(undefined, { log: () => {} });
  assert.is(info.name, 'cpu');
  assert.is(tf.getBackend(), 'cpu');
  delete process.env.MEDFL_BACKEND;
});

test('requesting tensorflow without tfjs-node installed fails with the reason', async () => {
  let msg = '';
  try {
    await initBackend('tensorflow', { log: () => {} });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.match(msg, /tfjs-node/);
});

test('unknown backend names list the valid ones', async () => {
  assert.throws(() => parseBackendName('webgpu'), /Valid: tensorflow, wasm, cpu/);
  process.env.MEDFL_BACKEND = 'gpu';
  let msg = '';
  try {
    await initBackend(undefined, { log: () => {} });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.match(msg, /MEDFL_BACKEND: unknown backend 'gpu'/);
  delete process.env.MEDFL_BACKEND;
});

test.run();
