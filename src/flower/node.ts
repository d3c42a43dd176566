/**
 * A Flower SuperNode in TypeScript: the Fleet API loop of one site.
 *
 * Lifecycle (flwr 1.42's SuperNode, grpc-rere transport):
 * 1. RegisterNode with the node's public key (self-registration; ignored
 *    when refused, e.g. the key was registered with `flwr supernode register`),
 *    then ActivateNode -> node id, and heartbeats every 0.8 x the interval
 *    on a timer (training runs in a worker thread, so the event loop is free);
 * 2. PullMessages; for a message: PullObject every object of its tree
 *    (retried while the SuperLink has not received it yet), check every
 *    object's SHA-256, inflate, ConfirmMessageReceived;
 * 3. the handler turns the message into reply content (or throws: the reply
 *    then carries a Flower Error, code 2, with the message; the node keeps
 *    running), deflated into objects: PushMessages with the reply's object
 *    tree, then PushObject each object the SuperLink asks for;
 * 4. on stop: DeactivateNode (and UnregisterNode for a self-registered node).
 *
 * Replies pass the SuperLink's checks: message id = object id, source =
 * the instruction's destination, destination = the SuperLink (node 1),
 * `reply_to_message_id`, same group id and message type, `created_at` now and
 * a TTL ending when the instruction's does, task ids swapped.
 *
 * Faults: a transient gRPC failure (UNAVAILABLE, DEADLINE_EXCEEDED: the
 * SuperLink is down or restarting) is retried with exponential backoff
 * (base x 2^k, capped, with seeded jitter); a SuperLink that no longer
 * knows the node (UNAUTHENTICATED, or a heartbeat answered `false`, e.g.
 * after a restart with in-memory state) makes the node register and
 * activate again.
 */
import { createRng } from '../util/rng';
import { FleetCallError, FleetClient, type FleetClientOptions } from './fleet';
import { DEFAULT_CHUNK_SIZE, deflateMessage, flatten, inflateMessage, treeIds, treeOf, type FlowerMessage, type RecordDict } from './objects';
import type { Metadata, ObjectTree, WireMessage } from './proto';

/** The SuperLink's node id (destination of every reply). */
export const SUPERLINK_NODE_ID = 1n;
/** Flower's ErrorCode.CLIENT_APP_RAISED_EXCEPTION. */
export const CLIENT_APP_RAISED_EXCEPTION = 2n;

/** The Fleet calls a node makes ({@link FleetClient}'s public surface). */
export type FleetApi = Pick<FleetClient, 'registerNode' | 'activateNode' | 'deactivateNode' | 'unregisterNode' | 'heartbeat' | 'pullMessages' | 'pullObject' | 'confirmMessageReceived' | 'pushMessages' | 'pushObject' | 'close'>;

/** Turns an instruction into reply content; throw to reply with an error. */
export type MessageHandler = (message: FlowerMessage) => Promise<RecordDict>;

/** Options of {@link FlowerNode}. */
export interface FlowerNodeOptions extends FleetClientOptions {
  handler: MessageHandler;
  /** The Fleet API to talk to. Default: a {@link FleetClient} of `address` (tests pass an in-memory one). */
  fleet?: FleetApi;
  /** Seconds between heartbeats the SuperLink expects, in [10, 1800]. Default 30 (Flower's). */
  heartbeatInterval?: number;
  /** Milliseconds between PullMessages calls when idle. Default 1000. */
  pollIntervalMs?: number;
  /** Backoff of transient failures: first wait and cap in ms. Default 1000 and 30000. */
  backoff?: { baseMs?: number; maxMs?: number };
  /** Seed of the backoff jitter. Default 0. */
  seed?: number;
  /** Bytes per ArrayChunk of replies. Default 5 MiB (Flower's). */
  chunkSize?: number;
  /** Unregister the node on {@link FlowerNode.stop} (a self-registered node with a throw-away key; Flower's SuperNode does the same). Default false. */
  unregisterOnStop?: boolean;
  /** Progress lines. Default silent. */
  log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One medfl site as a Flower SuperNode (see the module comment). */
export class FlowerNode {
  private readonly fleet: FleetApi;
  private readonly interval: number;
  private readonly log: (line: string) => void;
  private readonly jitter: ReturnType<typeof createRng>;
  private nodeId: bigint | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  /** Replies sent (for logs and tests). */
  handled = 0;

