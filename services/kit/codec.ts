import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import * as avro from 'avsc';
import { builtPath, requireBuilt } from './files';
import { PoisonRecordError, RegistryUnavailableError } from './poison';

/** The Avro schemas of the design, by record name; each file in `schemas/` holds one. */
export const SCHEMA_NAMES = [
  'BehaviorEvent',
  'CustomerProfile',
  'TriggerFired',
  'SegmentChange',
  'EmailOutcome',
] as const;
export type SchemaName = (typeof SCHEMA_NAMES)[number];

const MAGIC_BYTE = 0;
const HEADER_LENGTH = 5;

/** Where the `.avsc` files live: schemas/ of the running code (the checkout, or the build's copy). */
export function schemasDir(): string {
  return requireBuilt(builtPath('schemas'));
}

/** The raw Avro schema (parsed JSON) of one of the design's records. */
export function readSchema(name: SchemaName, dir = schemasDir()): avro.Schema {
  return JSON.parse(readFileSync(join(dir, `${name}.avsc`), 'utf8')) as avro.Schema;
}

/** The subject of a topic's values under TopicNameStrategy. */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

/** Where encodeWireFormat writes before copying out (encoding is synchronous: one at a time); grown when a value needs more. */
let wireScratch = Buffer.allocUnsafe(16 * 1024);

/** `value` in the Confluent wire format under `schemaId` (checked against `type` first): what AvroCodec.encode writes. */
export function encodeWireFormat(schemaId: number, type: avro.Type, value: unknown): Buffer {
  // The check again with a hook only for a value that fails it: the hook costs a closure and a path per call.
  if (!type.isValid(value)) {
    const problems: string[] = [];
    type.isValid(value, { errorHook: (path, v) => problems.push(`${path.join('.') || '(root)'}=${JSON.stringify(v)}`) });
    throw new Error(`value does not match schema ${type.name ?? ''} (id ${schemaId}): invalid ${problems.join(', ')}`);
  }
  // Header and body written into one buffer, then one copy of the bytes used (avsc's toBuffer
  // allocated a zero-filled body, and the header and the concatenation two more).
  for (;;) {
    const scratch = wireScratch;
    scratch[0] = MAGIC_BYTE;
    scratch.writeInt32BE(schemaId, 1);
    // The end of the body, or (negative) how many bytes the buffer lacked.
    const end = type.encode(value, scratch, HEADER_LENGTH);
    if (end >= 0) {
      const bytes = Buffer.allocUnsafe(end);
      scratch.copy(bytes, 0, 0, end);
      return bytes;
    }
    wireScratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, scratch.length - end));
  }
}

/**
 * Avro in the Confluent wire format (magic byte 0, 4-byte schema id, Avro body) over a
 * Confluent-compatible registry. Writer schemas are fetched once per id and cached; every
 * record is resolved into the reader schema the service was built with, so producers can
 * evolve their schema within the subject's BACKWARD compatibility.
 */
export class AvroCodec {
  /**
   * Per reader type, per writer schema id: the resolver (null when the writer schema equals the
   * reader's, no resolution needed). Keyed by the Type itself and the id as a number, so that a
   * record's look-up builds no key string.
   */
  private readonly resolvers = new WeakMap<avro.Type, Map<number, avro.Resolver | null>>();

  constructor(readonly registry: SchemaRegistry) {}

  /** A codec over the registry at `url` (for example http://127.0.0.1:8081/apis/ccompat/v7). */
  static connect(url: string): AvroCodec {
    return new AvroCodec(new SchemaRegistry({ host: url, retry: { retries: 2 } }));
  }

  /**
   * Decodes a wire-format record into `reader`'s shape. Throws PoisonRecordError for bytes
   * that can never decode (dead-letter them) and RegistryUnavailableError when the registry
   * could not be asked (retry later; never dead-letter for that).
   */
  async decode<T>(bytes: Buffer, reader: avro.Type): Promise<T> {
    const known = this.decodeKnown<T>(bytes, reader);
    if (known !== undefined) return known;
    await this.learnWriter(bytes, reader);
    return this.decodeKnown<T>(bytes, reader) as T;
  }

  /**
   * decode() without a promise, for a record whose writer schema this codec has fetched already
   * (every record after the first of its schema id): the decoded record, or undefined when the
   * registry must be asked first (learnWriter, or decode). Throws PoisonRecordError as decode does.
   */
  decodeKnown<T>(bytes: Buffer, reader: avro.Type): T | undefined {
    const schemaId = schemaIdOf(bytes);
    const resolver = this.resolvers.get(reader)?.get(schemaId);
    if (resolver === undefined) return undefined;
    try {
      const body = bytes.subarray(HEADER_LENGTH);
      return (resolver ? reader.fromBuffer(body, resolver, false) : reader.fromBuffer(body)) as T;
    } catch (err) {
      throw new PoisonRecordError(
        'undecodable',
        `Avro body does not decode with writer schema id ${schemaId}: ${(err as Error).message}`,
      );
    }
  }

