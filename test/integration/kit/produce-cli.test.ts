import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AvroCodec, recordTypes } from '../../../services/kit/codec';
import type { BehaviorEvent, CustomerProfile } from '../../../services/core/types';
import { collect, createTopics, exited, randomTopic, readMessages, registerValueSchema, REGISTRY_URL, spawnNode } from '../../support/stack';

const types = recordTypes();
const dir = mkdtempSync(join(tmpdir(), 'kairos-produce-'));

async function runProduce(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawnNode('services/tools/produce.js', args);
  const stderr = collect(child.stderr);
  const { code } = await exited(child);
  return { code, stderr: stderr.text() };
}

describe('the produce CLI', () => {
  const codec = AvroCodec.connect(REGISTRY_URL);

  it('publishes BehaviorEvents from JSON lines, keyed by customer, through the registry', async () => {
    const topic = randomTopic('produce-events');
    await createTopics([topic]);
    await registerValueSchema(codec, topic, 'BehaviorEvent');
    const file = join(dir, 'events.jsonl');
    writeFileSync(
      file,
      [
        '{"event_id":"e1","customer_id":"c1","type":"product_view","occurred_at":"2026-11-28T10:00:00Z","product_id":"sku-1"}',
        '',
        '{"event_id":"e2","customer_id":"c2","type":"purchase","occurred_at":1795861190000,"value_cents":4599,"currency":"EUR","properties":{"coupon":"X"}}',
      ].join('\n'),
    );
    const result = await runProduce(['--kind', 'events', '--file', file, '--topic', topic]);
    expect(result).toEqual({ code: 0, stderr: expect.stringContaining('produced 2/2') });

    const messages = await readMessages(topic, 2);
    const decoded = await Promise.all(messages.map(async (m) => ({ key: m.key?.toString(), value: await codec.decode<BehaviorEvent>(m.value!, types.BehaviorEvent) })));
    decoded.sort((a, b) => a.value.event_id.localeCompare(b.value.event_id));
    expect(decoded[0]).toEqual({
      key: 'c1',
      value: expect.objectContaining({ event_id: 'e1', type: 'product_view', occurred_at: Date.parse('2026-11-28T10:00:00Z'), product_id: 'sku-1', value_cents: null, properties: {} }),
    });
    expect(decoded[1]).toEqual({ key: 'c2', value: expect.objectContaining({ value_cents: 4599, currency: 'EUR', properties: { coupon: 'X' } }) });
  });

  it('publishes profiles and tombstones', async () => {
    const topic = randomTopic('produce-profiles');
    await createTopics([topic]);
    await registerValueSchema(codec, topic, 'CustomerProfile');
    const file = join(dir, 'profiles.jsonl');
    writeFileSync(
      file,
      '{"customer_id":"c1","email":"a@example.com","consent_email":true,"updated_at":1795861190000,"attributes":{"tier":"gold"}}\n{"customer_id":"c2","tombstone":true}\n',
    );
    expect((await runProduce(['--kind', 'profiles', '--file', file, '--topic', topic])).code).toBe(0);
    const messages = await readMessages(topic, 2);
    const tombstone = messages.find((m) => m.key?.toString() === 'c2');
    expect(tombstone?.value).toBeNull();
    const profile = await codec.decode<CustomerProfile>(messages.find((m) => m.key?.toString() === 'c1')!.value!, types.CustomerProfile);
    expect(profile).toEqual(expect.objectContaining({ email: 'a@example.com', consent_email: true, attributes: { tier: 'gold' } }));
  });

  it('stops before sending anything when a line is bad, naming the line and the field', async () => {
    const topic = randomTopic('produce-bad');
    await createTopics([topic]);
    await registerValueSchema(codec, topic, 'BehaviorEvent');
    const file = join(dir, 'bad.jsonl');
    writeFileSync(
      file,
      '{"event_id":"e1","customer_id":"c1","type":"page_view","occurred_at":1795861190000}\n{"event_id":"e2","customer_id":"c1","type":"page_view","occurred_at":1795861190000,"quantity":"two"}\n',
    );
    const result = await runProduce(['--kind', 'events', '--file', file, '--topic', topic]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('line 2');
    expect(result.stderr).toContain('quantity');
    const offsets = await (await import('../../support/stack')).withAdmin((admin) => admin.fetchTopicOffsets(topic));
    expect(offsets.every((p) => p.high === '0')).toBe(true);
  });

  it('names the subject to register when the topic has no schema', async () => {
    const topic = randomTopic('produce-unregistered');
    await createTopics([topic]);
    const file = join(dir, 'one.jsonl');
    writeFileSync(file, '{"event_id":"e1","customer_id":"c1","type":"page_view","occurred_at":1795861190000}\n');
    const result = await runProduce(['--kind', 'events', '--file', file, '--topic', topic]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${topic}-value`);
  });
});
