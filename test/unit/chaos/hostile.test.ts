/**
 * The chaos suite's hostile records (bench/chaos/hostile.ts): deterministic for a seed, every
 * category in 1,000 records, the sizes the issue asks for, framing that is what each label
 * claims (decoded with avsc), and labels that are what the services really do: every record is
 * run through the real ConsumerRunner with the real input bindings (services/kit/inputs.ts) and
 * the real codec over a registry stand-in that knows the two schema ids.
 */
import { recordTypes } from '../../../services/kit/codec';
import { DLQ_HEADERS } from '../../../services/kit/dlq';
import { behaviorEventsInput, customerProfilesInput } from '../../../services/kit/inputs';
import { HOSTILE_CATEGORIES, HUGE_STRING_CHARS, LONG_ID_CHARS, hostileRecords, interleave, type HostileContext, type HostileRecord } from '../../../bench/chaos/hostile';
import { throughEdge, type EdgeOutcome } from '../../support/edge-runner';

const NOW = Date.parse('2026-12-01T10:00:00Z');
const EVENTS_ID = 7;
const PROFILES_ID = 8;
const TOPICS = { events: 'behavior.events', profiles: 'customer.profiles' } as const;
const context: HostileContext = { eventsSchemaId: EVENTS_ID, profilesSchemaId: PROFILES_ID, now: NOW, customerIds: ['c-1', 'c-2', 'c-3'] };
const types = recordTypes();

/** What the services do with each record: run through the ConsumerRunner as kafkajs would hand it over. */
function throughRunner(records: readonly HostileRecord[]): Promise<EdgeOutcome[]> {
  return throughEdge(
    [behaviorEventsInput(TOPICS.events, types.BehaviorEvent), customerProfilesInput(TOPICS.profiles, types.CustomerProfile)],
    records.map((r) => ({ topic: TOPICS[r.topic], key: r.key, value: r.value })),
    { schemas: new Map([[EVENTS_ID, types.BehaviorEvent], [PROFILES_ID, types.CustomerProfile]]), now: NOW },
  );
}

