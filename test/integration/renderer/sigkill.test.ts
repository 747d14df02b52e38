/**
 * Guarantee 1 for the renderer with a real SIGKILL: a renderer process killed between the
 * ledger's reservation and the SES call, or right after SES accepted the email, and then
 * replaced by a fresh process, ends with exactly one email and one `sent` outcome. Killed right
 * after the outbox relay committed the outcome (transaction and checkpoint), before it trimmed
 * the outbox, the replacement does not produce it again: a read_committed reader of
 * email.outcomes sees no record twice (guarantee 7).
 * (renderer-service.test.ts covers the same points in-process; this is the real kill.)
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { customerProfile, type EmailOutcome, type TriggerFired } from '../../../services/core/types';
import { triggerId } from '../../../services/core/ids';
import { readSchema, recordTypes, valueSubject } from '../../../services/kit/codec';
import { TEST_LINK_SECRET } from '../../support/link-keys';
import { createTestPipeline, repeatedRecords, type TestPipeline } from '../../support/pipeline';
import { collect, connectedProducer, exited, ROOT, spawnNode, waitCaughtUp, waitFor } from '../../support/stack';
import { EMULATOR, emulatorEmails } from './ses-proxy';

const types = recordTypes();

describe('a renderer killed with SIGKILL around the SES call', () => {
  let pipeline: TestPipeline;
  const children = new Set<ChildProcess>();
  let env: Record<string, string>;

  beforeAll(async () => {
    pipeline = await createTestPipeline('render-kill', 3);
    env = {
      ...pipeline.env,
      SES_ENDPOINT: EMULATOR,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      LINK_SIGNING_SECRET: TEST_LINK_SECRET,
      RECOMMENDATIONS_SOURCE: 'static',
      KAFKA_SESSION_TIMEOUT: '6s',
    };
  });
  afterAll(async () => {
    for (const child of children) {
      child.kill('SIGKILL');
      await exited(child);
    }
    await pipeline?.close();
  });

  const track = (child: ChildProcess) => {
    children.add(child);
    void exited(child).then(() => children.delete(child));
    return child;
  };

  it.each(['afterReserve', 'afterSesSend', 'afterRelayCommit'])('killed %s: exactly one email, one sent outcome, no record twice', async (point) => {
    const customer = `kill-${point}-${randomUUID().slice(0, 6)}`;
    const address = `${customer}@example.com`;
    // A customer in no quiet hours right now: the time zone whose local hour is noon-ish.
    const utcHour = new Date().getUTCHours();
    const timezone = `Etc/GMT${utcHour - 12 >= 0 ? '+' : '-'}${Math.abs(utcHour - 12)}`;
    await pipeline.produceProfiles([customerProfile({ customer_id: customer, email: address, first_name: 'Kim', consent_email: true, timezone, locale: 'en-US', updated_at: Date.now() })]);

    const crashing = track(spawn(process.execPath, [join(ROOT, 'test', 'support', 'renderer-crash.js')], {
      env: { ...process.env, ...env, CRASH_AT: point, CRASH_CUSTOMER: customer, LOG_LEVEL: 'warn', KAFKAJS_NO_PARTITIONER_WARNING: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }));
    const out = collect(crashing.stdout);
    const err = collect(crashing.stderr);
    await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.profiles);

    const trigger: TriggerFired = {
      trigger_id: triggerId('cart_abandoned', customer, `${customer}-add`),
      rule: 'cart_abandoned',
      customer_id: customer,
      fired_at: Date.now(),
      cause_event_id: `${customer}-add`,
      context: { product_id: 'sku-1', cart_product_ids: 'sku-1' },
    };
    const producer = await connectedProducer();
    const id = await pipeline.codec.idOf(valueSubject(pipeline.topics.triggers), readSchema('TriggerFired'));
    await producer.send({ topic: pipeline.topics.triggers, messages: [{ key: customer, value: pipeline.codec.encode(id, types.TriggerFired, trigger) }] });
    await producer.disconnect();

    const { signal } = await exited(crashing);
    expect({ signal, out: out.text().trim(), err: err.text() }).toEqual({ signal: 'SIGKILL', out: `crashing at ${point}`, err: expect.any(String) });
    const sentBefore = (await emulatorEmails()).filter((e) => e.destination.to.includes(address)).length;
    expect(sentBefore).toBe(point === 'afterReserve' ? 0 : 1);

    const replacement = track(spawnNode('services/renderer/main.js', [], { ...env, HTTP_PORT: '0' }));
    try {
      const outcomes = await waitFor('the final outcome', async () => {
        const found = (await pipeline.readAll<EmailOutcome>(pipeline.topics.outcomes, 'EmailOutcome')).filter((o) => o.trigger_id === trigger.trigger_id);
        return found.some((o) => o.status !== 'deferred') ? found : undefined;
      }, 60_000);
      await waitCaughtUp(pipeline.env.GROUP_ID, pipeline.topics.triggers);
      expect(outcomes.map((o) => o.status)).toEqual(['sent']);
      const emails = (await emulatorEmails()).filter((e) => e.destination.to.includes(address));
      expect(emails).toHaveLength(1);
      expect(outcomes[0].ses_message_id).toBe(emails[0].messageId);
      // The replacement took the partition and trimmed the outbox: read again, nothing repeated.
      await pipeline.outboxesDrained();
      const all = await pipeline.readAll<EmailOutcome>(pipeline.topics.outcomes, 'EmailOutcome');
      expect(all.filter((o) => o.trigger_id === trigger.trigger_id).map((o) => o.status)).toEqual(['sent']);
      expect(repeatedRecords(all)).toBe(0);
    } finally {
      replacement.kill('SIGTERM');
      await exited(replacement);
    }
  });
});
