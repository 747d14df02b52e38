/**
 * Every example of docs/marketers.md is valid as written: each ```yaml block goes through the
 * parser of the file it belongs to (by its top-level key: segments, rules, campaigns), campaign
 * templates must exist among the shipped ones, and each ```hbs block compiles as an email body
 * and renders cleanly for a customer with full data and for one with none.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCampaigns, validateCampaignTemplates, variantSubjects } from '../../../services/core/campaigns';
import { parseSegmentDefinitions } from '../../../services/core/segments';
import { parseTriggerRules } from '../../../services/core/triggers/rules';
import { assertRenderedClean, compileTemplates, render, type RenderData } from '../../../services/core/templates';
import { shippedTemplateFiles } from '../core/templates/shipped';

const GUIDE = readFileSync(join(__dirname, '../../../docs/marketers.md'), 'utf8');

function blocks(language: string): string[] {
  return [...GUIDE.matchAll(new RegExp('^```' + language + '\\n([\\s\\S]*?)^```$', 'gm'))].map((m) => m[1]);
}

const yamlBlocks = blocks('yaml');
const byKind = (key: string) => yamlBlocks.filter((b) => b.startsWith(`${key}:`));

describe('docs/marketers.md examples', () => {
  it('has only yaml examples the test knows how to check', () => {
    expect(yamlBlocks.length).toBeGreaterThan(0);
    for (const block of yamlBlocks) expect(block).toMatch(/^(segments|rules|campaigns):/);
  });

  it.each(byKind('segments').map((b, i) => [i, b]))('segments example %i parses', (_, block) => {
    expect(parseSegmentDefinitions('docs/marketers.md', block).length).toBeGreaterThan(0);
  });

  it.each(byKind('rules').map((b, i) => [i, b]))('trigger rules example %i parses', (_, block) => {
    expect(parseTriggerRules('docs/marketers.md', block).length).toBeGreaterThan(0);
  });

  it.each(byKind('campaigns').map((b, i) => [i, b]))('campaigns example %i parses, with shipped templates and compiling subjects', (_, block) => {
    const campaigns = parseCampaigns('docs/marketers.md', block);
    expect(campaigns.length).toBeGreaterThan(0);
    const templates = compileTemplates(shippedTemplateFiles(), { subjects: variantSubjects(campaigns) });
    expect(() => validateCampaignTemplates(campaigns, templates.names)).not.toThrow();
  });

  it('ships the brief\'s rules and case-study segments as the guide shows them', () => {
    const shipped = (file: string) => readFileSync(join(__dirname, '../../../config', file), 'utf8');
    const rules = parseTriggerRules('config/triggers.yaml', shipped('triggers.yaml'));
    expect(parseTriggerRules('docs/marketers.md', byKind('rules')[0])).toEqual(rules);
    const segments = parseSegmentDefinitions('config/segments.yaml', shipped('segments.yaml'));
    for (const example of byKind('segments').slice(0, 2).flatMap((b) => parseSegmentDefinitions('docs/marketers.md', b))) {
      expect(segments.find((s) => s.name === example.name)).toEqual(example);
    }
  });

  const bodies = blocks('hbs');
  it.each(bodies.map((b, i) => [i, b]))('template example %i compiles and renders cleanly with and without data', (_, body) => {
    const files = shippedTemplateFiles().map((f) => (f.path.replace(/\\/g, '/') === 'emails/upsell/html.hbs' ? { ...f, text: body } : f));
    const templates = compileTemplates(files);
    const full: RenderData = {
      customer: { customer_id: 'c-1', first_name: 'Ada' },
      trigger: { rule: 'high_interest', context: { product_id: 'p-42' } },
      product: { product_id: 'p-42', title: 'Trail Runner 2', url: 'https://shop.example/p/42', price_cents: 12999, currency: 'EUR' },
      recommendations: { fallback: false, items: [{ product_id: 'p-7', title: 'Merino Socks', url: 'https://shop.example/p/7' }] },
      links: { unsubscribe_url: 'https://t.example/u/abc', preferences_url: 'https://t.example/p/abc' },
      segments: ['frequent_buyer'],
      facts: { purchases_30d: 2, purchases_90d: 3, last_purchase: { at: Date.UTC(2026, 0, 2), product: { product_id: 'p-41', title: 'Trail Runner 1', url: 'https://shop.example/p/41' } } },
    };
    const bare: RenderData = {
      customer: { customer_id: 'c-2' },
      trigger: { rule: 'high_interest', context: {} },
      recommendations: { fallback: true, items: [] },
      links: { unsubscribe_url: 'https://t.example/u/def', preferences_url: 'https://t.example/p/def' },
      facts: { purchases_30d: 0, purchases_90d: 0 },
    };
    const withData = render({ templates, template: 'upsell', data: full, locale: 'en-US', timeZone: 'Europe/Berlin' });
    expect(withData.html).toContain('Thank you for your recent purchase!');
    expect(withData.html).toContain('Hi Ada,');
    expect(withData.html).toContain('you get free shipping');
    const without = render({ templates, template: 'upsell', data: bare, locale: 'en-US', timeZone: 'Europe/Berlin' });
    expect(without.html).toContain('We miss you!');
    expect(without.html).toContain('Hi there,');
    for (const part of [withData.html, withData.text, without.html, without.text]) expect(() => assertRenderedClean(part)).not.toThrow();
  });
});
