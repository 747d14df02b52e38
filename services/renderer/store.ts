/**
 * The renderer's Redis state, thin: builds keys and arguments (reserveSendArgs and
 * finishTriggerArgs are pure and unit-tested), runs the Lua scripts of
 * services/renderer/lua (storeProfile, markOptOutTime, reserveSend, finishTrigger), reads. The
 * outbox is relayed by the kit's OutboxRelay (outbox-relay.ts).
 */
import { randomUUID } from 'node:crypto';
import { Mailbox, parseMailbox } from '../core/recipients';
import type { CustomerProfile, EmailOutcome, EmailStatus, TriggerFired } from '../core/types';
import { segmentStateView, type SegmentStateView } from '../core/segments';
import { FeedbackKeys, parseCampaignPause, type CampaignPause } from '../kit/feedback-keys';
import { loadServiceScripts, runScript, type RedisClient } from '../kit/redis';
import { segmentStateKey } from '../kit/segment-state-key';
import type { RendererKeys } from './keys';

export type LedgerState = 'reserved' | EmailStatus;
export const FINAL_STATES: ReadonlySet<LedgerState> = new Set(['sent', 'suppressed', 'skipped', 'failed']);

/** What an EmailOutcome says about the experiment and the customer, kept in the ledger (`x`) for a resumed send. */
export interface OutcomeTags {
  experiment: string | null;
  holdout: boolean;
  variables: Record<string, string>;
  segments: string[];
}

export const NO_TAGS: OutcomeTags = { experiment: null, holdout: false, variables: {}, segments: [] };

/** The ledger's `x` field back to tags; null when absent or unreadable (an entry written before tags were kept). */
export function parseTags(raw: string | undefined): OutcomeTags | null {
  if (raw === undefined || raw === '') return null;
  try {
    const value = JSON.parse(raw) as Partial<OutcomeTags>;
    return {
      experiment: typeof value.experiment === 'string' ? value.experiment : null,
      holdout: value.holdout === true,
      variables: value.variables !== null && typeof value.variables === 'object' ? Object.fromEntries(Object.entries(value.variables).filter(([, v]) => typeof v === 'string')) : {},
      segments: Array.isArray(value.segments) ? value.segments.filter((v): v is string => typeof v === 'string') : [],
    };
  } catch {
    return null;
  }
}

export interface LedgerEntry {
  state: LedgerState;
  campaign: string | null;
  variant: string | null;
  messageId: string | null;
  reason: string | null;
  at: number;
  /** deferred: when the timer fires, and the trigger it re-runs. */
  deferredUntil: number | null;
  trigger: TriggerFired | null;
  /** The experiment tags recorded with the reservation (or the last state); null for entries without. */
  tags: OutcomeTags | null;
}

export interface CustomerState {
  profile: CustomerProfile | null;
  unsubscribedAt: number | null;
  /** The latest `resubscribe` event's time (the tracker's preferences page). */
  resubscribedAt: number | null;
  /** Recent sends (including reserved ones), oldest first. */
  sends: Array<{ campaign: string; triggerId: string; at: number }>;
}

/** `vanished`: the state marker no longer holds the caller's incarnation (nothing written). */
export type ReserveResult = { reserved: true } | { reserved: false; state: LedgerState } | { reserved: false; capReached: number } | { reserved: false; vanished: true };

export interface FinishInput {
  partition: number;
  trigger: TriggerFired;
  /** Ledger states this transition may start from; "-" = no entry. */
  from: ReadonlyArray<LedgerState | '-'>;
  state: EmailStatus;
  campaign: string | null;
  variant: string | null;
  messageId: string | null;
  reason: string;
  at: number;
  /** The encoded outbox record (EmailOutcome). */
  outboxRecord: string;
  deferredUntil?: number;
  /** A member of the customer's sends to drop (a reserved send that failed). */
  dropSend?: string | null;
  /** Kept in the ledger; absent keeps what it holds. */
  tags?: OutcomeTags;
  /** The incarnation of the partition's state the decision was made against (its state marker). */
  incarnation: string;
}

