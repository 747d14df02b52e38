/**
 * The baseline: the segment and trigger logic written the way most people would write a Kafka +
 * Redis consumer. Two consumer groups (like the two services), each with kafkajs `eachMessage`
 * (one handler call per record, kafkajs committing offsets itself) and a plain ioredis client
 * with one awaited round trip per command: GET the customer's state, compute with the same pure
 * core Kairos uses, SET it back, ZADD/ZREM its timer, SADD/SREM its segment sets, and await the
 * send of its output records before the handler returns (so a crash replays rather than loses).
 * No Lua, no batching, no pipelining. Correct on a single consumer per partition; not
 * idempotent across crashes (a replay can produce a trigger twice), which Kairos is.
 */
import { Redis } from 'ioredis';
import { Partitioners, type Consumer, type Producer } from '../services/kit/kafkajs';
import { valueSubject } from '../services/kit/codec';
import { readSchema } from '../services/kit/codec';
import { applyEvent as applySegmentEvent, parseSegmentState, serializeSegmentState } from '../services/core/segments';
import {
  applyEvents as applyTriggerEvents,
  decodeTriggerState,
  encodeTriggerState,
  fireTimer,
  longestHorizonMs,
  parseTimerId,
  type TriggerRule,
} from '../services/core/triggers';
import type { BehaviorEvent } from '../services/core/types';
import { loadSegmentDefinitions } from '../services/segmenter/main';
import { loadTriggerRules } from '../services/trigger/main';
import { BenchStack, kafka, REDIS_URL, types, type OutputTopics } from './stack';
import type { Input } from './input';

const DAY = 24 * 3600 * 1000;

export interface Baseline {
  ready(): boolean;
  /** Events both handlers have finished (the smaller of the two counts). */
  processed(): number;
  stop(): Promise<void>;
}

/** The same TTLs the services use, so the memory comparison is fair. */
function triggerTtl(rules: readonly TriggerRule[]): number {
  return longestHorizonMs(rules) + DAY;
}
const SEGMENT_TTL = 366 * DAY;

export async function startBaseline(
  stack: BenchStack,
  options: { input: Input; out: OutputTopics; prefix: string; group: string },
): Promise<Baseline> {
  const { input, out, prefix } = options;
  const definitions = loadSegmentDefinitions('config/segments.yaml');
  const rules = loadTriggerRules('config/triggers.yaml');
  const now = () => input.clock;
  const redis = new Redis(REDIS_URL); // ioredis defaults: no auto-pipelining
  const producer: Producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const ids = {
    triggers: await stack.codec.register(valueSubject(out.triggers), readSchema('TriggerFired')),
    changes: await stack.codec.register(valueSubject(out.segmentChanges), readSchema('SegmentChange')),
  };
  const key = (kind: string, id: string) => `{${prefix}:${kind}}:${id}`;
  const counts = { segmenter: 0, trigger: 0 };
  const joined = { segmenter: false, trigger: false };
  const ttl = triggerTtl(rules);

  const segmenter = async (event: BehaviorEvent) => {
    const stored = await redis.getBuffer(key('seg', event.customer_id)); // binary states: read as bytes
    const result = applySegmentEvent(parseSegmentState(stored), event, definitions, now());
    if (result.ignored !== null) return;
    if (result.state === null) await redis.del(key('seg', event.customer_id));
    else await redis.set(key('seg', event.customer_id), serializeSegmentState(result.state), 'PX', SEGMENT_TTL);
    for (const change of result.changes) {
      if (change.change === 'entered') await redis.sadd(key('members', change.segment), event.customer_id);
      else await redis.srem(key('members', change.segment), event.customer_id);
    }
    if (result.state === null || result.wakeAt === null) await redis.zrem(key('wakeups', 'all'), event.customer_id);
    else await redis.zadd(key('wakeups', 'all'), Math.max(result.wakeAt, now() + 1), event.customer_id);
    const messages = [
      ...result.changes.map((c) => ({ topic: out.segmentChanges, key: event.customer_id, value: stack.codec.encode(ids.changes, types.SegmentChange, c) })),
      ...result.triggers.map((t) => ({ topic: out.triggers, key: event.customer_id, value: stack.codec.encode(ids.triggers, types.TriggerFired, t) })),
    ];
    for (const m of messages) await producer.send({ topic: m.topic, acks: -1, messages: [{ key: m.key, value: m.value }] });
  };

  // Stream time per partition, as the service keeps it: a customer's due timer fires before its next event.
  const streamTimes = new Map<number, number>();
  const trigger = async (event: BehaviorEvent, partition: number) => {
    const stored = await redis.getBuffer(key('trig', event.customer_id));
    const result = applyTriggerEvents(decodeTriggerState(stored), [event], rules, now(), [streamTimes.get(partition) ?? null]);
    streamTimes.set(partition, Math.max(streamTimes.get(partition) ?? event.occurred_at, event.occurred_at));
    if (result.changed) await redis.set(key('trig', event.customer_id), encodeTriggerState(result.state), 'PX', ttl);
    for (const { id, dueAt } of result.timers.set) await redis.zadd(key('timers', 'all'), dueAt, id);
    for (const id of result.timers.cancel) await redis.zrem(key('timers', 'all'), id);
    if (result.triggers.length > 0) {
      await producer.send({
        topic: out.triggers,
        acks: -1,
        messages: result.triggers.map((t) => ({ key: event.customer_id, value: stack.codec.encode(ids.triggers, types.TriggerFired, t) })),
      });
    }
  };

  // Caught up at the end, the service fires every timer due by its clock; so does the baseline,
  // after the measured time (stop()), so both outputs can be compared.
  const fireDueAtTheEnd = async () => {
    const due = await redis.zrangebyscore(key('timers', 'all'), '-inf', now());
    for (const id of due) {
      const customer = parseTimerId(id)?.customerId;
      if (customer === undefined) continue;
      const result = fireTimer(decodeTriggerState(await redis.getBuffer(key('trig', customer))), id, rules, now());
      if (result.changed) await redis.set(key('trig', customer), encodeTriggerState(result.state), 'PX', ttl);
      await redis.zrem(key('timers', 'all'), id);
      const messages = result.triggers.map((t) => ({ key: customer, value: stack.codec.encode(ids.triggers, types.TriggerFired, t) }));
      if (messages.length > 0) await producer.send({ topic: out.triggers, acks: -1, messages });
    }
  };

  const consumers: Consumer[] = [];
  for (const [name, handle] of [['segmenter', segmenter], ['trigger', trigger]] as const) {
    const consumer = kafka.consumer({ groupId: `${options.group}-${name}` });
    consumer.on(consumer.events.GROUP_JOIN, () => (joined[name] = true));
    await consumer.connect();
    await consumer.subscribe({ topic: input.events, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        const event = await stack.codec.decode<BehaviorEvent>(message.value as Buffer, types.BehaviorEvent);
        await handle(event, partition);
        counts[name] += 1;
      },
    });
    consumers.push(consumer);
  }
  return {
    ready: () => joined.segmenter && joined.trigger,
    processed: () => Math.min(counts.segmenter, counts.trigger),
    async stop() {
      for (const consumer of consumers) await consumer.disconnect();
      await fireDueAtTheEnd();
      await producer.disconnect();
      redis.disconnect();
    },
  };
}
