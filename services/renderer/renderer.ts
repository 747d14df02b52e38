/**
 * The renderer's handler: keeps the profile fields and unsubscribes it needs, and turns each
 * trigger into exactly one final EmailOutcome, sending at most one email through SES.
 *
 * The send ledger (one Redis hash per trigger_id) moves: (none) -> reserved -> sent, or
 * (none) -> suppressed | skipped | failed | deferred, or deferred -> (the same, when the timer
 * fires). Each move is one Lua call that also queues the outcome in the partition's outbox, so
 * a ledger state and its outcome are never apart. See docs/operations.md, "Renderer".
 */
import type { Logger } from 'pino';
import { armSettings, chooseCampaign, emailForArm, experimentOf, type Assignment, type Campaign, type ChosenEmail, type Decision, type SendHistory } from '../core/campaigns';
import type { RecommendationSource } from '../core/recommendations';
import type { SegmentStateView } from '../core/segments';
import { parseMailbox, type Mailbox, type MailboxProblem, type Sender } from '../core/recipients';
import { DirtyRenderError, render, TemplateRenderError, type RenderedEmail } from '../core/templates';
import type { BehaviorEvent, CustomerProfile, EmailOutcome, EmailStatus, TriggerFired } from '../core/types';
import type { BatchContext, BatchOutcome, ConsumedRecord } from '../kit/consumer-runner';
import { commitMetadata as bindingMetadata, logMismatch, StateLogMismatchError, type LogInspector } from '../kit/log-binding';
import { KairosError } from '../kit/errors';
import { scrubEmails } from '../kit/logger';
import { encodeOutboxRecord, StateVanishedError, type OutboxRelay } from '../kit/outbox-relay';
import type { OutputEncoder } from '../kit/partition-service';
import type { RendererAssets } from './assets';
import { buildContent, type ContentOptions } from './content';
import type { RendererMetrics } from './metrics';
import { buildMime, RecipientRefusedError, unsubscribeMailto } from './mime';
import type { SentMailLookup } from './sent-lookup';
import { forEachPartition, PartitionQueues, runEvery, type PeriodicTask } from '../kit/scheduling';
import { SesSendError, type EmailSender } from './ses';
import { FINAL_STATES, NO_TAGS, sendMember, type CustomerState, type LedgerEntry, type LedgerState, type OutcomeTags, type RendererStore } from './store';

/** Fault injection for tests: called at the named points of a send; a throw aborts the batch there. */
export interface RendererHooks {
  /** Before a trigger's first read of the state (its ledger entry), after the batch checked the state marker. */
  beforeTrigger?(trigger: TriggerFired): Promise<void> | void;
  /** After the ledger says "reserved", before SES is called. */
  afterReserve?(trigger: TriggerFired): Promise<void> | void;
  /** After SES accepted the email, before the ledger says "sent". */
  afterSesSend?(trigger: TriggerFired, messageId: string): Promise<void> | void;
}

export interface RendererOptions {
  store: RendererStore;
  assets: RendererAssets;
  recommendations: RecommendationSource;
  /** Already rate-limited and retrying (RetryingSender). */
  sender: EmailSender;
  sentLookup: SentMailLookup;
  outcomes: OutputEncoder;
  /** Produces the partition's outbox (EmailOutcomes) to Kafka, then trims it (see outbox-relay.ts). */
  relay: OutboxRelay;
  /** The consumer group's current generation (ConsumerRunner.currentGeneration); 0 when not given. */
  generation?: () => number;
  logger: Logger;
  metrics: RendererMetrics;
  clock: () => number;
  content: ContentOptions;
  /** FROM_ADDRESS, parsed and validated at start-up. */
  from: Sender;
  /** The address of the mailto: List-Unsubscribe, or null for the https one only. */
  unsubscribeAddress: string | null;
  messageIdDomain: string;
  topics: { triggers: string; profiles: string; events: string };
  /**
   * The group's commits and the logs' ranges. Every commit carries the state marker's
   * incarnation (log-binding.ts), so an instance taking a partition whose marker is missing can
   * tell a fresh partition (create the marker) from a lost state (refuse: see checkStatePresent).
   * Without it, a missing marker is always created.
   */
  log?: LogInspector;
  /**
   * TRIGGER_BATCH_MAX_TIME: a batch of triggers starts no trigger after this many ms; the rest is
   * read again at once. A backlog of sends (a restart, the rate limit) then holds the consumer's
   * fetch, and with it the profiles and unsubscribes of the same instance, a slice at a time.
   * Infinity when not given.
   */
  triggerBatchMaxMs?: number;
  hooks?: RendererHooks;
}

