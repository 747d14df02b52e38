import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BROKERS, collect, createTopics, exited, randomTopic, readMessages, ROOT } from '../../support/stack';

const MODULE = join(ROOT, 'dist', 'services', 'kit', 'kafkajs.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const kafkajsMurmur2 = require(join(ROOT, 'node_modules', 'kafkajs', 'src', 'producer', 'partitioners', 'default', 'murmur2')) as (key: Buffer) => number;
const cached = (file: string) => `require.cache[require.resolve('kafkajs/src/producer/${file}', { paths: [process.env.ROOT] })]`;

/** Runs `script` in a Node process of its own (jest's module registry is not Node's), with the stack's brokers. */
async function run(script: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // kafkajs's retrier sets negative timeouts (the services silence that warning, services/kit/node-warnings.ts).
  const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', '-e', script], { env: { ...process.env, ROOT, BROKERS: BROKERS.join(','), KAFKAJS_NO_PARTITIONER_WARNING: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  const { code } = await exited(child);
  return { code, stdout: stdout.text().trim(), stderr: stderr.text() };
}

describe('kafkajs loaded through services/kit/kafkajs', () => {
  it("puts its grouping and murmur2 in Node's module cache before kafkajs loads, and a producer sends a large batch for one partition in order, where the Java client's hash puts each key", async () => {
    const topic = randomTopic('grouping');
    await createTopics([topic], 3);
    const script = `
      const kit = require(${JSON.stringify(MODULE)});
      const grouping = ${cached('groupMessagesPerPartition')};
      const murmur2 = ${cached('partitioners/default/murmur2')};
      console.log(kit.kafkajsReplacements, grouping?.exports === kit.groupMessagesPerPartition, murmur2?.exports === kit.murmur2);
      (async () => {
        const kafka = new kit.Kafka({ brokers: process.env.BROKERS.split(','), logLevel: kit.logLevel.NOTHING });
        const producer = kafka.producer({ createPartitioner: kit.Partitioners.DefaultPartitioner, idempotent: true });
        await producer.connect();
        const messages = Array.from({ length: 3000 }, (_, n) => ({ key: n % 10 === 0 ? 'c-' + n : 'c-same', value: String(n) }));
        await producer.sendBatch({ acks: -1, topicMessages: [{ topic: process.env.TOPIC, messages }] });
        await producer.disconnect();
      })().catch((error) => { console.error(error); process.exit(1); });`;
    const result = await run(script, { TOPIC: topic });
    expect(result).toEqual({ code: 0, stdout: 'installed true true', stderr: '' });

    const read = await readMessages(topic, 3000);
    expect(read).toHaveLength(3000);
    const same = read.filter((m) => m.key?.toString() === 'c-same');
    expect(new Set(same.map((m) => m.partition)).size).toBe(1);
    // Where a Java producer puts each key: positive murmur2 modulo the 3 partitions (murmur2 of "c-same" computed by kafkajs's own file).
    for (const m of read) expect([m.key?.toString(), m.partition]).toEqual([m.key?.toString(), (kafkajsMurmur2(m.key as Buffer) & 0x7fffffff) % 3]);
    // Each partition holds its records in the order they were given.
    for (const partition of [0, 1, 2]) {
      const values = read.filter((m) => m.partition === partition).sort((a, b) => Number(a.offset) - Number(b.offset)).map((m) => Number(m.value?.toString()));
      expect(values).toEqual([...values].sort((a, b) => a - b));
    }
    expect(same.map((m) => Number(m.value?.toString())).sort((a, b) => a - b)).toEqual(Array.from({ length: 3000 }, (_, n) => n).filter((n) => n % 10 !== 0));
  });

  it("encodes and decodes records with its own record encoder and decoder: every record arrives as sent, and reads as kafkajs's own decoder reads it", async () => {
    const topic = randomTopic('record-decoder');
    await createTopics([topic], 3);
    const script = `
      const kit = require(${JSON.stringify(MODULE)});
      const cachedRecord = (file) => require.cache[require.resolve('kafkajs/src/protocol/recordBatch/record/v0/' + file, { paths: [process.env.ROOT] })];
      console.log(kit.kafkajsReplacements, cachedRecord('decoder')?.exports === kit.decodeRecord, cachedRecord('index')?.exports === kit.encodeRecord);
      (async () => {
        const kafka = new kit.Kafka({ brokers: process.env.BROKERS.split(','), logLevel: kit.logLevel.NOTHING });
        const producer = kafka.producer({ createPartitioner: kit.Partitioners.DefaultPartitioner, idempotent: true });
        await producer.connect();
        const messages = JSON.parse(require('node:fs').readFileSync(process.env.MESSAGES_FILE, 'utf8'));
        await producer.send({ acks: -1, topic: process.env.TOPIC, messages });
        await producer.disconnect();
        const consumer = kafka.consumer({ groupId: 'record-decoder-' + Date.now() });
        const seen = [];
        await consumer.connect();
        await consumer.subscribe({ topic: process.env.TOPIC, fromBeginning: true });
        await new Promise((resolve) => consumer.run({ eachBatch: async ({ batch }) => {
          for (const m of batch.messages) seen.push({ partition: batch.partition, offset: m.offset, timestamp: m.timestamp, key: m.key?.toString() ?? null, value: m.value?.toString() ?? null, headers: Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v)])) });
          if (seen.length >= 2000) resolve();
        } }));
        await consumer.disconnect();
        console.log(JSON.stringify(seen));
      })().catch((error) => { console.error(error); process.exit(1); });`;
    // Timestamps hours apart and out of order within a batch (deltas of both signs, several bytes
    // long); keys and values null, text and non-ASCII text; some records with headers (kafkajs's own code).
    const sent = Array.from({ length: 2000 }, (_, n) => ({
      key: n % 7 === 0 ? null : `c-${n % 50}`,
      value: n % 11 === 0 ? null : n % 3 === 0 ? `v${n}-é漢😀` : `v${n}`,
      timestamp: String(1733380000000 + (((n * 7919) % 2000) - 1000) * 36000),
      headers: n % 5 === 0 ? { trace: `t${n}`, repeated: ['a', 'b'] } : undefined,
    }));
    const messagesFile = join(mkdtempSync(join(tmpdir(), 'kairos-records-')), 'messages.json');
    writeFileSync(messagesFile, JSON.stringify(sent));
    const result = await run(script, { TOPIC: topic, MESSAGES_FILE: messagesFile });
    rmSync(dirname(messagesFile), { recursive: true });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const [state, ...rest] = result.stdout.split('\n');
    expect(state).toBe('installed true true');
    type Seen = { partition: number; offset: string; timestamp: string; key: string | null; value: string | null; headers: Record<string, string | string[]> };
    const ours = (JSON.parse(rest.join('\n')) as Seen[]).sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
    // The same records read in this process, whose module registry (jest's) gives kafkajs its own decoder.
    const theirs: Seen[] = (await readMessages(topic, 2000))
      .map((m) => ({ partition: m.partition, offset: m.offset, timestamp: m.timestamp, key: m.key?.toString() ?? null, value: m.value?.toString() ?? null, headers: Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v)])) }))
      .sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
    expect(ours).toHaveLength(2000);
    expect(ours).toEqual(theirs);
    // Each record as it was sent (what both decoders agree on could still be a wrong encoding).
    const asText = (m: { key: string | null; value: string | null; timestamp: string; headers: Record<string, string | string[]> }) => JSON.stringify([m.key, m.value, m.timestamp, m.headers]);
    expect(ours.map(asText).sort()).toEqual(sent.map((m) => asText({ ...m, headers: m.headers ?? {} })).sort());
    expect(ours.filter((m) => m.headers.trace !== undefined)).toHaveLength(400);
    expect(new Set(ours.map((m) => m.timestamp)).size).toBeGreaterThan(1000);
  });

  it('says "late" when kafkajs was loaded first (its producer then keeps its own code)', async () => {
    const result = await run(`require(${JSON.stringify(join(ROOT, 'node_modules', 'kafkajs'))}); console.log(require(${JSON.stringify(MODULE)}).kafkajsReplacements);`);
    expect(result).toEqual({ code: 0, stdout: 'late', stderr: '' });
  });
});
