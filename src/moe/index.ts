/**
 * M4oE: mixture-of-experts segmentation for several modalities / sources in one
 * network (Jiang & Shen 2024, "M4oE: A Foundation Model for Medical Multimodal
 * Image Segmentation with Mixture of Experts", arXiv:2405.09446, MICCAI 2024;
 * official code github.com/JefferyJiang-YF/M4oE, read from its mirror
 * csyfjiang/M4oE, `networks/swin_transformer_moe_decoder_encoder.py`, `trainer.py`).
 *
 * What the paper describes vs what the released code does (both available):
 * - MoE placement: the MLP of every Swin block, encoder + bottleneck + decoder
 *   (both agree). E = number of datasets / modalities.
 * - Gate (`gate: 'paper'`, default): linear router on each token -> softmax over
 *   the experts -> weighted sum of the experts' outputs; optional top-k with
 *   renormalisation (our addition, off by default).
 * - Gate (`gate: 'code'`): the released `MoEFFN_Gating` is
 *   `softmax(Linear(C, C)(x), dim=-1) * sum_e expert_e(x)`: a softmax over the C
 *   channels multiplying the plain sum of all experts (verified in the file above);
 *   it weighs no expert, so utilization is uniform and top-k / balancing do nothing.
 * - Hard routing (`routing: 'hard'`): the released `MoEFFN_dataset` (each sample
 *   through `experts[dataset_id]`), defined in the code but not wired into its
 *   model; used here for phase 1 (modality-specific expert training).
 * - Heads: one bias-free 1x1 projection per dataset (code's `outputs` ModuleDict);
 *   each sample is scored on its own head only.
 * - Training: paper: experts first trained per modality, then the gating network
 *   is added during fine-tuning; code: one phase, gate always on, loss 0.4 CE + 0.7 Dice,
 *   no auxiliary loss. Here: the paper's two phases with the code's loss, plus an
 *   optional load-balancing loss in phase 2 (`balance: 'cv' | 'switch'`, weight 0.01).
 *
 * For CPU-scale runs the same machinery drives an MoE U-Net (`buildMoeUnet`,
 * experts = parallel double convs, gate on GAP features), not in the paper.
 * Importing this module registers `MedflSwinMoEBlock` and `MedflMoEConvMix`.
 */
export {
  MOE_STAT_GROUPS,
  type BalanceLoss,
  checkTopK,
  topKMask,
  routingWeights,
  argmaxOneHot,
  routingStats,
  fixedRoutingStats,
  splitStats,
  cvSquared,
  loadBalancingLoss,
  modalityOneHot,
} from './gating';
export {
  type MoERouting,
  type MoEGate,
  type SwinMoEBlockArgs,
  SwinMoEBlock,
  registerSwinMoEBlock,
  mixExperts,
  weightSeed,
} from './swin-moe-block';
export { type MoEConvMixArgs, type MoEDoubleConvOptions, MoEConvMix, registerMoEConvMix, moeDoubleConv } from './conv-moe';
export {
  type M4oEModality,
  type M4oEVariant,
  type M4oEModelOptions,
  type M4oESwinOptions,
  MOE_STATS_OUTPUT,
  buildM4oESwin,
  buildMoeUnet,
  moeUnet,
  moeLayers,
  setRouting,
  isGateWeight,
  expertWeights,
  hasMoEStats,
} from './build';
export { type SubsetAdamOptions, SubsetAdam } from './optim';
export {
  type M4oEBuilder,
  type TrainM4oEOptions,
  type M4oEEpochLog,
  type M4oEModalityScore,
  type M4oEEvaluation,
  type M4oEResult,
  type EvaluateM4oEOptions,
  buildForTraining,
  trainM4oE,
  evaluateM4oE,
} from './train';
export { type M4oEComparisonRow, type M4oEComparison, type CompareM4oEOptions, formatComparison, compareM4oE } from './compare';
