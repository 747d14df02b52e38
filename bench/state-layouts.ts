/**
 * Redis memory of two layouts of the keys a run leaves, on a private redis-server (so that its
 * settings and FLUSHALL touch nothing else), for `node dist/bench/state-size.js --layouts`:
 *
 *  - `keys`, the services' layout: a key per customer state with its TTL, one sorted set of
 *    trigger timers and one of segment wake-ups per partition, a set per segment and partition;
 *  - `buckets`, fewer structures per customer: a partition's customers spread over buckets by a
 *    hash of their id, about `perBucket` to a bucket, and each bucket's states, wake-ups and
 *    segment members in small hashes and sorted sets, which Redis keeps as listpacks (a few
 *    bytes of overhead an entry instead of a key's or a member's) while they hold at most
 *    LISTPACK_ENTRIES entries of at most LISTPACK_VALUE bytes. The private server is started
 *    with those limits; Redis's defaults (128 entries, 64 bytes) would not keep a state. The
 *    trigger timers stay one sorted set per partition (few: 7 B a customer).
 *
 * A bucketed state has no TTL of its own (Redis 7.0 cannot expire a hash field), and a write
 * of a listpack entry moves the bucket's bytes after it; each layout's Redis time per read and
 * per write of a trigger state (INFO commandstats) is measured beside its bytes. A measurement
 * of the layout, not an implementation: no service reads or writes buckets.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { parseTimerId } from '../services/core/triggers';
import { PartitionKeys } from '../services/kit/partition-state';
import { partitionOf } from '../services/kit/partitioner';
import { membersSet } from '../services/segmenter/adapter';
import { commandMicros, PrivateRedis } from './redis-nodes';

/** Entries and value bytes up to which the private server keeps a hash or sorted set as a listpack. */
export const LISTPACK_ENTRIES = 512;
export const LISTPACK_VALUE = 4096;

export interface LayoutInput {
  /** Active customers: the divisor of every per-customer figure. */
  customers: number;
  partitions: number;
  trigger: Map<string, string | Buffer>;
  segment: Map<string, string | Buffer>;
  triggerTimers: Map<string, number>;
  wakeups: Map<string, number>;
  members: Map<string, Set<string>>;
  triggerTtlMs: number;
  segmentTtlMs: number;
}

export interface LayoutFigure {
  /** MEMORY USAGE (SAMPLES 0) of every key, by kind, per active customer. */
  bytes_per_customer: Record<string, number>;
  bytes_per_customer_total: number;
  /** used_memory after the writes less before, per active customer (includes Redis's key tables). */
  used_memory_per_customer: number;
  keys: number;
  /** Keys by OBJECT ENCODING. */
  encodings: Record<string, number>;
  /** Redis's own time per call (INFO commandstats) of reading and of writing one trigger state. */
  read_us: number;
  write_us: number;
}

/** FNV-1a, 32 bits: a customer's bucket within its partition. */
function bucketOf(customer: string, buckets: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < customer.length; i += 1) {
    h ^= customer.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % buckets;
}

export type Kind = 'trigger_state' | 'segment_state' | 'timers' | 'wakeups' | 'sets';

/** One write of the layout: the key it makes and the command that makes it. */
export interface Write {
  kind: Kind;
  key: string;
  command: [string, ...Array<string | number | Buffer>];
}

/** The writes of the services' layout. */
export function keyWrites(input: LayoutInput, prefix: string): Write[] {
  const trig = new PartitionKeys(prefix, 'trigger');
  const seg = new PartitionKeys(prefix, 'segmenter');
  const part = (customer: string) => partitionOf(customer, input.partitions);
  const writes: Write[] = [];
  for (const [customer, value] of input.trigger) {
    const key = trig.customer(part(customer), customer);
    writes.push({ kind: 'trigger_state', key, command: ['set', key, value, 'PX', input.triggerTtlMs] });
  }
  for (const [customer, value] of input.segment) {
    const key = seg.customer(part(customer), customer);
    writes.push({ kind: 'segment_state', key, command: ['set', key, value, 'PX', input.segmentTtlMs] });
  }
  writes.push(...timerWrites(input, trig));
  for (const [customer, due] of input.wakeups) {
    const key = seg.timers(part(customer));
    writes.push({ kind: 'wakeups', key, command: ['zadd', key, due, customer] });
  }
  for (const [segment, members] of input.members) {
    for (const customer of members) {
      const key = seg.set(part(customer), membersSet(segment));
      writes.push({ kind: 'sets', key, command: ['sadd', key, customer] });
    }
  }
  return writes;
}

