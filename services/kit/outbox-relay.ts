/**
 * The outbox relay: produces a partition's outbox (records a service queued in Redis atomically
 * with its state) to Kafka, then trims it. Every stateful service that writes an output topic
 * (segmenter, trigger, renderer) relays through here.
 *
 * Each outbox record has a sequence number per partition: the relay state in Redis keeps the
 * number of the head (`base`), raised in the same Lua call that trims, so the record at index i
 * is base + i (readOutbox-4.lua, trimOutboxTo-2.lua).
 *
 * exactly_once (default): the outbox is produced in Kafka transactions together with the relay
 * checkpoint, the next sequence number, committed as the offset of the input partition in the
 * consumer group `<group>-relay` (with the outbox's incarnation and the relay's id as metadata,
 * checkpointMetadataOf). So the checkpoint is committed if and only if the records are. One
 * transactional producer per instance (`<prefix>-<group>-<random id>`) carries the chunks of every
 * partition that is ready in one transaction (SendTogether: the partitions of a fetch end
 * within milliseconds of each other), as Kafka Streams' exactly_once_v2 does, instead of one
 * producer and one transaction per partition and batch.
 * Zombies are fenced through Redis and the producer's epoch: a relay that takes a partition
 * (a start, a rebalance) claims its outbox (claimOutbox-1.lua: the partition's owner is now
 * this relay's transactional id) and initializes the previous owner's transactional id, which
 * aborts that producer's open transaction and bumps its epoch, before it reads the checkpoint;
 * and a relay reads an outbox only while it is its owner (readOutbox-4.lua), with a producer
 * initialized before that read (a chunk read under an earlier producer is read again). So a
 * transaction of the old owner either completed before the new owner read the checkpoint, or
 * never commits. A `read_committed` reader sees each record once. What a transaction committed
 * is trimmed by the partition's next read, in the same Redis call (OwedTrim): one Redis round
 * trip fewer per transaction. Until then the outbox still holds those records below the
 * checkpoint, which a relay never produces again (planRelay); the services' timer tick relays
 * every partition it owns, so they stay at most a tick, and trims them for the partitions it
 * no longer owns (release); a relay that closes trims them first (flushTrims).
 *
 * at_least_once: one idempotent producer, no transaction; a crash between produce and trim
 * produces those records again (readers drop them by id). Its trim goes out as soon as the
 * records are produced, without waiting for its answer (trimNow).
 */
import { randomUUID } from 'node:crypto';
import { Partitioners, type Admin, type Kafka, type Producer } from './kafkajs';
import type { Logger } from 'pino';
import { KairosError } from './errors';
import { whileBrokerAway } from './kafka';
import { retryConcurrentTransactions } from './kafka-concurrent-transactions';
import { rememberTransactionCoordinators } from './kafka-coordinators';
import type { KairosMetrics } from './metrics';
import { KIT_LUA_DIR, loadLuaScripts, runScript, type RedisClient } from './redis';
import { leadingWithin, SendTogether } from './send-together';

export const OUTPUT_GUARANTEES = ['exactly_once', 'at_least_once'] as const;
export type OutputGuarantee = (typeof OUTPUT_GUARANTEES)[number];

/** A record waiting in a partition's outbox: where it goes and its encoded bytes. */
export interface OutboxRecord {
  topic: string;
  key: string;
  value: Buffer;
}

/** Outbox records are stored as small JSON strings with the value in base64. */
export function encodeOutboxRecord(record: OutboxRecord): string {
  return JSON.stringify({ t: record.topic, k: record.key, v: record.value.toString('base64') });
}

export function decodeOutboxRecord(text: string): OutboxRecord {
  const { t, k, v } = JSON.parse(text) as { t: string; k: string; v: string };
  return { topic: t, key: k, value: Buffer.from(v, 'base64') };
}

/**
 * What a partition's outbox holds the outputs of, read from its fence with the outbox
 * (readOutbox-4.lua): every output of the records applied up to `offsets` and of the timers
 * due by `timersThrough` is in the outbox or was relayed before. A relay that produced the
 * outbox to its end commits it with the checkpoint; `state rebuild` restores up to it.
 */
export interface RelayCover {
  /** The state's (fence's) incarnation: the group's commits carry it too (log-binding.ts). */
  incarnation: string;
  /** The last applied offset per input topic. */
  offsets: Record<string, string>;
  /** The timer watermark (ms), null when no timer has fired. */
  timersThrough: number | null;
}

/** What an outbox read (OutboxStore.read) checks and does besides reading. */
export interface OutboxRead {
  /** The fence incarnation the caller applied to: read only while the partition's state still holds it, else StateVanishedError. */
  guard?: string;
  /** The relay (transactional id) the caller claimed the partition as: read only while it is the owner, else OutboxTakenError. */
  owner?: string;
  /** The index of the first record to read (default 0, the head). */
  from?: number;
  /** Drops what it says is committed first (as trimTo with its incarnation), even when the read is then refused: the head returned is after it. */
  trim?: OwedTrim;
  /**
   * The fence version the read must come after (the version an apply sent just before it makes):
   * when the fence is below it, the read ran first (a command sent again), and the head comes
   * back `early`, with nothing read.
   */
  after?: number;
}

/** The head of a partition's outbox as the relay reads it. */
export interface OutboxHead {
  /** The sequence number of the outbox's head: of entries[0] when read from the head (and of the next record appended when empty). */
  base: number;
  /** The outbox's incarnation id (see readOutbox-4.lua). */
  incarnation: string;
  entries: string[];
  /** What the whole outbox (not just `entries`) holds the outputs of; absent when the store keeps no fence. */
  cover?: RelayCover;
  /** The read ran before the fence reached OutboxRead's `after`: nothing was read (no entries, no cover). */
  early?: true;
}

/**
 * A trim the relay owes a partition's outbox: the records below `upTo` of the outbox
 * `incarnation` are in Kafka (exactly_once: its last transaction committed them;
 * at_least_once: produced, their trim sent and not answered yet, trimNow). The partition's next
 * read does it first, in the same Redis call (readOutbox-4.lua): exactly_once instead of a call
 * of its own after each transaction.
 */
export interface OwedTrim {
  upTo: number;
  incarnation: string;
}

/**
 * A relay read sent right behind a command that appends to the outbox (an apply), on the same
 * Redis connection, before that command's answer (OutboxRelay.readAhead): Redis runs the two in
 * the order sent, so the read sees what the apply appended, and the relay call that follows
 * takes it instead of a read of its own, one round trip fewer per batch. Opaque to callers.
 */
export class ReadAhead {
  constructor(
    readonly partition: number,
    /** The guard it was read with: taken only by a relay call with the same one. */
    readonly guard: string | undefined,
    /** exactly_once: the session it was read under (a read comes after its producer's initialization). */
    readonly session: object | undefined,
    /** The owed trim it carried. */
    readonly trim: OwedTrim | undefined,
    readonly head: Promise<OutboxHead>,
  ) {
    // One that is never taken (its apply failed, another apply came after it) fails unobserved.
    head.catch(() => undefined);
  }
}

