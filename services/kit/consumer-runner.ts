import type { Batch, Consumer, ConsumerRunConfig, IHeaders, KafkaMessage, Producer, TopicPartitionOffsetAndMetadata } from 'kafkajs';
import { isBrokerAway, whileBrokerAway } from './kafka';
import { FetchedRecord } from './kafkajs';
import type { Type } from 'avsc';
import type { Logger } from 'pino';
import type { AvroCodec } from './codec';
import { deadLetterMessage, deadLetterSends, DLQ_HEADERS, dlqTopic, isTooLargeError, withoutValue } from './dlq';
import { KairosError } from './errors';
import { StateLogMismatchError } from './log-binding';
import { PoisonRecordError, type PoisonReason } from './poison';
import { SendTogether } from './send-together';
import type { KairosMetrics } from './metrics';

/** One decoded record of a batch. `value` is null for a tombstone. */
export interface ConsumedRecord<T> {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: T | null;
  /** The record's Kafka timestamp, epoch ms. */
  timestamp: number;
  headers: IHeaders;
}

/** How one input topic is read. */
export interface TopicBinding<T> {
  topic: string;
  /** The reader schema records are resolved into. */
  type: Type;
  /**
   * Bounds at the edge (core/limits.ts), checked before `validate`: why the decoded value, of
   * `bytes` bytes as produced, exceeds a limit, or null. Dead-lettered as 'over-limit'.
   */
  limits?: (value: T, bytes: number) => string | null;
  /** Why a record key exceeds a limit, or null; checked for tombstones too ('over-limit'). */
  keyLimits?: (key: string) => string | null;
  /** A record value larger than this is dead-lettered ('over-limit') without being decoded. */
  maxDecodeBytes?: number;
  /** Why a decoded value is impossible although schema-valid, or null when it is fine. */
  validate?: (value: T) => string | null;
  /** Whether a null value (tombstone) is meaningful on this topic; otherwise it is dead-lettered. */
  tombstones?: boolean;
  /**
   * The value field the record key must equal (e.g. customer_id). A record without a key, or
   * with another one, would be processed in the wrong partition's state: it is dead-lettered.
   */
  keyField?: string;
  /**
   * The value field holding the record's event time (epoch ms, e.g. occurred_at). A time more
   * than the runner's maxClockSkewMs ahead of its clock is dead-lettered ('future-time'): kept,
   * it would stay the customer's newest time for good and make every real record look stale.
   */
  eventTimeField?: string;
}

/**
 * A binding of any value type, as a runner holds it: it hands `validate` only values decoded
 * with the binding's own `type`, so the value type is checked where the binding is written
 * (bindTopic) and erased here.
 */
export type AnyTopicBinding = TopicBinding<never>;

/** A topic binding for a runner's list, its `validate` checked against T (`bindTopic<BehaviorEvent>({...})`). */
export function bindTopic<T>(binding: TopicBinding<T>): AnyTopicBinding {
  return binding;
}

