import { isRetriableResponseError, Kafka, kafkajsReplacements, logLevel, Partitioners, type Admin, type ITopicConfig, type KafkaMessage, type LogEntry, type Producer } from './kafkajs';
import type { Logger } from 'pino';
import { ConfigError, DependencyUnreachableError } from './errors';
import { ignoreKafkajsNegativeTimeouts } from './node-warnings';
import { failUnansweredMetadata } from './kafka-metadata';
import { PartitionQueues } from './scheduling';

const PINO_LEVEL: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * The level of one of kafkajs's log lines. kafkajs logs every error answer of the broker at
 * ERROR ("Response InitProducerId(key: 22, version: 1)", with the error's text), also the
 * answers it retries: a transaction or group coordinator still loading on a new cluster, a
 * leader moving. Those are INFO here; an error that outlasts the retries reaches the caller,
 * which reports it.
 */
export function kafkajsLineLevel(level: number, message: unknown, error: unknown): 'error' | 'warn' | 'info' | 'debug' {
  const mapped = PINO_LEVEL[level] ?? 'info';
  if (mapped === 'error' && typeof message === 'string' && message.startsWith('Response ') && isRetriableResponseError(error)) return 'info';
  return mapped;
}

/**
 * A kafkajs client whose own log lines go through the service's JSON logger, and whose admin's
 * metadata reads fail as "no broker answered" when none did (kafka-metadata.ts).
 */
export function createKafka(options: { brokers: string[]; clientId: string; logger: Logger }): Kafka {
  const kafkaLogger = options.logger.child({ component: 'kafkajs' });
  ignoreKafkajsNegativeTimeouts();
  failUnansweredMetadata();
  if (kafkajsReplacements !== 'installed') {
    kafkaLogger.warn({ replacements: kafkajsReplacements }, "kafkajs runs its own slow grouping, murmur2 and record encoding and decoding in this process: kafkajs was loaded before services/kit/kafkajs, or its files moved (see that module)");
  }
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    // WARN and up is what an operator needs of kafkajs's own lines.
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, timestamp: _timestamp, logger: _logger, ...rest } = log;
        kafkaLogger[kafkajsLineLevel(level, message, rest.error)](rest, message);
      },
    retry: { initialRetryTime: 200, retries: 8 },
  });
}

/**
 * An idempotent producer: the broker drops the duplicates its own retries would create,
 * acks from all in-sync replicas, one request in flight so order holds per partition, one
 * send at a time (oneSendAtATime). The default partitioner of kafkajs 2 is Java-compatible
 * murmur2, so records keyed by customer_id land where a Java producer would put them.
 */
export function createIdempotentProducer(kafka: Kafka): Producer {
  return oneSendAtATime(
    kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      // kafkajs requires unlimited retries for idempotence: giving up mid-sequence could
      // reorder or lose records. A send blocks while the cluster is away; offsets wait with it.
      retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 30_000 },
    }),
  );
}

/**
 * The producer with its sends (send, sendBatch) run one after another, each with its retries.
 * kafkajs numbers a request's records per partition as it sends them and takes the numbers
 * back when the request fails, also when the broker appended the batch and only its answer was
 * lost (the broker went away). Its retry sends the same records with the same numbers, which the
 * broker takes as the duplicate they are; but another send of the producer, waiting meanwhile,
 * could take those numbers first: the broker then answered it OUT_OF_ORDER_SEQUENCE_NUMBER,
 * which no retry fixes (a service exited 70 in the chaos run), or, had it as many records,
 * dropped them as a duplicate while kafkajs reported them sent. On one broker this costs
 * nothing: kafkajs sends a producer's requests to a broker one at a time anyway.
 */
export function oneSendAtATime(producer: Producer): Producer {
  // One queue for the whole producer (key 0): a failed send does not block the next.
  const sends = new PartitionQueues();
  return {
    ...producer,
    send: (record) => sends.run(0, () => producer.send(record)),
    sendBatch: (batch) => sends.run(0, () => producer.sendBatch(batch)),
  };
}

/** Error types a metadata read of a topic created a moment ago may meet until every broker knows it. */
const NOT_YET_KNOWN_TYPES = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/**
 * Creates the topics that do not exist yet and returns once every partition of every one of
 * `topics` has a leader in the metadata (topics that already existed count too). kafkajs's own
 * `waitForLeaders` retries only LEADER_NOT_AVAILABLE, while a KRaft broker asked right after the
 * create can answer UNKNOWN_TOPIC_OR_PARTITION until its metadata catches up (kafkajs issue #815):
 * here both mean "not yet", polled every 100 ms up to `timeoutMs`. Returns the names it created.
 */
