import { logLevel, type Admin, type Producer, type RecordMetadata } from '../../../services/kit/kafkajs';
import pino from 'pino';
import { coPartitionedCount, createTopicsReady, isBrokerAway, kafkajsLineLevel, oneSendAtATime, recordsBehind, requireTopics, topicEnds, whileBrokerAway } from '../../../services/kit/kafka';
import { ConfigError, DependencyUnreachableError } from '../../../services/kit/errors';
import { thrownBy } from '../../support/thrown';

describe('isBrokerAway and whileBrokerAway: start-up and rejoin wait for a broker that is away', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9092'), { name: 'KafkaJSConnectionError', code: 'ECONNREFUSED' });
  it('knows a broker that is away, down the cause chain, from a request that is wrong', () => {
    expect(isBrokerAway(refused)).toBe(true);
    expect(isBrokerAway(Object.assign(new Error('Failed to find group coordinator'), { name: 'KafkaJSGroupCoordinatorNotFound' }))).toBe(true);
    expect(isBrokerAway(Object.assign(new Error('retries exceeded'), { name: 'KafkaJSNonRetriableError', cause: refused }))).toBe(true);
    expect(isBrokerAway(Object.assign(new Error('This server does not host this topic-partition'), { name: 'KafkaJSProtocolError', type: 'UNKNOWN_TOPIC_OR_PARTITION' }))).toBe(false);
    expect(isBrokerAway(new TypeError('x is undefined'))).toBe(false);
  });
  it("knows kafkajs's own answers of a coordinator or leader not ready, by the Kafka error codes kafkajs reads", () => {
    // kafkajs's names differ from Kafka's for 14 to 16 (GROUP_LOAD_IN_PROGRESS for COORDINATOR_LOAD_IN_PROGRESS, ...).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createErrorFromCode } = require('kafkajs/src/protocol/error') as { createErrorFromCode(code: number): Error & { type: string } };
    // LEADER_NOT_AVAILABLE, NOT_LEADER_FOR_PARTITION, COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR
    for (const code of [5, 6, 14, 15, 16]) expect({ code, away: isBrokerAway(createErrorFromCode(code)) }).toEqual({ code, away: true });
    // UNKNOWN_TOPIC_OR_PARTITION, INVALID_PRODUCER_EPOCH: waiting does not help.
    for (const code of [3, 47]) expect({ code, away: isBrokerAway(createErrorFromCode(code)) }).toEqual({ code, away: false });
  });
  it('runs the step again while the broker is away, and gives up with the last error after the timeout', async () => {
    const logger = pino({ level: 'silent' });
    let calls = 0;
    await expect(whileBrokerAway('connect', async () => (calls += 1) < 3 ? Promise.reject(refused) : 'up', { timeoutMs: 60_000, logger })).resolves.toBe('up');
    expect(calls).toBe(3);
    await expect(whileBrokerAway('connect', async () => Promise.reject(refused), { timeoutMs: 0, logger })).rejects.toBe(refused);
    const wrong = new TypeError('bad request');
    await expect(whileBrokerAway('connect', async () => Promise.reject(wrong), { timeoutMs: 60_000, logger })).rejects.toBe(wrong);
  });
});

