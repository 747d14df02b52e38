import { isIP } from 'node:net';
import { z } from 'zod';
import { controlCharacter } from '../core/limits';
import { ConfigError, DependencyUnreachableError, formatConfigProblem, type ConfigProblem } from './errors';
import { scrubEmails } from './logger';

/** How a variable describes itself in error messages. */
export interface VarMeta {
  /** What a valid value looks like, e.g. `like 127.0.0.1:9092,10.0.0.2:9092`. */
  expected: string;
  /** Never echo the value (errors, logs). */
  secret?: boolean;
}

const varMeta = z.registry<VarMeta>();

/** Marks a value a parser rejected, with the reason shown to the operator. */
class Invalid {
  constructor(readonly reason: string) {}
}

/** What a parser returns for a rejected value: `reason` is shown to the operator. */
export const invalid = (reason: string): Invalid => new Invalid(reason);

/** A variable read from a string: `parse` returns the typed value or `invalid(reason)`. Builders elsewhere in the kit use it for variables with their own syntax. */
export function envVar<O>(meta: VarMeta, parse: (raw: string) => O | Invalid): z.ZodType<O, string> {
  const schema = z.string().transform((raw, ctx) => {
    const result = parse(raw.trim());
    if (result instanceof Invalid) {
      ctx.issues.push({ code: 'custom', message: result.reason, input: raw });
      return z.NEVER;
    }
    return result;
  });
  varMeta.add(schema, meta);
  return schema;
}

const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

function isPort(text: string): boolean {
  const port = Number(text);
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** A comma-separated `host:port` list, e.g. Redis Cluster seed nodes. */
export function hostPortListVar(example = '10.0.0.1:6379,10.0.0.2:6379'): z.ZodType<string[], string> {
  return envVar({ expected: `like ${example}` }, (raw) => {
    const items = raw.split(',').map((item) => item.trim());
    const ok = items.every((item) => {
      const match = HOST_PORT.exec(item);
      return match !== null && isPort(match[1] as string);
    });
    return ok && raw !== '' ? items : invalid('is not a host:port list');
  });
}

/** Kafka bootstrap brokers as `host:port,host:port`; yields the list kafkajs takes. */
export function brokersVar(): z.ZodType<string[], string> {
  return hostPortListVar('127.0.0.1:9092,10.0.0.2:9092');
}

/** An absolute URL; `protocols` (like `['redis:', 'rediss:']`) narrows the schemes accepted. */
export function urlVar(protocols: readonly string[] = ['http:', 'https:']): z.ZodType<string, string> {
  const example = `${protocols[0] ?? 'http:'}//host:port/path`;
  return envVar({ expected: `an absolute URL with scheme ${protocols.join(' or ')} like ${example}` }, (raw) => {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return invalid('is not a URL');
    }
    return protocols.includes(url.protocol) ? raw : invalid(`has scheme ${url.protocol}`);
  });
}

/** A host to listen on: an IPv4 or IPv6 address (without brackets) or a host name, like 127.0.0.1, ::1 or 0.0.0.0. */
export function hostVar(): z.ZodType<string, string> {
  return envVar({ expected: 'an IP address or host name to listen on, like 127.0.0.1 (loopback only), 0.0.0.0 or 10.0.0.5' }, (raw) =>
    isIP(raw) !== 0 || /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(raw) ? raw : invalid('is not an IP address or host name'),
  );
}

/**
 * A bearer token (RFC 6750 token68 characters: letters, digits, `-._~+/`, trailing `=`), at
 * least `minLength` long; like secretVar, its value never appears in errors or logs.
 */
export function bearerTokenVar(minLength = 32): z.ZodType<string, string> {
  return envVar({ expected: `a token of at least ${minLength} characters from A-Z a-z 0-9 - . _ ~ + / (e.g. openssl rand -hex 32)`, secret: true }, (raw) => {
    if (raw.length < minLength) return invalid('is too short');
    return /^[A-Za-z0-9\-._~+/]+=*$/.test(raw) ? raw : invalid('has characters a bearer token cannot carry');
  });
}

