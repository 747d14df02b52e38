import { createMetrics } from '../../../services/kit/metrics';

describe('createMetrics', () => {
  it('exposes the shared pipeline metrics with their types and labels', async () => {
    const metrics = createMetrics('segmenter');
    metrics.consumerBatchSize.observe({ topic: 'behavior.events' }, 42);
    metrics.consumerBatchDurationSeconds.observe({ topic: 'behavior.events' }, 0.02);
    metrics.consumerLag.set({ topic: 'behavior.events', partition: '3' }, 17);
    metrics.recordsProcessed.inc({ topic: 'behavior.events' }, 42);
    metrics.recordsDeadLettered.inc({ topic: 'behavior.events', reason: 'undecodable' });
    metrics.eventsIgnored.inc({ reason: 'unknown_type' }, 2);
    metrics.recordsProduced.inc({ topic: 'triggers' });
    metrics.relayTransactions.inc({ outcome: 'committed' }, 3);

    const text = await metrics.registry.metrics();
    expect(text).toContain('# TYPE kairos_consumer_batch_size histogram');
    expect(text).toContain('# TYPE kairos_consumer_batch_duration_seconds histogram');
    expect(text).toContain('# TYPE kairos_consumer_lag gauge');
    expect(text).toContain('kairos_consumer_batch_size_bucket{le="50",service="segmenter",topic="behavior.events"} 1');
    expect(text).toContain('kairos_consumer_lag{topic="behavior.events",partition="3",service="segmenter"} 17');
    expect(text).toContain('kairos_records_processed_total{topic="behavior.events",service="segmenter"} 42');
    expect(text).toContain('kairos_records_dead_lettered_total{topic="behavior.events",reason="undecodable",service="segmenter"} 1');
    expect(text).toContain('kairos_events_ignored_total{reason="unknown_type",service="segmenter"} 2');
    expect(text).toContain('kairos_records_produced_total{topic="triggers",service="segmenter"} 1');
    expect(text).toContain('kairos_relay_transactions_total{outcome="committed",service="segmenter"} 3');
  });

  it('includes default process metrics labelled with the service', async () => {
    const text = await createMetrics('trigger').registry.metrics();
    expect(text).toMatch(/^process_cpu_user_seconds_total\{service="trigger"\} /m);
    expect(text).toMatch(/^nodejs_heap_size_total_bytes\{service="trigger"\} /m);
  });

  it('gives each call its own registry, so several can coexist', async () => {
    const first = createMetrics('a');
    const second = createMetrics('b');
    first.recordsProduced.inc({ topic: 't' }, 5);
    expect(first.registry).not.toBe(second.registry);
    expect(await second.registry.metrics()).not.toContain('kairos_records_produced_total{topic="t"');
  });

  it('rejects labels a metric does not declare', () => {
    const metrics = createMetrics('x');
    expect(() => metrics.eventsIgnored.inc({ topic: 'nope' } as never)).toThrow(/label/i);
  });
});
