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
  /** Set when the record's value had to be left out of its copy (see withoutValue). */
  valueDropped: 'kairos.dlq.value.dropped',
} as const;

/**
 * Dead letters go out in sends of at most about this many bytes (keys, values, headers), so the
 * record batch of a DLQ partition stays under Kafka's default limit (message.max.bytes,
 * 1,048,588 bytes per record batch) whatever a consumed batch held: two 600 KB poison records
 * in one fetch would not fit one send, nor the copies of ten thousand 100-byte ones with their
 * headers. A larger copy goes alone.
 */
export const DEAD_LETTER_SEND_BYTES = 256 * 1024;

/** `messages` in order, in groups of at most `maxBytes` (keys, values, headers, record overhead; a larger message alone). */
export function deadLetterSends(messages: readonly Message[], maxBytes = DEAD_LETTER_SEND_BYTES): Message[][] {
  const sends: Message[][] = [];
  let current: Message[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = messageBytes(message);
    if (current.length > 0 && bytes + size > maxBytes) {
      sends.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length > 0) sends.push(current);
  return sends;
}

/**
 * The dead letter without the record's value, for a copy the broker refused as too large: a
 * record at the input topic's size limit no longer fits once the DLQ headers are added. The
 * key and headers stay (where it came from: topic, partition, offset); the header
 * `kairos.dlq.value.dropped` says how many bytes were left out and why.
 */
export function withoutValue(message: Message): Message {
  const bytes = byteLength(message.value);
  return {
    ...message,
    value: null,
    headers: {
      ...(message.headers ?? {}),
      [DLQ_HEADERS.valueDropped]: `${bytes} bytes: the copy was larger than the DLQ topic takes (max.message.bytes); read the record at its source offset while the topic retains it`,
    },
  };
}

/** A broker's "too large" answer (a record or its batch over max.message.bytes), here or down the `cause` chain. */
export function isTooLargeError(error: unknown): boolean {
  let current = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth += 1) {
    const { type, code, cause } = current as { type?: unknown; code?: unknown; cause?: unknown };
    if (type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE' || code === 10 || code === 18) return true;
    current = cause;
  }
  return false;
}

/** About what a message takes in a record batch: key, value, headers and a record's overhead. */
function messageBytes(message: Message): number {
  let bytes = RECORD_OVERHEAD + byteLength(message.key) + byteLength(message.value);
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    bytes += Buffer.byteLength(name) + (Array.isArray(value) ? value.reduce((sum: number, v) => sum + byteLength(v), 0) : byteLength(value));
  }
  return bytes;
}

/** A record's own bytes in a batch besides its data (length, attributes, deltas, counts): at most about 30. */
const RECORD_OVERHEAD = 32;

function byteLength(data: Message['value'] | Message['key'] | undefined): number {
  if (data === null || data === undefined) return 0;
  return typeof data === 'string' ? Buffer.byteLength(data) : data.length;
}

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
