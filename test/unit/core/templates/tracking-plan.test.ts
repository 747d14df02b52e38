/**
 * Link tracking is planned once per kept part (tracking.ts, TrackingPlan) and applied per email.
 * Compared here with tracking as it was (a replace over each part for every email) over random
 * marked parts made of the tokens it looks for, and through render(): a kept part's plan signs
 * each email's links with that email's tracking.
 */
import { compileTemplates, render, trackParts, type LinkTracking, type TemplateFile } from '../../../../services/core/templates';
import { assemble, assemblyOf } from '../../../../services/core/templates/assembly';
import { LinkWrapper, openPixel, planHtmlTracking, planTextTracking } from '../../../../services/core/templates/tracking';
import { escapeHtml, ValueMarkers } from '../../../../services/core/templates/values';
import { seededRandom } from '../../../../services/tools/synthetic';

// A marker's bounds, U+0001 and U+0002 (values.ts MARKER_BOUND), and tracking as it was before plans, as the reference.
// eslint-disable-next-line no-control-regex
const MARKER_BOUNDS = /[\x01\x02]/;
const HREF = /(\bhref\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s>"'`=<]+))/gi;
// eslint-disable-next-line no-control-regex
const TEXT_URL = /https?:\/\/[^\s<>"'\u0000-\u001f\uE000-\uF8FF]+/g;
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

function referenceTrack(marked: { html: string; text: string }, tracking: LinkTracking): { html: string; text: string } {
  const wrapped = new Map<string, string>();
  const wrap = (url: string): string | null => {
    if (!isHttp(url) || tracking.isTracked(url)) return null;
    const tracked = wrapped.get(url) ?? tracking.click(url);
    wrapped.set(url, tracked);
    return tracked;
  };
  const linked = marked.html.replace(HREF, (whole: string, lead: string, doubleQuoted?: string, singleQuoted?: string, bare?: string) => {
    const raw = doubleQuoted ?? singleQuoted ?? bare ?? '';
    if (MARKER_BOUNDS.test(raw)) return whole;
    const tracked = wrap(decodeAttribute(raw.trim()));
    return tracked === null ? whole : `${lead}"${escapeAttribute(tracked)}"`;
  });
  const pixel = `<img src="${escapeAttribute(tracking.openPixelUrl)}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0;margin:0;padding:0;">`;
  const end = linked.toLowerCase().lastIndexOf('</body>');
  const html = end < 0 ? `${linked}${pixel}` : `${linked.slice(0, end)}${pixel}${linked.slice(end)}`;
  const text = marked.text.replace(TEXT_URL, (match: string, offset: number) => {
    const url = match.replace(/[.,;:!?)\]]+$/, '');
    if (MARKER_BOUNDS.test(marked.text.charAt(offset + url.length)) || MARKER_BOUNDS.test(marked.text.charAt(offset - 1))) return match;
    const tracked = wrap(url);
    return tracked === null ? match : tracked + match.slice(url.length);
  });
  return { html, text };
}

const TRACKER = 'https://t.example/';

/** Tracking for email `id`: its click links name it, so links signed for another email would show. */
function trackingFor(id: string): LinkTracking {
  return {
    click: (url) => `${TRACKER}c/${id}/${Buffer.from(url).toString('base64url')}`,
    isTracked: (url) => url.startsWith(TRACKER),
    openPixelUrl: `${TRACKER}o/${id}?a=1&b="2"`,
  };
}

const MARKER = '\x01\x80\x80\x81\x02';
/** The markers of values 0 to 3 of the random parts' ValueMarkers (values.ts: U+0001, three digits from U+0080, U+0002). */
const VALUE_MARKERS = [0, 1, 2, 3].map((i) => String.fromCharCode(0x01, 0x80, 0x80, 0x80 + i, 0x02));
const HTML_TOKENS = [
  '<a href="https://shop.example.com/help">', "<a href='https://shop.example.com/help'>", '<a href=https://shop.example.com/x?a=1>',
  '<a href="https://shop.example.com/help?a=1&amp;b=2">', '<a href = "http://shop.example.com/">', `<a href="https://shop.example.com/u/${MARKER}">`,
  `<a href="${MARKER}">`, '<a href="mailto:help@example.com">', '<a href="#top">', `<a href="${TRACKER}c/abc">`, '<a HREF="https://shop.example.com/UP">',
  '<a href="https://shop.example.com/</body>">', '<a href="https://shop.example.com/&#x41;">', '<a href="">', '</a>', '</body>', '</BODY>', '</Body>',
  '<p>', 'text ', MARKER, ' ', '\n', '<img src="https://cdn.example.com/x.jpg">', 'href=', '"', ...VALUE_MARKERS,
  `<a href="${VALUE_MARKERS[2]}">`, `<a href="https://shop.example.com/?q=${VALUE_MARKERS[0]}">`,
];
const TEXT_TOKENS = [
  'https://shop.example.com/help', 'https://shop.example.com/help.', 'http://shop.example.com/a?b=1)', `https://shop.example.com/${MARKER}`,
  `${MARKER}https://shop.example.com/glued`, `${TRACKER}c/abc`, 'mailto:x@example.com', 'https://', ' ', '\n', 'Hi ', MARKER, ', ', '!',
  ...VALUE_MARKERS,
];

