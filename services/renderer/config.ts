import { parseMailbox, parseSender, type Sender } from '../core/recipients';
import { boolVar, durationVar, enumVar, envVar, intVar, invalid, loadConfig, stringVar, textVar, urlVar } from '../kit/config';
import { ConfigError } from '../kit/errors';
import { consumerServiceShape } from '../kit/consumer-service';
import { linkKeyShape } from '../kit/link-keys';
import { recommendationsClientShape } from './recommendations';

const FROM_EXPECTED = 'a verified SES identity: one address, optionally with a display name, like "Kairos Shop <shop@example.com>"';

const list = (expected: string) => stringVar({ pattern: /^[^,\s]+(,[^,\s]+)*$/, expected });

/**
 * One plain mailbox as parseMailbox accepts a recipient (no display name, list, comment, quoted
 * or non-ASCII local part, control character), yielded normalized (an IDN domain in punycode):
 * it goes into a header as `<mailto:ADDRESS?subject=...>`, where a `?`, `>` or control
 * character would break the header.
 */
function mailboxVar(example: string): ReturnType<typeof stringVar> {
  return envVar({ expected: `one plain address like ${example}` }, (raw) => {
    const parsed = parseMailbox(raw);
    return parsed.ok ? parsed.mailbox.address : invalid(`is not one plain mailbox (${parsed.problem})`);
  });
}

export const rendererShape = {
  ...consumerServiceShape({ httpPort: 8093, groupId: 'kairos-renderer', timerIntervalMs: 1000 }),
  CAMPAIGNS_FILE: stringVar().default('config/campaigns.yaml'),
  TEMPLATES_DIR: stringVar().default('config/templates'),
  // Checked by senderOf at start-up: one plain mailbox, optionally with a display name.
  FROM_ADDRESS: stringVar({ expected: FROM_EXPECTED }).default('Kairos Shop <shop@example.com>'),
  SES_CONFIGURATION_SET: stringVar({ pattern: /^[A-Za-z0-9_-]{1,64}$/, expected: 'an SES configuration set name' }).default('kairos'),
  SES_MAX_SEND_RATE: intVar(1, 100_000).default(14),
  SES_MAX_ATTEMPTS: intVar(1, 20).default(6),
  SES_RETRY_BASE: durationVar().default(100),
  SES_RETRY_MAX: durationVar().default(5000),
  SES_REQUEST_TIMEOUT: durationVar().default(10_000),
  // A batch of triggers starts no trigger after this long; the rest is read again at once, so a
  // backlog of sends does not hold the profiles and unsubscribes fetched with it.
  TRIGGER_BATCH_MAX_TIME: durationVar().default(1000),
  // auto: ses-emulator with SES_ENDPOINT set, else ses-events (the tracker's record of SES Send events).
  SENT_MAIL_LOOKUP: enumVar(['auto', 'ses-emulator', 'ses-events', 'none']).default('auto'),
  // ses-events: how long after the reservation a missing Send event still means "maybe sent".
  SENT_MAIL_WAIT: durationVar().default(120_000),
  // LINK_SIGNING_KEY_ID, LINK_SIGNING_SECRET, LINK_SIGNING_PREVIOUS_KEYS, KAIROS_ENV; checked
  // together by linkKeyring() before the renderer connects to anything.
  ...linkKeyShape,
  TRACKING_BASE_URL: urlVar().default('http://127.0.0.1:8094'),
  // A mailto: List-Unsubscribe needs an inbound mail handler, which Kairos does not have yet
  // (docs/operations.md, "Tracker"): off by default, so every email offers only the https
  // one-click link the tracker serves. Turn it on once mail to UNSUBSCRIBE_MAILTO is processed.
  UNSUBSCRIBE_MAILTO: mailboxVar('unsubscribe@example.com').default('unsubscribe@example.com'),
  LIST_UNSUBSCRIBE_MAILTO: boolVar().default(false),
  PRODUCT_URL_TEMPLATE: stringVar({ pattern: /^https?:\/\/\S*\{product_id\}\S*$/, expected: 'an http(s) URL containing {product_id}' }).default('https://shop.example.com/products/{product_id}'),
  SHOP_URL: urlVar().default('https://shop.example.com/'),
  BRAND_NAME: textVar().default('Kairos Shop'),
  BRAND_ADDRESS: textVar().optional(),
  RECOMMENDATIONS_LIMIT: intVar(0, 20).default(4),
  // The recommender's catalogue file (optional): product titles for the trigger product, the cart and the facts.
  CATALOG_FILE: stringVar().optional(),
  // service: the recommender over HTTP (RECOMMENDER_*); static: FALLBACK_PRODUCT_IDS only.
  RECOMMENDATIONS_SOURCE: enumVar(['service', 'static']).default('service'),
  ...recommendationsClientShape,
  FALLBACK_PRODUCT_IDS: list('product ids separated by commas, like sku-1,sku-2').optional(),
  // Must outlive the triggers topic's retention plus the longest deferral: a trigger replayed
  // after its ledger entry expired would be sent again.
  LEDGER_TTL: durationVar().default(30 * 86_400_000),
};

export type RendererConfig = ReturnType<typeof loadConfig<typeof rendererShape>>;

/** FROM_ADDRESS as a Sender; throws ConfigError (exit 78) when it is not one plain mailbox with an optional name. */
export function senderOf(config: Pick<RendererConfig, 'FROM_ADDRESS'>): Sender {
  const parsed = parseSender(config.FROM_ADDRESS);
  if (!parsed.ok) throw new ConfigError([{ variable: 'FROM_ADDRESS', reason: `is not valid: ${parsed.problem}`, expected: FROM_EXPECTED }]);
  return parsed.sender;
}
