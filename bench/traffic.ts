/** Latency probes for the benchmarks; the traffic itself comes from services/tools/synthetic. */
import { behaviorEvent, type BehaviorEvent } from '../services/core/types';

export { shopTraffic } from '../services/tools/synthetic';

/**
 * Latency probes: a fresh customer's fourth view of one product inside a minute, which fires
 * high_interest at once. Only the fourth view of each probe is timed; `probe(i)` gives the
 * four events of probe i with event times around `at`.
 */
export function highInterestProbe(run: string, i: number, at: number): BehaviorEvent[] {
  const customer = `${run}-probe${i}`;
  return [0, 1, 2, 3].map((view) =>
    behaviorEvent({
      event_id: `${run}-probe${i}-v${view}`,
      customer_id: customer,
      type: 'product_view',
      occurred_at: at - (3 - view) * 1000,
      product_id: `p-${i % 500}`,
      category: 'cat-1',
    }),
  );
}
