import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { BatchContext, BatchOutcome, ConsumedRecord } from './consumer-runner';
import type { BatchPhase, KairosMetrics } from './metrics';
import { StateVanishedError, type OnItsWay, type OutboxRelay, type ReadAhead } from './outbox-relay';
import { CorruptStateError, KairosError } from './errors';
export type { LogInspector } from './log-binding';
import { commitMetadata, LogBinder, type LogInspector } from './log-binding';
import { PoisonRecordError } from './poison';
import { forEachPartition, PartitionQueues, runEvery, type PeriodicTask } from './scheduling';
import { emptyChange, type AppliedChange, type PartitionChange, type PartitionSnapshot, type PartitionStateStore } from './partition-state';

export { decodeOutboxRecord, encodeOutboxRecord, type OutboxRecord } from './outbox-relay';

/** A due timer of a partition. */
export interface DueTimer {
  member: string;
  dueAt: number;
}

/**
 * What a stateful service computes; pure apart from encoding. The processor does the reading,
 * fencing, atomic apply, relaying and retrying around it.
 */
export interface PartitionLogic {
  /** The customer whose state a record touches. */
  customerOfRecord(record: ConsumedRecord<unknown>): string;
  customersOfTimers(timers: DueTimer[]): string[];
  /** The record's event time (ms), or null when it has none: the partition's stream time follows it. */
  eventTime(record: ConsumedRecord<unknown>): number | null;
  /**
   * The change for records not yet applied; `advance` is filled in by the processor. A state
   * that cannot be decoded throws CorruptStateError naming its customer.
   */
  onRecords(snapshot: PartitionSnapshot, records: ConsumedRecord<unknown>[], now: number): PartitionChange;
  /**
   * The change for due timers. `now` is the service clock; `dueBy` is the time up to which
   * timers are due: the stream time, or the clock once the partition is caught up.
   */
  onTimers(snapshot: PartitionSnapshot, timers: DueTimer[], now: number, dueBy: number): PartitionChange;
}

export interface PartitionProcessorOptions {
  store: PartitionStateStore;
  logic: PartitionLogic;
  /** Produces the partition's outbox to Kafka (exactly once or at least once) and trims it. */
  relay: OutboxRelay;
  logger: Logger;
  metrics: KairosMetrics;
  clock: () => number;
  log: LogInspector;
  /** The input topic whose stream time and log end gate the timers (the first input). */
  timerTopic: string;
  /** How many due timers are handled per partition per tick. */
  timerBatchSize?: number;
}

/** Another writer kept moving the partition's version; the batch is retried by kafkajs. */
export class FenceContentionError extends KairosError {
  constructor(partition: number, attempts: number) {
    super(`partition ${partition}: state changed under us ${attempts} times in a row`, { retriable: true });
  }
}

const MAX_ATTEMPTS = 5;
/** Chunks of due timers one tick handles per partition at most; the rest waits for the next tick. */
const MAX_TIMER_ROUNDS = 100;

/**
 * Runs a service's PartitionLogic exactly-once in effect: read the partition (fence + states),
 * drop records at or below the applied offset, compute, apply atomically if nobody wrote in
 * between (else read again), then relay the outbox to Kafka and trim it. The consumer commits
 * offsets only after `handleBatch` resolves, so a crash anywhere replays into the fence.
 * One partition's work is serialized in-process (batches and timers share a queue).
 *
 * Before the first batch of a partition in each group generation, the fence is checked against
 * the log (log-binding.ts); a mismatch stops the partition. A customer whose state cannot be
 * decoded has its records dead-lettered; the rest of the partition goes on.
 */
export class PartitionProcessor {
  private readonly queues = new PartitionQueues();
  private timers: PeriodicTask | undefined;
  private readonly binder: LogBinder;
  /** Partition -> the incarnation of the state this instance applied to: a fence without it later means the state vanished. */
  private readonly known = new Map<number, string>();
  /** Partitions found with every restore bound reached (or none). */
  private readonly restored = new Set<number>();
  /** The relay read sent behind each partition's last apply (OutboxRelay.readAhead), for its relay in the same queued task. */
  private readonly readAheads = new Map<number, ReadAhead>();

  constructor(private readonly options: PartitionProcessorOptions) {
    this.binder = new LogBinder(options);
  }