/** How far ahead of the service clock an event time may be when nothing else is configured. */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** What the handler hands back: records it could not process and that must be dead-lettered. */
export interface BatchOutcome {
  deadLetters?: Array<{ record: ConsumedRecord<unknown>; error: Error }>;
  /** Stored with the committed offset (see log-binding.ts); null or absent stores none. */
  commitMetadata?: string | null;
  /**
   * The handler took the records below this offset only: the rest must wait (a rebuilt
   * partition holds records past its restore bound until every topic reached its bound). The
   * runner commits up to it and reads the partition again from there after a short pause.
   */
  readAgainFrom?: string;
  /** How long to wait before reading again from `readAgainFrom` (default READ_AGAIN_PAUSE_MS); 0 when the handler merely took a slice. */
  readAgainPauseMs?: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 120_000;

/** How long a partition waits before its held records are read again (see BatchOutcome.readAgainFrom). */
const READ_AGAIN_PAUSE_MS = 250;
/** How often a batch's failed offset commit is tried (commitInBackground), one second apart. */
const COMMIT_ATTEMPTS = 10;
const COMMIT_RETRY_MS = 1000;

export interface BatchContext {
  topic: string;
  partition: number;
  /** The offset one past the batch's last record: what will be committed. */
  nextOffset: string;
  /** The offset of the batch's first record (decoded or not). */
  firstOffset: string;
  /**
   * Commits an offset of this partition at once, ahead of the batch's own commit: the log binding
   * of a state that is about to be created (log-binding.ts), which no commit of the partition
   * can be waiting behind (each follows an applied batch). Not queued behind pending commits:
   * waiting for them from inside a handler could wait for itself. Left undone (resolved) once a
   * rebalance gave the partition to another member: its commits must not be moved back.
   */
  commit(offset: string, metadata: string): Promise<void>;
  /** Counts the member's group joins: a new value means the partition may have changed hands. */
  generation: number;
  heartbeat(): Promise<void>;
  /** False once the service is stopping or the partition was revoked: finish quickly. */
  isActive(): boolean;
}

/** The effect of a batch. When it resolves, its effects must be durable: offsets are committed next. */
export type BatchHandler = (records: ConsumedRecord<unknown>[], context: BatchContext) => Promise<BatchOutcome | void>;

/** What the runner reports; metrics (or a test) subscribe to it. */
export interface ConsumerInstrumentation {
  batchProcessed(topic: string, partition: number, size: number, seconds: number, lag: number): void;
  deadLettered(topic: string, reason: PoisonReason): void;
}

export interface ConsumerRunnerOptions {
  consumer: Consumer;
  /** Sends dead letters; idempotent, shared with the service's other output. */
  producer: Producer;
  codec: AvroCodec;
  logger: Logger;
  instrumentation: ConsumerInstrumentation;
  service: string;
  groupId: string;
  bindings: AnyTopicBinding[];
  handler: BatchHandler;
  dlqSuffix?: string;
  /** False: poison is logged and counted but not produced to the DLQ (read-only tools). */
  produceDeadLetters?: boolean;
  /** How many partitions' batches run at once (Redis and Kafka round trips overlap). */
  partitionsConsumedConcurrently?: number;
  fromBeginning?: boolean;
  clock?: () => number;
  /**
   * Called once when a batch fails with an error that retrying cannot fix (not `retriable`):
   * the consumer has stopped; the process should exit loudly rather than idle. Default: log only.
   */
  onFatal?: (error: Error) => void;
  /** KAFKA_CONNECT_TIMEOUT: how long start-up waits for the broker to answer (default 2 minutes). */
  connectTimeoutMs?: number;
  /** MAX_CLOCK_SKEW: how far a binding's eventTimeField may be ahead of `clock` (default 5 minutes). */
  maxClockSkewMs?: number;
  /**
   * Commit past fetched batches that hold only transaction markers or aborted records (kafkajs
   * hands those to no handler): without it, the group's lag on a transactional input (triggers,
   * written by the relay) stays above 0 after the last transaction. The handler sees such a
   * batch as an empty one first (see commitPast).
   */
  commitPastMarkers?: boolean;
}

/**
 * Runs a consumer group member with `eachBatch`: decode and validate each record (poison to
 * the DLQ), hand the good ones to the handler, send its dead letters, then commit the batch's
 * offsets. Offsets are committed only after the handler's effects and the dead letters are
 * durable, so a crash at any point replays rather than loses. `stop()` lets the running batch
 * finish and commit, then leaves the group.
 */
export class ConsumerRunner {
  private readonly bindings: Map<string, AnyTopicBinding>;
  private stopping = false;
  private joined = false;
  private assignment: Record<string, number[]> = {};
  private generation = 0;
  /** `topic:partition` -> the generation since which this member has owned it without a break (see ownedThrough). */
  private ownedSince = new Map<string, number>();
  private crashed = false;
  /** `topic:partition` -> why it was stopped; those partitions stay paused. */
  private readonly stoppedPartitions = new Map<string, string>();
  /** Batches being processed; stop() waits for them before leaving the group. */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly clock: () => number;
  /** `topic:partition` -> the metadata of the last commit (kept by a commit past markers). */
  private readonly lastMetadata = new Map<string, string | null>();
  private readonly commitChains = new Map<string, Promise<void>>();
  /**
   * Every commit goes through here: one OffsetCommit request in flight, carrying every
   * partition's commit asked for meanwhile (the last one of each partition).
   */
  private readonly offsetCommits = new SendTogether<TopicPartitionOffsetAndMetadata>({
    send: (offsets) => this.options.consumer.commitOffsets(offsets),
    keyOf: (commit) => `${commit.topic}:${commit.partition}`,
  });
  /** The offset last committed (or being committed) per `topic:partition`, for commitInBackground's retries. */
  private readonly issuedCommits = new Map<string, string>();
  /**
   * A commit's group-membership answer (a rebalance, an unknown member) and the group generation
   * it came in, for the next batch of that generation to hand kafkajs (after a rejoin it is old news).
   */
  private commitMembershipError: { error: Error; generation: number } | null = null;