export interface ReserveInput {
  partition: number;
  trigger: TriggerFired;
  now: number;
  campaign: string;
  variant: string | null;
  cap: { max: number; perMs: number };
  retentionMs: number;
  fromDeferred: boolean;
  reason: string;
  tags: OutcomeTags;
  /** The incarnation of the partition's state the decision was made against (its state marker). */
  incarnation: string;
}

/** The KEYS and ARGV of reserveSend-4.lua (see its header). */
export function reserveSendArgs(keys: RendererKeys, input: ReserveInput, ledgerTtlMs: number): { keys: string[]; args: string[] } {
  const { partition, trigger } = input;
  return {
    keys: [keys.ledger(partition, trigger.trigger_id), keys.sends(partition, trigger.customer_id), keys.timers(partition), keys.stateMarker(partition)],
    args: [
      trigger.trigger_id,
      String(input.now),
      input.campaign,
      input.variant ?? '',
      String(input.cap.max),
      String(input.cap.perMs),
      String(Math.max(input.retentionMs, input.cap.perMs)),
      String(ledgerTtlMs),
      input.fromDeferred ? 'deferred' : '',
      input.reason,
      JSON.stringify(input.tags),
      input.incarnation,
    ],
  };
}

/** The KEYS and ARGV of finishTrigger-5.lua (see its header); `from` travels as one comma-separated argument. */
export function finishTriggerArgs(keys: RendererKeys, input: FinishInput, ledgerTtlMs: number): { keys: string[]; args: string[] } {
  const { partition, trigger } = input;
  return {
    keys: [
      keys.ledger(partition, trigger.trigger_id),
      keys.outbox(partition),
      keys.timers(partition),
      keys.sends(partition, trigger.customer_id),
      keys.stateMarker(partition),
    ],
    args: [
      trigger.trigger_id,
      input.from.join(','),
      input.state,
      input.campaign ?? '',
      input.variant ?? '',
      input.messageId ?? '',
      input.reason,
      String(input.at),
      String(ledgerTtlMs),
      input.outboxRecord,
      input.deferredUntil === undefined ? '' : String(input.deferredUntil),
      input.state === 'deferred' ? JSON.stringify(trigger) : '',
      input.dropSend ?? '',
      input.tags === undefined ? '' : JSON.stringify(input.tags),
      input.incarnation,
    ],
  };
}

export type SuppressionReason = 'bounced' | 'complained' | 'unsubscribed';

/**
 * A suppression list value: `<reason>|<epoch ms>` (entries written before the time was kept
 * are the bare reason). Null for anything else.
 */
export function parseSuppression(value: string): { reason: SuppressionReason; at: number | null } | null {
  const bar = value.indexOf('|');
  const reason = bar < 0 ? value : value.slice(0, bar);
  if (reason !== 'bounced' && reason !== 'complained' && reason !== 'unsubscribed') return null;
  const at = bar < 0 ? null : Number(value.slice(bar + 1));
  return { reason, at: at !== null && Number.isFinite(at) ? at : null };
}

/**
 * Puts a validated mailbox on the suppression list with its reason and time; the renderer
 * (ops, tests) and the tracker's SES feedback (hard bounces, complaints) both write through this.
 */
export async function suppressAddress(redis: RedisClient, keys: RendererKeys, mailbox: Mailbox, reason: SuppressionReason, at: number): Promise<void> {
  if (!(mailbox instanceof Mailbox)) throw new Error('cannot suppress: not a validated Mailbox');
  await redis.set(keys.suppression(mailbox.address), `${reason}|${Math.trunc(at)}`);
}

export function sendMember(campaign: string, triggerId: string): string {
  return `${campaign}|${triggerId}`;
}

export class RendererStore {
  constructor(
    readonly redis: RedisClient,
    readonly keys: RendererKeys,
    private readonly ledgerTtlMs: number,
  ) {
    loadServiceScripts(redis, 'renderer');
  }