function pick(next: () => number, tokens: readonly string[], count: number): string {
  let out = '';
  for (let i = 0; i < count; i += 1) out += tokens[Math.floor(next() * tokens.length)];
  return out;
}

describe('link tracking by plan', () => {
  it('tracks exactly as a replace over each part did, over random marked parts', () => {
    const next = seededRandom(16);
    for (let round = 0; round < 3000; round += 1) {
      const marked = { html: pick(next, HTML_TOKENS, Math.floor(next() * 30)), text: pick(next, TEXT_TOKENS, Math.floor(next() * 20)) };
      const tracking = trackingFor(`e${round}`);
      expect({ round, ...trackParts(marked, tracking) }).toEqual({ round, ...referenceTrack(marked, tracking) });
    }
  });

  it('assembled by pieces, gives what tracking then filling in gave, with tracking and without', () => {
    const next = seededRandom(61);
    let byPieces = 0;
    for (let round = 0; round < 3000; round += 1) {
      const markers = new ValueMarkers();
      // MARKER (value 1) and VALUE_MARKERS stand for these: HTML specials, a link, a plain name.
      for (const value of ['Ann & <Bob>', 'https://shop.example.com/p?a=1&b="2"', 'Zoë', "it's `x`=1"]) markers.mark(value);
      const marked = { html: pick(next, HTML_TOKENS, Math.floor(next() * 30)), text: pick(next, TEXT_TOKENS, Math.floor(next() * 20)) };
      const tracking = trackingFor(`e${round}`);
      const before = trackParts(marked, tracking);
      const expected = { round, html: markers.fill(before.html, escapeHtml), text: markers.fill(before.text) };
      const html = assemblyOf(marked.html, planHtmlTracking(marked.html));
      const text = assemblyOf(marked.text, planTextTracking(marked.text));
      expect(text).not.toBeNull();
      if (html !== null && text !== null) {
        byPieces += 1;
        const wrapper = new LinkWrapper(tracking);
        expect({ round, html: assemble(html, markers, escapeHtml, wrapper, openPixel(tracking.openPixelUrl)), text: assemble(text, markers, null, wrapper, '') }).toEqual(expected);
      }
      const plainHtml = assemblyOf(marked.html, null);
      expect(plainHtml).not.toBeNull();
      expect(assemble(plainHtml as NonNullable<typeof plainHtml>, markers, escapeHtml, null, '')).toBe(markers.fill(marked.html, escapeHtml));
    }
    // A few parts hold a tracked link over their last </body>: render() fills those in as before.
    expect(byPieces).toBeGreaterThan(2000);
    expect(byPieces).toBeLessThan(3000);
  });

  it('refuses a damaged marker by pieces as fill() does', () => {
    const markers = new ValueMarkers();
    markers.mark('Ann');
    const whole = String.fromCharCode(0x01, 0x80, 0x80, 0x80, 0x02);
    for (const damaged of [`${whole}\x02`, whole.slice(0, 4), `<p>${String.fromCharCode(0x01, 0x80, 0x80, 0x85, 0x02)}</p>`, `<p>${String.fromCharCode(0x01, 0x80, 0x7f, 0x80, 0x02)}</p>`]) {
      expect(() => markers.fill(damaged)).toThrow(/damaged value marker/);
      expect(() => {
        const assembly = assemblyOf(damaged, null);
        if (assembly !== null) assemble(assembly, markers, null, null, '');
      }).toThrow(/damaged value marker/);
    }
  });

  it('signs each email of a kept part with its own tracking', () => {
    const files: TemplateFile[] = [
      { path: 'layouts/main.hbs', text: '<html><body>{{{body}}}<a href="{{links.unsubscribe_url}}">Unsubscribe</a></body></html>' },
      { path: 'layouts/main.text.hbs', text: '{{body}}\nHelp: https://shop.example.com/help' },
      { path: 'emails/hello/subject.hbs', text: 'Hello {{customer.first_name}}' },
      { path: 'emails/hello/preheader.hbs', text: 'A short note' },
      { path: 'emails/hello/html.hbs', text: '<p>Hi {{customer.first_name}}, <a href="https://shop.example.com/help">help</a></p>' },
      { path: 'emails/hello/text.hbs', text: 'Hi {{customer.first_name}}' },
    ];
    const templates = compileTemplates(files);
    for (const id of ['one', 'two', 'three']) {
      const email = render({ templates, template: 'hello', data: { customer: { first_name: id }, links: { unsubscribe_url: `${TRACKER}u/${id}` } }, tracking: trackingFor(id) });
      const help = `${TRACKER}c/${id}/${Buffer.from('https://shop.example.com/help').toString('base64url')}`;
      expect(email.html).toBe(
        `<html><body><p>Hi ${id}, <a href="${help}">help</a></p><a href="${TRACKER}u/${id}">Unsubscribe</a>`
        + `<img src="${TRACKER}o/${id}?a=1&amp;b=&quot;2&quot;" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0;margin:0;padding:0;"></body></html>`,
      );
      expect(email.text).toBe(`Hi ${id}\nHelp: ${help}\n`);
    }
    // One shape: each part was planned once and kept.
    const html = templates.emails.get('hello')?.checked.html;
    expect(html?.size).toBe(1);
  });
});
