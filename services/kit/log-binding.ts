/**
 * State is bound to its log. A partition's fence in Redis records the offsets it applied, but
 * offsets only mean something in the log they came from: after `make down` wiped the broker,
 * a topic was deleted and recreated, or a service was pointed at another cluster with the same
 * key prefix, offset 1,700 of the new log is not the record the fence applied. Dropping it as
 * "already applied" would lose it silently.
 *
 * The binding: every fence carries a random incarnation id, and every offset commit of the
 * consumer group carries `kairos-state:<id>` as its metadata. Kafka keeps committed offsets
 * beside the log (they vanish with a deleted topic, a wiped broker or another cluster), so when
 * a partition is assigned, the fence and the group's commit must agree, and the log must still
 * hold the records after the fence. Anything else is a mismatch: the partition is stopped and
 * reported, never skipped.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { BatchContext } from './consumer-runner';
import { KairosError } from './errors';
import type { KairosMetrics } from './metrics';

/** What the fence says of one topic of a partition. */
export interface FenceView {
  /** The fence's incarnation id, or null (a fresh partition, or state from before binding). */
  incarnation: string | null;
  /** The last offset of the topic applied to the state, or null when none was. */
  applied: bigint | null;
}

/** What Kafka says of the partition: the group's commit and the log's range. */
export interface LogView {
  committed: { offset: bigint; metadata: string | null } | null;
  /** First offset still in the log, and the offset the next record will get. */
  low: bigint;
  high: bigint;
}

const METADATA_PREFIX = 'kairos-state:';

/** The commit metadata that binds the group's offsets to a fence incarnation. */
export function commitMetadata(incarnation: string): string {
  return `${METADATA_PREFIX}${incarnation}`;
}

/** The fence incarnation a commit's metadata binds it to, or null (none, or not ours). */
export function incarnationOf(metadata: string | null): string | null {
  return metadata !== null && metadata.startsWith(METADATA_PREFIX) ? metadata.slice(METADATA_PREFIX.length) : null;
}

/** Null when the state may be used with this log; else why not, in one sentence. */
export function logMismatch(fence: FenceView, log: LogView): string | null {
  const committed = log.committed;
  const committedBy = committed === null ? null : incarnationOf(committed.metadata);
  if (fence.applied === null) {
    // No state for this topic. Fine unless the group says it already processed records into a
    // state that is gone (Redis flushed, another REDIS_KEY_PREFIX): they would never be applied.
    if (committed !== null && committedBy !== null && committedBy !== fence.incarnation && committed.offset > log.low) {
      return `Redis holds no state for this partition, but the group committed offset ${committed.offset} for state incarnation ${committedBy}: the records before it would never be applied (Redis was flushed, or REDIS_KEY_PREFIX changed)`;
    }
    return null;
  }
  const applied = fence.applied;
  if (committed === null) {
    return `the state applied offsets up to ${applied}, but the consumer group has no committed offset here: the topic was recreated, the broker's data was wiped, this is another cluster, or GROUP_ID changed`;
  }
  if (committedBy !== null && fence.incarnation !== null && committedBy !== fence.incarnation) {
    return `the group's commits belong to state incarnation ${committedBy}, but Redis holds incarnation ${fence.incarnation}: this state was built from another log or another deployment`;
  }
  if (log.high <= applied) {
    return `the log ends at offset ${log.high - 1n}, before the state's last applied offset ${applied}: the log was truncated or recreated`;
  }
  if (log.low > applied + 1n) {
    return `the log now starts at offset ${log.low}, but the state applied only up to ${applied}: records ${applied + 1n}..${log.low - 1n} were deleted before they were applied`;
  }
  if (committed.offset > applied + 1n) {
    return `the group committed offset ${committed.offset}, past the state's last applied offset ${applied}: the state is older than the group's progress (restored from a backup?)`;
  }
  return null;
}

/**
 * The partition's state does not belong to its log. Not retriable: the consumer stops that
 * partition (the others go on) until an operator resets its state.
 */
export class StateLogMismatchError extends KairosError {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly detail: string,
  ) {
    super(`${topic}[${partition}]: state does not match the log: ${detail}`, { retriable: false });
  }
}

/**
 * The group's commit of the partition moved while this member checked it against its log:
 * another member is processing it. Retriable: the batch comes again (or goes to that member).
 */
export class PartitionMovedError extends KairosError {
  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {
    super(`${topic}[${partition}]: the group's commit moved while the partition was checked against its log (another member is processing it); tried again`, { retriable: true });
  }
}

