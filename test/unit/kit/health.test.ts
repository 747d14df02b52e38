import { Writable } from 'node:stream';
import { HealthMonitor, reasonOf, withoutCredentials, type Probe } from '../../../services/kit/health';
import { createLogger } from '../../../services/kit/logger';
import { RepeatLimiter } from '../../../services/kit/repeat-limiter';

function memoryLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    service: 'health-test',
    destination: new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        done();
      },
    }),
  });
  return { logger, lines };
}

/** A probe the test answers by hand: each call waits until resolve() or reject() is called. */
function manualProbe() {
  const calls: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  const probe: Probe = () => new Promise<void>((resolve, reject) => calls.push({ resolve, reject }));
  return { probe, calls };
}

const reasons = (monitor: HealthMonitor) => Object.fromEntries(monitor.checks().map((c) => [c.name, c.check()]));

describe('HealthMonitor', () => {
  it('reports every dependency as not checked before the first round', () => {
    const monitor = new HealthMonitor({ probes: { kafka: async () => undefined, redis: async () => undefined } });
    expect(reasons(monitor)).toEqual({ kafka: 'not checked yet', redis: 'not checked yet' });
  });

  it('turns answers, errors and silence into null, the error message and a timeout reason', async () => {
    const monitor = new HealthMonitor({
      probes: {
        kafka: async () => undefined,
        redis: async () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1')),
        registry: () => new Promise(() => undefined),
      },
      timeoutMs: 30,
    });
    await monitor.probeOnce();
    expect(reasons(monitor)).toEqual({
      kafka: null,
      redis: 'connect ECONNREFUSED 127.0.0.1:1',
      registry: 'no answer within 30 ms',
    });
  });

  it('never overlaps calls of one probe: a call past its timeout is awaited, not repeated', async () => {
    const { probe, calls } = manualProbe();
    const monitor = new HealthMonitor({ probes: { kafka: probe }, timeoutMs: 20 });
    await monitor.probeOnce();
    await monitor.probeOnce();
    expect(calls).toHaveLength(1);
    expect(reasons(monitor)).toEqual({ kafka: 'no answer within 20 ms' });

    calls[0]?.resolve();
    await monitor.probeOnce(); // the late answer counts, and still no second call
    expect(calls).toHaveLength(1);
    expect(reasons(monitor)).toEqual({ kafka: null });

    const next = monitor.probeOnce(); // the previous call settled: a fresh one starts
    expect(calls).toHaveLength(2);
    calls[1]?.reject(new Error('broker went away'));
    await next;
    expect(reasons(monitor)).toEqual({ kafka: 'broker went away' });
  });

  it('shares one round between concurrent probeOnce calls', async () => {
    let calls = 0;
    const monitor = new HealthMonitor({ probes: { redis: async () => void (calls += 1) } });
    await Promise.all([monitor.probeOnce(), monitor.probeOnce()]);
    expect(calls).toBe(1);
  });

  it('logs one line when a dependency is lost and one when it is back, not one per round', async () => {
    const { logger, lines } = memoryLogger();
    let down = false;
    const monitor = new HealthMonitor({
      probes: { redis: async () => (down ? Promise.reject(new Error('not connected (client reconnecting)')) : undefined) },
      logger,
    });
    await monitor.probeOnce();
    down = true;
    for (let round = 0; round < 5; round += 1) await monitor.probeOnce();
    down = false;
    await monitor.probeOnce();
    await monitor.probeOnce();
    expect(lines.map(({ level, msg, check, reason }) => ({ level, msg, check, reason }))).toEqual([
      { level: 'warn', msg: 'dependency unreachable; not ready', check: 'redis', reason: 'not connected (client reconnecting)' },
      { level: 'info', msg: 'dependency reachable again', check: 'redis', reason: undefined },
    ]);
  });

  it('probes again every intervalMs after start() and not after stop()', async () => {
    let calls = 0;
    const monitor = new HealthMonitor({ probes: { kafka: async () => void (calls += 1) }, intervalMs: 5 });
    monitor.start();
    const deadline = Date.now() + 5000;
    while (calls < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(calls).toBeGreaterThanOrEqual(3);
    monitor.stop();
    await new Promise((r) => setTimeout(r, 10)); // a round already running may finish
    const after = calls;
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(after);
    expect(reasons(monitor)).toEqual({ kafka: null }); // the last result stays
  });
});

describe('reasonOf', () => {
  it('makes one short line, with URL credentials masked', () => {
    expect(reasonOf(new Error('GET http://app:s3cret@registry:8081/subjects failed:\n  ECONNREFUSED'))).toBe(
      'GET http://app:***@registry:8081/subjects failed: ECONNREFUSED',
    );
    expect(reasonOf('x'.repeat(500))).toHaveLength(200);
    expect(reasonOf(new Error(''))).toBe('Error');
  });

  it('withoutCredentials masks user-only and password-only URLs too', () => {
    expect(withoutCredentials('redis://:pw@cache:6379/2 and redis://token@cache')).toBe('redis://:***@cache:6379/2 and redis://***@cache');
  });
});

describe('RepeatLimiter', () => {
  it('lets the first of a kind through, then one per window with the count held back', () => {
    let now = 0;
    const limiter = new RepeatLimiter(30_000, () => now);
    expect(limiter.admit('ECONNREFUSED')).toEqual({ suppressed: 0 });
    for (let i = 0; i < 112; i += 1) {
      now += 100;
      expect(limiter.admit('ECONNREFUSED')).toBeNull();
    }
    expect(limiter.admit('WRONGPASS')).toEqual({ suppressed: 0 }); // another kind is news
    now = 30_000;
    expect(limiter.admit('ECONNREFUSED')).toEqual({ suppressed: 112 });
    expect(limiter.admit('ECONNREFUSED')).toBeNull();
    expect(limiter.reset()).toBe(1);
    expect(limiter.admit('ECONNREFUSED')).toEqual({ suppressed: 0 });
  });

  it('forgets the oldest kind beyond its bound', () => {
    const limiter = new RepeatLimiter(30_000, () => 0, 2);
    limiter.admit('a');
    limiter.admit('b');
    limiter.admit('c');
    expect(limiter.admit('a')).toEqual({ suppressed: 0 }); // forgotten, so news again
    expect(limiter.admit('c')).toBeNull();
  });
});