/**
 * Redis lost the partition's state (its marker no longer holds the incarnation this instance
 * decided against) while a trigger was being decided: nothing of the decision was written, and
 * the trigger waits, uncommitted, for the rebuild (handleTriggers stops the partition at it).
 */
export class StateVanishedInTriggerError extends KairosError {
  constructor(partition: number, triggerId: string) {
    super(`partition ${partition}: the renderer's state vanished from Redis while trigger ${triggerId} was being decided; nothing of it was written`, { retriable: false });
  }
}

/** The partition was revoked or the service is stopping: the rest of the batch is left for the next owner. */
export class PartitionInactiveError extends KairosError {
  constructor(partition: number) {
    super(`partition ${partition} is no longer ours (revoked or stopping); the rest of the batch is replayed by its next owner`, { retriable: true });
  }
}

interface Prepared {
  raw: Buffer;
  rendered: RenderedEmail;
}

type Step = { deadLetter?: Error };

/** Who an outcome is about: the campaign, the arm (EmailOutcome.variant) and the experiment tags. */
interface Who {
  campaign: string | null;
  variant: string | null;
  tags: OutcomeTags;
}

/** The outcome's campaign, arm and tags for a decision's assignment and the customer's segments. */
function whoOf(campaign: Campaign | null, assignment: Assignment | null, segments: readonly string[]): Who {
  return {
    campaign: campaign?.name ?? null,
    variant: assignment?.arm ?? null,
    tags: {
      experiment: assignment?.experiment ?? null,
      holdout: assignment?.holdout ?? false,
      variables: assignment?.variables ?? {},
      segments: [...segments],
    },
  };
}

/**
 * "code: detail" as outcome reason; the code is also the metrics label. Details name codes,
 * campaigns, rules, times and counts, never a customer value (scrubEmails is a second guard).
 */
function reasonOf(code: string, detail: string): string {
  return scrubEmails(`${code}: ${detail}`);
}

/** The recipient of a profile: none (no_email is decided by chooseCampaign), a valid mailbox, or why the email is not one. */
type Recipient = { kind: 'none' } | { kind: 'mailbox'; mailbox: Mailbox } | { kind: 'invalid'; problem: MailboxProblem };

function recipientOf(profile: CustomerProfile | null): Recipient {
  const email = profile?.email ?? null;
  if (email === null || email.trim() === '') return { kind: 'none' };
  const parsed = parseMailbox(email);
  return parsed.ok ? { kind: 'mailbox', mailbox: parsed.mailbox } : { kind: 'invalid', problem: parsed.problem };
}

function invalidAddressReason(problem: MailboxProblem): string {
  return reasonOf('invalid_address', `the profile's email is not exactly one mailbox (${problem}); nothing was sent`);
}

/**
 * Unsubscribed: the latest `unsubscribe` event is newer than the latest `resubscribe` event (the
 * tracker's preferences page) and than a profile that grants consent again. A re-subscribe
 * only takes back an unsubscribe; consent itself stays the profile's (consent_email).
 */
export function isUnsubscribed(customer: Pick<CustomerState, 'profile' | 'unsubscribedAt' | 'resubscribedAt'>): boolean {
  const { profile, unsubscribedAt, resubscribedAt } = customer;
  if (unsubscribedAt === null) return false;
  if (resubscribedAt !== null && resubscribedAt > unsubscribedAt) return false;
  // A newer profile that grants consent again is a re-subscription.
  return !(profile !== null && profile.consent_email === true && profile.updated_at > unsubscribedAt);
}

/**
 * The email of a resumed reservation: the arm the ledger recorded, when the campaign's
 * experiment is still the same design; else the campaign's own email (the design changed
 * during the restart; the outcome still names the recorded arm).
 */
function resumedEmail(campaign: Campaign, arm: string | null, tags: OutcomeTags): ChosenEmail {
  const design = experimentOf(campaign);
  const settings = arm === null ? null : armSettings(campaign, arm);
  if (design === null || design.id !== tags.experiment || arm === null || settings === null) return emailForArm(campaign, null);
  return emailForArm(campaign, { experiment: design.id, holdout: false, arm, variables: tags.variables, settings });
}

/** How often a batch of triggers relays the outcomes it has so far (see handleTriggers). */
const RELAY_EVERY_MS = 200;

export class Renderer {
  private readonly queues = new PartitionQueues();
  /** Partition -> the incarnation of its state marker this instance has seen (or created). */
  private readonly incarnations = new Map<number, string>();
  /**
   * Partition -> outcome records this instance appended to its outbox since its last relay, in
   * order, and the group generation they were appended in. Should Redis lose the outbox before
   * the relay reads them, they are produced from here, in that generation only: after a
   * rebalance they are the outbox's, which the partition's owner relays (or Redis lost them).
   */
  private readonly unrelayed = new Map<number, { generation: number; records: string[] }>();
  /** Partition -> the group generation in which this instance relayed what an earlier owner left. */
  private readonly takenOver = new Map<number, number>();
  private timerLoop: PeriodicTask | undefined;