export async function createTopicsReady(
  admin: Admin,
  topics: ReadonlyArray<ITopicConfig>,
  options: { timeoutMs?: number } = {},
): Promise<string[]> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const names = topics.map((t) => t.topic);
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t.topic));
  if (missing.length > 0) await admin.createTopics({ topics: [...missing], waitForLeaders: false });
  const deadline = Date.now() + timeoutMs;
  let waitingFor = 'the first metadata read';
  for (;;) {
    try {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics: names });
      const notReady = metadata.filter((t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0));
      if (notReady.length === 0) return missing.map((t) => t.topic);
      waitingFor = `leaders of ${notReady.map((t) => t.name).join(', ')}`;
    } catch (error) {
      if (!causeChain(error).some(({ type }) => typeof type === 'string' && NOT_YET_KNOWN_TYPES.has(type))) throw error;
      waitingFor = `the broker to know ${names.join(', ')} (${(error as Error).message})`;
    }
    if (Date.now() >= deadline) throw new Error(`topics created but not ready after ${timeoutMs} ms: waiting for ${waitingFor}; is the broker overloaded?`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** `error` and its causes, outermost first (kafkajs's retries wrap the last error as `cause` or `originalError`). */
function causeChain(error: unknown): Array<{ name?: unknown; type?: unknown; code?: unknown }> {
  const chain: Array<{ name?: unknown; type?: unknown; code?: unknown }> = [];
  let current = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth += 1) {
    chain.push(current);
    const { cause, originalError } = current as { cause?: unknown; originalError?: unknown };
    current = cause ?? originalError;
  }
  return chain;
}

/** Runs `fn` with a connected admin client of `kafka`, disconnecting it afterwards. */
export async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Records a group still has to read of one topic: per partition, the log end minus where the
 * group is (its committed offset, or the log start when it committed none or one below it).
 */
export function recordsBehind(
  ends: ReadonlyArray<{ partition: number; high: string; low: string }>,
  committed: ReadonlyArray<{ partition: number; offset: string }>,
): number {
  const done = new Map(committed.map((p) => [p.partition, Number(p.offset)]));
  return ends.reduce((sum, p) => sum + Math.max(0, Number(p.high) - Math.max(done.get(p.partition) ?? 0, Number(p.low))), 0);
}

/** A partition's offsets: where its log starts, where all it holds ends, and where what is committed ends. */
export interface PartitionEnds {
  partition: number;
  /** The log start offset. */
  low: string;
  /** The high watermark: one past the last record written, committed or not. */
  high: string;
  /** The last stable offset: below it every transaction has ended (`high` when none is open). */
  stable: string;
}

/** kafkajs 2.2.4 (its last release, pinned) keeps its cluster factory behind this private symbol. */
const CREATE_CLUSTER = 'private:Kafka:createCluster';
/** ListOffsets's isolation level that answers the high watermark (kafkajs/src/protocol/isolationLevel). */
const READ_UNCOMMITTED = 0;

interface OffsetsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  fetchTopicsOffset(topics: Array<{ topic: string; fromBeginning: boolean; partitions: Array<{ partition: number }> }>): Promise<Array<{ partitions: Array<{ partition: number; offset: string }> }>>;
}

/** A kafkajs cluster of `kafka`'s brokers and settings whose ListOffsets ask read_uncommitted. */
function uncommittedCluster(kafka: Kafka): OffsetsCluster {
  const key = Object.getOwnPropertySymbols(kafka).find((s) => s.description === CREATE_CLUSTER);
  const create = key === undefined ? undefined : (kafka as unknown as Record<symbol, unknown>)[key];
  if (typeof create !== 'function') throw new Error(`kafkajs no longer has its private cluster factory (${CREATE_CLUSTER}); services/kit/kafka.ts topicEnds needs another way to ask for high watermarks`);
  return (create as (options: object) => OffsetsCluster).call(kafka, { allowAutoTopicCreation: false, isolationLevel: READ_UNCOMMITTED });
}

/**
 * The partitions' log starts, high watermarks and last stable offsets. kafkajs's
 * `admin.fetchTopicOffsets` asks read_committed, so its `high` is the last stable offset, which
 * stops short of an open transaction and, for a moment, of one committed just now: a
 * transaction coordinator answers EndTxn once the commit is decided and writes the markers
 * that end it in the partitions afterwards. Whoever must see every record committed before
 * they asked reads to the high watermark. `admin`: a connected admin of `kafka` to use.
 */
