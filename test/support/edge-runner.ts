/**
 * Runs records through a real ConsumerRunner with a service's real input bindings and the real
 * Avro codec, with no broker: a stub consumer (stub-consumer.ts) hands each topic's records over
 * as one batch, and a registry stand-in knows the schema ids given (any other id is a 404, as
 * the registry answers). What each record became: handed to the handler, or dead-lettered.
 */
import pino from 'pino';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Type } from 'avsc';
import type { KafkaMessage, Message, Producer } from 'kafkajs';
import { AvroCodec } from '../../services/kit/codec';
import { ConsumerRunner, type AnyTopicBinding, type ConsumedRecord } from '../../services/kit/consumer-runner';
import { DLQ_HEADERS } from '../../services/kit/dlq';
import { stubBatch, stubConsumer, stubPayload } from './stub-consumer';

export interface EdgeRecord {
  topic: string;
  key: Buffer | null;
  value: Buffer | null;
}

export type EdgeOutcome = { accepted: ConsumedRecord<unknown> } | { dead: Message };

export async function throughEdge(
  bindings: AnyTopicBinding[],
  records: readonly EdgeRecord[],
  options: { schemas: ReadonlyMap<number, Type>; now: number },
): Promise<EdgeOutcome[]> {
  const registry = {
    getSchema: async (id: number) => {
      const type = options.schemas.get(id);
      if (type) return type;
      throw Object.assign(new Error(`No content with ID '${id}' was found.`), { status: 404 });
    },
  } as unknown as SchemaRegistry;
  const { consumer, eachBatch } = stubConsumer();
  const dead: Message[] = [];
  const producer = { send: async ({ messages }: { messages: Message[] }) => void dead.push(...messages) } as unknown as Producer;
  const accepted: ConsumedRecord<unknown>[] = [];
  const runner = new ConsumerRunner({
    consumer,
    producer,
    codec: new AvroCodec(registry),
    logger: pino({ level: 'silent' }),
    instrumentation: { batchProcessed: () => undefined, deadLettered: () => undefined },
    service: 'test',
    groupId: 'test',
    bindings,
    handler: async (batch) => void accepted.push(...batch),
    clock: () => options.now,
  });
  await runner.start();
  // Offsets are the records' indexes, so outcomes map back to them.
  for (const topic of new Set(records.map((r) => r.topic))) {
    const messages: KafkaMessage[] = records
      .map((record, index) => ({ record, index }))
      .filter(({ record }) => record.topic === topic)
      .map(({ record, index }) => ({ key: record.key, value: record.value, offset: String(index), timestamp: String(options.now), attributes: 0, headers: {} }));
    await eachBatch(stubPayload(stubBatch(topic, messages)));
  }
  const outcome = new Map<string, EdgeOutcome>();
  for (const record of accepted) outcome.set(record.offset, { accepted: record });
  for (const message of dead) outcome.set(String(message.headers?.[DLQ_HEADERS.offset]), { dead: message });
  return records.map((_, index) => {
    const found = outcome.get(String(index));
    if (!found) throw new Error(`record #${index} was neither handed to the handler nor dead-lettered`);
    return found;
  });
}

/** The DLQ reason and message of a dead letter, or null when the record was accepted. */
export function deadReason(outcome: EdgeOutcome): { reason: string; message: string } | null {
  if ('accepted' in outcome) return null;
  return { reason: String(outcome.dead.headers?.[DLQ_HEADERS.reason]), message: String(outcome.dead.headers?.[DLQ_HEADERS.exceptionMessage]) };
}
