/**
 * Flower's content-addressed objects (flwr 1.42 `InflatableObject`): how a
 * Message and its records travel through the Fleet API.
 *
 * Every object is `"<Type> <child ids, comma-separated> <body length>" 0x00
 * <body>` and its id is the SHA-256 (hex) of those bytes. The types a
 * medfl node exchanges, with their bodies:
 *
 * - `Message`: the protobuf `Message` with the metadata (its `message_id`
 *   left empty) and the error if any; child: the content `RecordDict`;
 * - `RecordDict`: JSON `{"<record name>": "<record id>", ...}`; children: the records;
 * - `ArrayRecord`: JSON `{"<array name>": "<array id>", ...}`; children: the arrays;
 * - `Array`: JSON `{"dtype", "shape", "stype", "arraychunk_ids"}` where
 *   `arraychunk_ids` indexes the children (the chunks, each listed once);
 * - `ArrayChunk`: a slice of the Array's `.npy` bytes (at most
 *   `FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE`, 5 MiB by default);
 * - `ConfigRecord` / `MetricRecord`: their protobuf message (./proto).
 *
 * Children are listed once each, in order of first appearance (two
 * identical arrays, e.g. two zero biases, are one object). The JSON is
 * written as Python's `json.dumps` writes it (`", "` and `": "` separators,
 * non-ASCII escaped), since ids hash the exact bytes. A Message's id is its
 * object id, which the SuperLink checks against `metadata.message_id`.
 */
import { createHash } from 'node:crypto';
import { decodeConfigRecord, decodeMetricRecord, decodeWireMessage, encodeConfigRecord, encodeMessageBody, encodeMetricRecord, type FlowerError, type Metadata, type ObjectTree, type RecordValue } from './proto';
import { decodeNpy, encodeNpy } from './npy';

/** Flower's default ArrayChunk size (`FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE`, 5 MiB). */
export const DEFAULT_CHUNK_SIZE = 5 * 1024 * 1024;

