/**
 * The tracker's spool: opens and clicks whose event Kafka did not take within the answer's wait
 * (the broker slow or away) are kept in Redis before the answer goes out, and removed once
 * published. A tracker killed meanwhile leaves them there; every instance's drainer publishes
 * entries older than TRACKER_SPOOL_AGE and removes them; the request that spooled one stops
 * retrying it by then (routes.ts), and a drainer leaves alone the entries whose request in its
 * own process is still trying. An event can still be published twice (another instance's
 * drainer taking it while its request's last try is on its way, or a tracker killed after
 * publishing it but before removing it): it carries the same event_id both times, and the
 * consumers drop the second (docs/topics.md).
 */
import type { BehaviorEvent } from '../core/types';
import { isBrokerAway } from '../kit/kafka';
import type { Logger } from '../kit/logger';
import { loadServiceScripts, runScript, type RedisClient } from '../kit/redis';

/** The most events the spool holds; beyond it an event waits in memory only (counted as dropped from the spool). */
export const MAX_SPOOLED_EVENTS = 100_000;
/** TRACKER_SPOOL_AGE's default: a spooled event this old is the drainers' (its request stops retrying it). */
export const DEFAULT_SPOOL_AGE_MS = 30_000;
/** Entries one drain round reads at most. */
const DRAIN_BATCH = 500;

export interface SpooledEvents {
  /**
   * Keeps the event until `done`; false when the spool is full. `publishing`: this process is
   * still trying to publish it until that settles, so its own drainer leaves it alone until then.
   */
  keep(event: BehaviorEvent, publishing?: Promise<unknown>): Promise<boolean>;
  done(eventId: string): Promise<void>;
}

export class EventSpool implements SpooledEvents {
  readonly key: string;
  /** Entries this process's requests are still publishing (at most one per pending request: MAX_PENDING_EVENTS). */
  private readonly publishing = new Set<string>();

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly clock: () => number = Date.now,
    private readonly maxEntries = MAX_SPOOLED_EVENTS,
  ) {
    loadServiceScripts(redis, 'tracker');
    this.key = `{${prefix}:tracker:spool}`;
  }

  async keep(event: BehaviorEvent, publishing?: Promise<unknown>): Promise<boolean> {
    if (publishing !== undefined) {
      const id = event.event_id;
      this.publishing.add(id);
      void publishing.catch(() => undefined).then(() => this.publishing.delete(id));
    }
    const entry = JSON.stringify({ at: this.clock(), event });
    return (await runScript<number>(this.redis, 'spoolEvent', [this.key], [event.event_id, entry, this.maxEntries])) === 1;
  }

  async done(eventId: string): Promise<void> {
    await this.redis.hdel(this.key, eventId);
  }

  /**
   * Publishes the entries kept longer than `olderThanMs` and removes them; stops at the first
   * publish that finds the broker away (the next round tries again). An entry that is not a
   * spooled event, or that Kafka refuses for good, is removed and logged.
   */
  async drain(publish: (event: BehaviorEvent) => Promise<void>, olderThanMs: number, logger: Logger): Promise<{ published: number; dropped: number }> {
    const counts = { published: 0, dropped: 0 };
    const now = this.clock();
    let cursor = '0';
    let seen = 0;
    do {
      const [next, flat] = await this.redis.hscan(this.key, cursor, 'COUNT', 100);
      cursor = next;
      for (let i = 0; i + 1 < flat.length && seen < DRAIN_BATCH; i += 2, seen += 1) {
        const id = flat[i] as string;
        const entry = parseEntry(flat[i + 1] as string);
        if (entry === null) {
          logger.warn({ eventId: id.slice(0, 80) }, 'tracker spool entry unreadable; removed');
          await this.done(id);
          counts.dropped += 1;
          continue;
        }
        if (now - entry.at < olderThanMs || this.publishing.has(id)) continue;
        try {
          await publish(entry.event);
        } catch (error) {
          if (isBrokerAway(error)) return counts;
          logger.error({ err: error, eventId: id, type: entry.event.type }, 'tracker event lost: Kafka refused the spooled event');
          await this.done(id);
          counts.dropped += 1;
          continue;
        }
        await this.done(id);
        counts.published += 1;
      }
    } while (cursor !== '0' && seen < DRAIN_BATCH);
    return counts;
  }
}

function parseEntry(text: string): { at: number; event: BehaviorEvent } | null {
  try {
    const value = JSON.parse(text) as { at?: unknown; event?: unknown };
    if (typeof value.at !== 'number' || typeof value.event !== 'object' || value.event === null) return null;
    const event = value.event as BehaviorEvent;
    return typeof event.event_id === 'string' && typeof event.customer_id === 'string' && typeof event.type === 'string' ? { at: value.at, event } : null;
  } catch {
    return null;
  }
}
