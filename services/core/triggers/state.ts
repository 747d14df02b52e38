/**
 * One customer's trigger state: a plain JSON object the adapter stores as a string (one Redis
 * value per customer) and hands back unchanged. Bounded by the constants in limits.ts. Pure.
 *
 * Lists rather than maps hold groups and rules, because group values come from producers and a
 * value like "__proto__" or "constructor" must not meet Object.prototype.
 */
import { createHash } from 'node:crypto';
import type { RuleKindTypes } from './kinds';
import { SEEN_EVENT_IDS, SEEN_HASH_CHARS } from './limits';
import { findRuleKind, ruleKindOf } from './registry';
import { isArrayOf, isNullable, isObject, isString } from './stored-values';

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

/** What every rule state has, whatever its kind. */
export interface RuleStateBase {
  /** The rule's name. */
  rule: string;
  /** Its kind, whose descriptor knows the rest of the state (see kinds.ts). */
  kind: string;
}

/** The state of a rule of any kind declared in RuleKindTypes (kinds.ts). */
export type RuleState = RuleKindTypes[keyof RuleKindTypes]['state'];

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
    rules: state.rules.map((ruleState) => ruleKindOf(ruleState).cloneState(ruleState)),
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

/** A rule state of a registered kind, well formed as that kind checks it. */
function isRuleState(raw: unknown): boolean {
  if (!isObject(raw) || !isString(raw['rule'])) return false;
  const kind = findRuleKind(raw['kind']);
  return kind !== undefined && kind.isState(raw);
}

/** Records the event id as seen; false when it was already among the remembered ones. */
export function rememberEventId(state: TriggerState, eventId: string): boolean {
  const hash = createHash('sha256').update(eventId).digest('base64url').slice(0, SEEN_HASH_CHARS);
  if (state.seen.includes(hash)) return false;
  state.seen.push(hash);
  if (state.seen.length > SEEN_EVENT_IDS) state.seen.splice(0, state.seen.length - SEEN_EVENT_IDS);
  return true;
}