  constructor(private readonly options: RendererOptions) {}

  /** The ConsumerRunner handler for all three input topics. */
  handleBatch = async (records: ConsumedRecord<unknown>[], context: BatchContext): Promise<BatchOutcome | void> => {
    const { topics } = this.options;
    const incarnation = await this.checkStatePresent(context.topic, context.partition);
    // The commit names the state it was applied to (see `log`).
    const commitMetadata = bindingMetadata(incarnation);
    if (context.topic === topics.profiles) return (await this.applyProfiles(context.partition, records), { commitMetadata });
    if (context.topic === topics.events) return (await this.applyEvents(context.partition, records), { commitMetadata });
    if (context.topic === topics.triggers) return { ...(await this.queues.run(context.partition, () => this.handleTriggers(records, context))), commitMetadata };
    throw new Error(`renderer got a batch of ${context.topic}, which it does not read`);
  };

  /**
   * A partition whose state this instance saw must still have it: Redis flushed, restarted
   * without persistence or failed over to an empty replica would otherwise make every trigger
   * "no profile" and forget every send. The partition stops instead (docs/operations.md, "Redis lost").
   */
  private async checkStatePresent(topic: string, partition: number): Promise<string> {
    const known = this.incarnations.get(partition);
    // Created when this instance has not seen the partition and the group never committed it
    // into a state: a fresh partition gets its marker.
    const lost = known === undefined ? await this.lostState(partition) : null;
    const marker = await this.options.store.stateMarker(partition, known === undefined && lost === null);
    if (marker !== null && (known === undefined || marker === known)) {
      this.incarnations.set(partition, marker);
      return marker;
    }
    if (lost !== null) throw new StateLogMismatchError(topic, partition, `${lost}; rebuild the renderer's state (docs/operations.md, "Redis lost")`);
    throw new StateLogMismatchError(topic, partition, marker === null
      ? "the renderer's state of this partition (profiles, send ledger) vanished from Redis while this instance was using it: Redis was flushed, restarted without persistence or failed over to an empty replica; rebuild it (docs/operations.md, \"Redis lost\")"
      : `the renderer's state of this partition was replaced (incarnation ${known}, now ${marker}) while this instance was using it`);
  }

  /**
   * For a partition this instance has not seen: null when it may get a marker (it has one, or it
   * is fresh), else why not: the marker is missing while the group committed one of the
   * partition's topics into a state (commit metadata naming an incarnation, past the log start).
   * That is Redis lost under a running group, and an instance taking the partition in a
   * rebalance must not decide its triggers against the empty state (no profile, no ledger) any
   * more than its previous owner.
   */
  private async lostState(partition: number): Promise<string | null> {
    const { log, store, topics } = this.options;
    if (log === undefined || (await store.stateMarker(partition)) !== null) return null;
    for (const topic of [topics.triggers, topics.profiles, topics.events]) {
      const problem = logMismatch({ incarnation: null, applied: null }, await log.view(topic, partition));
      if (problem !== null) return `${topic}: ${problem}`;
    }
    return null;
  }

  /** The incarnation of the partition's state this instance checked (checkStatePresent) before deciding anything of it. */
  private incarnationOf(partition: number): string {
    const incarnation = this.incarnations.get(partition);
    if (incarnation === undefined) throw new Error(`partition ${partition}: a trigger decided before its state marker was checked`);
    return incarnation;
  }

  /** Whether the partition's state is still the one this instance has been using. */
  private async statePresent(partition: number): Promise<boolean> {
    const marker = await this.options.store.stateMarker(partition);
    return marker !== null && marker === this.incarnations.get(partition);
  }

  private async applyProfiles(partition: number, records: ConsumedRecord<unknown>[]): Promise<void> {
    const { store } = this.options;
    // In order per customer (a tombstone then a new profile), customers side by side.
    const byCustomer = new Map<string, ConsumedRecord<unknown>[]>();
    for (const record of records) {
      const id = (record.value as CustomerProfile | null)?.customer_id ?? record.key ?? '';
      if (id === '') continue;
      byCustomer.set(id, [...(byCustomer.get(id) ?? []), record]);
    }
    await Promise.all([...byCustomer].map(async ([customerId, list]) => {
      for (const record of list) {
        const profile = record.value as CustomerProfile | null;
        if (profile === null) await store.eraseCustomer(partition, customerId);
        else await store.storeProfile(partition, profile);
      }
    }));
  }

