/**
 * Attribution, per customer: what the results service keeps of one customer (their touches,
 * purchases and engagement not yet matched) and what that state contributes to the counters
 * of each cell (services/core/experiments/model.ts). Pure: no I/O.
 *
 * The service applies a batch's records to a customer's state and adds
 * contribution(after) - contribution(before) to the counters. As the contribution is a function
 * of the state alone, and the state a function of the set of records applied (not of their
 * order), the counters do not depend on the order in which the two topics are read: a purchase
 * read before the send that precedes it is attributed once the send arrives, an open read before
 * its outcome counts once it arrives; a duplicate (same trigger_id, event_id) changes nothing.
 *
 * Bounded state. Each customer has a floor F (the newest time applied minus the horizon H, or
 * more, see prune()): a touch, purchase or click older than F is late and is not applied. What
 * no record at or after F can change any more is dropped from the state, its contribution
 * frozen: a purchase before F is folded into the base of the touches it was attributed to (so
 * it stays counted once, and `revenueSq` stays the square of the touch's whole revenue); a
 * touch is dropped once F > at + H + W. So pruning never changes the counters, and the result
 * is exact for any order in which no record comes more than H behind the customer's newest.
 * Engagement counts for a send when it happened within H of it (either side: clocks differ).
 */
import { COUNTER_FIELDS, emptyCounters, type ArmCounters } from './model';
import type { BehaviorEvent, EmailOutcome } from '../types';

export interface AttributionOptions {
  /** W: a purchase up to W after a send (or a human click) is attributed to it. */
  windowMs: number;
  /** H: how far behind the customer's newest time a record may come and still count (>= W). */
  horizonMs: number;
  /** Most touches, purchases, unmatched engagements and click times per touch kept per customer. */
  maxTouches: number;
  maxPurchases: number;
  maxPending: number;
  maxClicksPerTouch: number;
}

export const DEFAULT_LIMITS = { maxTouches: 256, maxPurchases: 256, maxPending: 256, maxClicksPerTouch: 32 } as const;

/** Engagement kinds: delivered, bounced, opened (human), clicked (human), unsubscribed, complained. */
type EngagementKind = 'd' | 'b' | 'o' | 'c' | 'u' | 'x';
const FLAG_COUNTER: Record<EngagementKind, keyof ArmCounters> = {
  d: 'delivered',
  b: 'bounced',
  o: 'opened',
  c: 'clicked',
  u: 'unsubscribed',
  x: 'complained',
};

/** A real send or the holdout's virtual send. */
export interface Touch {
  /** trigger_id */
  id: string;
  /** ses_message_id: SES feedback without a trigger_id tag names the email by it. */
  ses: string | null;
  at: number;
  campaign: string;
  /** Experiment id or "-". */
  experiment: string;
  /** Arm name, "holdout", or "-". */
  arm: string;
  segments: string[];
  /** Engagement kinds seen, e.g. "do" = delivered and opened. */
  flags: string;
  /** Human click times still able to earn a purchase (click window), ascending. */
  clicks: number[];
  /** Frozen: purchases folded in (send window: n, r; click window: cn, cr). */
  base: { n: number; r: number; cn: number; cr: number };
}

export interface Purchase {
  id: string;
  at: number;
  cents: number;
}

/** Engagement with an email not (yet) among the touches. */
export interface PendingEngagement {
  ref: string;
  kind: EngagementKind;
  at: number;
}

export interface AttributionState {
  /** Records older than this are late (not applied); null before the first record. */
  floor: number | null;
  newest: number | null;
  touches: Touch[];
  purchases: Purchase[];
  pending: PendingEngagement[];
}

export function emptyAttributionState(): AttributionState {
  return { floor: null, newest: null, touches: [], purchases: [], pending: [] };
}

/** One input record of a customer: an outcome from email.outcomes or an event from behavior.events. */
export type AttributionRecord = { outcome: EmailOutcome } | { event: BehaviorEvent };

/** Why a record changed nothing, for the service's metrics. */
export type IgnoredReason = 'not_a_touch' | 'not_counted' | 'machine' | 'no_message_id' | 'late' | 'duplicate';

// ---------------------------------------------------------------------------------------------
// Cells

/** A cell: (campaign, experiment or "-", arm or "holdout" or "-", segment or "*"). */
export interface Cell {
  campaign: string;
  experiment: string;
  arm: string;
  segment: string;
}