export async function topicEnds(kafka: Kafka, topic: string, admin?: Admin): Promise<PartitionEnds[]> {
  // kafkajs's admin gives up at once on an answer such as NOT_LEADER_FOR_PARTITION (a broker
  // that lost and regains its partitions' leadership: seen once in CI on a loaded machine).
  return whileBrokerAway(`the ends of ${topic}`, () => readTopicEnds(kafka, topic, admin), { timeoutMs: TOPIC_ENDS_WAIT_MS });
}

/** How long topicEnds waits for a broker that answers "not here, not yet" (isBrokerAway). */
export const TOPIC_ENDS_WAIT_MS = 30_000;

async function readTopicEnds(kafka: Kafka, topic: string, admin?: Admin): Promise<PartitionEnds[]> {
  const ranges = await (admin === undefined ? withAdmin(kafka, (a) => a.fetchTopicOffsets(topic)) : admin.fetchTopicOffsets(topic));
  const cluster = uncommittedCluster(kafka);
  await cluster.connect();
  try {
    await cluster.addTargetTopic(topic);
    const [answer] = await cluster.fetchTopicsOffset([{ topic, fromBeginning: false, partitions: ranges.map((r) => ({ partition: r.partition })) }]);
    const highs = new Map(answer.partitions.map((p) => [p.partition, p.offset]));
    return ranges.map((r) => ({ partition: r.partition, low: r.low, high: highs.get(r.partition) ?? r.high, stable: r.high }));
  } finally {
    await cluster.disconnect();
  }
}

/**
 * The fetch wait of a read_committed reader that must see transactions end: a fetch waiting at
 * the last stable offset is not answered when a commit moves it, only after its wait (half a
 * second here, not kafkajs's 5 s).
 */
export const COMMITTED_READER_FETCH_WAIT_MS = 500;

/**
 * Reads `topic` from the beginning up to the high watermarks as they are now, as a
 * `read_committed` reader: records of aborted transactions and transaction markers are skipped,
 * so the number of records is not the offset range; the reader follows its position instead
 * (batches of markers only report theirs too). It sees every transaction committed before the
 * call, markers written or not; one still open holds it until it ends.
 */
export async function readToEnd(
  kafka: Kafka,
  topic: string,
  options: { groupId: string; timeoutMs: number; onMessage: (message: KafkaMessage, partition: number) => Promise<void> | void },
): Promise<void> {
  const targets = (await topicEnds(kafka, topic)).filter((p) => Number(p.high) > Number(p.low));
  if (targets.length === 0) return;
  const consumer = kafka.consumer({ groupId: options.groupId, readUncommitted: false, maxWaitTimeInMs: COMMITTED_READER_FETCH_WAIT_MS });
  const position = new Map<number, number>();
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.topic === topic) position.set(payload.partition, Math.max(position.get(payload.partition) ?? 0, Number(payload.lastOffset) + 1));
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message, partition }) => options.onMessage(message, partition) });
    const deadline = Date.now() + options.timeoutMs;
    while (!targets.every((p) => (position.get(p.partition) ?? 0) >= Number(p.high))) {
      if (Date.now() > deadline) throw new Error(`timed out after ${options.timeoutMs} ms reading ${topic} to its end`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await consumer.disconnect();
  }
}

/** kafkajs's names for "no broker answered", here or down an error's cause chain. */
const BROKER_AWAY_NAMES = new Set([
  'KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSRequestTimeoutError', 'KafkaJSBrokerNotFound',
  'KafkaJSGroupCoordinatorNotFound', 'KafkaJSNumberOfRetriesExceeded', 'KafkaJSNoBrokerAvailableError', 'KafkaJSMetadataNotLoaded',
]);
/**
 * kafkajs's types (protocol/error.js) of the answers "not here, not yet": Kafka's
 * COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE and NOT_COORDINATOR (codes 14 to 16)
 * carry kafkajs's older names.
 */