/**
 * A relay call on its way (OutboxRelay.expect): counted from then until its chunk joins a
 * request, or until it ends without one. A request that gathers (RELAY_GATHER) goes out as soon
 * as no call is on its way, instead of always after the full wait.
 */
export class OnItsWay {
  private counted = true;

  constructor(private readonly ended: (poke: boolean) => void) {}

  /** Its chunk joins a request now: the add that follows sends the gathered request if this was the last on its way. */
  joins(): void {
    this.end(false);
  }

  /** It ended without a chunk, or its relay call started (which counts itself): a gather waiting only for it goes now. Idempotent. */
  release(): void {
    this.end(true);
  }

  private end(poke: boolean): void {
    if (!this.counted) return;
    this.counted = false;
    this.ended(poke);
  }
}

/** Where the outbox lives; RedisOutboxStore in services, a memory one in unit tests. */
export interface OutboxStore {
  /** Up to `limit` records from the head of the outbox (or `read.from`), with the checks and the trim of `read`. */
  read(partition: number, limit: number, read?: OutboxRead): Promise<OutboxHead>;
  /**
   * Whether reads return the cover (OutboxHead.cover) and the changes mark where their records
   * end (coverOfRecord): the exactly_once relay then ends each transaction where a change ends.
   */
  readonly covered?: boolean;
  /**
   * Drops the records whose sequence number is below `upTo`; returns how many. With
   * `incarnation`, only while the outbox is still that one (not lost and begun again since).
   */
  trimTo(partition: number, upTo: number, incarnation?: string): Promise<number>;
  /**
   * exactly_once: makes `owner` (a relay's transactional id) the partition's owner; returns the
   * owner it replaced, '' when none. A read with `owner` throws OutboxTakenError once another claimed it.
   */
  claim(partition: number, owner: string): Promise<string>;
}

/** The outbox list of a partition and its relay state hash (same hash tag: one slot). */
export class RedisOutboxStore implements OutboxStore {
  constructor(
    private readonly redis: RedisClient,
    /** The partition's outbox list key (PartitionKeys.outbox, RendererKeys.outbox). */
    private readonly outboxKey: (partition: number) => string,
    /** The partition's fence hash (PartitionKeys.fence) or marker string (RendererKeys.stateMarker), same hash tag: what a guarded read checks. */
    private readonly fenceKey?: (partition: number) => string,
    /** The partition's timers (PartitionKeys.timers), same hash tag: with a fence hash, reads return its cover (OutboxHead.cover). */
    private readonly timersKey?: (partition: number) => string,
  ) {
    loadLuaScripts(redis, KIT_LUA_DIR);
  }

  private keys(partition: number): string[] {
    const outbox = this.outboxKey(partition);
    return [outbox, `${outbox}:relay`];
  }

  get covered(): boolean {
    return this.fenceKey !== undefined && this.timersKey !== undefined;
  }

  async read(partition: number, limit: number, read: OutboxRead = {}): Promise<OutboxHead> {
    const { guard, owner, from = 0, trim, after } = read;
    if ((guard !== undefined || after !== undefined) && this.fenceKey === undefined) throw new Error('RedisOutboxStore: a guarded read needs the fence key (fenceKey option)');
    const keys = [...this.keys(partition), this.fenceKey?.(partition) ?? this.outboxKey(partition), this.timersKey?.(partition) ?? this.outboxKey(partition)];
    const args = [limit, randomUUID(), guard ?? '', owner ?? '', this.covered ? '1' : '', from, trim?.upTo ?? '', trim?.incarnation ?? '', after ?? ''];
    const reply = await runScript<string[]>(this.redis, 'readOutbox', keys, args);
    const [base, incarnation] = reply;
    if (base === 'vanished') throw new StateVanishedError(partition, guard as string, incarnation === '' ? null : (incarnation as string));
    if (base === 'taken') throw new OutboxTakenError(partition, incarnation as string);
    if (base === 'early') return { base: -1, incarnation: '', entries: [], early: true };
    const cover = coverOfFence(reply[2] as string);
    return { base: Number(base), incarnation: incarnation as string, entries: reply.slice(3), ...(cover === null ? {} : { cover }) };
  }

  async claim(partition: number, owner: string): Promise<string> {
    return runScript<string>(this.redis, 'claimOutbox', [this.keys(partition)[1]], [owner]);
  }

  async trimTo(partition: number, upTo: number, incarnation = ''): Promise<number> {
    return runScript<number>(this.redis, 'trimOutboxTo', this.keys(partition), [upTo, incarnation]);
  }
}

// ---- pure parts ----------------------------------------------------------------------------

/**
 * Outbox records per relay read (and at most per partition in a transaction). Each transaction
 * costs five requests to the broker whatever its size (AddPartitionsToTxn, Produce,
 * AddOffsetsToTxn, TxnOffsetCommit, EndTxn; kafka-coordinators.ts), four of them one after
 * another (OutboxRelay's commitTogether), and the producer's next one
 * waits for the markers of its last (TRANSACTIONAL_RETRY), so a backlog goes in few large ones:
 * 2,000 records of a few hundred bytes stay well under the broker's 1 MB batch limit per
 * partition. Measured (the segmenter's
 * bench figure, 18,000 outputs of 100,000 events): 500 a chunk 21,000-22,600 events/s, 2,000
 * 23,600-32,500.
 */
export const RELAY_CHUNK = 2000;

/**
 * exactly_once: a partition's transaction ends where a change (one batch's apply, or a timer
 * firing) ends: a chunk (RELAY_CHUNK) is cut after the last record that ends a change
 * (coverOfRecord), and one that ends inside the first change is read on, into the same
 * transaction, to its end or the end of the outbox, up to this many records. So the checkpoint
 * of every transaction covers all it carries, and a rebuild after a Redis loss produces none of
 * them again (docs/operations.md, "Redis lost"). A change's outputs are already held in memory
 * once, by the apply that queued them; 50,000 records of a few hundred bytes are some 20 MB, in
 * sends of RELAY_SEND_TOGETHER_BYTES.
 */
export const RELAY_TRANSACTION_RECORDS = 50_000;

/**
 * The relays of different partitions share one producer (at_least_once the service's, whose
 * sends go one request at a time; exactly_once the relay's, one transaction at a time): what is
 * asked for while one is in flight goes out together in the next (SendTogether), within this
 * many bytes of keys and values (a chunk larger than that goes alone), so several relays'
 * records for one output partition stay under the broker's 1 MB batch limit.
 */
export const RELAY_SEND_TOGETHER_BYTES = 512 * 1024;

/**
 * exactly_once: how many bytes of records one transaction carries at most (in sends of at most
 * RELAY_SEND_TOGETHER_BYTES each). A transaction's fixed cost (four requests besides the sends,
 * a marker per partition) is then shared by the chunks of a backlog too, which one producer
 * relays one transaction at a time.
 */
export const RELAY_TRANSACTION_BYTES = 4 * 1024 * 1024;

/**
 * One send's records in sends of at most `maxBytes` (bytesOf; a record larger than that goes
 * alone), the order within each topic kept: a relay chunk read on to the end of a change
 * (RELAY_TRANSACTION_RECORDS) stays under the broker's batch limit per partition.
 */
