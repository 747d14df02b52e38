/**
 * Renders a campaign for a customer without sending: the same content, templates and signed
 * links as a real send, no ledger, no caps, no SES. Used by GET /preview and by this CLI:
 *
 *   node dist/services/renderer/preview.js --campaign NAME [--profile file.json | sample]
 *        [--rule RULE] [--product ID] [--format html|text|json]
 *
 * The CLI reads CAMPAIGNS_FILE, TEMPLATES_DIR and the link/brand variables like the renderer;
 * without LINK_SIGNING_SECRET the links are signed with a throw-away preview key. GET /preview
 * always signs with a throw-away key: a preview never hands out a token that verifies.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { armSettings, chosenEmail, emailForArm, experimentOf, type Campaign, type ChosenEmail } from '../core/campaigns';
import { LinkSigner, type LinkKey } from '../core/links';
import type { RecommendationSource } from '../core/recommendations';
import type { SegmentStateView } from '../core/segments';
import { render, type RenderedEmail } from '../core/templates';
import { customerProfile, type CustomerProfile, type TriggerFired } from '../core/types';
import { loadConfig } from '../kit/config';
import { loadCatalog } from '../kit/catalog';
import { linkKeyring } from '../kit/link-keys';
import type { RendererAssets } from './assets';
import { loadRendererAssets } from './assets';
import { rendererShape } from './config';
import { buildContent, type ContentOptions } from './content';
import { StaticRecommendations } from './fallback-recommendations';

export const SAMPLE_PROFILE: CustomerProfile = customerProfile({
  customer_id: 'sample-customer',
  email: 'sample@example.com',
  first_name: 'Alex',
  last_name: 'Sample',
  locale: 'en-US',
  timezone: 'Europe/Berlin',
  country: 'DE',
  consent_email: true,
  updated_at: Date.UTC(2026, 0, 1),
});

export class PreviewError extends Error {}

export interface PreviewInput {
  assets: RendererAssets;
  campaign: string;
  profile: CustomerProfile;
  rule?: string | null;
  context?: Record<string, string>;
  now: number;
  recommendations: RecommendationSource;
  content: ContentOptions;
  /** The customer's segments and facts (the stored ones for GET /preview); none when omitted. */
  segmentState?: SegmentStateView;
  /** An experiment arm to render (its name, e.g. question+popular); default: the customer's own arm. */
  arm?: string | null;
}

export interface Preview extends RenderedEmail {
  campaign: string;
  variant: string | null;
  template: string;
}

/** Renders one campaign for `profile`; throws PreviewError for an unknown campaign. */
export async function previewEmail(input: PreviewInput): Promise<Preview> {
  const campaign = input.assets.campaigns.find((c) => c.name === input.campaign);
  if (campaign === undefined) {
    throw new PreviewError(`unknown campaign "${input.campaign}"; known: ${input.assets.campaigns.map((c) => c.name).join(', ')}`);
  }
  const rule = input.rule ?? campaign.rules[0];
  const trigger: TriggerFired = {
    trigger_id: 'preview',
    rule,
    customer_id: input.profile.customer_id,
    fired_at: input.now,
    cause_event_id: null,
    context: input.context ?? (rule === 'cart_abandoned' ? { product_id: 'sample-product', cart_product_ids: 'sample-product,sample-product-2' } : { product_id: 'sample-product' }),
  };
  const email = previewArm(campaign, trigger, input.arm ?? null);
  const { assignment, template } = email;
  const content = await buildContent({
    trigger, profile: input.profile, campaign, variant: assignment?.arm ?? null, now: input.now, recommendations: input.recommendations, options: input.content,
    segmentState: input.segmentState, arm: assignment?.settings ?? null,
  });
  const rendered = render({
    templates: input.assets.templates,
    template,
    data: content.data,
    locale: input.profile.locale,
    timeZone: input.profile.timezone,
    subjectOverride: email.subjectOverride,
    preheaderOverride: email.preheaderOverride,
    tracking: content.tracking,
  });
  return { ...rendered, campaign: campaign.name, variant: assignment?.arm ?? null, template };
}

