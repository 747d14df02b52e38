import {
  applyRecords,
  cellKey,
  contribution,
  DEFAULT_LIMITS,
  emptyAttributionState,
  parseAttributionState,
  serializeAttributionState,
  type AttributionOptions,
  type AttributionRecord,
  type AttributionState,
} from '../../../../services/core/experiments/attribution';
import { COUNTER_FIELDS, emptyCounters, type ArmCounters } from '../../../../services/core/experiments/model';
import { behaviorEvent, type EmailOutcome } from '../../../../services/core/types';
import { seededRandom } from '../../../../services/tools/synthetic';

const H = 3600_000;
const W = 72 * H;
const T0 = Date.UTC(2026, 10, 1);
const OPTIONS: AttributionOptions = { windowMs: W, horizonMs: 30 * 24 * H, ...DEFAULT_LIMITS };

function sent(id: string, at: number, fields: Partial<EmailOutcome> = {}): AttributionRecord {
  return {
    outcome: {
      trigger_id: id, customer_id: 'c1', campaign: 'upsell', variant: 'a', status: 'sent', ses_message_id: `ses-${id}`, reason: null, at,
      experiment: 'upsell.subject.0123abcd', holdout: false, variables: { subject: 'a' }, segments: [], rule: 'high_interest', ...fields,
    },
  };
}
function holdout(id: string, at: number, fields: Partial<EmailOutcome> = {}): AttributionRecord {
  return sent(id, at, { status: 'skipped', holdout: true, variant: null, variables: {}, reason: 'holdout: upsell.subject.0123abcd', ses_message_id: null, ...fields });
}
function purchase(id: string, at: number, cents: number | null): AttributionRecord {
  return { event: behaviorEvent({ event_id: id, customer_id: 'c1', type: 'purchase', occurred_at: at, value_cents: cents }) };
}
function hit(type: string, message: string, at: number, properties: Record<string, string> = {}, id = `${type}-${message}-${at}`): AttributionRecord {
  return { event: behaviorEvent({ event_id: id, customer_id: 'c1', type, occurred_at: at, message_id: message, campaign_id: 'upsell', properties }) };
}

const cell = (arm: string, segment = '*', experiment = 'upsell.subject.0123abcd', campaign = 'upsell') => cellKey({ campaign, experiment, arm, segment });

/** Applies batches one after the other, summing the deltas as the service's counters do. */
function run(batches: AttributionRecord[][], options = OPTIONS): { counters: Map<string, ArmCounters>; state: AttributionState } {
  let state = emptyAttributionState();
  const counters = new Map<string, ArmCounters>();
  for (const batch of batches) {
    const applied = applyRecords(parseAttributionState(serializeAttributionState(state)), batch, options);
    state = applied.state;
    for (const [key, delta] of applied.delta) {
      const sum = counters.get(key) ?? emptyCounters();
      for (const field of COUNTER_FIELDS) sum[field] += delta[field];
      counters.set(key, sum);
    }
  }
  for (const [key, c] of counters) if (COUNTER_FIELDS.every((f) => c[f] === 0)) counters.delete(key);
  return { counters, state };
}
const counters = (records: AttributionRecord[], options = OPTIONS) => run(records.map((r) => [r]), options).counters;
const of = (partial: Partial<ArmCounters>): ArmCounters => ({ ...emptyCounters(), ...partial });