/** A cell as a map key: JSON, so any characters in the names stay unambiguous. */
export function cellKey(cell: Cell): string {
  return JSON.stringify([cell.campaign, cell.experiment, cell.arm, cell.segment]);
}

export function parseCellKey(key: string): Cell {
  const [campaign, experiment, arm, segment] = JSON.parse(key) as [string, string, string, string];
  return { campaign, experiment, arm, segment };
}

/** The cells a touch counts in: "*" and each of its segments at send time. */
function cellsOf(touch: Touch): string[] {
  const { campaign, experiment, arm } = touch;
  return ['*', ...new Set(touch.segments.filter((s) => s !== '*'))].map((segment) => cellKey({ campaign, experiment, arm, segment }));
}

// ---------------------------------------------------------------------------------------------
// Applying records

/** The touch of an outcome: a sent email, or a holdout's virtual send; null for anything else. */
export function touchOf(outcome: EmailOutcome): Touch | null {
  const holdout = outcome.holdout === true;
  if (outcome.status !== 'sent' && !(outcome.status === 'skipped' && holdout)) return null;
  const experiment = outcome.experiment ?? null;
  return {
    id: outcome.trigger_id,
    ses: outcome.ses_message_id,
    at: outcome.at,
    campaign: outcome.campaign ?? '-',
    experiment: experiment ?? '-',
    arm: holdout ? 'holdout' : (outcome.variant ?? (experiment === null ? '-' : armNameOf(outcome.variables ?? {}))),
    segments: [...(outcome.segments ?? [])],
    flags: '',
    clicks: [],
    base: { n: 0, r: 0, cn: 0, cr: 0 },
  };
}

/** The arm's name when an outcome carries only its variables (the variant names it otherwise). */
function armNameOf(variables: Record<string, string>): string {
  const levels = Object.values(variables);
  return levels.length === 0 ? '-' : levels.join('+');
}

const FEEDBACK_KINDS: Record<string, EngagementKind> = { email_delivered: 'd', email_bounced: 'b', email_complained: 'x' };

/** A behaviour event as engagement, or why it is none. */
function engagementOf(event: BehaviorEvent): PendingEngagement | IgnoredReason {
  let kind: EngagementKind;
  const props = event.properties ?? {};
  if (event.type === 'email_open' || event.type === 'email_click') {
    // A scanner, a prefetch or a too-fast hit: a machine's, not a person's.
    if (props.suspect !== undefined || props.prefetch !== undefined) return 'machine';
    kind = event.type === 'email_open' ? 'o' : 'c';
  } else if (event.type === 'unsubscribe') kind = 'u';
  else if (FEEDBACK_KINDS[event.type] !== undefined) kind = FEEDBACK_KINDS[event.type] as EngagementKind;
  else return 'not_counted';
  // SES feedback names the email by its trigger_id tag; message_id is SES's own id there.
  const ref = props.trigger_id ?? event.message_id;
  if (ref === null || ref === undefined || ref === '') return 'no_message_id';
  return { ref, kind, at: event.occurred_at };
}

function isLate(state: AttributionState, time: number): boolean {
  return state.floor !== null && time < state.floor;
}

function matches(touch: Touch, ref: string): boolean {
  return touch.id === ref || (touch.ses !== null && touch.ses === ref);
}

/** Engagement on a touch (in place); false when it came more than H from the send. */
function engage(touch: Touch, engagement: PendingEngagement, state: AttributionState, options: AttributionOptions): boolean {
  if (Math.abs(engagement.at - touch.at) > options.horizonMs) return false;
  if (!touch.flags.includes(engagement.kind)) touch.flags = [...touch.flags, engagement.kind].sort().join('');
  if (engagement.kind === 'c' && !isLate(state, engagement.at) && !touch.clicks.includes(engagement.at)) {
    touch.clicks = [...touch.clicks, engagement.at].sort((a, b) => a - b);
  }
  return true;
}

/**
 * Applies one record to the state (in place; callers pass a copy they own). Returns null when
 * it changed the state, else why not.
 */
