import { triggerId } from '../../../../services/core/ids';
import {
  applyEvent,
  applyEvents,
  decodeTriggerState,
  encodeTriggerState,
  encodeTriggerStateJson,
  fireTimer,
  longestHorizonMs,
  registerRuleKind,
  timerIdFor,
  TriggerStateError,
  TRIGGER_STATE_COMPACT_MARKER,
  type RuleKind,
  type TriggerRule,
} from '../../../../services/core/triggers';
import type { ConsumedRecord } from '../../../../services/kit/consumer-runner';
import type { KairosMetrics } from '../../../../services/kit/metrics';
import type { PartitionSnapshot, StateValue } from '../../../../services/kit/partition-state';
import { TriggerLogic } from '../../../../services/trigger/adapter';
import { boughtAfterViewKind, type BoughtAfterViewRule, type BoughtAfterViewState } from './bought-after-view';
import { Customer, CUSTOMER, Events, HOUR, MINUTE, rulesFrom, seedRules, T0 } from './harness';

registerRuleKind(boughtAfterViewKind);

const DAY = 24 * HOUR;
const RULE = 'big_purchase_follow_up';
const TIMER = timerIdFor(CUSTOMER, RULE);

const RULE_FILE = `rules:
  - name: ${RULE}
    kind: bought_after_view
    event: product_view
    above_cents: 10000
    within: 7d
    follow_up: 2d
`;

/** The shipped rules plus the example kind's rule. */
function rules(): TriggerRule[] {
  return [...seedRules(), ...rulesFrom(RULE_FILE)];
}

