/**
 * kafkajs, as every module of this project loads it (ESLint allows no other value import of
 * it): the same package, with four of its per-record steps replaced by code that gives the
 * same results in a fraction of the time. kafkajs 2.2.4 is its last release. The first two
 * are its producer's, both measured here (a send of 2,000 records keyed to one partition cost
 * 15 to 21 µs of CPU a record in all):
 *
 * - grouping a send's messages by partition: `[...current, message]` per message, so n
 *   messages bound for one partition cost n²/2 copies and n arrays. An outbox relay sends up to
 *   2,000 records of one partition at a time, and outputs are keyed by customer as their input
 *   is, so all go to one partition: 7.2 ms per send for the grouping alone, and 2,000 arrays of
 *   1,000 elements on average (the first allocation site in an allocation profile of the two
 *   stateful services). The fix was proposed upstream (kafkajs#1576) and never released.
 * - the default partitioner's murmur2 (the Java client's hash, which decides where a key's
 *   records go): kafkajs computes it with a 64-bit Long object per step, about a fifth of a
 *   send's CPU; here with 32-bit integer arithmetic (Math.imul), bit for bit the same.
 *
 * The other two write and read each record of a record batch:
 *
 * - encoding a record (protocol/recordBatch/record/v0/index.js): kafkajs allocates a
 *   zero-filled 512-byte buffer per record, a Buffer per varint, and a Long per step of the
 *   timestamp delta's varint. Here a record without headers is sized first and written into one
 *   buffer; records with headers, and inputs kafkajs would refuse, are kafkajs's own.
 * - decoding a record of a record batch (protocol/recordBatch/record/v0/decoder.js): kafkajs
 *   reads the timestamp delta as a 64-bit Long (two BigInt-backed objects per byte, then the
 *   zig-zag in five more) and parses the batch's first offset and first timestamp from their
 *   strings into Longs again for every record. Here the delta is read with plain numbers when it
 *   fits in 49 bits (seven bytes; the deltas of one batch are milliseconds apart) and the sums
 *   are made as numbers when both sides are safe integers; anything else goes kafkajs's own way.
 *   Records with headers are left to kafkajs's own header code.
 *
 * All go into Node's module cache under kafkajs's own files before kafkajs loads, so its
 * producer and consumer take them when they load; unit tests compare each with kafkajs's original.
 */
import Module from 'node:module';
import type { Broker, Message, PartitionMetadata } from 'kafkajs';

/** The argument of kafkajs's groupMessagesPerPartition (producer/groupMessagesPerPartition.js). */
export interface GroupingInput<M = Message> {
  topic: string;
  partitionMetadata: PartitionMetadata[];
  messages: M[];
  partitioner: (args: { topic: string; partitionMetadata: PartitionMetadata[]; message: M }) => number;
}

/**
 * kafkajs's groupMessagesPerPartition in one pass: the messages by the partition the
 * partitioner gives each, in their order; {} when the topic has no partition metadata.
 */
export function groupMessagesPerPartition<M>({ topic, partitionMetadata, messages, partitioner }: GroupingInput<M>): Record<number, M[]> {
  const grouped: Record<number, M[]> = {};
  if (partitionMetadata.length === 0) return grouped;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    const list = grouped[partition];
    if (list === undefined) grouped[partition] = [message];
    else list.push(message);
  }
  return grouped;
}

const MURMUR_SEED = 0x9747b28c;
const MURMUR_M = 0x5bd1e995;

/**
 * The Java client's murmur2 of a key (a Buffer, or a string's UTF-8 bytes), as a signed 32-bit
 * integer: what kafkajs's partitioners/default/murmur2.js returns, with Math.imul instead of
 * Long objects (the low 32 bits of its 64-bit products are these). ASCII strings are read by
 * character code, without a Buffer.
 */