/** What Kafka says of the partitions: the group's commits and the logs' ranges. */
export interface LogInspector {
  view(topic: string, partition: number): Promise<LogView>;
  /** The high watermark (next offset) of each partition of `topic`. */
  logEnds(topic: string): Promise<Map<number, bigint>>;
}

/** What LogBinder.bind tells the handler of a partition's topic. */
export interface BoundState {
  incarnation: string | null;
  restoreUpTo: bigint | null;
}

/**
 * Checks each partition against its log once per group generation, before anything of it is
 * applied, and remembers the partitions it stopped.
 */
export class LogBinder {
  /** `topic:partition` -> the generation in which it was checked against the log, and what the fence said. */
  private readonly bound = new Map<string, { generation: number } & BoundState>();
  /** `topic:partition` -> why it was stopped (until a restart after a reset). */
  private readonly stoppedPartitions = new Map<string, string>();

  constructor(
    private readonly options: {
      store: { fence(partition: number): Promise<{ incarnation: string | null; appliedOffsets: Map<string, bigint>; restoreUpTo?: Map<string, bigint> }> };
      log: LogInspector;
      logger: Logger;
      metrics: KairosMetrics;
    },
  ) {}

  /** Partitions stopped because their state does not match their log, with the reason. */
  stopped(): ReadonlyMap<string, string> {
    return this.stoppedPartitions;
  }

  /** Records the partition as stopped (once logged and counted) and returns the error to throw. */
  stop(topic: string, partition: number, problem: string, context: Record<string, unknown> = {}): StateLogMismatchError {
    const { logger, metrics } = this.options;
    const key = `${topic}:${partition}`;
    if (!this.stoppedPartitions.has(key)) {
      metrics.stateLogMismatches.inc({ topic, partition: String(partition) });
      logger.error(
        {
          topic, partition, ...context,
          remedy: 'stop the service, then `npm run state -- reset --service <name> --partitions <p>` replays the log into a fresh state, or `state rebuild --service <name>` after Redis lost it (docs/operations.md)',
        },
        `partition stopped: its state does not match the log: ${problem}`,
      );
    }
    this.stoppedPartitions.set(key, problem);
    this.bound.delete(key);
    metrics.partitionsStopped.set(this.stoppedPartitions.size);
    return new StateLogMismatchError(topic, partition, problem);
  }

  /**
   * Checks the partition against its log once per group generation; throws StateLogMismatchError
   * (and keeps throwing it for that partition) on a mismatch. Returns the incarnation the state
   * has, or the one it must be given when it is created (null: none yet, use a new one), and
   * the topic's restore bound (PartitionSnapshot.restoreUpTo; null when none).
   *
   * A topic of the partition with no state applied and no commit yet is bound before anything of
   * it is applied: the batch's first offset is committed with the incarnation. Otherwise a
   * service killed between its first apply and its first commit would leave a state the
   * replacement could not tell from one of a wiped log.
   */
  async bind(topic: string, partition: number, batch: Pick<BatchContext, 'generation' | 'firstOffset' | 'commit'>): Promise<BoundState> {
    const { store, log, metrics } = this.options;
    const key = `${topic}:${partition}`;
    const known = this.bound.get(key);
    if (known?.generation === batch.generation) return known;
    // The group's commit is read before the fence and again after it, with the log's range: an
    // owner applies before it commits, so a commit read before the fence never runs ahead of
    // it, and the fence never runs past a log end read after it. A commit that moved between
    // the two reads means another member is moving the partition on (this member's generation
    // has ended, or it is about to); that is no mismatch, and the batch is tried again.
    const before = await log.view(topic, partition);
    const fence = await store.fence(partition);
    const applied = fence.appliedOffsets.get(topic) ?? null;
    const view = await log.view(topic, partition);
    if (before.committed?.offset !== view.committed?.offset) throw new PartitionMovedError(topic, partition);
    const problem = logMismatch({ incarnation: fence.incarnation, applied }, view);
    if (problem !== null) {
      throw this.stop(topic, partition, problem, {
        fence: { incarnation: fence.incarnation, appliedOffset: applied?.toString() ?? null },
        log: { low: view.low.toString(), high: view.high.toString(), committed: view.committed?.offset.toString() ?? null },
      });
    }
    this.stoppedPartitions.delete(key);
    metrics.partitionsStopped.set(this.stoppedPartitions.size);
    let incarnation = fence.incarnation;
    if (applied === null && view.committed === null) {
      incarnation ??= randomUUID();
      await batch.commit(batch.firstOffset, commitMetadata(incarnation));
    }
    const state = { incarnation, restoreUpTo: fence.restoreUpTo?.get(topic) ?? null };
    this.bound.set(key, { generation: batch.generation, ...state });
    return state;
  }
}
