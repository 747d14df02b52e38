import { join } from 'node:path';
import { decodeRecord, encodeRecord, groupMessagesPerPartition, murmur2, type GroupingInput, type KafkajsDecoder, type KafkajsEncoder, type RecordBatchContext, type RecordToEncode } from '../../../services/kit/kafkajs';
import { seededRandom } from '../../../services/tools/synthetic';

// kafkajs's own grouping, read from its file (what services/kit/kafkajs.ts stands in for).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const original = require(join(require.resolve('kafkajs'), '..', 'src', 'producer', 'groupMessagesPerPartition')) as (input: GroupingInput<{ key: string; n: number }>) => Record<number, Array<{ key: string; n: number }>>;

describe("the producer's grouping by partition", () => {
  const partitionMetadata = Array.from({ length: 12 }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));

  it.each([0, 1, 7, 2000])('gives what kafkajs 2.2.4 gives for %i messages: each partition its messages in order', (count) => {
    const random = seededRandom(count + 1); // seeded: a failure repeats
    const messages = Array.from({ length: count }, (_, n) => ({ key: `c-${Math.floor(random() * 40)}`, n }));
    // A partitioner that reads the message, as kafkajs's do (here: one in three to partition 5).
    const partitioner = ({ message }: { message: { key: string } }) => (Number(message.key.slice(2)) % 3 === 0 ? 5 : Number(message.key.slice(2)) % 12);
    const input = { topic: 't', partitionMetadata, messages, partitioner };
    const ours = groupMessagesPerPartition(input);
    expect(ours).toEqual(original(input));
    expect(Object.keys(ours)).toEqual(Object.keys(original(input)));
    for (const list of Object.values(ours)) expect(list.map((m) => m.n)).toEqual([...list.map((m) => m.n)].sort((a, b) => a - b));
  });

  it('gives nothing for a topic without partition metadata, as kafkajs does (it then refuses the send)', () => {
    const input = { topic: 't', partitionMetadata: [], messages: [{ key: 'a', n: 0 }], partitioner: () => 0 };
    expect(groupMessagesPerPartition(input)).toEqual({});
    expect(original(input)).toEqual({});
  });
});

describe("the default partitioner's murmur2", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const kafkajsMurmur2 = require(join(require.resolve('kafkajs'), '..', 'src', 'producer', 'partitioners', 'default', 'murmur2')) as (key: string | Buffer) => number;

  it("gives what kafkajs gives (the Java client's hash), bit for bit, for strings and Buffers of every length and byte", () => {
    const random = seededRandom(42);
    const keys: Array<string | Buffer> = ['', 'a', 'ab', 'abc', 'abcd', 'c-same-customer', 'customer-0042', 'é', 'é-漢字-😀', '\u007f\u0080'];
    for (let n = 0; n < 3000; n += 1) {
      const length = Math.floor(random() * 40);
      const bytes = Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
      keys.push(bytes);
      keys.push(Array.from({ length }, () => String.fromCharCode(random() < 0.9 ? 32 + Math.floor(random() * 95) : 128 + Math.floor(random() * 4000))).join(''));
    }
    for (const key of keys) expect([key, murmur2(key)]).toEqual([key, kafkajsMurmur2(key)]);
  });

  it("agrees with the Java client on Kafka's own test vectors (UtilsTest#testMurmur2)", () => {
    const cases: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of cases) expect(murmur2(key)).toBe(hash);
  });
});

