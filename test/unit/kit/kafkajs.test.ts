import { join } from 'node:path';
import { groupMessagesPerPartition, murmur2, type GroupingInput } from '../../../services/kit/kafkajs';
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