  private async applyEvents(partition: number, records: ConsumedRecord<unknown>[]): Promise<void> {
    const { store } = this.options;
    const events = records.map((r) => r.value as BehaviorEvent);
    // Each keeps its latest time, so the order between the two kinds does not matter.
    await Promise.all(
      events.flatMap((event) =>
        event.type === 'unsubscribe'
          ? [store.markUnsubscribed(partition, event.customer_id, event.occurred_at)]
          : event.type === 'resubscribe'
            ? [store.markResubscribed(partition, event.customer_id, event.occurred_at)]
            : [],
      ),
    );
  }

  /**
   * The triggers of a batch, one after the other. Sends are rate-limited, so a batch can take
   * seconds: its outcomes are relayed every RELAY_EVERY_MS on the way, not only at its end, and
   * the state marker is checked before each trigger. When Redis is lost mid-batch, the outcomes
   * not relayed yet are produced from memory (see relay), and no trigger is decided against the
   * empty state: the batch is committed up to the trigger that found the marker gone, and
   * reading it again stops the partition (checkStatePresent) until it is rebuilt.
   */
  private async handleTriggers(records: ConsumedRecord<unknown>[], context: BatchContext): Promise<BatchOutcome> {
    const { partition } = context;
    const deadLetters: NonNullable<BatchOutcome['deadLetters']> = [];
    // What an earlier owner left in the outbox goes first, so the outbox holds only what this
    // instance appends from here on (see relay).
    const stopAt = (record: ConsumedRecord<unknown>): BatchOutcome => {
      this.options.logger.error({ partition, offset: record.offset }, "the renderer's state of this partition vanished from Redis during a batch; the triggers from this offset on wait for the rebuild");
      return { deadLetters, readAgainFrom: record.offset };
    };
    if (this.takenOver.get(partition) !== context.generation) {
      const present = await this.relay(partition);
      this.takenOver.set(partition, context.generation);
      // Lost since checkStatePresent: the first trigger must not be decided against the empty state either.
      if (!present && records[0] !== undefined) return stopAt(records[0]);
    }
    const started = Date.now();
    let relayedAt = started;
    for (const [index, record] of records.entries()) {
      if (!context.isActive()) throw new PartitionInactiveError(partition);
      if (index > 0 && Date.now() - started >= (this.options.triggerBatchMaxMs ?? Infinity)) {
        // A slice is done: committed up to here, the rest fetched again at once with the other topics.
        await this.relay(partition);
        return { deadLetters, readAgainFrom: record.offset, readAgainPauseMs: 0 };
      }
      if (index > 0 && !(await this.statePresent(partition))) {
        await this.relay(partition);
        return stopAt(record);
      }
      let step: Step;
      try {
        step = await this.processTrigger(partition, record.value as TriggerFired, false);
      } catch (error) {
        if (!(error instanceof StateVanishedInTriggerError)) throw error;
        await this.relay(partition);
        return stopAt(record);
      }
      if (step.deadLetter) deadLetters.push({ record, error: step.deadLetter });
      if (Date.now() - relayedAt >= RELAY_EVERY_MS) {
        const next = records[index + 1];
        if (!(await this.relay(partition)) && next !== undefined) return stopAt(next);
        relayedAt = Date.now();
      }
      // Without this, a big batch could outlast the session timeout.
      await context.heartbeat();
    }
    await this.relay(partition);
    return { deadLetters };
  }

  /** Takes one trigger as far as it can go; replays and timer firings come through here too. */
  async processTrigger(partition: number, trigger: TriggerFired, fromTimer: boolean): Promise<Step> {
    await this.options.hooks?.beforeTrigger?.(trigger);
    const ledger = await this.options.store.ledger(partition, trigger.trigger_id);
    if (ledger !== null) {
      if (FINAL_STATES.has(ledger.state)) {
        this.options.metrics.duplicates.inc({ state: ledger.state });
        return {};
      }
      if (ledger.state === 'deferred' && !fromTimer) return {}; // the timer owns it now
      if (ledger.state === 'reserved') return this.resume(partition, trigger, ledger);
    }
    return this.decide(partition, trigger, ledger?.state === 'deferred');
  }

