/**
 * Helpers for integration tests against the real local stack (started by `make test` or
 * `make up`): random topic names, topic creation, schema registration, polling waits.
 */
import { randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Kafka, logLevel, Partitioners, type Admin, type KafkaMessage, type Producer } from '../../services/kit/kafkajs';
import { AvroCodec, readSchema, valueSubject, type SchemaName } from '../../services/kit/codec';
import { createTopicsReady, readToEnd, topicEnds, withAdmin as withKafkaAdmin } from '../../services/kit/kafka';

export const ROOT = join(__dirname, '..', '..');
export const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
export const REGISTRY_URL = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export const kafka = new Kafka({ brokers: BROKERS, clientId: 'kairos-tests', logLevel: logLevel.NOTHING });

/** A topic name no other test (or earlier run) uses. */
export function randomTopic(prefix: string): string {
  return `test.${prefix}.${randomUUID().slice(0, 8)}`;
}

/** Runs `fn` with a connected admin client (see the kit's withAdmin). */
export function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
  return withKafkaAdmin(kafka, fn);
}

/**
 * The global under which the integration tests' environment (kafka-test-environment.ts) gives
 * each test file a list of the topics it created, and deletes them after the file's last hook,
 * so a developer's long-running stack does not gather hundreds of test topics.
 */
export const CREATED_TOPICS_GLOBAL = '__kairosCreatedTopics';

/** Creates `topics` (those not there yet) and waits until every partition has a leader. */
export async function createTopics(topics: string[], numPartitions = 3): Promise<void> {
  const created = (globalThis as Record<string, unknown>)[CREATED_TOPICS_GLOBAL];
  if (Array.isArray(created)) created.push(...topics);
  await withAdmin((admin) =>
    createTopicsReady(admin, topics.map((topic) => ({ topic, numPartitions }))),
  );
}

/**
 * Deletes those of `topics` that exist on the tests' broker; resolves with them. A client of its
 * own with short retries, so a broker that is gone fails this in seconds instead of holding the
 * caller (a test environment's teardown) for kafkajs's default retry schedule.
 */
export async function deleteTopicsPresent(topics: readonly string[]): Promise<string[]> {
  const wanted = new Set(topics);
  const client = new Kafka({ brokers: BROKERS, clientId: 'kairos-tests-cleanup', logLevel: logLevel.NOTHING, connectionTimeout: 3000, retry: { retries: 2 } });
  return withKafkaAdmin(client, async (admin) => {
    const present = (await admin.listTopics()).filter((topic) => wanted.has(topic));
    if (present.length > 0) await admin.deleteTopics({ topics: present, timeout: 30_000 });
    return present;
  });
}

/** Registers the design's schema `name` for `topic`'s values; returns its id. */
export async function registerValueSchema(codec: AvroCodec, topic: string, name: SchemaName): Promise<number> {
  return codec.register(valueSubject(topic), readSchema(name));
}

export async function connectedProducer(): Promise<Producer> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  return producer;
}

/** Polls `check` every 100 ms until it returns a value other than undefined/false. Never sleeps blindly. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const result = await check();
      if (result !== undefined && result !== false) return result;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Reads every record of `topic` from the beginning until `count` have arrived. */
export async function readMessages(topic: string, count: number, timeoutMs = 30000): Promise<Array<KafkaMessage & { partition: number }>> {
  // read_committed (the kafkajs default, spelled out): what analytics readers of the outputs see.
  const consumer = kafka.consumer({ groupId: `test-reader-${randomUUID()}`, readUncommitted: false });
  const got: Array<KafkaMessage & { partition: number }> = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message, partition }) => void got.push({ ...message, partition }) });
    await waitFor(`${count} records on ${topic} (have ${got.length})`, () => got.length >= count, timeoutMs);
    return got;
  } finally {
    await consumer.disconnect();
  }
}

/** Committed offset per partition of `groupId` on `topic` (-1 where nothing was committed). */
export async function committedOffsets(groupId: string, topic: string): Promise<Map<number, number>> {
  const offsets = await withAdmin((admin) => admin.fetchOffsets({ groupId, topics: [topic] }));
  return new Map(offsets[0].partitions.map((p) => [p.partition, Number(p.offset)]));
}

/** Starts a compiled tool or service (dist/...) as a child process with the test stack's env. */
export function spawnNode(script: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [join(ROOT, 'dist', script), ...args], {
    env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Resolves with the exit code (or signal) of a child process. */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** Collects a stream's text. */
export function collect(stream: NodeJS.ReadableStream | null): { text: () => string } {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => (text += chunk));
  return { text: () => text };
}

/** Runs `node dist/<script> ...args` (spawnNode) to its end: its exit code and what it printed. */
export async function runNode(script: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawnNode(script, args, env);
  const out = collect(child.stdout);
  const err = collect(child.stderr);
  const { code } = await exited(child);
  return { code, out: out.text(), err: err.text() };
}

/** The state tool (services/tools/state.ts) run to its end: what it printed; a failure throws with its stderr. */
export async function stateTool(args: string[], env: Record<string, string>): Promise<string> {
  const { code, out, err } = await runNode('services/tools/state.js', args, env);
  if (code !== 0) throw new Error(`state ${args.join(' ')} exited ${code}: ${err}`);
  return out;
}

/**
 * Waits until `groupId` has committed every record currently in `topic` (its effects are then
 * durable): up to the high watermarks, so also past a transaction committed a moment ago whose
 * markers the broker has yet to write (see topicEnds).
 */
export async function waitCaughtUp(groupId: string, topic: string, timeoutMs = 60000): Promise<void> {
  const highs = await topicEnds(kafka, topic);
  await waitFor(
    `group ${groupId} to commit all of ${topic}`,
    async () => {
      const committed = await committedOffsets(groupId, topic);
      return highs.every((p) => p.high === '0' || (committed.get(p.partition) ?? -1) >= Number(p.high));
    },
    timeoutMs,
  );
}

/**
 * Every committed record in `topic` right now, as a `read_committed` reader sees it (aborted
 * transactions and transaction markers are skipped): reads until its position passed the high
 * watermarks taken at the start, so a transaction committed before the call is in it, markers
 * written or not. An open transaction holds it until that ends.
 */
export async function readAll(topic: string, timeoutMs = 30000): Promise<Array<KafkaMessage & { partition: number }>> {
  const got: Array<KafkaMessage & { partition: number }> = [];
  await readToEnd(kafka, topic, { groupId: `test-reader-${randomUUID()}`, timeoutMs, onMessage: (message, partition) => void got.push({ ...message, partition }) });
  return got;
}

/** An IANA zone in which it is about noon now, so quiet hours never defer a test's sends. */
export function noonZone(now: number): string {
  let offset = 12 - new Date(now).getUTCHours();
  if (offset > 14) offset -= 24;
  if (offset < -12) offset += 24;
  return offset === 0 ? 'Etc/GMT' : offset > 0 ? `Etc/GMT-${offset}` : `Etc/GMT+${-offset}`;
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
