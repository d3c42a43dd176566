/**
 * Minimal protobuf codecs of the Flower messages a medfl SuperNode uses
 * (package `flwr.proto`, flwr 1.42): the Fleet service's requests and
 * responses, `Message` / `Metadata` / `Error` / `ObjectTree`, and the
 * bodies of `ConfigRecord` / `MetricRecord` objects. Written by hand from
 * the names and field numbers of Flower's `.proto` files (printed from the
 * installed `flwr/proto/*_pb2.py` descriptors), on top of the wire
 * reader / writer of `@bufbuild/protobuf`.
 *
 * Encoding follows protobuf's deterministic serialization: fields in
 * field-number order, proto3 scalars left out when they hold their default
 * (0, "", false, empty bytes), `optional` fields written whenever present.
 * A message's object id is the SHA-256 of bytes that contain this
 * encoding, so it must match Python's `SerializeToString(deterministic=True)`
 * byte for byte (the golden vectors in test/flower/fixtures check it).
 *
 * 64-bit integers (node ids, run ids, sint64 / uint64 record values) are
 * `bigint`; doubles are `number`. Unknown fields are skipped on decode.
 */
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

/** `flwr.proto.Metadata` (message.proto). */
export interface Metadata {
  runId: bigint;
  /** The message's object id (SHA-256 hex); '' while it is being computed. */
  messageId: string;
  srcNodeId: bigint;
  dstNodeId: bigint;
  replyToMessageId: string;
  /** The round as the ServerApp numbers it ('1', '2', ...), or ''. */
  groupId: string;
  /** Seconds the message lives after `createdAt`. */
  ttl: number;
  /** 'train', 'evaluate', 'query', 'system', or '<type>.<action>'. */
  messageType: string;
  /** Unix time in seconds (fractional). */
  createdAt: number;
  /** `optional uint64` (absent: undefined). */
  srcTaskId?: bigint;
  dstTaskId?: bigint;
}

/** `flwr.proto.Error`: a reply that carries no content. */
export interface FlowerError {
  /** Flower's `ErrorCode` (2: CLIENT_APP_RAISED_EXCEPTION). */
  code: bigint;
  reason: string;
}

/**
 * `flwr.proto.Message` as the Fleet API carries it: the content travels as
 * objects, so `content` is only a flag (an empty `RecordDict` on the wire).
 */
export interface WireMessage {
  metadata: Metadata;
  /** True when the `content` field is present (an empty RecordDict). */
  hasContent: boolean;
  error?: FlowerError;
}

/** `flwr.proto.ObjectTree`: an object id and the trees of its children. */
export interface ObjectTree {
  objectId: string;
  children: ObjectTree[];
}

/** A ConfigRecord / MetricRecord value: double -> number, sint64 / uint64 -> bigint. */
export type RecordScalar = number | bigint | boolean | string | Uint8Array;
/** One value of a record (a scalar or a homogeneous list). */
export type RecordValue = RecordScalar | number[] | bigint[] | boolean[] | string[] | Uint8Array[];

const INT64_MAX = (1n << 63n) - 1n;

// ---------------------------------------------------------------- writers

type Writer = BinaryWriter;

function wString(w: Writer, field: number, v: string): void {
  if (v !== '') w.tag(field, WireType.LengthDelimited).string(v);
}
function wBytes(w: Writer, field: number, v: Uint8Array): void {
  if (v.length > 0) w.tag(field, WireType.LengthDelimited).bytes(v);
}
function wUint64(w: Writer, field: number, v: bigint): void {
  if (v !== 0n) w.tag(field, WireType.Varint).uint64(v);
}
function wDouble(w: Writer, field: number, v: number): void {
  if (v !== 0 || Object.is(v, -0)) w.tag(field, WireType.Bit64).double(v);
}
function wMessage(w: Writer, field: number, write: (w: Writer) => void): void {
  w.tag(field, WireType.LengthDelimited).fork();
  write(w);
  w.join();
}
function encode(write: (w: Writer) => void): Uint8Array {
  const w = new BinaryWriter();
  write(w);
  return w.finish();
}

