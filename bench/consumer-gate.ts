/**
 * Holds services' input until the bench releases it, so that services started one after the
 * other begin together and a timed window opened at the release holds all of their work.
 * Without it, the first of two services started in one process (bench/throughput.ts) had
 * started 10 or 11 batches, 350 to 610 ms of work, before the second joined its group and the
 * window opened (measured 2026-12-04 over 13 runs of 100,000 and 200,003 events); instances of
 * the scale-out figure join one after the other (an existing member learns of a rebalance at its
 * next heartbeat, every KAFKA_SESSION_TIMEOUT / 3), and the first would process much of the
 * input alone.
 *
 * While installed, the gate wraps kafkajs's Kafka#consumer (only in the bench: no service code
 * knows of it): a consumer of a gated group pauses the gated topics at every group join until
 * release(), and resumes them then. While every partition is paused kafkajs sleeps
 * maxWaitTimeInMs (5 s by default) between fetches, and that sleep ran on into the window after
 * the release: gated consumers get a short one (it matters only while the broker has nothing to
 * give, never while there is input to read).
 */
import { Kafka, type Consumer, type ConsumerConfig } from '../services/kit/kafkajs';

/** A gated consumer's fetch wait (ms): the most the window can include of a paused consumer's sleep. */
export const GATED_FETCH_WAIT_MS = 50;

export class ConsumerGate {
  private released = false;
  private readonly consumers: Consumer[] = [];

  constructor(
    private readonly topics: readonly string[],
    private readonly isGated: (groupId: string) => boolean,
  ) {}

  /** Wraps Kafka#consumer until the returned function is called: create the services in between. */
  install(): () => void {
    const create = Kafka.prototype.consumer;
    const gated = (config: ConsumerConfig, build: (config: ConsumerConfig) => Consumer): Consumer => {
      if (!this.isGated(config.groupId)) return build(config);
      const consumer = build({ ...config, maxWaitTimeInMs: GATED_FETCH_WAIT_MS });
      this.consumers.push(consumer);
      consumer.on(consumer.events.GROUP_JOIN, () => {
        if (!this.released) consumer.pause(this.topics.map((topic) => ({ topic })));
      });
      return consumer;
    };
    Kafka.prototype.consumer = function (this: Kafka, config: ConsumerConfig): Consumer {
      return gated(config, (c) => create.call(this, c));
    };
    return () => {
      Kafka.prototype.consumer = create;
    };
  }

  /** Lets every gated consumer read from now on (also at its later group joins). */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const consumer of this.consumers) consumer.resume(this.topics.map((topic) => ({ topic })));
  }
}
