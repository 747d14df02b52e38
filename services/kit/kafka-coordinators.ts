/**
 * Coordinators remembered for transactional producers.
 *
 * kafkajs 2.2.4 (its last release) sends a FindCoordinator request before each step of a
 * transaction: AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit (the group's coordinator)
 * and EndTxn each ask the cluster again, so a relay transaction was 9 requests in series, 4 of
 * them FindCoordinator. The Java producer looks a coordinator up once and again only after an
 * answer that says it moved, or a lost connection (its TransactionManager). This does the same
 * for the clusters of transactional producers, recognized by their first lookup of a
 * transaction coordinator (InitProducerId needs one); consumers and admins ask as before.
 *
 * A remembered coordinator is asked again when:
 * - a transactional request (InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn,
 *   TxnOffsetCommit, EndTxn) failed with anything but CONCURRENT_TRANSACTIONS (the broker still
 *   writes the last transaction's markers: the coordinator is right, and the step is retried
 *   after a few milliseconds, by kafkajs or kafka-concurrent-transactions.ts); kafkajs then
 *   retries the step, which looks the coordinator up anew;
 * - its connection is closed;
 * - it is older than COORDINATOR_MAX_AGE_MS.
 * A failed lookup is not remembered. Measured (bench/profile.js latency, exactly_once, 15-s
 * rows, before and after alternating; docs/benchmarks.md, "What limits each figure"): relay per
 * batch 35-38 -> 23-26 ms; event-to-trigger at 2,000 events/s p50 63-72 -> 42-51 ms, p99
 * 144-232 -> 117-142 ms; at 10,000 events/s p50 101-110 -> 76-83 ms.
 */
import type { Broker } from 'kafkajs';
import { isConcurrentTransactions } from './kafka-concurrent-transactions';
import { wrapBrokerRequests, wrapClusterMethods } from './kafkajs';

/** How long a coordinator is trusted without an error or a reconnect to question it. */
export const COORDINATOR_MAX_AGE_MS = 60_000;

/** FindCoordinator's key types (kafkajs/src/protocol/coordinatorTypes). */
export const GROUP_COORDINATOR = 0;
export const TRANSACTION_COORDINATOR = 1;

/** The broker requests a transactional producer sends to a coordinator. */
export const TRANSACTIONAL_REQUESTS = ['initProducerId', 'addPartitionsToTxn', 'addOffsetsToTxn', 'txnOffsetCommit', 'endTxn'] as const;

/** An error of a transactional request that does not question the coordinator. */
export function keepsCoordinator(error: unknown): boolean {
  return isConcurrentTransactions(error);
}

export interface CoordinatorLookup {
  groupId: string;
  coordinatorType?: number;
}

/** What the cache needs of a broker: kafkajs's Broker has it. */
export interface CoordinatorBroker {
  isConnected(): boolean;
}

interface Entry<B> {
  /** Set once the lookup answered; until then callers share `pending`. */
  broker: B | null;
  pending: Promise<B>;
  at: number;
  generation: number;
}

interface ClusterEntries<B> {
  transactional: boolean;
  entries: Map<string, Entry<B>>;
}

/**
 * The cache itself, per cluster object (kafkajs makes one per producer, consumer and admin, so
 * a producer's cache goes with it). `forget()` questions every remembered coordinator: a
 * transactional request's failure cannot be traced to its cluster, and failures are rare.
 */
export class CoordinatorCache<B extends CoordinatorBroker = CoordinatorBroker> {
  private readonly clusters = new WeakMap<object, ClusterEntries<B>>();
  private generation = 0;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxAgeMs = COORDINATOR_MAX_AGE_MS,
  ) {}

  /** The coordinator for `lookup` in `cluster`: remembered, or found by `find` (kafkajs's own lookup). */
  find(cluster: object, lookup: CoordinatorLookup, find: () => Promise<B>): Promise<B> {
    let state = this.clusters.get(cluster);
    if (state === undefined) {
      state = { transactional: false, entries: new Map() };
      this.clusters.set(cluster, state);
    }
    const type = lookup.coordinatorType ?? GROUP_COORDINATOR;
    if (type === TRANSACTION_COORDINATOR) state.transactional = true;
    if (!state.transactional) return find();
    const key = `${type}:${lookup.groupId}`;
    const entry = state.entries.get(key);
    if (entry !== undefined && this.usable(entry)) return entry.pending;
    const pending = find();
    const fresh: Entry<B> = { broker: null, pending, at: this.now(), generation: this.generation };
    state.entries.set(key, fresh);
    const entries = state.entries;
    pending.then(
      (broker) => {
        fresh.broker = broker;
      },
      () => {
        if (entries.get(key) === fresh) entries.delete(key);
      },
    );
    return pending;
  }

  /** Every coordinator remembered so far is looked up again on its next use. */
  forget(): void {
    this.generation += 1;
  }

  private usable(entry: Entry<B>): boolean {
    if (entry.generation !== this.generation || this.now() - entry.at >= this.maxAgeMs) return false;
    return entry.broker === null || entry.broker.isConnected();
  }
}

/** The process's cache, once installed. */
let installed: CoordinatorCache | null = null;

/**
 * Makes kafkajs's transactional producers remember their coordinators (see above), once per
 * process; the kit's Kafka clients call it. Returns the cache (tests look into it).
 */
export function rememberTransactionCoordinators(): CoordinatorCache {
  if (installed !== null) return installed;
  const cache = new CoordinatorCache();
  installed = cache;
  wrapClusterMethods(['findGroupCoordinator'], (findGroupCoordinator) =>
    function (this: object, ...args: unknown[]) {
      const [lookup] = args as [CoordinatorLookup];
      return cache.find(this, lookup, () => findGroupCoordinator.call(this, lookup) as Promise<Broker>);
    },
  );
  wrapBrokerRequests(TRANSACTIONAL_REQUESTS, (request) =>
    async function (this: Broker, ...args: unknown[]) {
      try {
        return await request.apply(this, args);
      } catch (error) {
        if (!keepsCoordinator(error)) cache.forget();
        throw error;
      }
    },
  );
  return cache;
}
