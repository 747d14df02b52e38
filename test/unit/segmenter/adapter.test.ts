/** The segmenter's adapter: a batch where a segment changes twice for one customer. */
import { parseSegmentDefinitions, parseSegmentState, SEGMENT_STATE_COMPACT_MARKER, serializeSegmentStateJson } from '../../../services/core/segments';
import { CorruptStateError } from '../../../services/kit/errors';
import { behaviorEvent, type BehaviorEvent, type SegmentChange } from '../../../services/core/types';
import { decodeOutboxRecord } from '../../../services/kit/partition-processor';
import type { ConsumedRecord } from '../../../services/kit/consumer-runner';
import { createMetrics } from '../../../services/kit/metrics';
import { SegmenterLogic } from '../../../services/segmenter/adapter';

const T0 = Date.UTC(2026, 0, 5, 12);
const MINUTE = 60_000;
const definitions = parseSegmentDefinitions('test.yaml', `
segments:
  - name: open_cart
    conditions:
      absence: { event: add_to_cart, not_followed_by: purchase, within: 1d }
`);

function record(event: BehaviorEvent, offset: number): ConsumedRecord<unknown> {
  return { topic: 'events', partition: 0, offset: String(offset), key: event.customer_id, value: event, timestamp: event.occurred_at, headers: {} };
}

describe('SegmenterLogic', () => {
  it('gives each change of one customer and segment in a batch a later time than the previous, so (customer, segment, change, at) stays a duplicate key', () => {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value));
    const logic = new SegmenterLogic(definitions, 'profiles', { changes: { topic: 'changes', encode }, triggers: { topic: 'triggers', encode } }, createMetrics('segmenter-test'));
    const events = ['add_to_cart', 'purchase', 'add_to_cart', 'purchase'].map((type, i) =>
      behaviorEvent({ event_id: `e${i}`, customer_id: 'c1', type, occurred_at: T0 - (10 - i) * MINUTE, product_id: 'p1' }),
    );
    const snapshot = { version: 0, appliedOffsets: new Map(), incarnation: null, streamTime: null, states: new Map() };
    const change = logic.onRecords(snapshot, events.map(record), T0);
    const changes = change.outbox.map((text) => JSON.parse(decodeOutboxRecord(text).value.toString()) as SegmentChange);
    expect(changes.map((c) => [c.change, c.at - T0])).toEqual([
      ['entered', 0],
      ['exited', 1],
      ['entered', 2],
      ['exited', 3],
    ]);
  });

  it('reads a format-1 (JSON) state as MGET returns it (a Buffer), writes it back compact, and dead-letters unreadable bytes', () => {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value));
    const logic = new SegmenterLogic(definitions, 'profiles', { changes: { topic: 'changes', encode }, triggers: { topic: 'triggers', encode } }, createMetrics('segmenter-test-2'));
    const add = behaviorEvent({ event_id: 'e1', customer_id: 'c1', type: 'add_to_cart', occurred_at: T0 - 10 * MINUTE, product_id: 'p1' });
    const first = logic.onRecords({ version: 0, appliedOffsets: new Map(), incarnation: null, streamTime: null, states: new Map() }, [record(add, 0)], T0);
    const written = parseSegmentState(first.states.get('c1') as Buffer)!;
    const legacy = Buffer.from(serializeSegmentStateJson(written));
    const purchase = behaviorEvent({ event_id: 'e2', customer_id: 'c1', type: 'purchase', occurred_at: T0 - 5 * MINUTE, product_id: 'p1' });
    const fromLegacy = logic.onRecords({ version: 1, appliedOffsets: new Map(), incarnation: null, streamTime: null, states: new Map([['c1', legacy]]) }, [record(purchase, 1)], T0);
    const fromCompact = logic.onRecords({ version: 1, appliedOffsets: new Map(), incarnation: null, streamTime: null, states: new Map([['c1', first.states.get('c1')!]]) }, [record(purchase, 1)], T0);
    const stored = fromLegacy.states.get('c1') as Buffer;
    expect(stored[0]).toBe(SEGMENT_STATE_COMPACT_MARKER);
    expect(stored.equals(fromCompact.states.get('c1') as Buffer)).toBe(true);
    expect(fromLegacy.outbox).toEqual(fromCompact.outbox);
    const broken = { version: 1, appliedOffsets: new Map(), incarnation: null, streamTime: null, states: new Map([['c1', Buffer.from([SEGMENT_STATE_COMPACT_MARKER, 0x80])]]) };
    expect(() => logic.onRecords(broken, [record(purchase, 1)], T0)).toThrow(CorruptStateError);
  });
});
