/**
 * One customer's trigger state: a plain object the adapter stores as bytes (one Redis value per
 * customer) and hands back unchanged. Bounded by the constants in limits.ts. Pure.
 *
 * Stored forms (decodeTriggerState reads both, encodeTriggerState writes the compact one):
 * - compact (since format 2): the byte TRIGGER_STATE_COMPACT_MARKER, then the layout of
 *   encodeCompact below: varints, times as zigzag differences to one base time, seen hashes as
 *   their 6 raw bytes, rule names as text and the shipped kinds as one byte each (a state read
 *   under another rules file is still exact: nothing depends on the order of the rules).
 * - JSON (format 1, `{"v":1,...}`): what earlier versions stored; still read, so a deployed
 *   system upgrades in place, and still written for a state the compact layout cannot hold (a
 *   seen entry that is not a hash this code made, a number that is not a safe integer).
 * The marker 0x82 is a UTF-8 continuation byte: no text, so no JSON state, starts with it.
 *
 * Lists rather than maps hold groups and rules, because group values come from producers and a
 * value like "__proto__" or "constructor" must not meet Object.prototype.
 */
import { hash as digestOf } from 'node:crypto';
import { ByteReader, ByteWriter, compactOrJson, CompactFormatError, storedText } from '../compact-bytes';
import type { AbsenceRuleState } from './absence';
import type { RuleKindTypes } from './kinds';
import { SEEN_EVENT_IDS, SEEN_HASH_CHARS } from './limits';
import { findRuleKind, ruleKindOf } from './registry';
import { isArrayOf, isNullable, isObject, isString } from './stored-values';
import type { ThresholdGroup, ThresholdRuleState } from './threshold';

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

/** The first byte of a compact stored state. */
export const TRIGGER_STATE_COMPACT_MARKER = 0x82;

/** Bytes of a seen hash in the compact form (SEEN_HASH_CHARS base64url characters). */
const SEEN_HASH_BYTES = (SEEN_HASH_CHARS * 6) / 8;

/** What a stored state is read from: bytes (Redis, read as a Buffer) or the JSON text of format 1. */
export type StoredTriggerState = Buffer | string;

/** The stored form of a state: compact bytes, or format-1 JSON when the compact layout cannot hold it. */
export function encodeTriggerState(state: TriggerState): Buffer {
  return compactOrJson(state, encodeCompact, encodeTriggerStateJson);
}

/** The format-1 stored form (JSON text), as earlier versions wrote it. */
export function encodeTriggerStateJson(state: TriggerState): string {
  return JSON.stringify(state);
}

/** A stored state could not be read; the adapter should dead-letter the event, not retry. */
export class TriggerStateError extends Error {
  override readonly name = 'TriggerStateError';
  readonly retriable = false;
}

/**
 * Reads a stored state, compact or format-1 JSON; null or undefined (no key yet) gives an empty
 * state. Throws TriggerStateError for anything else (corrupt, foreign, of an unknown kind).
 */
export function decodeTriggerState(stored: StoredTriggerState | null | undefined): TriggerState {
  if (stored === null || stored === undefined) return emptyTriggerState();
  if (typeof stored !== 'string' && stored[0] === TRIGGER_STATE_COMPACT_MARKER) return decodeCompact(stored);
  return decodeJson(storedText(stored));
}

function decodeJson(text: string): TriggerState {
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
  const hash = digestOf('sha256', eventId, 'base64url').slice(0, SEEN_HASH_CHARS);
  if (state.seen.includes(hash)) return false;
  state.seen.push(hash);
  if (state.seen.length > SEEN_EVENT_IDS) state.seen.splice(0, state.seen.length - SEEN_EVENT_IDS);
  return true;
}

// The compact layout. Integers are varints, times zigzag differences to `base` (compact-bytes.ts).
//   marker, base (signed), seen count, seen hashes (6 bytes each),
//   cart: 0 (none) | 1, item count, items (strings), lastAdded (nullable string),
//   rule count, per rule: name (string), kind code, the kind's body:
//     threshold (1): newest, group count, per group: key, flags (1 armed, 2 firedAt), [firedAt], time count, times
//     absence (2):   lastCancelAt (0 none | 1 + time), pending: 0 | 1, eventId, at, dueAt, productId, category (nullable strings)
//     any other kind (0): its name, then the rule state as JSON text (checked by the kind on reading)
const KIND_OTHER = 0;
const KIND_THRESHOLD = 1;
const KIND_ABSENCE = 2;

function baseTime(state: TriggerState): number {
  for (const ruleState of state.rules) {
    if (ruleState.kind === 'threshold') return (ruleState as ThresholdRuleState).newest;
    if (ruleState.kind === 'absence') {
      const absence = ruleState as AbsenceRuleState;
      if (absence.pending !== null) return absence.pending.at;
      if (absence.lastCancelAt !== null) return absence.lastCancelAt;
    }
  }
  return 0;
}