function writeNode(w: Writer, field: number, nodeId: bigint): void {
  wMessage(w, field, (m) => wUint64(m, 1, nodeId));
}

function writeMetadata(w: Writer, m: Metadata): void {
  wUint64(w, 1, m.runId);
  wString(w, 2, m.messageId);
  wUint64(w, 3, m.srcNodeId);
  wUint64(w, 4, m.dstNodeId);
  wString(w, 5, m.replyToMessageId);
  wString(w, 6, m.groupId);
  wDouble(w, 7, m.ttl);
  wString(w, 8, m.messageType);
  wDouble(w, 9, m.createdAt);
  if (m.srcTaskId !== undefined) w.tag(10, WireType.Varint).uint64(m.srcTaskId);
  if (m.dstTaskId !== undefined) w.tag(11, WireType.Varint).uint64(m.dstTaskId);
}

function writeError(w: Writer, e: FlowerError): void {
  if (e.code !== 0n) w.tag(1, WireType.Varint).sint64(e.code);
  wString(w, 2, e.reason);
}

function writeWireMessage(w: Writer, m: WireMessage): void {
  wMessage(w, 1, (x) => writeMetadata(x, m.metadata));
  if (m.hasContent) wMessage(w, 2, () => {});
  if (m.error) {
    const e = m.error;
    wMessage(w, 3, (x) => writeError(x, e));
  }
}

function writeTree(w: Writer, t: ObjectTree): void {
  wString(w, 1, t.objectId);
  for (const c of t.children) wMessage(w, 2, (x) => writeTree(x, c));
}

/**
 * The body of a Message object (Python's `Message.deflate`): metadata with
 * an empty `message_id`, no content, the error when there is one.
 */
export function encodeMessageBody(metadata: Metadata, error?: FlowerError): Uint8Array {
  return encode((w) => {
    wMessage(w, 1, (x) => writeMetadata(x, { ...metadata, messageId: '' }));
    if (error) wMessage(w, 3, (x) => writeError(x, error));
  });
}

/** `flwr.proto.Message` as sent in PushMessagesRequest (content reduced to an empty RecordDict). */
export function encodeWireMessage(m: WireMessage): Uint8Array {
  return encode((w) => writeWireMessage(w, m));
}

function writeScalarValue(w: Writer, v: RecordScalar, kind: 'config' | 'metric', key: string): void {
  if (typeof v === 'number') w.tag(1, WireType.Bit64).double(v);
  else if (typeof v === 'bigint') {
    if (v > INT64_MAX) w.tag(3, WireType.Varint).uint64(v);
    else w.tag(2, WireType.Varint).sint64(v);
  } else if (kind === 'metric') throw new Error(`MetricRecord value '${key}' must be a number (double) or bigint (integer), got ${typeof v}`);
  else if (typeof v === 'boolean') w.tag(4, WireType.Varint).bool(v);
  else if (typeof v === 'string') w.tag(5, WireType.LengthDelimited).string(v);
  else w.tag(6, WireType.LengthDelimited).bytes(v);
}

function writeRecordValue(w: Writer, v: RecordValue, kind: 'config' | 'metric', key: string): void {
  if (!Array.isArray(v)) {
    writeScalarValue(w, v, kind, key);
    return;
  }
  const first = v[0];
  const list = v as unknown[];
  if (list.length === 0 || typeof first === 'number') {
    // An empty list has no element type; Flower writes it as a DoubleList (the first allowed type that matches).
    wMessage(w, 21, (x) => {
      if (list.length) {
        x.tag(1, WireType.LengthDelimited).fork();
        for (const d of list as number[]) x.double(d);
        x.join();
      }
    });
  } else if (typeof first === 'bigint') {
    const unsigned = (list as bigint[]).some((b) => b > INT64_MAX);
    wMessage(w, unsigned ? 23 : 22, (x) => {
      x.tag(1, WireType.LengthDelimited).fork();
      for (const b of list as bigint[]) (unsigned ? x.uint64(b) : x.sint64(b));
      x.join();
    });
  } else if (kind === 'metric') {
    throw new Error(`MetricRecord value '${key}' must be a list of numbers or bigints`);
  } else if (typeof first === 'boolean') {
    wMessage(w, 24, (x) => {
      x.tag(1, WireType.LengthDelimited).fork();
      for (const b of list as boolean[]) x.bool(b);
      x.join();
    });
  } else if (typeof first === 'string') {
    wMessage(w, 25, (x) => {
      for (const s of list as string[]) x.tag(1, WireType.LengthDelimited).string(s);
    });
  } else {
    wMessage(w, 26, (x) => {
      for (const b of list as Uint8Array[]) x.tag(1, WireType.LengthDelimited).bytes(b);
    });
  }
}