describe('attribution: last touch, windows, holdout, uniqueness', () => {
  it('credits a purchase to the latest send before it within the window, ties to the larger trigger_id', () => {
    const result = counters([
      sent('t1', T0, { variant: 'a' }),
      sent('t2', T0 + H, { variant: 'b' }),
      sent('t3', T0 + H, { variant: 'c' }),
      purchase('p1', T0 + 2 * H, 500),
    ]);
    expect(result.get(cell('a'))).toEqual(of({ sent: 1 }));
    expect(result.get(cell('b'))).toEqual(of({ sent: 1 }));
    expect(result.get(cell('c'))).toEqual(of({ sent: 1, converted: 1, conversions: 1, revenue: 500, revenueSq: 250_000 }));
  });

  it('any campaign is a touch: a later send of another campaign takes the purchase', () => {
    const result = counters([sent('t1', T0), sent('t2', T0 + H, { campaign: 'cart_reminder', experiment: null, variant: null, variables: {} }), purchase('p1', T0 + 2 * H, 100)]);
    expect(result.get(cell('a'))).toEqual(of({ sent: 1 }));
    expect(result.get(cellKey({ campaign: 'cart_reminder', experiment: '-', arm: '-', segment: '*' }))).toEqual(of({ sent: 1, converted: 1, conversions: 1, revenue: 100, revenueSq: 10_000 }));
  });

  it('counts up to the end of the window and not after, nor before the send', () => {
    const result = counters([sent('t1', T0), purchase('before', T0 - 1, 1), purchase('edge', T0 + W, 10), purchase('after', T0 + W + 1, 100)]);
    expect(result.get(cell('a'))).toEqual(of({ sent: 1, converted: 1, conversions: 1, revenue: 10, revenueSq: 100 }));
  });

  it('attributes by click window separately: the latest human click before the purchase, within W of it', () => {
    const result = counters([
      sent('t1', T0, { variant: 'a' }),
      sent('t2', T0 + 10 * H, { variant: 'b' }),
      hit('email_click', 't1', T0 + 20 * H),
      hit('email_click', 't2', T0 + 15 * H),
      hit('email_click', 't2', T0 + 25 * H, { suspect: 'scanner_ua' }),
      purchase('p1', T0 + 30 * H, 700),
      purchase('p2', T0 + 20 * H + W + 1, 50), // after t1's click window, within t2's send window? no: t2.at + W < it
    ]);
    // Send window: p1 goes to t2 (latest send); p2 is past both sends' windows.
    expect(result.get(cell('b'))).toEqual(of({ sent: 1, opened: 1, clicked: 1, converted: 1, conversions: 1, revenue: 700, revenueSq: 490_000 }));
    // Click window: p1 goes to t1, whose click (20 h) is later than t2's human click (15 h).
    expect(result.get(cell('a'))).toEqual(of({ sent: 1, opened: 1, clicked: 1, clickConverted: 1, clickConversions: 1, clickRevenue: 700 }));
  });

  it('counts the holdout the same way, as virtual sends', () => {
    const result = counters([holdout('h1', T0), purchase('p1', T0 + H, 300), purchase('p2', T0 + 2 * H, null)]);
    expect(result.get(cell('holdout'))).toEqual(of({ sent: 1, converted: 1, conversions: 2, revenue: 300, revenueSq: 90_000 }));
  });

  it('counts a send once per flag however many hits, and not a suspect or prefetched one', () => {
    const result = counters([
      sent('t1', T0),
      sent('t2', T0 + 1, { variant: 'b' }),
      hit('email_open', 't1', T0 + 10, { suspect: 'fast_open' }),
      hit('email_click', 't1', T0 + 11, { prefetch: 'head' }),
      hit('email_open', 't2', T0 + 12),
      hit('email_open', 't2', T0 + 13),
      hit('email_click', 't2', T0 + 14),
      hit('email_click', 't2', T0 + 15),
      hit('unsubscribe', 't2', T0 + 16),
      hit('email_delivered', 'ses-t2', T0 + 2, { source: 'ses', trigger_id: 't2' }),
      hit('email_complained', 'ses-t1', T0 + 3, { source: 'ses' }), // no trigger_id tag: matched by the SES message id
      purchase('p1', T0 + 20, 100),
      purchase('p2', T0 + 21, 200),
    ]);
    expect(result.get(cell('a'))).toEqual(of({ sent: 1, complained: 1 }));
    expect(result.get(cell('b'))).toEqual(
      of({ sent: 1, delivered: 1, opened: 1, clicked: 1, unsubscribed: 1, converted: 1, conversions: 2, revenue: 300, revenueSq: 90_000, clickConverted: 1, clickConversions: 2, clickRevenue: 300 }),
    );
  });

  it('counts a human click as an open too (images, and so the pixel, blocked); a machine click as neither', () => {
    const result = counters([sent('t1', T0), sent('t2', T0, { variant: 'b' }), hit('email_click', 't1', T0 + 10), hit('email_click', 't2', T0 + 10, { suspect: 'scanner_ua' })]);
    expect(result.get(cell('a'))).toEqual(of({ sent: 1, opened: 1, clicked: 1 }));
    expect(result.get(cell('b'))).toEqual(of({ sent: 1 }));
  });

  it('counts a send in "*" and in each of its segments at send time', () => {
    const result = counters([sent('t1', T0, { segments: ['engaged', 'frequent_buyer', 'engaged'] }), purchase('p', T0 + 1, 5)]);
    const expected = of({ sent: 1, converted: 1, conversions: 1, revenue: 5, revenueSq: 25 });
    expect(result.get(cell('a'))).toEqual(expected);
    expect(result.get(cell('a', 'engaged'))).toEqual(expected);
    expect(result.get(cell('a', 'frequent_buyer'))).toEqual(expected);
    expect(result.size).toBe(3);
  });

  it('ignores outcomes that are no touch (failed, suppressed, skipped but not holdout)', () => {
    const result = counters([sent('t1', T0, { status: 'failed' }), sent('t2', T0, { status: 'skipped' }), sent('t3', T0, { status: 'suppressed' }), purchase('p', T0 + 1, 5)]);
    expect(result.size).toBe(0);
  });

  it('attributes a purchase read before its send once the send arrives, and an open read before its outcome', () => {
    const { counters: result } = run([[purchase('p1', T0 + H, 40), hit('email_open', 't1', T0 + 2)], [sent('t1', T0)]]);
    expect(result.get(cell('a'))).toEqual(of({ sent: 1, opened: 1, converted: 1, conversions: 1, revenue: 40, revenueSq: 1600 }));
  });

  it('moves a purchase to a later send read afterwards (the delta takes it from the first)', () => {
    const { counters: result } = run([[sent('t1', T0), purchase('p1', T0 + 2 * H, 40)], [sent('t2', T0 + H, { variant: 'b' })]]);
    expect(result.get(cell('a'))).toEqual(of({ sent: 1 }));
    expect(result.get(cell('b'))).toEqual(of({ sent: 1, converted: 1, conversions: 1, revenue: 40, revenueSq: 1600 }));
  });

  it('leaves the stored state alone for events that concern no email', () => {
    const state = run([[sent('t1', T0)]]).state;
    const applied = applyRecords(state, [hit('page_view', 't1', T0 + 1), hit('email_open', 't1', T0 + 2, { prefetch: 'head' })], OPTIONS);
    expect(applied).toEqual({ state, delta: new Map(), ignored: { not_counted: 1, machine: 1 }, changed: false });
  });

  it('is idempotent: duplicates by trigger_id and event_id change nothing', () => {
    const records = [sent('t1', T0), hit('email_open', 't1', T0 + 5), purchase('p1', T0 + H, 40)];
    expect(run([records, records, [records[2], records[0]]]).counters).toEqual(counters(records));
  });
});