function parseError(yaml: string): string {
  try {
    rulesFrom(yaml);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a TriggerRuleError');
}

describe('a rule kind added outside services/ (bought_after_view)', () => {
  it('is read from a rule file: the shared keys by the parser, its own by its descriptor', () => {
    expect(rulesFrom(RULE_FILE)).toEqual([
      {
        kind: 'bought_after_view',
        name: RULE,
        description: null,
        events: ['product_view'],
        where: [],
        aboveCents: 10_000,
        within: '7d',
        withinMs: 7 * DAY,
        followUpMs: 2 * DAY,
      },
    ]);
  });

  it('has its keys checked with the same messages as the shipped kinds', () => {
    expect(parseError(RULE_FILE.replace('    above_cents: 10000\n', ''))).toBe(
      `test.yaml: rule "${RULE}": above_cents: is missing; expected a whole number from 0 to 100000000`,
    );
    expect(parseError(RULE_FILE.replace('within: 7d', 'within: soon'))).toBe(
      `test.yaml: rule "${RULE}": within: "soon" is not a duration; expected like 15m, 24h, 30d`,
    );
    expect(parseError(`${RULE_FILE}    greater_than: 3\n`)).toBe(
      `test.yaml: rule "${RULE}": greater_than: unknown key; expected one of name, kind, description, event, where, above_cents, within, follow_up`,
    );
    expect(parseError(RULE_FILE.replace('kind: bought_after_view', 'kind: bought'))).toBe(
      `test.yaml: rule "${RULE}": kind: "bought" is not a rule kind; expected threshold, absence or bought_after_view`,
    );
  });

  it('cannot be registered twice', () => {
    expect(() => registerRuleKind(boughtAfterViewKind)).toThrow('rule kind "bought_after_view" is registered already');
  });

  it('must be complete: a descriptor without a member does not compile', () => {
    const { timer: _timer, ...withoutTimer } = boughtAfterViewKind;
    // @ts-expect-error a kind says whether it waits, even one that never does (timer: null)
    const incomplete: RuleKind<BoughtAfterViewRule, BoughtAfterViewState> = withoutTimer;
    expect(incomplete.timer).toBeUndefined();
  });

  it('arms a timer on a purchase above the amount after a view, and fires it when due', () => {
    const customer = new Customer(rules());
    const e = new Events();
    customer.apply(e.view('p1', 0));
    customer.apply(e.of('purchase', HOUR, { product_id: 'p1', value_cents: 10_000 })); // not above
    expect(customer.timers.has(TIMER)).toBe(false);
    const bought = e.of('purchase', 2 * HOUR, { product_id: 'p1', value_cents: 25_000 });
    customer.apply(bought);
    expect(customer.timers.get(TIMER)).toBe(T0 + 2 * HOUR + 2 * DAY);

    // Not yet due: put back at its due time, nothing fired.
    const early = fireTimer(customer.state(), TIMER, customer.rules, T0 + DAY);
    expect(early.triggers).toEqual([]);
    expect(early.timers).toEqual({ set: [{ id: TIMER, dueAt: T0 + 2 * HOUR + 2 * DAY }], cancel: [] });

    const due = T0 + 2 * HOUR + 2 * DAY;
    expect(customer.fireDue(due)).toEqual([
      {
        trigger_id: triggerId(RULE, CUSTOMER, bought.event_id),
        rule: RULE,
        customer_id: CUSTOMER,
        fired_at: due,
        cause_event_id: bought.event_id,
        context: { product_id: 'p1', value_cents: '25000', within: '7d' },
      },
    ]);
    expect(customer.timers.size).toBe(0);
  });

  it('arms nothing for a product not viewed, or viewed longer than `within` before', () => {
    const customer = new Customer(rules());
    const e = new Events();
    customer.apply(e.view('p1', 0));
    customer.apply(e.of('purchase', HOUR, { product_id: 'p2', value_cents: 50_000 }));
    customer.apply(e.of('purchase', 7 * DAY + MINUTE, { product_id: 'p1', value_cents: 50_000 }));
    expect(customer.timers.has(TIMER)).toBe(false);
  });

  it('fires by stream time, before the next event of the customer is applied', () => {
    const e = new Events();
    const armed = applyEvents(null, [e.view('p1', 0), e.of('purchase', HOUR, { product_id: 'p1', value_cents: 20_000 })], rules(), T0 + HOUR);
    const later = e.view('p3', 3 * DAY);
    const result = applyEvents(armed.state, [later], rules(), T0 + HOUR, [T0 + 3 * DAY]);
    expect(result.triggers.map((trigger) => trigger.rule)).toEqual([RULE]);
    expect(result.timers.cancel).toContain(TIMER);
  });

  it('has its stored state checked when read back', () => {
    const e = new Events();
    const { state } = applyEvents(null, [e.view('p1', 0), e.of('purchase', HOUR, { product_id: 'p1', value_cents: 20_000 })], rules(), T0);
    // Compact: the custom kind's state travels as its JSON inside the bytes, checked by the kind.
    const bytes = encodeTriggerState(state);
    expect(bytes[0]).toBe(TRIGGER_STATE_COMPACT_MARKER);
    expect(decodeTriggerState(bytes)).toEqual(state);
    const wrongType = Buffer.from(bytes.toString('latin1').replace('"valueCents":20000', '"valueCents":"200"'), 'latin1'); // same length
    expect(wrongType.length).toBe(bytes.length);
    expect(() => decodeTriggerState(wrongType)).toThrow(TriggerStateError);
    // Format 1 (JSON), as earlier versions stored it.
    const text = encodeTriggerStateJson(state);
    expect(decodeTriggerState(text)).toEqual(state);
    expect(() => decodeTriggerState(text.replace('"valueCents":20000', '"valueCents":"20000"'))).toThrow(TriggerStateError);
  });

  it('has its timer cancelled when its rule is retired from the config', () => {
    const e = new Events();
    const { state } = applyEvents(null, [e.view('p1', 0), e.of('purchase', HOUR, { product_id: 'p1', value_cents: 20_000 })], rules(), T0);
    const result = applyEvent(state, e.view('p2', 2 * HOUR), seedRules(), T0 + 2 * HOUR);
    expect(result.timers.cancel).toEqual([TIMER]);
    expect(result.state.rules.map((ruleState) => ruleState.rule)).not.toContain(RULE);
  });

  it('counts in the state TTL through its horizon (within + follow_up)', () => {
    expect(longestHorizonMs(rules())).toBe(9 * DAY);
  });
});

describe('erasure covers a kind it was not written for', () => {
  const EVENTS_TOPIC = 'behavior.events';
  const PROFILES_TOPIC = 'customer.profiles';
  const metrics = { eventsIgnored: { inc: () => undefined } } as unknown as KairosMetrics;
  const encoder = { topic: 'triggers', encode: (value: unknown) => Buffer.from(JSON.stringify(value)) };

  function record(topic: string, key: string, value: unknown, offset: number): ConsumedRecord<unknown> {
    return { topic, partition: 0, offset: String(offset), key, value, timestamp: T0, headers: {} };
  }

  function snapshot(states: Map<string, StateValue | null>): PartitionSnapshot {
    return { version: 1, appliedOffsets: new Map(), incarnation: null, streamTime: null, states };
  }

  it('a profile tombstone deletes the state and cancels the pending follow-up', () => {
    const logic = new TriggerLogic(rules(), encoder, metrics, PROFILES_TOPIC);
    const e = new Events();
    const events = [e.view('p1', 0), e.of('purchase', HOUR, { product_id: 'p1', value_cents: 20_000 })];
    const armed = logic.onRecords(snapshot(new Map()), events.map((event, i) => record(EVENTS_TOPIC, CUSTOMER, event, i)), T0 + HOUR);
    expect(armed.timers.get(TIMER)).toBe(T0 + HOUR + 2 * DAY);

    const erased = logic.onRecords(snapshot(armed.states), [record(PROFILES_TOPIC, CUSTOMER, null, 0)], T0 + 2 * HOUR);
    expect(erased.states.get(CUSTOMER)).toBeNull();
    expect(erased.timers.get(TIMER)).toBeNull();
  });
});