  /** Partitions stopped because their state does not match their log, with the reason. */
  stopped(): ReadonlyMap<string, string> {
    return this.binder.stopped();
  }

  /** The ConsumerRunner handler. */
  handleBatch = async (records: ConsumedRecord<unknown>[], context: BatchContext): Promise<BatchOutcome> => {
    const { partition, topic } = context;
    const { logic, clock } = this.options;
    const lastOffset = BigInt(context.nextOffset) - 1n;
    // On its way to the relay from now: a transaction (or send) that gathers waits for it.
    const way = this.options.relay.expect();
    return this.runQueued(partition, async () => {
      const bound = await this.binder.bind(topic, partition, context);
      const corrupt = new Map<string, CorruptStateError>();
      const dead: ConsumedRecord<unknown>[] = [];
      let incarnation: string | null = null;
      /**
       * Applies `part` (records up to `partLast`), then fires the timers due by the stream time it
       * reached; `restoring`: its outputs (and those timers') reached Kafka before the state was lost.
       */
      const applyPart = async (part: ConsumedRecord<unknown>[], partLast: bigint, restoring: boolean) => {
        let appliedBefore = -1n;
        let streamTime: number | null = null;
        const applied = await this.applyWithRetry(partition, part.map((r) => logic.customerOfRecord(r)), true, (snapshot) => {
          this.checkNotVanished(topic, partition, snapshot);
          appliedBefore = snapshot.appliedOffsets.get(topic) ?? -1n;
          incarnation = snapshot.incarnation;
          streamTime = snapshot.streamTime;
          if (appliedBefore >= partLast) return null; // a replay: all applied
          incarnation ??= bound.incarnation ?? randomUUID(); // the first change of a fresh partition records it
          for (;;) {
            const fresh = allFresh(part, appliedBefore) && corrupt.size === 0 ? part : part.filter((r) => BigInt(r.offset) > appliedBefore && !corrupt.has(logic.customerOfRecord(r)));
            let change: PartitionChange;
            try {
              change = logic.onRecords(snapshot, fresh, clock());
            } catch (error) {
              // Bounded: each round takes one more customer out, and a batch has finitely many.
              if (!(error instanceof CorruptStateError) || corrupt.has(error.customerId)) throw error;
              corrupt.set(error.customerId, error);
              continue;
            }
            if (restoring) this.dropOutputs(change, partition);
            change.advance = { topic, offset: partLast.toString() };
            change.incarnation = incarnation as string;
            const newest = fresh.reduce<number | null>((max, r) => maxTime(max, logic.eventTime(r)), snapshot.streamTime);
            if (newest !== null) change.streamTime = newest;
            streamTime = newest;
            return change;
          }
        });
        if (incarnation !== null) this.known.set(partition, incarnation);
        // A batch's phases can outlast the session timeout in a backlog on a busy machine (its
        // partitions share one thread), and kafkajs heartbeats only between batches: beat here,
        // and between timer rounds. A rebalance then ends the batch now, its apply kept (the
        // fence skips it when the batch comes again; the partition's next owner relays it).
        await context.heartbeat();
        // Before the batch is committed, so a commit always covers every timer due by the stream
        // time it reached: a rebuild's replay below its restore bound then knows that all of them
        // fired before the loss, whatever the batches and ticks of either run were.
        if (topic === this.options.timerTopic && streamTime !== null) {
          const reached = streamTime;
          // The apply told when the partition's earliest timer is due: none due by now, no read.
          if (applied === null || (applied.earliestDue !== null && applied.earliestDue <= reached)) {
            await this.timed('timers', () => this.fireTimers(partition, reached, restoring, context.heartbeat));
          }
        }
        if (corrupt.size > 0) dead.push(...part.filter((r) => BigInt(r.offset) > appliedBefore && corrupt.has(logic.customerOfRecord(r))));
      };
      // After a rebuild (state rebuild): below this topic's restore bound, state only; past it,
      // records wait until every topic of the partition reached its bound. Read in another
      // order than in the original run, they could produce again what it produced then.
      const until = bound.restoreUpTo;
      let rest = records;
      let restFirst = BigInt(context.firstOffset);
      let readAgainFrom: string | undefined;
      if (until !== null && restFirst < until) {
        const restoredLast = lastOffset < until - 1n ? lastOffset : until - 1n;
        await applyPart(records.filter((r) => BigInt(r.offset) <= restoredLast), restoredLast, true);
        if (restoredLast === until - 1n) this.options.logger.info({ topic, partition, upTo: until.toString() }, 'topic rebuilt up to where the group was when the state was lost');
        rest = records.filter((r) => BigInt(r.offset) > restoredLast);
        restFirst = restoredLast + 1n;
      }
      if (restFirst <= lastOffset) {
        if (await this.stillRestoring(partition)) readAgainFrom = restFirst.toString();
        else await applyPart(rest, lastOffset, false);
      }
      // Guarded by the incarnation: Redis lost between the apply and the relay's read took this
      // batch's outputs with the outbox, so the partition stops without committing the batch and
      // the rebuild's replay produces them. Lost after the read, they reached Kafka: the batch is
      // committed, and the next batch finds the state gone.
      await this.timed('relay', () => this.relay(partition, topic, way));
      const deadLetters = dead.map((record) => ({ record, error: this.reportCorrupt(corrupt.get(logic.customerOfRecord(record)) as CorruptStateError, partition) }));
      const applied = incarnation ?? bound.incarnation;
      return { deadLetters, commitMetadata: applied === null ? null : commitMetadata(applied), ...(readAgainFrom === undefined ? {} : { readAgainFrom }) };
    }).finally(() => way.release());
  };

