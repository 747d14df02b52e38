/**
 * Event-to-trigger latency at a fixed offered rate: the segmenter and the trigger service run
 * live (real clock), each in a Node process of its own as deployed (bench/service-instance.ts),
 * while this process produces probes at `rate` events/s and tails the triggers topic. The same
 * row can measure another subject (a LatencySubject: the Kafka Streams app on the wall clock,
 * bench/streams.ts), with the same probes, producer and tail. Each probe is a fresh
 * customer's four views of one product; the fourth fires high_interest at once. Latency is from
 * just before the fourth view is handed to the producer until a tail consumer of the triggers
 * topic receives the trigger (so it includes produce acks, the services' fetch, state apply,
 * outbox relay with acks=all, and the tail consumer's fetch).
 */
import type { Consumer } from 'kafkajs';
import type { TriggerFired } from '../services/core/types';
import { ForkedInstances } from './instances';
import type { PhaseTotals } from './service-instance';
import { pressureShare, readBrokerGcPauses, readCpuPressure, type MachineDuringRow, type PressureSample } from './machine-load';
import { BenchStack, kafka, shortId, types, waitUntil, type OutputTopics } from './stack';
import { highInterestProbe } from './traffic';
import type { Input } from './input';
import { serviceEnv } from './throughput';

/** What a latency row measures: started on the row's own input and outputs, stopped after it. */
export interface LatencySubject {
  /** Resolves once it consumes the input (every consumer in its group). */
  start(input: Pick<Input, 'events' | 'profiles'>, out: OutputTopics, name: string): Promise<void>;
  /**
   * True when its output records' CreateTime is their send (Kairos's relay stamps its own);
   * false when it is the input's (Kafka Streams forwards the event's timestamp).
   */
  readonly stampsSendTime: boolean;
  /** Partition batches, relay transactions and batch phase totals so far, per service; null when it does not tell. */
  counts(): { batches: PerService; transactions: PerService; phases: PerService<PhaseTotals> } | null;
  /** How many times its group rebalanced between two times (epoch ms), where it tells (the Kafka Streams app). */
  rebalances?(from: number, to: number): number;
  stop(): Promise<void>;
}

type PerService<T = number> = { segmenter: T; trigger: T };

/**
 * The mean milliseconds per batch of each batch phase between two readings of a service's
 * totals, to 0.1 ms, in the order the later reading lists the phases; a phase with no batch in
 * between is left out.
 */
export function phaseMeansMs(to: PhaseTotals, from: PhaseTotals): Record<string, number> {
  const means: Record<string, number> = {};
  for (const [phase, { seconds, count }] of Object.entries(to)) {
    const batches = count - (from[phase]?.count ?? 0);
    if (batches > 0) means[phase] = Math.round(((seconds - (from[phase]?.seconds ?? 0)) / batches) * 10_000) / 10;
  }
  return means;
}

/** The segmenter and the trigger service, each in a Node process of its own, under `guarantee`. */
export function kairosSubject(stack: BenchStack, guarantee: string): LatencySubject {
  let services: ForkedInstances | undefined;
  return {
    stampsSendTime: true,
    async start(input, out, name) {
      const prefix = stack.prefix(name);
      const env = (part: string) => ({ ...serviceEnv(input, out, prefix, `${stack.run}-${name}-${part}`), OUTPUT_GUARANTEE: guarantee });
      const forked = new ForkedInstances(`latency ${name}`);
      services = forked;
      for (const service of FORKED) forked.fork({ service, env: env(service), clock: null, topic: input.events, gate: false });
      await waitUntil('the services to join their groups', () => {
        forked.alive();
        return forked.statuses.every((s) => s.ready);
      }, 60_000, 5);
    },
    counts: () => {
      // The statuses in FORKED's order.
      const [segmenter, trigger] = services?.statuses ?? [];
      if (segmenter === undefined || trigger === undefined) return null;
      return {
        batches: { segmenter: segmenter.batches, trigger: trigger.batches },
        transactions: { segmenter: segmenter.transactions, trigger: trigger.transactions },
        phases: { segmenter: segmenter.phases, trigger: trigger.phases },
      };
    },
    stop: async () => services?.stop(),
  };
}

const FORKED = ['segmenter', 'trigger'] as const;