  private async decide(partition: number, trigger: TriggerFired, fromDeferred: boolean): Promise<Step> {
    const { store, clock, assets } = this.options;
    const now = clock();
    const customer = await store.customer(partition, trigger.customer_id);
    const from: Array<LedgerState | '-'> = fromDeferred ? ['deferred'] : ['-'];
    const recipient = recipientOf(customer.profile);
    if (recipient.kind === 'invalid') {
      this.options.metrics.invalidAddresses.inc({ problem: recipient.problem });
      await this.finish(partition, trigger, from, 'suppressed', whoOf(null, null, []), null, invalidAddressReason(recipient.problem));
      return {};
    }
    const mailbox = recipient.kind === 'mailbox' ? recipient.mailbox : null;
    const [segmentState, listed, paused] = await Promise.all([store.segmentState(partition, trigger.customer_id, now), store.suppression(mailbox), store.pausedCampaigns()]);
    const segments = segmentState.segments;
    const lastSentByCampaign: Record<string, number> = {};
    for (const send of customer.sends) lastSentByCampaign[send.campaign] = Math.max(lastSentByCampaign[send.campaign] ?? 0, send.at);
    const history: SendHistory = {
      sentAt: customer.sends.map((send) => send.at),
      lastSentByCampaign,
      suppressed: isUnsubscribed(customer) ? 'unsubscribed' : listed,
    };
    const decision = chooseCampaign({ trigger, profile: customer.profile, segments, campaigns: assets.campaigns, history, now, pausedCampaigns: new Set(paused.keys()) });
    switch (decision.status) {
      case 'suppressed':
        await this.finish(partition, trigger, from, 'suppressed', whoOf(null, null, segments), null, reasonOf(decision.reason, decision.detail));
        return {};
      case 'skipped':
        if (decision.reason === 'holdout') return this.holdOut(partition, trigger, decision, segments, now, fromDeferred);
        await this.finish(partition, trigger, from, 'skipped', whoOf(decision.campaign ?? null, null, segments), null, reasonOf(decision.reason, decision.detail));
        return {};
      case 'deferred': {
        const detail = `${decision.detail}; until ${new Date(decision.until).toISOString()}`;
        await this.finish(partition, trigger, from, 'deferred', whoOf(decision.campaign, decision.assignment, segments), null, reasonOf(decision.reason, detail), { deferredUntil: decision.until });
        return {};
      }
      case 'send':
        // chooseCampaign sends only with an address, which recipientOf found valid above.
        if (mailbox === null) throw new Error(`trigger ${trigger.trigger_id}: a send was chosen for a profile without an address`);
        return this.sendNew(partition, trigger, decision, customer.profile as CustomerProfile, mailbox, segmentState, now, fromDeferred);
    }
  }

  /**
   * The holdout: reserved like a send (it joins the customer's recent sends, so cooldown and the
   * frequency cap see it "as if sent"), then recorded as skipped, with no email. The ledger keeps
   * the holdout flag, so a restart between the two steps finishes it the same way.
   */
  private async holdOut(
    partition: number,
    trigger: TriggerFired,
    decision: Extract<Decision, { reason: 'holdout' }>,
    segments: readonly string[],
    now: number,
    fromDeferred: boolean,
  ): Promise<Step> {
    const { campaign } = decision;
    const from: Array<LedgerState | '-'> = fromDeferred ? ['deferred'] : ['-'];
    const who = whoOf(campaign, decision.assignment, segments);
    const reason = reasonOf('holdout', decision.detail);
    const reserved = await this.reserve(partition, trigger, campaign, who, now, fromDeferred, reason, from);
    if (!reserved) return {};
    await this.finish(partition, trigger, ['reserved'], 'skipped', who, null, reason);
    return {};
  }

  /** Reserves the send (or the holdout's virtual send); false when not ours or the cap was reached (then recorded). */
  private async reserve(partition: number, trigger: TriggerFired, campaign: Campaign, who: Who, now: number, fromDeferred: boolean, reason: string, from: Array<LedgerState | '-'>): Promise<boolean> {
    const reservation = await this.options.store.reserve({
      partition, trigger, now, campaign: campaign.name, variant: who.variant, cap: campaign.caps.frequencyCap,
      retentionMs: this.options.assets.historyMs, fromDeferred, reason, tags: who.tags, incarnation: this.incarnationOf(partition),
    });
    if (reservation.reserved) return true;
    if ('vanished' in reservation) throw new StateVanishedInTriggerError(partition, trigger.trigger_id);
    if ('capReached' in reservation) {
      const detail = `${reservation.capReached} sends in the last ${campaign.caps.frequencyCap.perMs} ms (max ${campaign.caps.frequencyCap.max}), seen when reserving`;
      await this.finish(partition, trigger, from, 'skipped', { ...who, variant: null, tags: { ...NO_TAGS, segments: who.tags.segments } }, null, reasonOf('frequency_cap', detail));
    }
    return false; // else another instance holds the trigger: its ledger state stands
  }

