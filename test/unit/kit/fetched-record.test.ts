/**
 * A record of kafkajs.ts's decoder (FetchedRecord) is read where it lies in the fetched bytes:
 * decodeKnownRecord must give for it exactly what it gives for kafkajs's own record of the same
 * bytes (key and value as Buffers), the decoded record or the same poison, whatever lies around
 * the record in the buffer. A stub registry stands in for Apicurio.
 */
import { join } from 'node:path';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { KafkaMessage } from 'kafkajs';
import { AvroCodec, encodeWireFormat, recordTypes } from '../../../services/kit/codec';
import { decodeKnownRecord, type AnyTopicBinding } from '../../../services/kit/consumer-runner';
import { decodeRecord, FetchedRecord, type KafkajsDecoder, type RecordBatchContext } from '../../../services/kit/kafkajs';
import { behaviorEvent, behaviorEventProblem, type BehaviorEvent } from '../../../services/core/types';
import { seededRandom } from '../../../services/tools/synthetic';

const types = recordTypes();
const SCHEMA_ID = 7;
const kafkajsFile = (...path: string[]) => join(require.resolve('kafkajs'), '..', 'src', ...path);
/* eslint-disable @typescript-eslint/no-require-imports */
const KafkajsDecoderClass = require(kafkajsFile('protocol', 'decoder')) as new (buffer: Buffer) => KafkajsDecoder;
const kafkajsDecode = require(kafkajsFile('protocol', 'recordBatch', 'record', 'v0', 'decoder')) as (decoder: KafkajsDecoder, context?: RecordBatchContext) => KafkaMessage;
/* eslint-enable @typescript-eslint/no-require-imports */

const codec = new AvroCodec({ getSchema: async () => types.BehaviorEvent } as unknown as SchemaRegistry);
const NOW = 1_733_380_000_000;

/** Zig-zag varint of a small integer (record fields and lengths). */
function varint(value: number): number[] {
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
  const bytes: number[] = [];
  do {
    const low = zigzag % 128;
    zigzag = Math.floor(zigzag / 128);
    bytes.push(zigzag > 0 ? low | 0x80 : low);
  } while (zigzag > 0);
  return bytes;
}

const field = (bytes: Buffer | null) => (bytes === null ? varint(-1) : [...varint(bytes.length), ...bytes]);
/** One record of a record batch: attributes, deltas, key, value, no headers. */
const recordBody = (key: Buffer | null, value: Buffer | null) => Buffer.from([0, ...varint(3), ...varint(1), ...field(key), ...field(value), ...varint(0)]);

function event(n: number, random: () => number): BehaviorEvent {
  return behaviorEvent({ event_id: `e-${n}`, customer_id: `c-${n % 9}`, type: random() < 0.5 ? 'product_view' : 'purchase', occurred_at: NOW - n * 1000, product_id: random() < 0.8 ? `p-${n}` : null, value_cents: random() < 0.3 ? 1999 : null });
}

/** The outcome as data: the record, or the poison's reason and message. */
function outcome(binding: AnyTopicBinding, message: KafkaMessage): unknown {
  try {
    return { record: decodeKnownRecord(binding, 3, message, { codec, now: NOW }) };
  } catch (error) {
    return { error: error instanceof Error ? `${error.name} ${(error as { reason?: string }).reason ?? ''}: ${error.message}` : String(error) };
  }
}