  /**
   * The partition's state this instance has been applying to is gone (Redis flushed, restarted
   * without persistence, failed over to an empty replica) or was replaced: applying the batch to
   * an empty state would be silently wrong, so the partition stops like a log mismatch.
   */
  private checkNotVanished(topic: string, partition: number, snapshot: Pick<PartitionSnapshot, 'incarnation'>): void {
    const expected = this.known.get(partition);
    if (expected === undefined || snapshot.incarnation === expected) return;
    const detail =
      snapshot.incarnation === null
        ? `the partition's state (incarnation ${expected}) vanished from Redis while this instance was applying to it: Redis was flushed, restarted without persistence or failed over to an empty replica; rebuild it (docs/operations.md, "Redis lost")`
        : `the partition's state was replaced (incarnation ${expected}, now ${snapshot.incarnation}) while this instance was applying to it`;
    throw this.binder.stop(topic, partition, detail);
  }

  /**
   * Whether a rebuilt partition still replays some topic below its restore bound, or still owes
   * the timers the lost state had fired (restoreTimers); remembered once it does not.
   */
  private async stillRestoring(partition: number): Promise<boolean> {
    if (this.restored.has(partition)) return false;
    const fence = await this.options.store.fence(partition);
    if (isRestoring(fence) || !(await this.restoreTimers(partition, fence))) return true;
    this.restored.add(partition);
    return false;
  }

  /**
   * Once a rebuilt partition replayed every topic up to its restore bound: the timers due by the
   * lost state's timer watermark (`restoreTimersThrough`, from its last relay's cover) that are
   * still set had fired before the loss, by the clock past the stream time the replay reached.
   * They fire again without output, and the watermark is removed, before anything past the
   * bounds is applied. Returns false while some are left (more than one tick handles).
   */
  private async restoreTimers(partition: number, fence: Pick<PartitionSnapshot, 'restoreTimersThrough'>): Promise<boolean> {
    const through = fence.restoreTimersThrough ?? null;
    if (through === null) return true;
    if (!(await this.fireTimers(partition, through, true))) return false;
    await this.applyWithRetry(partition, [], false, () => ({ ...emptyChange(), timersRestored: true }));
    this.options.logger.info({ partition, timersThrough: through }, 'timers the lost state had fired by its last relay fired again without output');
    return true;
  }

  /** While a rebuilt partition replays what it had applied before the loss: state only, no records to Kafka. */
  private dropOutputs(change: PartitionChange, partition: number): void {
    if (change.outbox.length === 0) return;
    this.options.metrics.outputsRestored.inc({ partition: String(partition) }, change.outbox.length);
    change.outbox = [];
  }

  private reportCorrupt(error: CorruptStateError, partition: number): PoisonRecordError {
    this.options.metrics.corruptStates.inc();
    this.options.logger.error({ partition, customer: error.customerId, error: error.detail }, "customer's state cannot be decoded; dead-lettering its records");
    return new PoisonRecordError('corrupt-state', error.message);
  }

