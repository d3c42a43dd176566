/**
 * The drivers behind `medfl flower node` and `medfl flower weights`: which
 * sites a node serves (the embedded synthetic multi-site data, or the sites
 * of an experiment config), the SuperNode run with clean shutdown on
 * SIGINT / SIGTERM, and the initial weights the ServerApp starts from.
 */
import * as path from 'node:path';
import { syntheticSites } from '../data/synthetic';
import { buildSites, type Site } from '../data/site';
import { loadExperiment } from '../experiment/config';
import { buildExperimentSites } from '../experiment/sites';
import { createModel } from '../models/registry';
import type { ModelConfig } from '../fl/types';
import { generateNodeKeys, loadNodeKeys } from './fleet';
import { FlowerNode } from './node';
import { MedflSiteApp, flowerWeightNames } from './site-app';
import { writeWeightsDir } from './weights-dir';
import { getWeights } from '../models/weights';
import * as fs from 'node:fs';

/** Where a node's sites come from. */
export interface FlowerDataOptions {
  /** 'synthetic' (default: the embedded multi-site generator) or the path of an experiment config (its data, partition and split). */
  data?: string;
  /** Synthetic: sites (default 3), images per site (default 24), image side (default 32), task (default 'polyp'). */
  sites?: number;
  samplesPerSite?: number;
  size?: number;
  task?: 'polyp' | 'lesion';
  /** Seed of the synthetic data and the splits. Default 0. */
  dataSeed?: number;
  /** Synthetic: test fraction of each site. Default 0.25. */
  testFraction?: number;
}

/**
 * Every site of the data a node reads (all nodes of a federation build the
 * same list and each serves one of them). Synthetic: `syntheticSites` +
 * `buildSites` by patient, as the demo builds them.
 */
export async function flowerSites(o: FlowerDataOptions = {}): Promise<Site[]> {
  const data = o.data ?? 'synthetic';
  if (data === 'synthetic') {
    const seed = o.dataSeed ?? 0;
    const ds = syntheticSites({ sites: o.sites ?? 3, samplesPerSite: o.samplesPerSite ?? 24, size: o.size ?? 32, task: o.task ?? 'polyp', seed });
    return buildSites(ds, { testFraction: o.testFraction ?? 0.25, seed, groupKey: 'patientId' });
  }
  if (!fs.existsSync(data)) throw new Error(`--data '${data}': neither 'synthetic' nor an experiment config file`);
  const cfg = loadExperiment(data);
  const built = await buildExperimentSites(
    { data: cfg.datasets[0], partition: cfg.partition, featureShift: cfg.featureShift, oversample: cfg.oversample, split: cfg.split, dataSeed: o.dataSeed ?? cfg.splitSeed },
    path.dirname(path.resolve(data)),
  );
  return built.sites;
}

/** The site named `name` of `sites`; the error lists the valid names. */
export function pickSite(sites: readonly Site[], name: string): Site {
  const s = sites.find((x) => x.name === name);
  if (!s) throw new Error(`--site '${name}': no such site (sites: ${sites.map((x) => x.name).join(', ')})`);
  return s;
}

/** Options of {@link runFlowerNode}. */
export interface FlowerNodeRunOptions extends FlowerDataOptions {
  /** `HOST:PORT` of the SuperLink's Fleet API (gRPC). */
  superlink: string;
  site: string;
  model: Required<Pick<ModelConfig, 'name' | 'inputShape'>> & ModelConfig;
  /** Run seed (model init, default batch-order seed). Default 0. */
  seed?: number;
  /** PEM CA certificate file for TLS; absent: insecure channel. */
  rootCertificates?: string;
  /** PEM private key (P-384) of a registered node; absent: a fresh key pair (self-registration). */
  authPrivateKey?: string;
  heartbeatInterval?: number;
  defaults?: { learningRate?: number; localEpochs?: number; batchSize?: number };
  log: (line: string) => void;
  /** Resolves when the node should stop. Default: SIGINT or SIGTERM. */
  until?: Promise<void>;
}

/** Serve one site as a Flower SuperNode until stopped (see ./node and ./site-app). The tfjs backend must be initialised. */
export async function runFlowerNode(o: FlowerNodeRunOptions): Promise<void> {
  const sites = await flowerSites(o);
  const site = pickSite(sites, o.site);
  const app = MedflSiteApp.create({ site, model: o.model, seed: o.seed, defaults: o.defaults, log: o.log });
  o.log(`[medfl] site '${site.name}': ${site.train.length} train / ${site.test.length} test images; model ${o.model.name} (${app.names.length} weights)`);
  const node = new FlowerNode({
    address: o.superlink,
    rootCertificates: o.rootCertificates ? new Uint8Array(fs.readFileSync(o.rootCertificates)) : undefined,
    keys: o.authPrivateKey ? loadNodeKeys(o.authPrivateKey) : generateNodeKeys(),
    unregisterOnStop: !o.authPrivateKey,
    heartbeatInterval: o.heartbeatInterval,
    handler: (m) => app.handle(m),
    seed: o.seed,
    log: o.log,
  });
  const stop = o.until ?? new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  const running = node.run();
  await Promise.race([stop, running]);
  await node.stop();
  await running.catch(() => undefined);
  await app.close();
}

/** Options of {@link writeInitialWeights}. */
export interface InitialWeightsOptions {
  model: Required<Pick<ModelConfig, 'name' | 'inputShape'>> & ModelConfig;
  /** Seed of the model init (the run seed). Default 0. */
  seed?: number;
  out: string;
}

/**
 * Write the initial weights of `createModel(name, { ...options, seed })`
 * (exactly the weights `runFederated` starts from with that seed) as a
 * weights directory for the ServerApp; returns the number of weights.
 */
export function writeInitialWeights(o: InitialWeightsOptions): number {
  const m = o.model;
  const model = createModel(m.name, { inputShape: m.inputShape, numClasses: m.numClasses ?? 1, outputActivation: m.outputActivation, width: m.width, seed: o.seed ?? 0 });
  try {
    const names = flowerWeightNames(model);
    const values = getWeights(model);
    writeWeightsDir(o.out, names.map((name, i) => ({ name, shape: model.weights[i].shape.map((d) => d ?? 0), values: values[i] })));
    return names.length;
  } finally {
    model.dispose();
  }
}
