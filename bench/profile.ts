/**
 * One throughput figure alone, for profiling (node --cpu-prof dist/bench/profile.js kairos):
 * produces BENCH_EVENTS events to a fresh topic, runs the chosen measurement once, cleans up.
 * With BENCH_CPU_PROFILE=file.cpuprofile only the measured phase is profiled; with
 * BENCH_HEAP_PROFILE=file.heapprofile its allocations are sampled (every 32 KiB allocated, the
 * objects collected since included), to see what the garbage collector's time is spent on. Each throughput
 * figure also prints this process's CPU (seconds, µs per event) and garbage collections over it.
 *   what: ceiling | kairos | segmenter | trigger | baseline | latency
 * `latency` measures one latency row instead (BENCH_LATENCY_RATE, 2000; BENCH_LATENCY_SECONDS,
 * 20; OUTPUT_GUARANTEE, exactly_once) on a topic of its own.
 * With BENCH_WARMUP_EVENTS=n the same measurement first runs, unmeasured, over n events of a
 * topic of their own, so that a short run is measured with its code compiled, as `make bench`'s
 * later runs are (a fresh process spends its first seconds in the compiler).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { intEnv } from './env';
import { BenchStack } from './stack';
import type { Input } from './input';
import { measureLatency } from './latency';
import { measureBaseline, measureCeiling, measureKairos } from './throughput';
import { shopTraffic } from './traffic';

/**
 * Produces the traffic to a fresh topic. A function of its own so that the generated events
 * are garbage before the measurement: kept alive in main()'s frame (an async function keeps
 * its locals across awaits), 1M of them made the measured process's collector several times
 * busier than the bench's.
 */
async function produceTraffic(stack: BenchStack, count: number, clock: number): Promise<Input> {
  const events = shopTraffic({ total: count, customers: Math.round(count / 10), products: 2000, seed: 42, from: clock - 6 * 3600_000, to: clock, run: stack.run });
  const topics = await stack.createInput('profile', 12);
  await stack.produceEvents(topics.events, events);
  return { ...topics, count: events.length, partitions: 12, clock };
}

/** This process's garbage collections from now until stop(): pauses, and milliseconds in all and in scavenges. */
function watchGarbage(): { stop(): { pauses: number; ms: number; scavengeMs: number } } {
  const totals = { pauses: 0, ms: 0, scavengeMs: 0 };
  const add = (entries: PerformanceEntry[]) => {
    for (const entry of entries) {
      totals.pauses += 1;
      totals.ms += entry.duration;
      if (((entry as { detail?: { kind?: number } }).detail)?.kind === constants.NODE_PERFORMANCE_GC_MINOR) totals.scavengeMs += entry.duration;
    }
  };
  const observer = new PerformanceObserver((list) => add(list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop() {
      add(observer.takeRecords());
      observer.disconnect();
      return { pauses: totals.pauses, ms: Math.round(totals.ms), scavengeMs: Math.round(totals.scavengeMs) };
    },
  };
}

async function main(): Promise<void> {
  const what = process.argv[2] ?? 'kairos';
  const count = intEnv('BENCH_EVENTS', 200_000);
  const stack = new BenchStack();
  try {
    if (what === 'latency') {
      const rate = intEnv('BENCH_LATENCY_RATE', 2000);
      const guarantee = process.env.OUTPUT_GUARANTEE ?? 'exactly_once';
      const input = await stack.createInput('profile-latency', 12);
      const seconds = intEnv('BENCH_LATENCY_SECONDS', 20);
      const figure = await measureLatency(stack, { ...input, partitions: 12 }, { rate, seconds, warmupSeconds: 5, guarantee, name: 'profile-latency', progress: (text) => console.log(text) });
      console.log(JSON.stringify(figure));
      return;
    }
    const clock = Date.parse('2026-03-02T18:00:00Z');
    const measure = (input: Input, name: string) =>
      what === 'ceiling'
        ? measureCeiling(stack, input)
        : what === 'baseline'
          ? measureBaseline(stack, input, `${name}-baseline`)
          : measureKairos(stack, input, what === 'kairos' ? ['segmenter', 'trigger'] : [what as 'segmenter' | 'trigger'], `${name}-${what}`);
    const warmup = intEnv('BENCH_WARMUP_EVENTS', 0, 0);
    if (warmup > 0) {
      const warm = await measure(await produceTraffic(stack, warmup, clock), 'warmup');
      console.log(`warm-up (not measured): ${warm.eps} events/s over ${warm.records} events`);
    }
    const input = await produceTraffic(stack, count, clock);
    const cpuProfile = process.env.BENCH_CPU_PROFILE;
    const heapProfile = process.env.BENCH_HEAP_PROFILE;
    const session = cpuProfile || heapProfile ? new Session() : null;
    if (session) session.connect();
    if (session && cpuProfile) {
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    if (session && heapProfile) {
      await session.post('HeapProfiler.enable');
      await session.post('HeapProfiler.startSampling', { samplingInterval: 32_768, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    }
    const garbage = watchGarbage();
    const cpuBefore = process.cpuUsage();
    const result = await measure(input, 'profile');
    const collected = garbage.stop();
    const cpu = process.cpuUsage(cpuBefore);
    if (session && cpuProfile) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(cpuProfile, JSON.stringify(profile));
    }
    if (session && heapProfile) {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      writeFileSync(heapProfile, JSON.stringify(profile));
    }
    // Under `node --expose-gc` the heap is collected first, so the figure is what stayed reachable.
    (globalThis as { gc?: () => void }).gc?.();
    const heapMiB = Math.round(process.memoryUsage().heapUsed / 1048576);
    console.log(`${what}: ${result.eps} events/s (${result.records} in ${result.seconds} s); heap in use afterwards ${heapMiB} MiB`);
    // The whole measurement: the services' start and join included, and this process's own reading of the outputs.
    const cpuUs = (cpu.user + cpu.system) / result.records;
    console.log(`this process during the measurement: CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (${cpuUs.toFixed(1)} µs per event); garbage collection ${collected.ms} ms in ${collected.pauses} pauses, scavenges ${collected.scavengeMs} ms`);
    if ('phases' in result) console.log(`batch phases (seconds summed over partitions): ${JSON.stringify(result.phases)}`);
  } finally {
    await stack.cleanup();
  }
}

main().then(() => process.exit(0), (error) => { console.error(error); process.exit(1); });
