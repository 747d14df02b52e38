/**
 * What the console reads from Kafka, read-only:
 *  - the output topics (triggers, email.outcomes, segment.changes) and behavior.events, as a
 *    `read_committed` reader in a throw-away consumer group that never commits, from
 *    CONSOLE_LOOKBACK ago (by record timestamp) onwards, into ConsoleMemory;
 *  - every CONSOLE_SAMPLE_INTERVAL: the log end of behavior.events (events/s), the lag of each
 *    service's consumer group, the DLQ sizes and the segment sizes (segmenter API), into
 *    SampleHistory.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { AvroCodec, recordTypes } from '../kit/codec';
import { recordsBehind } from '../kit/kafka';
import type { Logger } from '../kit/logger';
import type { BehaviorEvent, EmailOutcome, SegmentChange, TriggerFired } from '../core/types';
import type { ConsoleConfig } from './config';
import { ConsoleMemory, SampleHistory } from './memory';
import type { Upstreams } from './upstream';

/** The consumer groups whose lag the overview shows: service name -> group id. */
export function consumerGroups(config: ConsoleConfig): Array<{ service: string; group: string }> {
  return config.CONSOLE_CONSUMER_GROUPS.map((entry) => {
    const [service, group] = entry.includes('=') ? (entry.split('=', 2) as [string, string]) : [entry.replace(/^kairos-/, ''), entry];
    return { service, group };
  });
}

/** The dead-letter topics the overview counts. */
export function dlqTopics(config: ConsoleConfig): string[] {
  return [config.TOPIC_BEHAVIOR_EVENTS, config.TOPIC_CUSTOMER_PROFILES, config.TOPIC_TRIGGERS, config.TOPIC_EMAIL_OUTCOMES].map((t) => `${t}${config.DLQ_SUFFIX}`);
}

async function topicSize(admin: Admin, topic: string): Promise<{ high: number; records: number } | null> {
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return {
      high: offsets.reduce((sum, p) => sum + Number(p.high), 0),
      records: offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0),
    };
  } catch {
    return null;
  }
}

/** Records still to be read by `group`: over every topic it committed offsets for. Null if it has none. */
async function groupLag(admin: Admin, group: string): Promise<number | null> {
  const committed = await admin.fetchOffsets({ groupId: group });
  if (committed.length === 0) return null;
  let lag = 0;
  for (const { topic, partitions } of committed) {
    const ends = await admin.fetchTopicOffsets(topic).catch(() => null);
    if (ends === null) continue;
    lag += recordsBehind(ends, partitions);
  }
  return lag;
}

export class ConsoleFeed {
  readonly memory: ConsoleMemory;
  readonly history: SampleHistory;
  /** Every segment seen in a sample, in order. */
  readonly segments = new Set<string>();
  private consumer: Consumer | null = null;
  private admin: Admin | null = null;
  private timer: NodeJS.Timeout | null = null;
  private sampling: Promise<void> | null = null;
  /** True once the consumer caught up with the log end it found at start-up. */
  caughtUp = false;
  /** When the feed started: it read the topics from CONSOLE_LOOKBACK before this. */
  startedAt: number;
  private startEnds = new Map<string, number>();
  private readonly position = new Map<string, number>();

  constructor(
    private readonly config: ConsoleConfig,
    private readonly kafka: Kafka,
    private readonly upstreams: Upstreams,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.memory = new ConsoleMemory({ lookbackMs: config.CONSOLE_LOOKBACK, maxCustomers: config.CONSOLE_MAX_CUSTOMERS, recordsPerCustomer: config.CONSOLE_RECORDS_PER_CUSTOMER });
    this.startedAt = clock();
    this.history = new SampleHistory(Math.max(2, Math.min(100_000, Math.ceil(config.CONSOLE_HISTORY / config.CONSOLE_SAMPLE_INTERVAL))));
  }

  async start(): Promise<void> {
    this.admin = this.kafka.admin();
    await this.admin.connect();
    await this.startReading();
    await this.sample();
    this.timer = setInterval(() => {
      if (this.sampling === null) this.sampling = this.sample().finally(() => (this.sampling = null));
    }, this.config.CONSOLE_SAMPLE_INTERVAL);
    this.timer.unref();
  }

