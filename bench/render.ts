/**
 * Rendering: the Kairos renderer core (compileTemplates once, render() per email: view
 * normalization, strict templates, layout, one-line subject, tidy text, the clean-output check)
 * against a bare Handlebars render of the same shipped template files with the same view, and,
 * when the renderer service's send path is available, render + send to the SES emulator.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import Handlebars from 'handlebars';
import { compileTemplates, render, type RenderData, type TemplateFile } from '../services/core/templates';
import { HELPERS } from '../services/core/templates/helpers';
import { buildView } from '../services/core/templates/view';
import { projectRoot } from '../services/kit/files';

export const TEMPLATES_DIR = join(projectRoot(), 'config', 'templates');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)]));
}

export function shippedTemplateFiles(): TemplateFile[] {
  return walk(TEMPLATES_DIR).map((file) => ({ path: relative(TEMPLATES_DIR, file).replace(/\\/g, '/'), text: readFileSync(file, 'utf8') }));
}

/**
 * Distinct price lists the measured loops cycle through: more than the money helper keeps per
 * formatter (AMOUNT_CACHE_SIZE), so a kept amount never makes a measured render cheaper than a
 * shop whose prices vary would see. (Its prices, below 1,000 EUR, are laid out by hand,
 * services/core/templates/amounts.ts, which keeps nothing per amount.)
 */
export const PRICE_VARIANTS = 997;

/**
 * A cart reminder for customer i: three cart items and four recommendations, like a real one.
 * `vary`, as the measured loops use it: every product's price differs with i (PRICE_VARIANTS
 * lists), and so does the shape of the email: one to four cart items and two to four
 * recommendations (twelve shapes; the HTML and text parts differ in each), so render()'s memory
 * of checked parts (CheckedPart) is measured with a mix of shapes, not one. Without it the
 * prices and the shape are fixed (the golden renders).
 */
export function sampleData(i: number, vary = false): RenderData {
  const shift = vary ? (i % PRICE_VARIANTS) * 7 : 0;
  const cartItems = vary ? 1 + (i % 4) : 3;
  const recommended = vary ? 2 + (i % 3) : 4;
  const item = (n: number) => ({
    product_id: `p-${n}`,
    title: `Trail shoe <${n}> & co`,
    url: `https://shop.example.com/products/p-${n}?t=abc${i}`,
    image_url: `https://cdn.example.com/p-${n}.jpg`,
    price_cents: 4990 + n + shift,
    currency: 'EUR',
  });
  return {
    customer: { customer_id: `c-${i}`, first_name: `Ada${i}`, last_name: 'Lovelace', attributes: { tier: 'gold' } },
    trigger: { rule: 'cart_abandoned', context: { cart_product_ids: 'p-1,p-2,p-3', product_id: 'p-3', within: '15m' } },
    product: item(3),
    cart: [item(1), item(2), item(3), item(4)].slice(0, cartItems),
    recommendations: { items: [item(10), item(11), item(12), item(13)].slice(0, recommended), fallback: false },
    offer: null,
    links: {
      unsubscribe_url: `https://t.example.com/u/${i}?sig=0123456789abcdef`,
      preferences_url: 'https://shop.example.com/preferences',
      shop_url: 'https://shop.example.com/',
    },
    brand: { name: 'Kairos Shop', address: '1 Example Street, Berlin' },
  };
}

export const RENDER_TEMPLATE = 'cart_reminder';

/** One email rendered by Kairos's render(), for customer i. */
function kairosRender(): (i: number) => { html: string } {
  const templates = compileTemplates(shippedTemplateFiles());
  return (i) => render({ templates, template: RENDER_TEMPLATE, data: sampleData(i, true), locale: 'de-DE', timeZone: 'Europe/Berlin' });
}