  constructor(private readonly options: FlowerNodeOptions) {
    const hb = options.heartbeatInterval ?? 30;
    if (!(hb >= 10 && hb <= 1800)) throw new Error(`FlowerNode: heartbeatInterval must be in [10, 1800] s (the SuperLink's bounds), got ${hb}`);
    this.interval = hb;
    this.fleet = options.fleet ?? new FleetClient(options);
    this.log = options.log ?? (() => {});
    this.jitter = createRng(`flower-node-backoff|${options.seed ?? 0}`);
  }

  /** The node id while activated, else null. */
  get id(): bigint | null {
    return this.nodeId;
  }

  /** Sleep `ms`, or less when stopped. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  /** Run `fn` until it succeeds, retrying transient failures with backoff; other errors propagate. */
  private async retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const base = this.options.backoff?.baseMs ?? 1000;
    const max = this.options.backoff?.maxMs ?? 30_000;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof FleetCallError) || !e.transient || this.stopped) throw e;
        const wait = Math.min(max, base * 2 ** attempt) * (0.8 + 0.4 * this.jitter.next());
        this.log(`[flower] ${what}: SuperLink unavailable (${e.details}); retrying in ${(wait / 1000).toFixed(1)} s`);
        await this.pause(wait);
        if (this.stopped) throw e;
      }
    }
  }

  /** Register (when allowed) and activate; start the heartbeat timer. */
  private async connect(): Promise<bigint> {
    await this.retry('RegisterNode', async () => {
      try {
        await this.fleet.registerNode();
      } catch (e) {
        if (e instanceof FleetCallError && e.transient) throw e;
        // Already registered (same key) or registration disabled: ActivateNode decides.
      }
    });
    const id = await this.retry('ActivateNode', () => this.fleet.activateNode(this.interval));
    this.nodeId = id;
    this.log(`[flower] activated as node ${id} (heartbeat every ${this.interval} s)`);
    this.startHeartbeat(id);
    return id;
  }

  private startHeartbeat(id: bigint): void {
    this.stopHeartbeat();
    const beat = async () => {
      if (this.nodeId !== id || this.stopped) return;
      try {
        const ok = await this.fleet.heartbeat(id, this.interval);
        if (!ok && this.nodeId === id) {
          this.log('[flower] the SuperLink does not recognise this node any more; reconnecting');
          this.nodeId = null;
        }
      } catch (e) {
        if (e instanceof FleetCallError && e.unknownNode && this.nodeId === id) {
          this.log(`[flower] heartbeat refused (${e.details}); reconnecting`);
          this.nodeId = null;
        }
        // transient: the next beat tries again
      }
    };
    this.heartbeat = setInterval(() => void beat(), this.interval * 800);
    this.heartbeat.unref?.();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  /** Pull every object of `tree` (children first), waiting for ones the SuperLink has not received yet. */
  private async pullObjects(id: bigint, runId: bigint, tree: ObjectTree): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    for (const oid of treeIds(tree)) {
      for (let tries = 0; ; tries++) {
        const r = await this.retry('PullObject', () => this.fleet.pullObject(id, runId, oid));
        if (!r.found) throw new Error(`object ${oid} of message ${tree.objectId} is not on the SuperLink`);
        if (r.available) {
          out.set(oid, r.content);
          break;
        }
        if (tries >= 500) throw new Error(`object ${oid} of message ${tree.objectId} never became available`);
        await sleep(100);
      }
    }
    return out;
  }

  /** The reply's metadata (see the module comment). */
  private static replyMetadata(ins: Metadata): Metadata {
    const now = Date.now() / 1000;
    return {
      runId: ins.runId,
      messageId: '',
      srcNodeId: ins.dstNodeId,
      dstNodeId: ins.srcNodeId || SUPERLINK_NODE_ID,
      replyToMessageId: ins.messageId,
      groupId: ins.groupId,
      createdAt: now,
      ttl: ins.createdAt + ins.ttl - now,
      messageType: ins.messageType,
      ...(ins.dstTaskId !== undefined ? { srcTaskId: ins.dstTaskId } : {}),
      ...(ins.srcTaskId !== undefined ? { dstTaskId: ins.srcTaskId } : {}),
    };
  }

  private async push(id: bigint, reply: FlowerMessage, runtime: number): Promise<void> {
    const d = deflateMessage(reply, this.options.chunkSize ?? DEFAULT_CHUNK_SIZE);
    const metadata = { ...reply.metadata, messageId: d.id };
    const wire: WireMessage = { metadata, hasContent: reply.content !== undefined, ...(reply.error ? { error: reply.error } : {}) };
    const tree = treeOf(d);
    const { objectsToPush, sessionId } = await this.retry('PushMessages', () => this.fleet.pushMessages(id, wire, tree, runtime));
    const wanted = new Set(objectsToPush);
    for (const [oid, content] of flatten(d)) {
      if (!wanted.has(oid)) continue;
      await this.retry('PushObject', () => this.fleet.pushObject(id, metadata.runId, oid, content, sessionId));
    }
  }

  /** Receive, handle and answer one pulled message. */
  private async process(id: bigint, wire: WireMessage, tree: ObjectTree): Promise<void> {
    const ins = wire.metadata;
    const t0 = Date.now();
    const label = `'${ins.messageType}'${ins.groupId ? ` (group ${ins.groupId})` : ''}`;
    this.log(`[flower] received ${label}, message ${ins.messageId.slice(0, 12)}`);
    let reply: FlowerMessage;
    try {
      if (tree.objectId !== ins.messageId) throw new Error(`message id ${ins.messageId} differs from its object tree's root ${tree.objectId}`);
      let message: FlowerMessage;
      try {
        message = inflateMessage(ins.messageId, await this.pullObjects(id, ins.runId, tree));
      } finally {
        await this.retry('ConfirmMessageReceived', () => this.fleet.confirmMessageReceived(id, ins.runId, ins.messageId)).catch((e: Error) => this.log(`[flower] confirm failed: ${e.message}`));
      }
      const content = await this.options.handler(message);
      reply = { metadata: FlowerNode.replyMetadata(ins), content };
    } catch (e) {
      if (e instanceof FleetCallError && e.unknownNode) throw e;
      const reason = e instanceof Error ? e.message : String(e);
      this.log(`[flower] '${ins.messageType}' failed, replying with an error: ${reason}`);
      reply = { metadata: FlowerNode.replyMetadata(ins), error: { code: CLIENT_APP_RAISED_EXCEPTION, reason } };
    }
    await this.push(id, reply, (Date.now() - t0) / 1000);
    this.handled++;
    this.log(`[flower] replied to ${label} in ${((Date.now() - t0) / 1000).toFixed(1)} s${reply.error ? ' with an error' : ''}`);
  }

  /** Run until {@link stop}: connect, then pull and answer messages (see the module comment). */
  async run(): Promise<void> {
    const poll = this.options.pollIntervalMs ?? 1000;
    while (!this.stopped) {
      try {
        const id = this.nodeId ?? (await this.connect());
        const { messages, trees } = await this.retry('PullMessages', () => this.fleet.pullMessages(id));
        if (messages.length === 0 || trees.length === 0) {
          await this.pause(poll);
          continue;
        }
        await this.process(id, messages[0], trees[0]);
      } catch (e) {
        if (this.stopped) break;
        if (e instanceof FleetCallError && e.unknownNode) {
          this.log(`[flower] ${e.message}; registering again`);
          this.nodeId = null;
          this.stopHeartbeat();
          continue;
        }
        this.log(`[flower] error: ${e instanceof Error ? e.message : String(e)}; continuing`);
        await this.pause(poll);
      }
    }
  }

  /** Stop the loop, deactivate the node (best effort) and close the channel. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopHeartbeat();
    this.wake?.();
    const id = this.nodeId;
    this.nodeId = null;
    if (id !== null) {
      try {
        await this.fleet.deactivateNode(id);
        this.log(`[flower] deactivated node ${id}`);
        if (this.options.unregisterOnStop) await this.fleet.unregisterNode(id);
      } catch {
        // the SuperLink may already be gone
      }
    }
    this.fleet.close();
  }
}
