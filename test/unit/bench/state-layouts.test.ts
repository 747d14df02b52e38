import { bucketWrites, keyWrites, layoutFigures, type LayoutInput } from '../../../bench/state-layouts';
import { partitionOf } from '../../../services/kit/partitioner';

const customers = Array.from({ length: 3000 }, (_, i) => `r1-c${i}`);
const input: LayoutInput = {
  customers: customers.length,
  partitions: 12,
  trigger: new Map(customers.map((c) => [c, Buffer.from([0x82, 1, 2])])),
  segment: new Map(customers.slice(0, 2000).map((c) => [c, Buffer.from([0x92, 3])])),
  triggerTimers: new Map([[`${customers[0]}|cart_abandoned`, 1000]]),
  wakeups: new Map(customers.slice(0, 1500).map((c) => [c, 2000])),
  members: new Map([['engaged', new Set(customers.slice(0, 700))]]),
  triggerTtlMs: 86_400_000,
  segmentTtlMs: 31_622_400_000,
};
const tagOf = (key: string) => /^\{[^}]*\}/.exec(key)?.[0];

describe('the bucketed layout of state-layouts', () => {
  const { writes, bucketOfCustomer } = bucketWrites(input, 'b0a1z', 100);

  it("writes each customer's entries, and no more, under its partition's hash tag and one bucket index", () => {
    const entries = writes.filter((w) => w.kind !== 'timers');
    expect(entries).toHaveLength(3000 + 2000 + 1500 + 700);
    for (const { command } of entries) {
      const [, key, member] = command as [string, string, string];
      const customer = command[0] === 'zadd' ? String(command[3]) : member;
      const p = partitionOf(customer, 12);
      expect(tagOf(key)).toMatch(new RegExp(`:${p}\\}$`));
      expect(key.split(':').pop()).toBe(bucketOfCustomer(customer).split(':').pop());
    }
  });

  it('keeps buckets near the size asked for, far under the listpack limit', () => {
    const sizes = new Map<string, number>();
    for (const w of writes.filter((w) => w.kind === 'trigger_state')) sizes.set(w.key, (sizes.get(w.key) ?? 0) + 1);
    expect(sizes.size).toBeGreaterThanOrEqual(30); // 3,000 customers, 12 partitions of about 250: 3 buckets each
    expect(Math.max(...sizes.values())).toBeLessThan(200);
  });

  it('has the same writes as the key layout, in fewer keys', () => {
    const keys = keyWrites(input, 'b0a1z');
    const count = (ws: typeof writes, kind: string) => ws.filter((w) => w.kind === kind).length;
    for (const kind of ['trigger_state', 'segment_state', 'timers', 'wakeups', 'sets']) expect(count(writes, kind)).toBe(count(keys, kind));
    expect(new Set(writes.map((w) => w.key)).size).toBeLessThan(new Set(keys.map((w) => w.key)).size / 10);
  });
});

describe('layoutFigures', () => {
  it('refuses a bucket size or a port it cannot use before starting anything, naming the flag', async () => {
    await expect(layoutFigures(input, 19310, 0)).rejects.toThrow('--bucket 0: give customers per bucket, an integer from 1 to 512');
    await expect(layoutFigures(input, 19310, 513)).rejects.toThrow('--bucket 513');
    await expect(layoutFigures(input, Number.NaN, 100)).rejects.toThrow('--layout-port NaN: give a free TCP port');
  });
});
