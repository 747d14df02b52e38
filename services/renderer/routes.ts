import type { RecommendationSource } from '../core/recommendations';
import { MAX_PRODUCT_ID_LENGTH } from '../core/recommendations';
import { sendJson, type RouteHandler } from '../kit/http';
import { enumParam, HttpError, MAX_ID_PARAM_LENGTH, parseQuery, textParam } from '../kit/http-params';
import { partitionOf } from '../kit/partitioner';
import type { RendererAssets } from './assets';
import type { ContentOptions } from './content';
import { previewEmail, PreviewError } from './preview';
import type { RendererStore } from './store';

export interface RouteDeps {
  store: RendererStore;
  assets: RendererAssets;
  recommendations: RecommendationSource;
  content: ContentOptions;
  clock: () => number;
  partitionCount: () => number;
}

/** The renderer's HTTP routes. */
export function rendererRoutes(deps: RouteDeps): Record<string, RouteHandler> {
  return { 'GET /preview': preview(deps), 'GET /campaigns/paused': paused(deps) };
}

/** GET /campaigns/paused: the campaigns the deliverability guard paused, with why and since when. */
function paused(deps: RouteDeps): RouteHandler {
  return async (_req, res) => {
    const list = [...(await deps.store.pausedCampaigns())].map(([campaign, pause]) => ({ campaign, paused_at: new Date(pause.at).toISOString(), reason: pause.reason, detail: pause.detail }));
    sendJson(res, 200, { paused: list.sort((a, b) => (a.campaign < b.campaign ? -1 : 1)) });
  };
}

const PREVIEW_QUERY = {
  campaign: textParam(200, 'a campaign name of CAMPAIGNS_FILE'),
  customer_id: textParam(MAX_ID_PARAM_LENGTH),
  rule: textParam(200, 'a trigger rule name').optional(),
  product_id: textParam(MAX_PRODUCT_ID_LENGTH).optional(),
  format: enumParam(['json', 'html', 'text']).optional(),
  arm: textParam(500, 'an experiment arm name, like question+popular').optional(),
};

/**
 * GET /preview?campaign=NAME&customer_id=ID[&rule=RULE][&product_id=ID][&arm=ARM][&format=json|html|text]
 * Without `arm`, the customer's own experiment arm (a holdout customer sees the first arm).
 * An operator tool: it shows a stored customer's personal data and valid signed links, so it
 * sits behind the service's credential (docs/security.md).
 */
function preview(deps: RouteDeps): RouteHandler {
  const { store, assets, recommendations, content, clock, partitionCount } = deps;
  return async (_req, res, url) => {
    const query = parseQuery(url, PREVIEW_QUERY);
    const format = query.format ?? 'json';
    const partition = partitionOf(query.customer_id, partitionCount());
    const { profile } = await store.customer(partition, query.customer_id);
    if (profile === null) throw new HttpError(404, 'no profile for this customer in the renderer yet', 'customer_id');
    try {
      const now = clock();
      const result = await previewEmail({
        assets, campaign: query.campaign, profile, rule: query.rule ?? null, context: query.product_id !== undefined ? { product_id: query.product_id } : undefined,
        now, recommendations, content, segmentState: await store.segmentState(partition, query.customer_id, now), arm: query.arm ?? null,
      });
      res.setHeader('cache-control', 'no-store');
      if (format === 'json') sendJson(res, 200, result);
      else {
        res.writeHead(200, { 'content-type': `text/${format === 'html' ? 'html' : 'plain'}; charset=utf-8` });
        res.end(format === 'html' ? result.html : result.text);
      }
    } catch (error) {
      if (error instanceof PreviewError) throw new HttpError(404, error.message, 'campaign');
      // The template's own message, for the operator; it is not logged.
      throw new HttpError(422, `the campaign does not render for this customer: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
}
