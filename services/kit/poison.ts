import { KairosError } from './errors';

/** Why a record was dead-lettered; the value of the `kairos.dlq.reason` header. */
export type PoisonReason =
  | 'wire-format'
  | 'unknown-schema-id'
  | 'undecodable'
  | 'schema-mismatch'
  | 'invalid'
  /** A string, map, number or the whole record beyond its limit at the edge (core/limits.ts, docs/producers.md). */
  | 'over-limit'
  /** Its event time (occurred_at, updated_at, fired_at) is further ahead of the service clock than MAX_CLOCK_SKEW. */
  | 'future-time'
  /** The customer's stored state cannot be decoded, so none of its records can be applied. */
  | 'corrupt-state'
  | 'processing';

/**
 * A record that can never be processed, whatever the retries: it goes to the topic's DLQ and
 * the partition moves on.
 */
export class PoisonRecordError extends KairosError {
  constructor(
    readonly reason: PoisonReason,
    message: string,
  ) {
    super(message, { retriable: false });
  }
}

/** The schema registry could not be asked; the batch is retried, never dead-lettered. */
export class RegistryUnavailableError extends KairosError {
  constructor(message: string) {
    super(message, { retriable: true });
  }
}
