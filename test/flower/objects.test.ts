/**
 * Flower wire objects against golden vectors produced by flwr 1.42.0 itself
 * (flower/tools/make-fixtures.py -> fixtures/golden.json): `.npy` bytes,
 * object bytes and ids of Array / ArrayChunk / ArrayRecord / MetricRecord /
 * ConfigRecord / RecordDict / Message (content and error), the object tree,
 * and inflation back from the objects.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeNpy, encodeNpy } from '../../src/flower/npy';
import {
  arrayValues, deflateArray, deflateMessage, deflateRecord, deflateRecordDict, flatten, float32Array, inflateMessage, objectId, parseObject, treeIds, treeOf,
  type Deflated, type FlowerRecord, type RecordDict,
} from '../../src/flower/objects';
import { decodeConfigRecord, decodeWireMessage, type Metadata } from '../../src/flower/proto';

interface Tree { id: string; children: Tree[] }
const G = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'golden.json'), 'utf8'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const goldenTree = (t: Tree): { objectId: string; children: unknown[] } => ({ objectId: t.id, children: t.children.map(goldenTree) });

function arraysOf(): Map<string, ReturnType<typeof float32Array>> {
  return new Map(G.npy.map((a: { name: string; shape: number[]; values: number[] }) => [a.name, float32Array(Float32Array.from(a.values), a.shape)]));
}

test('flwr version of the fixtures is the pinned one', () => {
  const req = fs.readFileSync(path.join(__dirname, '..', '..', 'flower', 'pyproject.toml'), 'utf8');
  assert.ok(req.includes(`"flwr==${G.flwr}"`), `fixtures made with flwr ${G.flwr}; flower/pyproject.toml pins another version`);
});

test('.npy: encoder writes numpy 2 bytes exactly; decoder reads them back', () => {
  for (const a of G.npy) {
    const enc = encodeNpy(Float32Array.from(a.values), a.shape);
    assert.is(hex(enc), a.npy, a.name);
    const dec = decodeNpy(bytes(a.npy), a.name);
    assert.equal(dec.shape, a.shape);
    assert.equal([...dec.values], [...Float32Array.from(a.values)]);
  }
  // a header that is already 64-aligned before padding still gets numpy's full 64 spaces
  assert.is(hex(encodeNpy(Float32Array.from(G.chunked.values), [40])), G.chunked.npy);
});

test('.npy: float64 payloads (FedAdam\'s server update) are read and rounded to float32 as numpy rounds them', () => {
  const dec = decodeNpy(bytes(G.npy64.npy), 'f64');
  assert.equal(dec.shape, G.npy64.shape);
  assert.equal([...dec.values], [...Float32Array.from(G.npy64.float32)]);
});

test('.npy: other dtypes, truncated data and garbage are clear errors', () => {
  const good = bytes(G.npy[1].npy);
  const i4 = Buffer.from(good).toString('latin1').replace("'<f4'", "'<i4'");
  assert.throws(() => decodeNpy(new Uint8Array(Buffer.from(i4, 'latin1')), 'conv/bias'), /conv\/bias.*dtype '<i4' is not float32/);
  assert.throws(() => decodeNpy(good.subarray(0, good.length - 1), 'x'), /needs 8 data bytes, the payload has 7/);
  assert.throws(() => decodeNpy(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), 'y'), /not a \.npy payload/);
  assert.throws(() => encodeNpy(new Float32Array(3), [2, 2]), /holds 4 values, got 3/);
});

test('Array and ArrayChunk objects: same bytes and ids as flwr', () => {
  const arrays = arraysOf();
  for (const a of G.arrays) {
    const d = deflateArray(arrays.get(a.name)!);
    assert.is(hex(d.content), a.content, a.name);
    assert.is(d.id, a.id);
    assert.equal(d.children.map((c) => [c.id, hex(c.content)]), a.chunks.map((c: { id: string; content: string }) => [c.id, c.content]));
  }
});

test('chunked Array (tiny chunk size): repeated chunks listed once, indexed in arraychunk_ids', () => {
  const c = G.chunked;
  const d = deflateArray(float32Array(Float32Array.from(c.values), [40]), c.chunkSize);
  assert.is(hex(d.content), c.content);
  assert.is(d.id, c.id);
  // flwr lists every slice (duplicates included); the object keeps each once
  const unique = [...new Map(c.chunks.map((x: { id: string }) => [x.id, x])).keys()];
  assert.equal(d.children.map((x) => x.id), unique);
  assert.ok(unique.length < c.chunks.length, 'the fixture must contain a repeated chunk');
});

test('a 6.4 MB array travels as two 5 MiB-bounded chunks and inflates back bit for bit', () => {
  const n = 1_600_000;
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = Math.fround(Math.sin(i) * 1e3);
  const content: RecordDict = new Map<string, FlowerRecord>([['arrays', { kind: 'array', arrays: new Map([['big', float32Array(values, [n])]]) }]]);
  const meta: Metadata = { runId: 1n, messageId: '', srcNodeId: 1n, dstNodeId: 2n, replyToMessageId: '', groupId: '', createdAt: 1767225600, ttl: 60, messageType: 'query' };
  const d = deflateMessage({ metadata: meta, content });
  const objects = flatten(d);
  const chunks = [...objects.values()].filter((c) => parseObject(c).type === 'ArrayChunk');
  assert.is(chunks.length, 2);
  assert.ok(chunks.every((c) => parseObject(c).body.length <= 5 * 1024 * 1024));
  const m = inflateMessage(d.id, objects);
  const big = m.content!.get('arrays');
  assert.ok(big && big.kind === 'array');
  if (big.kind === 'array') assert.ok(Buffer.from(arrayValues(big.arrays.get('big')!, 'big').values.buffer).equals(Buffer.from(values.buffer)));
});

test('ArrayRecord, MetricRecord, ConfigRecord, RecordDict: same bytes and ids as flwr', () => {
  const ar: FlowerRecord = { kind: 'array', arrays: arraysOf() };
  const dAr = deflateRecord(ar);
  assert.is(hex(dAr.content), G.arrayRecord.content);
  assert.is(dAr.id, G.arrayRecord.id);
  const mr: FlowerRecord = { kind: 'metric', values: new Map<string, number | bigint | number[]>([['num-examples', 12n], ['dice', 0.625], ['loss', 0.1], ['big', 2n ** 63n + 5n], ['list', [1.5, 2.5]]]) };
  const dMr = deflateRecord(mr);
  assert.is(hex(dMr.content), G.metricRecord.content);
  assert.is(dMr.id, G.metricRecord.id);
  const cr: FlowerRecord = {
    kind: 'config',
    values: new Map<string, import('../../src/flower/proto').RecordValue>([['server-round', 2n], ['lr', 0.001], ['name', 'site-0'], ['flag', true], ['neg', -3n], ['blob', new Uint8Array([0, 1])], ['many', [1n, 2n, 3n]]]),
  };
  const dCr = deflateRecord(cr);
  assert.is(hex(dCr.content), G.configRecord.content);
  assert.is(dCr.id, G.configRecord.id);
  const rd: RecordDict = new Map<string, FlowerRecord>([['arrays', ar], ['metrics', mr]]);
  const dRd = deflateRecordDict(rd);
  assert.is(hex(dRd.content), G.recordDict.content);
  assert.is(dRd.id, G.recordDict.id);
});

test('ConfigRecord decodes every value type flwr writes', () => {
  const body = parseObject(bytes(G.configRecord.content)).body;
  const cfg = decodeConfigRecord(body);
  assert.equal([...cfg.keys()], ['server-round', 'lr', 'name', 'flag', 'neg', 'blob', 'many']);
  assert.is(cfg.get('server-round'), 2n);
  assert.is(cfg.get('lr'), 0.001);
  assert.is(cfg.get('name'), 'site-0');
  assert.is(cfg.get('flag'), true);
  assert.is(cfg.get('neg'), -3n);
  assert.equal([...(cfg.get('blob') as Uint8Array)], [0, 1]);
  assert.equal(cfg.get('many'), [1n, 2n, 3n]);
});

const replyMeta = (): Metadata => ({
  runId: 42n, messageId: '', srcNodeId: 7n, dstNodeId: 1n, replyToMessageId: G.instruction.id, groupId: '2',
  createdAt: 1767225700.5, ttl: 43100, messageType: 'train', dstTaskId: 9n,
});

test('reply Message: object bytes, message id and object tree equal flwr\'s', () => {
  const content: RecordDict = new Map<string, FlowerRecord>([
    ['arrays', { kind: 'array', arrays: arraysOf() }],
    ['metrics', { kind: 'metric', values: new Map<string, number | bigint | number[]>([['num-examples', 12n], ['dice', 0.625], ['loss', 0.1], ['big', 2n ** 63n + 5n], ['list', [1.5, 2.5]]]) }],
  ]);
  const d = deflateMessage({ metadata: replyMeta(), content });
  assert.is(hex(d.content), G.reply.content);
  assert.is(d.id, G.reply.id);
  assert.equal(treeOf(d), goldenTree(G.reply.tree));
  const err = deflateMessage({ metadata: replyMeta(), error: { code: 2n, reason: "bad shape for 'conv/kernel'" } });
  assert.is(hex(err.content), G.errorReply.content);
  assert.is(err.id, G.errorReply.id);
  assert.is(err.children.length, 0);
});

/** The objects of a golden tree, rebuilt from our own deflation of the same content (ids checked). */
function instructionObjects(): { root: Deflated; objects: Map<string, Uint8Array> } {
  const content: RecordDict = new Map<string, FlowerRecord>([
    ['arrays', { kind: 'array', arrays: arraysOf() }],
    ['config', { kind: 'config', values: decodeConfigRecord(parseObject(bytes(G.configRecord.content)).body) }],
  ]);
  const meta: Metadata = { runId: 42n, messageId: '', srcNodeId: 1n, dstNodeId: 7n, replyToMessageId: '', groupId: '2', createdAt: 1767225600.25, ttl: 43200, messageType: 'train', srcTaskId: 9n };
  const root = deflateMessage({ metadata: meta, content });
  return { root, objects: flatten(root) };
}

