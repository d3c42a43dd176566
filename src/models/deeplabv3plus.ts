// PLACEHOLDER (being written): replaced by the real architecture.
import type { ModelSpec } from './types';

export const deeplabv3plus: ModelSpec = {
  name: 'deeplabv3plus',
  displayName: 'deeplabv3plus',
  capabilities: { divisibleBy: 16, minSize: 32, defaultWidth: 8, paperWidth: 64, split: { twoPart: '', uShaped: ['', ''] }, paper: '' },
  build() {
    throw new Error('deeplabv3plus: not implemented yet');
  },
};