const BROKER_AWAY_TYPES = new Set(['GROUP_LOAD_IN_PROGRESS', 'GROUP_COORDINATOR_NOT_AVAILABLE', 'NOT_COORDINATOR_FOR_GROUP', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_FOR_PARTITION']);
const BROKER_AWAY_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/** True when the error says the broker (or its coordinator) is away, not that a request was wrong: waiting helps. */
export function isBrokerAway(error: unknown): boolean {
  return causeChain(error).some(
    ({ name, type, code }) =>
      (typeof name === 'string' && BROKER_AWAY_NAMES.has(name)) ||
      (typeof type === 'string' && BROKER_AWAY_TYPES.has(type)) ||
      (typeof code === 'string' && BROKER_AWAY_CODES.has(code)),
  );
}

/**
 * Runs `step` (a connect, a first metadata read) again while the broker is away, with a back-off
 * up to 5 s and a warning at most every 30 s (with a `logger`), until it succeeds or `timeoutMs`
 * passed (then the last error is thrown). Any other error is thrown at once.
 */
export async function whileBrokerAway<T>(what: string, step: () => Promise<T>, options: { timeoutMs: number; logger?: Logger }): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let warned = 0;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await step();
    } catch (error) {
      if (!isBrokerAway(error) || Date.now() >= deadline) throw error;
      if (Date.now() - warned >= 30_000) {
        options.logger?.warn({ err: error, step: what, waitingUpToMs: Math.max(0, deadline - Date.now()) }, 'Kafka unreachable; waiting for it');
        warned = Date.now();
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 500 * attempt)));
    }
  }
}

/**
 * A start-up step that needs the broker: waits for it up to `timeoutMs` (KAFKA_CONNECT_TIMEOUT),
 * then fails with DependencyUnreachableError naming KAFKA_BROKERS (the service exits 78).
 */
export function atStartWhenBrokerAnswers<T>(what: string, step: () => Promise<T>, options: { timeoutMs: number; logger: Logger; brokers: readonly string[] }): Promise<T> {
  return whileBrokerAway(what, step, options).catch((error: unknown) => {
    throw brokerUnreachable(error, options);
  });
}

/**
 * Fails start-up with DependencyUnreachableError (exit 78) when one of `topics` is not among
 * the `existing` ones, naming the variable of `config` that set it (kafkajs would say only
 * "This server does not host this topic-partition").
 */
export function requireTopics(existing: { has(topic: string): boolean }, topics: readonly string[], config: object & { KAFKA_BROKERS: readonly string[] }): void {
  const missing = topics.find((topic) => !existing.has(topic));
  if (missing === undefined) return;
  const variable = topicVariableOf(config, missing);
  throw new DependencyUnreachableError(
    variable ?? 'topic',
    missing,
    `no such topic on KAFKA_BROKERS=${config.KAFKA_BROKERS.join(',')}`,
    `create the topics there (\`make up\` locally, \`npm run provision\` elsewhere)${variable === undefined ? '' : ` or set ${variable} to an existing topic`}`,
  );
}

/** The TOPIC_ variable of `config` whose value is `topic`, if one is. */
function topicVariableOf(config: object, topic: string): string | undefined {
  return Object.entries(config as Record<string, unknown>).find(([name, value]) => name.startsWith('TOPIC_') && value === topic)?.[0];
}

/**
 * The partition count of a service's input `topics`, which must exist (requireTopics) and be
 * co-partitioned: a customer's records of every input are keyed by customer_id and meet in the
 * same partition number, where the service keeps that customer's state. Different counts
 * would split a customer over two states: a ConfigError (exit 78) naming the topics.
 */
export async function coPartitionedCount(
  admin: Pick<Admin, 'fetchTopicMetadata'>,
  topics: readonly string[],
  config: object & { KAFKA_BROKERS: readonly string[] },
): Promise<number> {
  // One request for both questions: kafkajs asks for every topic's metadata when given none (as
  // its listTopics does), and a missing topic is then absent rather than an error. The metadata
  // lists the topics in no particular order.
  const counts = new Map((await admin.fetchTopicMetadata({ topics: [] })).topics.map((t) => [t.name, t.partitions.length]));
  requireTopics(counts, topics, config);
  const [first, ...rest] = topics as [string, ...string[]];
  const count = counts.get(first) ?? 0;
  const other = rest.find((topic) => counts.get(topic) !== count);
  if (other !== undefined) {
    throw new ConfigError([{
      variable: topicVariableOf(config, first) ?? 'topic',
      value: first,
      reason: `has ${count} partitions and ${other} has ${counts.get(other) ?? 0}; a customer's records of every input must be in the same partition number`,
      expected: 'co-partitioned topics (the same partition count, key customer_id), as npm run provision creates them',
    }]);
  }
  return count;
}

/** The error a start-up step ends with when no broker answered in time; any other error as it is. */
export function brokerUnreachable(error: unknown, options: { timeoutMs: number; brokers: readonly string[] }): unknown {
  if (!isBrokerAway(error)) return error;
  return new DependencyUnreachableError(
    'KAFKA_BROKERS',
    options.brokers.join(','),
    `no broker answered within ${options.timeoutMs} ms (${error instanceof Error ? error.message : String(error)})`,
    'start Kafka there or set KAFKA_BROKERS to reachable brokers (KAFKA_CONNECT_TIMEOUT sets how long to wait)',
  );
}