/** The chunk size in effect: `FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE` when set (as Flower reads it), else 5 MiB. */
export function chunkSizeFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE;
  if (v === undefined || v === '') return DEFAULT_CHUNK_SIZE;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE must be a positive integer, got '${v}'`);
  return n;
}

/** A Flower `Array`: dtype, shape, serialisation type and payload (`.npy` bytes for 'numpy.ndarray'). */
export interface FlowerArray {
  dtype: string;
  shape: number[];
  stype: string;
  data: Uint8Array;
}

/** One record of a RecordDict. */
export type FlowerRecord =
  | { kind: 'array'; arrays: Map<string, FlowerArray> }
  | { kind: 'metric'; values: Map<string, RecordValue> }
  | { kind: 'config'; values: Map<string, RecordValue> };

/** A Message's content: record name -> record, in order. */
export type RecordDict = Map<string, FlowerRecord>;

/** A Message as the application sees it: metadata plus content or error. */
export interface FlowerMessage {
  metadata: Metadata;
  content?: RecordDict;
  error?: FlowerError;
}

/** SHA-256 hex of an object's bytes: its Flower object id. */
export function objectId(content: Uint8Array): string {
  return createHash('sha256').update(content).digest('hex');
}

/** `"<type> <children> <len>\0<body>"`. */
export function withHeader(type: string, childIds: readonly string[], body: Uint8Array): Uint8Array {
  const head = Buffer.from(`${type} ${childIds.join(',')} ${body.length}`, 'utf8');
  const out = new Uint8Array(head.length + 1 + body.length);
  out.set(head, 0);
  out[head.length] = 0;
  out.set(body, head.length + 1);
  return out;
}

/** An object's head values and body (checks the declared body length). */
export function parseObject(content: Uint8Array, id = '?'): { type: string; children: string[]; body: Uint8Array } {
  const nul = content.indexOf(0);
  if (nul < 0) throw new Error(`object ${id}: no header (missing the 0x00 divider)`);
  const head = Buffer.from(content.subarray(0, nul)).toString('utf8').split(' ');
  if (head.length !== 3) throw new Error(`object ${id}: header '${head.join(' ')}' is not '<type> <children> <length>'`);
  const [type, kids, len] = head;
  const body = content.subarray(nul + 1);
  if (Number(len) !== body.length) throw new Error(`object ${id}: header says ${len} body bytes, got ${body.length}`);
  return { type, children: kids ? kids.split(',') : [], body };
}

/** Python's `json.dumps` of a string (ensure_ascii). */
function pyString(s: string): string {
  return JSON.stringify(s).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Python's `json.dumps` of a flat object of strings / numbers / number lists (insertion order). */
function pyJson(entries: readonly [string, string | number | readonly number[]][]): Uint8Array {
  const value = (v: string | number | readonly number[]) => (typeof v === 'string' ? pyString(v) : typeof v === 'number' ? String(v) : `[${v.join(', ')}]`);
  return Buffer.from(`{${entries.map(([k, v]) => `${pyString(k)}: ${value(v)}`).join(', ')}}`, 'utf8');
}

/** A deflated object with its deflated children (each unique child once, first appearance first). */
export interface Deflated {
  id: string;
  content: Uint8Array;
  children: Deflated[];
}

function node(type: string, children: Deflated[], body: Uint8Array): Deflated {
  const unique: Deflated[] = [];
  const seen = new Set<string>();
  for (const c of children) {
    if (!seen.has(c.id)) {
      seen.add(c.id);
      unique.push(c);
    }
  }
  const content = withHeader(type, unique.map((c) => c.id), body);
  return { id: objectId(content), content, children: unique };
}

/** Deflate an Array: its chunks (slices of `data`) and the metadata object. */
export function deflateArray(a: FlowerArray, chunkSize = DEFAULT_CHUNK_SIZE): Deflated {
  const chunks: Deflated[] = [];
  for (let start = 0; start < a.data.length; start += chunkSize) chunks.push(node('ArrayChunk', [], a.data.subarray(start, Math.min(start + chunkSize, a.data.length))));
  const unique = [...new Map(chunks.map((c) => [c.id, c])).keys()];
  const body = pyJson([
    ['dtype', a.dtype],
    ['shape', a.shape],
    ['stype', a.stype],
    ['arraychunk_ids', chunks.map((c) => unique.indexOf(c.id))],
  ]);
  return node('Array', chunks, body);
}

/** Deflate a record (ArrayRecord / MetricRecord / ConfigRecord). */
export function deflateRecord(r: FlowerRecord, chunkSize = DEFAULT_CHUNK_SIZE): Deflated {
  if (r.kind === 'metric') return node('MetricRecord', [], encodeMetricRecord(r.values));
  if (r.kind === 'config') return node('ConfigRecord', [], encodeConfigRecord(r.values));
  const arrays = [...r.arrays].map(([k, a]) => [k, deflateArray(a, chunkSize)] as const);
  return node('ArrayRecord', arrays.map(([, d]) => d), pyJson(arrays.map(([k, d]) => [k, d.id])));
}

/** Deflate a RecordDict. */
export function deflateRecordDict(content: RecordDict, chunkSize = DEFAULT_CHUNK_SIZE): Deflated {
  const records = [...content].map(([k, r]) => [k, deflateRecord(r, chunkSize)] as const);
  return node('RecordDict', records.map(([, d]) => d), pyJson(records.map(([k, d]) => [k, d.id])));
}

/**
 * Deflate a Message (content or error, not both): the message object's id
 * is the message id to put in its metadata.
 */
export function deflateMessage(m: FlowerMessage, chunkSize = DEFAULT_CHUNK_SIZE): Deflated {
  if ((m.content === undefined) === (m.error === undefined)) throw new Error('deflateMessage: a Message carries content or an error (exactly one)');
  const children = m.content ? [deflateRecordDict(m.content, chunkSize)] : [];
  return node('Message', children, encodeMessageBody(m.metadata, m.error));
}

/** The ObjectTree of a deflated object. */
export function treeOf(d: Deflated): ObjectTree {
  return { objectId: d.id, children: d.children.map(treeOf) };
}

/** Every object of a deflated tree, children before parents (the order objects are pushed). */
export function flatten(d: Deflated, out = new Map<string, Uint8Array>()): Map<string, Uint8Array> {
  for (const c of d.children) flatten(c, out);
  if (!out.has(d.id)) out.set(d.id, d.content);
  return out;
}

/** Every object id of a tree, children before parents, each once. */
export function treeIds(t: ObjectTree, out: string[] = [], seen = new Set<string>()): string[] {
  for (const c of t.children) treeIds(c, out, seen);
  if (!seen.has(t.objectId)) {
    seen.add(t.objectId);
    out.push(t.objectId);
  }
  return out;
}

// ---------------------------------------------------------------- inflation

/** Reads objects by id from a map of pulled contents, checking type and children. */
class Inflater {
  constructor(private readonly objects: ReadonlyMap<string, Uint8Array>) {}

  private get(id: string, type: string): { children: string[]; body: Uint8Array } {
    const content = this.objects.get(id);
    if (!content) throw new Error(`${type} ${id} was not received`);
    const o = parseObject(content, id);
    if (o.type !== type) throw new Error(`object ${id}: expected a ${type}, got a ${o.type}`);
    return o;
  }

  private refs(body: Uint8Array, children: readonly string[], what: string): [string, string][] {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body).toString('utf8'));
    } catch (e) {
      throw new Error(`${what}: body is not JSON (${(e as Error).message})`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${what}: body is not a JSON object`);
    const entries = Object.entries(parsed as Record<string, unknown>);
    for (const [k, v] of entries) {
      if (typeof v !== 'string' || !children.includes(v)) throw new Error(`${what}: entry '${k}' refers to ${JSON.stringify(v)}, which is not one of its children`);
    }
    return entries as [string, string][];
  }

  array(id: string, name: string): FlowerArray {
    const { children, body } = this.get(id, 'Array');
    const meta = JSON.parse(Buffer.from(body).toString('utf8')) as { dtype?: unknown; shape?: unknown; stype?: unknown; arraychunk_ids?: unknown };
    if (typeof meta.dtype !== 'string' || typeof meta.stype !== 'string' || !Array.isArray(meta.shape) || !Array.isArray(meta.arraychunk_ids)) {
      throw new Error(`Array '${name}': metadata must have dtype, shape, stype and arraychunk_ids, got ${Buffer.from(body).toString('utf8')}`);
    }
    const parts = (meta.arraychunk_ids as unknown[]).map((i) => {
      if (typeof i !== 'number' || !children[i]) throw new Error(`Array '${name}': chunk index ${JSON.stringify(i)} is not one of its ${children.length} chunks`);
      return this.get(children[i], 'ArrayChunk').body;
    });
    const data = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      data.set(p, o);
      o += p.length;
    }
    return { dtype: meta.dtype, shape: meta.shape as number[], stype: meta.stype, data };
  }

  record(id: string, name: string): FlowerRecord {
    const content = this.objects.get(id);
    if (!content) throw new Error(`record '${name}' (${id}) was not received`);
    const o = parseObject(content, id);
    if (o.type === 'MetricRecord') return { kind: 'metric', values: decodeMetricRecord(o.body) };
    if (o.type === 'ConfigRecord') return { kind: 'config', values: decodeConfigRecord(o.body) };
    if (o.type !== 'ArrayRecord') throw new Error(`record '${name}': unknown record type '${o.type}'`);
    const arrays = new Map<string, FlowerArray>();
    for (const [k, aid] of this.refs(o.body, o.children, `ArrayRecord '${name}'`)) arrays.set(k, this.array(aid, k));
    return { kind: 'array', arrays };
  }

  recordDict(id: string): RecordDict {
    const { children, body } = this.get(id, 'RecordDict');
    const out: RecordDict = new Map();
    for (const [k, rid] of this.refs(body, children, 'RecordDict')) out.set(k, this.record(rid, k));
    return out;
  }

  message(id: string): FlowerMessage {
    const { children, body } = this.get(id, 'Message');
    const wire = decodeWireMessage(body);
    const metadata = { ...wire.metadata, messageId: id };
    if (wire.error) return { metadata, error: wire.error };
    if (children.length !== 1) throw new Error(`Message ${id}: expected one content child, got ${children.length}`);
    return { metadata, content: this.recordDict(children[0]) };
  }
}

