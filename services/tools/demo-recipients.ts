/**
 * The demo's simulated recipients: which sent emails they open, which link they click and who
 * buys afterwards. Each decision is a pure function of the seed and the email's trigger_id, so
 * a given set of sent emails always gets the same engagement (and a resumed run redoes
 * exactly what an interrupted one left out). The demo makes the HTTP requests and publishes
 * the purchases; nothing here does I/O.
 */
import { createHash } from 'node:crypto';

/** Chances of the simulated recipients (the same for every campaign and arm: no thumb on the scale). */
export const RECIPIENT_ODDS = {
  /** Opens the email (loads the tracking pixel). */
  open: 0.5,
  /** Of those who open: clicks one of the email's links. */
  click: 0.4,
  /** Of those who click: buys afterwards. */
  buy: 0.5,
} as const;

/** The tracker links of one email's HTML: the open pixel and the click links (never unsubscribe or preferences). */
export interface TrackerLinks {
  open: string | null;
  clicks: string[];
}

/** Tracker paths: /o/ open pixel, /c/ click; /u/ unsubscribe and /p/ preferences are left alone. */
export function trackerLinks(html: string): TrackerLinks {
  const urls = [...html.matchAll(/\b(?:href|src)="([^"]+)"/g)].map((m) => m[1].replace(/&amp;/g, '&'));
  const withPath = (kind: string) => urls.filter((u) => {
    try {
      return new URL(u).pathname.startsWith(`/${kind}/`);
    } catch {
      return false;
    }
  });
  return { open: withPath('o')[0] ?? null, clicks: [...new Set(withPath('c'))] };
}

/** A uniform number in [0, 1) from the seed, the email and what is being decided. */
function draw(seed: number, triggerId: string, what: string): number {
  return createHash('sha256').update(`${seed}\0${triggerId}\0${what}`).digest().readUIntBE(0, 6) / 2 ** 48;
}

export interface RecipientPlan {
  open: boolean;
  /** The click link to follow, or null. */
  click: string | null;
  /** The purchase's value in cents, or null for none. */
  buyCents: number | null;
}

/** What the recipient of one email does. A click implies an open (a person who clicks has the email open). */
export function recipientPlan(seed: number, triggerId: string, links: TrackerLinks): RecipientPlan {
  const open = draw(seed, triggerId, 'open') < RECIPIENT_ODDS.open;
  const clicks = open && links.clicks.length > 0 && draw(seed, triggerId, 'click') < RECIPIENT_ODDS.click;
  const click = clicks ? links.clicks[Math.floor(draw(seed, triggerId, 'link') * links.clicks.length)] : null;
  const buys = click !== null && draw(seed, triggerId, 'buy') < RECIPIENT_ODDS.buy;
  return { open, click, buyCents: buys ? 2000 + 100 * Math.floor(draw(seed, triggerId, 'value') * 200) : null };
}

/** The purchase's event_id: the same for the same seed and email, so a repeat is recognizable. */
export const purchaseEventId = (seed: number, triggerId: string) => `demo-${seed}-buy-${triggerId}`;
