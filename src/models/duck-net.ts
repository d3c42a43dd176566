// PLACEHOLDER (being written): replaced by the real architecture.
import type { ModelSpec } from './types';

export const duckNet: ModelSpec = {
  name: 'duck-net',
  displayName: 'duck-net',
  capabilities: { divisibleBy: 16, minSize: 32, defaultWidth: 8, paperWidth: 64, split: { twoPart: '', uShaped: ['', ''] }, paper: '' },
  build() {
    throw new Error('duck-net: not implemented yet');
  },
};