export function murmur2(key: string | Buffer): number {
  if (Buffer.isBuffer(key)) return hashBytes(key);
  const text = String(key);
  for (let at = 0; at < text.length; at += 1) if (text.charCodeAt(at) > 0x7f) return hashBytes(Buffer.from(text));
  const length = text.length;
  const whole = length & ~3;
  let h = MURMUR_SEED ^ length;
  for (let at = 0; at < whole; at += 4) {
    h = mixWord(h, text.charCodeAt(at) | (text.charCodeAt(at + 1) << 8) | (text.charCodeAt(at + 2) << 16) | (text.charCodeAt(at + 3) << 24));
  }
  let tail = 0;
  for (let at = length - 1; at >= whole; at -= 1) tail = (tail << 8) | text.charCodeAt(at);
  return finish(h, tail, length - whole);
}

function hashBytes(data: Buffer): number {
  const length = data.length;
  const whole = length & ~3;
  let h = MURMUR_SEED ^ length;
  for (let at = 0; at < whole; at += 4) h = mixWord(h, data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) | (data[at + 3] << 24));
  let tail = 0;
  for (let at = length - 1; at >= whole; at -= 1) tail = (tail << 8) | data[at];
  return finish(h, tail, length - whole);
}

function mixWord(h: number, word: number): number {
  let k = Math.imul(word, MURMUR_M);
  k ^= k >>> 24;
  k = Math.imul(k, MURMUR_M);
  return Math.imul(h, MURMUR_M) ^ k;
}

/** The last 1 to 3 bytes (little-endian in `tail`), then the final mix. */
function finish(hash: number, tail: number, tailBytes: number): number {
  let h = tailBytes > 0 ? Math.imul(hash ^ tail, MURMUR_M) : hash;
  h ^= h >>> 13;
  h = Math.imul(h, MURMUR_M);
  h ^= h >>> 15;
  return h | 0;
}

/** The parts of kafkajs's protocol Decoder (protocol/decoder.js) a record's decoding uses. */
export interface KafkajsDecoder {
  buffer: Buffer;
  offset: number;
  readInt8(): number;
  readVarInt(): number;
  readVarLong(): KafkajsLong;
  readVarIntArray<T>(reader: (decoder: KafkajsDecoder) => T): T[];
}

/** kafkajs's BigInt-backed Long (utils/long.js), as far as the record's decoding uses it. */
interface KafkajsLong {
  add(addend: KafkajsLong | number): KafkajsLong;
  toString(): string;
}

/** What kafkajs's record batch decoder hands each record's decoding (recordBatch/v0/decoder.js). */
export interface RecordBatchContext {
  firstOffset?: string;
  firstTimestamp?: string;
  magicByte?: number;
  isControlBatch?: boolean;
  timestampType?: number;
  maxTimestamp?: string;
}

/** A record as kafkajs's consumer receives it from its record decoder. */
export interface DecodedRecord {
  magicByte: number | undefined;
  attributes: number;
  timestamp: string | undefined;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | null | Array<Buffer | null>>;
  isControlRecord: boolean;
  batchContext: RecordBatchContext;
}

/**
 * kafkajs's module `file`, loaded on first use and kept: `require` resolves the path again on
 * every call (about 140 ns here), too much for once per record.
 */
function kafkajsModule<T>(file: string): () => T {
  let loaded: T | undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- kafkajs's internals, for its slow paths, its header code and its Encoder
  return () => (loaded ??= require(file) as T);
}

const kafkajsLong = kafkajsModule<{ fromValue(value: string | number): KafkajsLong }>('kafkajs/src/utils/long');
const kafkajsHeaderDecoder = kafkajsModule<(decoder: KafkajsDecoder) => { key: string; value: Buffer | null }>('kafkajs/src/protocol/recordBatch/header/v0/decoder');
/** kafkajs's protocol/encoder.js, whose instances its record batch encoder takes. */
const kafkajsEncoderClass = kafkajsModule<{ prototype: object }>('kafkajs/src/protocol/encoder');

/** kafkajs's protocol/error.js: the Kafka error codes it knows, each with its message and whether it retries it. */
const kafkajsErrorCodes = kafkajsModule<{ errorCodes: { message: string; retriable: boolean }[] }>('kafkajs/src/protocol/error');
let retriableMessages: ReadonlySet<string> | undefined;

/**
 * Whether `message` is the text of a Kafka error code that kafkajs retries (a coordinator
 * loading or moving, a leader changing, a transaction still ending): kafkajs logs such an
 * answer at ERROR before it retries the request.
 */
