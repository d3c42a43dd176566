/**
 * A gRPC client of Flower's Fleet API (service `flwr.proto.Fleet`, the
 * "grpc-rere" transport) with SuperNode authentication.
 *
 * Node authentication (required by the SuperLink's interceptor on every
 * Fleet call, even with `--insecure`): the node holds an EC P-384 key pair;
 * each call carries the metadata `flwr-public-key-bin` (the public key,
 * PEM SubjectPublicKeyInfo), `flwr-timestamp` (the current UTC time,
 * ISO 8601 with microseconds and `+00:00`) and `flwr-signature-bin` (an
 * ECDSA-SHA256 signature, DER, of the timestamp's ASCII bytes). The
 * SuperLink accepts timestamps up to 5 s ahead and 305 s behind its clock.
 *
 * Message sizes: the channel sends and receives up to 2 GiB - 1 per
 * message (Flower's GRPC_MAX_MESSAGE_LENGTH), so models beyond gRPC's 4 MiB
 * default work; arrays also travel in 5 MiB chunks (./objects).
 */
import * as fs from 'node:fs';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type * as Grpc from '@grpc/grpc-js';
import {
  decodeBoolResponse, decodeNodeIdResponse, decodePullMessages, decodePullObject, decodePushMessages, encodeActivateNode, encodeHeartbeat, encodeNodeIdRequest,
  encodeObjectRef, encodePullMessages, encodePushMessages, encodePushObject, encodeRegisterNode, type ObjectTree, type WireMessage,
} from './proto';

/** @grpc/grpc-js, loaded on first use (keeps `require('medfl')` fast for everyone who never joins a Flower federation). */
let grpcModule: typeof Grpc | undefined;
const grpcLib = (): typeof Grpc => (grpcModule ??= require('@grpc/grpc-js') as typeof Grpc);

/** Flower's GRPC_MAX_MESSAGE_LENGTH (2 GiB - 1). */
export const GRPC_MAX_MESSAGE_LENGTH = 2_147_483_647;

/** A SuperNode's identity: its P-384 private key and the PEM of its public key. */
export interface NodeKeys {
  privateKey: KeyObject;
  /** SubjectPublicKeyInfo PEM bytes, as Flower's `public_key_to_bytes` writes them. */
  publicKeyPem: Uint8Array;
}

/** A fresh P-384 (secp384r1) key pair (what a self-registering Flower SuperNode uses). */
export function generateNodeKeys(): NodeKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  return { privateKey, publicKeyPem: Buffer.from(publicKey.export({ type: 'spki', format: 'pem' })) };
}

/**
 * The keys of a registered SuperNode from its private key file (PEM,
 * PKCS#8 or SEC1 `EC PRIVATE KEY`); the public key is derived from it.
 * Throws naming the file when it is not a P-384 EC key.
 */
export function loadNodeKeys(file: string): NodeKeys {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(fs.readFileSync(file));
  } catch (e) {
    throw new Error(`node key '${file}': not a PEM private key (${(e as Error).message}); write one with: openssl ecparam -name secp384r1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out ${file}`);
  }
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  if (privateKey.asymmetricKeyType !== 'ec' || curve !== 'secp384r1') throw new Error(`node key '${file}': expected an EC P-384 (secp384r1) key, got ${privateKey.asymmetricKeyType}${curve ? ` ${curve}` : ''}`);
  return { privateKey, publicKeyPem: Buffer.from(createPublicKey(privateKey).export({ type: 'spki', format: 'pem' })) };
}

/** UTC now as Python's `datetime.now(tz=UTC).isoformat()` writes it (microseconds, `+00:00`). */
export function flowerTimestamp(date = new Date()): string {
  return date.toISOString().replace('Z', '000+00:00');
}

/** The three authentication metadata entries of one Fleet call. */
export function authMetadata(keys: NodeKeys, date = new Date()): Grpc.Metadata {
  const ts = flowerTimestamp(date);
  const md = new (grpcLib().Metadata)();
  md.set('flwr-public-key-bin', Buffer.from(keys.publicKeyPem));
  md.set('flwr-timestamp', ts);
  md.set('flwr-signature-bin', sign('sha256', Buffer.from(ts, 'ascii'), keys.privateKey));
  return md;
}

/** A failed Fleet call: the gRPC status code and details, with the method named. */
export class FleetCallError extends Error {
  override name = 'FleetCallError';
  constructor(
    readonly method: string,
    readonly code: Grpc.status,
    readonly details: string,
  ) {
    super(`Fleet.${method} failed: ${grpcLib().status[code] ?? code}: ${details}`);
  }
  /** The SuperLink is unreachable or restarting (retry with backoff). */
  get transient(): boolean {
    return this.code === grpcLib().status.UNAVAILABLE || this.code === grpcLib().status.DEADLINE_EXCEEDED || this.code === grpcLib().status.CANCELLED;
  }
  /** The SuperLink does not know this node (e.g. it restarted with a fresh state): register and activate again. */
  get unknownNode(): boolean {
    return this.code === grpcLib().status.UNAUTHENTICATED || (this.code === grpcLib().status.PERMISSION_DENIED && /node/i.test(this.details));
  }
}

