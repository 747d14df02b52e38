/**
 * Tracked links in a rendered email. Links that come from data (products, cart, recommendations,
 * shop, unsubscribe, preferences) are signed by the adapter before rendering; this wraps the
 * http(s) links the templates themselves write (a help page, a social link) into signed click
 * links, and adds the open pixel at the end of the HTML body.
 *
 * It runs on the output whose values are still markers (values.ts), so it can tell the
 * template's own text from data: a link whose address holds a value (`{{product.url}}`, or a
 * template gluing a value into an address) is left exactly as it is. A customer value is thus
 * never signed into a redirect the tracker would follow (an open redirect seeded by, say, a
 * profile attribute), and a data link already signed is never wrapped twice. Links already
 * pointing at the tracker, mailto:, tel: and #anchors stay as they are. Pure.
 */
import { MARKER_BOUND } from './values';

export interface LinkTracking {
  /** A signed click URL that redirects to `url` (http or https). */
  click(url: string): string;
  /** True for a URL that already is one of the tracker's links. */
  isTracked(url: string): boolean;
  /** The open pixel's URL. */
  openPixelUrl: string;
}

const HREF = /(\bhref\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s>"'`=<]+))/gi;
const ENTITIES: Record<string, string> = { amp: '&', quot: '"', apos: "'", lt: '<', gt: '>' };

function decodeAttribute(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|amp|quot|apos|lt|gt);/gi, (whole, name: string) => {
    const lower = name.toLowerCase();
    if (lower.startsWith('#x')) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith('#')) return String.fromCodePoint(parseInt(lower.slice(1), 10));
    return ENTITIES[lower] ?? whole;
  });
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function isHttp(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:';
  } catch {
    return false;
  }
}

/** One tracked URL per distinct template link of an email (HTML and text share them). */
export class LinkWrapper {
  private readonly wrapped = new Map<string, string>();
  constructor(private readonly tracking: LinkTracking) {}

  /** The tracked URL of a template's http(s) link, or null when it is the tracker's already. */
  wrap(url: string): string | null {
    if (this.tracking.isTracked(url)) return null;
    let tracked = this.wrapped.get(url);
    if (tracked === undefined) {
      tracked = this.tracking.click(url);
      this.wrapped.set(url, tracked);
    }
    return tracked;
  }
}

/** A template's own http(s) link in a marked part: where it stands and the URL it holds. */
export interface LinkSlot {
  start: number;
  end: number;
  url: string;
  /** HTML: the attribute's `href=` (and spaces), written again before the tracked URL; null in the text part. */
  lead: string | null;
}

/** What stands in a link's place once `tracked` is its click URL. */
export function trackedLink(link: LinkSlot, tracked: string): string {
  return link.lead === null ? tracked : `${link.lead}"${escapeAttribute(tracked)}"`;
}

/** The open pixel's element. */
export function openPixel(pixelUrl: string): string {
  return `<img src="${escapeAttribute(pixelUrl)}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0;margin:0;padding:0;">`;
}

/**
 * Where tracking changes one marked part: a pure function of the part, so render() works it out
 * once per kept part (CheckedPart) and cuts the part into pieces with it (assembly.ts); each
 * email then only signs its links.
 */
export interface TrackingPlan {
  readonly marked: string;
  readonly links: readonly LinkSlot[];
  /** HTML: where the last `</body>` (any case) starts, -1 without one; the open pixel goes there. Null for the text part. */
  readonly bodyEnd: number | null;
}

/** The template's own http(s) links of a marked HTML part (a link holding a value stays as it is). */
export function planHtmlTracking(markedHtml: string): TrackingPlan {
  const links: LinkSlot[] = [];
  for (const match of markedHtml.matchAll(HREF)) {
    const raw = match[2] ?? match[3] ?? match[4] ?? '';
    if (MARKER_BOUND.test(raw)) continue;
    const url = decodeAttribute(raw.trim());
    if (isHttp(url)) links.push({ start: match.index, end: match.index + match[0].length, url, lead: match[1] as string });
  }
  return { marked: markedHtml, links, bodyEnd: lastBodyEnd(markedHtml) };
}

// Controls (a marker's U+0001 and U+0002 among them, so a URL never runs into a value) and
// private-use characters end a URL.
// eslint-disable-next-line no-control-regex
const TEXT_URL = /https?:\/\/[^\s<>"'\u0000-\u001f\uE000-\uF8FF]+/g;

/** The template's own http(s) URLs of a marked text part (those glued to a value stay as they are). */
export function planTextTracking(markedText: string): TrackingPlan {
  const links: LinkSlot[] = [];
  for (const match of markedText.matchAll(TEXT_URL)) {
    // Sentence punctuation after a URL is not part of it.
    const url = match[0].replace(/[.,;:!?)\]]+$/, '');
    const start = match.index;
    if (MARKER_BOUND.test(markedText.charAt(start + url.length)) || MARKER_BOUND.test(markedText.charAt(start - 1))) continue;
    if (isHttp(url)) links.push({ start, end: start + url.length, url, lead: null });
  }
  return { marked: markedText, links, bodyEnd: null };
}

const BODY_END = /<\/body>/gi;
export const BODY_END_LENGTH = '</body>'.length;

/** Where the last `</body>` (any case) of `html` starts; -1 without one. */
function lastBodyEnd(html: string): number {
  let at = -1;
  for (const match of html.matchAll(BODY_END)) at = match.index;
  return at;
}

/**
 * The planned part with its links tracked (and, for HTML, the open pixel before the last
 * `</body>` of the result). render() goes through here only for parts it does not cut into
 * pieces (assembly.ts); trackParts always does.
 */
function applyPlan(plan: TrackingPlan, wrapper: LinkWrapper, pixelUrl: string): string {
  const { marked } = plan;
  let out = '';
  let last = 0;
  for (const link of plan.links) {
    const tracked = wrapper.wrap(link.url);
    if (tracked === null) continue;
    out += marked.slice(last, link.start) + trackedLink(link, tracked);
    last = link.end;
  }
  const linked = last === 0 ? marked : out + marked.slice(last);
  if (plan.bodyEnd === null) return linked;
  const end = lastBodyEnd(linked);
  const pixel = openPixel(pixelUrl);
  return end < 0 ? `${linked}${pixel}` : `${linked.slice(0, end)}${pixel}${linked.slice(end)}`;
}

/** Both planned parts tracked with one set of click links (the HTML's first, as they appear). */
export function applyTracking(html: TrackingPlan, text: TrackingPlan, tracking: LinkTracking): { html: string; text: string } {
  const wrapper = new LinkWrapper(tracking);
  return { html: applyPlan(html, wrapper, tracking.openPixelUrl), text: applyPlan(text, wrapper, tracking.openPixelUrl) };
}

/** Both parts tracked with one set of click links. */
export function trackParts(marked: { html: string; text: string }, tracking: LinkTracking): { html: string; text: string } {
  return applyTracking(planHtmlTracking(marked.html), planTextTracking(marked.text), tracking);
}