/** A TCP port, 1..65535. */
export function portVar(): z.ZodType<number, string> {
  return envVar({ expected: 'an integer from 1 to 65535' }, (raw) =>
    /^\d+$/.test(raw) && isPort(raw) ? Number(raw) : invalid('is not a port number'),
  );
}

/** An integer within min..max (inclusive). */
export function intVar(min: number, max: number): z.ZodType<number, string> {
  return envVar({ expected: `an integer from ${min} to ${max}` }, (raw) => {
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(value)) return invalid('is not an integer');
    return value >= min && value <= max ? value : invalid('is out of range');
  });
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration: plain milliseconds (`900000`) or a number with a unit (`500ms`, `15m`, `24h`,
 * `30d`), within `bounds` (ms, inclusive) when given. Yields ms.
 */
export function durationVar(bounds: { min?: number; max?: number } = {}): z.ZodType<number, string> {
  const { min = 0, max } = bounds;
  const range = max === undefined ? (min > 0 ? `, at least ${min} ms` : '') : `, from ${min} to ${max} ms`;
  return envVar({ expected: `milliseconds or a number with unit ms, s, m, h or d, like 500ms, 15m, 24h, 30d${range}` }, (raw) => {
    const match = /^(\d+)(ms|s|m|h|d)?$/.exec(raw);
    if (match === null) return invalid('is not a duration');
    const ms = Number(match[1]) * (DURATION_UNITS_MS[match[2] ?? 'ms'] as number);
    if (ms < min) return invalid('is too short');
    return Number.isSafeInteger(ms) && (max === undefined || ms <= max) ? ms : invalid('is too long');
  });
}

const TRUE_WORDS = ['true', '1', 'yes', 'on'];
const FALSE_WORDS = ['false', '0', 'no', 'off'];

/** A boolean: true/false, 1/0, yes/no, on/off (any case). */
export function boolVar(): z.ZodType<boolean, string> {
  return envVar({ expected: 'true or false (also 1/0, yes/no, on/off)' }, (raw) => {
    const word = raw.toLowerCase();
    if (TRUE_WORDS.includes(word)) return true;
    if (FALSE_WORDS.includes(word)) return false;
    return invalid('is not a boolean');
  });
}

/** One of `values`, matched ignoring case and yielded as spelled in `values`. */
export function enumVar<const T extends readonly [string, ...string[]]>(values: T): z.ZodType<T[number], string> {
  return envVar({ expected: `one of ${values.join(', ')}` }, (raw) => {
    const found = values.find((value) => value.toLowerCase() === raw.toLowerCase());
    return found ?? invalid('is not an allowed value');
  });
}

/** A non-empty string, optionally matching `pattern` (then `expected` says what it means). */
export function stringVar(options: { pattern?: RegExp; expected?: string } = {}): z.ZodType<string, string> {
  const { pattern } = options;
  const expected = options.expected ?? (pattern ? `text matching ${pattern.source}` : 'a non-empty string');
  return envVar({ expected }, (raw) => {
    if (raw === '') return invalid('is empty');
    return pattern === undefined || pattern.test(raw) ? raw : invalid('is not valid');
  });
}

/**
 * Text that emails print as it is (the brand's name and address): non-empty, and no control
 * character but tab and line breaks. U+0001 and U+0002 bound render()'s value markers, so a
 * brand holding one would fail every render as a damaged marker: refused at start-up instead.
 */
export function textVar(): z.ZodType<string, string> {
  return envVar({ expected: 'text without control characters (tab and line breaks allowed)' }, (raw) => {
    if (raw === '') return invalid('is empty');
    const control = controlCharacter(raw, true);
    return control === null ? raw : invalid(`holds the control character ${control}`);
  });
}

/** A secret of at least `minLength` characters; its value never appears in errors or logs. */
export function secretVar(minLength = 1): z.ZodType<string, string> {
  return envVar({ expected: `a secret of at least ${minLength} characters`, secret: true }, (raw) =>
    raw.length >= minLength ? raw : invalid('is too short'),
  );
}

