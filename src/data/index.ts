/**
 * Public API of medfl's data layer: the Sample/Dataset contract, real-data
 * loaders (Kvasir-SEG, HAM10000, CVC-ClinicDB, image/mask folders, class
 * folders, NIfTI slices), image/NIfTI decoding, group-aware splits, and the
 * synthetic multi-site generator, the one `Site` type and its builder.
 */
export * from './types';

export { DataError, type DataErrorKind, type DataErrorDetails } from './errors';

export { resizeNearest, resizeBilinear, type PixelArray } from './resize';

export {
  decodeImage,
  decodeMask,
  imageSize,
  encodeImagePng,
  encodeMaskPng,
  encodeOverlayPng,
  writePng,
  MASK_COLORS,
  type ImageSource,
  type ResizeKernel,
  type FailOn,
  type DecodeImageOptions,
  type DecodedImage,
  type DecodeMaskOptions,
  type DecodedMask,
  type OverlayOptions,
} from './image';

export { LazyDataset, LruCache, ConcatDataset, type LazyDatasetSpec } from './lazy';

export { IMAGE_EXTENSIONS, parseCsv, readCsv, pairImagesWithMasks, type CsvTable, type PairOptions, type ImageMaskPair } from './files';

export {
  openImageMaskFolder,
  openClassFolder,
  openCvcClinicDb,
  decodeImageEntry,
  cvcClinicDbSequence,
  CVC_CLINICDB_SEQUENCE_STARTS,
  type ImageLoadOptions,
  type ImageEntry,
  type ImageMaskFolderOptions,
  type ClassFolderOptions,
  type CvcClinicDbOptions,
} from './folder';

export { openKvasirSeg, type KvasirSegOptions, type KvasirBox } from './kvasir';

export {
  openHam10000,
  Ham10000Dataset,
  HAM10000_CLASSES,
  HAM10000_REQUIRED_COLUMNS,
  HAM10000_IMAGE_DIRS,
  type Ham10000Options,
  type Ham10000Row,
  type Ham10000Dx,
} from './ham10000';

export {
  readNifti,
  parseNifti,
  parseNiftiHeader,
  maybeGunzip,
  encodeNifti1,
  NIFTI_DATATYPE_CODES,
  type NiftiDatatype,
  type NiftiHeader,
  type NiftiVolume,
  type Mat4,
  type ReadNiftiOptions,
  type EncodeNiftiOptions,
} from './nifti';

export { reorient, ioOrientation, axisCodes, matMul4, extractSlice, sliceCount, sliceShape, type Orientation, type SliceAxis } from './orientation';

export {
  CT_WINDOWS,
  percentile,
  percentiles,
  resolveWindow,
  applyWindow,
  type CenterWidth,
  type CtWindowName,
  type IntensityWindow,
} from './window';

export { openNiftiSlices, NiftiSliceDataset, type NiftiSlicesOptions } from './nifti-slices';

export {
  splitByGroup,
  trainTestSplit,
  type SplitFractions,
  type GroupKey,
  type SplitByGroupOptions,
  type SplitIndices,
  type TrainTestSplitOptions,
} from './split';

export { buildSites, pooledTest, siteSplitSeed, type Site, type SiteSplits, type BuildSitesOptions } from './site';

export * from './synthetic';