  /**
   * The partition's state marker: its value names the incarnation of the renderer's state (an
   * id set when the marker is created, with `create`), null when there is none. A relay guarded
   * by it reads the outbox only while the marker still holds that id (readOutbox-4.lua).
   */
  async stateMarker(partition: number, create = false): Promise<string | null> {
    const key = this.keys.stateMarker(partition);
    if (create) await this.redis.set(key, randomUUID(), 'NX');
    return this.redis.get(key);
  }

  async storeProfile(partition: number, profile: CustomerProfile): Promise<boolean> {
    const key = this.keys.customer(partition, profile.customer_id);
    return (await runScript<number>(this.redis, 'storeProfile', [key], [profile.updated_at, JSON.stringify(profile)])) === 1;
  }

  /** A profile tombstone erases everything the renderer knows of the customer. */
  async eraseCustomer(partition: number, customerId: string): Promise<void> {
    await this.redis.del(this.keys.customer(partition, customerId), this.keys.sends(partition, customerId));
  }

  /** Records an `unsubscribe` event (field `u`; the latest time is kept). */
  async markUnsubscribed(partition: number, customerId: string, at: number): Promise<void> {
    await runScript(this.redis, 'markOptOutTime', [this.keys.customer(partition, customerId)], ['u', at]);
  }

  /** Records a `resubscribe` event (field `r`; the latest time is kept). */
  async markResubscribed(partition: number, customerId: string, at: number): Promise<void> {
    await runScript(this.redis, 'markOptOutTime', [this.keys.customer(partition, customerId)], ['r', at]);
  }

  async customer(partition: number, customerId: string): Promise<CustomerState> {
    const [hash, sends] = await Promise.all([
      this.redis.hgetall(this.keys.customer(partition, customerId)),
      this.redis.zrange(this.keys.sends(partition, customerId), 0, -1, 'WITHSCORES'),
    ]);
    const list: CustomerState['sends'] = [];
    for (let i = 0; i < sends.length; i += 2) {
      const member = sends[i];
      const bar = member.indexOf('|');
      list.push({ campaign: member.slice(0, bar), triggerId: member.slice(bar + 1), at: Number(sends[i + 1]) });
    }
    return {
      profile: hash.p === undefined ? null : (JSON.parse(hash.p) as CustomerProfile),
      unsubscribedAt: hash.u === undefined ? null : Number(hash.u),
      resubscribedAt: hash.r === undefined ? null : Number(hash.r),
      sends: list,
    };
  }

  /**
   * The customer's segments and behavioural facts at `now`, read through the segmenter's
   * segmentStateView; none when it has no state. Throws SegmentMembershipViewError on a state
   * this view does not know.
   */
  async segmentState(partition: number, customerId: string, now: number): Promise<SegmentStateView> {
    // As bytes: the compact segment state is binary (a UTF-8 string would mangle it).
    return segmentStateView(await this.redis.getBuffer(segmentStateKey(this.keys.prefix, partition, customerId)), now);
  }

  /** The suppression list entry of a mailbox, looked up by its normalized address (IDN domains in punycode). */
  async suppression(mailbox: Mailbox | null): Promise<'bounced' | 'complained' | 'unsubscribed' | null> {
    if (mailbox === null) return null;
    const value = await this.redis.get(this.keys.suppression(mailbox.address));
    return value === null ? null : parseSuppression(value)?.reason ?? null;
  }

  /**
   * Puts an address on the suppression list (fed by SES bounce/complaint events; ops; tests),
   * under its normalized mailbox, so `M@Exämple.com` and `M@xn--exmple-cua.com` are one entry.
   * Throws for a value that is not exactly one mailbox (the message names the problem, not the value).
   */
  async suppress(address: string | Mailbox, reason: SuppressionReason, at: number = Date.now()): Promise<void> {
    const parsed = address instanceof Mailbox ? { ok: true as const, mailbox: address } : parseMailbox(address);
    if (!parsed.ok) throw new Error(`cannot suppress: the address is not exactly one mailbox (${parsed.problem})`);
    await suppressAddress(this.redis, this.keys, parsed.mailbox, reason, at);
  }

