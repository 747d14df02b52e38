/**
 * Did SES already take the email of a trigger? Asked only when the send ledger says "reserved"
 * on replay: the renderer died after reserving and before recording the result, so the SES
 * call may or may not have happened. Every email carries its trigger id (the
 * X-Kairos-Trigger-Id header, the trigger_id EmailTag, and the signed unsubscribe token).
 */
import { verifyLinkToken, type LinkKeyring } from '../core/links';
import { KairosError } from '../kit/errors';
import { FeedbackKeys } from '../kit/feedback-keys';
import type { Logger } from '../kit/logger';
import type { RedisClient } from '../kit/redis';

export interface SentMailLookup {
  /**
   * The SES message id of the trigger's email, or null when SES has no record of it.
   * `reservedAt` is when the ledger reserved the send (the SES call came after it).
   */
  findSent(triggerId: string, context?: { reservedAt: number }): Promise<{ messageId: string } | null>;
}

/**
 * Real SES: the tracker records each Send event's message id under its trigger_id tag
 * (services/tracker/feedback). A Send event reaches us seconds after SES accepted the email
 * (SES -> SNS -> HTTPS), so "no record yet" is not "not sent": the lookup waits until
 * `reservedAt + waitMs` (SENT_MAIL_WAIT) before answering null, polling every `pollMs`. A
 * renderer restarted long after the crash does not wait at all.
 *
 * The residual window (docs/operations.md): a Send event that arrives later than SENT_MAIL_WAIT
 * after the reservation (SNS retrying an unreachable tracker, the event destination disabled)
 * means a second email. The wait holds the partition's triggers back meanwhile.
 */
export class SesEventSentMailLookup implements SentMailLookup {
  private readonly keys: FeedbackKeys;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly options: { waitMs: number; pollMs?: number; clock?: () => number; logger?: Logger; sleep?: (ms: number) => Promise<void> },
  ) {
    this.keys = new FeedbackKeys(prefix);
  }

  async findSent(triggerId: string, context?: { reservedAt: number }): Promise<{ messageId: string } | null> {
    const clock = this.options.clock ?? Date.now;
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const pollMs = this.options.pollMs ?? 500;
    const deadline = (context?.reservedAt ?? clock()) + this.options.waitMs;
    let warned = false;
    for (;;) {
      const messageId = await this.redis.get(this.keys.sent(triggerId));
      if (messageId !== null) return { messageId };
      const left = deadline - clock();
      if (left <= 0) return null;
      if (!warned) {
        warned = true;
        this.options.logger?.warn({ triggerId, waitMs: left }, 'reserved send without an SES Send event yet; waiting for it before sending again');
      }
      await sleep(Math.min(pollMs, left));
    }
  }
}

/**
 * The SES emulator (aws-ses-v2-local) keeps every email in GET /store. For raw messages it
 * stores the parsed subject and bodies but neither headers nor tags, so the trigger id is read
 * from the signed unsubscribe token in the body (verified, so no other text can fake a match).
 */
export class EmulatorSentMailLookup implements SentMailLookup {
  constructor(
    private readonly endpoint: string,
    private readonly keyring: LinkKeyring,
    /** The renderer's clock: tokens are checked for expiry at its time, as they were signed at it. */
    private readonly clock: () => number = Date.now,
    private readonly timeoutMs = 5000,
  ) {}

  async findSent(triggerId: string): Promise<{ messageId: string } | null> {
    const response = await fetch(new URL('/store', this.endpoint), { signal: AbortSignal.timeout(this.timeoutMs) });
    if (!response.ok) throw new KairosError(`SES emulator /store answered ${response.status}`, { retriable: true });
    const store = (await response.json()) as { emails?: Array<{ messageId: string; body?: { html?: string; text?: string } }> };
    for (const email of store.emails ?? []) {
      if (triggerIdsIn(`${email.body?.html ?? ''}\n${email.body?.text ?? ''}`, this.keyring, this.clock()).has(triggerId)) return { messageId: email.messageId };
    }
    return null;
  }
}

// A token's shape (core/links.ts): v2.<key id>.<payload>.<mac>; verification decides the rest.
const UNSUBSCRIBE_TOKEN = /\/u\/(v2\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)/g;

/** The trigger ids named by unsubscribe links in `text` that verify against `keyring` at `nowMs`. */
export function triggerIdsIn(text: string, keyring: LinkKeyring, nowMs: number): Set<string> {
  const ids = new Set<string>();
  for (const match of text.matchAll(UNSUBSCRIBE_TOKEN)) {
    const verified = verifyLinkToken(match[1], keyring, nowMs);
    if (verified.ok && verified.claims.kind === 'unsubscribe') ids.add(verified.claims.trigger_id);
  }
  return ids;
}

/**
 * No way to ask: a reserved entry is sent again (at least once). Production wires SES event
 * publishing instead (configuration set -> event destination -> a store of Send events by
 * trigger_id tag), see docs/operations.md.
 */
export class NoSentMailLookup implements SentMailLookup {
  async findSent(): Promise<null> {
    return null;
  }
}