/** The arm a preview shows: the one asked for, else the customer's (the first arm for a holdout customer, who gets no email). */
function previewArm(campaign: Campaign, trigger: TriggerFired, armName: string | null): ChosenEmail {
  const design = experimentOf(campaign);
  if (design === null) {
    if (armName !== null) throw new PreviewError(`campaign "${campaign.name}" runs no experiment; leave the arm out`);
    return emailForArm(campaign, null);
  }
  const name = armName ?? (chosenEmail(campaign, trigger).assignment?.arm ?? design.arms[0].name);
  const arm = design.arms.find((candidate) => candidate.name === name);
  const settings = armSettings(campaign, name);
  if (arm === undefined || settings === null) {
    throw new PreviewError(`campaign "${campaign.name}" has no arm "${name}"; arms: ${design.arms.map((candidate) => candidate.name).join(', ')}`);
  }
  return emailForArm(campaign, { experiment: design.id, holdout: false, arm: arm.name, variables: arm.variables, settings });
}

/**
 * A key made up for one process and then forgotten: links signed with it look like real ones but
 * verify nowhere (its id, `preview`, is in no keyring, and nobody knows its secret).
 */
export function throwAwayLinkKey(): LinkKey {
  return { id: 'preview', secret: randomBytes(48).toString('base64') };
}

/** The content options a renderer config describes, with links signed by `key`. */
export function contentOptions(
  config: Pick<import('./config').RendererConfig, 'PRODUCT_URL_TEMPLATE' | 'SHOP_URL' | 'BRAND_NAME' | 'BRAND_ADDRESS' | 'RECOMMENDATIONS_LIMIT' | 'TRACKING_BASE_URL' | 'CATALOG_FILE'>,
  key: LinkKey,
): ContentOptions {
  const catalog = loadCatalog(config.CATALOG_FILE);
  return {
    productTitles: new Map([...catalog].map(([id, entry]) => [id, entry.title])),
    links: new LinkSigner(key, config.TRACKING_BASE_URL),
    productUrlTemplate: config.PRODUCT_URL_TEMPLATE,
    shopUrl: config.SHOP_URL,
    brandName: config.BRAND_NAME,
    brandAddress: config.BRAND_ADDRESS ?? null,
    recommendationsLimit: config.RECOMMENDATIONS_LIMIT,
  };
}

async function cli(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      campaign: { type: 'string' },
      profile: { type: 'string', default: 'sample' },
      rule: { type: 'string' },
      product: { type: 'string' },
      format: { type: 'string', default: 'html' },
      arm: { type: 'string' },
    },
  });
  if (!values.campaign || !['html', 'text', 'json'].includes(values.format ?? '')) {
    process.stderr.write('usage: preview --campaign NAME [--profile file.json | sample] [--rule RULE] [--product ID] [--arm ARM] [--format html|text|json]\n');
    return 2;
  }
  const env = { ...process.env };
  const throwAway = env.LINK_SIGNING_SECRET ? null : throwAwayLinkKey();
  if (throwAway !== null) {
    env.LINK_SIGNING_SECRET = throwAway.secret;
    env.LINK_SIGNING_KEY_ID = throwAway.id;
    process.stderr.write('preview: LINK_SIGNING_SECRET is not set; links are signed with a throw-away preview key and verify nowhere\n');
  }
  const config = loadConfig(rendererShape, env);
  // The same checks as the renderer's: no committed development secret outside KAIROS_ENV=local.
  const key = linkKeyring(config).current;
  const assets = loadRendererAssets(config.CAMPAIGNS_FILE, config.TEMPLATES_DIR);
  const profile = values.profile === 'sample' ? SAMPLE_PROFILE : customerProfile({ ...SAMPLE_PROFILE, ...(JSON.parse(readFileSync(values.profile as string, 'utf8')) as Partial<CustomerProfile>) });
  const fallbackIds = config.FALLBACK_PRODUCT_IDS?.split(',') ?? ['best-seller-1', 'best-seller-2', 'best-seller-3'];
  const preview = await previewEmail({
    assets,
    campaign: values.campaign,
    profile,
    rule: values.rule ?? null,
    context: values.product ? { product_id: values.product } : undefined,
    arm: values.arm ?? null,
    now: Date.now(),
    recommendations: new StaticRecommendations(fallbackIds, config.PRODUCT_URL_TEMPLATE),
    content: contentOptions(config, key),
  });
  const output = values.format === 'json' ? JSON.stringify(preview, null, 2) + '\n' : values.format === 'text' ? `Subject: ${preview.subject}\nPreheader: ${preview.preheader}\n\n${preview.text}` : preview.html;
  process.stdout.write(output);
  return 0;
}

if (require.main === module) {
  cli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`preview: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
