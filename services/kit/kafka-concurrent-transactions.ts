/**
 * CONCURRENT_TRANSACTIONS waited out on AddOffsetsToTxn and EndTxn too, as the Java producer
 * does.
 *
 * A transaction coordinator answers CONCURRENT_TRANSACTIONS while it still completes a
 * transaction of the same transactionalId (it writes the markers of a commit or an abort after
 * answering EndTxn). Kafka 4.1 answers it even to a producer fenced since, before it checks the
 * epoch. The Java producer re-sends the request after a back-off (its TransactionManager's
 * handlers of these two re-enqueue it). kafkajs 2.2.4 retries it only for InitProducerId and
 * AddPartitionsToTxn; AddOffsetsToTxn and EndTxn throw it at once.
 *
 * So a zombie relay (see outbox-relay.ts) that resumed while the new owner's commit was being
 * completed failed with CONCURRENT_TRANSACTIONS instead of "fenced". Its checkpoint check
 * could not tell: the owner's first commit carried the same checkpoint as the zombie's attempt,
 * and the owner's later one was not yet visible. So it retried with a fresh producer and fenced
 * the owner back (seen in CI: the zombie test of test/integration/kit/outbox-relay.test.ts
 * failed 1 run in 30 here). That test now resumes the zombie as the owner's commit is answered:
 * its AddOffsetsToTxn met CONCURRENT_TRANSACTIONS in 57 of 70 runs.
 *
 * With this retry, the zombie's next try gets the fenced answer once the coordinator is done.
 * (That was the relay with a transactional producer per partition. Since 2026-12-06 a relay has
 * one producer, and a new owner fences the old one's through the outbox's owner record, which
 * also tells a zombie it was taken over; the retry still gives the broker's own answer first.)
 * A live producer's steps do not meet it: its AddPartitionsToTxn, which kafkajs retries,
 * already waited for the last transaction (counted: none in the 14,242 transactions of a 20-s
 * latency row at 2,000 events/s, bench/profile.js latency, nor in the 94 of a 200,000-event
 * backlog). Since a transaction's checkpoint goes out beside its records (outbox-relay.ts,
 * commitTogether), AddOffsetsToTxn can be a transaction's first request to the coordinator, and
 * meets it as often as AddPartitionsToTxn did: counted over one `node dist/bench/relay.js` each
 * (about 115 transactions), 4 AddOffsetsToTxn and 3 AddPartitionsToTxn answered
 * CONCURRENT_TRANSACTIONS, against 6 AddPartitionsToTxn with the steps in series.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Broker } from 'kafkajs';
import { wrapBrokerRequests } from './kafkajs';

/** The steps kafkajs sends once: retried here on CONCURRENT_TRANSACTIONS. */
export const UNRETRIED_STEPS = ['addOffsetsToTxn', 'endTxn'] as const;

/**
 * The back-off: 20 ms first (as TRANSACTIONAL_RETRY, the Java producer's for this answer),
 * doubled up to 250 ms. After 30 s of such answers the last one is thrown (the relay then
 * retries with its producer initialized again).
 */
export const CONCURRENT_RETRY = { initialMs: 20, maxDelayMs: 250, giveUpAfterMs: 30_000 } as const;

/** The coordinator still completes an earlier transaction of the same transactionalId. */
export function isConcurrentTransactions(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { type?: unknown }).type === 'CONCURRENT_TRANSACTIONS';
}

export interface RetryClock {
  now(): number;
  sleep(ms: number): Promise<unknown>;
}

const realClock: RetryClock = { now: Date.now, sleep };

/** `request` again after a back-off while it fails with CONCURRENT_TRANSACTIONS, within `limits.giveUpAfterMs`. */
export async function retryWhileConcurrent<T>(request: () => Promise<T>, clock: RetryClock = realClock, limits = CONCURRENT_RETRY): Promise<T> {
  const start = clock.now();
  for (let delay: number = limits.initialMs; ; delay = Math.min(delay * 2, limits.maxDelayMs)) {
    try {
      return await request();
    } catch (error) {
      if (!isConcurrentTransactions(error) || clock.now() + delay - start > limits.giveUpAfterMs) throw error;
    }
    await clock.sleep(delay);
  }
}

let installed = false;

/** Makes kafkajs retry AddOffsetsToTxn and EndTxn on CONCURRENT_TRANSACTIONS (see above), once per process. */
export function retryConcurrentTransactions(): void {
  if (installed) return;
  installed = true;
  wrapBrokerRequests(UNRETRIED_STEPS, (request) =>
    function (this: Broker, ...args: unknown[]) {
      return retryWhileConcurrent(() => request.apply(this, args));
    },
  );
}
