import type { RecommendationSource } from '../core/recommendations';
import { sendJson, type RouteHandler } from '../kit/http';
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
  return { 'GET /preview': preview(deps) };
}

/** GET /preview?campaign=NAME&customer_id=ID[&rule=RULE][&product_id=ID][&format=json|html|text] */
function preview(deps: RouteDeps): RouteHandler {
  const { store, assets, recommendations, content, clock, partitionCount } = deps;
  return async (_req, res, url) => {
    const campaign = url.searchParams.get('campaign');
    const customerId = url.searchParams.get('customer_id');
    const format = url.searchParams.get('format') ?? 'json';
    if (!campaign || !customerId || !['json', 'html', 'text'].includes(format)) {
      sendJson(res, 400, { error: 'expected ?campaign=NAME&customer_id=ID[&rule=RULE][&product_id=ID][&format=json|html|text]' });
      return;
    }
    const partition = partitionOf(customerId, partitionCount());
    const { profile } = await store.customer(partition, customerId);
    if (profile === null) {
      sendJson(res, 404, { error: 'no profile for this customer in the renderer yet' });
      return;
    }
    try {
      const productId = url.searchParams.get('product_id');
      const now = clock();
      const result = await previewEmail({
        assets, campaign, profile, rule: url.searchParams.get('rule'), context: productId ? { product_id: productId } : undefined,
        now, recommendations, content, segmentState: await store.segmentState(partition, customerId, now),
      });
      if (format === 'json') sendJson(res, 200, result);
      else {
        res.writeHead(200, { 'content-type': `text/${format === 'html' ? 'html' : 'plain'}; charset=utf-8` });
        res.end(format === 'html' ? result.html : result.text);
      }
    } catch (error) {
      if (error instanceof PreviewError) sendJson(res, 404, { error: error.message });
      else sendJson(res, 422, { error: error instanceof Error ? error.message : String(error) });
    }
  };
}