describe("kafkajsLineLevel: kafkajs's own lines at the level an operator should read them", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createErrorFromCode } = require('kafkajs/src/protocol/error') as { createErrorFromCode(code: number): Error };
  const text = (code: number): string => createErrorFromCode(code).message;
  it('reports an error answer kafkajs retries (a coordinator loading or moving, a leader changing) at INFO', () => {
    // COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR (a new cluster's first InitProducerId), NOT_LEADER_FOR_PARTITION, CONCURRENT_TRANSACTIONS
    for (const code of [14, 15, 16, 6, 51]) {
      expect({ code, level: kafkajsLineLevel(logLevel.ERROR, 'Response InitProducerId(key: 22, version: 1)', text(code)) }).toEqual({ code, level: 'info' });
    }
  });
  it('keeps an error answer no retry fixes, and every other line, at its own level', () => {
    // INVALID_PRODUCER_EPOCH, MESSAGE_TOO_LARGE, TOPIC_AUTHORIZATION_FAILED
    for (const code of [47, 10, 29]) {
      expect({ code, level: kafkajsLineLevel(logLevel.ERROR, 'Response Produce(key: 0, version: 7)', text(code)) }).toEqual({ code, level: 'error' });
    }
    expect(kafkajsLineLevel(logLevel.ERROR, '[Consumer] Crash: KafkaJSNumberOfRetriesExceeded', text(15))).toBe('error');
    expect(kafkajsLineLevel(logLevel.ERROR, 'Response Fetch(key: 1, version: 11)', undefined)).toBe('error');
    expect(kafkajsLineLevel(logLevel.WARN, 'Response Fetch(key: 1, version: 11)', text(6))).toBe('warn');
    expect(kafkajsLineLevel(logLevel.INFO, 'Consumer has joined the group', undefined)).toBe('info');
  });
});

describe('topicEnds', () => {
  it('asks again when the broker answers that it does not lead a partition yet (kafkajs\'s admin gives up at once)', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createErrorFromCode } = require('kafkajs/src/protocol/error') as { createErrorFromCode(code: number): Error };
    let asked = 0;
    const admin = {
      fetchTopicOffsets: async () => ((asked += 1) === 1 ? Promise.reject(createErrorFromCode(6)) : [{ partition: 0, offset: '7', high: '7', low: '2' }]),
    } as unknown as Admin;
    // The high watermarks come from a kafkajs cluster made by the client's private factory (read_uncommitted).
    const cluster = {
      connect: async () => undefined,
      disconnect: async () => undefined,
      addTargetTopic: async () => undefined,
      fetchTopicsOffset: async () => [{ partitions: [{ partition: 0, offset: '9' }] }],
    };
    const kafka = { [Symbol('private:Kafka:createCluster')]: () => cluster } as unknown as Parameters<typeof topicEnds>[0];
    await expect(topicEnds(kafka, 'in', admin)).resolves.toEqual([{ partition: 0, low: '2', high: '9', stable: '7' }]);
    expect(asked).toBe(2);
  });
});

describe('recordsBehind', () => {
  const ends = [{ partition: 0, high: '10', low: '0' }, { partition: 1, high: '8', low: '5' }, { partition: 2, high: '4', low: '0' }];
  it('sums the log end minus the committed offset per partition, from the log start where none (or -1, or one below it) was committed', () => {
    expect(recordsBehind(ends, [{ partition: 0, offset: '7' }, { partition: 1, offset: '-1' }])).toBe(3 + 3 + 4);
    expect(recordsBehind(ends, [{ partition: 1, offset: '2' }])).toBe(10 + 3 + 4);
    expect(recordsBehind(ends, ends.map((p) => ({ partition: p.partition, offset: p.high })))).toBe(0);
  });
});

