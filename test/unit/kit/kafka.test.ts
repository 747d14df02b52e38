import pino from 'pino';
import { isBrokerAway, recordsBehind, whileBrokerAway } from '../../../services/kit/kafka';

describe('isBrokerAway and whileBrokerAway: start-up and rejoin wait for a broker that is away', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9092'), { name: 'KafkaJSConnectionError', code: 'ECONNREFUSED' });
  it('knows a broker that is away, down the cause chain, from a request that is wrong', () => {
    expect(isBrokerAway(refused)).toBe(true);
    expect(isBrokerAway(Object.assign(new Error('Failed to find group coordinator'), { name: 'KafkaJSGroupCoordinatorNotFound' }))).toBe(true);
    expect(isBrokerAway(Object.assign(new Error('retries exceeded'), { name: 'KafkaJSNonRetriableError', cause: refused }))).toBe(true);
    expect(isBrokerAway(Object.assign(new Error('This server does not host this topic-partition'), { name: 'KafkaJSProtocolError', type: 'UNKNOWN_TOPIC_OR_PARTITION' }))).toBe(false);
    expect(isBrokerAway(new TypeError('x is undefined'))).toBe(false);
  });
  it('runs the step again while the broker is away, and gives up with the last error after the timeout', async () => {
    const logger = pino({ level: 'silent' });
    let calls = 0;
    await expect(whileBrokerAway('connect', async () => (calls += 1) < 3 ? Promise.reject(refused) : 'up', { timeoutMs: 60_000, logger })).resolves.toBe('up');
    expect(calls).toBe(3);
    await expect(whileBrokerAway('connect', async () => Promise.reject(refused), { timeoutMs: 0, logger })).rejects.toBe(refused);
    const wrong = new TypeError('bad request');
    await expect(whileBrokerAway('connect', async () => Promise.reject(wrong), { timeoutMs: 60_000, logger })).rejects.toBe(wrong);
  });
});

describe('recordsBehind', () => {
  const ends = [{ partition: 0, high: '10', low: '0' }, { partition: 1, high: '8', low: '5' }, { partition: 2, high: '4', low: '0' }];
  it('sums the log end minus the committed offset per partition, from the log start where none (or -1, or one below it) was committed', () => {
    expect(recordsBehind(ends, [{ partition: 0, offset: '7' }, { partition: 1, offset: '-1' }])).toBe(3 + 3 + 4);
    expect(recordsBehind(ends, [{ partition: 1, offset: '2' }])).toBe(10 + 3 + 4);
    expect(recordsBehind(ends, ends.map((p) => ({ partition: p.partition, offset: p.high })))).toBe(0);
  });
});
