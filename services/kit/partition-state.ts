import { storedText } from '../core/compact-bytes';
import { KIT_LUA_DIR, loadLuaScripts, runScript, type RedisClient } from './redis';
import { globEscape } from './redis-scan';

/**
 * Where one service keeps the state of one Kafka partition in Redis. Every key carries the
 * hash tag `{<prefix>:<service>:<partition>}`, so one Lua call can change all of them
 * atomically, on a single Redis or a Redis Cluster. The partition is that of the input topics
 * (co-partitioned), and a customer always maps to one partition, so a customer's keys are
 * all under one tag.
 */
export class PartitionKeys {
  constructor(
    readonly prefix: string,
    readonly service: string,
  ) {}

  tag(partition: number): string {
    return `{${this.prefix}:${this.service}:${partition}}`;
  }
  fence(partition: number): string {
    return `${this.tag(partition)}:fence`;
  }
  outbox(partition: number): string {
    return `${this.tag(partition)}:outbox`;
  }
  timers(partition: number): string {
    return `${this.tag(partition)}:timers`;
  }
  customer(partition: number, customerId: string): string {
    return `${this.tag(partition)}:c:${customerId}`;
  }
  /** A hash of counters within the partition (no TTL: aggregates live until reset). */
  hash(partition: number, name: string): string {
    return `${this.tag(partition)}:h:${name}`;
  }
  /** A set of members (for example a segment's customers) within the partition. */
  set(partition: number, name: string): string {
    return `${this.tag(partition)}:s:${name}`;
  }
  /** A pattern matching every key of the service, for tests and clean-up. */
  pattern(): string {
    return `{${globEscape(this.prefix)}:${globEscape(this.service)}:*`;
  }
  /** A pattern matching every key of one partition (all share its hash tag, so one slot). */
  partitionPattern(partition: number): string {
    return `${globEscape(this.tag(partition))}*`;
  }
}

/**
 * A stored customer state: text (JSON states) or bytes (the compact states of the segmenter and
 * the trigger service, read with PartitionStateStore's `binaryStates`). Bytes travel as Buffers
 * from MGET to the Lua script's ARGV and back, never through a JS string, so no byte is changed.
 */
export type StateValue = string | Buffer;

/** A stored state as text (JSON states; bytes are read as UTF-8). */
export function stateText(value: StateValue | null | undefined): string | null {
  return value === null || value === undefined ? null : storedText(value);
}

/** What the partition looked like when read: the fence and the customers' states. */
export interface PartitionSnapshot {
  version: number;
  /** Last applied offset per topic; records at or below it were applied already. */
  appliedOffsets: Map<string, bigint>;
  /** The state's incarnation id (see log-binding.ts); null until the first change records one. */
  incarnation: string | null;
  /** The newest event time applied (ms), or null: timers are judged by it, as the log is read. */
  streamTime: number | null;
  /**
   * Set by `state rebuild` after the state was lost: per input topic, the offset the group had
   * committed then (exclusive). Records below it are applied again without producing their
   * outputs, which reached Kafka before the loss (see PartitionProcessor). Absent: none.
   */
  restoreUpTo?: Map<string, bigint>;
  /**
   * The partition's timer watermark (fence field `tt`): every timer due at or before it has
   * fired, its outputs queued in the outbox. Null until a timer fired.
   */
  timersThrough?: number | null;
  /**
   * Set by `state rebuild` with the restore bounds (fence field `rt`): the timer watermark of
   * the lost state as its last relay transaction recorded it. Timers due by it that are still
   * set once the replay reached the bounds fired before the loss: they fire again without
   * output, once, and the field is removed (PartitionProcessor).
   */
  restoreTimersThrough?: number | null;
  /** Buffers when the store reads `binaryStates`, else strings. */
  states: Map<string, StateValue | null>;
}

/** A partition just after a change was applied to it. */
export interface AppliedChange {
  version: number;
  /** The due time (ms) of the partition's earliest timer, null when it has none. */
  earliestDue: number | null;
}

/** One atomic change to a partition, computed from a snapshot. */
export interface PartitionChange {
  /** The consumed batch this change covers; absent for timer firings. */
  advance?: { topic: string; offset: string };
  /** Recorded as the fence's incarnation if it has none yet. */
  incarnation?: string;
  /** The partition's stream time after this change (it only moves forward). */
  streamTime?: number;
  /** A timer firing: every timer due by this time has fired once the change is applied (the watermark only moves forward). */
  timersThrough?: number;
  /** Removes the fence's `rt` (restoreTimersThrough): the timers a rebuild owed are fired. */
  timersRestored?: boolean;
  /** New states by customer id (text or bytes); null deletes the customer's state. */
  states: Map<string, StateValue | null>;
  /** Encoded records for the outbox, in order. */
  outbox: string[];
  /** Timers to set (due ms) or remove (null), by member. */
  timers: Map<string, number | null>;
  /** Set memberships to add or remove. */
  sets: Array<{ set: string; op: '+' | '-'; member: string }>;
  /**
   * Increments of the partition's counter hashes (HINCRBY; HINCRBYFLOAT when `float`), applied
   * with the rest behind the fence, so a replayed batch never counts twice. The hashes have no
   * TTL. A service that counts gives deltas: the difference its records made.
   */
  counters?: Array<{ hash: string; field: string; by: number; float?: boolean }>;
}