export function isRetriableResponseError(message: unknown): boolean {
  retriableMessages ??= new Set(kafkajsErrorCodes().errorCodes.filter((code) => code.retriable).map((code) => code.message));
  return typeof message === 'string' && retriableMessages.has(message);
}

/** A request method of kafkajs's Broker (src/broker.js), called on a broker. */
export type BrokerRequest = (this: Broker, ...args: unknown[]) => Promise<unknown>;

/** kafkajs's Broker class, which it does not export; its last release is pinned in the lockfile. */
const kafkajsBrokerClass = kafkajsModule<{ prototype: Record<string, BrokerRequest> }>('kafkajs/src/broker');

/**
 * Replaces kafkajs's Broker methods `names` with `wrap(method)`, for every broker of the process
 * (the unit tests of the callers check the methods are there: kafka-coordinators.ts,
 * kafka-concurrent-transactions.ts). Each caller installs its wrapper once per process.
 */
export function wrapBrokerRequests(names: readonly string[], wrap: (request: BrokerRequest) => BrokerRequest): void {
  wrapMethods(kafkajsBrokerClass().prototype, names, wrap);
}

/** A method of kafkajs's Cluster (src/cluster/index.js), called on a client's cluster. */
export type ClusterMethod = (this: object, ...args: unknown[]) => Promise<unknown>;

/** kafkajs's Cluster class, which it does not export either. */
const kafkajsClusterClass = kafkajsModule<{ prototype: Record<string, ClusterMethod> }>('kafkajs/src/cluster');

/**
 * wrapBrokerRequests for kafkajs's Cluster methods, for every client of the process (callers:
 * kafka-coordinators.ts, kafka-metadata.ts; their unit tests run the wrapped methods).
 */
export function wrapClusterMethods(names: readonly string[], wrap: (method: ClusterMethod) => ClusterMethod): void {
  wrapMethods(kafkajsClusterClass().prototype, names, wrap);
}

function wrapMethods<M>(prototype: Record<string, M>, names: readonly string[], wrap: (method: M) => M): void {
  for (const name of names) prototype[name] = wrap(prototype[name] as M);
}

/** kafkajs's TimestampTypes.LOG_APPEND_TIME (protocol/timestampTypes.js). */
const LOG_APPEND_TIME = 1;

/** Seven bytes of a varint carry 49 bits: as a number, exact. */
const FAST_VARLONG_BYTES = 7;

/**
 * A zig-zag varlong of at most seven bytes as a number, the decoder moved past it; null (the
 * decoder not moved) when it is longer. kafkajs's readVarLong, without a Long per byte.
 */
function readShortVarLong(decoder: KafkajsDecoder): number | null {
  const { buffer } = decoder;
  let at = decoder.offset;
  let result = 0;
  let scale = 1;
  for (let read = 0; read < FAST_VARLONG_BYTES; read += 1) {
    // Past the end a byte reads as undefined: 0 and the last one, as in kafkajs.
    const byte = buffer[at++] as number | undefined;
    result += ((byte as number) & 0x7f) * scale;
    if (!((byte as number) >= 0x80)) {
      decoder.offset = at;
      return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
    }
    scale *= 128;
  }
  return null;
}

/**
 * A batch's first offset or first timestamp as a number when it is a safe integer written as
 * kafkajs writes one (readInt64().toString()), else NaN. Every record of a batch passes the same
 * string, so the last one is kept: one parse per batch, not per record.
 */
class SafeBase {
  private text: string | undefined;
  private value = Number.NaN;

  of(text: string | undefined): number {
    if (text !== this.text) {
      const value = Number(text);
      this.value = Number.isSafeInteger(value) && String(value) === text ? value : Number.NaN;
      this.text = text;
    }
    return this.value;
  }
}

const offsetBases = new SafeBase();
const timestampBases = new SafeBase();