  /** Fires due timers and relays leftover outbox records of `partitions` every `intervalMs`. */
  startTimers(partitions: () => number[], intervalMs: number): void {
    const { logger, log, timerTopic } = this.options;
    const onError = (err: unknown, partition: number) => logger.error({ err, partition }, 'timer tick failed; retrying next tick');
    this.timers = runEvery(intervalMs, async () => {
      const owned = partitions();
      await this.options.relay.release(owned);
      if (owned.length === 0) return;
      // Without the log ends (broker unreachable) timers still fire by stream time.
      const ends = await log.logEnds(timerTopic).catch((err: unknown) => {
        logger.warn({ err, topic: timerTopic }, 'could not read the log end; timers fire by stream time only this tick');
        return new Map<number, bigint>();
      });
      await forEachPartition(owned, (p) => this.fireDue(p, ends.get(p) ?? null), onError);
    });
  }

  /** Stops the timer loop and waits for a running tick. */
  async stopTimers(): Promise<void> {
    await this.timers?.stop();
  }

  /**
   * Fires the partition's due timers (all of them, in chunks), then relays. A timer is due once
   * the partition's stream time passed it, or, when the partition has been read up to
   * `logEnd` (caught up; read from Kafka when not given), once the clock passed it: a backlog
   * or a replay fires what a live run fires, never a timer whose cancelling record is still
   * unread further down the log. Queued behind the partition's batches and ticks: two relays of
   * one outbox at once would produce its records twice.
   */
  fireDue(partition: number, logEnd?: bigint | null): Promise<void> {
    return this.runQueued(partition, () => this.fireDueNow(partition, logEnd));
  }

  /** Runs `work` in the partition's queue; a read ahead of an apply is never taken by a later task. */
  private runQueued<T>(partition: number, work: () => Promise<T>): Promise<T> {
    return this.queues.run(partition, async () => {
      try {
        return await work();
      } finally {
        this.readAheads.delete(partition);
      }
    });
  }

  private async fireDueNow(partition: number, logEnd?: bigint | null): Promise<void> {
    const { store, clock, timerTopic, log } = this.options;
    if (this.binder.stopped().has(`${timerTopic}:${partition}`)) return;
    // The tick passes the log end it read for all partitions (null when it could not: timers
    // then fire by stream time only, and the next tick tries again); a direct call reads it here
    // and fails when it cannot, rather than silently judging by stream time alone.
    if (logEnd === undefined) logEnd = (await log.logEnds(timerTopic)).get(partition) ?? null;
    const fence = await store.fence(partition);
    if (!isRestoring(fence) && !(await this.restoreTimers(partition, fence))) {
      await this.relay(partition);
      return;
    }
    const applied = fence.appliedOffsets.get(timerTopic) ?? -1n;
    const caughtUp = logEnd !== null && applied + 1n >= logEnd;
    const dueBy = Math.max(fence.streamTime ?? Number.NEGATIVE_INFINITY, caughtUp ? clock() : Number.NEGATIVE_INFINITY);
    if (Number.isFinite(dueBy)) await this.fireTimers(partition, dueBy, false);
    await this.relay(partition);
  }

  /**
   * Fires the partition's timers due by `dueBy` (all of them, in chunks; bounded: a logic that
   * kept re-setting timers at or before dueBy cannot spin forever), and raises the partition's
   * timer watermark to `dueBy`. Their outputs are dropped when `restoring` or while the state
   * says a rebuild still replays below its bound. `beat`: the batch's heartbeat, after each
   * chunk, when a batch fires them. Returns false when the bound on chunks left some due.
   */
  private async fireTimers(partition: number, dueBy: number, restoring: boolean, beat?: () => Promise<void>): Promise<boolean> {
    const { store, logic, clock } = this.options;
    const limit = this.options.timerBatchSize ?? 200;
    for (let round = 0; round < MAX_TIMER_ROUNDS; round += 1) {
      const due = await store.dueTimers(partition, dueBy, limit);
      if (due.length === 0) return true;
      const corrupt = new Set<string>();
      await this.applyWithRetry(partition, logic.customersOfTimers(due), false, (snapshot) => {
        for (;;) {
          const firing = due.filter((t) => !logic.customersOfTimers([t]).some((c) => corrupt.has(c)));
          try {
            const change = logic.onTimers(snapshot, firing, clock(), dueBy);
            if (restoring || isRestoring(snapshot)) this.dropOutputs(change, partition);
            // The relay's cover lowers it below a timer still set (readOutbox-4.lua).
            change.timersThrough = Math.floor(dueBy);
            // A timer of an undecodable customer would be due again every tick: drop it.
            for (const t of due) if (!firing.includes(t)) change.timers.set(t.member, null);
            return change;
          } catch (error) {
            if (!(error instanceof CorruptStateError) || corrupt.has(error.customerId)) throw error;
            corrupt.add(error.customerId);
            this.reportCorrupt(error, partition);
          }
        }
      });
      if (due.length < limit) return true;
      await beat?.();
    }
    return false;
  }

