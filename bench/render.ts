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
 * shop whose prices vary would see.
 */
export const PRICE_VARIANTS = 997;

/**
 * A cart reminder for customer i: three cart items and four recommendations, like a real one.
 * `varyPrices`: every product's price differs with i (PRICE_VARIANTS lists), as the measured
 * loops use it; without it the prices are fixed (the golden renders).
 */
export function sampleData(i: number, varyPrices = false): RenderData {
  const shift = varyPrices ? (i % PRICE_VARIANTS) * 7 : 0;
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
    cart: [item(1), item(2), item(3)],
    recommendations: { items: [item(10), item(11), item(12), item(13)], fallback: false },
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

/** Renders/s with Kairos's render() over `seconds` (after a warm-up). */
export function measureRenderOnly(seconds: number): { eps: number; renders: number; bytes: number } {
  const templates = compileTemplates(shippedTemplateFiles());
  const once = (i: number) => render({ templates, template: RENDER_TEMPLATE, data: sampleData(i, true), locale: 'de-DE', timeZone: 'Europe/Berlin' });
  const bytes = once(0).html.length;
  return { ...timeLoop(seconds, once), bytes };
}

/** The same files in a plain Handlebars environment: no checks, no normalization, default options. */
export function measureRenderBare(seconds: number): { eps: number; renders: number; bytes: number } {
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
  const once = (i = 0) => {
    const view = views[i % PRICE_VARIANTS];
    const subject = parts.subject(view, options);
    const preheader = parts.preheader(view, options);
    const body = parts.html(view, options);
    const out = parts.layout({ ...view, subject, preheader, body: new Handlebars.SafeString(body) }, options);
    const textOut = parts.layoutText({ ...view, subject, preheader, body: parts.text(view, options) }, options);
    return { html: out, text: textOut };
  };
  const bytes = once().html.length;
  return { ...timeLoop(seconds, once), bytes };
}

function timeLoop(seconds: number, once: (i: number) => unknown): { eps: number; renders: number } {
  const warmUntil = Date.now() + Math.min(1000, seconds * 250);
  let i = 0;
  while (Date.now() < warmUntil) once(i++);
  const started = process.hrtime.bigint();
  const until = Date.now() + seconds * 1000;
  let renders = 0;
  let sink = 0;
  while (Date.now() < until) {
    for (let k = 0; k < 50; k += 1) {
      const result = once(renders++) as { html: string };
      sink += result.html.length;
    }
  }
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  if (sink < 0) throw new Error('unreachable');
  return { eps: Math.round(renders / elapsed), renders };
}