export function emptyChange(): PartitionChange {
  return { states: new Map(), outbox: [], timers: new Map(), sets: [], counters: [] };
}

/**
 * ARGV[7] of applyPartitionChange-n.lua: the change's small variable-length parts, as JSON. The
 * bulky ones (state values, outbox records) follow it as plain arguments, so Redis does not
 * decode them; `states` says how many state values come before the outbox records.
 */
export interface PartitionChangeIndex {
  /** How many state values follow ARGV[7]: ARGV[7+n] is the value of KEYS[3+n]. */
  states: number;
  /** [member, due ms as a string, or "" to remove the member]. */
  timers: Array<[string, string]>;
  /** [KEYS index of the set, "+" or "-", member]. */
  sets: Array<[number, '+' | '-', string]>;
  /** [KEYS index of the hash, field, increment as a string, 1 for HINCRBYFLOAT else 0]; absent when none. */
  counters?: Array<[number, string, string, 0 | 1]>;
  /** The new timer watermark, ms as a string (PartitionChange.timersThrough); absent when unchanged. */
  timersThrough?: string;
  /** 1: remove the fence's `rt` (PartitionChange.timersRestored); absent otherwise. */
  timersRestored?: 1;
  /** 1: the last outbox record carries the fence's cover after the change (PartitionStateStore's `coverOutbox`); absent otherwise. */
  cover?: 1;
}

/**
 * The KEYS and ARGV of applyPartitionChange-n.lua for one change (see its header). KEYS: the
 * fence, outbox and timers, then one key per changed state, one per touched set and one per
 * counted hash. ARGV: six
 * fixed values, the PartitionChangeIndex as JSON, the state values (one per state key, in KEYS
 * order; "" deletes), then the outbox records.
 */
export function applyPartitionChangeArgs(
  partitionKeys: PartitionKeys,
  input: { partition: number; version: number; change: PartitionChange; stateTtlMs: number; coverOutbox?: boolean },
): { keys: string[]; args: Array<string | Buffer> } {
  const { partition, change } = input;
  const stateIds = [...change.states.keys()];
  const setNames = [...new Set(change.sets.map((s) => s.set))];
  const counters = change.counters ?? [];
  const hashNames = [...new Set(counters.map((c) => c.hash))];
  const firstSetKey = 4 + stateIds.length; // Lua's KEYS index of the first set
  const firstHashKey = firstSetKey + setNames.length;
  const index: PartitionChangeIndex = {
    states: stateIds.length,
    timers: [...change.timers].map(([member, due]) => [member, due === null ? '' : String(due)]),
    sets: change.sets.map(({ set, op, member }) => [firstSetKey + setNames.indexOf(set), op, member]),
  };
  // Increments travel as strings: cjson would print a number with 14 digits only.
  if (counters.length > 0) {
    index.counters = counters.map(({ hash, field, by, float }) => {
      if (!Number.isFinite(by) || (!float && !Number.isSafeInteger(by))) {
        throw new Error(`kairos partition state: counter ${hash}/${field} got the increment ${by}; expected ${float ? 'a finite number' : 'a safe integer'}`);
      }
      return [firstHashKey + hashNames.indexOf(hash), field, String(by), float ? 1 : 0];
    });
  }
  if (change.timersThrough !== undefined) {
    if (!Number.isSafeInteger(change.timersThrough)) throw new Error(`kairos partition state: timersThrough ${change.timersThrough} is not a time in ms; expected a safe integer`);
    index.timersThrough = String(change.timersThrough);
  }
  if (change.timersRestored === true) index.timersRestored = 1;
  if (input.coverOutbox === true && change.outbox.length > 0) index.cover = 1;
  return {
    keys: [
      partitionKeys.fence(partition),
      partitionKeys.outbox(partition),
      partitionKeys.timers(partition),
      ...stateIds.map((id) => partitionKeys.customer(partition, id)),
      ...setNames.map((name) => partitionKeys.set(partition, name)),
      ...hashNames.map((name) => partitionKeys.hash(partition, name)),
    ],
    args: [
      String(input.version),
      change.advance?.topic ?? '',
      change.advance?.offset ?? '',
      String(input.stateTtlMs),
      change.incarnation ?? '',
      change.streamTime === undefined ? '' : String(change.streamTime),
      JSON.stringify(index),
      ...stateIds.map((id) => change.states.get(id) ?? ''),
      ...change.outbox,
    ],
  };
}