describe('attribution: bounded state', () => {
  const small: AttributionOptions = { windowMs: 10, horizonMs: 40, maxTouches: 4, maxPurchases: 4, maxPending: 4, maxClicksPerTouch: 2 };

  it('drops what no later record can change, keeping its counts, and refuses records behind the floor', () => {
    const records = [sent('t1', 0), purchase('p1', 5, 7), hit('email_click', 't1', 3), purchase('p2', 8, 1)];
    const first = run([records], small);
    const later = run([records, [purchase('p3', 200, 1)], [sent('t1', 0), purchase('p1', 5, 7), purchase('p0', 100, 2)]], small);
    expect(later.state.touches).toEqual([]);
    expect(later.state.purchases.map((p) => p.id)).toEqual(['p3']);
    expect(later.counters).toEqual(first.counters);
  });

  it('folds a pruned purchase into its touch, so revenueSq stays the square of the whole revenue', () => {
    const { counters: result, state } = run([[sent('t1', 0)], [purchase('p1', 5, 3)], [hit('email_delivered', 'ses-t1', 40)], [purchase('p9', 46, 1)], [purchase('p2', 9, 4)]], small);
    expect(state.purchases.map((p) => p.id)).toEqual(['p9', 'p2']);
    expect(state.touches[0]?.base).toEqual({ n: 1, r: 3, cn: 0, cr: 0 });
    expect(result.get(cell('a'))).toEqual(of({ sent: 1, delivered: 1, converted: 1, conversions: 2, revenue: 7, revenueSq: 49 }));
  });

  it('keeps at most the configured numbers of touches, purchases and pending engagements', () => {
    const records: AttributionRecord[] = [];
    for (let i = 0; i < 30; i += 1) records.push(sent(`t${i}`, i), purchase(`p${i}`, i, 1), hit('email_open', `x${i}`, i));
    const { state } = run(records.map((r) => [r]), { ...small, horizonMs: 10_000 });
    expect(state.touches.length).toBeLessThanOrEqual(4);
    expect(state.purchases.length).toBeLessThanOrEqual(4);
    expect(state.pending.length).toBeLessThanOrEqual(4);
  });
});