  constructor(private readonly options: ConsumerRunnerOptions) {
    this.bindings = new Map(options.bindings.map((b) => [b.topic, b]));
    this.clock = options.clock ?? Date.now;
  }

  /** True once the member has joined its group and until stop() is called. */
  isReady(): boolean {
    return this.joined && !this.stopping && !this.crashed;
  }

  /** Partitions this member stopped (state/log mismatch), `topic:partition` -> reason. */
  stopped(): ReadonlyMap<string, string> {
    return this.stoppedPartitions;
  }

  /** Counts the member's group joins (BatchContext.generation): the outbox relay re-takes its partitions on a new one. */
  currentGeneration(): number {
    return this.generation;
  }

  /** The partitions of `topic` this member owns since the last rebalance (timers follow them). */
  assignedPartitions(topic: string): number[] {
    return this.stopping ? [] : (this.assignment[topic] ?? []);
  }

  async start(): Promise<void> {
    const { consumer, logger } = this.options;
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      this.joined = true;
      this.generation += 1;
      this.assignment = event.payload.memberAssignment;
      const since = new Map<string, number>();
      for (const [topic, partitions] of Object.entries(this.assignment)) {
        for (const partition of partitions) since.set(`${topic}:${partition}`, this.ownedSince.get(`${topic}:${partition}`) ?? this.generation);
      }
      this.ownedSince = since;
      logger.info({ memberAssignment: event.payload.memberAssignment }, 'joined consumer group');
    });
    if (this.options.commitPastMarkers) {
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        if (payload.batchSize !== 0 || this.stopping) return;
        const { topic, partition } = payload;
        const work = this.commitPast(topic, partition, payload.lastOffset).catch((err: unknown) =>
          logger.warn({ err, topic, partition }, 'could not commit past transaction markers; the next batch commits'),
        );
        this.inFlight.add(work);
        void work.finally(() => this.inFlight.delete(work));
      });
    }
    consumer.on(consumer.events.CRASH, (event) => {
      const { error, restart } = event.payload;
      if (restart) {
        logger.error({ err: error, restart }, 'consumer crashed; kafkajs restarts it');
        return;
      }
      if (!this.stopping && isBrokerAway(error)) {
        // kafkajs gives up on (re)joining while the broker or its coordinator is away: that
        // ends, so the consumer runs again once the broker answers (readiness says not ready).
        this.joined = false;
        logger.warn({ err: error }, 'consumer stopped while Kafka was away; running it again once Kafka answers');
        void this.runAgain();
        return;
      }
      this.crashed = true;
      logger.fatal({ err: error }, 'consumer stopped on an error that retrying cannot fix');
      this.options.onFatal?.(error);
    });
    await this.connect();
    // The broker can go away between the connect and the subscription's metadata read: that waits too.
    await whileBrokerAway(
      'consumer subscribe',
      () => consumer.subscribe({ topics: [...this.bindings.keys()], fromBeginning: this.options.fromBeginning ?? true }),
      { timeoutMs: this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, logger },
    );
    await consumer.run(this.runConfig());
  }

  /** The consumer's connect, waiting while the broker is away (up to KAFKA_CONNECT_TIMEOUT at start-up). */
  private connect(timeoutMs = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS): Promise<void> {
    return whileBrokerAway('consumer connect', () => this.options.consumer.connect(), { timeoutMs, logger: this.options.logger });
  }

  /** After a crash while Kafka was away: connect and run again (the subscription is kept), as long as it takes. */
  private async runAgain(): Promise<void> {
    for (let attempt = 1; !this.stopping; attempt += 1) {
      try {
        await this.connect(Number.MAX_SAFE_INTEGER);
        if (this.stopping) return;
        await this.options.consumer.run(this.runConfig());
        this.options.logger.info({ attempt }, 'consumer running again');
        return;
      } catch (error) {
        if (!isBrokerAway(error)) {
          this.crashed = true;
          this.options.logger.fatal({ err: error }, 'consumer could not run again');
          this.options.onFatal?.(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 1000 * attempt)));
      }
    }
  }

  private runConfig(): ConsumerRunConfig {
    return {
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 3,
      eachBatch: async ({ batch, heartbeat, resolveOffset, isRunning, isStale, pause }) => {
        // A batch that arrives while stopping is left for the next owner of the partition.
        if (batch.isEmpty() || this.stopping) return;
        const isActive = () => isRunning() && !isStale() && !this.stopping;
        const generation = this.generation;
        const work = (async () => {
          const refused = this.commitMembershipError;
          this.commitMembershipError = null;
          // An earlier commit's answer in this generation: kafkajs rejoins, and this batch comes again.
          if (refused !== null && refused.generation === this.generation) throw refused.error;
          let outcome: BatchOutcome | void;
          try {
            outcome = await this.processBatch(batch, generation, heartbeat, isActive);
          } catch (error) {
            if (error instanceof StateLogMismatchError) {
              // Stopped, not retried: the other partitions go on; nothing of this one is committed.
              this.stoppedPartitions.set(`${batch.topic}:${batch.partition}`, error.detail);
              pause();
              return;
            }
            throw membershipError(error) ?? classified(error);
          }
          // The offset to read next: past the batch, or where the handler holds records.
          const again = outcome?.readAgainFrom;
          const upTo = again ?? nextOffset(batch.lastOffset());
          if (BigInt(upTo) > BigInt(batch.messages[0]?.offset ?? upTo)) resolveOffset((BigInt(upTo) - 1n).toString());
          // The commit goes out now, but the next fetch does not wait for it (commitInBackground).
          this.commitInBackground(batch.topic, batch.partition, upTo, outcome?.commitMetadata ?? null, generation);
          if (again !== undefined) {
            this.options.consumer.seek({ topic: batch.topic, partition: batch.partition, offset: again });
            const pauseMs = outcome?.readAgainPauseMs ?? READ_AGAIN_PAUSE_MS;
            if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
          }
        })();
        this.inFlight.add(work);
        try {
          await work;
        } finally {
          this.inFlight.delete(work);
        }
      },
    };
  }

  /** Finishes the running batch, waits for its commits and leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    // kafkajs may leave the group while a batch is still being handled, and a commit after
    // leaving is refused; so the batches in flight finish and commit first.
    await Promise.allSettled([...this.inFlight]);
    await Promise.allSettled([...this.commitChains.values()]);
    await this.options.consumer.disconnect();
  }

  private async processBatch(batch: Batch, generation: number, heartbeat: () => Promise<void>, isActive: () => boolean): Promise<BatchOutcome | void> {
    const started = process.hrtime.bigint();
    const binding = this.bindings.get(batch.topic);
    if (!binding) throw new Error(`received a batch of ${batch.topic}, which this runner does not read`);
    const records: ConsumedRecord<unknown>[] = [];
    const deadLetters: Array<{ message: KafkaMessage; reason: PoisonReason; error: Error }> = [];
    const deps = this.decodeDeps();
    // Indexed: a for...of here (an async function) allocated an iterator result per record.
    for (let i = 0; i < batch.messages.length; i += 1) {
      const message = batch.messages[i] as KafkaMessage;
      try {
        // Without a promise where the record's writer schema is known (all but a schema id's first).
        records.push(decodeKnownRecord(binding, batch.partition, message, deps) ?? (await decodeFirstOfSchema(binding, batch.partition, message, deps)));
      } catch (err) {
        if (!(err instanceof PoisonRecordError)) throw err; // retriable: the batch is retried
        deadLetters.push({ message, reason: err.reason, error: err });
      }
    }
    const context: BatchContext = {
      topic: batch.topic,
      partition: batch.partition,
      nextOffset: nextOffset(batch.lastOffset()),
      firstOffset: batch.messages[0]?.offset ?? batch.lastOffset(),
      commit: (offset, metadata) => this.commitIfOwned(batch.topic, batch.partition, offset, metadata, generation),
      generation,
      heartbeat,
      isActive,
    };
    // Called for a batch of poison only, too: a stateful handler advances its fence past it.
    const outcome = await this.options.handler(records, context);
    for (const failed of outcome?.deadLetters ?? []) {
      const message = batch.messages.find((m) => m.offset === failed.record.offset);
      if (!message) throw new Error(`handler dead-lettered offset ${failed.record.offset}, which is not in the batch`);
      const reason = failed.error instanceof PoisonRecordError ? failed.error.reason : 'processing';
      deadLetters.push({ message, reason, error: failed.error });
    }
    // Records the handler holds are read again: their dead letters go out then.
    const held = outcome?.readAgainFrom === undefined ? null : BigInt(outcome.readAgainFrom);
    await this.sendDeadLetters(batch, held === null ? deadLetters : deadLetters.filter((d) => BigInt(d.message.offset) < held));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.options.instrumentation.batchProcessed(
      batch.topic,
      batch.partition,
      batch.messages.length,
      seconds,
      Number(batch.offsetLag()),
    );
    return outcome;
  }

  /** The codec and the clock a batch's records are read with (one reading of the clock per batch). */
  private decodeDeps(): DecodeDeps {
    return { codec: this.options.codec, now: this.clock(), maxClockSkewMs: this.options.maxClockSkewMs };
  }

  private async sendDeadLetters(
    batch: Batch,
    deadLetters: Array<{ message: KafkaMessage; reason: PoisonReason; error: Error }>,
  ): Promise<void> {
    if (deadLetters.length === 0) return;
    const { producer, logger, groupId, service, instrumentation } = this.options;
    const at = this.clock();
    if (this.options.produceDeadLetters !== false) {
      const topic = dlqTopic(batch.topic, this.options.dlqSuffix);
      const messages = deadLetters.map(({ message, reason, error }) =>
        deadLetterMessage({ topic: batch.topic, partition: batch.partition, message }, { reason, error, consumerGroup: groupId, service, at }),
      );
      for (const send of deadLetterSends(messages)) {
        try {
          await producer.send({ topic, acks: -1, messages: send });
        } catch (err) {
          // Refused as too large, a send of one copy is sent again without its value: a record
          // at the input's size limit does not fit with the DLQ headers, and failing the batch
          // would stop the service on it after every restart. Any other error fails the batch.
          if (send.length > 1 || !isTooLargeError(err)) throw err;
          logger.warn({ topic: batch.topic, partition: batch.partition, offset: String(send[0].headers?.[DLQ_HEADERS.offset]), bytes: send[0].value?.length }, 'dead letter too large for the DLQ topic; sent without its value');
          await producer.send({ topic, acks: -1, messages: [withoutValue(send[0])] });
        }
      }
    }
    for (const { message, reason, error } of deadLetters) {
      instrumentation.deadLettered(batch.topic, reason);
      logger.warn(
        { topic: batch.topic, partition: batch.partition, offset: message.offset, reason, error: error.message },
        'record dead-lettered',
      );
    }
  }

  /**
   * Commits of one partition run in order (a commit past markers never lands after a later
   * batch's); one of a batch of `generation` is dropped when its turn comes after the partition
   * went to another member (see commitInBackground).
   */
  private commit(topic: string, partition: number, offset: string, metadata: string | null, generation: number): Promise<void> {
    this.lastMetadata.set(`${topic}:${partition}`, metadata);
    return this.inCommitOrder(topic, partition, () => this.commitIfOwned(topic, partition, offset, metadata, generation));
  }

  /**
   * Commits now while the member has owned the partition without a break since `generation`;
   * otherwise leaves the commit to the member that owns it now (see commitInBackground).
   */
  private async commitIfOwned(topic: string, partition: number, offset: string, metadata: string | null, generation: number): Promise<void> {
    if (this.ownedThrough(topic, partition, generation)) return this.commitAtOnce(topic, partition, offset, metadata);
    this.leftToNewOwner(topic, partition, offset);
  }

  private leftToNewOwner(topic: string, partition: number, offset: string): void {
    this.options.logger.info({ topic, partition, offset }, 'partition given to another member since the batch; its offset commit is left to the new owner');
  }

  /**
   * Past a fetched batch of transaction markers and aborted records only: the handler sees it
   * as an empty batch (a fenced one moves its applied offset up to `lastOffset`, so the commit
   * stays one past what the state applied), then the offset after it is committed. Queued in
   * the partition's commit order at once, so a later batch's commit never lands before it.
   */
  private commitPast(topic: string, partition: number, lastOffset: string): Promise<void> {
    const key = `${topic}:${partition}`;
    const offset = nextOffset(lastOffset);
    // The generation the markers were fetched in: a rebalance before this step's turn may have
    // given the partition to a member that committed past them already.
    const fetchedIn = this.generation;
    return this.inCommitOrder(topic, partition, async () => {
      // Nor is the handler called: the partition's state belongs to the new owner now.
      if (!this.ownedThrough(topic, partition, fetchedIn)) return this.leftToNewOwner(topic, partition, offset);
      // Owned without a break since: the handler sees the generation of now, as a batch would.
      const outcome = await this.options.handler([], {
        topic, partition, nextOffset: offset, firstOffset: lastOffset, generation: this.generation,
        commit: (at, metadata) => this.commitIfOwned(topic, partition, at, metadata, fetchedIn),
        heartbeat: async () => undefined,
        isActive: () => !this.stopping,
      });
      const metadata = outcome?.commitMetadata ?? this.lastMetadata.get(key) ?? null;
      this.lastMetadata.set(key, metadata);
      await this.commitIfOwned(topic, partition, offset, metadata, fetchedIn);
    });
  }

  /**
   * Commits a batch without the next fetch waiting for it: an OffsetCommit is a round trip to
   * the group coordinator, about half of a small batch's time, and kafkajs fetches again only
   * once every batch of the last fetch returned. Commits of a partition still land in order
   * (inCommitOrder); outputs were relayed before, so a committed offset never runs ahead of
   * what reached Kafka (state rebuild relies on it). A failed commit is tried again every
   * second (COMMIT_ATTEMPTS in all) until a later one of the partition was issued: an idle
   * partition's last commit must land too (the rebuild's bound, the group's lag). Until it
   * does, a restart reads those records again and the state's fence drops them. A
   * group-membership answer goes to kafkajs with the next batch, so it rejoins. stop() waits
   * for every commit in flight. Only while the member has owned the partition since the batch's
   * generation (`generation`): after a rebalance gave it to another member, that member commits
   * it, and a late commit of ours (a broker accepts any member's) would move the group's offset
   * back behind what it had committed, where it stays if the partition then stays idle.
   */
  private commitInBackground(topic: string, partition: number, offset: string, metadata: string | null, generation: number, attempt = 1): void {
    const key = `${topic}:${partition}`;
    this.issuedCommits.set(key, offset);
    const current = this.generation;
    void this.commit(topic, partition, offset, metadata, generation).catch((error: unknown) => {
      const membership = membershipError(error);
      if (membership !== null) this.commitMembershipError = { error: membership, generation: current };
      const again = attempt < COMMIT_ATTEMPTS && !this.stopping;
      this.options.logger.warn(
        { topic, partition, offset, attempt, err: membership ?? error },
        again ? 'offset commit failed; trying again in 1 s unless a later batch commits first' : 'offset commit failed; a later batch commits past it, or a restart reads the records again and the state fence drops them',
      );
      if (!again) return;
      setTimeout(() => {
        if (!this.stopping && this.issuedCommits.get(key) === offset) this.commitInBackground(topic, partition, offset, metadata, generation, attempt + 1);
      }, COMMIT_RETRY_MS).unref();
    });
  }

  /** Whether the member has owned the partition without a break since `generation` (the same generation: as far as it knows). */
  private ownedThrough(topic: string, partition: number, generation: number): boolean {
    return generation === this.generation || (this.ownedSince.get(`${topic}:${partition}`) ?? Number.POSITIVE_INFINITY) <= generation;
  }

  /** Commits now: in the consumer's next OffsetCommit request (see offsetCommits). */
  private commitAtOnce(topic: string, partition: number, offset: string, metadata: string | null): Promise<void> {
    return this.offsetCommits.add({ topic, partition, offset, metadata });
  }

  private inCommitOrder(topic: string, partition: number, step: () => Promise<void>): Promise<void> {
    const key = `${topic}:${partition}`;
    const previous = this.commitChains.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(step);
    this.commitChains.set(key, next);
    void next.catch(() => undefined).then(() => {
      if (this.commitChains.get(key) === next) this.commitChains.delete(key);
    });
    return next;
  }
}