/** `base` (a 64-bit integer's decimal text) plus `delta`, as kafkajs's Long gives it. */
function addToLongText(bases: SafeBase, base: string | undefined, delta: number | KafkajsLong): string {
  if (typeof delta === 'number') {
    // Both safe integers: the sum is exact.
    const sum = bases.of(base) + delta;
    if (Number.isSafeInteger(sum)) return String(sum);
  }
  return kafkajsLong().fromValue(base as string).add(delta).toString();
}

/** kafkajs's headers of a record: each key its value, or its values in order when repeated. */
function readHeaders(decoder: KafkajsDecoder): DecodedRecord['headers'] {
  const start = decoder.offset;
  const count = decoder.readVarInt();
  if (count === 0 || count === -1) return {};
  decoder.offset = start;
  type Headers = DecodedRecord['headers'];
  // kafkajs's own code, reduce and spread included: a key such as __proto__ comes out as it does there.
  return decoder.readVarIntArray(kafkajsHeaderDecoder()).reduce<Headers>((headers, { key, value }) => {
    const current = headers[key];
    return { ...headers, [key]: current === undefined ? value : Array.isArray(current) ? current.concat([value]) : [current, value] };
  }, {});
}

/** An index as Buffer's slice reads it: negative counts from the end, everything clamped into the buffer. */
function sliceIndex(index: number, length: number): number {
  if (index < 0) return Math.max(index + length, 0);
  return Math.min(index, length);
}

/**
 * The end of a key or value that starts at `start` (already as slice reads it) and is `length`
 * bytes long: where kafkajs's `buffer.slice(at, at + length)` would stop (a length past the end
 * stops at the end, a negative one gives nothing or what slice makes of it); -1 for the length
 * -1, a null.
 */
function cutEnd(bytes: Buffer, at: number, start: number, length: number): number {
  return length === -1 ? -1 : Math.max(start, sliceIndex(at + length, bytes.length));
}

/**
 * A record as kafkajs's record decoder gives it, except that its key and value are cut from the
 * fetched bytes only when read (`key`, `value`: a new Buffer view each time, equal to kafkajs's).
 * A consumer that reads them in place (keyText, and `bytes` from valueStart to valueEnd) makes
 * no Buffer view per record: with the view kafkajs made for each, and the one the Avro
 * decoder cut after the header, three per record per consumer.
 */
export class FetchedRecord implements DecodedRecord {
  /** The value's first byte in `bytes`, and the byte after its last; valueEnd -1 when the value is null. */
  readonly valueStart: number;
  readonly valueEnd: number;
  private readonly keyStart: number;
  private readonly keyEnd: number;

  constructor(
    readonly magicByte: number | undefined,
    readonly attributes: number,
    readonly timestamp: string | undefined,
    readonly offset: string,
    readonly headers: DecodedRecord['headers'],
    readonly isControlRecord: boolean,
    readonly batchContext: RecordBatchContext,
    /** The bytes the record was read from (a fetch response's, or a decompressed batch's). */
    readonly bytes: Buffer,
    /** Where the key's bytes begin and its length as written (-1: null); the same for the value. */
    keyAt: number,
    keyLength: number,
    valueAt: number,
    valueLength: number,
  ) {
    this.keyStart = sliceIndex(keyAt, bytes.length);
    this.keyEnd = cutEnd(bytes, keyAt, this.keyStart, keyLength);
    this.valueStart = sliceIndex(valueAt, bytes.length);
    this.valueEnd = cutEnd(bytes, valueAt, this.valueStart, valueLength);
  }

  get key(): Buffer | null {
    return this.keyEnd === -1 ? null : this.bytes.subarray(this.keyStart, this.keyEnd);
  }

  get value(): Buffer | null {
    return this.valueEnd === -1 ? null : this.bytes.subarray(this.valueStart, this.valueEnd);
  }

  /** The key as UTF-8 text (what `key.toString('utf8')` gives), or null. */
  keyText(): string | null {
    return this.keyEnd === -1 ? null : this.bytes.toString('utf8', this.keyStart, this.keyEnd);
  }
}

/** Steps over `length` bytes (none for -1, a null) as kafkajs's readVarIntBytes does; returns where they begin. */
function skipBytes(decoder: KafkajsDecoder, length: number): number {
  const at = decoder.offset;
  if (length !== -1) decoder.offset += length;
  return at;
}