  /**
   * decodeKnown of the record in `bytes` from `start` up to `end`, read where it lies (a fetch
   * response's bytes) without a Buffer view of it: the same result, and the same errors, as
   * decodeKnown of that cut.
   */
  decodeKnownIn<T>(bytes: Buffer, start: number, end: number, reader: avro.Type): T | undefined {
    const resolver = this.resolvers.get(reader)?.get(schemaIdIn(bytes, start, end));
    if (resolver === undefined) return undefined;
    try {
      const decoded = reader.decode(bytes, start + HEADER_LENGTH, resolver ?? undefined);
      if (decoded.offset === end) return decoded.value as T;
    } catch {
      // Below, on the cut, for the error decodeKnown gives.
    }
    // A body that is not exactly its bytes (it read past them, or left some, or did not decode):
    // decoded again on its own, as decodeKnown would, for the same error.
    return this.decodeKnown<T>(bytes.subarray(start, end), reader);
  }

  /** Fetches and keeps the writer schema of the record in `bytes` for `reader`, so decodeKnown decodes it. */
  async learnWriter(bytes: Buffer, reader: avro.Type): Promise<void> {
    await this.resolverFor(schemaIdOf(bytes), reader);
  }

  /** Encodes `value` with the schema registered under `schemaId`, checking it first. */
  encode(schemaId: number, type: avro.Type, value: unknown): Buffer {
    return encodeWireFormat(schemaId, type, value);
  }

  /** Registers `schema` under `subject` (idempotent: the same schema gets the same id). */
  async register(subject: string, schema: avro.Schema): Promise<number> {
    try {
      const { id } = await this.registry.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
        { subject },
      );
      return id;
    } catch (err) {
      throw new Error(`registering ${subject} failed: ${(err as Error).message}`);
    }
  }

  /** The id under which `schema` is registered in `subject`; a clear error when it is not. */
  async idOf(subject: string, schema: avro.Schema): Promise<number> {
    try {
      return await this.registry.getRegistryIdBySchema(subject, {
        type: SchemaType.AVRO,
        schema: JSON.stringify(schema),
      });
    } catch (err) {
      throw new Error(
        `schema ${(schema as { name?: string }).name ?? ''} is not registered under subject ${subject} ` +
          `(${(err as Error).message}); run \`make up\` (or \`npm run provision\`) to register the schemas`,
      );
    }
  }

  private async resolverFor(schemaId: number, reader: avro.Type): Promise<avro.Resolver | null> {
    let byId = this.resolvers.get(reader);
    const cached = byId?.get(schemaId);
    if (cached !== undefined) return cached;
    let writer: avro.Type;
    try {
      writer = (await this.registry.getSchema(schemaId)) as unknown as avro.Type;
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 404) {
        throw new PoisonRecordError('unknown-schema-id', `schema id ${schemaId} is not in the registry`);
      }
      throw new RegistryUnavailableError(`could not fetch schema id ${schemaId}: ${(err as Error).message}`);
    }
    let resolver: avro.Resolver | null;
    try {
      resolver = writer.equals(reader) ? null : reader.createResolver(writer);
    } catch (err) {
      throw new PoisonRecordError(
        'schema-mismatch',
        `writer schema id ${schemaId} cannot be read as ${reader.name}: ${(err as Error).message}`,
      );
    }
    byId = this.resolvers.get(reader);
    if (byId === undefined) {
      byId = new Map();
      this.resolvers.set(reader, byId);
    }
    byId.set(schemaId, resolver);
    return resolver;
  }
}

/** The schema id of a wire-format record; PoisonRecordError when it has no Confluent header. */
function schemaIdOf(bytes: Buffer): number {
  return schemaIdIn(bytes, 0, bytes.length);
}

/** The schema id of the wire-format record in `bytes` from `start` up to `end`. */
function schemaIdIn(bytes: Buffer, start: number, end: number): number {
  const length = end - start;
  if (length < HEADER_LENGTH || bytes[start] !== MAGIC_BYTE) {
    throw new PoisonRecordError(
      'wire-format',
      length < HEADER_LENGTH
        ? `record of ${length} bytes is shorter than the 5-byte Confluent header`
        : `magic byte is ${bytes[start]}, expected 0 (Confluent wire format)`,
    );
  }
  return bytes.readInt32BE(start + 1);
}

/** avsc Types of the design's records, built once. */
export function recordTypes(dir = schemasDir()): Record<SchemaName, avro.Type> {
  const types = {} as Record<SchemaName, avro.Type>;
  for (const name of SCHEMA_NAMES) types[name] = avro.Type.forSchema(readSchema(name, dir));
  return types;
}
