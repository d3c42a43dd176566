/**
 * Swin Transformer building blocks (Liu et al. 2021, arXiv:2103.14030) as used
 * by Swin-Unet (Cao et al. 2021, arXiv:2105.05537). Token maps are NHWC
 * `[N, H, W, C]` between layers (H, W = token grid). Importing this module
 * registers the custom layers with tfjs serialization:
 * `MedflSwinPatchEmbed`, `MedflSwinPatchMerging`, `MedflSwinPatchExpand`, `MedflSwinBlock`,
 * `MedflSwinLinear`, `MedflSwinLayerNorm`.
 */
export {
  type EffectiveWindow,
  effectiveWindow,
  relativePositionIndex,
  relativePositionOneHot,
  shiftRegionLabels,
  shiftedWindowMask,
  windowPartition,
  windowReverse,
  cyclicShift,
} from './swin/geometry';
export { LAYER_NORM_EPSILON, layerNorm, linear, matMulFast, swapLastAxes, gelu, serializeInit, deserializeInit } from './swin/ops';
export {
  type LayerArgs,
  type PatchEmbedArgs,
  type PatchMergingArgs,
  type PatchExpandArgs,
  PatchEmbed,
  PatchMerging,
  PatchExpand,
  registerSwinPatchLayers,
} from './swin/patch';
export { type SwinBlockArgs, type WindowAttentionParams, SwinBlock, registerSwinBlock, windowAttention, attentionWeights } from './swin/block';
export {
  type TokenLinearArgs,
  type TokenLayerNormArgs,
  TokenLinear,
  TokenLayerNorm,
  registerSwinTokenLayers,
} from './swin/token';
