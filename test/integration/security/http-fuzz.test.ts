/**
 * Issue 11, HTTP surfaces: a fuzz of every HTTP route's parameters of every service (the
 * segmenter's queries, the recommender's API, the renderer's preview, the tracker's public
 * link routes with hostile tokens and valid tokens with one part replaced, the built-in
 * /healthz, /readyz, /metrics). Hostile values (random bytes, huge strings, broken
 * %-encodings, negative/Infinity/NaN numbers, unicode, path traversal, forged cursors) go in
 * one parameter at a time, the others valid; a fixed number per parameter, within a time
 * budget. Never a 5xx, a 4xx always has a JSON error body (the tracker's: an HTML error page),
 * a tampered link never redirects nor publishes an event, nothing is logged as a handler
 * failure, and every server still answers /healthz. The seed is printed; FUZZ_SEED=<n> replays it.
 */
import { seededRandom } from '../../../services/tools/synthetic';
import { LinkSigner } from '../../../services/core/links';
import { customerProfile, type BehaviorEvent } from '../../../services/core/types';
import { partitionOf } from '../../../services/kit/partitioner';
import type { RedisClient } from '../../../services/kit/redis';
import { encodeMembersCursor } from '../../../services/segmenter/routes';
import { capturingLogger, rawGet, TEST_TOKEN } from '../../support/http-client';
import { TEST_LINK_KEYRING } from '../../support/link-keys';
import {
  addMembers,
  privateRedis,
  recommenderRoutesFor,
  rendererRoutesFor,
  resultsRoutesFor,
  segmenterRoutesFor,
  serveRoutes,
  trackerRoutesFor,
  type ServedRoutes,
} from '../../support/http-services';

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
const VALUES_PER_PARAMETER = 40;
const TIME_BUDGET_MS = 60_000;
const PARTITIONS = 6;
const CUSTOMER = 'fuzz-customer';

/** Makes `text` sendable as part of a request target: bytes outside visible ASCII become %XX; `%` stays as is. */
function wire(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((byte) => (byte > 0x20 && byte < 0x7f && byte !== 0x23 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}

const NUMBERS = ['-Infinity', 'Infinity', 'NaN', '-0', '0', '-1', '1e309', '-50000', '9007199254740993', '0x10', '1.5', '+5', ' 5', '5 ', '1_000', '00001', '99999999999999999999999'];
const UNICODE = ['𝕏', '\u202e', 'ü', '\u0000', '\ufeff', 'Ω'.repeat(120), '\u200b', 'a\r\nb', '<script>', '{{first_name}}', 'null', 'Null'];
const ENCODINGS = ['%', '%Z', '%ZZ', '%E0%A4%A', '%00', '%FF', '%C0%AF', '%ED%A0%80', '%F4%90%80%80', '%2e%2e%2f', '%25', '%%', '%u0041', '%0', 'a%'];
const TRAVERSAL = ['../../etc/passwd', '..%2F..%2Fetc%2Fpasswd', '%2e%2e', '..', '.', '/', '//', '\\..\\..', '....//', '%2F'];
const SEPARATORS = ['&', '=', '&&', '?', ';', ',', ',,,', 'a,b,' + 'c,'.repeat(40), ':', '::'];

/** One hostile value, already in wire form, chosen by `rng`. */
function hostile(rng: () => number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rng() * list.length)] as T;
  switch (Math.floor(rng() * 9)) {
    case 0:
      return Array.from({ length: 1 + Math.floor(rng() * 40) }, () => `%${Math.floor(rng() * 256).toString(16).padStart(2, '0')}`).join('');
    case 1:
      return 'A'.repeat(1000 + Math.floor(rng() * 4000)); // under Node's 16 KB header limit
    case 2:
      return '%41'.repeat(300 + Math.floor(rng() * 1000));
    case 3:
      return wire(pick(NUMBERS));
    case 4:
      return wire(pick(UNICODE));
    case 5:
      return pick(ENCODINGS);
    case 6:
      return pick(TRAVERSAL);
    case 7:
      return pick(SEPARATORS);
    default: {
      const forged = [
        '-Infinity:0',
        '0:abc',
        '0:0',
        encodeMembersCursor({ partition: Math.floor(rng() * 20) - 5 < 0 ? 0 : Math.floor(rng() * 20), cursor: String(Math.floor(rng() * 1e6)) }),
        encodeMembersCursor({ partition: 99999, cursor: '0' }),
        Buffer.from(Array.from({ length: 1 + Math.floor(rng() * 40) }, () => Math.floor(rng() * 256))).toString('base64url'),
      ];
      return wire(pick(forged));
    }
  }
}

interface Slot {
  service: string;
  /** The request target with the hostile value in place of `{v}`. */
  target: string;
  token?: string;
  method?: string;
  /** The tracker's link routes answer people: a 4xx is an HTML page (an error body all the same). */
  html?: boolean;
}

