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

export interface LinkTracking {
  /** A signed click URL that redirects to `url` (http or https). */
  click(url: string): string;
  /** True for a URL that already is one of the tracker's links. */
  isTracked(url: string): boolean;
  /** The open pixel's URL. */
  openPixelUrl: string;
}

// The characters of a value marker (values.ts): a link touching one is data, not template text.
const MARKER_CHARS = /[\uE000\uE001\uE100-\uF7FF]/;
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
class Wrapper {
  private readonly wrapped = new Map<string, string>();
  constructor(private readonly tracking: LinkTracking) {}

  /** The tracked URL of a template link, or null when it stays as it is. */
  wrap(url: string): string | null {
    if (!isHttp(url) || this.tracking.isTracked(url)) return null;
    let tracked = this.wrapped.get(url);
    if (tracked === undefined) {
      tracked = this.tracking.click(url);
      this.wrapped.set(url, tracked);
    }
    return tracked;
  }
}

/** The marked HTML with the template's own http(s) links tracked and the open pixel before </body>. */
function trackHtml(markedHtml: string, wrapper: Wrapper, pixelUrl: string): string {
  const linked = markedHtml.replace(HREF, (whole: string, lead: string, doubleQuoted?: string, singleQuoted?: string, bare?: string) => {
    const raw = doubleQuoted ?? singleQuoted ?? bare ?? '';
    if (MARKER_CHARS.test(raw)) return whole;
    const tracked = wrapper.wrap(decodeAttribute(raw.trim()));
    return tracked === null ? whole : `${lead}"${escapeAttribute(tracked)}"`;
  });
  const pixel = `<img src="${escapeAttribute(pixelUrl)}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0;margin:0;padding:0;">`;
  const end = linked.toLowerCase().lastIndexOf('</body>');
  return end < 0 ? `${linked}${pixel}` : `${linked.slice(0, end)}${pixel}${linked.slice(end)}`;
}

// Controls and marker characters end a URL.
// eslint-disable-next-line no-control-regex
const TEXT_URL = /https?:\/\/[^\s<>"'\u0000-\u001f\uE000-\uF8FF]+/g;

/** The marked text with the template's own http(s) URLs tracked (those glued to a value stay). */
function trackText(markedText: string, wrapper: Wrapper): string {
  return markedText.replace(TEXT_URL, (match: string, offset: number) => {
    // Sentence punctuation after a URL is not part of it.
    const url = match.replace(/[.,;:!?)\]]+$/, '');
    const next = markedText.charAt(offset + url.length);
    const before = markedText.charAt(offset - 1);
    if (MARKER_CHARS.test(next) || MARKER_CHARS.test(before)) return match;
    const tracked = wrapper.wrap(url);
    return tracked === null ? match : tracked + match.slice(url.length);
  });
}

/** Both parts tracked with one set of click links. */
export function trackParts(marked: { html: string; text: string }, tracking: LinkTracking): { html: string; text: string } {
  const wrapper = new Wrapper(tracking);
  return { html: trackHtml(marked.html, wrapper, tracking.openPixelUrl), text: trackText(marked.text, wrapper) };
}
