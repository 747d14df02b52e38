import {
  CONCURRENT_RETRY,
  isConcurrentTransactions,
  retryConcurrentTransactions,
  retryWhileConcurrent,
  UNRETRIED_STEPS,
  type RetryClock,
} from '../../../services/kit/kafka-concurrent-transactions';

const concurrent = () => Object.assign(new Error('The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing'), { type: 'CONCURRENT_TRANSACTIONS' });
const fenced = () => Object.assign(new Error('Producer attempted an operation with an old epoch'), { type: 'INVALID_PRODUCER_EPOCH' });

/** A clock that moves only when the retry sleeps; it records the sleeps. */
function fakeClock(): RetryClock & { slept: number[] } {
  let now = 1_000;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: (ms) => {
      slept.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
}

/** A request that fails with the given errors in turn, then answers 'ok'. */
function failing(...errors: Array<() => Error>) {
  let calls = 0;
  const request = () => {
    const next = errors[calls];
    calls += 1;
    return next === undefined ? Promise.resolve('ok') : Promise.reject(next());
  };
  return { request, calls: () => calls };
}

describe('isConcurrentTransactions', () => {
  it('is the broker answer CONCURRENT_TRANSACTIONS only', () => {
    expect(isConcurrentTransactions(concurrent())).toBe(true);
    for (const error of [fenced(), { type: 'NOT_COORDINATOR' }, new Error('CONCURRENT_TRANSACTIONS'), null, undefined, 'CONCURRENT_TRANSACTIONS']) {
      expect(isConcurrentTransactions(error)).toBe(false);
    }
  });
});

describe('retryWhileConcurrent', () => {
  it('sends the request again while the coordinator answers CONCURRENT_TRANSACTIONS, backing off 20 ms doubled up to 250 ms', async () => {
    const clock = fakeClock();
    const { request, calls } = failing(concurrent, concurrent, concurrent, concurrent, concurrent, concurrent);
    await expect(retryWhileConcurrent(request, clock)).resolves.toBe('ok');
    expect(calls()).toBe(7);
    expect(clock.slept).toEqual([20, 40, 80, 160, 250, 250]);
  });

  it('throws the first other answer at once: a zombie that waited out the owner\'s commit learns it was fenced', async () => {
    const clock = fakeClock();
    const { request, calls } = failing(concurrent, concurrent, fenced, concurrent);
    await expect(retryWhileConcurrent(request, clock)).rejects.toMatchObject({ type: 'INVALID_PRODUCER_EPOCH' });
    expect(calls()).toBe(3);
    expect(clock.slept).toEqual([20, 40]);
  });

  it('does not retry a request that did not answer CONCURRENT_TRANSACTIONS', async () => {
    const clock = fakeClock();
    const { request, calls } = failing(() => new Error('Connection error'));
    await expect(retryWhileConcurrent(request, clock)).rejects.toThrow('Connection error');
    expect(calls()).toBe(1);
    expect(clock.slept).toEqual([]);
  });

  it('gives up with the last CONCURRENT_TRANSACTIONS after 30 s of them', async () => {
    const clock = fakeClock();
    const { request, calls } = failing(...Array.from({ length: 1_000 }, () => concurrent));
    await expect(retryWhileConcurrent(request, clock)).rejects.toMatchObject({ type: 'CONCURRENT_TRANSACTIONS' });
    const waited = clock.slept.reduce((sum, ms) => sum + ms, 0);
    expect(waited).toBeLessThanOrEqual(CONCURRENT_RETRY.giveUpAfterMs);
    expect(waited).toBeGreaterThan(CONCURRENT_RETRY.giveUpAfterMs - CONCURRENT_RETRY.maxDelayMs);
    expect(calls()).toBe(clock.slept.length + 1);
  });
});

describe('retryConcurrentTransactions (on kafkajs itself)', () => {
  // kafkajs's internals, as the module patches them: this fails when an upgrade moves them.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Broker = require('kafkajs/src/broker') as { prototype: Record<string, (...args: unknown[]) => Promise<unknown>> };

  it("wraps kafkajs's AddOffsetsToTxn and EndTxn once; a wrapped step waits out CONCURRENT_TRANSACTIONS", async () => {
    for (const name of UNRETRIED_STEPS) expect(typeof Broker.prototype[name]).toBe('function');
    retryConcurrentTransactions();
    const wrapped = UNRETRIED_STEPS.map((name) => Broker.prototype[name]);
    retryConcurrentTransactions();
    expect(UNRETRIED_STEPS.map((name) => Broker.prototype[name])).toEqual(wrapped);

    // kafkajs's endTxn starts with this.lookupRequest(...): a broker whose first two requests are answered CONCURRENT_TRANSACTIONS.
    let requests = 0;
    const busyTwice = {
      lookupRequest() {
        requests += 1;
        if (requests <= 2) throw concurrent();
        throw fenced();
      },
    };
    await expect(Broker.prototype.endTxn.call(busyTwice, {})).rejects.toMatchObject({ type: 'INVALID_PRODUCER_EPOCH' });
    expect(requests).toBe(3);
  });
});