describe("the consumer's record decoder", () => {
  type Decoder = KafkajsDecoder;
  const kafkajsFile = (...path: string[]) => join(require.resolve('kafkajs'), '..', 'src', ...path);
  /* eslint-disable @typescript-eslint/no-require-imports */
  const KafkajsDecoderClass = require(kafkajsFile('protocol', 'decoder')) as new (buffer: Buffer) => Decoder;
  const originalDecode = require(kafkajsFile('protocol', 'recordBatch', 'record', 'v0', 'decoder')) as (decoder: Decoder, context?: RecordBatchContext) => unknown;
  const { LOG_APPEND_TIME, CREATE_TIME } = require(kafkajsFile('protocol', 'timestampTypes')) as { LOG_APPEND_TIME: number; CREATE_TIME: number };
  /* eslint-enable @typescript-eslint/no-require-imports */

  // The wire format written by hand (zig-zag varints of any 64-bit value), so that deltas and
  // lengths kafkajs's own encoder never writes can be tried too.
  const varlong = (value: bigint): number[] => {
    let zigzag = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
    const bytes: number[] = [];
    do {
      const low = Number(zigzag & 0x7fn);
      zigzag >>= 7n;
      bytes.push(zigzag > 0n ? low | 0x80 : low);
    } while (zigzag > 0n);
    return bytes;
  };
  const bytesField = (value: Buffer | null): number[] => (value === null ? varlong(-1n) : [...varlong(BigInt(value.length)), ...value]);
  const recordBody = (r: { timestampDelta: bigint; offsetDelta: number; key: Buffer | null; value: Buffer | null; headers: Array<[string, Buffer | null]> | -1 }): Buffer =>
    Buffer.from([
      0,
      ...varlong(r.timestampDelta),
      ...varlong(BigInt(r.offsetDelta)),
      ...bytesField(r.key),
      ...bytesField(r.value),
      ...(r.headers === -1 ? varlong(-1n) : [...varlong(BigInt(r.headers.length)), ...r.headers.flatMap(([k, v]) => [...bytesField(Buffer.from(k)), ...bytesField(v)])]),
    ]);

  /**
   * A record's fields as plain data: its own properties, and its key and value, which ours reads
   * from the fetched bytes only when asked (getters, not own properties) and kafkajs holds as Buffers.
   */
  const RECORD_FIELDS = ['attributes', 'batchContext', 'headers', 'isControlRecord', 'key', 'magicByte', 'offset', 'timestamp', 'value'];
  const plain = (record: unknown) => Object.fromEntries(RECORD_FIELDS.map((field) => [field, (record as Record<string, unknown>)[field]]));

  it("compares every field of kafkajs's record", () => {
    const body = Buffer.from([0, 2, 4, 2, 0x6b, 2, 0x76, 0]);
    const context: RecordBatchContext = { firstOffset: '7', firstTimestamp: '1000', magicByte: 2, timestampType: CREATE_TIME };
    expect(Object.keys(originalDecode(new KafkajsDecoderClass(body), context) as object).sort()).toEqual(RECORD_FIELDS);
    expect(plain(decodeRecord(new KafkajsDecoderClass(body), context))).toEqual(plain(originalDecode(new KafkajsDecoderClass(body), context)));
  });

  /** What a decoder gives for `body`: the record (or the error) and how far it read. */
  const outcome = (decode: (decoder: Decoder, context?: RecordBatchContext) => unknown, body: Buffer, context?: RecordBatchContext) => {
    const decoder = new KafkajsDecoderClass(body);
    try {
      return { record: plain(decode(decoder, context)), readUpTo: decoder.offset };
    } catch (error) {
      return { error: String(error), readUpTo: decoder.offset };
    }
  };

  it('gives what kafkajs 2.2.4 gives for every delta, base, key, value and header, and reads as far', () => {
    const random = seededRandom(7);
    const bases = ['0', '-1', '1', '1733380000000', '9007199254740991', '9007199254740992', '9223372036854775807', '-9223372036854775808', '12345678901234567890123'];
    const deltas = [0n, 1n, -1n, 63n, -64n, 64n, 2n ** 48n - 1n, -(2n ** 48n), 2n ** 48n, 2n ** 49n, -(2n ** 49n) - 1n, 2n ** 55n + 3n, -(2n ** 58n) - 5n, 2n ** 62n, 2n ** 63n - 1n, -(2n ** 63n)];
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
    const someBytes = (): Buffer | null => (random() < 0.1 ? null : Buffer.from(Array.from({ length: Math.floor(random() * 20) }, () => Math.floor(random() * 256))));
    const headerSets: Array<Array<[string, Buffer | null]> | -1> = [[], -1, [['trace', Buffer.from('a')]], [['k', Buffer.from('1')], ['k', null], ['k', Buffer.from('3')]], [['__proto__', Buffer.from('x')]], [['a', null], ['b', Buffer.from('')]]];
    let compared = 0;
    for (let n = 0; n < 4000; n += 1) {
      const timestampDelta = random() < 0.5 ? pick(deltas) : BigInt(Math.floor((random() - 0.5) * 2 ** (1 + Math.floor(random() * 52))));
      const body = recordBody({ timestampDelta, offsetDelta: random() < 0.8 ? Math.floor(random() * 5000) : pick([0, -1, 2 ** 31 - 1, -(2 ** 31)]), key: someBytes(), value: someBytes(), headers: pick(headerSets) });
      const context: RecordBatchContext = {
        firstOffset: pick(bases),
        firstTimestamp: pick(bases),
        magicByte: 2,
        isControlBatch: random() < 0.1,
        timestampType: random() < 0.8 ? CREATE_TIME : LOG_APPEND_TIME,
        maxTimestamp: random() < 0.8 ? pick(bases) : undefined,
      };
      const ours = outcome(decodeRecord, body, context);
      expect([body.toString('hex'), context, ours]).toEqual([body.toString('hex'), context, outcome(originalDecode, body, context)]);
      if ('record' in ours) compared += 1;
    }
    expect(compared).toBeGreaterThan(3500); // the comparison was of records, not of errors
  });

  it('gives what kafkajs gives for a record cut short, and for none of the batch context', () => {
    const body = recordBody({ timestampDelta: 2n ** 40n, offsetDelta: 3, key: Buffer.from('k'), value: Buffer.from('v'), headers: [] });
    for (let length = 0; length <= body.length; length += 1) {
      const cut = body.subarray(0, length);
      const context = { firstOffset: '10', firstTimestamp: '1733380000000', timestampType: CREATE_TIME };
      expect([length, outcome(decodeRecord, cut, context)]).toEqual([length, outcome(originalDecode, cut, context)]);
    }
    expect(outcome(decodeRecord, body)).toEqual(outcome(originalDecode, body));
    expect(outcome(decodeRecord, body)).toHaveProperty('error');
  });

  it('reads key and value lengths that do not fit the bytes as kafkajs does (its slice, and where it goes on reading)', () => {
    let compared = 0;
    for (const keyLength of [-1n, -2n, -5n, -40n, 0n, 3n, 30n, 1000n]) {
      for (const valueLength of [-1n, -3n, 2n, 50n]) {
        for (const tail of [0, 4, 60]) {
          const body = Buffer.from([0, ...varlong(9n), ...varlong(1n), ...varlong(keyLength), 0x6b, 0x65, 0x79, ...varlong(valueLength), 0x76, 0x61, ...Array.from({ length: tail }, (_, i) => i % 7)]);
          const context = { firstOffset: '10', firstTimestamp: '1733380000000', timestampType: CREATE_TIME };
          const ours = outcome(decodeRecord, body, context);
          expect([String(keyLength), String(valueLength), tail, ours]).toEqual([String(keyLength), String(valueLength), tail, outcome(originalDecode, body, context)]);
          if ('record' in ours) compared += 1;
        }
      }
    }
    expect(compared).toBeGreaterThan(10);
  });

  it('reads a header repeated under one key as its values in order, as kafkajs does', () => {
    const body = recordBody({ timestampDelta: 5n, offsetDelta: 2, key: null, value: Buffer.from('v'), headers: [['k', Buffer.from('1')], ['k', Buffer.from('2')]] });
    const record = decodeRecord(new KafkajsDecoderClass(body), { firstOffset: '100', firstTimestamp: '1000', timestampType: CREATE_TIME });
    expect(record).toMatchObject({ offset: '102', timestamp: '1005', key: null, headers: { k: [Buffer.from('1'), Buffer.from('2')] } });
  });
});