  /** The campaigns the deliverability guard paused (the tracker writes them from SES feedback). */
  async pausedCampaigns(): Promise<Map<string, CampaignPause>> {
    const hash = await this.redis.hgetall(new FeedbackKeys(this.keys.prefix).paused());
    return new Map(Object.entries(hash).map(([campaign, raw]) => [campaign, parseCampaignPause(raw)]));
  }

  async ledger(partition: number, triggerId: string): Promise<LedgerEntry | null> {
    const hash = await this.redis.hgetall(this.keys.ledger(partition, triggerId));
    if (hash.s === undefined) return null;
    const orNull = (value: string | undefined) => (value === undefined || value === '' ? null : value);
    return {
      state: hash.s as LedgerState,
      campaign: orNull(hash.c),
      variant: orNull(hash.v),
      messageId: orNull(hash.m),
      reason: orNull(hash.r),
      at: Number(hash.a ?? 0),
      deferredUntil: hash.d ? Number(hash.d) : null,
      trigger: hash.tr ? (JSON.parse(hash.tr) as TriggerFired) : null,
      tags: parseTags(hash.x),
    };
  }

  async reserve(input: ReserveInput): Promise<ReserveResult> {
    const { keys, args } = reserveSendArgs(this.keys, input, this.ledgerTtlMs);
    const [code, detail] = await runScript<[number, string]>(this.redis, 'reserveSend', keys, args);
    if (code === 1) return { reserved: true };
    if (code === -1) return { reserved: false, capReached: Number(detail) };
    if (code === -2) return { reserved: false, vanished: true };
    return { reserved: false, state: detail as LedgerState };
  }

  /**
   * Moves the ledger and queues the outcome; not applied when the ledger was not in `from`
   * (`current`: its state, null for no entry) or when the state marker no longer holds the
   * input's incarnation (`vanished`).
   */
  async finish(input: FinishInput): Promise<{ applied: boolean; current: LedgerState | null; vanished: boolean }> {
    const { keys, args } = finishTriggerArgs(this.keys, input, this.ledgerTtlMs);
    const [applied, current] = await runScript<[number, string]>(this.redis, 'finishTrigger', keys, args);
    return { applied: applied === 1, current: current === '' ? null : (current as LedgerState), vanished: applied === -1 };
  }

  /**
   * Restores a trigger's ledger entry from its EmailOutcome (`state rebuild`); a send that went
   * out, or a holdout's virtual one, joins the customer's recent sends. A `deferred` outcome is
   * not restored (the trigger it would re-run is not in the outcome): false.
   */
  async restoreOutcome(partition: number, outcome: EmailOutcome): Promise<boolean> {
    if (outcome.status === 'deferred') return false;
    const countsAsSend = outcome.status === 'sent' || (outcome.status === 'skipped' && outcome.holdout === true);
    const tags: OutcomeTags = { experiment: outcome.experiment ?? null, holdout: outcome.holdout === true, variables: outcome.variables ?? {}, segments: outcome.segments ?? [] };
    await runScript(
      this.redis,
      'restoreOutcome',
      [this.keys.ledger(partition, outcome.trigger_id), this.keys.sends(partition, outcome.customer_id)],
      [
        outcome.trigger_id, outcome.status, outcome.campaign ?? '', outcome.variant ?? '', outcome.ses_message_id ?? '', outcome.reason ?? '',
        outcome.at, this.ledgerTtlMs, JSON.stringify(tags), countsAsSend ? '1' : '',
      ],
    );
    return true;
  }

  async dueTimers(partition: number, now: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.timers(partition), '-inf', now, 'LIMIT', 0, limit);
  }

  async dropTimer(partition: number, triggerId: string): Promise<void> {
    await this.redis.zrem(this.keys.timers(partition), triggerId);
  }
}