describe('attribution: order does not matter (property)', () => {
  /** A customer's records: sends, holdouts, opens, clicks (some machine), SES feedback, purchases. */
  function dataset(random: () => number, span: number, w: number): AttributionRecord[] {
    const records: AttributionRecord[] = [];
    const t = () => Math.floor(random() * span);
    const n = 3 + Math.floor(random() * 8);
    for (let i = 0; i < n; i += 1) {
      const at = t();
      const id = `t${i}`;
      const segments = ['engaged', 'frequent_buyer'].filter(() => random() < 0.5);
      const arm = ['a', 'b'][Math.floor(random() * 2)] as string;
      records.push(random() < 0.25 ? holdout(id, at, { segments }) : sent(id, at, { variant: arm, segments }));
      for (let k = Math.floor(random() * 4); k > 0; k -= 1) {
        const when = at + Math.floor(random() * w);
        const type = ['email_open', 'email_click', 'email_delivered', 'unsubscribe'][Math.floor(random() * 4)] as string;
        const props: Record<string, string> = random() < 0.2 ? { suspect: 'scanner_ua' } : {};
        records.push(hit(type, id, when, props, `e-${i}-${k}`));
      }
    }
    for (let j = Math.floor(random() * 8); j > 0; j -= 1) records.push(purchase(`p${j}`, t(), random() < 0.1 ? null : Math.floor(random() * 10_000)));
    return records;
  }

  /** Splits an arrival order into random batches. */
  function batches(random: () => number, records: AttributionRecord[]): AttributionRecord[][] {
    const out: AttributionRecord[][] = [];
    for (let i = 0; i < records.length; ) {
      const size = 1 + Math.floor(random() * 4);
      out.push(records.slice(i, i + size));
      i += size;
    }
    return out;
  }

  const timeOf = (r: AttributionRecord) => ('outcome' in r ? r.outcome.at : r.event.occurred_at);

  it('any interleaving, duplication and batching gives the same counters (no pruning)', () => {
    for (let seed = 1; seed <= 300; seed += 1) {
      const random = seededRandom(seed);
      const records = dataset(random, 5 * W, W); // spans less than the horizon: nothing is ever late
      const reference = counters([...records].sort((a, b) => timeOf(a) - timeOf(b)));
      const shuffled = [...records, ...records.filter(() => random() < 0.3)].sort(() => random() - 0.5);
      expect(run(batches(random, shuffled)).counters).toEqual(reference);
    }
  });

  it('with pruning, any arrival that is less than the horizon late gives the same counters', () => {
    const options: AttributionOptions = { windowMs: 100, horizonMs: 300, ...DEFAULT_LIMITS };
    let pruned = 0;
    for (let seed = 1; seed <= 300; seed += 1) {
      const random = seededRandom(1000 + seed);
      const records = dataset(random, 3000, 100);
      const arrival = (r: AttributionRecord) => timeOf(r) + Math.floor(random() * 290);
      const order = (list: AttributionRecord[]) => list.map((r) => ({ r, at: arrival(r) })).sort((a, b) => a.at - b.at).map((x) => x.r);
      const reference = counters([...records].sort((a, b) => timeOf(a) - timeOf(b)), { ...options, horizonMs: 1e9 });
      const result = run(batches(random, order([...records, ...records.filter(() => random() < 0.3)])), options);
      expect(result.counters).toEqual(reference);
      if (result.state.touches.length < records.filter((r) => 'outcome' in r).length) pruned += 1;
    }
    expect(pruned).toBeGreaterThan(100); // the property held while pruning
  });

  it('contribution of the empty state is empty', () => {
    expect(contribution(emptyAttributionState(), W).size).toBe(0);
  });
});