export interface LatencyFigure {
  /** The subject's guarantee: OUTPUT_GUARANTEE of both services, or the Kafka Streams app's processing.guarantee. */
  guarantee: string;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  /**
   * The p99 of the probes offered in each quarter of the timed window, in order
   * (p99ByQuarter): where a row's p99 comes from.
   */
  p99_ms_by_quarter: number[];
  offered_eps: number;
  achieved_eps: number;
  seconds: number;
  warmup_seconds: number;
  probes_timed: number;
  /** Timed probes whose trigger had not arrived a minute after the last probe was offered. */
  probes_missing: number;
  /**
   * Rebalances of the subject's group from the first timed probe until every timed trigger came
   * (or the wait for them ended); null where the subject does not tell (Kairos's services).
   */
  rebalances: number | null;
  /**
   * Same percentiles measured to the trigger record's CreateTime (the relay's send), not its
   * arrival; null when the subject's records carry the input's timestamp instead.
   */
  to_create_time: { p50_ms: number; p99_ms: number; max_ms: number } | null;
  /**
   * Partition batches each service handled per second while the timed probes were offered
   * (null: the subject does not tell, as the Kafka Streams app).
   */
  batches_per_s: PerService | null;
  /** exactly_once relay transactions each service committed per second over the same window (0 under at_least_once; null as above). */
  transactions_per_s: PerService | null;
  /**
   * Each service's mean milliseconds per partition batch in each batch phase (read, compute,
   * apply, timers, relay; kairos_batch_phase_seconds) over the same window (null as above):
   * where a batch's part of the latency goes.
   */
  batch_phase_ms: PerService<Record<string, number>> | null;
  /**
   * The machine while the timed probes were offered (from the first to the last one; the broker's
   * pauses until the last one's trigger could have come, its send plus the row's max).
   */
  machine: MachineDuringRow;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * The p99 of the samples offered in each quarter of [from, to] (by `sentAt`), in order; NaN
 * for a quarter with none. A row's p99 that one quarter alone sets (the first, say: a subject
 * still warming up, or catching up after the warm-up) is not the tail of a steady run, which
 * shows in every quarter.
 */
export function p99ByQuarter(samples: ReadonlyArray<{ sentAt: number; ms: number }>, from: number, to: number): number[] {
  const quarters: number[][] = [[], [], [], []];
  const span = Math.max(1, to - from);
  for (const { sentAt, ms } of samples) quarters[Math.min(3, Math.max(0, Math.floor(((sentAt - from) / span) * 4)))].push(ms);
  return quarters.map((q) => percentile(q.sort((a, b) => a - b), 99));
}

