import * as avro from 'avsc';
import type { Producer } from 'kafkajs';
import { AvroCodec, readSchema, recordTypes, valueSubject } from '../../../services/kit/codec';
import { bindTopic } from '../../../services/kit/consumer-runner';
import { behaviorEvent, type BehaviorEvent } from '../../../services/core/types';
import { connectedProducer, createTopics, randomTopic, registerValueSchema, REGISTRY_URL, waitFor } from '../../support/stack';
import { startTestRunner, type TestRunner } from '../../support/runner';

const types = recordTypes();

describe('Avro BehaviorEvents through the registry (Apicurio, ccompat API)', () => {
  const topic = randomTopic('roundtrip');
  const codec = AvroCodec.connect(REGISTRY_URL);
  let producer: Producer;
  let consumer: TestRunner | undefined;

  beforeAll(async () => {
    await createTopics([topic]);
    producer = await connectedProducer();
  });
  afterAll(async () => {
    await consumer?.stop();
    await producer.disconnect();
  });

  it('consumes and decodes every field exactly as produced, also from a newer compatible writer schema', async () => {
    const id = await registerValueSchema(codec, topic, 'BehaviorEvent');
    const full: BehaviorEvent = {
      event_id: 'evt-1',
      customer_id: 'cust-42',
      type: 'purchase',
      occurred_at: 1795861190439,
      product_id: 'sku-9',
      category: 'shoes',
      quantity: 2,
      value_cents: 9_007_199_254_740, // beyond 32 bits: a real long
      currency: 'EUR',
      order_id: 'ord-7',
      campaign_id: 'camp-1',
      message_id: 'msg-1',
      properties: { channel: 'web', 'utm source': 'newsletter ✉' },
    };
    const sparse = behaviorEvent({ event_id: 'evt-2', customer_id: 'cust-43', type: 'page_view', occurred_at: 1795861190440 });

    // A producer team evolves its schema: a new optional field (allowed under BACKWARD).
    const evolvedSchema = readSchema('BehaviorEvent') as avro.schema.RecordType;
    evolvedSchema.fields = [...evolvedSchema.fields, { name: 'session_id', type: ['null', 'string'], default: null }];
    const evolvedType = avro.Type.forSchema(evolvedSchema);
    const evolvedId = await codec.register(valueSubject(topic), evolvedSchema);
    expect(evolvedId).not.toBe(id);
    const evolved = { ...behaviorEvent({ event_id: 'evt-3', customer_id: 'cust-44', type: 'add_to_cart', occurred_at: 1795861190441, product_id: 'sku-1' }), session_id: 's-1' };

    await producer.send({
      topic,
      messages: [
        { key: full.customer_id, value: codec.encode(id, types.BehaviorEvent, full) },
        { key: sparse.customer_id, value: codec.encode(id, types.BehaviorEvent, sparse) },
        { key: evolved.customer_id, value: codec.encode(evolvedId, evolvedType, evolved) },
      ],
    });

    consumer = await startTestRunner({ producer, bindings: [bindTopic({ topic, type: types.BehaviorEvent })] });
    const runner = consumer;
    await waitFor('3 decoded records', () => runner.records.length >= 3);
    const byId = new Map(runner.records.map((r) => [(r.value as BehaviorEvent).event_id, r]));

    expect(byId.get('evt-1')?.value).toEqual(full);
    expect(byId.get('evt-1')?.key).toBe('cust-42');
    expect(byId.get('evt-2')?.value).toEqual(sparse);
    // Resolved into the reader schema: the new field is dropped, the rest intact.
    const { session_id: _dropped, ...evolvedAsRead } = evolved;
    expect(byId.get('evt-3')?.value).toEqual(evolvedAsRead);
    expect(Object.keys(byId.get('evt-3')?.value as object)).not.toContain('session_id');
  });

  it('rejects a schema change that breaks BACKWARD compatibility', async () => {
    const subjectTopic = randomTopic('compat');
    const subject = valueSubject(subjectTopic);
    await fetch(`${REGISTRY_URL}/config/${subject}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: 'BACKWARD' }),
    });
    await codec.register(subject, readSchema('BehaviorEvent'));
    const breaking = readSchema('BehaviorEvent') as avro.schema.RecordType;
    breaking.fields = [...breaking.fields, { name: 'required_new', type: 'string' }];
    await expect(codec.register(subject, breaking)).rejects.toThrow(/registering .* failed/);
  });
});
