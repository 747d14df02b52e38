import {
  COORDINATOR_MAX_AGE_MS,
  CoordinatorCache,
  GROUP_COORDINATOR,
  keepsCoordinator,
  rememberTransactionCoordinators,
  TRANSACTION_COORDINATOR,
  TRANSACTIONAL_REQUESTS,
} from '../../../services/kit/kafka-coordinators';

class FakeBroker {
  connected = true;
  constructor(readonly nodeId: number) {}
  isConnected(): boolean {
    return this.connected;
  }
}

/** A lookup that answers broker `nodeId`s in turn and counts its calls. */
function lookups(...nodeIds: number[]) {
  const calls: number[] = [];
  let next = 0;
  const find = () => {
    const nodeId = nodeIds[Math.min(next++, nodeIds.length - 1)];
    calls.push(nodeId);
    return Promise.resolve(new FakeBroker(nodeId));
  };
  return { find, calls };
}

const txn = { groupId: 'kairos-trigger-events-3', coordinatorType: TRANSACTION_COORDINATOR };
const group = { groupId: 'kairos-trigger-relay', coordinatorType: GROUP_COORDINATOR };

describe('CoordinatorCache', () => {
  it('asks every time for a cluster that never looked up a transaction coordinator (consumers, admins)', async () => {
    const cache = new CoordinatorCache<FakeBroker>();
    const cluster = {};
    const { find, calls } = lookups(1);
    for (let i = 0; i < 3; i += 1) await cache.find(cluster, group, find);
    await cache.find(cluster, { groupId: 'g' }, find);
    expect(calls).toHaveLength(4);
  });

  it("remembers a transactional producer's coordinators: one lookup per key for many transactions", async () => {
    const cache = new CoordinatorCache<FakeBroker>();
    const cluster = {};
    const { find, calls } = lookups(1, 2);
    const first = await cache.find(cluster, txn, find);
    for (let i = 0; i < 10; i += 1) {
      expect(await cache.find(cluster, txn, find)).toBe(first);
      await cache.find(cluster, group, find);
    }
    expect(calls).toEqual([1, 2]);
    // Another cluster (another producer) has its own.
    await cache.find({}, txn, find);
    expect(calls).toHaveLength(3);
  });

  it('shares one lookup between callers that ask while it is on its way', async () => {
    const cache = new CoordinatorCache<FakeBroker>();
    const cluster = {};
    const { find, calls } = lookups(1);
    const [a, b] = await Promise.all([cache.find(cluster, txn, find), cache.find(cluster, txn, find)]);
    expect(a).toBe(b);
    expect(calls).toHaveLength(1);
  });

  it('asks again after forget(), for a closed connection and past the maximum age', async () => {
    let now = 1_000;
    const cache = new CoordinatorCache<FakeBroker>(() => now);
    const cluster = {};
    const { find, calls } = lookups(1, 2, 3, 4);
    await cache.find(cluster, txn, find);
    cache.forget();
    const second = await cache.find(cluster, txn, find);
    expect(second.nodeId).toBe(2);
    second.connected = false;
    const third = await cache.find(cluster, txn, find);
    expect(third.nodeId).toBe(3);
    now += COORDINATOR_MAX_AGE_MS - 1;
    expect(await cache.find(cluster, txn, find)).toBe(third);
    now += 1;
    expect((await cache.find(cluster, txn, find)).nodeId).toBe(4);
    expect(calls).toEqual([1, 2, 3, 4]);
  });

  it('does not remember a failed lookup', async () => {
    const cache = new CoordinatorCache<FakeBroker>();
    const cluster = {};
    const failing = jest.fn(() => Promise.reject(new Error('COORDINATOR_NOT_AVAILABLE')));
    await expect(cache.find(cluster, txn, failing)).rejects.toThrow('COORDINATOR_NOT_AVAILABLE');
    const { find, calls } = lookups(7);
    expect((await cache.find(cluster, txn, find)).nodeId).toBe(7);
    expect(calls).toEqual([7]);
  });
});

describe('keepsCoordinator', () => {
  it('keeps it only for CONCURRENT_TRANSACTIONS (the markers of the last transaction are on their way)', () => {
    expect(keepsCoordinator({ type: 'CONCURRENT_TRANSACTIONS' })).toBe(true);
    for (const error of [{ type: 'NOT_COORDINATOR' }, { type: 'COORDINATOR_NOT_AVAILABLE' }, { type: 'PRODUCER_FENCED' }, new Error('Connection error'), null, 'x']) {
      expect(keepsCoordinator(error)).toBe(false);
    }
  });
});

describe('rememberTransactionCoordinators (on kafkajs itself)', () => {
  // kafkajs's internals, as the module patches them: this fails when an upgrade moves them.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Cluster = require('kafkajs/src/cluster') as { prototype: Record<string, unknown> };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Broker = require('kafkajs/src/broker') as { prototype: Record<string, (...args: unknown[]) => Promise<unknown>> };

  it('wraps the lookup and the transactional requests that exist in this kafkajs, once', () => {
    const cache = rememberTransactionCoordinators();
    expect(rememberTransactionCoordinators()).toBe(cache);
    expect(typeof Cluster.prototype.findGroupCoordinator).toBe('function');
    for (const name of TRANSACTIONAL_REQUESTS) expect(typeof Broker.prototype[name]).toBe('function');
  });

  it('a failed transactional request makes the next lookup ask the broker again, unless it was CONCURRENT_TRANSACTIONS', async () => {
    const cache = rememberTransactionCoordinators();
    const cluster = {};
    const { find, calls } = lookups(1, 2, 3);
    await cache.find(cluster, txn, find);
    // kafkajs's endTxn starts with this.lookupRequest(...): a broker whose lookup fails as the request would.
    const failingWith = (type: string) => ({
      lookupRequest() {
        throw Object.assign(new Error(type), { type });
      },
    });
    await expect(Broker.prototype.endTxn.call(failingWith('CONCURRENT_TRANSACTIONS'), {})).rejects.toThrow('CONCURRENT_TRANSACTIONS');
    await cache.find(cluster, txn, find);
    expect(calls).toEqual([1]);
    await expect(Broker.prototype.endTxn.call(failingWith('NOT_COORDINATOR'), {})).rejects.toThrow('NOT_COORDINATOR');
    await cache.find(cluster, txn, find);
    expect(calls).toEqual([1, 2]);
  });
});