describe('createTopicsReady', () => {
  const unknown = Object.assign(new Error('This server does not host this topic-partition'), { name: 'KafkaJSProtocolError', type: 'UNKNOWN_TOPIC_OR_PARTITION' });
  /** An admin whose broker learns of a created topic only after `unknownReads` metadata reads, then reports `leaderless` reads without a leader. */
  function admin(existing: string[], unknownReads: number, leaderless = 0) {
    const created: string[][] = [];
    let reads = 0;
    const fake = {
      listTopics: async () => existing,
      createTopics: async ({ topics }: { topics: Array<{ topic: string }> }) => void created.push(topics.map((t) => t.topic)),
      fetchTopicMetadata: async ({ topics }: { topics: string[] }) => {
        reads += 1;
        if (reads <= unknownReads) throw Object.assign(new Error('retries exceeded'), { name: 'KafkaJSNumberOfRetriesExceeded', cause: unknown });
        const leader = reads <= unknownReads + leaderless ? -1 : 1;
        return { topics: topics.map((name) => ({ name, partitions: [{ partitionId: 0, leader }, { partitionId: 1, leader: 1 }] })) };
      },
    };
    return { admin: fake as unknown as Admin, created, reads: () => reads };
  }
  it('creates only the missing topics and waits through "unknown topic" and leaderless answers until every partition has a leader', async () => {
    const a = admin(['old'], 2, 1);
    await expect(createTopicsReady(a.admin, [{ topic: 'old' }, { topic: 'new', numPartitions: 2 }])).resolves.toEqual(['new']);
    expect(a.created).toEqual([['new']]);
    expect(a.reads()).toBe(4);
  });
  it('names what it waited for when the topics never become ready, and passes any other error on at once', async () => {
    await expect(createTopicsReady(admin([], 1_000).admin, [{ topic: 't' }], { timeoutMs: 250 })).rejects.toThrow(
      /not ready after 250 ms: waiting for the broker to know t/,
    );
    const denied = Object.assign(new Error('denied'), { type: 'TOPIC_AUTHORIZATION_FAILED' });
    const a = admin([], 0);
    (a.admin as unknown as { fetchTopicMetadata: () => Promise<never> }).fetchTopicMetadata = async () => Promise.reject(denied);
    await expect(createTopicsReady(a.admin, [{ topic: 't' }])).rejects.toBe(denied);
  });
});

describe('requireTopics', () => {
  const config = { KAFKA_BROKERS: ['10.0.0.1:9092', '10.0.0.2:9092'], TOPIC_BEHAVIOR_EVENTS: 'behavior.events', TOPIC_CUSTOMER_PROFILES: 'shop.profiles', GROUP_ID: 'shop.profiles' };

  it('passes when every topic exists', () => {
    expect(requireTopics(new Set(['behavior.events', 'shop.profiles', 'other']), ['behavior.events', 'shop.profiles'], config)).toBeUndefined();
  });

  it('names the first missing topic, the TOPIC_ variable that set it, the brokers and the remedy', () => {
    const error = thrownBy(DependencyUnreachableError, () => requireTopics(new Set(['behavior.events']), ['behavior.events', 'shop.profiles'], config));
    expect(error).toBeInstanceOf(DependencyUnreachableError);
    expect(error).toMatchObject({ variable: 'TOPIC_CUSTOMER_PROFILES', target: 'shop.profiles', reason: 'no such topic on KAFKA_BROKERS=10.0.0.1:9092,10.0.0.2:9092' });
    expect((error as Error).message).toContain('or set TOPIC_CUSTOMER_PROFILES to an existing topic');
  });

  it('says "topic" when no TOPIC_ variable holds the name', () => {
    const error = thrownBy(DependencyUnreachableError, () => requireTopics(new Set(), ['elsewhere'], config));
    expect(error).toMatchObject({ variable: 'topic', target: 'elsewhere' });
    expect((error as Error).message).not.toContain(' or set ');
  });
});

