import { createHash } from 'node:crypto';

/**
 * Every Redis key the renderer uses. Per-partition keys share the hash tag
 * `{<prefix>:renderer:<partition>}` (the partition of the co-partitioned input topics), so one
 * Lua call can change a trigger's ledger, the customer's sends, the timers and the outbox at
 * once, on a single Redis or a Redis Cluster.
 */
export class RendererKeys {
  constructor(readonly prefix: string) {}

  tag(partition: number): string {
    return `{${this.prefix}:renderer:${partition}}`;
  }
  /** Hash: `p` profile JSON, `pu` its updated_at, `u` unsubscribed at. */
  customer(partition: number, customerId: string): string {
    return `${this.tag(partition)}:c:${customerId}`;
  }
  /** Sorted set of the customer's recent sends: "<campaign>|<trigger_id>" -> ms. */
  sends(partition: number, customerId: string): string {
    return `${this.tag(partition)}:sends:${customerId}`;
  }
  /** The send ledger entry of one trigger (hash). */
  ledger(partition: number, triggerId: string): string {
    return `${this.tag(partition)}:l:${triggerId}`;
  }
  /** Set once the partition has state: its absence later, under a running instance, means Redis lost it. */
  stateMarker(partition: number): string {
    return `${this.tag(partition)}:state`;
  }
  outbox(partition: number): string {
    return `${this.tag(partition)}:outbox`;
  }
  /** Deferred sends (quiet hours): trigger_id -> due ms. */
  timers(partition: number): string {
    return `${this.tag(partition)}:timers`;
  }
  /** The shared send-rate window (one key for every instance). */
  rateLimit(): string {
    return `{${this.prefix}:renderer:rate}`;
  }
  /** Address-level suppression (bounces, complaints), keyed by a hash of the address. */
  suppression(email: string): string {
    const digest = createHash('sha256').update(email.trim().toLowerCase()).digest('hex');
    return `{${this.prefix}:renderer:suppression}:${digest}`;
  }
  /** Every key of the renderer, for tests and clean-up. */
  pattern(): string {
    return `{${this.prefix}:renderer:*`;
  }
}