/** The same files in a plain Handlebars environment: no checks, no normalization, default options. */
function bareRender(): (i: number) => { html: string } {
  const files = shippedTemplateFiles();
  const text = (path: string) => files.find((f) => f.path === path)?.text ?? '';
  const env = (noEscape: boolean) => {
    const hbs = Handlebars.create();
    for (const [name, helper] of Object.entries(HELPERS)) hbs.registerHelper(name, helper as Handlebars.HelperDelegate);
    for (const file of files) {
      const partial = /^partials\/([a-z0-9_-]+)(\.text)?\.hbs$/.exec(file.path);
      if (partial !== null && (partial[2] !== undefined) === noEscape) hbs.registerPartial(partial[1], file.text);
    }
    return hbs;
  };
  const html = env(false);
  const plain = env(true);
  const compile = (hbs: typeof Handlebars, path: string) => hbs.compile(text(path), { noEscape: hbs === plain });
  const parts = {
    subject: compile(plain, `emails/${RENDER_TEMPLATE}/subject.hbs`),
    preheader: compile(plain, `emails/${RENDER_TEMPLATE}/preheader.hbs`),
    html: compile(html, `emails/${RENDER_TEMPLATE}/html.hbs`),
    text: compile(plain, `emails/${RENDER_TEMPLATE}/text.hbs`),
    layout: compile(html, 'layouts/main.hbs'),
    layoutText: compile(plain, 'layouts/main.text.hbs'),
  };
  // The bare version gets its views for free (built beforehand, one per price list): it
  // measures Handlebars alone, with the prices varying as render()'s do.
  const views = Array.from({ length: PRICE_VARIANTS }, (_, i) => buildView(sampleData(i, true)));
  const options = { data: { locale: 'de-DE', timeZone: 'Europe/Berlin' } };
  return (i) => {
    const view = views[i % PRICE_VARIANTS];
    const subject = parts.subject(view, options);
    const preheader = parts.preheader(view, options);
    const body = parts.html(view, options);
    const out = parts.layout({ ...view, subject, preheader, body: new Handlebars.SafeString(body) }, options);
    const textOut = parts.layoutText({ ...view, subject, preheader, body: parts.text(view, options) }, options);
    return { html: out, text: textOut };
  };
}

export interface RenderFigure {
  eps: number;
  renders: number;
  bytes: number;
}

/** How long each loop of measureRender runs before the other takes over. */
export const SLICE_MS = 100;

/**
 * Renders/s of Kairos's render() and of bare Handlebars over `seconds` each, in alternating
 * slices of SLICE_MS (after a warm-up of both): the machine's speed drifts over seconds on a
 * shared host, and two blocks one after the other gave ratios from 0.51 to 0.83 where
 * alternating slices gave 0.57 to 0.63 (docs/benchmarks-history.md, "Growth, garbage and
 * kafkajs's producer").
 */
export function measureRender(seconds: number): { only: RenderFigure; bare: RenderFigure } {
  const kairos = kairosRender();
  const bare = bareRender();
  const loops = [
    { once: kairos, bytes: kairos(0).html.length, renders: 0, nanoseconds: 0n },
    { once: bare, bytes: bare(0).html.length, renders: 0, nanoseconds: 0n },
  ];
  const warmUntil = Date.now() + Math.min(1000, seconds * 250);
  for (let i = 0; Date.now() < warmUntil; i += 1) for (const loop of loops) loop.once(i);
  const slices = Math.max(1, Math.round((seconds * 1000) / SLICE_MS));
  let sink = 0;
  for (let slice = 0; slice < slices; slice += 1) {
    for (const loop of loops) {
      const started = process.hrtime.bigint();
      const until = Date.now() + SLICE_MS;
      while (Date.now() < until) {
        for (let k = 0; k < 10; k += 1) sink += loop.once(loop.renders++).html.length;
      }
      loop.nanoseconds += process.hrtime.bigint() - started;
    }
  }
  if (sink < 0) throw new Error('unreachable');
  const figure = ({ renders, nanoseconds, bytes }: (typeof loops)[number]): RenderFigure => ({ eps: Math.round(renders / (Number(nanoseconds) / 1e9)), renders, bytes });
  return { only: figure(loops[0]), bare: figure(loops[1]) };
}
