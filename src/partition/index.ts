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
export {
  PARTITION_SCHEMES,
  PREVIEW_QUANTITY_SCHEMES,
  CLASS_ASSIGNMENTS,
  buildPartitioner,
  loadPartitionInput,
  previewPartition,
  type PartitionerOptions,
  type PartitionPreview,
  type PartitionScheme,
} from './preview';
export { reportSvg, type ReportSvgOptions } from './svg';
