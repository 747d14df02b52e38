/**
 * One customer's trigger state: a plain JSON object the adapter stores as a string (one Redis
 * value per customer) and hands back unchanged. Bounded by the constants in limits.ts. Pure.
 *
 * Lists rather than maps hold groups and rules, because group values come from producers and a
 * value like "__proto__" or "constructor" must not meet Object.prototype.
 */
import { createHash } from 'node:crypto';
import { MAX_STORED_VALUE_CHARS, SEEN_EVENT_IDS, SEEN_HASH_CHARS } from './limits';

export const TRIGGER_STATE_VERSION = 1;

export interface TriggerState {
  v: typeof TRIGGER_STATE_VERSION;
  /** Hashes of the last SEEN_EVENT_IDS event ids that some rule used, oldest first. */
  seen: string[];
  /** The tracked cart, kept only while some rule has `context: cart`. */
  cart: CartState | null;
  /** One entry per rule that has seen an event of this customer. */
  rules: RuleState[];
}

export interface CartState {
  /** Product ids in the cart, least recently added first (at most CART_MAX_ITEMS). */
  items: string[];
  /** Product id of the last add_to_cart still in the cart. */
  lastAdded: string | null;
}

export type RuleState = ThresholdRuleState | AbsenceRuleState;

export interface ThresholdRuleState {
  rule: string;
  kind: 'threshold';
  /** Newest occurred_at of any counted event of the rule: the lateness and eviction reference. */
  newest: number;
  groups: ThresholdGroup[];
}

export interface ThresholdGroup {
  /** The group value (hashed when longer than MAX_STORED_VALUE_CHARS); '' without group_by. */
  key: string;
  /** occurred_at of the newest greater_than + 1 counted events inside the window, ascending. */
  times: number[];
  /** False from a firing until the count is seen at or below greater_than again. */
  armed: boolean;
  /** Event time (the group's newest occurred_at) of the last firing, for the cooldown. */
  firedAt: number | null;
}

export interface AbsenceRuleState {
  rule: string;
  kind: 'absence';
  /** Newest occurred_at of a cancelling event seen: an arming event at or before it is already followed. */
  lastCancelAt: number | null;
  pending: PendingAbsence | null;
}

/** An arming event whose timer runs. */
export interface PendingAbsence {
  eventId: string;
  /** occurred_at of the arming event. */
  at: number;
  /** Service-clock time the timer fires; fireTimer before it does nothing. */
  dueAt: number;
  productId: string | null;
  category: string | null;
}

/** A state no event has touched yet. */
export function emptyTriggerState(): TriggerState {
  return { v: TRIGGER_STATE_VERSION, seen: [], cart: null, rules: [] };
}

/** A deep copy, so the engine can work on it without touching its input (faster than structuredClone). */
export function cloneTriggerState(state: TriggerState): TriggerState {
  return {
    v: state.v,
    seen: [...state.seen],
    cart: state.cart === null ? null : { items: [...state.cart.items], lastAdded: state.cart.lastAdded },
    rules: state.rules.map((ruleState) =>
      ruleState.kind === 'threshold'
        ? { ...ruleState, groups: ruleState.groups.map((group) => ({ ...group, times: [...group.times] })) }
        : { ...ruleState, pending: ruleState.pending === null ? null : { ...ruleState.pending } },
    ),
  };
}

/** The stored form of a state (compact JSON). */
export function encodeTriggerState(state: TriggerState): string {
  return JSON.stringify(state);
}

/** A stored state could not be read; the adapter should dead-letter the event, not retry. */
export class TriggerStateError extends Error {
  override readonly name = 'TriggerStateError';
  readonly retriable = false;
}

/** Reads a stored state; null or undefined (no key yet) gives an empty state. Throws TriggerStateError. */
export function decodeTriggerState(text: string | null | undefined): TriggerState {
  if (text === null || text === undefined) return emptyTriggerState();
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new TriggerStateError(`trigger state is not JSON: ${(error as Error).message}`);
  }
  const problem = stateProblem(raw);
  if (problem !== null) throw new TriggerStateError(`trigger state is invalid: ${problem}`);
  return raw as TriggerState;
}

// A hand-written check rather than a schema library: it runs once per customer and batch, on
// the hot path, and only has to catch corruption and foreign data, not explain it to people.
function stateProblem(raw: unknown): string | null {
  if (!isObject(raw)) return 'not an object';
  if (raw['v'] !== TRIGGER_STATE_VERSION) return `version ${JSON.stringify(raw['v'])}, expected ${TRIGGER_STATE_VERSION}`;
  if (!isArrayOf(raw['seen'], isString)) return 'seen is not a list of strings';
  const cart = raw['cart'];
  if (cart !== null && !(isObject(cart) && isArrayOf(cart['items'], isString) && isNullable(cart['lastAdded'], isString))) {
    return 'cart is malformed';
  }
  if (!Array.isArray(raw['rules'])) return 'rules is not a list';
  const bad = raw['rules'].findIndex((ruleState: unknown) => !isRuleState(ruleState));
  return bad === -1 ? null : `rules[${bad}] is malformed`;
}

function isRuleState(raw: unknown): boolean {
  if (!isObject(raw) || !isString(raw['rule'])) return false;
  if (raw['kind'] === 'threshold') return isTime(raw['newest']) && isArrayOf(raw['groups'], isGroup);
  if (raw['kind'] !== 'absence') return false;
  const pending = raw['pending'];
  const pendingOk =
    pending === null ||
    (isObject(pending) &&
      isString(pending['eventId']) &&
      isTime(pending['at']) &&
      isTime(pending['dueAt']) &&
      isNullable(pending['productId'], isString) &&
      isNullable(pending['category'], isString));
  return isNullable(raw['lastCancelAt'], isTime) && pendingOk;
}

function isGroup(raw: unknown): boolean {
  return (
    isObject(raw) &&
    isString(raw['key']) &&
    isArrayOf(raw['times'], isTime) &&
    typeof raw['armed'] === 'boolean' &&
    isNullable(raw['firedAt'], isTime)
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
function isString(value: unknown): value is string {
  return typeof value === 'string';
}
function isTime(value: unknown): value is number {
  return Number.isSafeInteger(value);
}
function isNullable(value: unknown, check: (value: unknown) => boolean): boolean {
  return value === null || check(value);
}
function isArrayOf(value: unknown, check: (item: unknown) => boolean): boolean {
  return Array.isArray(value) && value.every(check);
}

/** Records the event id as seen; false when it was already among the remembered ones. */
export function rememberEventId(state: TriggerState, eventId: string): boolean {
  const hash = createHash('sha256').update(eventId).digest('base64url').slice(0, SEEN_HASH_CHARS);
  if (state.seen.includes(hash)) return false;
  state.seen.push(hash);
  if (state.seen.length > SEEN_EVENT_IDS) state.seen.splice(0, state.seen.length - SEEN_EVENT_IDS);
  return true;
}

/** The value as stored in state: verbatim when short, else a hash (still unique per value). */
export function storedKey(value: string): string {
  if (value.length <= MAX_STORED_VALUE_CHARS) return value;
  return `#sha256:${createHash('sha256').update(value).digest('base64url')}`;
}

/** The value when it is short enough to keep, else null. */
export function keepableValue(value: string | null): string | null {
  return value !== null && value.length <= MAX_STORED_VALUE_CHARS ? value : null;
}
