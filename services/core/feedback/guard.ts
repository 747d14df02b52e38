/**
 * The deliverability guard's decision, pure: a campaign pauses itself when, over its rolling
 * window (the tracker keeps daily buckets), its complaint rate or its hard-bounce rate passes
 * a threshold, once it has at least `minSends` sends in that window. SES itself reviews an
 * account at a 0.1% complaint rate and a 5% bounce rate; the defaults pause well before.
 */
export interface GuardThresholds {
  /** Complaints / sends above this pauses (0.001 = 0.1%). */
  complaintRate: number;
  /** Hard bounces / sends above this pauses (0.05 = 5%). */
  bounceRate: number;
  /** No decision before this many sends in the window: 1 complaint in 10 sends says little. */
  minSends: number;
}

export const DEFAULT_GUARD_THRESHOLDS: GuardThresholds = { complaintRate: 0.001, bounceRate: 0.05, minSends: 1000 };

export interface GuardCounts {
  sends: number;
  bounces: number;
  complaints: number;
}

export type GuardDecision = { pause: false } | { pause: true; reason: 'complaint_rate' | 'bounce_rate'; detail: string };

function percent(rate: number): string {
  return `${(rate * 100).toFixed(3).replace(/\.?0+$/, '')}%`;
}

export function guardDecision(counts: GuardCounts, thresholds: GuardThresholds): GuardDecision {
  const { sends, bounces, complaints } = counts;
  if (sends < thresholds.minSends || sends <= 0) return { pause: false };
  const complaintRate = complaints / sends;
  if (complaintRate > thresholds.complaintRate) {
    return { pause: true, reason: 'complaint_rate', detail: `${complaints} complaints in ${sends} sends (${percent(complaintRate)} > ${percent(thresholds.complaintRate)})` };
  }
  const bounceRate = bounces / sends;
  if (bounceRate > thresholds.bounceRate) {
    return { pause: true, reason: 'bounce_rate', detail: `${bounces} hard bounces in ${sends} sends (${percent(bounceRate)} > ${percent(thresholds.bounceRate)})` };
  }
  return { pause: false };
}

/** The UTC day number of `ms`: the guard's bucket. */
export function dayOf(ms: number): number {
  return Math.floor(ms / 86_400_000);
}