  private async sendNew(
    partition: number,
    trigger: TriggerFired,
    decision: Extract<Decision, { status: 'send' }>,
    profile: CustomerProfile,
    to: Mailbox,
    segmentState: SegmentStateView,
    now: number,
    fromDeferred: boolean,
  ): Promise<Step> {
    const { campaign } = decision;
    const from: Array<LedgerState | '-'> = fromDeferred ? ['deferred'] : ['-'];
    const who = whoOf(campaign, decision.assignment, segmentState.segments);
    let prepared: Prepared;
    try {
      prepared = await this.prepare(trigger, profile, to, decision, segmentState, now);
    } catch (error) {
      return this.renderFailed(partition, trigger, from, campaign, who, error);
    }
    const reason = reasonOf('chosen', decision.reason);
    if (!(await this.reserve(partition, trigger, campaign, who, now, fromDeferred, reason, from))) return {};
    await this.options.hooks?.afterReserve?.(trigger);
    await this.deliver(partition, trigger, campaign, who, prepared, to, reason);
    return {};
  }

  /** The ledger says "reserved": an earlier attempt died between reserving and recording. */
  private async resume(partition: number, trigger: TriggerFired, ledger: LedgerEntry): Promise<Step> {
    const { store, sentLookup, logger, assets, clock } = this.options;
    const reason = ledger.reason ?? reasonOf('chosen', 'resumed after a restart');
    const campaign = assets.campaigns.find((c) => c.name === ledger.campaign);
    // The arm and tags the reservation recorded: the outcome says what was (or would be) sent.
    const tags = ledger.tags ?? NO_TAGS;
    const who: Who = { campaign: ledger.campaign, variant: ledger.variant, tags };
    if (tags.holdout) {
      // A holdout never emails: its reservation only waited for this record.
      this.options.metrics.resumed.inc({ result: 'holdout' });
      await this.finish(partition, trigger, ['reserved'], 'skipped', who, null, reason);
      return {};
    }
    const found = await sentLookup.findSent(trigger.trigger_id, { reservedAt: ledger.at });
    if (found !== null) {
      logger.info({ triggerId: trigger.trigger_id, messageId: found.messageId }, 'SES already took this email before a restart; recording it as sent');
      this.options.metrics.resumed.inc({ result: 'found_sent' });
      await this.finish(partition, trigger, ['reserved'], 'sent', who, found.messageId, reason);
      return {};
    }
    this.options.metrics.resumed.inc({ result: 'sending' });
    const dropSend = ledger.campaign === null ? null : sendMember(ledger.campaign, trigger.trigger_id);
    if (campaign === undefined) {
      await this.finish(partition, trigger, ['reserved'], 'failed', who, null, reasonOf('campaign_removed', `campaign ${ledger.campaign ?? '?'} is no longer configured`), { dropSend });
      return {};
    }
    const customer = await store.customer(partition, trigger.customer_id);
    const profile = customer.profile;
    const recipient = recipientOf(profile);
    if (recipient.kind === 'invalid') {
      this.options.metrics.invalidAddresses.inc({ problem: recipient.problem });
      await this.finish(partition, trigger, ['reserved'], 'suppressed', who, null, invalidAddressReason(recipient.problem), { dropSend });
      return {};
    }
    const suppressedAs = async (code: string) => {
      await this.finish(partition, trigger, ['reserved'], 'suppressed', who, null, reasonOf(code, 'suppressed after a restart, before the send'), { dropSend });
      return {};
    };
    if (profile === null || recipient.kind !== 'mailbox') return suppressedAs('no_email');
    const listed = await store.suppression(recipient.mailbox);
    const suppressed = profile.consent_email !== true ? 'no_consent' : isUnsubscribed(customer) ? 'unsubscribed' : listed;
    if (suppressed !== null) return suppressedAs(suppressed);
    const now = clock();
    const segmentState = await store.segmentState(partition, trigger.customer_id, now);
    let prepared: Prepared;
    try {
      prepared = await this.prepare(trigger, profile, recipient.mailbox, resumedEmail(campaign, ledger.variant, tags), segmentState, now);
    } catch (error) {
      return this.renderFailed(partition, trigger, ['reserved'], campaign, who, error);
    }
    await this.deliver(partition, trigger, campaign, who, prepared, recipient.mailbox, reason);
    return {};
  }

  private async deliver(partition: number, trigger: TriggerFired, campaign: Campaign, who: Who, prepared: Prepared, to: Mailbox, reason: string): Promise<void> {
    const { sender, metrics, hooks } = this.options;
    const started = process.hrtime.bigint();
    let messageId: string;
    try {
      ({ messageId } = await sender.send({ raw: prepared.raw, to, triggerId: trigger.trigger_id, customerId: trigger.customer_id, campaign: campaign.name, variant: who.variant }));
    } catch (error) {
      if (error instanceof SesSendError && error.kind === 'permanent') {
        metrics.sesCalls.inc({ result: 'permanent_error' });
        // The error name only: SES's message may quote the address (logged, scrubbed, by the runner).
        const detail = `${error.errorName} after ${error.attempts} attempt(s)`;
        await this.finish(partition, trigger, ['reserved'], 'failed', who, null, reasonOf('ses_error', detail), { dropSend: sendMember(campaign.name, trigger.trigger_id) });
        return;
      }
      metrics.sesCalls.inc({ result: 'gave_up' });
      throw error; // retriable: the batch is retried and finds the ledger "reserved"
    }
    metrics.sesCalls.inc({ result: 'sent' });
    metrics.sendSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    await hooks?.afterSesSend?.(trigger, messageId);
    await this.finish(partition, trigger, ['reserved'], 'sent', who, messageId, reason);
  }

