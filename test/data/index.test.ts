import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as data from '../../src/data';

test('the data barrel exposes the loaders, decoders, splits, contract and synthetic generator', () => {
  for (const name of [
    'openKvasirSeg',
    'openHam10000',
    'openImageMaskFolder',
    'openClassFolder',
    'openCvcClinicDb',
    'openNiftiSlices',
    'readNifti',
    'reorient',
    'decodeImage',
    'decodeMask',
    'encodeOverlayPng',
    'splitByGroup',
    'trainTestSplit',
    'materialize',
    'syntheticSites',
  ] as const) {
    assert.type((data as Record<string, unknown>)[name], 'function', name);
  }
  assert.type(data.DataError, 'function');
  assert.type(data.InMemoryDataset, 'function');
  assert.equal([...data.HAM10000_CLASSES], ['akiec', 'bcc', 'bkl', 'df', 'mel', 'nv', 'vasc']);
  const err = new data.DataError({ file: 'x.png', kind: 'unreadable', expected: 'an image', problem: 'bad bytes' });
  assert.ok(err instanceof Error);
  assert.is(err.name, 'DataError');
  assert.is(err.message, 'x.png: bad bytes (expected an image)');
});

test.run();
