import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import type { PoisonReason } from './poison';

/**
 * Dead-letter headers. The `__connect.errors.*` names are Kafka Connect's, so tools built for
 * Connect's DLQs read ours; the `kairos.dlq.*` ones add what Connect has no name for.
 * Every value is a UTF-8 string.
 */
export const DLQ_HEADERS = {
  topic: '__connect.errors.topic',
  partition: '__connect.errors.partition',
  offset: '__connect.errors.offset',
  exceptionClass: '__connect.errors.exception.class.name',
  exceptionMessage: '__connect.errors.exception.message',
  stage: '__connect.errors.stage',
  reason: 'kairos.dlq.reason',
  consumerGroup: 'kairos.dlq.consumer.group',
  service: 'kairos.dlq.service',
  failedAt: 'kairos.dlq.failed.at',
} as const;

export interface DeadLetterSource {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

export interface DeadLetterCause {
  reason: PoisonReason;
  error: Error;
  consumerGroup: string;
  service: string;
  at: number;
}

/** The DLQ topic of `topic`. */
export function dlqTopic(topic: string, suffix = '.dlq'): string {
  return `${topic}${suffix}`;
}

/**
 * The DLQ record for a failed record: its original key and bytes untouched, its original
 * headers kept, and headers naming the error and where the record came from.
 */
export function deadLetterMessage(source: DeadLetterSource, cause: DeadLetterCause): Message {
  const headers: IHeaders = { ...(source.message.headers ?? {}) };
  headers[DLQ_HEADERS.topic] = source.topic;
  headers[DLQ_HEADERS.partition] = String(source.partition);
  headers[DLQ_HEADERS.offset] = source.message.offset;
  headers[DLQ_HEADERS.exceptionClass] = cause.error.name;
  // Messages name offsets, ids and fields, never customer values; still, keep it bounded.
  headers[DLQ_HEADERS.exceptionMessage] = cause.error.message.slice(0, 2000);
  headers[DLQ_HEADERS.stage] = cause.reason === 'processing' ? 'PROCESSING' : 'VALUE_CONVERTER';
  headers[DLQ_HEADERS.reason] = cause.reason;
  headers[DLQ_HEADERS.consumerGroup] = cause.consumerGroup;
  headers[DLQ_HEADERS.service] = cause.service;
  headers[DLQ_HEADERS.failedAt] = String(cause.at);
  return {
    key: source.message.key,
    value: source.message.value,
    headers,
    // Keep the original record time: the DLQ shows when the bad record was produced.
    timestamp: source.message.timestamp,
  };
}
