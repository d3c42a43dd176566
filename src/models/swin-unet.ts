/**
 * Swin-Unet (Cao et al. 2021, arXiv:2105.05537; official code HuCaoFighting/Swin-Unet,
 * `networks/swin_transformer_unet_skip_expand_decoder_sys.py`), built on Swin
 * Transformer blocks (Liu et al. 2021, arXiv:2103.14030). One of the ten
 * MedSegNet10 models (arXiv:2503.20830).
 *
 * Architecture (NHWC token maps `[N, h, w, C]` between layers, C = `width`):
 * - `patch_embed`: 4x4 patches -> linear C -> LayerNorm, grid H/4 x W/4.
 * - Encoder stage s = 1..3 (`enc{s}_block{1,2}`, `enc{s}_merge`): 2 Swin blocks
 *   (W-MSA then SW-MSA, shift M/2) at `width * 2^(s-1)` channels, then patch
 *   merging (2x2 concat -> LayerNorm -> linear 4D -> 2D).
 * - Bottleneck (`bottleneck_block{1,2}`, `bottleneck_norm`): 2 Swin blocks at
 *   8C, H/32, LayerNorm; `bottleneck_expand`: patch expanding 8C -> 4C, 2x up.
 * - Decoder stage s = 3, 2, 1 (`dec{s}_concat`, `dec{s}_fuse`, `dec{s}_block{1,2}`,
 *   `dec{s}_expand` for s > 1): concat the skip, linear 2D -> D (+bias),
 *   2 Swin blocks, patch expanding D -> D/2 with 2x up.
 * - `dec1_norm` LayerNorm, `final_expand` (linear C -> 16C, 4x up, LayerNorm C),
 *   `head` (1x1 projection to numClasses, no bias), `head_act`.
 * Channels: C, 2C, 4C, 8C; heads per stage = channels / 32 rounded to a divisor
 * (at least 1): paper width 96 -> 3, 6, 12, 24 (the paper's); default width 32 -> 1, 2, 4, 8.
 *
 * Window: the paper uses M = 7 at 224x224 (grids 56, 28, 14, 7, the last one a single
 * unshifted window). Here each stage takes the largest window <= 7 that tiles its grid
 * (`swinUnetWindows`); a grid whose smaller side is <= 7 (and divides the other) gets
 * one window of that side and no shift, exactly as the official block does
 * (`min(input_resolution) <= window_size`). 224 -> 7, 7, 7, 7 (the paper's);
 * 64 -> 4, 4, 4, 2 (grids 16, 8, 4, 2: stages 3-4 single unshifted windows);
 * 128 -> 4, 4, 4, 4; 96 -> 6, 6, 6, 3; 160 -> 5, 5, 5, 5. `buildSwinUnet({ windowSize })`
 * forces one M for all stages (the official single-M semantics).
 * Sizes: divisibleBy 32 (patch 4 x three 2x mergings), minSize 32; any multiple of 32
 * builds (odd shapes such as 96x160 fall back to small windows, down to 1 at the bottleneck).
 *
 * Split points: client front = patch embedding + encoder stage 1 with its merge
 * (`enc1_merge`, the official `layers[0]`); client back = decoder stage 1 + final
 * expansion + head (body ends at `dec2_expand`). The patch-embedding skip goes
 * front -> back and stays on the client.
 *
 * Parameters: width 96 at 224x224x3 with 9 classes gives 27,168,900, the 27.17M usually
 * reported for Swin-Unet; default width 32 at 128x128x3, 1 class: 3,033,740.
 *
 * Departures from the paper / official code:
 * - Trained from scratch (the paper initialises from ImageNet Swin-T weights).
 * - Decoder depths: the official code builds the decoder stages with the encoder
 *   `depths` reversed (2, 2, 2); its `depths_decoder` argument ([1, 2, 2, 2], config
 *   [2, 2, 2, 1]) is unused. We follow the code: 2 blocks per decoder stage.
 * - Skips carry each encoder stage's input (patch embedding / merge output), as the
 *   code's `forward_features` does (the paper's figure suggests the blocks' output).
 * - Drop path off by default (`dropPathRate` option of `buildSwinUnet`; official
 *   0.1, config 0.2); dropout and attention dropout 0 as in the code.
 * - Channels and heads scale with `width`. The window is chosen per stage (paper / code:
 *   one M for every stage); this equals the single-M result at 224 (7), 64, 128, 96, 160
 *   and only differs for sizes no single M <= 7 tiles (e.g. 288: 6, 6, 6, 3 instead of 3).
 * - Init: official trunc-normal(0.02) for linears and the bias table (seeded);
 *   patch-embedding and head projections use seeded Glorot-uniform (PyTorch's
 *   default conv init in the code). LayerNorm epsilon 1e-5 (PyTorch's).
 * - The 4x4 patch conv is a reshape + matMul (same function; kernel flattened in
 *   (row, col, channel) order), and the relative-bias gather is a one-hot matMul
 *   (same values; gradient on every backend).
 */
import type { ModelSpec } from './types';
import { buildSwinUnet } from './swin-unet/build';

export {
  buildSwinUnet,
  stageWindow,
  swinUnetWindows,
  swinHeads,
  swinUnetPlan,
  windowFits,
  type SwinUnetOptions,
  type SwinStagePlan,
} from './swin-unet/build';

/** Registry entry of Swin-Unet (Cao et al. 2021, arXiv:2105.05537). */
export const swinUnet: ModelSpec = {
  name: 'swin-unet',
  displayName: 'Swin-Unet',
  capabilities: {
    divisibleBy: 32,
    minSize: 32,
    defaultWidth: 32,
    paperWidth: 96,
    split: { twoPart: 'enc1_merge', uShaped: ['enc1_merge', 'dec2_expand'] },
    paper: 'Cao et al. 2021, Swin-Unet: Unet-like Pure Transformer for Medical Image Segmentation, arXiv:2105.05537',
  },
  build(options) {
    return buildSwinUnet(options);
  },
};
