/**
 * Publishes BehaviorEvents or CustomerProfiles from a JSON-lines file through the schema
 * registry: the first tool a producer team uses.
 *
 *   npm run produce -- --kind events   --file events.jsonl
 *   npm run produce -- --kind profiles --file profiles.jsonl
 *   cat events.jsonl | npm run produce -- --kind events
 *
 * One JSON object per line, with the schema's field names. Optional fields may be left out
 * (they default to null, maps to {}); times may be epoch milliseconds or ISO-8601 strings.
 * For profiles, `{"customer_id": "c-1", "tombstone": true}` publishes a tombstone (erasure).
 * Records are keyed by customer_id. A bad line, or one over the limits the services apply
 * (core/limits.ts, docs/producers.md), stops the run before anything is sent.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { Message } from 'kafkajs';
import type { Type } from 'avsc';
import { AvroCodec, readSchema, recordTypes, valueSubject, type SchemaName } from '../kit/codec';
import { commonShape, loadConfig, runMain } from '../kit/config';
import { createIdempotentProducer, createKafka } from '../kit/kafka';
import { createLogger } from '../kit/logger';
import { behaviorEventLimitProblem, customerProfileLimitProblem, recordBytesProblem, recordKeyProblem } from '../core/limits';
import {
  behaviorEvent,
  behaviorEventProblem,
  customerProfile,
  customerProfileProblem,
  type BehaviorEvent,
  type CustomerProfile,
} from '../core/types';

const USAGE = 'usage: npm run produce -- --kind events|profiles [--file FILE.jsonl] [--topic TOPIC] [--batch 500]';

/** Magic byte and schema id in front of the Avro body (Confluent wire format). */
const CONFLUENT_HEADER_BYTES = 5;

const TIME_FIELDS: Record<'events' | 'profiles', string> = { events: 'occurred_at', profiles: 'updated_at' };

/** One line of input turned into a record to send, or a reason naming the line and field. */
export function parseLine(
  kind: 'events' | 'profiles',
  line: string,
  lineNumber: number,
  type: Type,
): { key: string; value: BehaviorEvent | CustomerProfile | null } {
  const where = `line ${lineNumber}`;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(line) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${where}: not JSON (${(err as Error).message}); expected one JSON object per line`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${where}: expected a JSON object`);
  }
  if (typeof raw.customer_id !== 'string' || raw.customer_id === '') {
    throw new Error(`${where}: customer_id must be a non-empty string (it is the record key)`);
  }
  const keyProblem = recordKeyProblem(raw.customer_id, 'customer_id');
  if (keyProblem) throw new Error(`${where}: ${keyProblem} (the limits at the edge are listed in docs/producers.md, "Limits")`);
  if (kind === 'profiles' && raw.tombstone === true) return { key: raw.customer_id, value: null };
  const timeField = TIME_FIELDS[kind];
  const time = raw[timeField];
  if (typeof time === 'string') {
    const ms = Date.parse(time);
    if (Number.isNaN(ms)) throw new Error(`${where}: ${timeField} ${JSON.stringify(time)} is not an ISO-8601 time or epoch ms`);
    raw[timeField] = ms;
  }
  const value =
    kind === 'events'
      ? behaviorEvent(raw as unknown as BehaviorEvent)
      : customerProfile(raw as unknown as CustomerProfile);
  const invalid: string[] = [];
  type.isValid(value, { errorHook: (path, v) => invalid.push(`${path.join('.')}=${JSON.stringify(v)}`) });
  if (invalid.length > 0) {
    throw new Error(`${where}: does not match the ${type.name} schema: ${invalid.join(', ')}; see schemas/${type.name?.split('.').pop()}.avsc`);
  }
  // The services' own limits (core/limits.ts): over them the record would only be dead-lettered.
  const overLimit =
    (kind === 'events' ? behaviorEventLimitProblem(value as BehaviorEvent) : customerProfileLimitProblem(value as CustomerProfile)) ??
    recordBytesProblem(CONFLUENT_HEADER_BYTES + type.toBuffer(value).length);
  if (overLimit) throw new Error(`${where}: ${overLimit} (the limits at the edge are listed in docs/producers.md, "Limits")`);
  const problem =
    kind === 'events' ? behaviorEventProblem(value as BehaviorEvent) : customerProfileProblem(value as CustomerProfile);
  if (problem) throw new Error(`${where}: ${problem}`);
  return { key: raw.customer_id, value };
}

async function* lines(file: string | undefined): AsyncGenerator<string> {
  const input = file ? createReadStream(file, 'utf8') : process.stdin;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) yield line;
}

async function produce(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kind: { type: 'string' },
      file: { type: 'string' },
      topic: { type: 'string' },
      batch: { type: 'string', default: '500' },
    },
  });
  const kind = values.kind;
  if (kind !== 'events' && kind !== 'profiles') throw new Error(`--kind is ${JSON.stringify(kind)}; ${USAGE}`);
  const batchSize = Number(values.batch);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`--batch ${values.batch} is not a positive integer`);
  const config = loadConfig(commonShape);
  const logger = createLogger({ service: 'produce', level: config.LOG_LEVEL });
  const schemaName: SchemaName = kind === 'events' ? 'BehaviorEvent' : 'CustomerProfile';
  const topic = values.topic ?? (kind === 'events' ? config.TOPIC_BEHAVIOR_EVENTS : config.TOPIC_CUSTOMER_PROFILES);
  const type = recordTypes()[schemaName];

  // Parse everything first: a bad line stops the run before anything is published.
  const messages: Message[] = [];
  const codec = AvroCodec.connect(config.SCHEMA_REGISTRY_URL);
  const schemaId = await codec.idOf(valueSubject(topic), readSchema(schemaName));
  let lineNumber = 0;
  for await (const line of lines(values.file)) {
    lineNumber += 1;
    if (line.trim() === '') continue;
    const { key, value } = parseLine(kind, line, lineNumber, type);
    messages.push({ key, value: value === null ? null : codec.encode(schemaId, type, value) });
  }

  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'kairos-produce', logger });
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  const started = Date.now();
  let sent = 0;
  let lastReport = 0;
  try {
    for (let i = 0; i < messages.length; i += batchSize) {
      const chunk = messages.slice(i, i + batchSize);
      await producer.send({ topic, acks: -1, messages: chunk });
      sent += chunk.length;
      if (Date.now() - lastReport > 1000 || sent === messages.length) {
        lastReport = Date.now();
        const seconds = (Date.now() - started) / 1000;
        process.stderr.write(`produced ${sent}/${messages.length} to ${topic} (${Math.round(sent / Math.max(seconds, 0.001))}/s)\n`);
      }
    }
  } finally {
    await producer.disconnect();
  }
  logger.info({ topic, records: sent, schemaId, seconds: (Date.now() - started) / 1000 }, 'produced');
}

if (require.main === module) void runMain('produce', () => produce(process.argv.slice(2)));