/** A valid token of each kind, for the tracker's slots that tamper with one part. */
const signer = new LinkSigner(TEST_LINK_KEYRING.current, 'https://t.example');
const fuzzIds = { customer_id: CUSTOMER, trigger_id: 'fuzz-trigger', campaign: 'standard_message' };
const VALID = {
  click: signer.click('https://shop.example.com/p/1', fuzzIds, Date.now()).split('/c/')[1] as string,
  unsubscribe: signer.unsubscribe(fuzzIds, Date.now()).split('/u/')[1] as string,
  open: signer.open(fuzzIds, Date.now()).split('/o/')[1] as string,
};
const [CV, CK, CP, CM] = VALID.click.split('.') as [string, string, string, string];

describe(`the HTTP routes of every service, fuzzed (seed ${SEED}; FUZZ_SEED=${SEED} replays it)`, () => {
  const { logger, lines } = capturingLogger('fuzz');
  let redis: RedisClient;
  let cleanup: () => Promise<void>;
  const servers: Record<string, ServedRoutes> = {};
  const trackerEvents: BehaviorEvent[] = [];

  beforeAll(async () => {
    process.stdout.write(`http fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED})\n`);
    const own = await privateRedis('sec-fuzz');
    redis = own.redis;
    cleanup = own.cleanup;
    const segmenter = segmenterRoutesFor(redis, own.prefix, PARTITIONS);
    for (let p = 0; p < PARTITIONS; p += 1) await addMembers(redis, segmenter.keys, p, 'engaged', [`m-${p}-1`, `m-${p}-2`]);
    const renderer = rendererRoutesFor(redis, own.prefix, PARTITIONS);
    await renderer.store.storeProfile(
      partitionOf(CUSTOMER, PARTITIONS),
      customerProfile({ customer_id: CUSTOMER, email: 'fuzz@example.com', first_name: 'Ada', consent_email: true, locale: 'en-US', timezone: 'Europe/Berlin', updated_at: Date.now() }),
    );
    servers.segmenter = await serveRoutes(segmenter.routes, { logger, token: TEST_TOKEN });
    servers.recommender = await serveRoutes(recommenderRoutesFor(redis, own.prefix, PARTITIONS), { logger, token: TEST_TOKEN });
    servers.renderer = await serveRoutes(renderer.routes, { logger, token: TEST_TOKEN });
    servers.tracker = await serveRoutes(trackerRoutesFor(logger, trackerEvents), { logger, token: TEST_TOKEN, public: true });
    servers.results = await serveRoutes(resultsRoutesFor(redis, own.prefix, PARTITIONS), { logger, token: TEST_TOKEN });
  });

  afterAll(async () => {
    for (const server of Object.values(servers)) await server.close();
    await cleanup?.();
  });

  const slots: Slot[] = [
    // segmenter
    { service: 'segmenter', target: '/customers/{v}/segments' },
    { service: 'segmenter', target: '/segments/{v}' },
    { service: 'segmenter', target: '/segments/{v}/members' },
    { service: 'segmenter', target: '/segments/engaged/members?cursor={v}&limit=5' },
    { service: 'segmenter', target: '/segments/engaged/members?limit={v}' },
    { service: 'segmenter', target: '/segments?{v}={v}' },
    { service: 'segmenter', target: '/segments/engaged/members?cursor={v}', token: 'wrong-token-but-long-enough-0123456789abcdef' },
    // recommender
    { service: 'recommender', target: '/recommendations?customer_id={v}&limit=4' },
    { service: 'recommender', target: '/recommendations?product_id={v}' },
    { service: 'recommender', target: '/recommendations?cart_product_ids={v}&product_id=sku-1' },
    { service: 'recommender', target: '/recommendations?limit={v}' },
    { service: 'recommender', target: '/best-sellers?limit={v}' },
    // renderer
    { service: 'renderer', target: `/preview?campaign={v}&customer_id=${CUSTOMER}` },
    { service: 'renderer', target: '/preview?campaign=standard_message&customer_id={v}' },
    { service: 'renderer', target: `/preview?campaign=standard_message&customer_id=${CUSTOMER}&rule={v}` },
    { service: 'renderer', target: `/preview?campaign=standard_message&customer_id=${CUSTOMER}&product_id={v}&format=text` },
    { service: 'renderer', target: `/preview?campaign=standard_message&customer_id=${CUSTOMER}&format={v}` },
    // results
    { service: 'results', target: '/results/campaigns/{v}' },
    { service: 'results', target: '/results/campaigns/upsell?experiment={v}' },
    { service: 'results', target: '/results/campaigns/upsell?segment={v}' },
    { service: 'results', target: '/results/campaigns?{v}={v}' },
    { service: 'results', target: '/results/{v}' },
    // tracker: public link routes, no token; hostile tokens, and valid ones with one part replaced
    ...['GET /c/', 'HEAD /c/', 'GET /u/', 'POST /u/', 'GET /p/', 'POST /p/'].flatMap((route): Slot[] => {
      const [method, prefix] = route.split(' ') as [string, string];
      return [
        { service: 'tracker', target: `${prefix}{v}`, token: '', method, html: true },
        { service: 'tracker', target: `${prefix}${CV}.${CK}.{v}.${CM}`, token: '', method, html: true },
        { service: 'tracker', target: `${prefix}${CV}.{v}.${CP}.${CM}`, token: '', method, html: true },
        { service: 'tracker', target: `${prefix}${CV}.${CK}.${CP}.{v}`, token: '', method, html: true },
        { service: 'tracker', target: `${prefix}${VALID.click}/{v}`, token: '', method, html: true },
        { service: 'tracker', target: `${prefix}${VALID.unsubscribe}?{v}={v}`, token: '', method, html: true },
      ];
    }),
    { service: 'tracker', target: '/o/{v}', token: '', html: true },
    { service: 'tracker', target: `/o/${VALID.open}{v}`, token: '', html: true },
    // built-ins and anything else, on each server
    ...['segmenter', 'recommender', 'renderer', 'tracker', 'results'].flatMap((service): Slot[] => [
      { service, target: '/healthz?{v}={v}', token: '' },
      { service, target: '/readyz?x={v}', token: '' },
      { service, target: '/metrics?{v}' },
      { service, target: '/{v}' },
      { service, target: '/{v}', token: '' },
      { service, target: '/segments/{v}', method: 'POST' },
    ]),
  ];

  it('never answers 5xx, always answers 4xx with a JSON error, and logs no handler failure', async () => {
    const rng = seededRandom(SEED);
    const started = Date.now();
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let requests = 0;
    outer: for (const slot of slots) {
      for (let i = 0; i < VALUES_PER_PARAMETER; i += 1) {
        if (Date.now() - started > TIME_BUDGET_MS) {
          process.stdout.write(`time budget of ${TIME_BUDGET_MS} ms spent after ${requests} requests\n`);
          break outer;
        }
        const value = hostile(rng);
        const target = slot.target.replaceAll('{v}', value);
        const server = servers[slot.service] as ServedRoutes;
        const token = slot.token === undefined ? TEST_TOKEN : slot.token === '' ? undefined : slot.token;
        requests += 1;
        const where = `${slot.method ?? 'GET'} ${slot.service} ${target.length > 160 ? `${target.slice(0, 160)}... (${target.length} chars)` : target}`;
        try {
          const res = await rawGet(server.http.port, target, { token, timeoutMs: 10_000, method: slot.method });
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status >= 500) failures.push(`${where}: ${res.status} ${res.body.slice(0, 200)}`);
          else if (slot.html && res.status >= 300 && res.status < 400) failures.push(`${where}: a ${res.status} redirect to ${String(res.headers.location)} for a tampered link`);
          else if (slot.html && res.status >= 400) {
            const type = String(res.headers['content-type'] ?? '');
            const page = type.includes('text/html') && /<h1>[^<]+<\/h1>/.test(res.body);
            const json = type.includes('application/json') && res.body.includes('"error"');
            if (!page && !json && slot.method !== 'HEAD') failures.push(`${where}: ${res.status} without an error page (${type}): ${res.body.slice(0, 200)}`);
          } else if (res.status >= 400) {
            const type = String(res.headers['content-type'] ?? '');
            let body: unknown;
            try {
              body = JSON.parse(res.body);
            } catch {
              body = undefined;
            }
            if (!type.includes('application/json') || typeof (body as { error?: unknown } | undefined)?.error !== 'string') {
              failures.push(`${where}: ${res.status} without a JSON error body (${type}): ${res.body.slice(0, 200)}`);
            }
          }
        } catch (error) {
          failures.push(`${where}: ${(error as Error).message}`);
        }
      }
    }
    process.stdout.write(`http fuzz: ${requests} requests in ${Date.now() - started} ms, statuses ${JSON.stringify(Object.fromEntries(statuses))}\n`);
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThanOrEqual(slots.length);
    expect(lines.filter((line) => line.includes('http handler failed'))).toEqual([]);
    // No hostile link published anything. The one slot that keeps a valid token (the open pixel
    // with a value appended) may still count that open when the value leaves the token whole
    // (a bare "?" is an empty query): only the signed open, never anything a value named.
    expect(trackerEvents.filter((e) => !(e.type === 'email_open' && e.customer_id === CUSTOMER && e.message_id === 'fuzz-trigger'))).toEqual([]);
    for (const [name, server] of Object.entries(servers)) {
      expect([name, (await rawGet(server.http.port, '/healthz')).status]).toEqual([name, 200]);
    }
  });
});