/**
 * Rebuild the Message `rootId` from pulled objects (id -> bytes). Every
 * object's bytes must hash to its id; types, children and references are
 * checked. Throws with the offending object or entry named.
 */
export function inflateMessage(rootId: string, objects: ReadonlyMap<string, Uint8Array>): FlowerMessage {
  for (const [id, content] of objects) {
    const actual = objectId(content);
    if (actual !== id) throw new Error(`object ${id}: content hashes to ${actual} (corrupted or wrong object)`);
  }
  return new Inflater(objects).message(rootId);
}

/** A float32 Flower Array (`.npy` payload) from values and shape. */
export function float32Array(values: Float32Array, shape: readonly number[]): FlowerArray {
  return { dtype: 'float32', shape: [...shape], stype: 'numpy.ndarray', data: encodeNpy(values, shape) };
}

/** The values of a float32 (or float64, rounded to float32) Flower Array; throws naming `name` for another dtype / stype or inconsistent shapes. */
export function arrayValues(a: FlowerArray, name: string): { shape: number[]; values: Float32Array } {
  if (a.stype !== 'numpy.ndarray') throw new Error(`array '${name}': stype '${a.stype}' is not 'numpy.ndarray'`);
  if (a.dtype !== 'float32' && a.dtype !== 'float64') throw new Error(`array '${name}': dtype '${a.dtype}' is not float32 or float64`);
  const npy = decodeNpy(a.data, `array '${name}'`);
  if (npy.shape.join(',') !== a.shape.join(',')) throw new Error(`array '${name}': metadata shape [${a.shape.join(', ')}] differs from its .npy shape [${npy.shape.join(', ')}]`);
  return npy;
}