export function applyRecord(state: AttributionState, record: AttributionRecord, options: AttributionOptions): IgnoredReason | null {
  if ('outcome' in record) {
    const touch = touchOf(record.outcome);
    if (touch === null) return 'not_a_touch';
    if (isLate(state, touch.at)) return 'late';
    if (state.touches.some((t) => t.id === touch.id)) return 'duplicate';
    advance(state, touch.at);
    const matched = state.pending.filter((e) => matches(touch, e.ref));
    for (const engagement of matched) engage(touch, engagement, state, options);
    state.pending = state.pending.filter((e) => !matches(touch, e.ref));
    state.touches.push(touch);
    return null;
  }
  const { event } = record;
  if (event.type === 'purchase') {
    if (isLate(state, event.occurred_at)) return 'late';
    if (state.purchases.some((p) => p.id === event.event_id)) return 'duplicate';
    advance(state, event.occurred_at);
    state.purchases.push({ id: event.event_id, at: event.occurred_at, cents: Math.max(0, event.value_cents ?? 0) });
    return null;
  }
  const engagement = engagementOf(event);
  if (typeof engagement === 'string') return engagement;
  const touch = state.touches.find((t) => matches(t, engagement.ref));
  if (touch !== undefined) {
    if (!engage(touch, engagement, state, options)) return 'late';
  } else {
    if (isLate(state, engagement.at + options.horizonMs)) return 'late'; // no touch it could count for can still come
    if (state.pending.some((e) => e.ref === engagement.ref && e.kind === engagement.kind && e.at === engagement.at)) return 'duplicate';
    state.pending.push(engagement);
  }
  advance(state, engagement.at);
  return null;
}

function advance(state: AttributionState, time: number): void {
  state.newest = state.newest === null ? time : Math.max(state.newest, time);
}

// ---------------------------------------------------------------------------------------------
// Attribution and contribution

/** Which touch wins: the later time, then the larger trigger_id. */
function later(a: { time: number; id: string }, b: { time: number; id: string }): boolean {
  return a.time > b.time || (a.time === b.time && a.id > b.id);
}

/** The touch earning a purchase in each window (last touch), or null. */
export function attributionOf(purchase: Purchase, touches: readonly Touch[], windowMs: number): { send: Touch | null; click: Touch | null } {
  let send: { time: number; id: string; touch: Touch } | null = null;
  let click: { time: number; id: string; touch: Touch } | null = null;
  for (const touch of touches) {
    if (touch.at <= purchase.at && purchase.at <= touch.at + windowMs) {
      const candidate = { time: touch.at, id: touch.id, touch };
      if (send === null || later(candidate, send)) send = candidate;
    }
    // The touch's latest human click at or before the purchase, if within the window.
    let latestClick: number | null = null;
    for (const tc of touch.clicks) if (tc <= purchase.at) latestClick = tc;
    if (latestClick !== null && purchase.at <= latestClick + windowMs) {
      const candidate = { time: latestClick, id: touch.id, touch };
      if (click === null || later(candidate, click)) click = candidate;
    }
  }
  return { send: send?.touch ?? null, click: click?.touch ?? null };
}

/** Each touch's attributed purchases (live and folded): n, r send window; cn, cr click window. */
function attributedTotals(state: AttributionState, windowMs: number): Map<Touch, { n: number; r: number; cn: number; cr: number }> {
  const totals = new Map(state.touches.map((t) => [t, { ...t.base }]));
  for (const purchase of state.purchases) {
    const { send, click } = attributionOf(purchase, state.touches, windowMs);
    if (send !== null) {
      const total = totals.get(send)!;
      total.n += 1;
      total.r += purchase.cents;
    }
    if (click !== null) {
      const total = totals.get(click)!;
      total.cn += 1;
      total.cr += purchase.cents;
    }
  }
  return totals;
}

/** What the state adds to each cell's counters. */
export function contribution(state: AttributionState, windowMs: number): Map<string, ArmCounters> {
  const cells = new Map<string, ArmCounters>();
  for (const [touch, total] of attributedTotals(state, windowMs)) {
    const own = emptyCounters();
    own.sent = 1;
    for (const kind of touch.flags) own[FLAG_COUNTER[kind as EngagementKind]] = 1;
    // A human click means the email was opened, even when its images (the pixel) were blocked.
    if (own.clicked === 1) own.opened = 1;
    own.converted = total.n > 0 ? 1 : 0;
    own.conversions = total.n;
    own.revenue = total.r;
    own.revenueSq = total.r * total.r;
    own.clickConverted = total.cn > 0 ? 1 : 0;
    own.clickConversions = total.cn;
    own.clickRevenue = total.cr;
    for (const key of cellsOf(touch)) {
      const counters = cells.get(key) ?? emptyCounters();
      for (const field of COUNTER_FIELDS) counters[field] += own[field];
      cells.set(key, counters);
    }
  }
  return cells;
}

