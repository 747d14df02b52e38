/**
 * The accepted HTML of the hostile records (bench/chaos/hostile.ts, html_script) as the
 * renderer would show it: every shipped campaign and rule rendered (previewEmail, the renderer's
 * own render path, with config/campaigns.yaml and config/templates) for the hostile profiles,
 * with the hostile product ids in the trigger's context and in the recommendations. No payload
 * comes out as markup in the HTML part; it comes out escaped.
 */
import { LinkSigner } from '../../../services/core/links';
import type { RecommendationRequest } from '../../../services/core/recommendations';
import { recordTypes } from '../../../services/kit/codec';
import type { BehaviorEvent, CustomerProfile } from '../../../services/core/types';
import { loadRendererAssets } from '../../../services/renderer/assets';
import { previewEmail } from '../../../services/renderer/preview';
import { HTML_PAYLOADS, hostileRecords } from '../../../bench/chaos/hostile';

const NOW = Date.UTC(2026, 11, 1, 12);
const types = recordTypes();
const records = hostileRecords(5, 1000, { eventsSchemaId: 1, profilesSchemaId: 2, now: NOW, customerIds: ['c-1', 'c-2'] });
const accepted = records.filter((r) => r.category === 'html_script' && r.expect === 'accepted');
const profiles = accepted.filter((r) => r.topic === 'profiles').map((r) => types.CustomerProfile.fromBuffer(r.value!.subarray(5)) as CustomerProfile);
const productIds = accepted.filter((r) => r.topic === 'events').map((r) => (types.BehaviorEvent.fromBuffer(r.value!.subarray(5)) as BehaviorEvent).product_id!);

/** Markup of the payloads, as it must never appear in an email's HTML. */
const RAW = ['<script', '<img src=x', '<svg/onload', '<iframe src=//evil', '<style>body{display:none}', 'href="javascript:', '<b>bold</b>', '"><img', "'><svg"];

describe('hostile HTML in rendered emails', () => {
  const assets = loadRendererAssets('config/campaigns.yaml', 'config/templates');
  const recommendations = {
    recommend: async (request: RecommendationRequest) => ({
      items: productIds.slice(0, request.limit).map((id) => ({ product_id: id, title: id, url: `https://shop.example.com/p/${encodeURIComponent(id)}` })),
      fallback: false,
    }),
  };
  const content = {
    links: new LinkSigner({ id: 'k1', secret: 'unit-test-secret-0123456789abcdef0123' }, 'https://t.example.com'),
    productUrlTemplate: 'https://shop.example.com/p/{product_id}',
    shopUrl: 'https://shop.example.com/',
    brandName: 'Kairos Shop',
    brandAddress: null,
    recommendationsLimit: 3,
  };

  it('shows every payload escaped, never as markup, in every campaign and rule', async () => {
    expect(profiles.length).toBeGreaterThan(5);
    expect(productIds.length).toBeGreaterThan(5);
    let rendered = 0;
    let escapedSeen = 0;
    const leaks: string[] = [];
    for (const campaign of assets.campaigns) {
      for (const rule of campaign.rules) {
        for (const [i, profile] of profiles.slice(0, 4).entries()) {
          const email = await previewEmail({
            assets,
            campaign: campaign.name,
            profile,
            rule,
            now: NOW,
            recommendations,
            content,
            context: { product_id: productIds[i], product_title: HTML_PAYLOADS[i], cart_product_ids: productIds.slice(i, i + 3).join(',') },
          });
          rendered += 1;
          for (const raw of RAW) if (email.html.includes(raw)) leaks.push(`${campaign.name}/${rule}: ${raw} in ${email.html.slice(Math.max(0, email.html.indexOf(raw) - 80), email.html.indexOf(raw) + 80)}`);
          if (email.html.includes('&lt;')) escapedSeen += 1;
        }
      }
    }
    expect(leaks).toEqual([]);
    expect(rendered).toBeGreaterThan(10);
    // The payloads did reach the emails (escaped), so the check above had something to find.
    expect(escapedSeen).toBe(rendered);
  });
});