function timerWrites(input: LayoutInput, trig: PartitionKeys): Write[] {
  return [...input.triggerTimers].map(([id, due]) => {
    const key = trig.timers(partitionOf(parseTimerId(id)?.customerId ?? id, input.partitions));
    return { kind: 'timers', key, command: ['zadd', key, due, id] };
  });
}

/** The writes of the bucketed layout, `perBucket` customers to a bucket on average. */
export function bucketWrites(input: LayoutInput, prefix: string, perBucket: number): { writes: Write[]; bucketOfCustomer: (customer: string) => string } {
  const trig = new PartitionKeys(prefix, 'trigger');
  const seg = new PartitionKeys(prefix, 'segmenter');
  const perPartition = new Map<number, Set<string>>();
  for (const customer of [...input.trigger.keys(), ...input.segment.keys(), ...input.wakeups.keys()]) {
    const p = partitionOf(customer, input.partitions);
    let set = perPartition.get(p);
    if (set === undefined) perPartition.set(p, (set = new Set()));
    set.add(customer);
  }
  const buckets = new Map([...perPartition].map(([p, customers]) => [p, Math.max(1, Math.ceil(customers.size / perBucket))]));
  const at = (customer: string) => {
    const p = partitionOf(customer, input.partitions);
    return { p, b: bucketOf(customer, buckets.get(p) ?? 1) };
  };
  const bucketOfCustomer = (customer: string) => {
    const { p, b } = at(customer);
    return `${trig.tag(p)}:b:${b}`;
  };
  const writes: Write[] = [];
  for (const [customer, value] of input.trigger) {
    const key = bucketOfCustomer(customer);
    writes.push({ kind: 'trigger_state', key, command: ['hset', key, customer, value] });
  }
  for (const [customer, value] of input.segment) {
    const { p, b } = at(customer);
    const key = `${seg.tag(p)}:b:${b}`;
    writes.push({ kind: 'segment_state', key, command: ['hset', key, customer, value] });
  }
  writes.push(...timerWrites(input, trig));
  for (const [customer, due] of input.wakeups) {
    const { p, b } = at(customer);
    const key = `${seg.tag(p)}:w:${b}`;
    writes.push({ kind: 'wakeups', key, command: ['zadd', key, due, customer] });
  }
  for (const [segment, members] of input.members) {
    for (const customer of members) {
      const { p, b } = at(customer);
      const key = `${seg.set(p, membersSet(segment))}:${b}`;
      writes.push({ kind: 'sets', key, command: ['hset', key, customer, ''] });
    }
  }
  return { writes, bucketOfCustomer };
}

/** Runs `writes` in order, in pipelines of 5,000. */
export async function writeAll(redis: Redis, writes: readonly Write[]): Promise<void> {
  for (let i = 0; i < writes.length; i += 5000) {
    const pipe = redis.pipeline();
    for (const { command } of writes.slice(i, i + 5000)) pipe.call(...command);
    await pipe.exec();
  }
}

/** The distinct keys `writes` make: MEMORY USAGE (SAMPLES 0) summed by kind, and the keys by OBJECT ENCODING. */
export async function usageByKind(redis: Redis, writes: readonly Write[]): Promise<{ keys: string[]; bytes: Record<string, number>; encodings: Record<string, number> }> {
  const byKind = new Map<string, Kind>(writes.map(({ key, kind }) => [key, kind]));
  const keys = [...byKind.keys()];
  const bytes: Record<string, number> = {};
  const encodings: Record<string, number> = {};
  for (let i = 0; i < keys.length; i += 1000) {
    const pipe = redis.pipeline();
    for (const key of keys.slice(i, i + 1000)) pipe.memory('USAGE', key, 'SAMPLES', '0').object('ENCODING', key);
    const results = (await pipe.exec()) ?? [];
    keys.slice(i, i + 1000).forEach((key, j) => {
      const kind = byKind.get(key) as Kind;
      bytes[kind] = (bytes[kind] ?? 0) + Number(results[2 * j]?.[1] ?? 0);
      const encoding = String(results[2 * j + 1]?.[1]);
      encodings[encoding] = (encodings[encoding] ?? 0) + 1;
    });
  }
  return { keys, bytes, encodings };
}