/** after - before, per cell; cells whose counters did not move are left out. */
export function counterDelta(before: Map<string, ArmCounters>, after: Map<string, ArmCounters>): Map<string, ArmCounters> {
  const delta = new Map<string, ArmCounters>();
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const a = after.get(key) ?? emptyCounters();
    const b = before.get(key) ?? emptyCounters();
    const d = emptyCounters();
    let moved = false;
    for (const field of COUNTER_FIELDS) {
      d[field] = a[field] - b[field];
      if (d[field] !== 0) moved = true;
    }
    if (moved) delta.set(key, d);
  }
  return delta;
}

// ---------------------------------------------------------------------------------------------
// Pruning

/**
 * Drops what no record at or after the floor can change, freezing its contribution (see the
 * module comment); in place. Over a count limit, the floor is raised until the oldest item is
 * droppable: exact again from there on, at the cost of treating records before it as late.
 */
export function prune(state: AttributionState, options: AttributionOptions): void {
  const { horizonMs: h, windowMs: w } = options;
  if (state.newest === null) return;
  state.floor = Math.max(state.floor ?? Number.NEGATIVE_INFINITY, state.newest - h);
  for (;;) {
    pruneBefore(state, state.floor, options);
    const oldest = (times: number[]) => Math.min(...times);
    let raise: number | null = null;
    if (state.touches.length > options.maxTouches) raise = oldest(state.touches.map((t) => t.at)) + h + w + 1;
    else if (state.purchases.length > options.maxPurchases) raise = oldest(state.purchases.map((p) => p.at)) + 1;
    else if (state.pending.length > options.maxPending) raise = oldest(state.pending.map((e) => e.at)) + h + 1;
    else {
      const crowded = state.touches.find((t) => t.clicks.length > options.maxClicksPerTouch);
      if (crowded !== undefined) raise = (crowded.clicks[0] as number) + w + 1;
    }
    if (raise === null) return;
    state.floor = Math.max(state.floor, raise);
  }
}

function pruneBefore(state: AttributionState, floor: number, options: AttributionOptions): void {
  const { horizonMs: h, windowMs: w } = options;
  const final = state.purchases.filter((p) => p.at < floor);
  for (const purchase of final) {
    const { send, click } = attributionOf(purchase, state.touches, w);
    if (send !== null) send.base = { ...send.base, n: send.base.n + 1, r: send.base.r + purchase.cents };
    if (click !== null) click.base = { ...click.base, cn: click.base.cn + 1, cr: click.base.cr + purchase.cents };
  }
  state.purchases = state.purchases.filter((p) => p.at >= floor);
  state.touches = state.touches.filter((t) => t.at + h + w >= floor);
  for (const touch of state.touches) {
    if (touch.clicks.some((tc) => tc + w < floor)) touch.clicks = touch.clicks.filter((tc) => tc + w >= floor);
  }
  state.pending = state.pending.filter((e) => e.at + h >= floor);
}

// ---------------------------------------------------------------------------------------------
// One customer's records of a batch

export interface AppliedRecords {
  state: AttributionState;
  /** What the records added to each cell (contribution after minus before). */
  delta: Map<string, ArmCounters>;
  /** How many records changed nothing, by reason. */
  ignored: Partial<Record<IgnoredReason, number>>;
  /** False when no record changed anything: the stored state can stay as it is. */
  changed: boolean;
}

/** Applies a customer's records (any order), prunes, and says what the counters gain. */
export function applyRecords(previous: AttributionState, records: readonly AttributionRecord[], options: AttributionOptions): AppliedRecords {
  const state = cloneState(previous);
  const before = contribution(state, options.windowMs);
  const ignored: Partial<Record<IgnoredReason, number>> = {};
  let changed = false;
  for (const record of records) {
    const reason = applyRecord(state, record, options);
    if (reason !== null) ignored[reason] = (ignored[reason] ?? 0) + 1;
    else changed = true;
  }
  // Most events (page views, ...) concern no email: nothing to compute or store.
  if (!changed) return { state: previous, delta: new Map(), ignored, changed };
  // The delta before pruning: what pruning drops stays counted (its contribution is final).
  const delta = counterDelta(before, contribution(state, options.windowMs));
  prune(state, options);
  return { state, delta, ignored, changed };
}

