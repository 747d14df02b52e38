/**
 * SegmentMembershipView: the parts of the segmenter's per-customer state that other services
 * may read — which segments the customer is in, and the behavioural facts kept for templates
 * (facts.ts). The state's layout stays the segmenter's own; this read model is the contract,
 * versioned with it, so a change of the state that this view does not know fails loudly here
 * instead of silently emptying a customer's segments.
 */
import { z } from 'zod';
import { factsOf, NO_FACTS, PURCHASE_AGGREGATE_KEY, type CustomerFacts } from './facts';
import { storedText } from '../compact-bytes';
import { factsSchema, isCompactSegmentState, parseSegmentState, type SegmentState, type StoredSegmentState } from './state';

/** The state versions this view can read (SegmentState's `v`). */
export const SEGMENT_MEMBERSHIP_VIEW_VERSIONS: ReadonlyArray<SegmentState['v']> = [1];

/**
 * The stored segment state is not one this view can read (unknown version, not a state). Not
 * retriable: the same bytes read again fail again, so a reader's runner stops loudly (for a
 * newer state version: deploy a reader that knows it) rather than send with no segments.
 */
export class SegmentMembershipViewError extends Error {
  readonly retriable = false;

  constructor(readonly detail: string) {
    super(`segment membership view: ${detail}`);
    this.name = 'SegmentMembershipViewError';
  }
}

/** What other services may read of a customer's segment state. */
export interface SegmentStateView {
  /** Current segments, sorted as stored. */
  segments: string[];
  facts: CustomerFacts;
}

/**
 * The parsed state object, or null for no state; throws SegmentMembershipViewError for a value
 * this view cannot read. The compact form (state.ts) is decoded whole: its layout is checked as
 * it is read, so what comes out is a well-formed state.
 */
function parseStored(stored: StoredSegmentState | null): Record<string, unknown> | null {
  if (stored === null || stored.length === 0) return null;
  if (isCompactSegmentState(stored)) {
    try {
      return parseSegmentState(stored) as unknown as Record<string, unknown>;
    } catch (error) {
      throw new SegmentMembershipViewError(`the stored state is not readable: ${(error as Error).message}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(storedText(stored));
  } catch {
    throw new SegmentMembershipViewError('the stored state is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SegmentMembershipViewError('the stored state is not a JSON object');
  }
  const { v } = parsed as { v?: unknown };
  if (!SEGMENT_MEMBERSHIP_VIEW_VERSIONS.includes(v as SegmentState['v'])) {
    throw new SegmentMembershipViewError(
      `state version ${JSON.stringify(v ?? null)} is unknown (known: ${SEGMENT_MEMBERSHIP_VIEW_VERSIONS.join(', ')})`,
    );
  }
  return parsed as Record<string, unknown>;
}

function membershipsOf(state: Record<string, unknown>): string[] {
  const { m } = state;
  if (!Array.isArray(m) || !m.every((segment) => typeof segment === 'string')) {
    throw new SegmentMembershipViewError('field `m` is not a list of segment names');
  }
  return [...m];
}

const purchaseTimesSchema = z.object({ [PURCHASE_AGGREGATE_KEY]: z.object({ t: z.array(z.number()).optional() }).optional() });

/**
 * The segments of a customer from its stored segment state text, sorted as stored; [] when there
 * is no state (null or ""). Throws SegmentMembershipViewError when the text is not JSON, not an
 * object, of a version this view does not know, or its memberships are not a list of names.
 */
export function segmentMembershipView(stored: StoredSegmentState | null): string[] {
  const state = parseStored(stored);
  return state === null ? [] : membershipsOf(state);
}

/**
 * Segments and facts at `now` (the reader's clock: purchase counts are windows ending now). No
 * state: no segments and no facts. Throws SegmentMembershipViewError as segmentMembershipView
 * does, and when the facts or the purchase times are not what this version stores.
 */
export function segmentStateView(stored: StoredSegmentState | null, now: number): SegmentStateView {
  const state = parseStored(stored);
  if (state === null) return { segments: [], facts: NO_FACTS };
  const segments = membershipsOf(state);
  const facts = factsSchema.optional().safeParse(state.x);
  if (!facts.success) throw new SegmentMembershipViewError('field `x` (facts) is not a version-1 facts object');
  const aggregates = purchaseTimesSchema.optional().safeParse(state.a);
  if (!aggregates.success) throw new SegmentMembershipViewError('field `a` holds purchase times that are not a list of times');
  return { segments, facts: factsOf({ x: facts.data as SegmentState['x'], a: aggregates.data }, now) };
}
