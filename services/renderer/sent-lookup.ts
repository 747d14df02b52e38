/**
 * Did SES already take the email of a trigger? Asked only when the send ledger says "reserved"
 * on replay: the renderer died after reserving and before recording the result, so the SES
 * call may or may not have happened. Every email carries its trigger id (the
 * X-Kairos-Trigger-Id header, the trigger_id EmailTag, and the signed unsubscribe token).
 */
import { verifyLinkToken, type LinkKeyring } from '../core/links';
import { KairosError } from '../kit/errors';

export interface SentMailLookup {
  /** The SES message id of the trigger's email, or null when SES has no record of it. */
  findSent(triggerId: string): Promise<{ messageId: string } | null>;
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