/** Body of a MetricRecord object (`flwr.proto.MetricRecord`), items in insertion order. */
export function encodeMetricRecord(record: ReadonlyMap<string, RecordValue>): Uint8Array {
  return encode((w) => {
    for (const [k, v] of record) wMessage(w, 1, (item) => {
      wString(item, 1, k);
      wMessage(item, 2, (x) => writeRecordValue(x, v, 'metric', k));
    });
  });
}

/** Body of a ConfigRecord object (`flwr.proto.ConfigRecord`), items in insertion order. */
export function encodeConfigRecord(record: ReadonlyMap<string, RecordValue>): Uint8Array {
  return encode((w) => {
    for (const [k, v] of record) wMessage(w, 1, (item) => {
      wString(item, 1, k);
      wMessage(item, 2, (x) => writeRecordValue(x, v, 'config', k));
    });
  });
}

// ---------------------------------------------------------------- readers

/** Call `onField(field, wireType, reader)` for every field of `bytes`; it must consume the value or return false to skip it. */
function readFields(bytes: Uint8Array, onField: (field: number, wt: WireType, r: BinaryReader) => boolean): void {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (!onField(field, wt, r)) r.skip(wt, field);
  }
}

function emptyMetadata(): Metadata {
  return { runId: 0n, messageId: '', srcNodeId: 0n, dstNodeId: 0n, replyToMessageId: '', groupId: '', ttl: 0, messageType: '', createdAt: 0 };
}

function u64(r: BinaryReader): bigint {
  return BigInt(r.uint64());
}

export function decodeMetadata(bytes: Uint8Array): Metadata {
  const m = emptyMetadata();
  readFields(bytes, (f, _wt, r) => {
    switch (f) {
      case 1: m.runId = u64(r); return true;
      case 2: m.messageId = r.string(); return true;
      case 3: m.srcNodeId = u64(r); return true;
      case 4: m.dstNodeId = u64(r); return true;
      case 5: m.replyToMessageId = r.string(); return true;
      case 6: m.groupId = r.string(); return true;
      case 7: m.ttl = r.double(); return true;
      case 8: m.messageType = r.string(); return true;
      case 9: m.createdAt = r.double(); return true;
      case 10: m.srcTaskId = u64(r); return true;
      case 11: m.dstTaskId = u64(r); return true;
      default: return false;
    }
  });
  return m;
}

function decodeError(bytes: Uint8Array): FlowerError {
  const e: FlowerError = { code: 0n, reason: '' };
  readFields(bytes, (f, _wt, r) => {
    if (f === 1) e.code = BigInt(r.sint64());
    else if (f === 2) e.reason = r.string();
    else return false;
    return true;
  });
  return e;
}

/** Decode `flwr.proto.Message` (a message body object or a Fleet message). */
export function decodeWireMessage(bytes: Uint8Array): WireMessage {
  let metadata = emptyMetadata();
  let hasContent = false;
  let error: FlowerError | undefined;
  readFields(bytes, (f, _wt, r) => {
    if (f === 1) metadata = decodeMetadata(r.bytes());
    else if (f === 2) {
      r.bytes();
      hasContent = true;
    } else if (f === 3) error = decodeError(r.bytes());
    else return false;
    return true;
  });
  return { metadata, hasContent, ...(error ? { error } : {}) };
}