function cloneState(state: AttributionState): AttributionState {
  return {
    floor: state.floor,
    newest: state.newest,
    touches: state.touches.map((t) => ({ ...t, segments: [...t.segments], clicks: [...t.clicks], base: { ...t.base } })),
    purchases: state.purchases.map((p) => ({ ...p })),
    pending: state.pending.map((e) => ({ ...e })),
  };
}

// ---------------------------------------------------------------------------------------------
// Storage

/** The stored form: JSON with a version, so a later layout can tell old states apart. */
export function serializeAttributionState(state: AttributionState): string | null {
  if (state.touches.length === 0 && state.purchases.length === 0 && state.pending.length === 0 && state.floor === null) return null;
  return JSON.stringify({ v: 1, ...state });
}

/** Throws (naming the problem) when the text is not a stored state. */
export function parseAttributionState(text: string | null): AttributionState {
  if (text === null) return emptyAttributionState();
  const parsed = JSON.parse(text) as { v?: unknown } & Partial<AttributionState>;
  if (parsed.v !== 1 || !Array.isArray(parsed.touches) || !Array.isArray(parsed.purchases) || !Array.isArray(parsed.pending)) {
    throw new Error(`not an attribution state of version 1 (v = ${JSON.stringify(parsed.v)})`);
  }
  return { floor: parsed.floor ?? null, newest: parsed.newest ?? null, touches: parsed.touches, purchases: parsed.purchases, pending: parsed.pending };
}

// ---------------------------------------------------------------------------------------------
// Input checks (email.outcomes at the results service's edge; reasons name fields, never values)

const OUTCOME_TEXT_LIMITS = { trigger_id: 128, customer_id: 128, campaign: 128, variant: 256, status: 16, ses_message_id: 256, reason: 2048, experiment: 256, rule: 128 } as const;
const OUTCOME_LIST_LIMITS = { segments: 100, variables: 50 } as const;
const STATUSES = ['sent', 'suppressed', 'skipped', 'deferred', 'failed'];

/** Why an outcome exceeds a limit (field, size, limit), or null. */
export function emailOutcomeLimitProblem(outcome: EmailOutcome): string | null {
  for (const [field, max] of Object.entries(OUTCOME_TEXT_LIMITS)) {
    const value = (outcome as unknown as Record<string, unknown>)[field];
    if (typeof value === 'string' && value.length > max) return `${field} is ${value.length} characters; at most ${max}`;
  }
  const segments = outcome.segments ?? [];
  if (segments.length > OUTCOME_LIST_LIMITS.segments) return `segments has ${segments.length} entries; at most ${OUTCOME_LIST_LIMITS.segments}`;
  const long = segments.findIndex((s) => s.length > 64);
  if (long >= 0) return `segments entry #${long + 1} is ${segments[long]!.length} characters; at most 64`;
  const variables = Object.entries(outcome.variables ?? {});
  if (variables.length > OUTCOME_LIST_LIMITS.variables) return `variables has ${variables.length} entries; at most ${OUTCOME_LIST_LIMITS.variables}`;
  const longVariable = variables.findIndex(([k, v]) => k.length > 64 || v.length > 64);
  if (longVariable >= 0) return `variables entry #${longVariable + 1} is longer than 64 characters`;
  return null;
}

/** Why a decoded outcome cannot be counted although schema-valid, or null. */
export function emailOutcomeProblem(outcome: EmailOutcome): string | null {
  if (outcome.trigger_id.trim() === '') return 'trigger_id is empty';
  if (outcome.customer_id.trim() === '') return 'customer_id is empty';
  if (!STATUSES.includes(outcome.status)) return `status is not one of ${STATUSES.join(', ')}`;
  if (!Number.isSafeInteger(outcome.at) || outcome.at <= 0) return `at ${outcome.at} is not a positive epoch-millisecond time`;
  if (outcome.holdout && outcome.experiment === null) return 'holdout is true without an experiment';
  if ((outcome.status === 'sent' || outcome.holdout) && (outcome.campaign === null || outcome.campaign.trim() === '')) {
    return `a ${outcome.holdout ? 'holdout' : 'sent'} outcome has no campaign`;
  }
  return null;
}
