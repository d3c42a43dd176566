// PLACEHOLDER (being written): replaced by the real architecture.
import type { ModelSpec } from './types';

export const deeplabv3: ModelSpec = {
  name: 'deeplabv3',
  displayName: 'deeplabv3',
  capabilities: { divisibleBy: 16, minSize: 32, defaultWidth: 8, paperWidth: 64, split: { twoPart: '', uShaped: ['', ''] }, paper: '' },
  build() {
    throw new Error('deeplabv3: not implemented yet');
  },
};
