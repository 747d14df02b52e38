import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { AvroCodec, recordTypes } from '../../../services/kit/codec';
import { behaviorEvent } from '../../../services/core/types';
import {
  collect,
  committedOffsets,
  connectedProducer,
  createTopics,
  exited,
  randomTopic,
  registerValueSchema,
  REGISTRY_URL,
  spawnNode,
  waitFor,
} from '../../support/stack';

const types = recordTypes();
const TOTAL = 20_000;
const PARTITIONS = 6;

interface TapLine {
  partition: number;
  offset: string;
  key: string;
  value: { event_id: string };
}

function parse(text: string): TapLine[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as TapLine);
}

describe('a consumer stopped with SIGTERM mid-stream', () => {
  const topic = randomTopic('sigterm');
  const groupId = `test-sigterm-${randomUUID()}`;
  let producer: Producer;

  beforeAll(async () => {
    await createTopics([topic], PARTITIONS);
    producer = await connectedProducer();
    const codec = AvroCodec.connect(REGISTRY_URL);
    const id = await registerValueSchema(codec, topic, 'BehaviorEvent');
    const messages = Array.from({ length: TOTAL }, (_, n) => {
      const customer = `c-${n % 500}`;
      const event = behaviorEvent({ event_id: `e-${n}`, customer_id: customer, type: 'page_view', occurred_at: 1795861190000 + n });
      return { key: customer, value: codec.encode(id, types.BehaviorEvent, event) };
    });
    for (let i = 0; i < messages.length; i += 2000) await producer.send({ topic, messages: messages.slice(i, i + 2000) });
  });
  afterAll(async () => producer.disconnect());

  it('commits exactly what it finished, and a restart resumes without loss', async () => {
    // A slow handler (200 ms a batch), so the stop lands in the middle of the stream.
    const args = ['--topic', topic, '--schema', 'BehaviorEvent', '--group', groupId, '--batch-delay-ms', '200'];
    const first = spawnNode('services/tools/tap.js', args);
    const firstOut = collect(first.stdout);
    const firstErr = collect(first.stderr);
    await waitFor('the first records on stdout', () => {
      if (first.exitCode !== null) throw new Error(`tap exited early (${first.exitCode}): ${firstErr.text()}`);
      return firstOut.text().length > 0;
    });
    first.kill('SIGTERM');
    const firstExit = await exited(first);
    expect({ ...firstExit, stderr: firstErr.text() }).toEqual({ code: 0, signal: null, stderr: expect.any(String) });

    const before = parse(firstOut.text());
    expect(before.length).toBeGreaterThan(0);
    expect(before.length).toBeLessThan(TOTAL); // it really stopped mid-stream

    // What was committed is exactly what was written: per partition, offsets 0..committed-1.
    const committed = await committedOffsets(groupId, topic);
    for (let partition = 0; partition < PARTITIONS; partition += 1) {
      const done = before.filter((l) => l.partition === partition).map((l) => Number(l.offset)).sort((a, b) => a - b);
      const upTo = Math.max(committed.get(partition) ?? -1, 0);
      expect({ partition, offsets: done.length, last: done.at(-1) ?? -1 }).toEqual({ partition, offsets: upTo, last: upTo - 1 });
    }

    const second = spawnNode('services/tools/tap.js', ['--topic', topic, '--schema', 'BehaviorEvent', '--group', groupId]);
    const secondOut = collect(second.stdout);
    try {
      await waitFor(
        'the rest of the stream after the restart',
        () => before.length + parse(secondOut.text()).length >= TOTAL,
        60_000,
      );
    } finally {
      second.kill('SIGTERM');
      await exited(second);
    }
    const after = parse(secondOut.text());
    const all = [...before, ...after].map((l) => l.value.event_id);
    expect(new Set(all).size).toBe(TOTAL); // nothing lost
    expect(all.length).toBe(TOTAL); // nothing processed twice
  });
});
