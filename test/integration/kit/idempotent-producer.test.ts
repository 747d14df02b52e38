/**
 * The services' idempotent producer against the real broker, when a produce request lands but
 * its answer is lost (the broker went away between appending and answering, as the chaos run's
 * broker stop does). kafkajs then takes the request's sequence numbers back and sends the same
 * records again, which the broker recognizes as a duplicate of its last batch, but only when no
 * other send of the producer took those numbers first. With two sends at once (dead letters of
 * two partitions' batches, a relay's records beside them), the broker answered the one that took
 * them OUT_OF_ORDER_SEQUENCE_NUMBER, which no retry fixes (the service exited 70), or, of the same
 * size, took it for the duplicate and dropped it while kafkajs reported it sent.
 */
import net from 'node:net';
import { createIdempotentProducer } from '../../../services/kit/kafka';
import { Kafka, logLevel, type Producer } from '../../../services/kit/kafkajs';
import { BROKERS, createTopics, randomTopic, readAll } from '../../support/stack';

/** Kafka's Produce request's API key: the first int16 after a request's 4-byte size. */
const PRODUCE = 0;

/**
 * A socket factory whose connections, once `loseNextProduceAnswer` is called, deliver the next
 * Produce request to the broker and close when its answer comes back, before kafkajs reads it:
 * the broker appended the batch and kafkajs cannot know.
 */
function answerLosingSockets(): { socketFactory: NonNullable<ConstructorParameters<typeof Kafka>[0]['socketFactory']>; loseNextProduceAnswer(): void; lost(): number } {
  let armed = false;
  let lost = 0;
  return {
    loseNextProduceAnswer: () => void (armed = true),
    lost: () => lost,
    socketFactory: ({ host, port, onConnect }) => {
      const socket = net.connect({ host, port }, onConnect);
      /** The correlation id of the Produce request whose answer is to be lost. */
      let awaited: number | null = null;
      let received = Buffer.alloc(0);
      const write = socket.write.bind(socket) as (chunk: Buffer, ...rest: unknown[]) => boolean;
      socket.write = ((chunk: Buffer, ...rest: unknown[]) => {
        // A request: int32 size, int16 api key, int16 version, int32 correlation id, ...
        if (armed && Buffer.isBuffer(chunk) && chunk.length >= 12 && chunk.readInt16BE(4) === PRODUCE) {
          armed = false;
          awaited = chunk.readInt32BE(8);
        }
        return write(chunk, ...rest);
      }) as typeof socket.write;
      const emit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean;
      socket.emit = ((event: string | symbol, ...args: unknown[]) => {
        if (event !== 'data' || awaited === null) return emit(event, ...args);
        // Answers pass on whole, in order, until the awaited one: int32 size, int32 correlation id, ...
        received = Buffer.concat([received, args[0] as Buffer]);
        while (received.length >= 8 && received.length >= 4 + received.readInt32BE(0)) {
          const frame = received.subarray(0, 4 + received.readInt32BE(0));
          received = received.subarray(frame.length);
          if (frame.readInt32BE(4) === awaited) {
            // The broker's process dies as it answers: kafkajs sees the connection end (its FIN).
            awaited = null;
            lost += 1;
            socket.destroy();
            return emit('end');
          }
          emit('data', frame);
        }
        return true;
      }) as typeof socket.emit;
      return socket;
    },
  };
}

describe('the idempotent producer when a produce answer is lost', () => {
  let producer: Producer | undefined;
  afterEach(async () => {
    await producer?.disconnect();
    producer = undefined;
  });

  // Before oneSendAtATime, of different sizes: the send that took the numbers back was refused
  // as out of order. Of one size: the broker dropped it as a duplicate, reported sent.
  it.each([
    ['different', 3, 1],
    ['equal', 2, 2],
  ])('writes each of two concurrent sends of %s sizes to one partition once, in order', async (_sizes, firstSize, secondSize) => {
    const topic = randomTopic('test.idempotent-lost-answer');
    await createTopics([topic], 1);
    const sockets = answerLosingSockets();
    producer = createIdempotentProducer(new Kafka({ brokers: BROKERS, clientId: 'kairos-tests-idempotent', logLevel: logLevel.NOTHING, socketFactory: sockets.socketFactory }));
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'warm-up' }] });

    const values = (prefix: string, size: number) => Array.from({ length: size }, (_, i) => `${prefix}${i + 1}`);
    sockets.loseNextProduceAnswer();
    const outcomes = await Promise.allSettled([
      producer.send({ topic, acks: -1, messages: values('a', firstSize).map((value) => ({ key: 'k', value })) }),
      producer.send({ topic, acks: -1, messages: values('b', secondSize).map((value) => ({ key: 'k', value })) }),
    ]);

    expect(sockets.lost()).toBe(1);
    expect(outcomes.map((o) => (o.status === 'rejected' ? String((o.reason as Error).message) : 'sent'))).toEqual(['sent', 'sent']);
    expect((await readAll(topic)).map((m) => m.value?.toString())).toEqual(['warm-up', ...values('a', firstSize), ...values('b', secondSize)]);
  });
});