/** ioredis's give-up after its per-request retries, and fetch's timeouts (AbortSignal.timeout). */
const RETRIABLE_NAMES = new Set(['MaxRetriesPerRequestError', 'TimeoutError', 'AbortError']);
/** Network-level failures (ioredis throws plain Errors for them): worth retrying. */
const RETRIABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const RETRIABLE_MESSAGES = /Connection is closed|Stream isn't writeable|max retries per request|^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY)\b|fetch failed/i;

/** True when trying the same batch again may succeed: the error says so, or is a lost connection. */
export function isRetriable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { retriable, code, message, name } = error as { retriable?: unknown; code?: unknown; message?: unknown; name?: unknown };
  if (typeof retriable === 'boolean') return retriable;
  if (typeof name === 'string' && RETRIABLE_NAMES.has(name)) return true;
  if (typeof code === 'string' && RETRIABLE_CODES.has(code)) return true;
  return typeof message === 'string' && RETRIABLE_MESSAGES.test(message);
}

/**
 * The broker's answers that this member is no longer in the group as it knew it (a rebalance, a
 * session that expired while the broker was away, a coordinator that moved): kafkajs rejoins the
 * group when its runner sees one of these types, so they must reach it as they are, never
 * wrapped (wrapped, a non-retriable type would stop the consumer for good).
 */