/**
 * kafkajs's record decoder (protocol/recordBatch/record/v0/decoder.js) with the same result for
 * every input: the timestamp delta and the offset and timestamp sums as numbers where exact, the
 * key and the value cut only when read (FetchedRecord).
 */
export function decodeRecord(decoder: KafkajsDecoder, batchContext: RecordBatchContext = {}): DecodedRecord {
  const { firstOffset, firstTimestamp, magicByte, isControlBatch = false, timestampType, maxTimestamp } = batchContext;
  const attributes = decoder.readInt8();
  const timestampDelta = readShortVarLong(decoder) ?? decoder.readVarLong();
  const timestamp = timestampType === LOG_APPEND_TIME && maxTimestamp ? maxTimestamp : addToLongText(timestampBases, firstTimestamp, timestampDelta);
  const offset = addToLongText(offsetBases, firstOffset, decoder.readVarInt());
  const keyLength = decoder.readVarInt();
  const keyAt = skipBytes(decoder, keyLength);
  const valueLength = decoder.readVarInt();
  const valueAt = skipBytes(decoder, valueLength);
  const headers = readHeaders(decoder);
  return new FetchedRecord(magicByte, attributes, timestamp, offset, headers, isControlBatch, batchContext, decoder.buffer, keyAt, keyLength, valueAt, valueLength);
}

/** kafkajs's Encoder (protocol/encoder.js) as a record batch reads a record's: its bytes up to `offset`. */
export interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
  readonly buffer: Buffer;
}

/** What kafkajs's produce request hands each record's encoding (requests/produce/v3/request.js). */
export interface RecordToEncode {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: unknown;
  value?: unknown;
  headers?: unknown;
}

type RecordEncoder = (record: RecordToEncode) => KafkajsEncoder;

/** kafkajs's own record encoder, kept when the replacement goes in: what encodeRecord falls back on. */
let kafkajsRecordEncoder: RecordEncoder | undefined;

/** Lengths kafkajs's 32-bit zig-zag writes correctly (it shifts left by one). */
const MAX_FAST_LENGTH = 2 ** 30;
/** A zig-zag below 2^49 is an exact number, in at most seven bytes. */
const MAX_FAST_DELTA = 2 ** 48;

function unsignedVarintSize(value: number): number {
  let bytes = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 0x80)) bytes += 1;
  return bytes;
}

