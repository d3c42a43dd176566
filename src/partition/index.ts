/** Site partitioners, feature-shift wrapper and partition report (see each module). */
export * from './base';
export * from './iid';
export * from './dirichlet';
export * from './inner-dirichlet';
export * from './pathological';
export * from './quantity';
export * from './natural-id';
export * from './feature-shift';
export * from './report';
export { largestRemainder } from './sizes';
export { partitionCommand, PARTITION_SCHEMES } from './cli';
export { reportSvg, type ReportSvgOptions } from './svg';
