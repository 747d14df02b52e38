/**
 * The Redis keys of SES feedback, shared by the tracker (which writes them from SES events)
 * and the renderer (which reads the pause list and the Send records).
 *
 * - `{<prefix>:feedback:guard}:...` the deliverability guard: one hash of daily counters per
 *   campaign, the hash of paused campaigns, and the per-SES-event "counted" markers. One hash
 *   tag, so the guard's Lua scripts change them together on a Redis Cluster too.
 * - `{<prefix>:feedback:sent:<trigger_id>}` the SES message id of a trigger's email, from its
 *   Send event (the real-SES SentMailLookup); its own hash tag, so they spread over a cluster.
 * - `{<prefix>:feedback:sns}:<MessageId>` SNS messages already handled (replay protection).
 */
export class FeedbackKeys {
  constructor(readonly prefix: string) {}

  guardTag(): string {
    return `{${this.prefix}:feedback:guard}`;
  }
  /** Hash: `s:<day>`, `b:<day>`, `c:<day>` -> sends, hard bounces, complaints of that UTC day. */
  campaignCounts(campaign: string): string {
    return `${this.guardTag()}:counts:${campaign}`;
  }
  /** Hash: campaign -> JSON { at, reason, detail, counts }. */
  paused(): string {
    return `${this.guardTag()}:paused`;
  }
  /** Set when an SES event was counted, so a redelivery (a new SNS MessageId) is not counted twice. */
  counted(eventId: string): string {
    return `${this.guardTag()}:counted:${eventId}`;
  }
  sent(triggerId: string): string {
    return `{${this.prefix}:feedback:sent:${triggerId}}`;
  }
  snsMessage(messageId: string): string {
    return `{${this.prefix}:feedback:sns}:${messageId}`;
  }
  pattern(): string {
    return `{${this.prefix}:feedback:*`;
  }
}

/** What the pause list holds for one campaign. */
export interface CampaignPause {
  at: number;
  reason: string;
  detail: string;
}

export function parseCampaignPause(raw: string): CampaignPause {
  try {
    const value = JSON.parse(raw) as Partial<CampaignPause>;
    return { at: Number(value.at ?? 0), reason: String(value.reason ?? 'unknown'), detail: String(value.detail ?? '') };
  } catch {
    return { at: 0, reason: 'unknown', detail: 'unreadable pause record' };
  }
}