describe('hostile records for the chaos suite', () => {
  const records = hostileRecords(42, 1000, context);

  it('are the same for the same seed, and differ for another seed', () => {
    const again = hostileRecords(42, 1000, context);
    expect(again.map((r) => [r.category, r.topic, r.key?.toString('hex'), r.value?.toString('hex')])).toEqual(
      records.map((r) => [r.category, r.topic, r.key?.toString('hex'), r.value?.toString('hex')]),
    );
    const other = hostileRecords(43, 1000, context);
    expect(other.map((r) => r.key?.toString('hex'))).not.toEqual(records.map((r) => r.key?.toString('hex')));
  });

  it('hold every category in 1,000 records, each many times (huge_string at a quarter of the rate), shuffled', () => {
    const counts = new Map<string, number>();
    for (const record of records) counts.set(record.category, (counts.get(record.category) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual([...HOSTILE_CATEGORIES].sort());
    for (const category of HOSTILE_CATEGORIES) expect(counts.get(category)).toBeGreaterThanOrEqual(category === 'huge_string' ? 15 : 70);
    expect(records.slice(0, 12).map((r) => r.category)).not.toEqual(HOSTILE_CATEGORIES);
    // Every category from 12 records on; none from 0.
    expect(new Set(hostileRecords(1, 12, context).map((r) => r.category)).size).toBe(12);
    expect(hostileRecords(1, 0, context)).toEqual([]);
  });

  it('carry 1 MB strings and 10 KB customer ids', () => {
    for (const record of records.filter((r) => r.category === 'huge_string')) {
      const decoded = (record.topic === 'events' ? types.BehaviorEvent : types.CustomerProfile).fromBuffer(record.value!.subarray(5)) as Record<string, unknown>;
      const strings = Object.values(decoded).flatMap((v) => (typeof v === 'string' ? [v] : v !== null && typeof v === 'object' ? Object.values(v as Record<string, string>) : []));
      expect(Math.max(...strings.map((s) => s.length))).toBe(HUGE_STRING_CHARS);
      // Under Kafka's default message.max.bytes (1,048,588), so the broker takes it alone.
      expect(record.value!.length).toBeLessThan(1_048_576 - 1024);
    }
    for (const record of records.filter((r) => r.category === 'long_customer_id')) {
      expect(record.key!.toString('utf8')).toHaveLength(LONG_ID_CHARS);
      expect(record.customerId).toHaveLength(LONG_ID_CHARS);
    }
  });

  it("have the framing each label claims: wrong bytes don't decode, valid framing with hostile content does", () => {
    for (const record of records) {
      if (record.value === null) continue;
      const value = record.value;
      const type = record.topic === 'events' ? types.BehaviorEvent : types.CustomerProfile;
      const ownId = record.topic === 'events' ? EVENTS_ID : PROFILES_ID;
      const decodes = () => type.fromBuffer(value.subarray(5));
      if (record.reason === 'wire-format') {
        expect(value.length < 5 || value[0] !== 0).toBe(true);
        continue;
      }
      expect(value[0]).toBe(0);
      const schemaId = value.readInt32BE(1);
      if (record.reason === 'unknown-schema-id') {
        expect([EVENTS_ID, PROFILES_ID]).not.toContain(schemaId);
        expect(decodes).not.toThrow(); // only the id is wrong
      } else if (record.reason === 'undecodable') {
        expect(schemaId).toBe(ownId);
        expect(decodes).toThrow();
      } else {
        expect(schemaId).toBe(ownId);
        expect((decodes() as { customer_id: string }).customer_id).toBeDefined();
      }
    }
  });

  it('are labelled with what the consumer runner really does: accepted, or dead-lettered with that reason and message', async () => {
    const outcomes = await throughRunner(records);
    const mismatches: string[] = [];
    records.forEach((record, index) => {
      const outcome = outcomes[index];
      const label = `#${index} ${record.category} (${record.topic})`;
      if (record.expect === 'accepted') {
        if (!('accepted' in outcome)) mismatches.push(`${label}: expected accepted, dead-lettered as ${String(outcome.dead.headers?.[DLQ_HEADERS.reason])}: ${String(outcome.dead.headers?.[DLQ_HEADERS.exceptionMessage])}`);
        return;
      }
      if (!('dead' in outcome)) {
        mismatches.push(`${label}: expected dlq ${record.reason}, accepted`);
        return;
      }
      const reason = String(outcome.dead.headers?.[DLQ_HEADERS.reason]);
      const message = String(outcome.dead.headers?.[DLQ_HEADERS.exceptionMessage]);
      if (!reason.includes(record.reason!) || (record.detail !== undefined && !message.includes(record.detail))) {
        mismatches.push(`${label}: expected ${record.reason} "${record.detail}", got ${reason} "${message.slice(0, 200)}"`);
      }
      // The DLQ copy is the record as produced.
      if (!Buffer.from(outcome.dead.value as Buffer | null ?? Buffer.alloc(0)).equals(record.value ?? Buffer.alloc(0))) mismatches.push(`${label}: DLQ value differs`);
    });
    expect(mismatches).toEqual([]);
    // Both outcomes occur, and accepted ones span the categories that have them.
    const acceptedCategories = new Set(records.filter((r) => r.expect === 'accepted').map((r) => r.category));
    expect([...acceptedCategories].sort()).toEqual(['html_script', 'odd_customer_id', 'timestamp_1970', 'unknown_event_type']);
  });

  it('aim at the run\'s customers where it matters: HTML and year-3000 events name them', () => {
    const aimed = (category: string) => records.filter((r) => r.category === category && r.topic === 'events' && context.customerIds.includes(r.customerId ?? ''));
    expect(aimed('html_script').filter((r) => r.expect === 'accepted').length).toBeGreaterThan(20);
    expect(aimed('timestamp_3000').length).toBeGreaterThan(20);
    for (const record of records) {
      if (record.customerId !== undefined && record.key !== null) expect(record.key.toString('utf8')).toBe(record.customerId);
    }
  });

  it('interleave keeps the order of the valid records and of the hostile ones, and spreads the hostile ones', () => {
    const valid = Array.from({ length: 3000 }, (_, i) => i);
    const hostile = Array.from({ length: 1000 }, (_, i) => `h${i}`);
    const merged = interleave(valid, hostile, 9);
    expect(merged).toHaveLength(4000);
    expect(merged.flatMap((m) => ('valid' in m ? [m.valid] : []))).toEqual(valid);
    expect(merged.flatMap((m) => ('hostile' in m ? [m.hostile] : []))).toEqual(hostile);
    expect(interleave(valid, hostile, 9)).toEqual(merged);
    expect(interleave(valid, hostile, 10)).not.toEqual(merged);
    // Spread: each quarter of the run holds some hostile records.
    for (let quarter = 0; quarter < 4; quarter += 1) {
      const slice = merged.slice(quarter * 1000, (quarter + 1) * 1000);
      expect(slice.filter((m) => 'hostile' in m).length).toBeGreaterThan(150);
    }
    expect(interleave([], ['a'], 1)).toEqual([{ hostile: 'a' }]);
    expect(interleave([1], [], 1)).toEqual([{ valid: 1 }]);
  });
});