  /**
   * A render or MIME failure: a failed outcome and a dead letter. Their messages carry no
   * customer value (render() masks values as "[value]"; RecipientRefusedError names only the rule).
   */
  private async renderFailed(partition: number, trigger: TriggerFired, from: Array<LedgerState | '-'>, campaign: Campaign, who: Who, error: unknown): Promise<Step> {
    if (!(error instanceof TemplateRenderError || error instanceof DirtyRenderError || error instanceof RecipientRefusedError)) throw error;
    const code = error instanceof RecipientRefusedError ? 'recipient_refused' : 'render_error';
    this.options.logger.error({ triggerId: trigger.trigger_id, campaign: campaign.name, err: error }, code === 'render_error' ? 'render failed; trigger dead-lettered' : 'recipient refused; trigger dead-lettered');
    const dropSend = from.includes('reserved') ? sendMember(campaign.name, trigger.trigger_id) : null;
    await this.finish(partition, trigger, from, 'failed', who, null, reasonOf(code, error.message), { dropSend });
    return { deadLetter: error };
  }

  /** Content, render and MIME of one email. */
  private async prepare(trigger: TriggerFired, profile: CustomerProfile, to: Mailbox, email: ChosenEmail, segmentState: SegmentStateView, now: number): Promise<Prepared> {
    const { assets, content: options } = this.options;
    const { campaign, assignment, template, subjectOverride, preheaderOverride } = email;
    // Every link carries the arm's name as `variant`, so clicks and opens can be credited to it.
    const content = await buildContent({
      trigger, profile, campaign, variant: assignment?.arm ?? null, now, recommendations: this.options.recommendations, options, segmentState, arm: assignment?.settings ?? null,
    });
    if (content.recommendationsFallback) this.options.metrics.recommendationFallbacks.inc();
    const rendered = render({
      templates: assets.templates, template, data: content.data, locale: profile.locale, timeZone: profile.timezone, subjectOverride, preheaderOverride, tracking: content.tracking,
    });
    const raw = await buildMime({
      from: this.options.from,
      to,
      rendered,
      triggerId: trigger.trigger_id,
      campaign: campaign.name,
      unsubscribeUrl: content.unsubscribeUrl,
      unsubscribeMailto: this.options.unsubscribeAddress === null ? null : unsubscribeMailto(this.options.unsubscribeAddress, content.unsubscribeToken),
      messageIdDomain: this.options.messageIdDomain,
      date: new Date(now),
    });
    return { raw, rendered };
  }

  /** The one place an EmailOutcome is built: moves the ledger and queues the outcome. */
  private async finish(
    partition: number,
    trigger: TriggerFired,
    from: Array<LedgerState | '-'>,
    status: EmailStatus,
    who: Who,
    messageId: string | null,
    reason: string,
    extra: { deferredUntil?: number; dropSend?: string | null } = {},
  ): Promise<void> {
    const { clock, outcomes, store, metrics, logger } = this.options;
    const at = clock();
    const campaignName = who.campaign;
    const variantName = who.variant;
    const outcome: EmailOutcome = {
      trigger_id: trigger.trigger_id,
      customer_id: trigger.customer_id,
      campaign: campaignName,
      variant: variantName,
      status,
      ses_message_id: messageId,
      reason,
      at,
      experiment: who.tags.experiment,
      holdout: who.tags.holdout,
      variables: who.tags.variables,
      segments: who.tags.segments,
      rule: trigger.rule,
    };
    const outboxRecord = encodeOutboxRecord({ topic: outcomes.topic, key: trigger.customer_id, value: outcomes.encode(outcome) });
    const applied = await store.finish({
      partition, trigger, from, state: status, campaign: campaignName, variant: variantName, messageId, reason, at, outboxRecord,
      deferredUntil: extra.deferredUntil, dropSend: extra.dropSend ?? null, tags: who.tags, incarnation: this.incarnationOf(partition),
    });
    const unrelayed = this.unrelayedOf(partition);
    if (applied.applied) unrelayed.push(outboxRecord);
    else if (applied.vanished && status === 'sent') {
      // Redis lost the partition's state while this email was on its way (reserved against the
      // state, then sent): its outcome goes to Kafka all the same, with the next relay, so a rebuild knows it.
      unrelayed.push(outboxRecord);
      logger.warn({ triggerId: trigger.trigger_id, status }, "the partition's state vanished from Redis during this trigger; its outcome goes to Kafka without the ledger");
    } else if (applied.vanished) {
      // Any other outcome may rest on reads of the empty state ("no profile"): not recorded; the
      // trigger is read again after the rebuild.
      throw new StateVanishedInTriggerError(partition, trigger.trigger_id);
    } else {
      logger.warn({ triggerId: trigger.trigger_id, status }, 'the send ledger moved under us; keeping its state');
      return;
    }
    metrics.outcomes.inc({ status, reason: reason.split(':')[0] });
    logger.info({ triggerId: trigger.trigger_id, rule: trigger.rule, campaign: campaignName, variant: variantName, experiment: who.tags.experiment, holdout: who.tags.holdout, status, messageId, reason }, 'email outcome');
  }