test('instruction Message: inflates from its objects with names, shapes, values and config intact', () => {
  const { root, objects } = instructionObjects();
  assert.is(root.id, G.instruction.id);
  assert.equal(treeOf(root), goldenTree(G.instruction.tree));
  assert.equal(treeIds(treeOf(root)), [...objects.keys()]);
  const m = inflateMessage(G.instruction.id, objects);
  assert.is(m.metadata.messageId, G.instruction.id);
  assert.is(m.metadata.messageType, 'train');
  assert.is(m.metadata.srcTaskId, 9n);
  assert.is(m.metadata.dstTaskId, undefined);
  const arrays = m.content!.get('arrays');
  assert.ok(arrays && arrays.kind === 'array');
  if (arrays.kind !== 'array') return;
  for (const a of G.npy) {
    const v = arrayValues(arrays.arrays.get(a.name)!, a.name);
    assert.equal(v.shape, a.shape);
    assert.equal([...v.values], [...Float32Array.from(a.values)]);
  }
  const cfg = m.content!.get('config');
  assert.ok(cfg && cfg.kind === 'config' && cfg.values.get('lr') === 0.001);
});

test('inflation rejects corrupted, missing and mistyped objects', () => {
  const { objects } = instructionObjects();
  const ids = [...objects.keys()];
  const corrupt = new Map(objects);
  const first = new Uint8Array(corrupt.get(ids[0])!);
  first[first.length - 1] ^= 1;
  corrupt.set(ids[0], first);
  assert.throws(() => inflateMessage(G.instruction.id, corrupt), /content hashes to/);
  const missing = new Map(objects);
  missing.delete(ids[0]);
  assert.throws(() => inflateMessage(G.instruction.id, missing), /was not received/);
  assert.throws(() => inflateMessage(G.recordDict.id, new Map([[G.recordDict.id, bytes(G.recordDict.content)]])), /expected a Message, got a RecordDict/);
});

test('object header: parse, and a body length that lies is an error', () => {
  const o = parseObject(bytes(G.recordDict.content));
  assert.is(o.type, 'RecordDict');
  assert.is(o.children.length, 2);
  const bad = Buffer.from(Buffer.from(G.metricRecord.content, 'hex').toString('latin1').replace(/^MetricRecord  (\d+)/, (_m, n) => `MetricRecord  ${Number(n) + 1}`), 'latin1');
  assert.throws(() => parseObject(new Uint8Array(bad), 'x'), /header says \d+ body bytes/);
  assert.is(objectId(bytes(G.metricRecord.content)), G.metricRecord.id);
});

test('wire Message round trip keeps optional task ids and error', () => {
  const body = parseObject(bytes(G.errorReply.content)).body;
  const m = decodeWireMessage(body);
  assert.is(m.metadata.dstTaskId, 9n);
  assert.is(m.metadata.srcTaskId, undefined);
  assert.equal(m.error, { code: 2n, reason: "bad shape for 'conv/kernel'" });
});

test.run();