describe("the producer's record encoder", () => {
  const kafkajsFile = (...path: string[]) => join(require.resolve('kafkajs'), '..', 'src', ...path);
  /* eslint-disable @typescript-eslint/no-require-imports */
  const originalEncode = require(kafkajsFile('protocol', 'recordBatch', 'record', 'v0', 'index')) as (record: RecordToEncode) => KafkajsEncoder;
  const KafkajsEncoderClass = require(kafkajsFile('protocol', 'encoder')) as new () => KafkajsEncoder & { writeEncoderArray(records: KafkajsEncoder[]): unknown };
  /* eslint-enable @typescript-eslint/no-require-imports */

  /** The bytes an encoder gives for `record` (or its error), and whether a batch takes them as kafkajs's own. */
  const outcome = (encode: (record: RecordToEncode) => KafkajsEncoder, record: RecordToEncode) => {
    try {
      const encoder = encode(record);
      const batch = new KafkajsEncoderClass();
      batch.writeEncoderArray([encoder, encoder]);
      return { bytes: encoder.buffer.toString('hex'), inBatch: batch.buffer.toString('hex'), isEncoder: encoder instanceof KafkajsEncoderClass };
    } catch (error) {
      return { error: String(error) };
    }
  };

  it('writes the bytes kafkajs 2.2.4 writes for every key, value, delta and header, or fails as it does', () => {
    const random = seededRandom(11);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
    const text = () => Array.from({ length: Math.floor(random() * 300) }, () => String.fromCharCode(random() < 0.9 ? 32 + Math.floor(random() * 95) : 128 + Math.floor(random() * 4000))).join('');
    const field = (): unknown => pick([null, undefined, '', 'c-000042', text(), Buffer.alloc(0), Buffer.from(text()), Buffer.alloc(200, 7), 42]);
    const deltas = [0, 1, -1, 63, -64, 64, 8191, -8192, 2 ** 47, -(2 ** 47), 2 ** 48 - 1, 2 ** 48, -(2 ** 48), 2 ** 52, -(2 ** 52) - 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1.5, Number.NaN, undefined];
    let fast = 0;
    for (let n = 0; n < 4000; n += 1) {
      const record: RecordToEncode = {
        offsetDelta: random() < 0.9 ? Math.floor(random() * 3000) : pick([undefined, 0, 2 ** 29, 2 ** 30 - 1]),
        timestampDelta: random() < 0.5 ? pick(deltas) : Math.floor((random() - 0.5) * 2 ** (1 + Math.floor(random() * 50))),
        key: field(),
        value: field(),
        headers: pick([undefined, undefined, undefined, {}, { trace: 't' }, { k: ['a', 'b'] }]),
      };
      const ours = outcome(encodeRecord, record);
      expect([record, ours]).toEqual([record, outcome(originalEncode, record)]);
      if ('bytes' in ours && record.headers === undefined && typeof record.key !== 'number' && typeof record.value !== 'number') fast += 1;
    }
    expect(fast).toBeGreaterThan(1200); // many records went the fast way and were compared as bytes
  });
});