export function decodeObjectTree(bytes: Uint8Array): ObjectTree {
  const t: ObjectTree = { objectId: '', children: [] };
  readFields(bytes, (f, _wt, r) => {
    if (f === 1) t.objectId = r.string();
    else if (f === 2) t.children.push(decodeObjectTree(r.bytes()));
    else return false;
    return true;
  });
  return t;
}

function readPacked<T>(r: BinaryReader, wt: WireType, out: T[], one: (r: BinaryReader) => T): void {
  if (wt === WireType.LengthDelimited) {
    const end = r.uint32() + r.pos;
    while (r.pos < end) out.push(one(r));
  } else out.push(one(r));
}

function decodeRecordValue(bytes: Uint8Array): RecordValue {
  let value: RecordValue | undefined;
  readFields(bytes, (f, wt, r) => {
    switch (f) {
      case 1: value = r.double(); return true;
      case 2: value = BigInt(r.sint64()); return true;
      case 3: value = u64(r); return true;
      case 4: value = r.bool(); return true;
      case 5: value = r.string(); return true;
      case 6: value = r.bytes(); return true;
      case 21: case 22: case 23: case 24: {
        const list: unknown[] = [];
        readFields(r.bytes(), (g, gwt, lr) => {
          if (g !== 1) return false;
          readPacked(lr, gwt, list, f === 21 ? (x) => x.double() : f === 22 ? (x) => BigInt(x.sint64()) : f === 23 ? (x) => BigInt(x.uint64()) : (x) => x.bool());
          return true;
        });
        value = list as RecordValue;
        return true;
      }
      case 25: case 26: {
        const list: unknown[] = [];
        readFields(r.bytes(), (g, _gwt, lr) => {
          if (g !== 1) return false;
          list.push(f === 25 ? lr.string() : lr.bytes());
          return true;
        });
        value = list as RecordValue;
        return true;
      }
      default: return false;
    }
  });
  if (value === undefined) throw new Error('record value: no value field set');
  return value;
}

function decodeRecord(bytes: Uint8Array, what: string): Map<string, RecordValue> {
  const out = new Map<string, RecordValue>();
  readFields(bytes, (f, _wt, r) => {
    if (f !== 1) return false;
    let key = '';
    let value: RecordValue | undefined;
    readFields(r.bytes(), (g, _gwt, ir) => {
      if (g === 1) key = ir.string();
      else if (g === 2) value = decodeRecordValue(ir.bytes());
      else return false;
      return true;
    });
    if (value === undefined) throw new Error(`${what}: item '${key}' has no value`);
    out.set(key, value);
    return true;
  });
  return out;
}

/** Decode the body of a ConfigRecord object. */
export function decodeConfigRecord(bytes: Uint8Array): Map<string, RecordValue> {
  return decodeRecord(bytes, 'ConfigRecord');
}

/** Decode the body of a MetricRecord object. */
export function decodeMetricRecord(bytes: Uint8Array): Map<string, RecordValue> {
  return decodeRecord(bytes, 'MetricRecord');
}

// ---------------------------------------------------------------- Fleet requests / responses

