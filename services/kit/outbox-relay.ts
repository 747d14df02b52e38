/**
 * The outbox relay: produces a partition's outbox (records a service queued in Redis atomically
 * with its state) to Kafka, then trims it. Every stateful service that writes an output topic
 * (segmenter, trigger, renderer) relays through here.
 *
 * Each outbox record has a sequence number per partition: the relay state in Redis keeps the
 * number of the head (`base`), raised in the same Lua call that trims, so the record at index i
 * is base + i (readOutbox-3.lua, trimOutboxTo-2.lua).
 *
 * exactly_once (default): each chunk is produced in a Kafka transaction of a producer whose
 * transactionalId is the partition's (`<prefix>-<group>-<input topic>-<partition>`), together
 * with the relay checkpoint, the next sequence number, committed as the offset of the input
 * partition in the consumer group `<group>-relay` (with the outbox's incarnation and the
 * committing producer's id as metadata, checkpointMetadataOf).
 * So the checkpoint is committed if and only if the records are. A new owner of the partition
 * (a restart, a rebalance) initializes the same transactionalId, which aborts a dead owner's
 * open transaction and fences a zombie; it then reads the checkpoint and trims, without
 * producing them again, the records a crash left between commit and trim. A `read_committed`
 * reader sees each record once.
 *
 * at_least_once: one idempotent producer, no transaction; a crash between produce and trim
 * produces those records again (readers drop them by id).
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
import { SendTogether } from './send-together';

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

/** The head of a partition's outbox as the relay reads it. */
export interface OutboxHead {
  /** The sequence number of entries[0] (and of the next record appended when empty). */
  base: number;
  /** The outbox's incarnation id (see readOutbox-3.lua). */
  incarnation: string;
  entries: string[];
}

/** Where the outbox lives; RedisOutboxStore in services, a memory one in unit tests. */
export interface OutboxStore {
  /**
   * The head of the outbox. With `guard` (the fence incarnation the caller applied to), read only
   * while the partition's state still holds it; else throws StateVanishedError.
   */
  read(partition: number, limit: number, guard?: string): Promise<OutboxHead>;
  /** Drops the records whose sequence number is below `upTo`; returns how many. */
  trimTo(partition: number, upTo: number): Promise<number>;
}

/** The outbox list of a partition and its relay state hash (same hash tag: one slot). */
export class RedisOutboxStore implements OutboxStore {
  constructor(
    private readonly redis: RedisClient,
    /** The partition's outbox list key (PartitionKeys.outbox, RendererKeys.outbox). */
    private readonly outboxKey: (partition: number) => string,
    /** The partition's fence hash (PartitionKeys.fence) or marker string (RendererKeys.stateMarker), same hash tag: what a guarded read checks. */
    private readonly fenceKey?: (partition: number) => string,
  ) {
    loadLuaScripts(redis, KIT_LUA_DIR);
  }

  private keys(partition: number): string[] {
    const outbox = this.outboxKey(partition);
    return [outbox, `${outbox}:relay`];
  }

  async read(partition: number, limit: number, guard?: string): Promise<OutboxHead> {
    if (guard !== undefined && this.fenceKey === undefined) throw new Error('RedisOutboxStore: a guarded read needs the fence key (fenceKey option)');
    const keys = [...this.keys(partition), this.fenceKey?.(partition) ?? this.outboxKey(partition)];
    const [base, incarnation, ...entries] = await runScript<string[]>(this.redis, 'readOutbox', keys, [limit, randomUUID(), guard ?? '']);
    if (base === 'vanished') throw new StateVanishedError(partition, guard as string, incarnation === '' ? null : (incarnation as string));
    return { base: Number(base), incarnation: incarnation as string, entries };
  }

  async trimTo(partition: number, upTo: number): Promise<number> {
    return runScript<number>(this.redis, 'trimOutboxTo', this.keys(partition), [upTo]);
  }
}

// ---- pure parts ----------------------------------------------------------------------------

