/** Oversampling: imbalanced-learn parity on feature vectors, copy-paste for masks, per-site use. */
export * from './common';
export * from './random';
export * from './smote';
export * from './borderline-smote';
export * from './adasyn';
export * from './copy-paste';
export * from './per-site';