async function measure(server: PrivateRedis, redis: Redis, input: LayoutInput, writes: Write[], touch: (customer: string, value: string | Buffer) => Array<[string, ...Array<string | number | Buffer>]>, readCommand: string, writeCommand: string): Promise<LayoutFigure> {
  await redis.flushall();
  const before = await server.usedMemory();
  await writeAll(redis, writes);
  const after = await server.usedMemory();
  const { keys, bytes, encodings } = await usageByKind(redis, writes);
  // A read and a write of every trigger state, as an apply would: Redis's own time per call.
  await redis.config('RESETSTAT');
  const states = [...input.trigger];
  for (let i = 0; i < states.length; i += 2000) {
    const pipe = redis.pipeline();
    for (const [customer, value] of states.slice(i, i + 2000)) for (const command of touch(customer, value)) pipe.call(...command);
    await pipe.exec();
  }
  const calls = await commandMicros(redis);
  const perCustomer = (n: number) => Math.round(n / input.customers);
  return {
    bytes_per_customer: Object.fromEntries(Object.entries(bytes).map(([kind, n]) => [kind, perCustomer(n)])),
    bytes_per_customer_total: perCustomer(Object.values(bytes).reduce((a, b) => a + b, 0)),
    used_memory_per_customer: perCustomer(after - before),
    keys: keys.length,
    encodings,
    read_us: calls[readCommand] ?? NaN,
    write_us: calls[writeCommand] ?? NaN,
  };
}

/** Both layouts, each written to an empty private redis-server on `port`, measured, and flushed. */
export async function layoutFigures(input: LayoutInput, port: number, perBucket: number): Promise<{ keys: LayoutFigure; buckets: LayoutFigure }> {
  if (!(Number.isInteger(perBucket) && perBucket >= 1 && perBucket <= LISTPACK_ENTRIES)) throw new Error(`--bucket ${perBucket}: give customers per bucket, an integer from 1 to ${LISTPACK_ENTRIES}`);
  if (!(Number.isInteger(port) && port >= 1 && port <= 65_535)) throw new Error(`--layout-port ${port}: give a free TCP port for the private redis-server, an integer from 1 to 65535`);
  const dir = await mkdtemp(join(tmpdir(), 'kairos-layouts-'));
  const config = ['--hash-max-listpack-entries', String(LISTPACK_ENTRIES), '--hash-max-listpack-value', String(LISTPACK_VALUE), '--zset-max-listpack-entries', String(LISTPACK_ENTRIES), '--zset-max-listpack-value', String(LISTPACK_VALUE)];
  const server = new PrivateRedis(dir, [port], false, config);
  try {
    await server.up();
    const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: false });
    try {
      const prefix = 'b0a1z'; // as long as the bench's prefixes
      const trig = new PartitionKeys(prefix, 'trigger');
      const keys = await measure(server, redis, input, keyWrites(input, prefix), (customer, value) => {
        const key = trig.customer(partitionOf(customer, input.partitions), customer);
        return [['get', key], ['set', key, value, 'PX', input.triggerTtlMs]];
      }, 'get', 'set');
      const bucketed = bucketWrites(input, prefix, perBucket);
      const buckets = await measure(server, redis, input, bucketed.writes, (customer, value) => {
        const key = bucketed.bucketOfCustomer(customer);
        return [['hget', key, customer], ['hset', key, customer, value]];
      }, 'hget', 'hset');
      await redis.flushall();
      return { keys, buckets };
    } finally {
      redis.disconnect();
    }
  } finally {
    await server.down();
    await rm(dir, { recursive: true, force: true });
  }
}