const MEMBERSHIP_TYPES = new Set(['UNKNOWN_MEMBER_ID', 'REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'NOT_COORDINATOR_FOR_GROUP']);

/** The kafkajs error with a membership type, here or down the cause chain (bounded walk), else null. */
export function membershipError(error: unknown): Error | null {
  let current = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth += 1) {
    const { type, cause } = current as { type?: unknown; cause?: unknown };
    if (typeof type === 'string' && MEMBERSHIP_TYPES.has(type) && current instanceof Error) return current;
    current = cause;
  }
  return null;
}

/**
 * The batch's error as kafkajs should see it: retriable ones are retried (with back-off) and
 * the consumer restarts; any other stops the consumer (CRASH without restart, then onFatal)
 * instead of replaying the same failure forever.
 */
function classified(error: unknown): Error {
  const cause = error instanceof Error ? error : new Error(String(error));
  if (isRetriable(cause)) return cause;
  if (cause instanceof KairosError) return cause; // retriable === false: kafkajs does not restart
  return new KairosError(`batch failed with an unexpected error: ${cause.message}`, { retriable: false, cause });
}

/** What decodeRecord needs beside the record: the codec and the service's clock. */
export interface DecodeDeps {
  codec: AvroCodec;
  now: number;
  maxClockSkewMs?: number;
}

/**
 * One record as a service reads it: key and size bounds, Avro decode, limits, validation, the
 * key/field match and the event-time bound; PoisonRecordError (the DLQ's reason) otherwise. The
 * state tool reads topics with it too, so a rebuild takes exactly what the service took.
 */
export async function decodeRecord(binding: TopicBinding<never>, partition: number, message: KafkaMessage, deps: DecodeDeps): Promise<ConsumedRecord<unknown>> {
  return decodeKnownRecord(binding, partition, message, deps) ?? decodeFirstOfSchema(binding, partition, message, deps);
}

/** A record decodeKnownRecord could not read yet, the first of its writer schema: fetch the schema, then read it as any other. */
async function decodeFirstOfSchema(binding: TopicBinding<never>, partition: number, message: KafkaMessage, deps: DecodeDeps): Promise<ConsumedRecord<unknown>> {
  await deps.codec.learnWriter(message.value as Buffer, binding.type);
  return decodeKnownRecord(binding, partition, message, deps) as ConsumedRecord<unknown>;
}

/**
 * decodeRecord without a promise: the record, or undefined when its writer schema has not been
 * fetched yet (AvroCodec.decodeKnown); a batch's records after the first of each schema id
 * take no trip through the microtask queue each.
 */
export function decodeKnownRecord(binding: TopicBinding<never>, partition: number, message: KafkaMessage, deps: DecodeDeps): ConsumedRecord<unknown> | undefined {
  let value: unknown = null;
  // A record of kafkajs.ts's decoder is read where it lies, without a Buffer view of its key or value.
  const fetched = message instanceof FetchedRecord ? message : null;
  const key = fetched !== null ? fetched.keyText() : message.key === null ? null : message.key.toString('utf8');
  if (binding.keyField && key === null) throw new PoisonRecordError('invalid', `record has no key; expected the ${binding.keyField}`);
  const keyProblem = key === null ? null : binding.keyLimits?.(key);
  if (keyProblem) throw new PoisonRecordError('over-limit', keyProblem);
  const bytes = fetched !== null ? fetched.bytes : message.value;
  const start = fetched !== null ? fetched.valueStart : 0;
  const end = fetched !== null ? fetched.valueEnd : message.value === null ? -1 : message.value.length;
  if (bytes === null || end === -1) {
    if (!binding.tombstones) throw new PoisonRecordError('invalid', `null value (tombstone) on ${binding.topic}, which takes none`);
  } else {
    const size = end - start;
    if (binding.maxDecodeBytes !== undefined && size > binding.maxDecodeBytes) {
      throw new PoisonRecordError('over-limit', `record is ${size} bytes, more than the ${binding.maxDecodeBytes} this service decodes`);
    }
    value = fetched !== null ? deps.codec.decodeKnownIn(bytes, start, end, binding.type) : deps.codec.decodeKnown(bytes, binding.type);
    if (value === undefined) return undefined;
    // Reasons name fields and sizes, never values: they go to DLQ headers and log lines.
    const overLimit = binding.limits?.(value as never, size);
    if (overLimit) throw new PoisonRecordError('over-limit', overLimit);
    const problem = binding.validate?.(value as never);
    if (problem) throw new PoisonRecordError('invalid', problem);
    const expected = binding.keyField ? (value as Record<string, unknown>)[binding.keyField] : key;
    if (expected !== key) {
      throw new PoisonRecordError('invalid', `record key is not the record's ${binding.keyField}; produce with the ${binding.keyField} (UTF-8) as key`);
    }
    if (binding.eventTimeField) checkEventTime(binding.eventTimeField, value as Record<string, unknown>, deps.now, deps.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS);
  }
  return {
    topic: binding.topic,
    partition,
    offset: message.offset,
    key,
    value,
    timestamp: Number(message.timestamp),
    headers: message.headers ?? {},
  };
}

/** Refuses an event time further ahead of the clock than the tolerance: no later record could ever outrank it. */
function checkEventTime(field: string, value: Record<string, unknown>, now: number, tolerance: number): void {
  const time = value[field];
  if (typeof time !== 'number' || !Number.isFinite(time)) {
    throw new PoisonRecordError('invalid', `${field} ${JSON.stringify(time)} is not an epoch-millisecond time`);
  }
  const ahead = time - now;
  if (ahead <= tolerance) return;
  throw new PoisonRecordError(
    'future-time',
    `${field} ${isoTime(time)} is ${formatSpan(ahead)} ahead of this service's clock (${isoTime(now)}), more than MAX_CLOCK_SKEW ` +
      `(${formatSpan(tolerance)}); fix the producer's clock or time unit (epoch milliseconds, UTC), or raise MAX_CLOCK_SKEW if clocks really drift that far`,
  );
}

function nextOffset(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}

/** ISO 8601 where Date can show it (up to year 275760), else the raw milliseconds. */
function isoTime(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? `${ms} ms` : date.toISOString();
}

/** A span for people, to the second: "5m", "2h 30m", "354423d 4h". */
function formatSpan(ms: number): string {
  const units: Array<[string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  const parts: string[] = [];
  let rest = Math.floor(ms);
  for (const [unit, size] of units) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.length > 0 ? parts.join(' ') : `${rest}ms`;
}

/** Instrumentation that feeds the shared pipeline metrics. */
export function metricsInstrumentation(metrics: KairosMetrics): ConsumerInstrumentation {
  return {
    batchProcessed(topic, partition, size, seconds, lag) {
      metrics.consumerBatchSize.observe({ topic }, size);
      metrics.consumerBatchDurationSeconds.observe({ topic }, seconds);
      metrics.consumerLag.set({ topic, partition: String(partition) }, lag);
      metrics.recordsProcessed.inc({ topic }, size);
    },
    deadLettered(topic, reason) {
      metrics.recordsDeadLettered.inc({ topic, reason });
    },
  };
}
