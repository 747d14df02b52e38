/**
 * What the runner does with a handler's outcome, with stub collaborators (no broker): commit
 * metadata goes with the commit, a stopped partition is paused and not committed, a batch of
 * poison alone still reaches the handler (so a fence moves past it), and errors are classified
 * into retry or stop.
 */
import pino from 'pino';
import type { Batch, EachBatchPayload, KafkaMessage, Producer } from 'kafkajs';
import type { Type } from 'avsc';
import type { AvroCodec } from '../../../services/kit/codec';
import { ConsumerRunner, isRetriable, membershipError, type BatchHandler, type AnyTopicBinding } from '../../../services/kit/consumer-runner';
import { KairosError } from '../../../services/kit/errors';
import { StateLogMismatchError } from '../../../services/kit/log-binding';
import { PoisonRecordError } from '../../../services/kit/poison';
import { stubConsumer } from '../../support/stub-consumer';
import { turnsUntil } from '../../support/turns';

const TOPIC = 'behavior.events';
const jsonCodec = {
  decodeKnown: (buffer: Buffer) => {
    const text = buffer.toString('utf8');
    if (text === 'garbage') throw new PoisonRecordError('undecodable', 'not json');
    return JSON.parse(text);
  },
  learnWriter: async () => undefined,
} as unknown as AvroCodec;

async function harness(handler: BatchHandler, commitOffsets?: (offsets: Array<{ partition: number; offset: string }>) => Promise<void>, logLines?: string[]) {
  const { consumer, commits, seeks, eachBatch, join, endEmptyBatch } = stubConsumer();
  if (commitOffsets) consumer.commitOffsets = commitOffsets;
  const deadLettered: string[] = [];
  const producer = {
    send: async ({ messages }: { messages: Array<{ value: Buffer | null }> }) => void deadLettered.push(...messages.map((m) => String(m.value))),
  } as unknown as Producer;
  const binding = { topic: TOPIC, type: {} as Type } as AnyTopicBinding;
  const runner = new ConsumerRunner({
    consumer, producer, codec: jsonCodec, logger: logLines ? pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) }) : pino({ level: 'silent' }),
    instrumentation: { batchProcessed: () => undefined, deadLettered: () => undefined },
    service: 'test', groupId: 'g', bindings: [binding], handler, commitPastMarkers: true,
  });
  await runner.start();
  let paused = 0;
  const batch = async (values: string[], partition = 2) => {
    const messages: KafkaMessage[] = values.map((value, i) => ({
      key: Buffer.from('c'), value: Buffer.from(value), offset: String(i), timestamp: '0', attributes: 0, headers: {},
    }));
    const last = String(values.length - 1);
    await eachBatch({
      batch: { topic: TOPIC, partition, messages, isEmpty: () => false, lastOffset: () => last, offsetLag: () => '0' } as unknown as Batch,
      heartbeat: async () => undefined,
      resolveOffset: () => undefined,
      isRunning: () => true,
      isStale: () => false,
      pause: () => {
        paused += 1;
        return () => undefined;
      },
    } as unknown as EachBatchPayload);
  };
  return { runner, commits, seeks, deadLettered, batch, join, endEmptyBatch, paused: () => paused };
}