export function splitBySize(send: TopicMessages, maxBytes: number): TopicMessages[] {
  if (bytesOf(send) <= maxBytes) return [send];
  const singles = send.flatMap(({ topic, messages }) => messages.map((message) => [{ topic, messages: [message] }]));
  return groupedBySize(singles, maxBytes).map(mergeTopicMessages);
}

/** Consecutive sends' records in groups of at most `maxBytes` (bytesOf), each at least one send, order kept (SendTogether's rule). */
export function groupedBySize(sends: TopicMessages[], maxBytes: number): TopicMessages[][] {
  const groups: TopicMessages[][] = [];
  for (let from = 0; from < sends.length; ) {
    const count = leadingWithin(sends, bytesOf, maxBytes, from);
    groups.push(sends.slice(from, from + count));
    from += count;
  }
  return groups;
}

type TopicMessages = ReturnType<typeof topicMessagesOf>;

/**
 * The relay producers' retry: without end (a broker outage waits, up to 30 s between tries), and
 * a first retry after 20 ms instead of kafkajs's 300. A partition's next transaction often starts
 * while the broker still writes the markers of its last one, and AddPartitionsToTxn answers
 * CONCURRENT_TRANSACTIONS until it has; kafkajs retries that like any error (kafkajs#304), so each
 * back-to-back transaction waited about 300 ms. The Java producer retries it after 20 ms
 * (KAFKA-5477). Measured (make bench's trigger figure, exactly_once): 17,600 -> 38,000 events/s.
 */
export const TRANSACTIONAL_RETRY = { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 30_000, initialRetryTime: 20 } as const;

/**
 * How long a checkpoint read waits for the group coordinator. kafkajs's fetchOffsets sends
 * OffsetFetch once: a cluster whose __consumer_offsets is still being created or loaded (a new
 * cluster's first minutes, a coordinator moving) answers NOT_COORDINATOR or
 * COORDINATOR_LOAD_IN_PROGRESS, which whileBrokerAway waits out (seen here: a relay's first
 * checkpoint read on a broker started a few seconds before).
 */
export const CHECKPOINT_READ_TIMEOUT_MS = 30_000;

/**
 * After its outbox named another owner, a relay that still holds the partition in the same group
 * generation claims it again only after this long: the other is the new owner unless it is a
 * zombie that claimed late (a paused process that has not heard of the rebalance yet, which the
 * group's session timeout, 30 s by default, removes). So neither side stalls the partition for
 * longer, and a zombie does not fence the owner back on its next batch or timer tick.
 */
export const RECLAIM_AFTER_MS = 30_000;

/**
 * The transactionalId of one relay (one per instance and process: `relayId` is random), which
 * the outbox of each partition it claims names as its owner, and a new owner fences.
 */
export function transactionalIdOf(prefix: string, group: string, relayId: string): string {
  return `${prefix}-${group}-${relayId}`;
}

/** The consumer group whose committed offsets are the relay checkpoints. */
export function checkpointGroupOf(group: string): string {
  return `${group}-relay`;
}

/** A committed offset as kafkajs's fetchOffsets gives it. */
export interface CommittedOffset {
  offset: string;
  metadata: string | null;
}

/**
 * The broker refuses offset metadata longer than offset.metadata.max.bytes (4,096 by default);
 * a cover that would make the checkpoint's longer is left out (the rebuild then restores up to
 * the group's commit only). The configuration's bounds (topic names, GROUP_ID, the transactional
 * id's prefix: config.ts, groupIdVar) keep every checkpoint under about 2,500 bytes, so this is a
 * guard, not a case that happens.
 */
export const CHECKPOINT_METADATA_MAX_BYTES = 4000;

/** A checkpoint's metadata as JSON: `inc` the outbox's incarnation, `by` the relay that committed it, `cover` what the outbox it completed held (RelayCover). */
interface CheckpointMetadata {
  inc: string;
  by: string;
  cover?: { i: string; o: Record<string, string>; t?: string };
}

/**
 * A checkpoint's metadata: JSON with the outbox's incarnation, the id of the relay that
 * committed it (for whoever reads the group's offsets) and, when the transaction produced the
 * outbox to its end, its RelayCover. Null `cover`, or one that would pass
 * CHECKPOINT_METADATA_MAX_BYTES, is left out. Read by checkpointOf and checkpointCoverOf, which
 * also read the older forms: the incarnation alone, or `<incarnation>/<relay>`.
 */
export function checkpointMetadataOf(incarnation: string, writer: string, cover: RelayCover | null = null): string {
  const metadata: CheckpointMetadata = { inc: incarnation, by: writer };
  const plain = JSON.stringify(metadata);
  if (cover === null) return plain;
  metadata.cover = { i: cover.incarnation, o: cover.offsets, ...(cover.timersThrough === null ? {} : { t: String(cover.timersThrough) }) };
  const covered = JSON.stringify(metadata);
  return Buffer.byteLength(covered) <= CHECKPOINT_METADATA_MAX_BYTES ? covered : plain;
}

/** The JSON metadata's parts, or null for the older forms or anything malformed. */
function parseCheckpointMetadata(metadata: string): CheckpointMetadata | null {
  if (!metadata.startsWith('{')) return null;
  try {
    const parsed = JSON.parse(metadata) as Partial<CheckpointMetadata> | null;
    return typeof parsed?.inc === 'string' && typeof parsed.by === 'string' ? (parsed as CheckpointMetadata) : null;
  } catch {
    return null;
  }
}

/**
 * The committed checkpoint (next sequence number to produce) from the group's offset, or null
 * when there is none for this outbox: nothing committed (-1), or committed for another
 * incarnation of the outbox (its state was lost or reset since; its numbers start again).
 */
export function checkpointOf(committed: CommittedOffset | undefined, incarnation: string): number | null {
  if (committed === undefined || committed.metadata === null) return null;
  const offset = Number(committed.offset);
  if (!Number.isSafeInteger(offset) || offset < 0) return null;
  const { metadata } = committed;
  const parsed = parseCheckpointMetadata(metadata);
  if (parsed !== null) return parsed.inc === incarnation ? offset : null;
  return metadata === incarnation || metadata.startsWith(`${incarnation}/`) ? offset : null;
}

/** A RelayCover from its JSON parts (checkpoint metadata, readOutbox-4.lua), or null when they are not one. */
function coverOfParts(incarnation: unknown, offsets: unknown, timersThrough: unknown): RelayCover | null {
  if (typeof incarnation !== 'string' || typeof offsets !== 'object' || offsets === null) return null;
  const entries = Object.entries(offsets);
  if (!entries.every(([, offset]) => typeof offset === 'string' && /^\d{1,19}$/.test(offset))) return null;
  if (timersThrough !== undefined && !(typeof timersThrough === 'string' && /^-?\d{1,16}$/.test(timersThrough))) return null;
  return { incarnation, offsets: Object.fromEntries(entries) as Record<string, string>, timersThrough: timersThrough === undefined ? null : Number(timersThrough) };
}

/**
 * The RelayCover a committed checkpoint carries (what the outbox it completed held the outputs
 * of), or null: none recorded, an older form, or malformed.
 */