/**
 * Outbox records per relay read and transaction. Each transaction costs five round trips to the
 * broker whatever its size (AddPartitionsToTxn, Produce, AddOffsetsToTxn, TxnOffsetCommit,
 * EndTxn; kafka-coordinators.ts), and a partition's next one waits for the markers of its last
 * (TRANSACTIONAL_RETRY), so a backlog goes in few large ones: 2,000 records of a few hundred
 * bytes stay well under the broker's 1 MB batch limit per partition. Measured (the segmenter's
 * bench figure, 18,000 outputs of 100,000 events): 500 a chunk 21,000-22,600 events/s, 2,000
 * 23,600-32,500.
 */
export const RELAY_CHUNK = 2000;

/**
 * at_least_once: the relays of different partitions share the service's producer, whose sends
 * go one request at a time; sends asked for while one is in flight go out together in the
 * next (SendTogether), within this many bytes of keys and values (a chunk larger than that goes
 * alone), so two relays' records for one output partition stay under the broker's 1 MB batch
 * limit.
 */
export const RELAY_SEND_TOGETHER_BYTES = 512 * 1024;

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

/** The transactionalId of one input partition's relay: a new owner fences the old one by it. */
export function transactionalIdOf(prefix: string, group: string, topic: string, partition: number): string {
  return `${prefix}-${group}-${topic}-${partition}`;
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
 * A checkpoint's metadata: the outbox's incarnation and, after a slash, the id of the producer
 * that committed it (one per producer, so that a relay knows its own commits from another's
 * of the same number). Before 2026-12-06 the metadata was the incarnation alone; it still reads.
 */
export function checkpointMetadataOf(incarnation: string, writer: string): string {
  return `${incarnation}/${writer}`;
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
  return metadata === incarnation || metadata.startsWith(`${incarnation}/`) ? offset : null;
}

/**
 * After a transaction failed with an answer that does not say "fenced" (a timeout, a coordinator
 * busy with CONCURRENT_TRANSACTIONS past its retries): whether the committed checkpoint shows
 * that another owner committed since. This relay's producer signs its commits (`own`, see
 * checkpointMetadataOf), so a checkpoint of this outbox's incarnation is someone else's work
 * unless it carries that signature (a commit of this producer, the failed one included, which
 * may have landed) or is the one the producer read when it took the partition (`known`). Then
 * this relay is the zombie and must not fence the new owner back, even where the new owner
 * committed the very number this relay tried to.
 */
export function takenOver(committed: CommittedOffset | undefined, incarnation: string, own: string, known: CommittedOffset | undefined): boolean {
  const checkpoint = checkpointOf(committed, incarnation);
  if (committed === undefined || checkpoint === null || committed.metadata === own) return false;
  return !(known !== undefined && known.metadata === committed.metadata && checkpointOf(known, incarnation) === checkpoint);
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

/** The partition's transactional producer was fenced: a newer owner took it; this owner's work on it stops. */
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

export class RelayFencedError extends KairosError {
  constructor(partition: number, transactionalId: string, cause: unknown) {
    super(`partition ${partition}: relay producer ${transactionalId} was fenced by a newer owner (or its transaction timed out); nothing of it is visible, the next owner relays`, { retriable: true, cause });
  }
}

/** A transaction failed; it was aborted (or will be, by the next owner or the timeout); retried. */
export class RelayTransactionError extends KairosError {
  constructor(partition: number, cause: unknown) {
    super(`partition ${partition}: relay transaction failed (${cause instanceof Error ? cause.message : String(cause)}); retried with a fresh producer`, { retriable: true, cause });
  }
}

/** Fault injection for tests. */
export interface RelayHooks {
  /** After a chunk's transaction (or plain send) succeeded, before the outbox is trimmed. */
  afterProduce?(partition: number, count: number): Promise<void> | void;
  /** Inside the transaction, after the records were sent, before the checkpoint and commit. */
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
  /** The service's consumer group (GROUP_ID): names the checkpoint group and the transactional ids. */
  group: string;
  /** The input topic whose partitions the outbox follows (the first input). */
  topic: string;
  transactionalIdPrefix: string;
  transactionTimeoutMs: number;
  logger: Logger;
  metrics?: KairosMetrics;
  /** The consumer group generation: a new one (rebalance) re-initializes the partition's producer. */
  generation?: () => number;
  /** How many outbox records one read (and, exactly_once, one transaction) carries; RELAY_CHUNK by default. */
  batchSize?: number;
  /**
   * After its producer was fenced, a relay leaves the partition alone until the group generation
   * changes (it rejoined: the assignment says whose it is) or this long passed (a transaction
   * timeout fences too, with no other owner). Default 30 s. Keeps a zombie from fencing the new
   * owner back on its next timer tick.
   */
  fencedBackoffMs?: number;
  hooks?: RelayHooks;
}

interface PartitionProducer {
  producer: Producer;
  transactionalId: string;
  generation: number;
  incarnation: string;
  /** The metadata this producer commits its checkpoints with (checkpointMetadataOf). */
  signature: string;
  /**
   * The checkpoint as this producer last knew it committed: read when it took the partition,
   * then its own. Every record below its sequence number (checkpointOf) is committed to Kafka.
   */
  committed: CommittedOffset | undefined;
}

/**
 * Relays outboxes; one instance per service. Calls for one partition must not overlap (the
 * services queue a partition's work); different partitions run side by side.
 */
export class OutboxRelay {
  private readonly producers = new Map<number, Promise<PartitionProducer>>();
  /** Partitions whose producer was fenced: in which generation, and until when they are left alone. */
  private readonly fenced = new Map<number, { generation: number; until: number; transactionalId: string }>();
  /** at_least_once: the partitions' sends, together (RELAY_SEND_TOGETHER_BYTES). */
  private readonly plainSends = new SendTogether<TopicMessages>({
    send: (sends) => this.options.producer.sendBatch({ acks: -1, topicMessages: mergeTopicMessages(sends) }).then(() => undefined),
    sizeOf: bytesOf,
    maxSize: RELAY_SEND_TOGETHER_BYTES,
  });

  constructor(private readonly options: OutboxRelayOptions) {
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

  /**
   * Produces the partition's outbox; returns how many records were produced. With `guard` (the
   * fence incarnation the caller applied to), each read checks that the state is still that one
   * (StateVanishedError if not): a relay that returns has produced everything the caller
   * appended to it.
   */
  async relay(partition: number, guard?: string): Promise<number> {
    return this.options.guarantee === 'exactly_once' ? this.relayTransactional(partition, guard) : this.relayPlain(partition, guard);
  }

  /** The head of the outbox; a failed guard says how many records this call had taken off it. */
  private async readHead(partition: number, guard: string | undefined, consumed: number): Promise<OutboxHead> {
    try {
      return await this.options.store.read(partition, this.batchSize, guard);
    } catch (error) {
      if (error instanceof StateVanishedError) error.consumed = consumed;
      throw error;
    }
  }

  /**
   * Produces records that were appended to an outbox which then vanished from Redis before the
   * relay read them (the caller kept them): exactly_once in a transaction of the partition's
   * producer (no checkpoint: the outbox they were counted in is gone), else with the idempotent
   * producer. For the rare loss of Redis under a running service; see Renderer.relay.
   */
  async produceOrphans(partition: number, entries: string[]): Promise<void> {
    if (entries.length === 0) return;
    const topicMessages = topicMessagesOf(entries);
    if (this.options.guarantee === 'at_least_once') {
      await this.options.producer.sendBatch({ acks: -1, topicMessages });
    } else {
      const existing = await this.producers.get(partition)?.catch(() => null);
      const owner = existing ?? (await this.ownerOf(partition, 'orphans'));
      const transaction = await owner.producer.transaction();
      try {
        await transaction.sendBatch({ acks: -1, topicMessages });
        await transaction.commit();
      } catch (error) {
        if (transaction.isActive()) await transaction.abort().catch(() => undefined);
        this.drop(partition);
        throw new RelayTransactionError(partition, error);
      }
    }
    this.count(topicMessages);
  }

  private get batchSize(): number {
    return this.options.batchSize ?? RELAY_CHUNK;
  }

  private async relayPlain(partition: number, guard: string | undefined): Promise<number> {
    const { store, hooks } = this.options;
    let sent = 0;
    for (;;) {
      const head = await this.readHead(partition, guard, sent);
      if (head.entries.length === 0) return sent;
      const topicMessages = topicMessagesOf(head.entries);
      await this.plainSends.add(topicMessages);
      this.count(topicMessages);
      await hooks?.afterProduce?.(partition, head.entries.length);
      await store.trimTo(partition, head.base + head.entries.length);
      sent += head.entries.length;
      if (head.entries.length < this.batchSize) return sent;
    }
  }

  private async relayTransactional(partition: number, guard: string | undefined): Promise<number> {
    const { store, hooks } = this.options;
    const fenced = this.fenced.get(partition);
    if (fenced !== undefined) {
      if (fenced.generation === (this.options.generation?.() ?? 0) && Date.now() < fenced.until) {
        throw new RelayFencedError(partition, fenced.transactionalId, null);
      }
      this.fenced.delete(partition);
    }
    let sent = 0;
    let consumed = 0;
    for (;;) {
      const head = await this.readHead(partition, guard, consumed);
      // Even with nothing to send: taking the partition fences the previous owner and aborts its open transaction.
      const owner = await this.ownerOf(partition, head.incarnation);
      const plan = planRelay(head, checkpointOf(owner.committed, owner.incarnation));
      if (plan.skip > 0) {
        // Committed before a crash, not trimmed: trim, never produce again.
        await store.trimTo(partition, head.base + plan.skip);
        this.options.logger.info({ partition, records: plan.skip }, 'outbox records already committed to Kafka before a restart; trimmed without producing them again');
      }
      if (plan.produce.length > 0) {
        await this.produceInTransaction(partition, owner, plan);
        await hooks?.afterProduce?.(partition, plan.produce.length);
        await store.trimTo(partition, plan.nextCheckpoint);
        sent += plan.produce.length;
      }
      consumed += plan.skip + plan.produce.length;
      if (head.entries.length < this.batchSize) return sent;
    }
  }

  private async produceInTransaction(partition: number, owner: PartitionProducer, plan: RelayPlan): Promise<void> {
    const { group, topic, hooks } = this.options;
    const topicMessages = topicMessagesOf(plan.produce);
    let transaction: Awaited<ReturnType<Producer['transaction']>> | undefined;
    try {
      transaction = await owner.producer.transaction();
      await transaction.sendBatch({ acks: -1, topicMessages });
      await hooks?.beforeCommit?.(partition);
      await transaction.sendOffsets({
        consumerGroupId: checkpointGroupOf(group),
        // kafkajs passes `metadata` through to TxnOffsetCommit; its types omit it.
        topics: [{ topic, partitions: [{ partition, offset: String(plan.nextCheckpoint), metadata: owner.signature } as { partition: number; offset: string }] }],
      });
      await transaction.commit();
    } catch (error) {
      // Whatever failed, this producer is done: a fresh one re-reads the checkpoint (the commit may have landed).
      if (transaction?.isActive()) await transaction.abort().catch(() => undefined);
      this.drop(partition);
      if (isFencedError(error) || (await this.committedByAnother(partition, owner))) {
        this.fenced.set(partition, {
          generation: owner.generation,
          until: Date.now() + (this.options.fencedBackoffMs ?? 30_000),
          transactionalId: owner.transactionalId,
        });
        this.options.logger.warn({ partition, transactionalId: owner.transactionalId }, 'relay producer fenced: another owner took the partition; its transaction is aborted, nothing of it is visible');
        throw new RelayFencedError(partition, owner.transactionalId, error);
      }
      throw new RelayTransactionError(partition, error);
    }
    owner.committed = { offset: String(plan.nextCheckpoint), metadata: owner.signature };
    this.count(topicMessages);
  }

  /** The checkpoint group's committed offset of the partition (offset -1: none). */
  private async committedCheckpoint(partition: number): Promise<CommittedOffset | undefined> {
    const { admin, group, topic, logger } = this.options;
    const read = () => admin.fetchOffsets({ groupId: checkpointGroupOf(group), topics: [topic] });
    const [offsets] = await whileBrokerAway('relay checkpoint read', read, { timeoutMs: CHECKPOINT_READ_TIMEOUT_MS, logger });
    return offsets?.partitions.find((p) => p.partition === partition);
  }

  /** See takenOver; a failed read of the checkpoint proves nothing (the caller retries with a fresh producer). */
  private async committedByAnother(partition: number, owner: PartitionProducer): Promise<boolean> {
    const committed = await this.committedCheckpoint(partition).catch(() => undefined);
    return takenOver(committed, owner.incarnation, owner.signature, owner.committed);
  }

  /** The partition's transactional producer for this generation, initialized (fencing others) and with its checkpoint read. */
  private async ownerOf(partition: number, incarnation: string): Promise<PartitionProducer> {
    const generation = this.options.generation?.() ?? 0;
    const existing = this.producers.get(partition);
    if (existing !== undefined) {
      const owner = await existing.catch(() => null);
      if (owner !== null && owner.generation === generation && owner.incarnation === incarnation) return owner;
      this.drop(partition);
    }
    const created = this.initialize(partition, generation, incarnation);
    this.producers.set(partition, created);
    created.catch(() => {
      if (this.producers.get(partition) === created) this.producers.delete(partition);
    });
    return created;
  }

  private async initialize(partition: number, generation: number, incarnation: string): Promise<PartitionProducer> {
    const { kafka, group, topic, transactionalIdPrefix, transactionTimeoutMs } = this.options;
    const transactionalId = transactionalIdOf(transactionalIdPrefix, group, topic, partition);
    const producer = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: transactionTimeoutMs,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: TRANSACTIONAL_RETRY,
    });
    try {
      await producer.connect();
      // InitProducerId with our transactionalId: bumps the epoch (fencing any earlier owner) and
      // completes or aborts its open transaction before answering. An empty transaction sends nothing.
      const fence = await producer.transaction();
      await fence.abort();
      const committed = await this.committedCheckpoint(partition);
      if (committed !== undefined && Number(committed.offset) >= 0 && checkpointOf(committed, incarnation) === null) {
        this.options.logger.warn({ partition, group: checkpointGroupOf(group) }, 'relay checkpoint belongs to an earlier outbox (state reset or lost); ignoring it');
      }
      return { producer, transactionalId, generation, incarnation, signature: checkpointMetadataOf(incarnation, randomUUID()), committed };
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw new RelayTransactionError(partition, error);
    }
  }

  private drop(partition: number): void {
    const existing = this.producers.get(partition);
    this.producers.delete(partition);
    void existing?.then((owner) => owner.producer.disconnect()).catch(() => undefined);
  }

  private count(topicMessages: Array<{ topic: string; messages: unknown[] }>): void {
    for (const { topic, messages } of topicMessages) this.options.metrics?.recordsProduced.inc({ topic }, messages.length);
  }

  /** Releases producers of partitions no longer in `owned` (after a rebalance). */
  async release(owned: readonly number[]): Promise<void> {
    const keep = new Set(owned);
    for (const partition of [...this.producers.keys()]) if (!keep.has(partition)) this.drop(partition);
  }

  /** Disconnects every transactional producer (the shared one belongs to the service). */
  async close(): Promise<void> {
    const all = [...this.producers.values()];
    this.producers.clear();
    await Promise.all(all.map((p) => p.then((owner) => owner.producer.disconnect()).catch(() => undefined)));
  }
}
