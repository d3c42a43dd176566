/**
 * Privacy accounting for medfl's federated engine: site-inference and
 * membership-inference attacks, DP clipping + noise of updates with an RDP
 * accountant, and a DP-FedAvg privacy / utility trade-off runner.
 * See each module for paper references and departures.
 */
export {
  type PrivatizeOptions,
  type PrivatizedUpdate,
  type NoiseOptions,
  type RdpConversion,
  type AccountantOptions,
  type PrivacySpent,
  type ClipNoiseOptions,
  clipAndNoise,
  l2Norm,
  privatizeUpdate,
  addGaussianNoise,
  gaussianRdp,
  rdpToEpsilon,
  computeEpsilon,
  noiseSeed,
  DEFAULT_RDP_ORDERS,
} from './dp';
export { type ProbeOptions, type ProbeModel, trainProbe } from './probe';
export {
  type TapLayer,
  type FeatureOptions,
  type AttackFeatures,
  type SiteInferenceOptions,
  type SiteInferenceReport,
  resolveTapLayer,
  extractAttackFeatures,
  siteInferenceAttack,
} from './site-inference';
export {
  type MemberSource,
  type MembershipOptions,
  type MembershipScores,
  type MembershipReport,
  lossThresholdAttack,
  perSampleLosses,
  membershipInferenceAttack,
} from './membership';
export {
  type NoisePlacement,
  type TradeoffTraining,
  type PrivacyTradeoffOptions,
  type TradeoffRow,
  tradeoffDp,
  privacyTradeoff,
} from './tradeoff';