export function checkpointCoverOf(committed: CommittedOffset | undefined): RelayCover | null {
  const cover = committed?.metadata ? parseCheckpointMetadata(committed.metadata)?.cover : undefined;
  return cover === undefined ? null : coverOfParts(cover.i, cover.o, cover.t);
}

/** readOutbox-4.lua's cover, JSON of the fence's `inc`, `o` (offsets by topic) and `tt`; null when "" or malformed. */
export function coverOfFence(text: string): RelayCover | null {
  if (text === '') return null;
  try {
    const { inc, o, tt } = JSON.parse(text) as { inc?: unknown; o?: unknown; tt?: unknown };
    return coverOfParts(inc, o, tt);
  } catch {
    return null;
  }
}

/**
 * The cover an outbox record carries: applyPartitionChange-n.lua adds the fence's cover after the
 * change, as field `c`, to the last record of each change (PartitionStateStore's `coverOutbox`),
 * so every output of the records and timers it names is at or before that record. Null for any
 * other record. A record is `{"t":…,"k":…,"v":"…"}` (encodeOutboxRecord), whose last character
 * but one is a quote; only one with a cover ends in `}}`, so the others are not parsed.
 */
export function coverOfRecord(record: string): RelayCover | null {
  if (!record.endsWith('}}')) return null;
  try {
    const { c } = JSON.parse(record) as { c?: { inc?: unknown; o?: unknown; tt?: unknown } };
    return typeof c === 'object' && c !== null ? coverOfParts(c.inc, c.o, c.tt) : null;
  } catch {
    return null;
  }
}

/** The last record of `records` at or after `from` that carries a cover (coverOfRecord): its index and the cover, or null. */
function lastMark(records: readonly string[], from: number): { index: number; cover: RelayCover } | null {
  for (let i = records.length - 1; i >= from; i -= 1) {
    const cover = coverOfRecord(records[i] as string);
    if (cover !== null) return { index: i, cover };
  }
  return null;
}

/** The cover of the last record of `records` that carries one (coverOfRecord), or null. */
export function lastRecordCover(records: readonly string[]): RelayCover | null {
  return lastMark(records, 0)?.cover ?? null;
}

/**
 * The cover a chunk's checkpoint records. A chunk that takes the outbox to its end (`drained`:
 * the read returned fewer records than it asked for) covers what the fence said with the read.
 * A chunk of a longer outbox covers what its last record that ends a change says (coverOfRecord,
 * among `produced`, the records it carries), else keeps the cover of the checkpoint before it
 * (`known`, when of this outbox): every record still in the outbox then came from a later
 * change, so neither is past what is in Kafka. The exactly_once relay ends its chunks where
 * changes end (RELAY_TRANSACTION_RECORDS), so only a change with more outputs than that leaves
 * records past the cover, which a rebuild would produce again if Redis were lost before the
 * chunk that ends the change.
 */
export function coverOfChunk(head: Pick<OutboxHead, 'incarnation' | 'cover'>, drained: boolean, known: CommittedOffset | undefined, produced: readonly string[] = []): RelayCover | null {
  if (drained) return head.cover ?? null;
  return lastRecordCover(produced) ?? (checkpointOf(known, head.incarnation) === null ? null : checkpointCoverOf(known));
}

/** What one relay round does with the head it read. */
export interface RelayPlan {
  /** Records already committed to Kafka (at or above base, below the checkpoint): trim only. */
  skip: number;
  /** The records to produce, in order. */
  produce: string[];
  /** The checkpoint to commit with them: one past the last one's sequence number. */
  nextCheckpoint: number;
}

/**
 * Skips the entries whose sequence number is below `checkpoint` (null: nothing committed
 * beyond base) and produces the rest. The checkpoint never moves back.
 */
export function planRelay(head: Pick<OutboxHead, 'base' | 'entries'>, checkpoint: number | null): RelayPlan {
  const from = Math.max(head.base, checkpoint ?? head.base);
  const skip = Math.min(from - head.base, head.entries.length);
  const produce = head.entries.slice(skip);
  return { skip, produce, nextCheckpoint: Math.max(from, head.base + head.entries.length) };
}

