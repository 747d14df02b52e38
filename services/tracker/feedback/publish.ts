/**
 * The EventPublisher of the SES feedback routes over Kafka: Avro (Confluent wire format,
 * the BehaviorEvent schema of behavior.events) keyed by customer_id, acks=all.
 */
import type { Producer } from 'kafkajs';
import type { BehaviorEvent } from '../../core/types';
import { readSchema, recordTypes, valueSubject, type AvroCodec } from '../../kit/codec';
import type { EventPublisher } from './routes';

export async function kafkaEventPublisher(producer: Producer, codec: AvroCodec, topic: string): Promise<EventPublisher> {
  const id = await codec.idOf(valueSubject(topic), readSchema('BehaviorEvent'));
  const type = recordTypes().BehaviorEvent;
  return async (events) => {
    if (events.length === 0) return;
    await producer.send({ topic, acks: -1, messages: events.map((event: BehaviorEvent) => ({ key: event.customer_id, value: codec.encode(id, type, event) })) });
  };
}
