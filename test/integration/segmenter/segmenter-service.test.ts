import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../services/kit/config';
import type { RunningService } from '../../../services/kit/partition-service';
import { segmenterShape, startSegmenter } from '../../../services/segmenter/main';
import { behaviorEvent, customerProfile, type SegmentChange, type TriggerFired } from '../../../services/core/types';
import { createTestPipeline, silentLogger, type TestPipeline } from '../../support/pipeline';
import { collect, exited, spawnNode, waitCaughtUp, waitFor, withAdmin } from '../../support/stack';

const DAY = 24 * 3600_000;
const T0 = Date.parse('2026-01-05T12:00:00Z');
const PARTITIONS = 3;

describe('the segmenter against the real stack (injected clock)', () => {
  let pipeline: TestPipeline;
  let service: RunningService;
  let now = T0;
  const config = () => loadConfig(segmenterShape, { ...pipeline.env, TIMER_INTERVAL_MS: '100' });

  beforeAll(async () => {
    pipeline = await createTestPipeline('segmenter', PARTITIONS);
    service = await startSegmenter(config(), { clock: () => now, logger: silentLogger });
    await waitFor('the segmenter to join its group', () => service.runner.isReady());
  });
  afterAll(async () => {
    await service?.stop();
    await pipeline?.close();
  });

  let n = 0;
  const event = (customer: string, type: string, extra: Partial<Parameters<typeof behaviorEvent>[0]> = {}) =>
    behaviorEvent({ event_id: `${customer}-${type}-${(n += 1)}`, customer_id: customer, type, occurred_at: now, ...extra });

  async function settle(): Promise<void> {
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.events);
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.profiles);
    for (let p = 0; p < PARTITIONS; p += 1) await service.processor.fireDue(p);
  }
  /** Moves the clock to `time`, then produces the events `make` builds (stamped with the new time). */
  async function at(time: number, make: () => ReturnType<typeof event>[] = () => []): Promise<void> {
    now = time;
    const events = make();
    if (events.length > 0) await pipeline.produceEvents(events);
    await settle();
  }
  async function changesOf(customer: string): Promise<Array<[string, string]>> {
    const all = await pipeline.readAll<SegmentChange>(pipeline.topics.segmentChanges, 'SegmentChange');
    return all.filter((c) => c.customer_id === customer).map((c) => [c.segment, c.change]);
  }
  const api = async (path: string) => {
    const response = await fetch(`http://127.0.0.1:${service.http.port}${path}`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('enters and exits every shipped segment exactly once, through events and through time alone', async () => {
    const c = 'journey';
    const buy = (cents: number) => event(c, 'purchase', { value_cents: cents, currency: 'EUR', order_id: `o-${n}` });
    await at(T0, () => [buy(20000)]);
    expect(await changesOf(c)).toEqual([['new_customer', 'entered']]);
    await at(T0 + DAY, () => [buy(20000)]);
    await at(T0 + 2 * DAY, () => [buy(20000)]);
    expect((await changesOf(c)).slice(1).sort()).toEqual([['big_spender', 'entered'], ['frequent_buyer', 'entered']]);
    await at(T0 + 3 * DAY, () => [event(c, 'email_open', { campaign_id: 'c1', message_id: 'm1' })]);
    expect((await changesOf(c)).slice(3).sort()).toEqual([['engaged', 'entered'], ['high_value_engaged', 'entered']]);
    expect((await api(`/customers/${c}/segments`)).body.segments).toEqual(['big_spender', 'engaged', 'frequent_buyer', 'high_value_engaged', 'new_customer']);

    // Time alone: 30 days after the first purchase new_customer ends; 30 days after the open, engaged.
    await at(T0 + 30 * DAY + 1);
    expect((await changesOf(c)).slice(5)).toEqual([['new_customer', 'exited']]);
    await at(T0 + 3 * DAY + 30 * DAY - 1); // 1 ms before the open is 30 days old: still engaged
    expect((await changesOf(c)).slice(6)).toEqual([]);
    await at(T0 + 3 * DAY + 30 * DAY + 1);
    expect((await changesOf(c)).slice(6).sort()).toEqual([['engaged', 'exited'], ['high_value_engaged', 'exited']]);

    // 90 days after the first of the three purchases, no longer frequent; after the last, lapsed.
    await at(T0 + 90 * DAY + 1);
    expect((await changesOf(c)).slice(8)).toEqual([['frequent_buyer', 'exited']]);
    await at(T0 + 2 * DAY + 90 * DAY + 1);
    expect((await changesOf(c)).slice(9)).toEqual([['lapsed_buyer', 'entered']]);
    // A new purchase (an event) ends lapsed_buyer.
    await at(T0 + 100 * DAY, () => [buy(100)]);
    expect((await changesOf(c)).slice(10)).toEqual([['lapsed_buyer', 'exited']]);
    // 90 days after that purchase the customer has lapsed again (a second entry, by time).
    await at(T0 + 190 * DAY + 1);
    expect((await changesOf(c)).slice(11)).toEqual([['lapsed_buyer', 'entered']]);
    // Once the first big purchase leaves the 365-day sum, 40000 < 50000. Sums use daily (UTC)
    // buckets: the purchase counts until the last millisecond of its day is 365 days old.
    const endOfFirstDay = Date.parse('2026-01-06T00:00:00Z');
    await at(endOfFirstDay + 365 * DAY - 1);
    expect((await changesOf(c)).slice(12)).toEqual([]);
    await at(endOfFirstDay + 365 * DAY);
    expect((await changesOf(c)).slice(12)).toEqual([['big_spender', 'exited']]);
    const all = await changesOf(c);
    for (const segment of ['frequent_buyer', 'engaged', 'high_value_engaged', 'new_customer', 'lapsed_buyer', 'big_spender']) {
      const entered = all.filter(([s, k]) => s === segment && k === 'entered').length;
      const exitedCount = all.filter(([s, k]) => s === segment && k === 'exited').length;
      expect({ segment, entered, exited: exitedCount }).toEqual({ segment, entered: segment === 'lapsed_buyer' ? 2 : 1, exited: 1 });
    }

    const triggers = (await pipeline.readAll<TriggerFired>(pipeline.topics.triggers, 'TriggerFired')).filter((t) => t.customer_id === c);
    expect(triggers.map((t) => t.rule)).toEqual(['segment:high_value_engaged']);
  });

  it('answers segment sizes and pages of members', async () => {
    now = T0 + 400 * DAY;
    const customers = Array.from({ length: 25 }, (_, i) => `member-${i}`);
    await at(now, () => customers.map((c) => event(c, 'email_click', { campaign_id: 'c', message_id: 'm' })));
    expect((await api('/segments/engaged')).body).toEqual(expect.objectContaining({ name: 'engaged', size: 25 }));
    const seen: string[] = [];
    // The first page has no cursor; later ones pass back next_cursor as given (it is opaque).
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? 'limit=7' : `limit=7&cursor=${encodeURIComponent(cursor)}`;
      const page: { body: Record<string, unknown> } = await api(`/segments/engaged/members?${query}`);
      seen.push(...(page.body.members as string[]));
      cursor = page.body.next_cursor as string | null;
    } while (cursor !== null);
    expect(new Set(seen)).toEqual(new Set(customers));
    expect((await api('/segments/nope')).status).toBe(404);
  });

  it('erasure (a profile tombstone) emits exits and leaves no key of the customer in Redis', async () => {
    const c = 'erase-me';
    await pipeline.produceProfiles([customerProfile({ customer_id: c, updated_at: now, email: 'someone@example.com', consent_email: true })]);
    await at(now, () => [event(c, 'email_open', { campaign_id: 'c', message_id: 'm' })]);
    expect((await api(`/customers/${c}/segments`)).body.segments).toEqual(['engaged']);
    expect((await pipeline.redisKeys()).some((k) => k.endsWith(`:c:${c}`))).toBe(true);

    await pipeline.produceProfiles([{ customer_id: c, tombstone: true }]);
    await settle();
    expect(await changesOf(c)).toEqual([['engaged', 'entered'], ['engaged', 'exited']]);
    const redis = service.parts.redis;
    const leftovers: string[] = [];
    for (const key of await pipeline.redisKeys()) {
      const type = await redis.type(key);
      if (key.includes(c)) leftovers.push(key);
      if (type === 'set' && (await redis.sismember(key, c))) leftovers.push(`${key} (member)`);
      if (type === 'zset' && (await redis.zscore(key, c)) !== null) leftovers.push(`${key} (timer)`);
      if (type === 'string' && (await redis.get(key))?.includes(c)) leftovers.push(`${key} (value)`);
      if (type === 'list' && (await redis.lrange(key, 0, -1)).some((v) => v.includes(c))) leftovers.push(`${key} (outbox)`);
    }
    expect(leftovers).toEqual([]);
  });

  it('replaying the same offsets (group reset) changes no state and emits no second SegmentChange', async () => {
    const changesBefore = await pipeline.readAll<SegmentChange>(pipeline.topics.segmentChanges, 'SegmentChange');
    const stateOf = async () => {
      const out: Record<string, string | null> = {};
      for (const key of (await pipeline.redisKeys()).sort()) if (key.includes(':c:')) out[key] = (await service.parts.redis.getBuffer(key))?.toString('hex') ?? null; // binary states
      return out;
    };
    const before = await stateOf();
    await service.stop();
    for (const topic of [pipeline.topics.events, pipeline.topics.profiles]) {
      await withAdmin((admin) => admin.resetOffsets({ groupId: pipeline.env.GROUP_ID, topic, earliest: true }));
    }
    service = await startSegmenter(config(), { clock: () => now, logger: silentLogger });
    await settle();
    expect(await stateOf()).toEqual(before);
    expect(await pipeline.readAll<SegmentChange>(pipeline.topics.segmentChanges, 'SegmentChange')).toHaveLength(changesBefore.length);
    const duplicates = (await service.parts.metrics.eventsIgnored.get()).values.filter((v) => v.labels.reason === 'duplicate');
    expect(duplicates.reduce((sum, v) => sum + v.value, 0)).toBe(0); // the fence, not the event-id memory, dropped them
  });
});

describe('a segmenter with an invalid definition file', () => {
  it('refuses to start, naming the file, the segment and the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kairos-segments-'));
    const file = join(dir, 'segments.yaml');
    writeFileSync(file, 'segments:\n  - name: engaged\n    conditions:\n      recency: { event: email_open, within: 30x }\n');
    const child = spawnNode('services/segmenter/main.js', [], { SEGMENTS_FILE: file, HTTP_PORT: '0' });
    const stderr = collect(child.stderr);
    const stdout = collect(child.stdout);
    const { code } = await exited(child);
    expect(code).not.toBe(0);
    const text = stderr.text() + stdout.text();
    expect(text).toContain(`${file}: segment "engaged": conditions.recency.within: "30x" is not a duration`);
    expect(text).toContain(file);
    expect(text).toContain('segment "engaged"');
    expect(text).toContain('within');
  });
});
