import { Kafka, type Consumer, type ConsumerConfig } from '../../../services/kit/kafkajs';
import { ConsumerGate, GATED_FETCH_WAIT_MS } from '../../../bench/consumer-gate';

/** A consumer that records what the gate does to it; `join()` plays kafkajs's GROUP_JOIN. */
function fakeConsumer(config: ConsumerConfig) {
  const listeners: Array<() => void> = [];
  const calls: string[] = [];
  const consumer = {
    config,
    calls,
    events: { GROUP_JOIN: 'consumer.group_join' },
    on: (event: string, listener: () => void) => {
      if (event === 'consumer.group_join') listeners.push(listener);
      return () => undefined;
    },
    pause: (topics: Array<{ topic: string }>) => calls.push(`pause ${topics.map((t) => t.topic).join(',')}`),
    resume: (topics: Array<{ topic: string }>) => calls.push(`resume ${topics.map((t) => t.topic).join(',')}`),
    join: () => listeners.forEach((listener) => listener()),
  };
  return consumer;
}
type Fake = ReturnType<typeof fakeConsumer>;

describe("the bench's consumer gate", () => {
  let made: Fake[];
  let spy: jest.SpyInstance;
  const kafka = new Kafka({ brokers: ['127.0.0.1:1'] });

  beforeEach(() => {
    made = [];
    spy = jest.spyOn(Kafka.prototype, 'consumer').mockImplementation((config: ConsumerConfig) => {
      const consumer = fakeConsumer(config);
      made.push(consumer);
      return consumer as unknown as Consumer;
    });
  });
  afterEach(() => spy.mockRestore());

  it('holds the gated topics at every join until released, and only the gated groups', () => {
    const gate = new ConsumerGate(['events', 'profiles'], (groupId) => groupId === 'bench-segmenter');
    const uninstall = gate.install();
    kafka.consumer({ groupId: 'bench-segmenter', maxWaitTimeInMs: 5000 });
    kafka.consumer({ groupId: 'someone-else' });
    uninstall();
    kafka.consumer({ groupId: 'bench-segmenter' }); // made after uninstall: not gated
    const [gated, other, late] = made;

    expect(gated.config.maxWaitTimeInMs).toBe(GATED_FETCH_WAIT_MS);
    expect(other.config.maxWaitTimeInMs).toBeUndefined();
    gated.join();
    other.join();
    late.join();
    expect(gated.calls).toEqual(['pause events,profiles']);
    expect(other.calls).toEqual([]);
    expect(late.calls).toEqual([]);

    gate.release();
    gate.release();
    expect(gated.calls).toEqual(['pause events,profiles', 'resume events,profiles']);
    gated.join(); // a rebalance after the release reads on
    expect(gated.calls).toHaveLength(2);
  });

  it('puts kafkajs back as it was when uninstalled', () => {
    const before = Kafka.prototype.consumer;
    const uninstall = new ConsumerGate(['events'], () => true).install();
    expect(Kafka.prototype.consumer).not.toBe(before);
    uninstall();
    expect(Kafka.prototype.consumer).toBe(before);
  });
});