describe('ConsumerRunner: batch outcomes', () => {
  it('commits the batch with the metadata the handler returns', async () => {
    const h = await harness(async () => ({ commitMetadata: 'kairos-state:abc' }));
    await h.batch(['{}', '{}']);
    expect(h.commits).toEqual([expect.objectContaining({ offset: '2', metadata: 'kairos-state:abc' })]);
  });

  it('returns to kafkajs (which then fetches again) without waiting for the commit; stop() waits for it before leaving the group', async () => {
    let land: () => void = () => undefined;
    const events: string[] = [];
    const h = await harness(async () => undefined, () => new Promise<void>((resolve) => (land = () => (events.push('committed'), resolve()))));
    await h.batch(['{}']);
    events.push('batch returned');
    const consumer = (h.runner as unknown as { options: { consumer: { disconnect: () => Promise<void> } } }).options.consumer;
    consumer.disconnect = async () => void events.push('disconnected');
    const stopped = h.runner.stop();
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['batch returned']);
    land();
    await stopped;
    expect(events).toEqual(['batch returned', 'committed', 'disconnected']);
  });

  it("sends the commits of batches that end while a commit is in flight in one request, one entry per partition", async () => {
    const requests: Array<{ offsets: string[]; land: () => void }> = [];
    const h = await harness(async () => undefined, (offsets) => new Promise<void>((land) => void requests.push({ offsets: offsets.map((o) => `${o.partition}@${o.offset}`), land })));
    await h.batch(['{}'], 0);
    await h.batch(['{}', '{}'], 1);
    await h.batch(['{}', '{}', '{}'], 3);
    await h.batch(['{}', '{}', '{}', '{}'], 1);
    expect(requests.map((r) => r.offsets)).toEqual([['0@1']]);
    requests[0].land();
    await turnsUntil(() => requests.length === 2);
    // Partition 1's second commit waits for its first (a partition's commits land in order).
    expect(requests.map((r) => r.offsets)).toEqual([['0@1'], ['1@2', '3@3']]);
    requests[1].land();
    await turnsUntil(() => requests.length === 3);
    expect(requests.map((r) => r.offsets)).toEqual([['0@1'], ['1@2', '3@3'], ['1@4']]);
    requests[2].land();
    await h.runner.stop();
  });

  it('tries a failed commit again a second later, so the last batch of a partition that then stays idle is committed too', async () => {
    const landed: string[] = [];
    let calls = 0;
    const h = await harness(async () => undefined, async () => {
      calls += 1;
      if (calls === 1) throw Object.assign(new Error('Request timed out'), { name: 'KafkaJSRequestTimeoutError', retriable: true });
      landed.push(`call ${calls}`);
    });
    await h.batch(['{}', '{}']);
    const until = Date.now() + 10_000;
    while (landed.length === 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(landed).toEqual(['call 2']);
    await h.runner.stop();
  });

  it.each([
    ['kept by this member: the retry lands', [2, 5], 'landed'],
    ['given to another member: no retry, the new owner commits it', [5], 'left'],
  ])('a failed commit, then a rebalance, the partition %s', async (_case, after, expected) => {
    const landed: string[] = [];
    const lines: string[] = [];
    let calls = 0;
    const h = await harness(async () => undefined, async (offsets) => {
      calls += 1;
      if (calls === 1) throw Object.assign(new Error('The coordinator is not aware of this member'), { type: 'UNKNOWN_MEMBER_ID', retriable: false });
      landed.push(...offsets.map((o) => `${o.partition}@${o.offset}`));
    }, lines);
    h.join({ [TOPIC]: [2, 5] });
    await h.batch(['{}', '{}'], 2);
    h.join({ [TOPIC]: after as number[] });
    const left = () => lines.some((line) => line.includes('its offset commit is left to the new owner'));
    const until = Date.now() + 10_000;
    while (landed.length === 0 && !left() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    expect({ landed, left: left() }).toEqual(expected === 'landed' ? { landed: ['2@2'], left: false } : { landed: [], left: true });
    await h.runner.stop();
  });

  it("drops a batch's commit still waiting behind the partition's last one when a rebalance gave the partition away meanwhile", async () => {
    const requests: Array<{ offsets: string[]; land: () => void }> = [];
    const h = await harness(async () => undefined, (offsets) => new Promise<void>((land) => void requests.push({ offsets: offsets.map((o) => `${o.partition}@${o.offset}`), land })));
    h.join({ [TOPIC]: [2, 5] });
    await h.batch(['{}'], 2);
    await h.batch(['{}', '{}'], 2); // waits for the first commit of partition 2
    h.join({ [TOPIC]: [5] });
    requests[0]?.land();
    await h.batch(['{}', '{}', '{}'], 5);
    await turnsUntil(() => requests.length === 2);
    expect(requests.map((r) => r.offsets)).toEqual([['2@1'], ['5@3']]);
    requests[1]?.land();
    await h.runner.stop();
  });

  it.each([
    ['kept by this member: handled and committed', [2, 5], { handled: 1, commits: ['2@1', '2@8'] }],
    ['given to another member meanwhile: neither handled nor committed', [5], { handled: 0, commits: ['2@1'] }],
  ])('a commit past transaction markers that waits behind the last batch, then a rebalance, the partition %s', async (_case, after, expected) => {
    const committed: string[] = [];
    let landFirst: () => void = () => undefined;
    let handled = 0;
    const h = await harness(async (records) => void (records.length === 0 && (handled += 1)), (offsets) => {
      committed.push(...offsets.map((o) => `${o.partition}@${o.offset}`));
      // The batch's commit is held, so the one past the markers waits behind it.
      return committed.length === 1 ? new Promise<void>((land) => (landFirst = land)) : Promise.resolve();
    });
    h.join({ [TOPIC]: [2, 5] });
    await h.batch(['{}'], 2);
    h.endEmptyBatch(TOPIC, 2, '7');
    h.join({ [TOPIC]: after as number[] });
    landFirst();
    await h.runner.stop(); // waits for every commit step of the partition
    expect({ handled, commits: committed }).toEqual(expected);
  });

  it("leaves a handler's early commit (the log binding's) undone once a rebalance during the batch gave the partition away", async () => {
    const lines: string[] = [];
    let rebalance: () => void = () => undefined;
    const h = await harness(async (_records, context) => {
      rebalance();
      await context.commit('0', 'kairos-state:abc');
      return { commitMetadata: 'kairos-state:abc' };
    }, undefined, lines);
    rebalance = () => h.join({ [TOPIC]: [5] });
    h.join({ [TOPIC]: [2, 5] });
    await h.batch(['{}'], 2);
    await h.runner.stop();
    expect(h.commits).toEqual([]);
    expect(lines.filter((line) => line.includes('its offset commit is left to the new owner'))).toHaveLength(2);
  });

  it('pauses a partition whose state does not match its log, commits nothing and reports it as stopped', async () => {
    const h = await harness(async () => {
      throw new StateLogMismatchError(TOPIC, 2, 'the topic was recreated');
    });
    await h.batch(['{}']);
    expect(h.commits).toEqual([]);
    expect(h.paused()).toBe(1);
    expect([...h.runner.stopped()]).toEqual([[`${TOPIC}:2`, 'the topic was recreated']]);
  });

  it('hands a batch of poison alone to the handler too (empty), so a fence can move past it', async () => {
    const seen: number[] = [];
    const h = await harness(async (records) => void seen.push(records.length));
    await h.batch(['garbage', 'garbage']);
    expect(seen).toEqual([0]);
    expect(h.commits.map((c) => c.offset)).toEqual(['2']);
  });

  it('rethrows a retriable error as is (kafkajs retries), and turns an unexpected one into a non-retriable stop', async () => {
    const lost = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    const retry = await harness(async () => {
      throw lost;
    });
    await expect(retry.batch(['{}'])).rejects.toBe(lost);
    const bug = await harness(async () => {
      throw new TypeError('undefined is not a function');
    });
    const failure = bug.batch(['{}']);
    await expect(failure).rejects.toBeInstanceOf(KairosError);
    await expect(failure).rejects.toMatchObject({ retriable: false, message: expect.stringMatching(/unexpected error: undefined is not a function/) });
  });
});

describe('isRetriable', () => {
  it.each([
    [new KairosError('x', { retriable: true }), true],
    [new KairosError('x'), false],
    [Object.assign(new Error('Connection is closed.'), {}), true],
    [Object.assign(new Error('x'), { name: 'MaxRetriesPerRequestError' }), true],
    [Object.assign(new Error('LOADING Redis is loading the dataset in memory'), {}), true],
    [Object.assign(new Error('x'), { retriable: true, name: 'KafkaJSConnectionError' }), true],
    [new Error('ERR Error running script: attempt to index a nil value'), false],
    [new TypeError('boom'), false],
    [Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' }), true],
  ])('%s -> %s', (error, expected) => {
    expect(isRetriable(error)).toBe(expected);
  });

});

describe('ConsumerRunner: what kafkajs is handed back', () => {
  it('hands kafkajs a group-membership answer as it is, from the handler or (with the next batch) the commit, so it rejoins instead of stopping', async () => {
    // After a broker outage longer than the session: the coordinator no longer knows the member.
    const unknownMember = Object.assign(new Error('The coordinator is not aware of this member'), { name: 'KafkaJSProtocolError', type: 'UNKNOWN_MEMBER_ID', retriable: false });
    const inHandler = await harness(async () => {
      throw new KairosError('heartbeat failed', { retriable: false, cause: unknownMember });
    });
    await expect(inHandler.batch(['{}'])).rejects.toBe(unknownMember);
    const rebalancing = Object.assign(new Error('The group is rebalancing'), { type: 'REBALANCE_IN_PROGRESS', retriable: false });
    const inCommit = await harness(async () => undefined, async () => {
      throw rebalancing;
    });
    // The batch returns without waiting for its commit; the commit's answer comes with the next batch, once.
    await inCommit.batch(['{}']);
    await new Promise((resolve) => setImmediate(resolve)); // the commit (promise callbacks only) has failed by then
    await expect(inCommit.batch(['{}'])).rejects.toBe(rebalancing);
    await expect(inCommit.batch(['{}'])).resolves.toBeUndefined();
    expect(membershipError(new Error('plain'))).toBeNull();
  });

  it('a handler holding records (readAgainFrom): commits up to them, reads the partition again from there, dead-letters only what it took', async () => {
    const h = await harness(async () => ({ readAgainFrom: '2', commitMetadata: 'kairos-state:abc' }));
    await h.batch(['garbage', '{}', 'garbage', '{}']);
    expect(h.deadLettered).toEqual(['garbage']); // offset 0; offset 2 is read again
    expect(h.commits).toEqual([expect.objectContaining({ partition: 2, offset: '2', metadata: 'kairos-state:abc' })]);
    expect(h.seeks).toEqual([{ topic: TOPIC, partition: 2, offset: '2' }]);
  });
});

describe('ConsumerRunner.start', () => {
  it('waits while the broker goes away between the connect and the subscription (a restart during an outage), instead of failing', async () => {
    const { consumer } = stubConsumer();
    let subscribes = 0;
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9092'), { name: 'KafkaJSConnectionError', code: 'ECONNREFUSED' });
    consumer.subscribe = async () => {
      subscribes += 1;
      if (subscribes < 3) throw Object.assign(new Error('retries exceeded'), { name: 'KafkaJSNumberOfRetriesExceeded', cause: refused });
    };
    const runner = new ConsumerRunner({
      consumer, producer: {} as Producer, codec: jsonCodec, logger: pino({ level: 'silent' }),
      instrumentation: { batchProcessed: () => undefined, deadLettered: () => undefined },
      service: 'test', groupId: 'g', bindings: [{ topic: TOPIC, type: {} as Type } as AnyTopicBinding], handler: async () => undefined,
    });
    await runner.start();
    expect(subscribes).toBe(3);
  });
});
