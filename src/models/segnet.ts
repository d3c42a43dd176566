// PLACEHOLDER (being written): replaced by the real architecture.
import type { ModelSpec } from './types';

export const segnet: ModelSpec = {
  name: 'segnet',
  displayName: 'segnet',
  capabilities: { divisibleBy: 16, minSize: 32, defaultWidth: 8, paperWidth: 64, split: { twoPart: '', uShaped: ['', ''] }, paper: '' },
  build() {
    throw new Error('segnet: not implemented yet');
  },
};
