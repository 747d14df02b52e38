import type { TriggerFired } from '../../../services/core/types';
import { RendererKeys } from '../../../services/renderer/keys';
import { finishTriggerArgs, parseTags, reserveSendArgs, type FinishInput, type OutcomeTags } from '../../../services/renderer/store';

const keys = new RendererKeys('t');
const trigger = { trigger_id: 'tr1', customer_id: 'c1' } as TriggerFired;

describe('reserveSendArgs', () => {
  const input = {
    partition: 2,
    trigger,
    now: 1000,
    campaign: 'welcome',
    variant: null,
    cap: { max: 3, perMs: 500 },
    retentionMs: 200,
    fromDeferred: true,
    reason: 'chosen: first match',
    tags: { experiment: 'welcome.subject_test.0123abcd', holdout: false, variables: { subject: 'plain' }, segments: ['engaged'] } as OutcomeTags,
    incarnation: 'inc-1',
  };

  it('declares the ledger, the sends, the timers and the state marker of the partition', () => {
    expect(reserveSendArgs(keys, input, 9000).keys).toEqual(['{t:renderer:2}:l:tr1', '{t:renderer:2}:sends:c1', '{t:renderer:2}:timers', '{t:renderer:2}:state']);
  });

  it('lists the twelve values of the script header in order', () => {
    expect(reserveSendArgs(keys, input, 9000).args).toEqual(['tr1', '1000', 'welcome', '', '3', '500', '500', '9000', 'deferred', 'chosen: first match', JSON.stringify(input.tags), 'inc-1']);
  });

  it('keeps the experiment tags in a form parseTags reads back', () => {
    expect(parseTags(reserveSendArgs(keys, input, 9000).args[10])).toEqual(input.tags);
    expect(parseTags(undefined)).toBeNull();
    expect(parseTags('not json')).toBeNull();
  });

  it('remembers sends for the longer of retention and cap window, and only takes over deferred entries when asked', () => {
    const args = reserveSendArgs(keys, { ...input, variant: 'b', retentionMs: 800, fromDeferred: false }, 9000).args;
    expect(args[3]).toBe('b');
    expect(args[6]).toBe('800');
    expect(args[8]).toBe('');
  });
});

describe('finishTriggerArgs', () => {
  const input: FinishInput = {
    partition: 2,
    trigger,
    from: ['-', 'reserved'],
    state: 'sent',
    campaign: 'welcome',
    variant: null,
    messageId: 'ses-1',
    reason: 'chosen',
    at: 1000,
    outboxRecord: '{"t":"email.outcomes"}',
    incarnation: 'inc-1',
  };

  it('declares the ledger, the outbox, the timers, the sends and the state marker', () => {
    expect(finishTriggerArgs(keys, input, 9000).keys).toEqual([
      '{t:renderer:2}:l:tr1',
      '{t:renderer:2}:outbox',
      '{t:renderer:2}:timers',
      '{t:renderer:2}:sends:c1',
      '{t:renderer:2}:state',
    ]);
  });

  it('lists the fifteen values of the script header in order', () => {
    expect(finishTriggerArgs(keys, input, 9000).args).toEqual([
      'tr1', '-,reserved', 'sent', 'welcome', '', 'ses-1', 'chosen', '1000', '9000', '{"t":"email.outcomes"}', '', '', '', '', 'inc-1',
    ]);
    const tags: OutcomeTags = { experiment: 'welcome.x.01234567', holdout: true, variables: {}, segments: [] };
    expect(finishTriggerArgs(keys, { ...input, tags }, 9000).args[13]).toBe(JSON.stringify(tags));
  });

  it('keeps the trigger and the due time for a deferred send, and names the send to drop', () => {
    const args = finishTriggerArgs(keys, { ...input, state: 'deferred', deferredUntil: 5000, dropSend: 'welcome|tr1' }, 9000).args;
    expect(args[10]).toBe('5000');
    expect(JSON.parse(args[11])).toEqual(trigger);
    expect(args[12]).toBe('welcome|tr1');
  });
});
