/**
 * kafkajs, as every module of this project loads it (ESLint allows no other value import of
 * it): the same package, with two of its producer's per-record steps replaced by code that
 * gives the same results in a fraction of the time. kafkajs 2.2.4 is its last release; both
 * were measured here (a send of 2,000 records keyed to one partition cost 15 to 21 µs of CPU a
 * record in all):
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
 * Both go into Node's module cache under kafkajs's own files before kafkajs loads, so its
 * producer takes them when it loads; unit tests compare each with kafkajs's original.
 */
import Module from 'node:module';
import type { Message, PartitionMetadata } from 'kafkajs';

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

/** kafkajs's files replaced, and the file whose loading means it is too late (it holds them). */
const REPLACED = [
  { file: 'kafkajs/src/producer/groupMessagesPerPartition', by: groupMessagesPerPartition, loadedBy: 'kafkajs/src/producer/sendMessages' },
  { file: 'kafkajs/src/producer/partitioners/default/murmur2', by: murmur2, loadedBy: 'kafkajs/src/producer/partitioners/default/index' },
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