/** Records grouped by topic for one sendBatch, order kept within each topic. */
export function topicMessagesOf(entries: string[]): Array<{ topic: string; messages: Array<{ key: string; value: Buffer }> }> {
  const byTopic = new Map<string, Array<{ key: string; value: Buffer }>>();
  for (const { topic, key, value } of entries.map(decodeOutboxRecord)) {
    const list = byTopic.get(topic) ?? [];
    list.push({ key, value });
    byTopic.set(topic, list);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** Several sends' records as one sendBatch's: one entry per topic, in the order given. */
export function mergeTopicMessages(sends: TopicMessages[]): TopicMessages {
  const byTopic = new Map<string, Array<{ key: string; value: Buffer }>>();
  for (const send of sends) {
    for (const { topic, messages } of send) {
      const list = byTopic.get(topic);
      if (list === undefined) byTopic.set(topic, [...messages]);
      else for (const message of messages) list.push(message);
    }
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** The bytes of keys and values a send carries. */
export function bytesOf(send: TopicMessages): number {
  let bytes = 0;
  for (const { messages } of send) for (const { key, value } of messages) bytes += Buffer.byteLength(key) + value.length;
  return bytes;
}

const FENCED_TYPES = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'INVALID_PRODUCER_ID_MAPPING', 'TRANSACTIONAL_ID_NOT_FOUND']);

/**
 * A broker's answer that another producer took this transactionalId (or the coordinator aborted
 * our transaction), here or anywhere down the error's `cause` chain: kafkajs's retrier wraps the
 * protocol error in KafkaJSNumberOfRetriesExceeded (a bounded walk: causes could loop).
 */
export function isFencedError(error: unknown): boolean {
  let current = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth += 1) {
    const { type, code, cause } = current as { type?: unknown; code?: unknown; cause?: unknown };
    if ((typeof type === 'string' && FENCED_TYPES.has(type)) || code === 90) return true;
    current = cause;
  }
  return false;
}

// ---- the relay -----------------------------------------------------------------------------

/**
 * A guarded read found the partition's state no longer the one the caller applied to (Redis
 * flushed, restarted empty, failed over, or the state was reset): the outbox cannot hold what
 * the caller appended, so nothing was read. Not retriable: the state must be rebuilt.
 */
export class StateVanishedError extends KairosError {
  constructor(
    readonly partition: number,
    readonly expected: string,
    /** The fence's incarnation now, null when there is none (the state is gone). */
    readonly found: string | null,
  ) {
    super(`partition ${partition}: the state (incarnation ${expected}) is no longer in Redis (${found === null ? 'no state' : `incarnation ${found}`}); its outbox was not read`, { retriable: false });
  }

  /** How many records from the head of the outbox the relay call had produced (or trimmed as already committed) before the guard failed. */
  consumed = 0;
}

/** A read found that another relay claimed the partition's outbox since this one did (OutboxStore.claim). */
export class OutboxTakenError extends Error {
  override readonly name = 'OutboxTakenError';
  constructor(
    readonly partition: number,
    /** The partition's owner now ('' when none). */
    readonly owner: string,
  ) {
    super(`partition ${partition}: the outbox was claimed by ${owner === '' ? 'no relay' : owner}`);
  }
}

/** Another relay took the partition (or this relay's producer was fenced, its transaction timed out): this relay's work on it stops. */
export class RelayFencedError extends KairosError {
  constructor(partition: number, transactionalId: string, cause: unknown) {
    super(`partition ${partition}: relay ${transactionalId} no longer owns it (another relay claimed the partition, or the producer was fenced or its transaction timed out); nothing of its open transaction is visible, the owner relays`, { retriable: true, cause });
  }
}

/** A transaction failed; it was aborted (or will be, by the next owner or the timeout); retried. */
export class RelayTransactionError extends KairosError {
  constructor(partition: number, cause: unknown) {
    super(`partition ${partition}: relay transaction failed (${cause instanceof Error ? cause.message : String(cause)}); retried with the producer initialized again`, { retriable: true, cause });
  }
}

/** Fault injection for tests. */
export interface RelayHooks {
  /** After a chunk's transaction (or plain send) succeeded, before the outbox is trimmed. */
  afterProduce?(partition: number, count: number): Promise<void> | void;
  /** Inside the transaction, after the records and the checkpoint were sent, before the commit (EndTxn). */
  beforeCommit?(partition: number): Promise<void> | void;
}

export interface OutboxRelayOptions {
  store: OutboxStore;
  guarantee: OutputGuarantee;
  kafka: Kafka;
  /** The service's idempotent producer: at_least_once sends with it. */
  producer: Producer;
  /** A connected admin client: reads the checkpoints. */
  admin: Admin;
  /** The service's consumer group (GROUP_ID): names the checkpoint group and the transactional id. */
  group: string;
  /** The input topic whose partitions the outbox follows (the first input). */
  topic: string;
  transactionalIdPrefix: string;
  transactionTimeoutMs: number;
  logger: Logger;
  metrics?: KairosMetrics;
  /** The consumer group generation: in a new one (rebalance) the relay claims each partition again. */
  generation?: () => number;
  /** How many outbox records one read carries; RELAY_CHUNK by default. */
  batchSize?: number;
  /** exactly_once: how many records a partition's transaction reads on to, to end with a change (RELAY_TRANSACTION_RECORDS by default). */
  transactionRecords?: number;
  /** How long a relay request (a transaction, or at_least_once a shared send) waits at most, when none is in flight, for other partitions' records to join it (RELAY_GATHER; sooner once no relay call is on its way, expect); 0 by default. */
  gatherMs?: number;
  hooks?: RelayHooks;
}

/** The relay's transactional producer, from its initialization (InitProducerId) until a transaction of it fails. */
interface RelaySession {
  producer: Producer;
  /**
   * The checkpoints as this session knows them: read on a partition's first chunk, then its own
   * commits. Every record below a checkpoint's sequence number (checkpointOf) is in Kafka.
   */
  checkpoints: Map<number, CommittedOffset | undefined>;
}

/** One partition's chunk waiting for a transaction. */
interface Chunk {
  partition: number;
  incarnation: string;
  /** The checkpoint to commit with them, or null (records of an outbox that vanished). */
  checkpoint: number | null;
  /** What the outbox holds the outputs of once this chunk is in Kafka (committed in the checkpoint's metadata), or null. */
  cover: RelayCover | null;
  /** The session its outbox was read under: only that session may commit it. */
  session: RelaySession;
  topicMessages: TopicMessages;
}

/** A chunk was read under a producer that has since been replaced: it is read again, under the new one. */
class StaleChunkError extends Error {}

/**
 * Relays outboxes; one instance per service. Calls for one partition must not overlap (the
 * services queue a partition's work); different partitions run side by side.
 */
export class OutboxRelay {
  /** exactly_once: this relay's transactional id, the owner its claims record. */
  readonly transactionalId: string;
  private session: Promise<RelaySession> | undefined;
  /** The session once initialized, until it ends. */
  private live: RelaySession | undefined;
  /** The generation in which this relay last claimed each partition. */
  private readonly claims = new Map<number, number>();
  /** The previous owner of a partition claimed whose fence has not succeeded yet. */
  private readonly unfenced = new Map<number, string>();
  /** When a read first found each partition's outbox claimed by another relay since this one claimed it. */
  private readonly takenSince = new Map<number, number>();
  /** exactly_once: what each partition's last transaction committed and no read has trimmed yet. */
  private readonly owedTrims = new Map<number, OwedTrim>();
  /** at_least_once: the partitions' sends, together (RELAY_SEND_TOGETHER_BYTES). */
  private readonly plainSends: SendTogether<TopicMessages>;
  /** exactly_once: the partitions' chunks, in one transaction while their records stay within RELAY_TRANSACTION_BYTES. */
  private readonly transactions: SendTogether<Chunk>;
  /** Relay calls on their way (expect): a gather waits for them, at most RELAY_GATHER. */
  private onTheirWay = 0;

  constructor(private readonly options: OutboxRelayOptions) {
    this.plainSends = new SendTogether<TopicMessages>({
      send: (sends) => this.options.producer.sendBatch({ acks: -1, topicMessages: mergeTopicMessages(sends) }).then(() => undefined),
      sizeOf: bytesOf,
      maxSize: RELAY_SEND_TOGETHER_BYTES,
      gatherMs: options.gatherMs,
      onTheirWay: () => this.onTheirWay,
    });
    this.transactions = new SendTogether<Chunk>({
      send: (chunks) => this.commitTogether(chunks),
      sizeOf: (chunk) => bytesOf(chunk.topicMessages),
      maxSize: RELAY_TRANSACTION_BYTES,
      gatherMs: options.gatherMs,
      onTheirWay: () => this.onTheirWay,
    });
    this.transactionalId = transactionalIdOf(options.transactionalIdPrefix, options.group, randomUUID());
    // Its transactions look each coordinator up once, not before every step
    // (kafka-coordinators.ts), and wait out a coordinator still completing the last one
    // (kafka-concurrent-transactions.ts).
    if (options.guarantee === 'exactly_once') {
      rememberTransactionCoordinators();
      retryConcurrentTransactions();
    }
  }

  get guarantee(): OutputGuarantee {
    return this.options.guarantee;
  }

  /** exactly_once: chunks waiting for the transaction in flight to end (for tests and diagnostics). */
  get chunksWaiting(): number {
    return this.transactions.queued;
  }

  /**
   * Produces the partition's outbox; returns how many records were produced. With `guard` (the
   * fence incarnation the caller applied to), each read checks that the state is still that one
   * (StateVanishedError if not): a relay that returns has produced everything the caller
   * appended to it. `ahead`: the read the caller started behind its last apply (readAhead),
   * taken as the first read when it was read with the same guard, under the current producer
   * and claim; else read again.
   */
  async relay(partition: number, guard?: string, ahead?: ReadAhead): Promise<number> {
    const first = ahead?.partition === partition && ahead.guard === guard ? ahead : undefined;
    // Counted before its first await, so a caller's own count (expect) can hand over to it.
    const way = this.expect();
    try {
      return await (this.options.guarantee === 'exactly_once' ? this.relayTransactional(partition, guard, first, way) : this.relayPlain(partition, guard, first, way));
    } finally {
      way.release();
    }
  }

  /**
   * Counts a relay call as on its way from now: a caller that will relay soon (a batch that
   * started to apply) calls it, and releases it once it called relay (which counts itself) or
   * ended without. A request that gathers (RELAY_GATHER: the partitions of a fetch end within
   * milliseconds of each other) waits for the calls on their way, at most the gather's time,
   * and goes out once none is.
   */
  expect(): OnItsWay {
    this.onTheirWay += 1;
    return new OnItsWay((poke) => {
      this.onTheirWay -= 1;
      if (!poke) return;
      this.transactions.poke();
      this.plainSends.poke();
    });
  }

  /**
   * Starts the partition's next relay read now, for a caller that has just sent a command that
   * appends to its outbox (an apply) on the same Redis connection and not awaited it yet: it
   * passes the result to the relay call that follows (relay's `ahead`). `guard`: the one that
   * call will pass. Undefined when the read has to wait for that call: exactly_once without an
   * initialized producer, or a partition not claimed in this group generation (the producer and
   * the claim come before the read).
   */
  readAhead(partition: number, after: number, guard?: string): ReadAhead | undefined {
    const exactlyOnce = this.options.guarantee === 'exactly_once';
    const session = exactlyOnce ? this.live : undefined;
    if (exactlyOnce && (session === undefined || !this.claimHolds(partition))) return undefined;
    const trim = this.owedTrims.get(partition);
    const owner = exactlyOnce ? this.transactionalId : undefined;
    return new ReadAhead(partition, guard, session, trim, this.options.store.read(partition, this.batchSize, { guard, owner, trim, after }));
  }

  /**
   * The head of the outbox, after the trim owed to it (a read from the head); a failed guard says
   * how many records this call had taken off it.
   */
  private async readHead(partition: number, guard: string | undefined, consumed: number, owner?: string, from = 0, ahead?: ReadAhead): Promise<OutboxHead> {
    const trim = ahead !== undefined ? ahead.trim : from === 0 ? this.owedTrims.get(partition) : undefined;
    try {
      const read = () => this.options.store.read(partition, this.batchSize, { guard, owner, from, trim });
      let head = await (ahead?.head ?? read());
      // Sent behind its apply but run before it (a command sent again): read now.
      if (head.early === true) head = await read();
      if (trim !== undefined) this.trimDone(partition, trim);
      return head;
    } catch (error) {
      if (error instanceof StateVanishedError) error.consumed = consumed;
      if (error instanceof OutboxTakenError) {
        if (!this.takenSince.has(partition)) this.takenSince.set(partition, Date.now());
        throw new RelayFencedError(partition, this.transactionalId, error);
      }
      throw error;
    }
  }

  /**
   * Produces records that were appended to an outbox which then vanished from Redis before the
   * relay read them (the caller kept them): exactly_once in a transaction of the relay's
   * producer (no checkpoint: the outbox they were counted in is gone), else with the idempotent
   * producer. For the rare loss of Redis under a running service; see Renderer.relay.
   */
  async produceOrphans(partition: number, entries: string[]): Promise<void> {
    if (entries.length === 0) return;
    if (this.options.guarantee === 'at_least_once') {
      const topicMessages = topicMessagesOf(entries);
      await this.options.producer.sendBatch({ acks: -1, topicMessages });
      this.count(topicMessages);
      return;
    }
    for (;;) {
      const session = await this.currentSession(partition);
      try {
        await this.transact(partition, { partition, incarnation: '', checkpoint: null, cover: null, session, topicMessages: topicMessagesOf(entries) });
        return;
      } catch (error) {
        if (!(error instanceof StaleChunkError)) throw error;
      }
    }
  }

  private get batchSize(): number {
    return this.options.batchSize ?? RELAY_CHUNK;
  }

  private async relayPlain(partition: number, guard: string | undefined, ahead: ReadAhead | undefined, way: OnItsWay): Promise<number> {
    const { hooks } = this.options;
    let sent = 0;
    for (;;) {
      const head = await this.readHead(partition, guard, sent, undefined, 0, sent === 0 ? ahead : undefined);
      if (head.entries.length === 0) return sent;
      const topicMessages = topicMessagesOf(head.entries);
      way.joins();
      await this.plainSends.add(topicMessages);
      this.count(topicMessages);
      await hooks?.afterProduce?.(partition, head.entries.length);
      this.trimNow(partition, { upTo: head.base + head.entries.length, incarnation: head.incarnation });
      sent += head.entries.length;
      if (head.entries.length < this.batchSize) return sent;
    }
  }

  /**
   * at_least_once: sends the trim of what was just produced now, and does not wait for it. Unlike
   * exactly_once (which leaves it to the next read), it goes out at once: with no checkpoint,
   * records left in the outbox would be produced again by the partition's next owner. Not
   * awaited, so a batch does not wait for its round trip: Redis runs it before whatever this
   * relay sends the partition next on the same connection (the next read, or the read sent
   * behind the next apply). Until it is answered it stays owed, so a read that goes out before
   * then carries it too (a trim done twice drops nothing more), and one that failed is done by
   * the partition's next read, or by flushTrims when the relay lets the partition go.
   */
  private trimNow(partition: number, trim: OwedTrim): void {
    this.owedTrims.set(partition, trim);
    this.options.store.trimTo(partition, trim.upTo, trim.incarnation).then(
      () => this.trimDone(partition, trim),
      (err: unknown) => this.options.logger.warn({ err, partition }, 'could not trim the records just produced; the partition\'s next read trims them'),
    );
  }

  /** `trim` was done: no longer owed, unless a later one replaced it. */
  private trimDone(partition: number, trim: OwedTrim): void {
    if (this.owedTrims.get(partition) === trim) this.owedTrims.delete(partition);
  }

  private async relayTransactional(partition: number, guard: string | undefined, ahead: ReadAhead | undefined, way: OnItsWay): Promise<number> {
    const { store, hooks } = this.options;
    // A read ahead of a claim made now was read before it: read again.
    let first = (await this.claim(partition)) ? undefined : ahead;
    let sent = 0;
    let consumed = 0;
    for (;;) {
      // The producer first, then the read: a chunk read while this relay owned the partition is
      // committed by a producer initialized before a new owner could fence it, or not at all.
      const session = await this.currentSession(partition);
      const read = await this.readToChangeEnd(partition, guard, consumed, first?.session === session ? first : undefined);
      first = undefined;
      if (read === null) continue;
      const { head, drained } = read;
      const known = await this.knownCheckpoint(session, partition, head.incarnation);
      const plan = planRelay(head, checkpointOf(known, head.incarnation));
      if (plan.skip > 0) {
        // Committed before a crash or by an earlier owner, not trimmed: trim, never produce again.
        await store.trimTo(partition, head.base + plan.skip, head.incarnation);
        this.options.logger.info({ partition, records: plan.skip }, 'outbox records already committed to Kafka by an earlier owner or before a restart; trimmed without producing them again');
      }
      if (plan.produce.length > 0) {
        const cover = coverOfChunk(head, drained, known, plan.produce);
        const chunk = { partition, incarnation: head.incarnation, checkpoint: plan.nextCheckpoint, cover, session, topicMessages: topicMessagesOf(plan.produce) };
        way.joins();
        try {
          await this.transact(partition, chunk);
        } catch (error) {
          if (error instanceof StaleChunkError) continue;
          throw error;
        }
        await hooks?.afterProduce?.(partition, plan.produce.length);
        // Trimmed by the partition's next read (this loop's, or the next relay call's).
        this.owedTrims.set(partition, { upTo: plan.nextCheckpoint, incarnation: head.incarnation });
        sent += plan.produce.length;
      }
      consumed += plan.skip + plan.produce.length;
      if (drained) return sent;
    }
  }

  /**
   * exactly_once: the head of the outbox (as the owner), made to end where a change ends, when
   * the store's changes mark their last record (`covered`; coverOfRecord). A chunk that holds a
   * mark and does not reach the end of the outbox is cut after its last mark; one that holds
   * none (it ends inside the first change) is read on, to the first mark or the end of the
   * outbox, up to RELAY_TRANSACTION_RECORDS (a change of more goes in several transactions, as
   * an unmarked outbox does). `drained`: the last read reached the end of the outbox, and
   * `head.cover` is what it said. Null when the head moved between two reads (not by this relay:
   * read again).
   */
  private async readToChangeEnd(partition: number, guard: string | undefined, consumed: number, ahead?: ReadAhead): Promise<{ head: OutboxHead; drained: boolean } | null> {
    const head = await this.readHead(partition, guard, consumed, this.transactionalId, 0, ahead);
    let drained = head.entries.length < this.batchSize;
    if (drained || this.options.store.covered !== true) return { head, drained };
    const limit = this.options.transactionRecords ?? RELAY_TRANSACTION_RECORDS;
    let end = lastMark(head.entries, 0)?.index ?? -1;
    while (end < 0 && !drained && head.entries.length < limit) {
      const from = head.entries.length;
      const more = await this.readHead(partition, guard, consumed, this.transactionalId, from);
      if (more.base !== head.base || more.incarnation !== head.incarnation) return null;
      for (const entry of more.entries) head.entries.push(entry);
      if (more.cover === undefined) delete head.cover;
      else head.cover = more.cover;
      drained = more.entries.length < this.batchSize;
      end = lastMark(head.entries, from)?.index ?? -1;
    }
    if (!drained && end >= 0) head.entries.length = end + 1;
    return { head, drained };
  }

  /**
   * Claims the partition once per group generation (and again RECLAIM_AFTER_MS after another
   * relay claimed it within the generation): records this relay as its owner, then
   * initializes the previous owner's transactional id (fencing its producer: its open
   * transaction is aborted, or completed if its commit was under way), before any checkpoint
   * of the partition is read. Returns whether it claimed now.
   */
  private async claim(partition: number): Promise<boolean> {
    if (this.claimHolds(partition)) return false;
    const generation = this.options.generation?.() ?? 0;
    this.takenSince.delete(partition);
    const claimed = await this.options.store.claim(partition, this.transactionalId);
    // A fence that failed after an earlier claim is still owed: the outbox names this relay already.
    const previous = claimed === this.transactionalId ? this.unfenced.get(partition) : claimed;
    if (previous !== undefined && previous !== '') {
      this.unfenced.set(partition, previous);
      await this.fence(partition, previous);
      this.unfenced.delete(partition);
    }
    // What this relay knew of the partition's checkpoint may be behind the previous owner's.
    this.live?.checkpoints.delete(partition);
    this.claims.set(partition, generation);
    return true;
  }

  /** Whether this relay's claim of the partition holds: made in this group generation, and not taken since (or for less than RECLAIM_AFTER_MS). */
  private claimHolds(partition: number): boolean {
    const taken = this.takenSince.get(partition);
    return this.claims.get(partition) === (this.options.generation?.() ?? 0) && (taken === undefined || Date.now() - taken < RECLAIM_AFTER_MS);
  }

  /** Initializes `transactionalId` (InitProducerId) with a producer of its own, and leaves. */
  private async fence(partition: number, transactionalId: string): Promise<void> {
    const producer = await this.initializedProducer(transactionalId, partition);
    this.options.logger.info({ partition, fenced: transactionalId }, 'relay took the partition over: the previous owner\'s producer is fenced');
    await producer.disconnect().catch(() => undefined);
  }

  /**
   * A connected producer of `transactionalId`, initialized: InitProducerId bumps the epoch and
   * completes or aborts the id's open transaction before answering (an empty transaction sends
   * nothing). A failure disconnects it and is a RelayTransactionError of `partition`.
   */
  private async initializedProducer(transactionalId: string, partition: number): Promise<Producer> {
    const producer = this.transactionalProducer(transactionalId);
    try {
      await producer.connect();
      const init = await producer.transaction();
      await init.abort();
      return producer;
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw new RelayTransactionError(partition, error);
    }
  }

  private transactionalProducer(transactionalId: string): Producer {
    return this.options.kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: this.options.transactionTimeoutMs,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: TRANSACTIONAL_RETRY,
    });
  }

  /** This relay's producer, initialized (InitProducerId: completes or aborts its own open transaction of a failed session). */
  private currentSession(partition: number): Promise<RelaySession> {
    if (this.session === undefined) {
      const session = this.initializedProducer(this.transactionalId, partition).then((producer) => {
        const live: RelaySession = { producer, checkpoints: new Map() };
        if (this.session === session) this.live = live;
        return live;
      });
      this.session = session;
      session.catch(() => {
        if (this.session === session) this.session = undefined;
      });
    }
    return this.session;
  }

  /** Ends a session whose transaction failed: the next chunk initializes the producer again. */
  private endSession(session: RelaySession): void {
    if (this.live === session) {
      this.live = undefined;
      this.session = undefined;
    }
    void session.producer.disconnect().catch(() => undefined);
  }

  /** The partition's checkpoint as the session knows it, read once per session and partition. */
  private async knownCheckpoint(session: RelaySession, partition: number, incarnation: string): Promise<CommittedOffset | undefined> {
    if (!session.checkpoints.has(partition)) {
      const committed = await this.committedCheckpoint(partition);
      if (committed !== undefined && Number(committed.offset) >= 0 && checkpointOf(committed, incarnation) === null) {
        this.options.logger.warn({ partition, group: checkpointGroupOf(this.options.group) }, 'relay checkpoint belongs to an earlier outbox (state reset or lost); ignoring it');
      }
      session.checkpoints.set(partition, committed);
    }
    return session.checkpoints.get(partition);
  }

  /** Commits `chunk` in the next transaction (with the chunks of other partitions ready by then); a failure is classified for this partition. */
  private async transact(partition: number, chunk: Chunk): Promise<void> {
    try {
      await this.transactions.add(chunk);
    } catch (error) {
      if (error instanceof StaleChunkError) throw error;
      // A fenced answer alone does not say which partition was taken: a transaction carries several.
      if (await this.takenFrom(partition)) throw new RelayFencedError(partition, this.transactionalId, error);
      throw new RelayTransactionError(partition, error);
    }
  }

  /** Whether another relay claimed the partition since this one (a failed read proves nothing: the caller retries). */
  private async takenFrom(partition: number): Promise<boolean> {
    try {
      await this.options.store.read(partition, 1, { owner: this.transactionalId });
      return false;
    } catch (error) {
      return error instanceof OutboxTakenError;
    }
  }

  /**
   * One transaction carrying `chunks` (one per partition), each with its checkpoint.
   *
   * The records (AddPartitionsToTxn, then Produce) and the checkpoint (AddOffsetsToTxn, then
   * TxnOffsetCommit) go out side by side, and EndTxn once both are answered: four requests one
   * after another instead of five. Their order within the transaction does not matter, since
   * nothing of it is visible before EndTxn. Each step still waits for the one it depends on:
   * Produce for AddPartitionsToTxn (the broker checks that a transaction's partition was added,
   * KIP-890), TxnOffsetCommit for AddOffsetsToTxn. The two requests to the transaction
   * coordinator share the producer's connection to it, and a broker handles one request of a
   * connection at a time, in order (the Kafka protocol's guarantee), so neither meets the
   * other's change still pending; were they to, CONCURRENT_TRANSACTIONS is retried
   * (kafka-concurrent-transactions.ts, kafkajs). Measured (`node dist/bench/relay.js`, the steps
   * in series and side by side alternating, nine pairs on one machine): the live exactly_once
   * call's p50 12.4 to 17.6 ms (median 16.2) in series, 11.5 to 16.4 (median 14.0) side by side,
   * lower in 8 of the 9 pairs.
   */
  private async commitTogether(chunks: Chunk[]): Promise<void> {
    const session = this.live;
    if (session === undefined || chunks.some((chunk) => chunk.session !== session)) throw new StaleChunkError('read under an earlier producer');
    const { group, topic, hooks } = this.options;
    // Each chunk's checkpoint with its metadata, built once: committed, then remembered.
    const checkpoints = chunks.flatMap((chunk) => (chunk.checkpoint === null ? [] : [{ partition: chunk.partition, offset: String(chunk.checkpoint), metadata: this.metadataOf(chunk) }]));
    let transaction: Awaited<ReturnType<Producer['transaction']>> | undefined;
    try {
      const open = await session.producer.transaction();
      transaction = open;
      const records = async () => {
        for (const sends of groupedBySize(chunks.flatMap((chunk) => splitBySize(chunk.topicMessages, RELAY_SEND_TOGETHER_BYTES)), RELAY_SEND_TOGETHER_BYTES)) {
          await open.sendBatch({ acks: -1, topicMessages: mergeTopicMessages(sends) });
        }
      };
      const checkpoint = async () => {
        if (checkpoints.length === 0) return;
        await open.sendOffsets({
          consumerGroupId: checkpointGroupOf(group),
          // kafkajs passes `metadata` through to TxnOffsetCommit; its types omit it.
          topics: [{ topic, partitions: checkpoints as Array<{ partition: number; offset: string }> }],
        });
      };
      // Side by side (above); both settle before the commit, or before the abort.
      const steps = await Promise.allSettled([records(), checkpoint()]);
      for (const step of steps) if (step.status === 'rejected') throw step.reason;
      for (const chunk of chunks) await hooks?.beforeCommit?.(chunk.partition);
      await open.commit();
    } catch (error) {
      // Whatever failed, this producer is done: the next one re-reads the checkpoints (the commit may have landed).
      if (transaction?.isActive()) await transaction.abort().catch(() => undefined);
      this.endSession(session);
      this.options.metrics?.relayTransactions.inc({ outcome: 'failed' });
      const partitions = chunks.map((chunk) => chunk.partition);
      if (isFencedError(error)) this.options.logger.warn({ partitions, transactionalId: this.transactionalId }, 'relay producer fenced: another relay claimed a partition it carried; nothing of its transaction is visible, the rest are relayed again');
      else this.options.logger.warn({ partitions, err: error }, 'relay transaction failed; aborted, relayed again with the producer initialized again');
      throw error;
    }
    this.options.metrics?.relayTransactions.inc({ outcome: 'committed' });
    for (const chunk of chunks) this.count(chunk.topicMessages);
    for (const { partition, offset, metadata } of checkpoints) session.checkpoints.set(partition, { offset, metadata });
  }

  private metadataOf(chunk: Chunk): string {
    return checkpointMetadataOf(chunk.incarnation, this.transactionalId, chunk.cover);
  }

  /** The checkpoint group's committed offset of the partition (offset -1: none). */
  private async committedCheckpoint(partition: number): Promise<CommittedOffset | undefined> {
    const { admin, group, topic, logger } = this.options;
    const read = () => admin.fetchOffsets({ groupId: checkpointGroupOf(group), topics: [topic] });
    const [offsets] = await whileBrokerAway('relay checkpoint read', read, { timeoutMs: CHECKPOINT_READ_TIMEOUT_MS, logger });
    return offsets?.partitions.find((p) => p.partition === partition);
  }

  private count(topicMessages: Array<{ topic: string; messages: unknown[] }>): void {
    for (const { topic, messages } of topicMessages) this.options.metrics?.recordsProduced.inc({ topic }, messages.length);
  }

  /**
   * Forgets the claims of partitions no longer in `owned` (after a rebalance): taking one again
   * claims it again. Does the trims owed to them (flushTrims).
   */
  async release(owned: readonly number[]): Promise<void> {
    const keep = new Set(owned);
    for (const partition of [...this.claims.keys()]) if (!keep.has(partition)) this.claims.delete(partition);
    for (const partition of [...this.takenSince.keys()]) if (!keep.has(partition)) this.takenSince.delete(partition);
    await this.flushTrims([...this.owedTrims.keys()].filter((partition) => !keep.has(partition)));
  }

  /**
   * Does the trims owed to `partitions` (default: all) now, each in a call of its own, rather
   * than with their next reads: before this relay lets them go, so the next owner finds their
   * outboxes without records it would only trim (exactly_once) or produce again
   * (at_least_once). A trim that fails is left to that owner and logged.
   */
  async flushTrims(partitions: readonly number[] = [...this.owedTrims.keys()]): Promise<void> {
    await Promise.all(
      partitions.map(async (partition) => {
        const trim = this.owedTrims.get(partition);
        if (trim === undefined) return;
        this.owedTrims.delete(partition);
        try {
          await this.options.store.trimTo(partition, trim.upTo, trim.incarnation);
        } catch (err) {
          // exactly_once: the next relay skips them (planRelay); at_least_once produces them again.
          this.options.logger.warn({ err, partition }, 'could not trim the records already in Kafka; the next relay of the partition skips them (exactly_once) or produces them again (at_least_once)');
        }
      }),
    );
  }

  /** Does the owed trims (flushTrims), then disconnects the transactional producer (the shared one belongs to the service). */
  async close(): Promise<void> {
    await this.flushTrims();
    const session = this.session;
    this.session = undefined;
    this.live = undefined;
    await session?.then((s) => s.producer.disconnect()).catch(() => undefined);
  }
}
