/**
 * The SuperNode loop against an in-memory Fleet API (no Python, no network):
 * replies carry the ids, TTL and node ids the SuperLink checks; a handler
 * that throws (unknown type, missing arrays, bad shapes) yields an error
 * reply and the node keeps answering; transient failures are retried;
 * a SuperLink that forgets the node makes it register again. Also the
 * ArrayRecord <-> model-weights mapping and its error messages.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as grpc from '@grpc/grpc-js';
import { verify } from 'node:crypto';
import { FleetCallError, authMetadata, flowerTimestamp, generateNodeKeys } from '../../src/flower/fleet';
import { FlowerNode, type FleetApi } from '../../src/flower/node';
import { deflateMessage, flatten, float32Array, inflateMessage, treeOf, type FlowerMessage, type FlowerRecord, type RecordDict } from '../../src/flower/objects';
import { fromArrayRecord, toArrayRecord } from '../../src/flower/site-app';
import type { Metadata, ObjectTree, RecordValue, WireMessage } from '../../src/flower/proto';

const NAMES = ['conv/kernel', 'conv/bias'];
const SHAPES = [[2, 2], [2]];
const W = [Float32Array.from([1, 2, 3, 4]), Float32Array.from([0.5, -0.5])];

/** An in-memory SuperLink: queued instructions, stored replies, scripted failures. */
class FakeFleet implements FleetApi {
  queue: { wire: WireMessage; tree: ObjectTree; objects: Map<string, Uint8Array> }[] = [];
  replies: FlowerMessage[] = [];
  pushed = new Map<string, Uint8Array>();
  wireReplies: WireMessage[] = [];
  nextId = 100n;
  registered = 0;
  confirmed: string[] = [];
  /** Calls of these methods fail once with the given status. */
  failOnce = new Map<string, grpc.status>();
  private trees = new Map<string, ObjectTree>();

  private maybeFail(method: string): void {
    const code = this.failOnce.get(method);
    if (code !== undefined) {
      this.failOnce.delete(method);
      throw new FleetCallError(method, code, code === grpc.status.UNAUTHENTICATED ? 'Invalid node ID' : 'connection refused');
    }
  }
  async registerNode() { this.maybeFail('RegisterNode'); this.registered++; return this.nextId; }
  async activateNode() { this.maybeFail('ActivateNode'); return this.nextId++; }
  async deactivateNode() {}
  async unregisterNode() {}
  async heartbeat() { return true; }
  async pullMessages() {
    this.maybeFail('PullMessages');
    const m = this.queue.shift();
    if (!m) return { messages: [], trees: [] };
    for (const [k, v] of m.objects) this.pushed.set(k, v);
    return { messages: [m.wire], trees: [m.tree] };
  }
  async pullObject(_n: bigint, _r: bigint, id: string) {
    const c = this.pushed.get(id);
    return c ? { found: true, available: true, content: c } : { found: false, available: false, content: new Uint8Array(0) };
  }
  async confirmMessageReceived(_n: bigint, _r: bigint, id: string) { this.confirmed.push(id); }
  async pushMessages(_n: bigint, message: WireMessage, tree: ObjectTree) {
    this.maybeFail('PushMessages');
    this.wireReplies.push(message);
    this.trees.set(message.metadata.messageId, tree);
    const ids: string[] = [];
    const walk = (t: ObjectTree) => { t.children.forEach(walk); ids.push(t.objectId); };
    walk(tree);
    return { objectsToPush: ids, sessionId: 'session-1' };
  }
  async pushObject(_n: bigint, _r: bigint, id: string, content: Uint8Array, sessionId: string) {
    assert.is(sessionId, 'session-1');
    this.pushed.set(id, content);
    const root = [...this.trees.keys()].find((k) => k === id);
    if (root) this.replies.push(inflateMessage(root, this.pushed));
    return true;
  }
  close() {}

  /** Queue an instruction from the SuperLink (node 1) to node `dst`. */
  send(type: string, content: RecordDict, dst = 100n): string {
    const metadata: Metadata = { runId: 7n, messageId: '', srcNodeId: 1n, dstNodeId: dst, replyToMessageId: '', groupId: '', createdAt: Date.now() / 1000 - 5, ttl: 3600, messageType: type, srcTaskId: 11n };
    const d = deflateMessage({ metadata, content });
    this.queue.push({ wire: { metadata: { ...metadata, messageId: d.id }, hasContent: true }, tree: treeOf(d), objects: flatten(d) });
    return d.id;
  }
}

const arrays = (names = NAMES, shapes = SHAPES, w = W): FlowerRecord => toArrayRecord(names, shapes, w);
const config = (lr: number): FlowerRecord => ({ kind: 'config', values: new Map<string, RecordValue>([['lr', lr], ['server-round', 1n]]) });

/** A handler shaped like the site app: it checks the arrays and echoes them doubled. */
async function handler(m: FlowerMessage): Promise<RecordDict> {
  if (m.metadata.messageType !== 'train') throw new Error(`unsupported message type '${m.metadata.messageType}' (a medfl node answers 'train' and 'evaluate')`);
  const rec = [...m.content!.values()].find((r) => r.kind === 'array');
  if (!rec || rec.kind !== 'array') throw new Error('the message carries no ArrayRecord');
  const w = fromArrayRecord(rec.arrays, NAMES, SHAPES).map((x) => x.map((v) => v * 2));
  return new Map<string, FlowerRecord>([['arrays', arrays(NAMES, SHAPES, w)], ['metrics', { kind: 'metric', values: new Map([['num-examples', 5n]]) }]]);
}

