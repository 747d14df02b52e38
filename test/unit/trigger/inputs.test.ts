/**
 * The trigger reads customer.profiles only for erasure, but with the same edge checks as every
 * reader of the topic (kit/inputs.ts; docs/producers.md, "Limits"): a profile over a limit or
 * impossible is dead-lettered by the trigger too, and a tombstone whose key is over the id
 * limit erases nothing. Found by the chaos suite's hostile records (issue 14): before, the
 * trigger took a tombstone with a 10 KB key as an erasure and let over-limit profiles through.
 */
import { customerProfile } from '../../../services/core/types';
import { recordTypes } from '../../../services/kit/codec';
import { triggerInputs } from '../../../services/trigger/main';
import { deadReason, throughEdge } from '../../support/edge-runner';

const NOW = Date.parse('2026-12-01T10:00:00Z');
const PROFILES_ID = 3;
const topics = { TOPIC_BEHAVIOR_EVENTS: 'behavior.events', TOPIC_CUSTOMER_PROFILES: 'customer.profiles' };
const types = recordTypes();

function framed(value: unknown): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(PROFILES_ID, 1);
  return Buffer.concat([header, types.CustomerProfile.toBuffer(value)]);
}

describe('the trigger service reading customer.profiles', () => {
  it('applies the edge checks of every reader: limits, validation, the key bound (tombstones too)', async () => {
    const long = 'c'.repeat(10_240);
    const records = [
      { key: 'c-1', value: null }, // an erasure: handed over
      { key: 'c-2', value: framed(customerProfile({ customer_id: 'c-2', updated_at: NOW - 1000 })) },
      { key: long, value: null },
      { key: 'c-3', value: framed(customerProfile({ customer_id: 'c-3', updated_at: NOW - 1000, first_name: 'x'.repeat(1_000_000) })) },
      { key: 'line\nbreak', value: framed(customerProfile({ customer_id: 'line\nbreak', updated_at: NOW - 1000 })) },
      { key: 'c-4', value: framed(customerProfile({ customer_id: 'c-4', updated_at: Date.parse('3000-01-01T00:00:00Z') })) },
    ];
    const outcomes = await throughEdge(
      triggerInputs(topics, types),
      records.map((r) => ({ topic: topics.TOPIC_CUSTOMER_PROFILES, key: Buffer.from(r.key), value: r.value })),
      { schemas: new Map([[PROFILES_ID, types.CustomerProfile]]), now: NOW },
    );
    expect(outcomes.map(deadReason)).toEqual([
      null,
      null,
      { reason: 'over-limit', message: 'record key is 10240 characters; at most 128' },
      { reason: 'over-limit', message: 'first_name is 1000000 characters; at most 256' },
      { reason: 'invalid', message: 'customer_id contains the control character U+000A' },
      expect.objectContaining({ reason: 'future-time' }),
    ]);
  });
});