  /**
   * Produces the partition's outbox (EmailOutcomes) to Kafka, then trims what was sent; false
   * when the partition's state vanished from Redis. The relay reads the outbox only while the
   * state marker holds the incarnation this instance uses (readOutbox-4.lua). When it no longer
   * does, the outbox this instance appended to is gone with the state: the outcomes it had not
   * relayed yet (kept in `unrelayed`; the outbox holds nothing else since the take-over relay)
   * are produced from memory, so every email sent has its outcome in Kafka for the rebuild.
   */
  async relay(partition: number): Promise<boolean> {
    // Only a state this instance checked: it appended nothing to any other (and reading an
    // unchecked outbox could produce what a lost state's rebuild also restores).
    const incarnation = this.incarnations.get(partition);
    if (incarnation === undefined) return true;
    const pending = this.unrelayedOf(partition);
    const count = pending.length;
    try {
      await this.options.relay.relay(partition, incarnation);
      pending.splice(0, count);
      return true;
    } catch (error) {
      if (!(error instanceof StateVanishedError)) throw error;
      const relayed = Math.min(error.consumed, count); // those reached Kafka before the loss
      pending.splice(0, relayed);
      const orphans = pending.slice(0, count - relayed);
      await this.options.relay.produceOrphans(partition, orphans);
      pending.splice(0, orphans.length);
      if (orphans.length > 0) this.options.logger.warn({ partition, outcomes: orphans.length }, "the partition's state vanished from Redis before these outcomes were relayed; produced them from memory");
      return false;
    }
  }

  /** The partition's unrelayed records of the current generation (those of an earlier one are dropped: see `unrelayed`). */
  private unrelayedOf(partition: number): string[] {
    const generation = this.options.generation?.() ?? 0;
    const entry = this.unrelayed.get(partition);
    if (entry !== undefined && entry.generation === generation) return entry.records;
    const fresh = { generation, records: [] as string[] };
    this.unrelayed.set(partition, fresh);
    return fresh.records;
  }

  /** Re-runs deferred triggers whose time has come, then relays. */
  async fireDue(partition: number): Promise<void> {
    await this.queues.run(partition, async () => {
      // Nothing is relayed or decided of a state this instance has not checked (it may be an
      // empty one, Redis lost): a partition no batch has reached yet (a quiet one after a
      // restart) is checked here; a lost state throws (logged by the tick, the partition's
      // batches stop on it too).
      if (!this.incarnations.has(partition)) await this.checkStatePresent(this.options.topics.triggers, partition);
      const { store, clock, logger } = this.options;
      const due = await store.dueTimers(partition, clock(), 100);
      for (const triggerId of due) {
        const ledger = await store.ledger(partition, triggerId);
        if (ledger === null || ledger.state !== 'deferred' || ledger.trigger === null) {
          await store.dropTimer(partition, triggerId); // finished (or expired) meanwhile
          continue;
        }
        try {
          const step = await this.processTrigger(partition, ledger.trigger, true);
          if (step.deadLetter) logger.error({ triggerId, err: step.deadLetter }, 'deferred send failed to render');
        } catch (error) {
          if (!(error instanceof StateVanishedInTriggerError)) throw error;
          logger.error({ partition }, "the renderer's state of this partition vanished from Redis; its deferred sends wait for the rebuild");
          break;
        }
      }
      await this.relay(partition);
    });
  }

  startTimers(partitions: () => number[], intervalMs: number): void {
    const onError = (err: unknown, partition: number) => this.options.logger.error({ err, partition }, 'deferred-send tick failed; retrying next tick');
    this.timerLoop = runEvery(intervalMs, async () => {
      const owned = partitions();
      await this.options.relay.release(owned);
      await forEachPartition(owned, (p) => this.fireDue(p), onError);
    });
  }

  async stopTimers(): Promise<void> {
    await this.timerLoop?.stop();
  }

}
