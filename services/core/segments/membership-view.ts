/**
 * SegmentMembershipView: the one part of the segmenter's per-customer state that other services
 * may read — which segments the customer is in. The state's layout stays the segmenter's own;
 * this read model is the contract, versioned with it, so a change of the state that this view
 * does not know fails loudly here instead of silently emptying a customer's segments.
 */
import type { SegmentState } from './state';

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

/**
 * The segments of a customer from its stored segment state text, sorted as stored; [] when there
 * is no state (null or ""). Throws SegmentMembershipViewError when the text is not JSON, not an
 * object, of a version this view does not know, or its memberships are not a list of names.
 */
export function segmentMembershipView(stored: string | null): string[] {
  if (stored === null || stored === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored);
  } catch {
    throw new SegmentMembershipViewError('the stored state is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SegmentMembershipViewError('the stored state is not a JSON object');
  }
  const { v, m } = parsed as { v?: unknown; m?: unknown };
  if (!SEGMENT_MEMBERSHIP_VIEW_VERSIONS.includes(v as SegmentState['v'])) {
    throw new SegmentMembershipViewError(
      `state version ${JSON.stringify(v ?? null)} is unknown (known: ${SEGMENT_MEMBERSHIP_VIEW_VERSIONS.join(', ')})`,
    );
  }
  if (!Array.isArray(m) || !m.every((segment) => typeof segment === 'string')) {
    throw new SegmentMembershipViewError('field `m` is not a list of segment names');
  }
  return [...m];
}