async function runUntil(node: FlowerNode, fleet: FakeFleet, replies: number): Promise<void> {
  const running = node.run();
  const end = Date.now() + 5000;
  while (fleet.replies.length < replies && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  await node.stop();
  await running;
}

test('reply metadata passes the SuperLink checks; malformed messages get error replies and the node keeps running', async () => {
  const fleet = new FakeFleet();
  const bad1 = fleet.send('query', new Map([['config', config(0.1)]]));
  const bad2 = fleet.send('train', new Map([['config', config(0.1)]]));
  const bad3 = fleet.send('train', new Map([['arrays', arrays(NAMES, [[4], [2]])], ['config', config(0.1)]]));
  const good = fleet.send('train', new Map([['arrays', arrays()], ['config', config(0.1)]]));
  const node = new FlowerNode({ address: 'unused:1', keys: generateNodeKeys(), fleet, handler, pollIntervalMs: 5 });
  await runUntil(node, fleet, 4);
  assert.is(fleet.replies.length, 4);
  const [r1, r2, r3, r4] = fleet.replies;
  assert.match(r1.error!.reason, /unsupported message type 'query'/);
  assert.match(r2.error!.reason, /no ArrayRecord/);
  assert.match(r3.error!.reason, /array 'conv\/kernel' has shape \[4\], the local model's weight has \[2, 2\]/);
  for (const r of [r1, r2, r3]) assert.is(r.error!.code, 2n);
  assert.is(r4.error, undefined);
  const out = r4.content!.get('arrays');
  assert.ok(out && out.kind === 'array');
  if (out.kind === 'array') assert.equal([...fromArrayRecord(out.arrays, NAMES, SHAPES)[1]], [1, -1]);
  // metadata of every reply: ids, nodes, TTL, type, task ids
  const ins = [bad1, bad2, bad3, good];
  fleet.replies.forEach((r, i) => {
    const m = r.metadata;
    assert.is(m.replyToMessageId, ins[i]);
    assert.is(m.srcNodeId, 100n);
    assert.is(m.dstNodeId, 1n);
    assert.is(m.dstTaskId, 11n);
    assert.is(m.srcTaskId, undefined);
    assert.ok(m.ttl > 0 && m.createdAt + m.ttl <= Date.now() / 1000 - 5 + 3600 + 1e-3, 'reply TTL ends with the instruction');
    // the pushed wire message's id is the id of the pushed Message object
    assert.is(fleet.wireReplies[i].metadata.messageId, m.messageId);
  });
  assert.equal(fleet.confirmed, ins);
});

test('transient failures are retried; an unknown node registers again', async () => {
  const fleet = new FakeFleet();
  fleet.failOnce.set('ActivateNode', grpc.status.UNAVAILABLE);
  fleet.failOnce.set('PushMessages', grpc.status.UNAVAILABLE);
  fleet.send('train', new Map([['arrays', arrays()]]), 100n);
  const lines: string[] = [];
  const node = new FlowerNode({ address: 'unused:1', keys: generateNodeKeys(), fleet, handler, pollIntervalMs: 5, backoff: { baseMs: 5, maxMs: 20 }, log: (l) => lines.push(l) });
  const running = node.run();
  const wait = async (cond: () => boolean) => {
    const end = Date.now() + 5000;
    while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  };
  await wait(() => fleet.replies.length === 1);
  assert.is(fleet.replies.length, 1);
  // the SuperLink forgets the node: the next pull is refused, the node registers and activates again
  fleet.failOnce.set('PullMessages', grpc.status.UNAUTHENTICATED);
  await wait(() => fleet.registered >= 2);
  fleet.send('train', new Map([['arrays', arrays()]]), 101n);
  await wait(() => fleet.replies.length === 2);
  await node.stop();
  await running;
  assert.is(fleet.registered, 2);
  assert.is(fleet.replies.length, 2);
  assert.is(fleet.replies[1].metadata.srcNodeId, 101n);
  assert.ok(lines.some((l) => /SuperLink unavailable .*retrying in/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /registering again/.test(l)), lines.join('\n'));
});

test('ArrayRecord <-> weights: round trip, and clear errors for missing / extra names and non-float dtypes', () => {
  const rec = arrays();
  assert.ok(rec.kind === 'array');
  if (rec.kind !== 'array') return;
  const back = fromArrayRecord(rec.arrays, NAMES, SHAPES);
  assert.equal(back.map((x) => [...x]), W.map((x) => [...x]));
  const extra = new Map(rec.arrays);
  extra.delete('conv/bias');
  extra.set('other/bias', float32Array(W[1], [2]));
  assert.throws(() => fromArrayRecord(extra, NAMES, SHAPES), /missing 'conv\/bias'; unexpected 'other\/bias'/);
  const f64 = new Map(rec.arrays);
  f64.set('conv/bias', { ...float32Array(W[1], [2]), dtype: 'int32' });
  assert.throws(() => fromArrayRecord(f64, NAMES, SHAPES), /array 'conv\/bias': dtype 'int32' is not float32 or float64/);
});

test('node auth metadata: P-384 public key PEM, Python-style timestamp, ECDSA-SHA256 signature that verifies', () => {
  const keys = generateNodeKeys();
  assert.match(Buffer.from(keys.publicKeyPem).toString(), /^-----BEGIN PUBLIC KEY-----/);
  assert.is(flowerTimestamp(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678))), '2026-01-02T03:04:05.678000+00:00');
  const md = authMetadata(keys);
  const ts = md.get('flwr-timestamp')[0] as string;
  const sig = md.get('flwr-signature-bin')[0] as Buffer;
  assert.ok(verify('sha256', Buffer.from(ts, 'ascii'), Buffer.from(keys.publicKeyPem).toString(), sig));
  assert.equal(md.get('flwr-public-key-bin')[0], Buffer.from(keys.publicKeyPem));
});

test.run();
