/**
 * AvroCodec's synchronous path (decodeKnown): a record decodes without a promise once its writer
 * schema was fetched, the registry is asked once per schema id, and bad bytes are refused the
 * same way on both paths. A stub registry stands in for Apicurio (the integration suite reads
 * through the real one).
 */
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import * as avro from 'avsc';
import { AvroCodec, encodeWireFormat, readSchema, recordTypes } from '../../../services/kit/codec';
import { behaviorEvent } from '../../../services/core/types';
import { PoisonRecordError, RegistryUnavailableError } from '../../../services/kit/poison';

const types = recordTypes();
const CURRENT = 7;
/** A newer writer: one optional field more, which the reader drops. */
const EVOLVED = 8;
const evolvedType = (() => {
  const schema = readSchema('BehaviorEvent') as { fields: unknown[] };
  return avro.Type.forSchema({ ...schema, fields: [...schema.fields, { name: 'channel', type: ['null', 'string'], default: null }] } as avro.Schema);
})();

function codecWithRegistry(): { codec: AvroCodec; asked: number[] } {
  const asked: number[] = [];
  const registry = {
    getSchema: async (id: number) => {
      asked.push(id);
      if (id === CURRENT) return types.BehaviorEvent;
      if (id === EVOLVED) return evolvedType;
      if (id === 503) throw Object.assign(new Error('registry down'), { status: 503 });
      throw Object.assign(new Error('not found'), { status: 404 });
    },
  } as unknown as SchemaRegistry;
  return { codec: new AvroCodec(registry), asked };
}

const event = behaviorEvent({ event_id: 'e-1', customer_id: 'c-1', type: 'product_view', occurred_at: 1_700_000_000_000, product_id: 'p-1' });

describe('AvroCodec.decodeKnown', () => {
  it('answers undefined until the writer schema is fetched, then decodes without the registry', async () => {
    const { codec, asked } = codecWithRegistry();
    const bytes = encodeWireFormat(CURRENT, types.BehaviorEvent, event);
    expect(codec.decodeKnown(bytes, types.BehaviorEvent)).toBeUndefined();
    expect(asked).toEqual([]);
    await codec.learnWriter(bytes, types.BehaviorEvent);
    for (let i = 0; i < 100; i += 1) expect(codec.decodeKnown(bytes, types.BehaviorEvent)).toEqual(event);
    expect(await codec.decode(bytes, types.BehaviorEvent)).toEqual(event);
    expect(asked).toEqual([CURRENT]);
  });

  it('keeps each writer schema id apart: a newer writer is fetched once and read into the reader shape', async () => {
    const { codec, asked } = codecWithRegistry();
    const current = encodeWireFormat(CURRENT, types.BehaviorEvent, event);
    const evolved = encodeWireFormat(EVOLVED, evolvedType, { ...event, channel: 'app' });
    expect(await codec.decode(current, types.BehaviorEvent)).toEqual(event);
    expect(codec.decodeKnown(evolved, types.BehaviorEvent)).toBeUndefined();
    expect(await codec.decode(evolved, types.BehaviorEvent)).toEqual(event);
    expect(codec.decodeKnown(evolved, types.BehaviorEvent)).toEqual(event);
    expect(asked).toEqual([CURRENT, EVOLVED]);
  });

  it('refuses bytes without the wire format at once, and bodies that do not decode, as decode() does', async () => {
    const { codec } = codecWithRegistry();
    for (const bytes of [Buffer.from([0, 0]), Buffer.from([1, 0, 0, 0, CURRENT, 2])]) {
      expect(() => codec.decodeKnown(bytes, types.BehaviorEvent)).toThrow(PoisonRecordError);
      await expect(codec.decode(bytes, types.BehaviorEvent)).rejects.toMatchObject({ reason: 'wire-format' });
    }
    const truncated = encodeWireFormat(CURRENT, types.BehaviorEvent, event).subarray(0, 12);
    await expect(codec.decode(truncated, types.BehaviorEvent)).rejects.toMatchObject({ reason: 'undecodable' });
    expect(() => codec.decodeKnown(truncated, types.BehaviorEvent)).toThrow(/does not decode with writer schema id 7/);
  });

  it('an unknown schema id is poison; a registry that cannot answer is retriable and nothing is kept', async () => {
    const { codec, asked } = codecWithRegistry();
    const header = (id: number) => {
      const bytes = Buffer.alloc(6);
      bytes.writeInt32BE(id, 1);
      return bytes;
    };
    await expect(codec.learnWriter(header(404), types.BehaviorEvent)).rejects.toMatchObject({ reason: 'unknown-schema-id' });
    await expect(codec.decode(header(503), types.BehaviorEvent)).rejects.toBeInstanceOf(RegistryUnavailableError);
    expect(codec.decodeKnown(header(503), types.BehaviorEvent)).toBeUndefined();
    await expect(codec.decode(header(503), types.BehaviorEvent)).rejects.toBeInstanceOf(RegistryUnavailableError);
    expect(asked).toEqual([404, 503, 503]);
  });
});

describe('encodeWireFormat', () => {
  /** The wire format as the Confluent serializers lay it out: magic byte 0, the id big-endian, the Avro body. */
  const expected = (id: number, type: avro.Type, value: unknown) => {
    const header = Buffer.alloc(5);
    header.writeInt32BE(id, 1);
    return Buffer.concat([header, type.toBuffer(value)]);
  };

  it('writes the magic byte, the schema id and the Avro body, for values of every size', () => {
    const trigger = (size: number) => ({
      trigger_id: `t-${size}`,
      rule: 'cart_abandoned',
      customer_id: 'c-1',
      fired_at: 1_700_000_000_000 + size,
      cause_event_id: size % 2 === 0 ? null : 'e-1',
      context: Object.fromEntries(Array.from({ length: size }, (_, i) => [`k${i}`, 'é'.repeat(i % 7)])),
    });
    // From empty maps to bodies of several times the encoder's 16 KiB scratch, and back down.
    for (const size of [0, 1, 7, 100, 1500, 8000, 3, 20_000, 2]) {
      for (const id of [1, 7, 2 ** 31 - 1]) {
        const bytes = encodeWireFormat(id, types.TriggerFired, trigger(size));
        expect(bytes).toEqual(expected(id, types.TriggerFired, trigger(size)));
        expect(types.TriggerFired.fromBuffer(bytes.subarray(5))).toEqual(trigger(size));
      }
    }
    expect(encodeWireFormat(CURRENT, types.BehaviorEvent, event)).toEqual(expected(CURRENT, types.BehaviorEvent, event));
  });

  it('refuses a value the schema does not take, naming the field and nothing else', () => {
    expect(() => encodeWireFormat(CURRENT, types.BehaviorEvent, { ...event, occurred_at: 'yesterday' })).toThrow(
      'value does not match schema io.kairos.events.BehaviorEvent (id 7): invalid occurred_at="yesterday"',
    );
  });
});
