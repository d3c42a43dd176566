/**
 * The strategy registry: name -> definition (option schema, label rule,
 * factory). Config validation (`validateExperiment`, `runFederated`) reads
 * the option schemas from here, so a strategy's options are checked before
 * anything trains, and a new strategy is one file plus one line in
 * {@link BUILTIN}; a user's strategy is one {@link registerStrategy} call
 * (or a {@link Strategy} object passed to `runFederated` directly).
 *
 * Every strategy config may also carry `label` (the table / folder label;
 * letters, digits, '.', '_' and '-') and `dp` (a differential-privacy wrapper
 * around update-sending strategies, ./dp-wrapper).
 */
import { checkShape, type Shape } from '../util/schema';
import { centralizedDefinition } from './centralized';
import { localDefinition } from './local';
import { FEDAVG_ALIASES, fedAvgDefinition } from './fedavg';
import { iilDefinition, ciilDefinition } from './sequential';
import { splitFedDefinition } from './splitfed';
import { fedMedianDefinition } from './fedmedian';
import { fedTrimmedAvgDefinition } from './trimmed-avg';
import { krumDefinition } from './krum';
import { DP_SHAPE, withDifferentialPrivacy } from './dp-wrapper';
import { isStrategyObject, type Strategy, type StrategyInit } from './strategy';
import type { DpConfig, StrategyConfig } from './types';

/** How a strategy is described, validated and built. */
export interface StrategyDefinition {
  /** Registry name (`config.strategy.name`). */
  name: string;
  /** One line for usage texts and docs. */
  summary: string;
  /** Its options besides `name`, `label` and `dp` (validated with ../util/schema). */
  options: Shape;
  /** Rounds when the config gives none. Default 3. */
  defaultRounds?: number;
  /** Checks across fields (and against the run's rounds); returns problem messages. */
  check?(options: Record<string, unknown>, run: { rounds?: number }): string[];
  /** Label from the options (default: the name). */
  label?(options: Record<string, unknown>): string;
  /** Whether the `dp` wrapper may wrap it (its clients send weight updates through the default client). Default false. */
  acceptsDp?: boolean;
  /** Build the strategy for one run. */
  create(options: Record<string, unknown>, init: StrategyInit): Strategy;
}

/** The built-in strategies, in the order they are listed. */
const BUILTIN: readonly StrategyDefinition[] = [
  centralizedDefinition,
  localDefinition,
  fedAvgDefinition,
  ...FEDAVG_ALIASES,
  iilDefinition,
  ciilDefinition,
  splitFedDefinition,
  fedMedianDefinition,
  fedTrimmedAvgDefinition,
  krumDefinition,
];

const REGISTRY = new Map<string, StrategyDefinition>(BUILTIN.map((d) => [d.name, d]));

/** A safe label: used as a folder name under the results folder. */
export const LABEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * Register a strategy definition under `def.name`. Registering the same
 * definition object again is a no-op (idempotent, e.g. a notebook cell run
 * twice); another definition under a taken name throws unless `replace`.
 */
export function registerStrategy(def: StrategyDefinition, options: { replace?: boolean } = {}): void {
  if (typeof def?.name !== 'string' || !LABEL_PATTERN.test(def.name)) throw new Error(`registerStrategy: name must match ${LABEL_PATTERN}, got ${JSON.stringify(def?.name)}`);
  if (typeof def.create !== 'function') throw new Error(`registerStrategy('${def.name}'): create must be a function`);
  const old = REGISTRY.get(def.name);
  if (old && old !== def && !options.replace) throw new Error(`registerStrategy: '${def.name}' is already registered (pass { replace: true } to replace it)`);
  REGISTRY.set(def.name, def);
}

/** True for the strategies medfl ships (known in every process, e.g. the grid runner's child processes). */
export function isBuiltinStrategy(name: string): boolean {
  return BUILTIN.some((d) => d.name === name);
}

/** Registered names, built-ins first. */
export function strategyNames(): string[] {
  return [...REGISTRY.keys()];
}