function writeUnsignedVarint(buffer: Buffer, at: number, value: number): number {
  let rest = value;
  while (rest >= 0x80) {
    buffer[at++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  buffer[at++] = rest;
  return at;
}

/** A key or value's length as the record writes it (-1: null), or null when kafkajs must judge it. */
function fieldLength(field: unknown): number | null {
  if (field === null || field === undefined) return -1;
  const length = Buffer.isBuffer(field) ? field.length : typeof field === 'string' ? Buffer.byteLength(field, 'utf8') : null;
  return length !== null && length < MAX_FAST_LENGTH ? length : null;
}

/** The bytes a key or value of `length` takes: its length's varint, then itself. */
function fieldSize(length: number): number {
  return length < 0 ? 1 : unsignedVarintSize(length * 2) + length;
}

function writeField(buffer: Buffer, at: number, field: unknown, length: number): number {
  const next = writeUnsignedVarint(buffer, at, length < 0 ? 1 : length * 2);
  if (length <= 0) return next;
  if (Buffer.isBuffer(field)) field.copy(buffer, next);
  else buffer.write(field as string, next, length, 'utf8');
  return next + length;
}

/**
 * kafkajs's record encoder (protocol/recordBatch/record/v0/index.js) with the same bytes for
 * every input: a record without headers, whose key and value are bytes, text or null and whose
 * timestamp delta is a whole number of milliseconds under 2^48, is written in one pass into one
 * buffer, without a Buffer per varint, a Long per timestamp or a zero-filled 512-byte buffer per
 * record; anything else is kafkajs's own.
 */
export function encodeRecord(record: RecordToEncode): KafkajsEncoder {
  const { offsetDelta = 0, timestampDelta = 0, key, value, headers } = record;
  const keyLength = fieldLength(key);
  const valueLength = fieldLength(value);
  if (
    keyLength !== null &&
    valueLength !== null &&
    Number.isSafeInteger(timestampDelta) &&
    Math.abs(timestampDelta) < MAX_FAST_DELTA &&
    Number.isInteger(offsetDelta) &&
    offsetDelta >= 0 &&
    offsetDelta < MAX_FAST_LENGTH &&
    (headers === undefined || (typeof headers === 'object' && headers !== null && Object.keys(headers).length === 0))
  ) {
    const zigzagDelta = timestampDelta >= 0 ? timestampDelta * 2 : -timestampDelta * 2 - 1;
    // attributes, timestamp delta, offset delta, key, value, no headers
    const body = 1 + unsignedVarintSize(zigzagDelta) + unsignedVarintSize(offsetDelta * 2) + fieldSize(keyLength) + fieldSize(valueLength) + 1;
    if (body < MAX_FAST_LENGTH) {
      // Every byte up to the end is written below, so the pooled, unfilled memory never shows.
      const buffer = Buffer.allocUnsafe(unsignedVarintSize(body * 2) + body);
      let at = writeUnsignedVarint(buffer, 0, body * 2);
      buffer[at++] = 0;
      at = writeUnsignedVarint(buffer, at, zigzagDelta);
      at = writeUnsignedVarint(buffer, at, offsetDelta * 2);
      at = writeField(buffer, at, key, keyLength);
      at = writeField(buffer, at, value, valueLength);
      buffer[at++] = 0;
      const encoder = Object.create(kafkajsEncoderClass().prototype) as KafkajsEncoder;
      encoder.buf = buffer;
      encoder.offset = at;
      return encoder;
    }
  }
  if (kafkajsRecordEncoder === undefined) throw new Error("kafkajs's record encoder is not loaded (services/kit/kafkajs could not find its files)");
  return kafkajsRecordEncoder(record);
}

/** kafkajs's files replaced, and the file whose loading means it is too late (it holds them). */
const REPLACED = [
  { file: 'kafkajs/src/producer/groupMessagesPerPartition', by: groupMessagesPerPartition, loadedBy: 'kafkajs/src/producer/sendMessages' },
  { file: 'kafkajs/src/producer/partitioners/default/murmur2', by: murmur2, loadedBy: 'kafkajs/src/producer/partitioners/default/index' },
  { file: 'kafkajs/src/protocol/recordBatch/record/v0/decoder', by: decodeRecord, loadedBy: 'kafkajs/src/protocol/recordBatch/v0/decoder' },
  { file: 'kafkajs/src/protocol/recordBatch/record/v0/index', by: encodeRecord, loadedBy: 'kafkajs/src/protocol/requests/produce/v3/request' },
];

/**
 * Whether this process's kafkajs uses the replacements: `installed`; `late` when kafkajs's
 * producer was loaded before this module (it keeps its own code: import kafkajs through this
 * module); `unavailable` when kafkajs's files are not where this version keeps them. It reads
 * Node's module cache: under another module system (jest's) `installed` has no effect.
 */
export type ReplacementState = 'installed' | 'late' | 'unavailable';

function installReplacements(): ReplacementState {
  let files: Array<{ path: string; by: unknown; loadedBy: string }>;
  try {
    files = REPLACED.map(({ file, by, loadedBy }) => ({ path: require.resolve(file), by, loadedBy: require.resolve(loadedBy) }));
  } catch {
    return 'unavailable';
  }
  if (files.every(({ path, by }) => require.cache[path]?.exports === by)) return 'installed';
  if (files.some(({ loadedBy }) => require.cache[loadedBy] !== undefined)) return 'late';
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- kafkajs's own, for the records encodeRecord leaves to it
  kafkajsRecordEncoder = require(files.find(({ by }) => by === encodeRecord)?.path as string) as RecordEncoder;
  for (const { path, by } of files) {
    const entry = new Module(path);
    entry.filename = path;
    entry.loaded = true;
    entry.exports = by;
    require.cache[path] = entry;
  }
  return 'installed';
}

export const kafkajsReplacements: ReplacementState = installReplacements();

export * from 'kafkajs';