describe('coPartitionedCount', () => {
  const config = { KAFKA_BROKERS: ['127.0.0.1:9092'], TOPIC_BEHAVIOR_EVENTS: 'behavior.events', TOPIC_CUSTOMER_PROFILES: 'customer.profiles' };
  /** An admin whose topics have these partition counts: every topic when asked for none, as kafkajs (in another order). */
  const admin = (counts: Record<string, number>) => ({
    fetchTopicMetadata: async ({ topics }: { topics?: string[] }) => ({
      topics: (topics?.length ? topics : Object.keys(counts)).reverse().map((name) => ({ name, partitions: Array.from({ length: counts[name] ?? 0 }, (_, partition) => ({ partition })) })),
    }),
  });

  it('is the partition count of co-partitioned inputs', async () => {
    await expect(coPartitionedCount(admin({ 'behavior.events': 12, 'customer.profiles': 12 }) as never, ['behavior.events', 'customer.profiles'], config)).resolves.toBe(12);
    await expect(coPartitionedCount(admin({ 'behavior.events': 3 }) as never, ['behavior.events'], config)).resolves.toBe(3);
  });

  it('refuses inputs of different partition counts with a ConfigError naming the topics and their counts', async () => {
    const error = await coPartitionedCount(admin({ 'behavior.events': 12, 'customer.profiles': 6 }) as never, ['behavior.events', 'customer.profiles'], config).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.objectContaining({ variable: 'TOPIC_BEHAVIOR_EVENTS', value: 'behavior.events', reason: expect.stringMatching(/^has 12 partitions and customer\.profiles has 6; /) }),
    ]);
  });

  it('names a missing input, not a partition count of 0', async () => {
    await expect(coPartitionedCount(admin({ 'behavior.events': 12 }) as never, ['behavior.events', 'customer.profiles'], config)).rejects.toMatchObject({ variable: 'TOPIC_CUSTOMER_PROFILES' });
  });
});

describe('oneSendAtATime', () => {
  /** A producer whose sends wait until the test ends them; it records when each started and how many ran at once. */
  function scriptedProducer() {
    const started: string[] = [];
    const pending: Array<{ resolve: (m: RecordMetadata[]) => void; reject: (e: Error) => void }> = [];
    let running = 0;
    let mostAtOnce = 0;
    const run = (what: string) => {
      started.push(what);
      running += 1;
      mostAtOnce = Math.max(mostAtOnce, running);
      return new Promise<RecordMetadata[]>((resolve, reject) => pending.push({ resolve, reject })).finally(() => (running -= 1));
    };
    const producer = {
      send: ({ topic }: { topic: string }) => run(topic),
      sendBatch: ({ topicMessages }: { topicMessages: Array<{ topic: string }> }) => run(topicMessages.map((t) => t.topic).join('+')),
      connect: () => Promise.resolve(),
    } as unknown as Producer;
    const settled = () => new Promise((resolve) => setImmediate(resolve));
    return { producer, started, pending, mostAtOnce: () => mostAtOnce, settled };
  }
  const metadata = (topic: string): RecordMetadata[] => [{ topicName: topic, partition: 0, errorCode: 0 }];

  it('starts a send once the one before it has ended, answered or failed, and passes each its own outcome', async () => {
    const script = scriptedProducer();
    const producer = oneSendAtATime(script.producer);
    const a = producer.send({ topic: 'a', messages: [] });
    const b = producer.sendBatch({ topicMessages: [{ topic: 'b', messages: [] }, { topic: 'c', messages: [] }] });
    const d = producer.send({ topic: 'd', messages: [] });
    await script.settled();
    expect(script.started).toEqual(['a']);
    script.pending[0].reject(new Error('a failed'));
    await expect(a).rejects.toThrow('a failed');
    await script.settled();
    expect(script.started).toEqual(['a', 'b+c']);
    script.pending[1].resolve(metadata('b'));
    await expect(b).resolves.toEqual(metadata('b'));
    await script.settled();
    script.pending[2].resolve(metadata('d'));
    await expect(d).resolves.toEqual(metadata('d'));
    expect(script.started).toEqual(['a', 'b+c', 'd']);
    expect(script.mostAtOnce()).toBe(1);
  });

  it('keeps the rest of the producer as it was', async () => {
    const script = scriptedProducer();
    const producer = oneSendAtATime(script.producer);
    expect(producer.connect).toBe(script.producer.connect);
    const sent = producer.send({ topic: 'a', messages: [] });
    await script.settled();
    script.pending[0].resolve(metadata('a'));
    await expect(sent).resolves.toEqual(metadata('a'));
  });
});