describe('a record read where it lies (FetchedRecord)', () => {
  beforeAll(async () => {
    await codec.learnWriter(encodeWireFormat(SCHEMA_ID, types.BehaviorEvent, event(0, () => 0)), types.BehaviorEvent);
  });

  it('decodes to what kafkajs’s record of the same bytes decodes to, valid or poison, whatever surrounds it', () => {
    const random = seededRandom(11);
    const bindings: AnyTopicBinding[] = [
      { topic: 'behavior.events', type: types.BehaviorEvent, keyField: 'customer_id', validate: (e: BehaviorEvent) => behaviorEventProblem(e) } as AnyTopicBinding,
      { topic: 'loose', type: types.BehaviorEvent, tombstones: true, maxDecodeBytes: 60, limits: (_e: unknown, bytes: number) => (bytes > 50 ? `${bytes} bytes` : null) } as AnyTopicBinding,
      // Every decoded record refused, naming its size: the sizes are compared too.
      { topic: 'sized', type: types.BehaviorEvent, limits: (_e: unknown, bytes: number) => `${bytes} bytes` } as AnyTopicBinding,
    ];
    const kinds = new Map<string, number>();
    for (let n = 0; n < 3000; n += 1) {
      const valid = encodeWireFormat(SCHEMA_ID, types.BehaviorEvent, event(n, random));
      const cut = Math.floor(random() * valid.length);
      const shapes: Array<[string, Buffer | null]> = [
        ['valid', valid],
        ['cut short', valid.subarray(0, cut)],
        ['trailing bytes', Buffer.concat([valid, Buffer.from([2, 4, 6].slice(0, 1 + (n % 3)))])],
        ['header only', valid.subarray(0, Math.min(cut, 6))],
        ['other magic byte', Buffer.concat([Buffer.from([1]), valid.subarray(1)])],
        ['unknown schema', Buffer.concat([valid.subarray(0, 4), Buffer.from([99]), valid.subarray(5)])],
        ['a byte changed', Buffer.from(valid.map((b, i) => (i === 5 + (n % (valid.length - 5)) ? (b + 1 + Math.floor(random() * 255)) % 256 : b)))],
        ['tombstone', null],
      ];
      const [kind, value] = shapes[n % shapes.length] as [string, Buffer | null];
      const customer = JSON.parse(JSON.stringify(types.BehaviorEvent.fromBuffer(valid.subarray(5)))).customer_id as string;
      const key = random() < 0.1 ? null : Buffer.from(random() < 0.1 ? 'c-other' : random() < 0.2 ? 'k-é漢😀' : customer);
      // Other bytes before and after, so a body that reads past its end finds some: a valid record after it.
      const before = Buffer.from(Array.from({ length: Math.floor(random() * 8) }, () => Math.floor(random() * 256)));
      const after = recordBody(Buffer.from('c-1'), encodeWireFormat(SCHEMA_ID, types.BehaviorEvent, event(n + 1, random)));
      const bytes = Buffer.concat([before, recordBody(key, value), after]);
      const context: RecordBatchContext = { firstOffset: '100', firstTimestamp: String(NOW), magicByte: 2, timestampType: 0 };
      const ours = new KafkajsDecoderClass(bytes);
      ours.offset = before.length;
      const theirs = new KafkajsDecoderClass(bytes);
      theirs.offset = before.length;
      const fetched = decodeRecord(ours, context) as unknown as KafkaMessage;
      const plain = kafkajsDecode(theirs, context);
      expect(fetched).toBeInstanceOf(FetchedRecord);
      expect(plain).not.toBeInstanceOf(FetchedRecord);
      for (const binding of bindings) {
        const result = outcome(binding, fetched);
        expect([kind, binding.topic, result]).toEqual([kind, binding.topic, outcome(binding, plain)]);
        if (binding.topic === 'sized' && kind === 'valid') expect(result).toEqual({ error: `PoisonRecordError over-limit: ${valid.length} bytes` });
        const name = `${kind}: ${'error' in (result as object) ? 'poison' : (result as { record?: unknown }).record === undefined ? 'schema to fetch' : 'decoded'}`;
        kinds.set(name, (kinds.get(name) ?? 0) + 1);
      }
    }
    // Each shape was seen, and both outcomes were (the comparison was not of errors alone).
    for (const kind of ['valid: decoded', 'valid: poison', 'cut short: poison', 'trailing bytes: poison', 'header only: poison', 'other magic byte: poison', 'unknown schema: schema to fetch', 'tombstone: decoded', 'tombstone: poison']) {
      expect([kind, kinds.get(kind) ?? 0]).toEqual([kind, expect.any(Number)]);
      expect(kinds.get(kind)).toBeGreaterThan(0);
    }
  });
  it('reads records whose key or value length does not fit the bytes as kafkajs’s record of them reads', () => {
    const valid = encodeWireFormat(SCHEMA_ID, types.BehaviorEvent, event(1, () => 0.5));
    const loose = { topic: 'loose', type: types.BehaviorEvent, tombstones: true, limits: (_e: unknown, bytes: number) => `${bytes} bytes` } as AnyTopicBinding;
    let decoded = 0;
    for (const keyLength of [-1, -2, -5, -40, 0, 3, 30, 1000]) {
      for (const valueLength of [-1, -3, 2, valid.length, valid.length + 9, 5000]) {
        for (const before of [0, 3, 50]) {
          const body = Buffer.from([0, ...varint(3), ...varint(1), ...varint(keyLength), 0x63, 0x2d, 0x31, ...varint(valueLength), ...valid, 1, 2, 3]);
          const bytes = Buffer.concat([Buffer.alloc(before, 7), body]);
          const context: RecordBatchContext = { firstOffset: '5', firstTimestamp: String(NOW), magicByte: 2, timestampType: 0 };
          const ours = new KafkajsDecoderClass(bytes);
          ours.offset = before;
          const theirs = new KafkajsDecoderClass(bytes);
          theirs.offset = before;
          const read = (decode: () => KafkaMessage) => {
            try {
              return outcome(loose, decode());
            } catch (error) {
              return { decoderError: String(error) };
            }
          };
          const result = read(() => decodeRecord(ours, context) as unknown as KafkaMessage);
          expect([keyLength, valueLength, before, result]).toEqual([keyLength, valueLength, before, read(() => kafkajsDecode(theirs, context))]);
          if (JSON.stringify(result).includes('over-limit')) decoded += 1;
        }
      }
    }
    expect(decoded).toBeGreaterThan(0); // some of them reached the Avro decoder and its size
  });
});