/**
 * Reads and atomically changes per-partition state (see applyPartitionChange-n.lua). Thin:
 * runs the scripts with what applyPartitionChangeArgs builds, nothing else.
 */
export class PartitionStateStore {
  constructor(
    readonly redis: RedisClient,
    readonly keys: PartitionKeys,
    /** How long a customer's state lives after its last change (idle customers expire). */
    readonly stateTtlMs: number,
    /** Read states as Buffers (MGET's bytes), for services that store binary states. */
    readonly binaryStates = false,
    /**
     * Mark where each change's outbox records end: the last one carries the fence's cover after
     * the change (applyPartitionChange-n.lua), so an exactly_once relay that reads the outbox in
     * chunks commits each chunk's checkpoint with what it covers (outbox-relay.ts, coverOfChunk).
     */
    readonly coverOutbox = false,
  ) {
    loadLuaScripts(redis, KIT_LUA_DIR);
  }

  /** The fence and the states of `customerIds`, in one round trip. */
  async read(partition: number, customerIds: Iterable<string>): Promise<PartitionSnapshot> {
    const ids = [...new Set(customerIds)];
    const [fence, values] = await Promise.all([
      this.redis.hgetall(this.keys.fence(partition)),
      ids.length === 0
        ? Promise.resolve([])
        : this.binaryStates
          ? this.redis.mgetBuffer(ids.map((id) => this.keys.customer(partition, id)))
          : this.redis.mget(ids.map((id) => this.keys.customer(partition, id))),
    ]);
    const appliedOffsets = new Map<string, bigint>();
    const restoreUpTo = new Map<string, bigint>();
    for (const [field, value] of Object.entries(fence)) {
      if (field.startsWith('o:')) appliedOffsets.set(field.slice(2), BigInt(value));
      else if (field.startsWith('r:')) restoreUpTo.set(field.slice(2), BigInt(value));
    }
    return {
      version: Number(fence.v ?? 0),
      appliedOffsets,
      restoreUpTo,
      timersThrough: fence.tt === undefined ? null : Number(fence.tt),
      restoreTimersThrough: fence.rt === undefined ? null : Number(fence.rt),
      incarnation: fence.inc ?? null,
      streamTime: fence.st === undefined ? null : Number(fence.st),
      states: new Map(ids.map((id, i) => [id, values[i] ?? null])),
    };
  }

  /** The fence alone: what log-binding checks when a partition is assigned. */
  async fence(partition: number): Promise<Omit<PartitionSnapshot, 'states'>> {
    const { states: _states, ...fence } = await this.read(partition, []);
    return fence;
  }

  /** Applies `change` if the partition is still at `version`; false when it moved (recompute). */
  async apply(partition: number, version: number, change: PartitionChange): Promise<boolean> {
    return (await this.applyChange(partition, version, change)) !== null;
  }

  /**
   * Like `apply`; when applied, what the partition looks like after it: its new version and the
   * due time of its earliest timer (null when it has none). Null when the version had moved.
   */
  async applyChange(partition: number, version: number, change: PartitionChange): Promise<AppliedChange | null> {
    const { keys, args } = applyPartitionChangeArgs(this.keys, { partition, version, change, stateTtlMs: this.stateTtlMs, coverOutbox: this.coverOutbox });
    const [applied, newVersion, earliest] = await runScript<[number, number, string?]>(this.redis, 'applyPartitionChange', keys, args);
    if (applied !== 1) return null;
    return { version: newVersion, earliestDue: earliest === undefined ? null : Number(earliest) };
  }

  /** Timers due at `now` or earlier, oldest first. */
  async dueTimers(partition: number, now: number, limit: number): Promise<Array<{ member: string; dueAt: number }>> {
    const flat = await this.redis.zrangebyscore(this.keys.timers(partition), '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit);
    const due: Array<{ member: string; dueAt: number }> = [];
    for (let i = 0; i < flat.length; i += 2) due.push({ member: flat[i], dueAt: Number(flat[i + 1]) });
    return due;
  }

  /** The first `limit` records of the outbox. */
  async peekOutbox(partition: number, limit: number): Promise<string[]> {
    return this.redis.lrange(this.keys.outbox(partition), 0, limit - 1);
  }

  /** Drops the first `count` records if the head is still `head` (see trimOutbox-1.lua). */
  async trimOutbox(partition: number, count: number, head: string): Promise<number> {
    return runScript<number>(this.redis, 'trimOutbox', [this.keys.outbox(partition)], [count, head]);
  }
}
