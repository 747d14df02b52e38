/**
 * The tracker's spool on the real Redis: what a drainer publishes, and what it leaves to the
 * request of its own process that is still publishing the event.
 */
import { randomUUID } from 'node:crypto';
import { behaviorEvent, type BehaviorEvent } from '../../../services/core/types';
import { createRedis } from '../../../services/kit/redis';
import { EventSpool } from '../../../services/tracker/spool';
import { silentLogger } from '../../support/pipeline';
import { REDIS_URL } from '../../support/stack';

describe('the tracker spool', () => {
  const redis = createRedis({ REDIS_URL });
  const prefix = `spool-test-${randomUUID().slice(0, 8)}`;
  const spool = new EventSpool(redis, prefix);
  const open = (n: number): BehaviorEvent => behaviorEvent({ event_id: `${prefix}-e${n}`, customer_id: `c-${n}`, type: 'email_open', occurred_at: Date.UTC(2026, 11, 3) });

  afterAll(async () => {
    await redis.del(spool.key);
    redis.disconnect();
  });

  it("leaves an entry alone while this process's request still publishes it, and takes it once that request gave up", async () => {
    let giveUp: () => void = () => undefined;
    const publishing = new Promise<void>((resolve) => (giveUp = resolve));
    expect(await spool.keep(open(1), publishing)).toBe(true);
    expect(await spool.keep(open(2))).toBe(true); // spooled only (no request trying it)
    const published: string[] = [];
    const publish = async (event: BehaviorEvent) => void published.push(event.event_id);
    expect(await spool.drain(publish, 0, silentLogger)).toEqual({ published: 1, dropped: 0 });
    expect(published).toEqual([`${prefix}-e2`]);
    expect(await redis.hkeys(spool.key)).toEqual([`${prefix}-e1`]);
    giveUp(); // handed over (or failed): the drainers' now
    await publishing;
    await new Promise((resolve) => setImmediate(resolve));
    expect(await spool.drain(publish, 0, silentLogger)).toEqual({ published: 1, dropped: 0 });
    expect(published).toEqual([`${prefix}-e2`, `${prefix}-e1`]);
    expect(await redis.hlen(spool.key)).toBe(0);
  });
});