/** RegisterNodeFleetRequest { bytes public_key = 1 }. */
export const encodeRegisterNode = (publicKey: Uint8Array) => encode((w) => wBytes(w, 1, publicKey));
/** ActivateNodeRequest { bytes public_key = 1; double heartbeat_interval = 2 }. */
export const encodeActivateNode = (publicKey: Uint8Array, heartbeatInterval: number) => encode((w) => {
  wBytes(w, 1, publicKey);
  wDouble(w, 2, heartbeatInterval);
});
/** DeactivateNodeRequest / UnregisterNodeFleetRequest { uint64 node_id = 1 }. */
export const encodeNodeIdRequest = (nodeId: bigint) => encode((w) => wUint64(w, 1, nodeId));
/** SendNodeHeartbeatRequest { Node node = 1; double heartbeat_interval = 2 }. */
export const encodeHeartbeat = (nodeId: bigint, heartbeatInterval: number) => encode((w) => {
  writeNode(w, 1, nodeId);
  wDouble(w, 2, heartbeatInterval);
});
/** PullMessagesRequest { Node node = 1; repeated string message_ids = 2 }. */
export const encodePullMessages = (nodeId: bigint) => encode((w) => writeNode(w, 1, nodeId));
/** PushMessagesRequest { Node node = 1; repeated Message messages_list = 2; repeated ObjectTree message_object_trees = 3; repeated double clientapp_runtime_list = 4 }. */
export const encodePushMessages = (nodeId: bigint, message: WireMessage, tree: ObjectTree, runtime: number) => encode((w) => {
  writeNode(w, 1, nodeId);
  wMessage(w, 2, (x) => writeWireMessage(x, message));
  wMessage(w, 3, (x) => writeTree(x, tree));
  w.tag(4, WireType.LengthDelimited).fork().double(runtime).join();
});
/** PullObjectRequest { Node node = 1; uint64 run_id = 2; string object_id = 3 }; ConfirmMessageReceivedRequest has the same fields (message_object_id = 3). */
export const encodeObjectRef = (nodeId: bigint, runId: bigint, objectId: string) => encode((w) => {
  writeNode(w, 1, nodeId);
  wUint64(w, 2, runId);
  wString(w, 3, objectId);
});
/** PushObjectRequest { Node node = 1; uint64 run_id = 2; string object_id = 3; bytes object_content = 4; string session_id = 5 }. */
export const encodePushObject = (nodeId: bigint, runId: bigint, objectId: string, content: Uint8Array, sessionId: string) => encode((w) => {
  writeNode(w, 1, nodeId);
  wUint64(w, 2, runId);
  wString(w, 3, objectId);
  wBytes(w, 4, content);
  wString(w, 5, sessionId);
});

/** RegisterNodeFleetResponse / ActivateNodeResponse { uint64 node_id = 1 }. */
export function decodeNodeIdResponse(bytes: Uint8Array): bigint {
  let id = 0n;
  readFields(bytes, (f, _wt, r) => (f === 1 ? ((id = u64(r)), true) : false));
  return id;
}

/** SendNodeHeartbeatResponse / PushObjectResponse { bool = 1 }. */
export function decodeBoolResponse(bytes: Uint8Array): boolean {
  let v = false;
  readFields(bytes, (f, _wt, r) => (f === 1 ? ((v = r.bool()), true) : false));
  return v;
}

/** PullMessagesResponse: the messages and their object trees (Reconnect ignored). */
export function decodePullMessages(bytes: Uint8Array): { messages: WireMessage[]; trees: ObjectTree[] } {
  const messages: WireMessage[] = [];
  const trees: ObjectTree[] = [];
  readFields(bytes, (f, _wt, r) => {
    if (f === 2) messages.push(decodeWireMessage(r.bytes()));
    else if (f === 3) trees.push(decodeObjectTree(r.bytes()));
    else return false;
    return true;
  });
  return { messages, trees };
}

/** PushMessagesResponse: which objects the SuperLink still needs and the session to push them in. */
export function decodePushMessages(bytes: Uint8Array): { objectsToPush: string[]; sessionId: string } {
  const objectsToPush: string[] = [];
  let sessionId = '';
  readFields(bytes, (f, _wt, r) => {
    if (f === 3) objectsToPush.push(r.string());
    else if (f === 4) sessionId = r.string();
    else return false;
    return true;
  });
  return { objectsToPush, sessionId };
}

/** PullObjectResponse { bool object_found = 1; bool object_available = 2; bytes object_content = 3 }. */
export function decodePullObject(bytes: Uint8Array): { found: boolean; available: boolean; content: Uint8Array } {
  const out: { found: boolean; available: boolean; content: Uint8Array } = { found: false, available: false, content: new Uint8Array(0) };
  readFields(bytes, (f, _wt, r) => {
    if (f === 1) out.found = r.bool();
    else if (f === 2) out.available = r.bool();
    else if (f === 3) out.content = r.bytes();
    else return false;
    return true;
  });
  return out;
}
