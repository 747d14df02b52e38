import { sendJson, type RouteHandler } from '../kit/http';
import { HttpError, parseQuery, pathParam, textParam } from '../kit/http-params';
import { campaignResults, campaignSummary, knownCampaigns, requireCampaign, ResultsQueryError, type Designs } from './figures';
import type { ResultsStore } from './store';

const campaignName = textParam(128, 'a campaign name');
const experimentId = textParam(256, 'an experiment id (<campaign>.<experiment>.<8 hex>) or - for sends outside any experiment');
const segmentName = textParam(64, 'a segment name, or * for every send');

/** A ResultsQueryError as the 404 the client gets (it names the value and the known ones). */
async function answering<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ResultsQueryError) throw new HttpError(404, error.message, error.parameter);
    throw error;
  }
}

/**
 * The results API (behind the service's credential, like the other services' APIs):
 *   GET /results/campaigns                                  campaigns with experiments and totals
 *   GET /results/campaigns/<campaign>?experiment=&segment=  per experiment: the report and by_segment
 */
export function resultsRoutes(deps: { store: ResultsStore; designs: Designs; windowMs: number }): Record<string, RouteHandler> {
  const { store, designs, windowMs } = deps;

  const campaigns: RouteHandler = async (_req, res, url) => {
    if (url.pathname === '/results/campaigns' || url.pathname === '/results/campaigns/') {
      parseQuery(url, {});
      const counted = await store.campaigns();
      const list = await Promise.all(knownCampaigns(counted, designs).map(async (c) => campaignSummary(c, await store.cells(c), designs)));
      return sendJson(res, 200, { attribution_window_ms: windowMs, campaigns: list });
    }
    const match = /^\/results\/campaigns\/([^/]+)$/.exec(url.pathname);
    if (!match) throw new HttpError(404, 'expected /results/campaigns or /results/campaigns/<campaign>');
    const campaign = pathParam('campaign', match[1] as string, campaignName);
    const query = parseQuery(url, { experiment: experimentId.optional(), segment: segmentName.optional() });
    const body = await answering(async () => {
      requireCampaign(campaign, knownCampaigns(await store.campaigns(), designs));
      return campaignResults(campaign, await store.cells(campaign), designs, query);
    });
    return sendJson(res, 200, { attribution_window_ms: windowMs, ...body });
  };

  return { 'GET /results/campaigns': campaigns };
}
