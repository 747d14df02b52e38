/**
 * The SES feedback's Redis state, thin: SNS message claims (replay protection), the Send
 * records of the real-SES SentMailLookup, the deliverability guard's counters and pause list
 * (Lua scripts of services/tracker/lua), and the renderer's suppression list.
 */
import type { Mailbox } from '../../core/recipients';
import { FeedbackKeys, type CampaignPause } from '../../kit/feedback-keys';
import { loadServiceScripts, runScript, type RedisClient } from '../../kit/redis';
import { RendererKeys } from '../../renderer/keys';
import { suppressAddress, type SuppressionReason } from '../../renderer/store';
import type { GuardCounts } from '../../core/feedback';

const GUARD_FIELD = { send: 's', bounce: 'b', complaint: 'c' } as const;

export class FeedbackStore {
  readonly keys: FeedbackKeys;
  private readonly rendererKeys: RendererKeys;

  constructor(
    readonly redis: RedisClient,
    prefix: string,
  ) {
    this.keys = new FeedbackKeys(prefix);
    this.rendererKeys = new RendererKeys(prefix);
    loadServiceScripts(redis, 'tracker');
  }

  /** True when this SNS MessageId was not seen within `ttlMs`; it is then ours to handle. */
  async claimSnsMessage(messageId: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.keys.snsMessage(messageId), '1', 'PX', ttlMs, 'NX')) === 'OK';
  }

  /** Gives a claim back after a failure, so SNS's retry is handled. */
  async releaseSnsMessage(messageId: string): Promise<void> {
    await this.redis.del(this.keys.snsMessage(messageId));
  }

  async recordSent(triggerId: string, messageId: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys.sent(triggerId), messageId, 'PX', ttlMs);
  }

  async suppress(mailbox: Mailbox, reason: SuppressionReason, at: number): Promise<void> {
    await suppressAddress(this.redis, this.rendererKeys, mailbox, reason, at);
  }

  /** Counts one SES event for a campaign (once per eventId) and returns the window's totals. */
  async count(campaign: string, kind: keyof typeof GUARD_FIELD, day: number, eventId: string, windowDays: number): Promise<GuardCounts & { counted: boolean }> {
    const [counted, sends, bounces, complaints] = await runScript<[number, number, number, number]>(
      this.redis,
      'countFeedback',
      [this.keys.campaignCounts(campaign), this.keys.counted(eventId)],
      [GUARD_FIELD[kind], day, windowDays, kind === 'send' ? 0 : (windowDays + 1) * 86_400_000, (windowDays + 1) * 86_400_000],
    );
    return { counted: counted === 1, sends, bounces, complaints };
  }

  /** Puts the campaign on the pause list; false when it was paused already (the first pause stands). */
  async pause(campaign: string, pause: CampaignPause): Promise<boolean> {
    return (await this.redis.hsetnx(this.keys.paused(), campaign, JSON.stringify(pause))) === 1;
  }
}

/** Takes a campaign off the pause list and starts its guard window afresh; false when it was not paused. */
export async function resumeCampaign(redis: RedisClient, prefix: string, campaign: string): Promise<boolean> {
  loadServiceScripts(redis, 'tracker');
  const keys = new FeedbackKeys(prefix);
  return (await runScript<number>(redis, 'resumeCampaign', [keys.paused(), keys.campaignCounts(campaign)], [campaign])) === 1;
}
