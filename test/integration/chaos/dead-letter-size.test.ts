/**
 * Dead letters against the broker's size limit, with the segmenter spawned from dist/ (issue 14,
 * found by the hostile records): a record as large as the broker takes, whose copy with the DLQ
 * headers is not, and thousands of small poison records fetched in one batch, whose copies
 * together are over message.max.bytes. Before, either stopped the service (exit 70, the same
 * again after each restart); now the first is dead-lettered without its value and the others in
 * bounded sends, and the service goes on.
 */
import type { ChildProcess } from 'node:child_process';
import { behaviorEvent } from '../../../services/core/types';
import { readSchema, recordTypes, valueSubject } from '../../../services/kit/codec';
import { DLQ_HEADERS, dlqTopic } from '../../../services/kit/dlq';
import { createTestPipeline, type TestPipeline } from '../../support/pipeline';
import { collect, connectedProducer, exited, readAll, spawnNode, waitCaughtUp, waitFor } from '../../support/stack';

const SMALL = 6000;

jest.setTimeout(120_000);

describe('dead letters of records at and over the broker size limit (segmenter from dist/)', () => {
  let pipeline: TestPipeline;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    pipeline = await createTestPipeline('dlqsize', 1);
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    if (child) await exited(child);
    await pipeline?.close();
  });

  it('dead-letters them all and keeps running', async () => {
    const id = await pipeline.codec.register(valueSubject(pipeline.topics.events), readSchema('BehaviorEvent'));
    const types = recordTypes();
    const producer = await connectedProducer();
    let largest: Buffer | undefined;
    try {
      // The largest over-limit event the broker takes alone (its limit is per record batch).
      for (let chars = 1_048_576; largest === undefined; chars -= 32) {
        const value = pipeline.codec.encode(id, types.BehaviorEvent, behaviorEvent({ event_id: 'e-big', customer_id: 'c-big', type: 'page_view', occurred_at: Date.now() - 60_000, category: 'x'.repeat(chars) }));
        largest = await producer.send({ topic: pipeline.topics.events, acks: -1, messages: [{ key: 'c-big', value }] }).then(
          () => value,
          (err: { type?: string }) => {
            if (err.type !== 'MESSAGE_TOO_LARGE') throw err;
            return undefined;
          },
        );
      }
      // Small poison in one producer batch, so the service fetches it in one or two batches.
      await producer.send({ topic: pipeline.topics.events, acks: -1, messages: Array.from({ length: SMALL }, (_, i) => ({ key: `c-${i}`, value: Buffer.from(`\u0001 not avro ${i}`.padEnd(100, '.')) })) });
    } finally {
      await producer.disconnect();
    }

    child = spawnNode('services/segmenter/main.js', [], { ...pipeline.env, HTTP_PORT: '0' });
    const logs = collect(child.stdout);
    const errors = collect(child.stderr);
    const running = () => {
      if (child!.exitCode !== null) throw new Error(`the segmenter exited (${child!.exitCode}): ${logs.text().slice(-1500)} ${errors.text().slice(-500)}`);
      return true;
    };
    await waitFor('the segmenter to commit every record', async () => running() && (await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.events, 1000).then(() => true, () => false)), 90_000);

    const dead = await readAll(dlqTopic(pipeline.topics.events), 60_000);
    expect(dead).toHaveLength(SMALL + 1);
    const big = dead.find((m) => m.key?.toString() === 'c-big');
    expect(big?.value).toBeNull();
    expect(big?.headers?.[DLQ_HEADERS.reason]?.toString()).toBe('over-limit');
    expect(big?.headers?.[DLQ_HEADERS.valueDropped]?.toString()).toMatch(new RegExp(`^${largest!.length} bytes: `));
    expect(dead.filter((m) => m.headers?.[DLQ_HEADERS.reason]?.toString() === 'wire-format' && m.value?.length === 100)).toHaveLength(SMALL);
    expect(logs.text()).toContain('dead letter too large for the DLQ topic; sent without its value');
    console.log(`dead-letter-size: a ${largest!.length}-byte record (the largest the broker took) and ${SMALL} small poison records dead-lettered; the segmenter kept running`);
    running();
  });
});
