/**
 * Reading a topic "to its end" against the real broker: the end is the high watermark, not the
 * last stable offset kafkajs's admin answers. A transaction committed a moment before the read
 * (its markers not yet written) or still open when the read starts is in what the reader
 * returns, as the output-topic readers of the tools, the bench and the tests need.
 */
import { randomUUID } from 'node:crypto';
import type { KafkaMessage } from 'kafkajs';
import { readToEnd, topicEnds } from '../../../services/kit/kafka';
import { createTopics, kafka, waitFor } from '../../support/stack';

describe('topicEnds and readToEnd on the real broker', () => {
  it('gives the high watermark beside the last stable offset, and reads an open transaction once it commits', async () => {
    const topic = `test.read-to-end.${randomUUID().slice(0, 8)}`;
    await createTopics([topic], 1);
    const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    const transactional = kafka.producer({ transactionalId: `test-read-to-end-${randomUUID()}`, idempotent: true, maxInFlightRequests: 1 });
    await plain.connect();
    await transactional.connect();
    try {
      await plain.send({ topic, messages: [{ key: 'first', value: 'first' }] });
      const open = await transactional.transaction();
      await open.send({ topic, messages: [{ key: 'a', value: 'a' }, { key: 'b', value: 'b' }] });

      // Offsets 0 (plain), 1 and 2 (the open transaction): stable stops at the transaction's first record.
      expect(await topicEnds(kafka, topic)).toEqual([{ partition: 0, low: '0', high: '3', stable: '1' }]);

      const groupId = `test-read-to-end-${randomUUID()}`;
      const read: KafkaMessage[] = [];
      const reading = readToEnd(kafka, topic, { groupId, timeoutMs: 30_000, onMessage: (message) => void read.push(message) });
      // The reader has the record before the transaction: reading to the last stable offset, it
      // would stop here, without 'a' and 'b'.
      await waitFor('the first record', () => read.length === 1 || undefined);
      await open.commit();
      await reading;
      expect(read.map((m) => m.value?.toString())).toEqual(['first', 'a', 'b']);

      // The commit marker takes offset 3; once written, both ends pass it.
      await waitFor('the commit marker', async () => (await topicEnds(kafka, topic))[0].stable === '4' || undefined);
      expect(await topicEnds(kafka, topic)).toEqual([{ partition: 0, low: '0', high: '4', stable: '4' }]);
    } finally {
      await transactional.disconnect();
      await plain.disconnect();
    }
  });
});
