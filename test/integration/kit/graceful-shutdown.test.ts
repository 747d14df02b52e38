import type { ChildProcess } from 'node:child_process';
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

/** The complete lines of a tap's stdout (a line still arriving is left for later). */
function parse(text: string): TapLine[] {
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
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
  // A paused tap waits for a signal forever: one left by a failed assertion is stopped here.
  const taps: ChildProcess[] = [];
  afterAll(async () => {
    for (const tap of taps) if (tap.exitCode === null && tap.signalCode === null) tap.kill('SIGKILL');
    await producer.disconnect();
  });

  it('commits exactly what it finished, and a restart resumes without loss', async () => {
    // The tap holds its stream once it has written a record (the batch that did it stays
    // uncommitted), so the stop provably lands mid-stream however fast the machine is.
    const args = ['--topic', topic, '--schema', 'BehaviorEvent', '--group', groupId, '--pause-after', '1'];
    const first = spawnNode('services/tools/tap.js', args, { LOG_LEVEL: 'info' });
    taps.push(first);
    const firstOut = collect(first.stdout);
    const firstErr = collect(first.stderr);
    await waitFor('the tap to pause mid-stream', () => {
      if (first.exitCode !== null) throw new Error(`tap exited early (${first.exitCode}): ${firstErr.text()}`);
      return firstErr.text().includes('"msg":"paused"') && parse(firstOut.text()).length > 0;
    });
    const atPause = parse(firstOut.text()).length;
    const committedAtPause = [...(await committedOffsets(groupId, topic)).values()].reduce((sum, o) => sum + Math.max(o, 0), 0);
    expect(atPause).toBeGreaterThan(0);
    expect(atPause).toBeLessThan(TOTAL);
    expect(committedAtPause).toBeLessThan(atPause); // records are written but their batch is not committed yet
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