/** Options of {@link FleetClient}. */
export interface FleetClientOptions {
  /** `HOST:PORT` of the SuperLink's Fleet API. */
  address: string;
  /** PEM CA certificates for TLS; undefined: insecure (plain-text) channel. */
  rootCertificates?: Uint8Array;
  keys: NodeKeys;
  /** Deadline of one call in ms. Default 60000 (object transfers of large models included). */
  callTimeoutMs?: number;
}

const IDENTITY = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
const RAW = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** Typed calls of the Fleet service (one unary gRPC call each; no retries here, see ./node). */
export class FleetClient {
  private readonly client: Grpc.Client;
  private readonly timeout: number;

  constructor(private readonly options: FleetClientOptions) {
    const creds = options.rootCertificates ? grpcLib().credentials.createSsl(Buffer.from(options.rootCertificates)) : grpcLib().credentials.createInsecure();
    this.client = new (grpcLib().Client)(options.address, creds, {
      'grpc.max_receive_message_length': GRPC_MAX_MESSAGE_LENGTH,
      'grpc.max_send_message_length': GRPC_MAX_MESSAGE_LENGTH,
      'grpc.initial_reconnect_backoff_ms': 500,
      'grpc.max_reconnect_backoff_ms': 5000,
    });
    this.timeout = options.callTimeoutMs ?? 60_000;
  }

  private call(method: string, request: Uint8Array, timeoutMs = this.timeout): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(`/flwr.proto.Fleet/${method}`, IDENTITY, RAW, request, authMetadata(this.options.keys), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(new FleetCallError(method, err.code ?? grpcLib().status.UNKNOWN, err.details ?? err.message));
        else resolve(res as Uint8Array);
      });
    });
  }

  /** RegisterNode (self-registration; refused by a SuperLink with `--enable-supernode-auth`). */
  async registerNode(): Promise<bigint> {
    return decodeNodeIdResponse(await this.call('RegisterNode', encodeRegisterNode(this.options.keys.publicKeyPem)));
  }
  /** ActivateNode: the node id of this public key, online with `heartbeatInterval` (s, 10..1800). */
  async activateNode(heartbeatInterval: number): Promise<bigint> {
    return decodeNodeIdResponse(await this.call('ActivateNode', encodeActivateNode(this.options.keys.publicKeyPem, heartbeatInterval)));
  }
  async deactivateNode(nodeId: bigint): Promise<void> {
    await this.call('DeactivateNode', encodeNodeIdRequest(nodeId), 5_000);
  }
  /** UnregisterNode (what a self-registered Flower SuperNode does when it exits). */
  async unregisterNode(nodeId: bigint): Promise<void> {
    await this.call('UnregisterNode', encodeNodeIdRequest(nodeId), 5_000);
  }
  /** SendNodeHeartbeat: false when the SuperLink does not recognise the node. */
  async heartbeat(nodeId: bigint, heartbeatInterval: number): Promise<boolean> {
    return decodeBoolResponse(await this.call('SendNodeHeartbeat', encodeHeartbeat(nodeId, heartbeatInterval), 5_000));
  }
  async pullMessages(nodeId: bigint): Promise<{ messages: WireMessage[]; trees: ObjectTree[] }> {
    return decodePullMessages(await this.call('PullMessages', encodePullMessages(nodeId)));
  }
  async pullObject(nodeId: bigint, runId: bigint, objectId: string): Promise<{ found: boolean; available: boolean; content: Uint8Array }> {
    return decodePullObject(await this.call('PullObject', encodeObjectRef(nodeId, runId, objectId)));
  }
  async confirmMessageReceived(nodeId: bigint, runId: bigint, messageId: string): Promise<void> {
    await this.call('ConfirmMessageReceived', encodeObjectRef(nodeId, runId, messageId));
  }
  async pushMessages(nodeId: bigint, message: WireMessage, tree: ObjectTree, runtime: number): Promise<{ objectsToPush: string[]; sessionId: string }> {
    return decodePushMessages(await this.call('PushMessages', encodePushMessages(nodeId, message, tree, runtime)));
  }
  async pushObject(nodeId: bigint, runId: bigint, objectId: string, content: Uint8Array, sessionId: string): Promise<boolean> {
    return decodeBoolResponse(await this.call('PushObject', encodePushObject(nodeId, runId, objectId, content, sessionId)));
  }

  close(): void {
    this.client.close();
  }
}