function encodeCompact(state: TriggerState): Buffer {
  const w = new ByteWriter();
  w.byte(TRIGGER_STATE_COMPACT_MARKER);
  const base = baseTime(state);
  w.int(base);
  w.uint(state.seen.length);
  for (const hash of state.seen) w.base64url(hash, SEEN_HASH_CHARS);
  if (state.cart === null) w.byte(0);
  else {
    w.byte(1);
    w.uint(state.cart.items.length);
    for (const item of state.cart.items) w.string(item);
    w.nullableString(state.cart.lastAdded);
  }
  w.uint(state.rules.length);
  for (const ruleState of state.rules) {
    w.string(ruleState.rule);
    if (ruleState.kind === 'threshold') {
      w.byte(KIND_THRESHOLD);
      encodeThreshold(w, ruleState as ThresholdRuleState, base);
    } else if (ruleState.kind === 'absence') {
      w.byte(KIND_ABSENCE);
      encodeAbsence(w, ruleState as AbsenceRuleState, base);
    } else {
      w.byte(KIND_OTHER);
      w.string((ruleState as RuleStateBase).kind);
      w.string(JSON.stringify(ruleState));
    }
  }
  return w.finish();
}

function encodeThreshold(w: ByteWriter, state: ThresholdRuleState, base: number): void {
  w.time(state.newest, base);
  w.uint(state.groups.length);
  for (const group of state.groups) {
    w.string(group.key);
    w.byte((group.armed ? 1 : 0) | (group.firedAt === null ? 0 : 2));
    if (group.firedAt !== null) w.time(group.firedAt, base);
    w.times(group.times, base);
  }
}

function encodeAbsence(w: ByteWriter, state: AbsenceRuleState, base: number): void {
  if (state.lastCancelAt === null) w.byte(0);
  else {
    w.byte(1);
    w.time(state.lastCancelAt, base);
  }
  const pending = state.pending;
  if (pending === null) w.byte(0);
  else {
    w.byte(1);
    w.string(pending.eventId);
    w.time(pending.at, base);
    w.time(pending.dueAt, base);
    w.nullableString(pending.productId);
    w.nullableString(pending.category);
  }
}

function decodeCompact(bytes: Buffer): TriggerState {
  try {
    const r = new ByteReader(bytes, 1);
    const base = r.int();
    const seen: string[] = [];
    for (let i = 0, n = r.count(SEEN_HASH_BYTES); i < n; i += 1) seen.push(r.base64url(SEEN_HASH_BYTES));
    let cart: CartState | null = null;
    if (r.flags(1, 'cart') === 1) {
      const items: string[] = [];
      for (let i = 0, n = r.count(); i < n; i += 1) items.push(r.string());
      cart = { items, lastAdded: r.nullableString() };
    }
    const rules: RuleState[] = [];
    for (let i = 0, n = r.count(2); i < n; i += 1) {
      const rule = r.string();
      const code = r.byte();
      if (code === KIND_THRESHOLD) rules.push(decodeThreshold(r, rule, base));
      else if (code === KIND_ABSENCE) rules.push(decodeAbsence(r, rule, base));
      else if (code === KIND_OTHER) rules.push(decodeOther(r, rule, i));
      else throw new CompactFormatError(`rules[${i}] has the kind code ${code}`);
    }
    r.end();
    return { v: TRIGGER_STATE_VERSION, seen, cart, rules };
  } catch (error) {
    if (error instanceof CompactFormatError) throw new TriggerStateError(`trigger state is invalid: compact form: ${error.message}`);
    throw error;
  }
}

function decodeThreshold(r: ByteReader, rule: string, base: number): ThresholdRuleState {
  const newest = r.time(base);
  const groups: ThresholdGroup[] = [];
  for (let i = 0, n = r.count(3); i < n; i += 1) {
    const key = r.string();
    const flags = r.flags(3, 'group');
    const firedAt = (flags & 2) === 0 ? null : r.time(base);
    groups.push({ key, times: r.times(base), armed: (flags & 1) === 1, firedAt });
  }
  return { rule, kind: 'threshold', newest, groups };
}

function decodeAbsence(r: ByteReader, rule: string, base: number): AbsenceRuleState {
  const lastCancelAt = r.flags(1, 'lastCancelAt') === 1 ? r.time(base) : null;
  if (r.flags(1, 'pending') === 0) return { rule, kind: 'absence', lastCancelAt, pending: null };
  const eventId = r.string();
  const at = r.time(base);
  const dueAt = r.time(base);
  const productId = r.nullableString();
  const category = r.nullableString();
  return { rule, kind: 'absence', lastCancelAt, pending: { eventId, at, dueAt, productId, category } };
}

/** A rule state of a kind without a compact layout: its JSON, checked as format 1 checks it. */
function decodeOther(r: ByteReader, rule: string, index: number): RuleState {
  const kind = r.string();
  let raw: unknown;
  try {
    raw = JSON.parse(r.string());
  } catch {
    throw new CompactFormatError(`rules[${index}] is not JSON`);
  }
  if (!isObject(raw) || raw['rule'] !== rule || raw['kind'] !== kind || !isRuleState(raw)) {
    throw new CompactFormatError(`rules[${index}] is malformed`);
  }
  return raw as unknown as RuleState;
}
