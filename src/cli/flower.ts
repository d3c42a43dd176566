/**
 * `medfl flower node|weights`: a medfl site as a Flower SuperNode
 * ({@link runFlowerNode}), and the initial weights the ServerApp in
 * `flower/` starts from ({@link writeInitialWeights}).
 */
import { UsageError, choice, defineCommand, int, number, string } from './args';
import { initBackend, type BackendName } from '../backend';
import { runFlowerNode, writeInitialWeights } from '../flower/command';

const BACKENDS = ['wasm', 'cpu', 'tensorflow'] as const satisfies readonly BackendName[];

/** The `flower` command. */
export const flowerCommand = defineCommand({
  name: 'flower',
  summary: 'join a Flower SuperLink as a SuperNode serving one site (node), or write the initial weights for the ServerApp (weights)',
  positionals: { name: '<node|weights>', help: "'node': run a SuperNode; 'weights': write the model's initial weights (index.json + .npy) to --out" },
  description: [
    'node:    medfl flower node --superlink HOST:PORT --site NAME [--data synthetic|EXPERIMENT.json] [--root-certificates CA.pem] [--auth-private-key KEY.pem]',
    'weights: medfl flower weights --out DIR (same --model/--width/--size/--classes/--seed as the nodes)',
    'The ServerApp (flower/) runs Flower\'s FedAvg, FedProx or FedAdam; see README "Across machines".',
  ].join('\n'),
  options: {
    superlink: string("the SuperLink's Fleet API (gRPC)", { metavar: 'HOST:PORT' }),
    site: string('the site this node serves (e.g. site-0)', { metavar: 'NAME' }),
    data: string("'synthetic' (embedded multi-site data) or an experiment config whose data, partition and split give the sites", { metavar: 'SRC', defaultHelp: 'synthetic' }),
    sites: int('synthetic: number of sites', { min: 1, defaultHelp: '3' }),
    samples: int('synthetic: images per site', { min: 1, defaultHelp: '24' }),
    size: int('image side in pixels (square); also the model input', { min: 1, default: 32 }),
    'data-seed': int('seed of the synthetic data and the splits', { min: 0, defaultHelp: '0' }),
    model: string('zoo architecture (see `medfl zoo`)', { metavar: 'NAME', default: 'unet' }),
    width: int('model width (base channels)', { min: 1, default: 4 }),
    classes: int('output channels (1: binary mask)', { min: 1, default: 1 }),
    channels: int('image channels', { min: 1, default: 3 }),
    seed: int('run seed: model init and batch order (a ConfigRecord "seed" wins)', { min: 0, default: 0 }),
    lr: number('learning rate when the ConfigRecord has no "lr"', { gt: 0, defaultHelp: '1e-3' }),
    'root-certificates': string('PEM CA certificate of the SuperLink (TLS); without it the channel is insecure', { metavar: 'FILE' }),
    'auth-private-key': string("PEM P-384 private key of a node registered with 'flwr supernode register' (default: a fresh key, self-registration)", { metavar: 'FILE' }),
    'heartbeat-interval': number('seconds between heartbeats the SuperLink expects (10..1800)', { min: 10, max: 1800, default: 30 }),
    out: string('weights: directory to write', { metavar: 'DIR' }),
    backend: choice(BACKENDS, 'force the engine', { defaultHelp: 'env MEDFL_BACKEND, else the fastest available' }),
  },
  async run({ values: v, positionals }, io) {
    const action = positionals[0];
    const model = { name: v.model, inputShape: [v.size, v.size, v.channels] as [number, number, number], numClasses: v.classes, width: v.width };
    if (action === 'weights') {
      if (!v.out) throw new UsageError('weights: --out DIR is required');
      await initBackend(v.backend, { log: () => {} });
      const n = writeInitialWeights({ model, seed: v.seed, out: v.out });
      io.log(`wrote ${n} initial weights of ${v.model} (width ${v.width}, input ${model.inputShape.join('x')}, seed ${v.seed}) to ${v.out}`);
      return 0;
    }
    if (action !== 'node') throw new UsageError(`unknown action '${action}' (valid: node, weights)`);
    if (!v.superlink) throw new UsageError('node: --superlink HOST:PORT is required');
    if (!v.site) throw new UsageError('node: --site NAME is required');
    if (!/^[^\s:]+:\d+$/.test(v.superlink) && !/^\[[^\]]+\]:\d+$/.test(v.superlink)) throw new UsageError(`--superlink must be HOST:PORT, got '${v.superlink}'`);
    await initBackend(v.backend, { log: io.error });
    await runFlowerNode({
      superlink: v.superlink,
      site: v.site,
      data: v.data,
      sites: v.sites,
      samplesPerSite: v.samples,
      size: v.size,
      dataSeed: v['data-seed'],
      model,
      seed: v.seed,
      rootCertificates: v['root-certificates'],
      authPrivateKey: v['auth-private-key'],
      heartbeatInterval: v['heartbeat-interval'],
      defaults: v.lr !== undefined ? { learningRate: v.lr } : undefined,
      log: io.log,
    });
    return 0;
  },
});