/** The definition of `name`; throws listing the valid names. */
export function strategyDefinition(name: string): StrategyDefinition {
  const d = REGISTRY.get(name);
  if (!d) throw new Error(`unknown strategy ${JSON.stringify(name)}. Valid: ${strategyNames().join(', ')}`);
  return d;
}

const COMMON: Shape = {
  name: { kind: 'string', required: true },
  label: { kind: 'string', doc: 'table / folder label' },
  dp: { kind: 'object', shape: DP_SHAPE, doc: 'differential privacy with fixed clipping' },
};

/**
 * Every problem of one strategy config (unknown name, unknown option, wrong
 * type or range, a bad label, a `dp` block on a strategy that cannot take
 * it), each prefixed with `path` (e.g. 'strategies[2]').
 */
export function checkStrategyConfig(cfg: unknown, path: string, run: { rounds?: number } = {}): string[] {
  const problems: string[] = [];
  if (isStrategyObject(cfg)) return problems;
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) return [`${path}: expected an object like {"name": "fedavg"}`];
  const o = cfg as Record<string, unknown>;
  const def = typeof o.name === 'string' ? REGISTRY.get(o.name) : undefined;
  if (!def) return [`${path}.name: unknown strategy ${JSON.stringify(o.name)}. Valid: ${strategyNames().join(', ')}`];
  checkShape(o, { ...COMMON, ...def.options }, path, problems);
  if (typeof o.label === 'string' && !LABEL_PATTERN.test(o.label)) problems.push(`${path}.label: ${JSON.stringify(o.label)} is not a safe label (letters, digits, '.', '_', '-'; not starting with '.' or '-')`);
  if (o.dp !== undefined && !def.acceptsDp) problems.push(`${path}.dp: strategy '${def.name}' does not send weight updates through the default client; dp applies to ${[...REGISTRY.values()].filter((d) => d.acceptsDp).map((d) => d.name).join(', ')}`);
  if (o.dp && typeof o.dp === 'object') {
    const dp = o.dp as DpConfig;
    if (dp.noise === 'local' && (dp.clipping ?? 'server') !== 'client') problems.push(`${path}.dp: noise 'local' needs clipping 'client' (the client clips, then adds its own noise)`);
  }
  if (problems.length === 0 && def.check) problems.push(...def.check(o, run).map((m) => `${path}: ${m}`));
  return problems;
}

/** Rounds when a config gives none: the strategy's default (1 for 'iil'), else 3. */
export function defaultRounds(cfg: StrategyConfig | Strategy): number {
  if (isStrategyObject(cfg)) return 3;
  return REGISTRY.get(cfg.name)?.defaultRounds ?? 3;
}

/**
 * THE label rule: the config's `label`, else the definition's label rule
 * (e.g. 'splitfed-v1-u-shaped', 'fedavg-prox0.01'), else the name; a `dp`
 * block appends '-dp-<clipping>'. A strategy object: its `name`.
 */
export function strategyLabel(cfg: StrategyConfig | Strategy): string {
  if (isStrategyObject(cfg)) return cfg.name;
  if (typeof cfg.label === 'string') return cfg.label;
  const def = REGISTRY.get(cfg.name);
  const base = def?.label ? def.label(cfg as Record<string, unknown>) : cfg.name;
  return cfg.dp ? `${base}-dp-${cfg.dp.clipping ?? 'server'}` : base;
}

/** Build the strategy a config names (wrapped with DP when `dp` is set), or return a strategy object as it is. */
export function createStrategy(cfg: StrategyConfig | Strategy, init: StrategyInit): Strategy {
  if (isStrategyObject(cfg)) return cfg;
  const problems = checkStrategyConfig(cfg, 'strategy', { rounds: init.config.rounds });
  if (problems.length) throw new Error(`runFederated: invalid strategy config:\n  - ${problems.join('\n  - ')}`);
  const def = strategyDefinition(cfg.name);
  const inner = def.create(cfg as Record<string, unknown>, init);
  return cfg.dp ? withDifferentialPrivacy(inner, cfg.dp, init) : inner;
}
