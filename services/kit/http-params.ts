/**
 * Request validation for every service's HTTP routes, with zod: a route declares its query
 * parameters (and decodes its path segments) here, and anything that does not fit is an
 * HttpError 400 naming the parameter and what it expects. The HTTP server turns an HttpError
 * into its status and a JSON body; client mistakes are never 500s and never logged with a stack.
 */
import { z } from 'zod';

/** A request the client got wrong; `status` is a 4xx, `message` is safe to show the client. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The query or path parameter at fault, when one is. */
    readonly parameter?: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** `parameter: reason; expected …` as a 400. */
export function badRequest(parameter: string, reason: string, expected?: string): HttpError {
  return new HttpError(400, `${parameter}: ${reason}${expected === undefined ? '' : `; expected ${expected}`}`, parameter);
}

/**
 * Longest id (customer, product) a route accepts in a parameter. Longer ids cannot be stored
 * (producers' limits are lower), so refusing them costs nothing and bounds every key built.
 */
export const MAX_ID_PARAM_LENGTH = 256;

/** What a parameter accepts, for the 400 message. */
const paramMeta = z.registry<{ expected: string }>();

class Invalid {
  constructor(readonly reason: string) {}
}

/** Marks a raw parameter value as rejected, with the reason the client is told. */
export const invalid = (reason: string): Invalid => new Invalid(reason);

/** One parameter read from its raw (already percent-decoded) text: `parse` returns the value or `invalid(reason)`. */
export function param<O>(expected: string, parse: (raw: string) => O | Invalid): z.ZodType<O, string> {
  const schema = z.string().transform((raw, ctx) => {
    const result = parse(raw);
    if (result instanceof Invalid) {
      ctx.issues.push({ code: 'custom', message: result.reason, input: raw });
      return z.NEVER;
    }
    return result;
  });
  paramMeta.add(schema, { expected });
  return schema;
}

// C0 and C1 controls, DEL, and the unpaired surrogates / replacement character a bad UTF-8
// sequence decodes to: none belongs in an id.
// (With the u flag a surrogate range matches only a surrogate that is not half of a pair.)
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\ufffd\ud800-\udfff]/u;

/** Printable text of 1..maxLength characters (ids, names). */
export function textParam(maxLength: number, expected = `text of 1 to ${maxLength} printable characters`): z.ZodType<string, string> {
  return param(expected, (raw) => {
    if (raw === '') return invalid('is empty');
    if (raw.length > maxLength) return invalid(`is longer than ${maxLength} characters`);
    return UNPRINTABLE.test(raw) ? invalid('contains control characters or invalid UTF-8') : raw;
  });
}

/** A decimal integer from min to max (no sign unless min < 0, no exponent, no fraction). */
export function intParam(min: number, max: number): z.ZodType<number, string> {
  return param(`an integer from ${min} to ${max}`, (raw) => {
    if (!/^-?\d{1,15}$/.test(raw)) return invalid('is not an integer');
    const value = Number(raw);
    return value >= min && value <= max ? value : invalid('is out of range');
  });
}

/** One of `values`, spelled exactly. */
export function enumParam<const T extends readonly [string, ...string[]]>(values: T): z.ZodType<T[number], string> {
  return param(`one of ${values.join(', ')}`, (raw) => (values as readonly string[]).includes(raw) ? (raw as T[number]) : invalid('is not an allowed value'));
}

/** A comma-separated list of at most `maxItems` entries, each checked like textParam; empty entries are dropped. */
export function listParam(maxItems: number, itemMaxLength: number): z.ZodType<string[], string> {
  const item = textParam(itemMaxLength);
  return param(`at most ${maxItems} comma-separated entries of 1 to ${itemMaxLength} printable characters`, (raw) => {
    const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (items.length > maxItems) return invalid(`has more than ${maxItems} entries`);
    for (const entry of items) {
      const checked = item.safeParse(entry);
      if (!checked.success) return invalid(`has an entry that ${checked.error.issues[0]?.message ?? 'is invalid'}`);
    }
    return items;
  });
}

/** Finds a parameter's metadata beneath `.optional()` / `.default()`. */
function expectedOf(schema: z.ZodType): string | undefined {
  let current: unknown = schema;
  for (let hops = 0; hops < 8 && current instanceof z.ZodType; hops += 1) {
    const meta = paramMeta.get(current);
    if (meta) return meta.expected;
    const def = current._zod.def as { innerType?: unknown; in?: unknown };
    current = def.innerType ?? def.in;
  }
  return undefined;
}

/** Checks one raw value against a parameter schema; throws the HttpError 400 naming `name`. */
export function checkParam<T>(name: string, schema: z.ZodType<T>, raw: string | undefined): T {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const expected = expectedOf(schema);
  const issue = result.error.issues[0];
  const reason = raw === undefined ? 'is required' : issue?.code === 'custom' ? issue.message : 'is invalid';
  throw badRequest(name, reason, expected);
}

/**
 * The query of `url` checked against `shape` (a parameter name to its schema, made with the
 * builders above and `.optional()` / `.default()`). A parameter not in the shape, or given twice,
 * is a 400 as well: a typo like `limt=5` should not be silently ignored.
 */
export function parseQuery<S extends Record<string, z.ZodType>>(url: URL, shape: S): { [K in keyof S]: z.output<S[K]> } {
  const unknown = [...new Set(url.searchParams.keys())].filter((key) => !Object.hasOwn(shape, key));
  if (unknown.length > 0) {
    const known = Object.keys(shape);
    const name = unknown[0] as string;
    throw badRequest(clip(name), 'is not a parameter of this route', known.length > 0 ? `only ${known.join(', ')}` : 'no parameters');
  }
  const out: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(shape)) {
    const values = url.searchParams.getAll(name);
    if (values.length > 1) throw badRequest(name, 'is given more than once', 'it once');
    out[name] = checkParam(name, schema, values[0]);
  }
  return out as { [K in keyof S]: z.output<S[K]> };
}

/**
 * Decodes one percent-encoded path segment (e.g. the `<id>` of `/customers/<id>/segments`)
 * and checks it against `schema`; bad percent-encoding is a 400 naming `name`, not a URIError.
 */
export function pathParam<T>(name: string, raw: string, schema: z.ZodType<T>): T {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw badRequest(name, 'is not valid percent-encoding', 'UTF-8 percent-encoded as %XX');
  }
  return checkParam(name, schema, decoded);
}

// An unknown parameter's name is the client's text: echoed, but never at length.
function clip(text: string): string {
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 40 ? `${printable.slice(0, 37)}...` : printable;
}
