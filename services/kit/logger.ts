import { hostname } from 'node:os';
import pino from 'pino';

export type Logger = pino.Logger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** What a redacted value is replaced with. */
export const REDACTED = '[redacted]';
/** What an email address found inside a string is replaced with. */
export const EMAIL_PLACEHOLDER = '[email]';

/**
 * Configuration variables that hold secrets. Services add their own through
 * `createLogger({ secretKeys })` (usually `secretVariables(shape)` from config).
 */
export const SECRET_CONFIG_KEYS: readonly string[] = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'REDIS_PASSWORD',
  'KAFKA_SASL_USERNAME',
  'KAFKA_SASL_PASSWORD',
  'SCHEMA_REGISTRY_PASSWORD',
];

/**
 * Keys whose values are personal data, redacted at any depth. Matching ignores case, `_` and
 * `-`, so `first_name`, `firstName` and `FIRST-NAME` are one key.
 */
export const PERSONAL_DATA_KEYS: readonly string[] = [
  'email',
  'email_address',
  'first_name',
  'last_name',
  'full_name',
  'display_name',
  'given_name',
  'family_name',
  'customer_name',
  'name',
  'phone',
  'address',
];

/** Keys whose whole subtree is personal data (a CustomerProfile logged as-is). */
export const PERSONAL_DATA_SUBTREES: readonly string[] = ['profile', 'recipient'];

// Secrets hide behind many spellings (hmacSecret, sessionToken, x-api-key), so these match
// anywhere inside a normalized key name; a false positive only costs a redacted log field.
const SECRET_KEY_FRAGMENTS = [
  'password',
  'passwd',
  'secret',
  'token',
  'apikey',
  'authorization',
  'cookie',
  'credential',
  'privatekey',
];

// Deliberately broad: a false positive only hides a harmless string, a miss leaks an address.
const EMAIL_PATTERN = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+/g;

// Deeper than any sensible log object; stops cost and runaway recursion on odd inputs.
const MAX_DEPTH = 10;

/** Replaces every email address in `text` with `[email]`. */
export function scrubEmails(text: string): string {
  return text.includes('@') ? text.replace(EMAIL_PATTERN, EMAIL_PLACEHOLDER) : text;
}

function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[_-]/g, '');
}

/** Decides, per key name, whether a value must be hidden. */
function keyRedactor(secretKeys: readonly string[]): (key: string) => boolean {
  const exact = new Set([...PERSONAL_DATA_KEYS, ...PERSONAL_DATA_SUBTREES, ...SECRET_CONFIG_KEYS, ...secretKeys].map(normalizeKey));
  return (key) => {
    const normalized = normalizeKey(key);
    return exact.has(normalized) || SECRET_KEY_FRAGMENTS.some((fragment) => normalized.includes(fragment));
  };
}

/**
 * Returns a copy of `value` with sensitive keys redacted and email addresses scrubbed from
 * every string. Errors become plain objects here so their message and stack get scrubbed too.
 */
function sanitize(value: unknown, isSensitive: (key: string) => boolean, seen: WeakSet<object>, depth: number): unknown {
  if (typeof value === 'string') return scrubEmails(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => sanitize(item, isSensitive, seen, depth + 1));
    if (value instanceof Error) {
      // Serialized first so type, message and stack (and any extra context) get scrubbed too.
      return sanitizeEntries(pino.stdSerializers.errWithCause(value), isSensitive, seen, depth);
    }
    const { toJSON } = value as { toJSON?: unknown };
    // Mirrors JSON.stringify: Dates, Buffers, URLs and the like print what toJSON returns.
    if (typeof toJSON === 'function') return sanitize(toJSON.call(value), isSensitive, seen, depth + 1);
    return sanitizeEntries(value, isSensitive, seen, depth);
  } finally {
    // Only ancestors count as cycles; the same object twice side by side is fine.
    seen.delete(value);
  }
}

/** Copies the own enumerable fields (what JSON would print), class instances included. */
function sanitizeEntries(
  source: object,
  isSensitive: (key: string) => boolean,
  seen: WeakSet<object>,
  depth: number,
): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(source)) {
    copy[key] = isSensitive(key) ? REDACTED : sanitize(item, isSensitive, seen, depth + 1);
  }
  return copy;
}

export interface LoggerOptions {
  service: string;
  level?: LogLevel;
  /** Where JSON lines go; stdout when absent. Tests pass an in-memory stream. */
  destination?: pino.DestinationStream;
  /** Extra variable or field names to redact, on top of SECRET_CONFIG_KEYS. */
  secretKeys?: readonly string[];
}

/**
 * A pino logger writing one JSON line per entry with `service`, ISO `time` and `level` as a
 * label, which never prints secrets, email addresses or person names.
 */
export function createLogger(options: LoggerOptions): Logger {
  const isSensitive = keyRedactor(options.secretKeys ?? []);
  const clean = (value: unknown): unknown => sanitize(value, isSensitive, new WeakSet(), 0);
  const cleanObject = (value: Record<string, unknown>): Record<string, unknown> =>
    clean(value) as Record<string, unknown>;

  const logger = pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid, hostname: hostname(), service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: cleanObject,
        bindings: cleanObject,
      },
      // formatters.log already serialized and scrubbed errors; pino's own err serializer would
      // serialize that copy again and report its type as "Object".
      serializers: { err: (value: unknown) => value },
      hooks: {
        // The message string is not part of the merge object, so it is scrubbed here. Pino
        // falls back to an error's message when none is given; that fallback is made explicit
        // so it passes through the scrubber as well.
        logMethod(args, method) {
          const [first, ...rest] = args as unknown[];
          if (typeof first === 'object' && first !== null && rest.length === 0) {
            const err = first instanceof Error ? first : (first as { err?: unknown }).err;
            if (err instanceof Error && (first as { msg?: unknown }).msg === undefined) rest.push(err.message);
          }
          const cleaned = [first, ...rest].map((arg, index) => (index === 0 && typeof arg === 'object' ? arg : clean(arg)));
          method.apply(this, cleaned as Parameters<typeof method>);
        },
      },
    },
    options.destination,
  );
  // Pino drops formatters.bindings for child loggers, so their bindings are scrubbed here.
  // Children inherit this property and `this` is whichever logger `.child()` is called on.
  const pinoChild = logger.child;
  logger.child = function child(this: Logger, bindings: pino.Bindings, childOptions?: pino.ChildLoggerOptions) {
    return Reflect.apply(pinoChild, this, [cleanObject(bindings), childOptions]) as Logger;
  } as unknown as Logger['child'];
  return logger;
}
