/**
 * Every consuming service bounds time from outside the same way (issue 9, item 3): the
 * segmenter, the trigger service and the recommender, each in its own group on one set of
 * topics and one injected clock, with MAX_CLOCK_SKEW set to 1h, accept an event and a profile
 * 30 minutes ahead and dead-letter the ones 2 hours ahead, each service once, with reason
 * `future-time`. (The renderer's bindings are proven in test/integration/renderer/future-time.test.ts.)
 */
import { behaviorEvent, customerProfile } from '../../../services/core/types';
import { loadConfig } from '../../../services/kit/config';
import { DLQ_HEADERS, dlqTopic } from '../../../services/kit/dlq';
import { recommenderShape, startRecommender } from '../../../services/recommender/main';
import { segmenterShape, startSegmenter } from '../../../services/segmenter/main';
import { startTrigger, triggerShape } from '../../../services/trigger/main';
import { createTestPipeline, silentLogger, type TestPipeline } from '../../support/pipeline';
import { readAll, waitCaughtUp, waitFor } from '../../support/stack';

const MINUTE = 60_000;
const NOW = Date.parse('2026-11-20T08:00:00Z');

describe('MAX_CLOCK_SKEW in every service that reads behavior.events and customer.profiles', () => {
  let pipeline: TestPipeline;
  const running: Array<{ name: string; group: string; topics: string[]; stop(): Promise<void>; ready(): boolean }> = [];

  beforeAll(async () => {
    pipeline = await createTestPipeline('future-services', 2);
    const env = (name: string) => ({ ...pipeline.env, GROUP_ID: `${pipeline.env.GROUP_ID}-${name}`, MAX_CLOCK_SKEW: '1h', TIMER_INTERVAL_MS: '1000' });
    const overrides = { clock: () => NOW, logger: silentLogger };
    const both = [pipeline.topics.events, pipeline.topics.profiles];
    const segmenter = await startSegmenter(loadConfig(segmenterShape, env('segmenter')), overrides);
    running.push({ name: 'segmenter', group: env('segmenter').GROUP_ID, topics: both, stop: () => segmenter.stop(), ready: () => segmenter.runner.isReady() });
    const trigger = await startTrigger(loadConfig(triggerShape, env('trigger')), overrides);
    running.push({ name: 'trigger', group: env('trigger').GROUP_ID, topics: both, stop: () => trigger.stop(), ready: () => trigger.runner.isReady() });
    const recommender = await startRecommender(loadConfig(recommenderShape, env('recommender')), overrides);
    running.push({ name: 'recommender', group: env('recommender').GROUP_ID, topics: [pipeline.topics.events], stop: () => recommender.stop(), ready: () => recommender.runner.isReady() });
    await waitFor('every service to join its group', () => running.every((s) => s.ready()), 60_000);
  });
  afterAll(async () => {
    for (const service of running) await service.stop();
    await pipeline?.close();
  });

  it('accepts times within the tolerance and dead-letters the ones beyond it, once per service', async () => {
    await pipeline.produceEvents([
      behaviorEvent({ event_id: 'near-1', customer_id: 'near', type: 'product_view', occurred_at: NOW + 30 * MINUTE, product_id: 'sku-1' }),
      behaviorEvent({ event_id: 'far-1', customer_id: 'far', type: 'product_view', occurred_at: NOW + 120 * MINUTE, product_id: 'sku-1' }),
    ]);
    await pipeline.produceProfiles([
      customerProfile({ customer_id: 'near', updated_at: NOW + 30 * MINUTE, consent_email: true }),
      customerProfile({ customer_id: 'far', updated_at: NOW + 120 * MINUTE, consent_email: true }),
    ]);
    for (const service of running) for (const topic of service.topics) await waitCaughtUp(service.group, topic);

    const deadEvents = await readAll(dlqTopic(pipeline.topics.events));
    const deadProfiles = await readAll(dlqTopic(pipeline.topics.profiles));
    const header = (m: (typeof deadEvents)[number], name: string) => m.headers?.[name]?.toString();
    const summary = (messages: typeof deadEvents) => messages.map((m) => `${m.key?.toString()} ${header(m, DLQ_HEADERS.service)} ${header(m, DLQ_HEADERS.reason)}`).sort();
    expect(summary(deadEvents)).toEqual(['far recommender future-time', 'far segmenter future-time', 'far trigger future-time']);
    expect(summary(deadProfiles)).toEqual(['far segmenter future-time', 'far trigger future-time']);
    for (const m of deadEvents) {
      expect(header(m, DLQ_HEADERS.exceptionMessage)).toMatch(/^occurred_at 2026-11-20T10:00:00\.000Z is 2h ahead of this service's clock \(2026-11-20T08:00:00\.000Z\), more than MAX_CLOCK_SKEW \(1h\)/);
    }
    for (const m of deadProfiles) expect(header(m, DLQ_HEADERS.exceptionMessage)).toMatch(/^updated_at 2026-11-20T10:00:00\.000Z is 2h ahead/);
  });
});