/** What a consumer group id may be (groupIdVar); the state tool's `--group` takes the same. */
export const GROUP_ID_PATTERN = /^[^\p{Cc}]{1,255}$/u;
export const GROUP_ID_EXPECTED = 'up to 255 characters, none of them a control character, like kairos-segmenter';

/**
 * A consumer group id (GROUP_ID). Kafka takes any string; Kairos takes up to 255 characters and
 * no control character, so that a relay checkpoint's metadata, which names the group through the
 * relay's transactional id, always keeps its cover within CHECKPOINT_METADATA_MAX_BYTES
 * (outbox-relay.ts): at most about 2,500 bytes, with KAFKA_TRANSACTIONAL_ID_PREFIX at its 255.
 */
export function groupIdVar(): z.ZodType<string, string> {
  return stringVar({ pattern: GROUP_ID_PATTERN, expected: GROUP_ID_EXPECTED });
}

// Kafka's own rule for topic names.
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;
const topicVar = (): z.ZodType<string, string> =>
  stringVar({ pattern: TOPIC_NAME, expected: 'a Kafka topic name (letters, digits, ".", "_", "-")' });

/** Variables every Kairos service reads. KAFKA_CLIENT_ID falls back to the service name at the call site. */
export const commonShape = {
  // A factory, so no caller can mutate a list shared with the next loadConfig.
  KAFKA_BROKERS: brokersVar().default(() => ['127.0.0.1:9092']),
  KAFKA_CLIENT_ID: stringVar().optional(),
  SCHEMA_REGISTRY_URL: urlVar().default('http://127.0.0.1:8081/apis/ccompat/v7'),
  REDIS_URL: urlVar(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  REDIS_CLUSTER_NODES: hostPortListVar().optional(),
  // Braces would create a Redis Cluster hash tag and break the per-partition key routing.
  REDIS_KEY_PREFIX: stringVar({ pattern: /^[A-Za-z0-9:._-]+$/, expected: 'letters, digits, ":", ".", "_" or "-" (no braces)' }).default('kairos'),
  LOG_LEVEL: enumVar(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  TOPIC_BEHAVIOR_EVENTS: topicVar().default('behavior.events'),
  TOPIC_CUSTOMER_PROFILES: topicVar().default('customer.profiles'),
  TOPIC_SEGMENT_CHANGES: topicVar().default('segment.changes'),
  TOPIC_TRIGGERS: topicVar().default('triggers'),
  TOPIC_EMAIL_OUTCOMES: topicVar().default('email.outcomes'),
  DLQ_SUFFIX: stringVar({ pattern: /^[A-Za-z0-9._-]+$/, expected: 'a topic-name suffix like .dlq' }).default('.dlq'),
  SES_ENDPOINT: urlVar().optional(),
  AWS_REGION: stringVar({ pattern: /^[a-z]{2}(?:-[a-z]+)+-\d+$/, expected: 'an AWS region like us-east-1' }).default('us-east-1'),
};

export type CommonConfig = z.infer<z.ZodObject<typeof commonShape>>;

/** Finds the builder's metadata beneath `.default()`, `.optional()` and similar wrappers. */
function metaOf(schema: z.ZodType): VarMeta | undefined {
  let current: unknown = schema;
  for (let hops = 0; hops < 8 && current instanceof z.ZodType; hops += 1) {
    const meta = varMeta.get(current);
    if (meta) return meta;
    const def = current._zod.def as { innerType?: unknown; in?: unknown };
    current = def.innerType ?? def.in;
  }
  return undefined;
}

/** Names of the variables in `shape` built with `secretVar`, for the logger's redaction list. */
export function secretVariables(shape: z.ZodRawShape): string[] {
  return Object.keys(shape).filter((key) => metaOf(shape[key] as z.ZodType)?.secret === true);
}

// Long values are cut, and URL credentials (redis://:pass@host) masked, before being echoed.
function echo(raw: string): string {
  const masked = scrubEmails(raw.replace(/(\/\/[^/:@\s]*:)[^/@\s]+@/g, '$1***@'));
  return masked.length > 80 ? `${masked.slice(0, 77)}...` : masked;
}

/**
 * Reads `shape`'s variables from `env` into one typed object. Throws ConfigError listing every
 * bad or missing variable at once, so an operator fixes them in one go. Empty values count as
 * unset, because `FOO=` in env files usually means "not configured".
 */
export function loadConfig<T extends z.ZodRawShape>(
  shape: T,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<z.ZodObject<T>> {
  const config: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
  for (const [variable, schema] of Object.entries(shape) as [string, z.ZodType][]) {
    const raw = env[variable]?.trim() === '' ? undefined : env[variable];
    const result = schema.safeParse(raw);
    if (result.success) {
      if (result.data !== undefined) config[variable] = result.data;
      continue;
    }
    const meta = metaOf(schema);
    const issue = result.error.issues[0];
    const expected = meta?.expected ?? issue?.message ?? 'a valid value';
    if (raw === undefined) {
      problems.push({ variable, reason: 'is required but not set', expected });
    } else if (meta?.secret) {
      problems.push({ variable, reason: `(value hidden) ${issue?.message ?? 'is invalid'}`, expected });
    } else {
      const reason = meta ? (issue?.message ?? 'is invalid') : 'is invalid';
      problems.push({ variable, value: echo(raw), reason, expected });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config as z.infer<z.ZodObject<T>>;
}

/** EX_CONFIG from sysexits.h: supervisors can tell "fix the configuration" from a crash. */
export const EXIT_CONFIG = 78;

/** Where runMain writes and how it exits; tests swap these out. */
export interface MainIo {
  stderr: { write(text: string, done?: () => void): boolean };
  exit(code: number): void;
}

const processIo: MainIo = {
  stderr: process.stderr,
  exit: (code) => process.exit(code),
};

/**
 * Runs a service's start-up. A ConfigError prints one structured JSON line plus a readable
 * list and exits 78, as does a DependencyUnreachableError (one JSON line, one plain line);
 * any other start-up failure is logged and exits 1. Runs `main` once; a
 * resolved `main` leaves the process to its servers and consumers.
 */
export async function runMain(service: string, main: () => Promise<void>, io: MainIo = processIo): Promise<void> {
  try {
    await main();
  } catch (error) {
    // The logger may itself depend on the bad configuration (LOG_LEVEL), so write directly.
    const time = new Date().toISOString();
    if (error instanceof ConfigError) {
      const line = { level: 'fatal', time, service, msg: 'invalid configuration', problems: error.problems };
      const human = [`${service}: invalid configuration:`, ...error.problems.map((p) => `  ${formatConfigProblem(p)}`)];
      finish(io, `${JSON.stringify(line)}\n${human.join('\n')}\n`, EXIT_CONFIG);
      return;
    }
    if (error instanceof DependencyUnreachableError) {
      const { variable, target, reason } = error;
      const line = { level: 'fatal', time, service, msg: 'dependency unreachable at start-up', variable, target, reason };
      finish(io, `${JSON.stringify(line)}\n${service}: ${error.message}\n`, EXIT_CONFIG);
      return;
    }
    const err =
      error instanceof Error
        ? { type: error.name, message: scrubEmails(error.message), stack: scrubEmails(error.stack ?? '') }
        : { message: scrubEmails(String(error)) };
    // The JSON line is for log pipelines; the plain one for the operator at a terminal.
    finish(io, `${JSON.stringify({ level: 'fatal', time, service, msg: 'start-up failed', err })}\n${service}: start-up failed: ${err.message}\n`, 1);
  }
}

// Exit only after stderr took the text, or a piped supervisor might never see why.
function finish(io: MainIo, text: string, code: number): void {
  io.stderr.write(text, () => io.exit(code));
}
