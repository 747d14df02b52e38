import pino from 'pino';
import { commitMetadata, LogBinder, logMismatch, PartitionMovedError, StateLogMismatchError, type FenceView, type LogView } from '../../../services/kit/log-binding';
import { createMetrics } from '../../../services/kit/metrics';
import { MemoryLog } from '../../support/memory-log';

const fence = (applied: bigint | null, incarnation: string | null = 'inc-1'): FenceView => ({ applied, incarnation });
const log = (committed: LogView['committed'], low = 0n, high = 100n): LogView => ({ committed, low, high });
const commit = (offset: bigint, incarnation: string | null = 'inc-1') => ({ offset, metadata: incarnation === null ? null : commitMetadata(incarnation) });

describe('logMismatch: does a partition state belong to the log being read?', () => {
  it.each<[string, FenceView, LogView]>([
    ['a fresh partition on a fresh group', fence(null, null), log(null)],
    ['the same log after a graceful stop (commit = fence + 1)', fence(41n), log(commit(42n))],
    ['the same log after a crash before the commit', fence(41n), log(commit(30n))],
    ['a group reset to the earliest offset with Kafka tools (no metadata)', fence(41n), log(commit(0n, null))],
    ['state from before the binding existed (no incarnation, no metadata)', fence(41n, null), log(commit(42n, null))],
    ['the log start moved up to the fence + 1 by retention', fence(41n), log(commit(42n), 42n, 100n)],
    ['no state, after `state reset` set the group to the log start', fence(null, null), log(commit(10n, null), 10n)],
  ])('accepts %s', (_case, f, l) => {
    expect(logMismatch(f, l)).toBeNull();
  });

  it.each<[string, FenceView, LogView, RegExp]>([
    ['a recreated topic or wiped broker (no commit)', fence(41n), log(null), /no committed offset here: the topic was recreated/],
    ['commits of another incarnation', fence(41n), log(commit(42n, 'inc-2')), /incarnation inc-2, but Redis holds incarnation inc-1/],
    ['a log that ends before the fence', fence(41n), log(commit(42n), 0n, 41n), /the log ends at offset 40, before the state's last applied offset 41/],
    ['records deleted before they were applied', fence(41n), log(commit(42n), 50n, 100n), /records 42\.\.49 were deleted before they were applied/],
    ['a group ahead of the state (restored from a backup)', fence(41n), log(commit(60n)), /committed offset 60, past the state's last applied offset 41/],
    ['no state where the group committed progress (Redis flushed)', fence(null, null), log(commit(42n, 'inc-1')), /Redis holds no state for this partition/],
  ])('refuses %s', (_case, f, l, message) => {
    expect(logMismatch(f, l)).toMatch(message);
  });
});

describe('LogBinder.bind: a partition checked against its log while another member moves it on', () => {
  const topic = 'events';
  const batch = { generation: 1, firstOffset: '42', commit: async () => undefined };
  /** A binder over partition 0: the fence says `applied`, and reading it runs `meanwhile` (another member's progress). */
  function binder(memory: MemoryLog, applied: bigint, meanwhile: () => void = () => undefined) {
    const store = {
      async fence() {
        const read = { incarnation: 'inc-1', appliedOffsets: new Map([[topic, applied]]) };
        meanwhile();
        return read;
      },
    };
    return new LogBinder({ store, log: memory, logger: pino({ level: 'silent' }), metrics: createMetrics('log-binding-test') });
  }

  it('binds a state the group agrees with', async () => {
    const memory = new MemoryLog();
    memory.committed = commit(42n);
    await expect(binder(memory, 41n).bind(topic, 0, batch)).resolves.toEqual({ incarnation: 'inc-1', restoreUpTo: null });
  });

  it('does not stop the partition when the new owner applies and commits right after the fence was read: the batch is tried again', async () => {
    // This member's generation has ended; the owner applies 42..59, then commits 60.
    const memory = new MemoryLog();
    memory.committed = commit(42n);
    const checking = binder(memory, 41n, () => (memory.committed = commit(60n)));
    const error = await checking.bind(topic, 0, batch).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartitionMovedError);
    expect((error as PartitionMovedError).retriable).toBe(true);
    expect(checking.stopped().size).toBe(0);
  });

  it('still stops a partition whose group is ahead of its state while nobody moves it', async () => {
    const memory = new MemoryLog();
    memory.committed = commit(60n);
    const checking = binder(memory, 41n);
    await expect(checking.bind(topic, 0, batch)).rejects.toBeInstanceOf(StateLogMismatchError);
    expect([...checking.stopped().keys()]).toEqual([`${topic}:0`]);
  });
});
