/**
 * The per-customer segment state: a small plain JSON object stored by the adapter (one Redis
 * value per customer). Short keys on purpose: this is stored once per active customer.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

/** Money of one aggregate in time buckets of `g` ms: `b` holds [bucket index, cents], oldest first. */
export interface SumBuckets {
  g: number;
  b: Array<[number, number]>;
}

/** What one aggregate (one event filter) remembers. */
export interface AggregateState {
  /** Newest event times (ms, ascending), at most the plan's cap, none older than its horizon. */
  t?: number[];
  /** Earliest event time ever seen. */
  f?: number;
  s?: SumBuckets;
  /** Grouped counts: by event field, by group value (hashed when long), newest times ascending. */
  g?: Record<string, Record<string, number[]>>;
}

/**
 * Behavioural facts for templates (facts.ts), each [occurred_at, product_id]. A purchase that
 * names no product and followed no cart add is [occurred_at].
 */
export interface FactsState {
  /** The newest purchase. */
  p?: [number] | [number, string];
  /** The newest product_view with a product. */
  v?: [number, string];
  /** The newest add_to_cart not removed nor bought since: the product of a purchase that names none. */
  c?: [number, string];
}

export type StoredProfileValue = string | boolean;

export interface SegmentState {
  /** Format version. */
  v: 1;
  /** customer_id. */
  c: string;
  /** Current memberships, sorted. */
  m: string[];
  /** Earliest time membership may change without a new input (the adapter's timer), if any. */
  w?: number;
  /** Aggregates by aggregateKey(filter). */
  a: Record<string, AggregateState>;
  /** Short hashes of the latest applied event_ids, newest last: drops re-delivered duplicates. */
  d: string[];
  /** Only the profile fields some condition reads; a missing key means the field is empty. */
  p?: Record<string, StoredProfileValue>;
  /** updated_at of the profile last applied; older profile records are ignored. */
  pu?: number;
  /** Behavioural facts (facts.ts); absent while there are none. */
  x?: FactsState;
}

/** How many recent event ids are remembered for duplicate detection. */
export const RECENT_EVENT_IDS = 8;

const productFact = z.tuple([z.number(), z.string()]);
export const factsSchema = z.object({
  p: z.union([productFact, z.tuple([z.number()])]).optional(),
  v: productFact.optional(),
  c: productFact.optional(),
});

const stateSchema = z.object({
  v: z.literal(1),
  c: z.string(),
  m: z.array(z.string()),
  w: z.number().optional(),
  a: z.record(
    z.string(),
    z.object({
      t: z.array(z.number()).optional(),
      f: z.number().optional(),
      s: z.object({ g: z.number().positive(), b: z.array(z.tuple([z.number(), z.number()])) }).optional(),
      g: z.record(z.string(), z.record(z.string(), z.array(z.number()))).optional(),
    }),
  ),
  d: z.array(z.string()),
  p: z.record(z.string(), z.union([z.string(), z.boolean()])).optional(),
  pu: z.number().optional(),
  x: factsSchema.optional(),
});

/** Parses a stored state (null or empty: no state); throws when the text is not a version-1 state. */
export function parseSegmentState(json: string | null): SegmentState | null {
  if (json === null || json === '') return null;
  const result = stateSchema.safeParse(JSON.parse(json));
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`segment state is not valid: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data as SegmentState;
}

/** The JSON text to store for a state. */
export function serializeSegmentState(state: SegmentState): string {
  return JSON.stringify(state);
}

/** A fresh state for a customer. */
export function emptyState(customerId: string): SegmentState {
  return { v: 1, c: customerId, m: [], a: {}, d: [] };
}

/** A deep copy, so the functions of this package never mutate their inputs. */
export function cloneState(state: SegmentState): SegmentState {
  return structuredClone(state);
}

/** 72 bits of SHA-256, base64url: collisions are negligible within a list of a few ids. */
export function eventIdHash(eventId: string): string {
  return createHash('sha256').update(eventId).digest('base64url').slice(0, 12);
}

/** Remembers an applied event id, forgetting the oldest beyond RECENT_EVENT_IDS. */
export function rememberEventId(state: SegmentState, hash: string): void {
  state.d.push(hash);
  if (state.d.length > RECENT_EVENT_IDS) state.d.splice(0, state.d.length - RECENT_EVENT_IDS);
}

/** Whether nothing is worth keeping (the adapter may then delete the key). */
export function isEmptyState(state: SegmentState): boolean {
  return state.m.length === 0 && Object.keys(state.a).length === 0 && state.pu === undefined && state.x === undefined;
}