export async function measureLatency(
  stack: BenchStack,
  input: Pick<Input, 'events' | 'profiles' | 'partitions'>,
  options: {
    rate: number;
    seconds: number;
    warmupSeconds: number;
    /** The subject's guarantee, as the row reports it. */
    guarantee: string;
    name: string;
    progress: (text: string) => void;
    /** What is measured: Kairos's two services under `guarantee` by default. */
    subject?: LatencySubject;
    /** What the progress lines call the row's subject (the guarantee by default). */
    label?: string;
  },
): Promise<LatencyFigure> {
  const name = options.name;
  const out = await stack.createOutputs(name, input.partitions);
  const subject = options.subject ?? kairosSubject(stack, options.guarantee);
  let countsFrom: ReturnType<LatencySubject['counts']> = null;
  const sentAt = new Map<string, number>();
  const arrivals: Array<{ cause: string; arrivedAt: number; createdAt: number }> = [];
  const tail: Consumer = kafka.consumer({ groupId: `${stack.run}-latency-tail-${shortId()}` });
  try {
    await subject.start(input, out, name);
    let tailJoined = false;
    tail.on(tail.events.GROUP_JOIN, () => (tailJoined = true));
    await tail.connect();
    await tail.subscribe({ topic: out.triggers, fromBeginning: true });
    await tail.run({
      // kafkajs commits after every batch by default (autoCommit), in series before its next
      // fetch: with triggers on all 12 partitions that put 80 to 110 ms of the tail's own commits
      // into every arrival. The tail's group is fresh each time and never resumes: no commits.
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const arrivedAt = Date.now();
        for (const message of batch.messages) {
          const trigger = await stack.codec.decode<TriggerFired>(message.value as Buffer, types.TriggerFired);
          if (trigger.cause_event_id !== null) arrivals.push({ cause: trigger.cause_event_id, arrivedAt, createdAt: Number(message.timestamp) });
        }
      },
    });
    await waitUntil('the tail consumer to join', () => tailJoined, 60_000, 5);

    const producer = await stack.connectedProducer();
    const run = `${stack.run}-lat`;
    const total = options.rate * (options.seconds + options.warmupSeconds);
    const timedFrom = options.rate * options.warmupSeconds;
    const queue: Array<{ key: string; value: Buffer; eventId: string; timed: boolean }> = [];
    const started = Date.now();
    let timedStart: number | null = null;
    let pressureFrom: PressureSample | null = null;
    let probe = 0;
    let sent = 0;
    let lastReport = started;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * options.rate));
      while (queue.length < due - sent) {
        for (const event of highInterestProbe(run, probe, Date.now())) {
          const fourth = event.event_id.endsWith('-v3');
          queue.push({ key: event.customer_id, value: stack.encodeEvent(input.events, event), eventId: event.event_id, timed: fourth });
        }
        probe += 1;
      }
      const batch = queue.splice(0, due - sent);
      if (batch.length === 0) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        continue;
      }
      const at = Date.now();
      if (timedStart === null && sent + batch.length > timedFrom) {
        timedStart = at;
        pressureFrom = readCpuPressure();
        countsFrom = subject.counts();
      }
      for (const record of batch) if (record.timed && sent >= timedFrom) sentAt.set(record.eventId, at);
      await producer.send({ topic: input.events, acks: -1, messages: batch.map((r) => ({ key: r.key, value: r.value, timestamp: String(at) })) });
      sent += batch.length;
      if (Date.now() - lastReport > 5000) {
        lastReport = Date.now();
        options.progress(`latency ${options.rate}/s ${options.label ?? options.guarantee}: ${sent}/${total} events offered (${Math.round(sent / ((Date.now() - started) / 1000))}/s so far), ${arrivals.length} triggers seen`);
      }
    }
    const timedEnd = Date.now();
    const achievedSeconds = (timedEnd - started) / 1000;
    const pressure = pressureShare(pressureFrom, readCpuPressure());
    const timedSeconds = timedStart === null ? NaN : (timedEnd - timedStart) / 1000;
    const countsTo = subject.counts();
    const perSecond = (to: PerService | undefined, from: PerService | undefined): PerService | null =>
      to === undefined || from === undefined ? null : { segmenter: Math.round((to.segmenter - from.segmenter) / timedSeconds), trigger: Math.round((to.trigger - from.trigger) / timedSeconds) };
    // A probe that never fires is the tail, not an error of the bench: it is counted as missing.
    await waitUntil('every timed probe to fire', () => arrivals.filter((a) => sentAt.has(a.cause)).length >= sentAt.size, 60_000, 50).catch(() => undefined);
    const rebalances = timedStart === null ? null : subject.rebalances?.(timedStart, Date.now()) ?? null;
    const toCreate: number[] = [];
    const samples: Array<{ sentAt: number; ms: number }> = [];
    const counted = new Set<string>();
    for (const a of arrivals) {
      const at = sentAt.get(a.cause);
      if (at === undefined || counted.has(a.cause)) continue;
      counted.add(a.cause);
      toCreate.push(a.createdAt - at);
      samples.push({ sentAt: at, ms: a.arrivedAt - at });
    }
    const toArrival = samples.map((sample) => sample.ms).sort((a, b) => a - b);
    toCreate.sort((a, b) => a - b);
    return {
      guarantee: options.guarantee,
      p50_ms: percentile(toArrival, 50),
      p99_ms: percentile(toArrival, 99),
      max_ms: toArrival.at(-1) ?? NaN,
      p99_ms_by_quarter: timedStart === null ? [] : p99ByQuarter(samples, timedStart, timedEnd),
      offered_eps: options.rate,
      achieved_eps: Math.round(total / achievedSeconds),
      seconds: options.seconds,
      warmup_seconds: options.warmupSeconds,
      probes_timed: toArrival.length,
      probes_missing: sentAt.size - toArrival.length,
      rebalances,
      to_create_time: subject.stampsSendTime ? { p50_ms: percentile(toCreate, 50), p99_ms: percentile(toCreate, 99), max_ms: toCreate.at(-1) ?? NaN } : null,
      batches_per_s: perSecond(countsTo?.batches, countsFrom?.batches),
      transactions_per_s: perSecond(countsTo?.transactions, countsFrom?.transactions),
      batch_phase_ms:
        countsTo === null || countsFrom === null
          ? null
          : { segmenter: phaseMeansMs(countsTo.phases.segmenter, countsFrom.phases.segmenter), trigger: phaseMeansMs(countsTo.phases.trigger, countsFrom.phases.trigger) },
      machine: {
        cpu_pressure_pct: pressure,
        broker_gc: timedStart === null ? null : readBrokerGcPauses(timedStart, timedEnd + (toArrival.at(-1) ?? 0)),
      },
    };
  } finally {
    await tail.disconnect().catch(() => undefined);
    await subject.stop();
  }
}
