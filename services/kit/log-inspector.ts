import type { Admin } from 'kafkajs';
import type { LogInspector, LogView } from './log-binding';

/** Reads a group's commits and the logs' ranges with a kafkajs admin client (kept connected). */
export class KafkaLogInspector implements LogInspector {
  constructor(
    private readonly admin: Admin,
    private readonly groupId: string,
  ) {}

  async view(topic: string, partition: number): Promise<LogView> {
    const [offsets, committed] = await Promise.all([
      this.admin.fetchTopicOffsets(topic),
      this.admin.fetchOffsets({ groupId: this.groupId, topics: [topic] }),
    ]);
    const range = offsets.find((p) => p.partition === partition);
    if (range === undefined) throw new Error(`${topic} has no partition ${partition}`);
    const commit = committed[0]?.partitions.find((p) => p.partition === partition);
    const low = BigInt(range.low);
    const offset = commit === undefined ? -1n : BigInt(commit.offset);
    // -1: no commit. -2: an operator reset the group to the earliest offset (kafkajs resetOffsets),
    // which the consumer resolves to the log start: a replay of the same log, no metadata.
    const resolved = offset === -2n ? { offset: low, metadata: null } : offset >= 0n ? { offset, metadata: commit?.metadata ?? null } : null;
    return { low, high: BigInt(range.high), committed: resolved };
  }

  async logEnds(topic: string): Promise<Map<number, bigint>> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((p) => [p.partition, BigInt(p.high)]));
  }
}
