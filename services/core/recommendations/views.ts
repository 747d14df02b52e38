/** A customer's recent views as kept in the recommender's partition state. */

/** A customer's short-term state: the last viewed products (newest first) and event ids. */
export interface CustomerViews {
  views: Array<{ product: string; at: number }>;
  eventIds: string[];
}

export function emptyViews(): CustomerViews {
  return { views: [], eventIds: [] };
}

/** Stored compactly: `{"v":[["sku",at],...],"e":["id",...]}`. Unreadable state starts over. */
export function decodeViews(text: string | null | undefined): CustomerViews {
  if (!text) return emptyViews();
  try {
    const raw = JSON.parse(text) as { v?: unknown; e?: unknown };
    const views = Array.isArray(raw.v)
      ? raw.v.flatMap((item): CustomerViews['views'] =>
          Array.isArray(item) && typeof item[0] === 'string' && typeof item[1] === 'number' ? [{ product: item[0], at: item[1] }] : [],
        )
      : [];
    const eventIds = Array.isArray(raw.e) ? raw.e.filter((id): id is string => typeof id === 'string') : [];
    return { views, eventIds };
  } catch {
    return emptyViews();
  }
}

export function encodeViews(state: CustomerViews): string {
  return JSON.stringify({ v: state.views.map((v) => [v.product, v.at]), e: state.eventIds });
}