  /**
   * Produces the partition's outbox to Kafka, then trims what was sent (see outbox-relay.ts);
   * once this instance applied to the partition, only while its state is the one applied to
   * (else the partition stops, as `topic`'s, like checkNotVanished).
   */
  async relay(partition: number, topic = this.options.timerTopic, way?: OnItsWay): Promise<number> {
    const ahead = this.readAheads.get(partition);
    this.readAheads.delete(partition);
    try {
      const relayed = this.options.relay.relay(partition, this.known.get(partition), ahead);
      way?.release(); // the relay call counts itself now
      return await relayed;
    } catch (error) {
      if (!(error instanceof StateVanishedError)) throw error;
      this.checkNotVanished(topic, partition, { incarnation: error.found });
      throw error;
    }
  }

  /** Runs `work` and observes its time as the batch phase `phase`. */
  private async timed<T>(phase: BatchPhase, work: () => Promise<T>): Promise<T> {
    const end = this.options.metrics.batchPhaseSeconds.startTimer({ phase });
    try {
      return await work();
    } finally {
      end();
    }
  }

  /**
   * Read, compute, apply; again from the read while the fence moved. `observe`: a batch's (its
   * phases observed in kairos_batch_phase_seconds). Returns the partition as the apply left it,
   * or null when `compute` found nothing to apply.
   */
  private async applyWithRetry(
    partition: number,
    customers: string[],
    observe: boolean,
    compute: (snapshot: PartitionSnapshot) => PartitionChange | null,
  ): Promise<AppliedChange | null> {
    const { store, metrics } = this.options;
    const phase = (name: BatchPhase) => (observe ? metrics.batchPhaseSeconds.startTimer({ phase: name }) : () => 0);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
      let end = phase('read');
      const snapshot = await store.read(partition, customers);
      end();
      end = phase('compute');
      const change = compute(snapshot);
      end();
      if (change === null) return null;
      end = phase('apply');
      const applying = store.applyChange(partition, snapshot.version, change);
      // The relay's first read, sent behind the apply before its answer: one round trip for both.
      const ahead = this.options.relay.readAhead(partition, snapshot.version + 1, change.incarnation ?? this.known.get(partition));
      this.readAheads.delete(partition); // one sent behind an earlier apply is out of date now
      const applied = await applying;
      end();
      if (ahead !== undefined && applied !== null) this.readAheads.set(partition, ahead);
      if (applied !== null) return applied;
      this.options.logger.warn({ partition, attempt }, 'partition state moved during the batch; recomputing');
    }
    throw new FenceContentionError(partition, MAX_ATTEMPTS);
  }
}

/** A rebuilt partition still replaying some topic below its restore bound. */
function isRestoring(snapshot: Pick<PartitionSnapshot, 'restoreUpTo' | 'appliedOffsets'>): boolean {
  for (const [topic, until] of snapshot.restoreUpTo ?? []) if ((snapshot.appliedOffsets.get(topic) ?? -1n) < until - 1n) return true;
  return false;
}

/**
 * Whether every record of `part` is past `appliedBefore`: a batch's records come in offset order,
 * so its first one tells (the common case, a batch not applied before: no offset of the others
 * is parsed and no filtered copy made).
 */
function allFresh(part: readonly ConsumedRecord<unknown>[], appliedBefore: bigint): boolean {
  return part.length === 0 || BigInt((part[0] as ConsumedRecord<unknown>).offset) > appliedBefore;
}

function maxTime(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  return b === null ? a : Math.max(a, b);
}
