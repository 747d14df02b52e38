/**
 * Where the results service keeps its counters, and how the API and the CLI read them. Per
 * partition p of the inputs (all under the partition's hash tag, no TTL):
 *
 *   {<prefix>:results:<p>}:h:campaigns       campaign -> sends (real and virtual) counted
 *   {<prefix>:results:<p>}:h:r:<campaign>    ["<experiment>","<arm>","<segment>","<counter>"] -> value
 *   {<prefix>:results:<p>}:c:<customer_id>   the customer's attribution state (STATE_TTL)
 *
 * A campaign's figures are the sum over partitions: one HGETALL per partition, so a read costs
 * partitions x (cells of the campaign) and does not grow with the number of customers or sends.
 */
import { cellKey, type Cell } from '../core/experiments/attribution';
import { COUNTER_FIELDS, emptyCounters, type ArmCounters } from '../core/experiments/model';
import { PartitionKeys } from '../kit/partition-state';
import type { RedisClient } from '../kit/redis';

/** The results service's name as a partition service: its keys derive from it. */
export const RESULTS_SERVICE = 'results';

export const CAMPAIGNS_HASH = 'campaigns';

export function campaignHash(campaign: string): string {
  return `r:${campaign}`;
}

/** The hash field of one counter of one cell of a campaign. */
export function counterField(cell: Cell, counter: keyof ArmCounters): string {
  return JSON.stringify([cell.experiment, cell.arm, cell.segment, counter]);
}

const COUNTERS = new Set<string>(COUNTER_FIELDS);

/** Reads the summed counters; the same code serves the API and the CLI. */
export class ResultsStore {
  readonly keys: PartitionKeys;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly partitionCount: () => number,
  ) {
    this.keys = new PartitionKeys(prefix, RESULTS_SERVICE);
  }

  private async eachPartition(name: string): Promise<Array<Record<string, string>>> {
    return Promise.all(Array.from({ length: this.partitionCount() }, (_, p) => this.redis.hgetall(this.keys.hash(p, name))));
  }

  /** Every campaign with counted sends, and how many. */
  async campaigns(): Promise<Map<string, number>> {
    const sums = new Map<string, number>();
    for (const hash of await this.eachPartition(CAMPAIGNS_HASH)) {
      for (const [campaign, value] of Object.entries(hash)) sums.set(campaign, (sums.get(campaign) ?? 0) + Number(value));
    }
    return sums;
  }

  /** A campaign's cells (by cellKey) with their counters, summed over the partitions. */
  async cells(campaign: string): Promise<Map<string, ArmCounters>> {
    const cells = new Map<string, ArmCounters>();
    for (const hash of await this.eachPartition(campaignHash(campaign))) {
      for (const [field, value] of Object.entries(hash)) {
        const [experiment, arm, segment, counter] = JSON.parse(field) as [string, string, string, string];
        if (!COUNTERS.has(counter)) continue;
        const key = cellKey({ campaign, experiment, arm, segment });
        const counters = cells.get(key) ?? emptyCounters();
        counters[counter as keyof ArmCounters] += Number(value);
        cells.set(key, counters);
      }
    }
    return cells;
  }
}