  private async startReading(): Promise<void> {
    const { config } = this;
    const codec = AvroCodec.connect(config.SCHEMA_REGISTRY_URL);
    const types = recordTypes();
    const topics = {
      [config.TOPIC_TRIGGERS]: (value: Buffer) => codec.decode<TriggerFired>(value, types.TriggerFired).then((r) => this.memory.addTrigger(r, this.clock())),
      [config.TOPIC_EMAIL_OUTCOMES]: (value: Buffer) => codec.decode<EmailOutcome>(value, types.EmailOutcome).then((r) => this.memory.addOutcome(r, this.clock())),
      [config.TOPIC_SEGMENT_CHANGES]: (value: Buffer) => codec.decode<SegmentChange>(value, types.SegmentChange).then((r) => this.memory.addSegmentChange(r, this.clock())),
      [config.TOPIC_BEHAVIOR_EVENTS]: (value: Buffer) => codec.decode<BehaviorEvent>(value, types.BehaviorEvent).then((r) => this.memory.addEvent(r)),
    };
    const admin = this.admin as Admin;
    this.startedAt = this.clock();
    const since = this.startedAt - config.CONSOLE_LOOKBACK;
    const starts = new Map<string, Array<{ partition: number; offset: string }>>();
    for (const topic of Object.keys(topics)) {
      try {
        const [byTime, ends] = await Promise.all([admin.fetchTopicOffsetsByTimestamp(topic, since), admin.fetchTopicOffsets(topic)]);
        starts.set(topic, byTime.map((p) => ({ partition: p.partition, offset: p.offset })));
        for (const p of ends) this.startEnds.set(`${topic}:${p.partition}`, Number(p.high));
      } catch (error) {
        this.logger.warn({ topic, err: error }, 'console: cannot read a topic; its figures stay empty');
      }
    }
    // A group of its own that never commits: nothing is left behind but an empty group the broker drops.
    const consumer = this.kafka.consumer({ groupId: `kairos-console-${randomUUID()}`, readUncommitted: false, allowAutoTopicCreation: false });
    this.consumer = consumer;
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      this.position.set(`${payload.topic}:${payload.partition}`, Number(payload.lastOffset) + 1);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [...starts.keys()], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        this.position.set(`${topic}:${partition}`, Number(message.offset) + 1);
        if (message.value === null) return;
        const decode = topics[topic];
        if (decode === undefined) return;
        await decode(message.value).catch(() => {
          this.memory.read.undecodable += 1;
        });
      },
    });
    for (const [topic, partitions] of starts) for (const { partition, offset } of partitions) consumer.seek({ topic, partition, offset });
  }

  /** Whether the reader has reached the log end found at start-up on every partition. */
  checkCaughtUp(): boolean {
    if (!this.caughtUp) this.caughtUp = [...this.startEnds].every(([key, end]) => end === 0 || (this.position.get(key) ?? 0) >= end);
    return this.caughtUp;
  }

  /** One sample: events log end, consumer lag per group, DLQ sizes, segment sizes. */
  async sample(): Promise<void> {
    const admin = this.admin;
    if (admin === null) return;
    const values: Record<string, number | null> = {};
    const events = await topicSize(admin, this.config.TOPIC_BEHAVIOR_EVENTS);
    values['events.total'] = events?.high ?? null;
    for (const { service, group } of consumerGroups(this.config)) {
      values[`lag.${service}`] = await groupLag(admin, group).catch(() => null);
    }
    for (const topic of dlqTopics(this.config)) values[`dlq.${topic}`] = (await topicSize(admin, topic))?.records ?? null;
    const segments = await this.upstreams.get<{ segments: Array<{ name: string; size: number }> }>('segmenter', '/segments');
    if (segments.ok) {
      for (const s of segments.body.segments) {
        this.segments.add(s.name);
        values[`segment.${s.name}`] = s.size;
      }
    }
    this.checkCaughtUp();
    this.history.add({ at: this.clock(), values });
  }

  /** Stops reading and sampling; a broker that does not answer delays it by a few seconds at most. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    const atMost = (ms: number, work: Promise<unknown> | null | undefined) =>
      Promise.race([Promise.resolve(work).catch(() => undefined), new Promise((resolve) => setTimeout(resolve, ms).unref())]);
    // A sample stuck on a broker that keeps retrying (a deleted topic) is abandoned, not awaited.
    await atMost(2000, this.sampling);
    await atMost(5000, this.consumer?.disconnect());
    await atMost(2000, this.admin?.disconnect());
  }
}
